// The `portcullis` subcommands that work on policy files: lint, test, check
// and explain. Each takes its parsed arguments and output streams and
// returns the process exit code, so that AddPolicyCommands only wires CLI11
// to them and tests call them directly.
//
// Thread safety: reentrant; each call owns its state and writes only to
// the streams it is given.
//
// Invariants: every failure the input can cause (a bad file, argument or
// policy) is a message on a stream and a nonzero exit code.
#ifndef PORTCULLIS_CLI_POLICY_COMMANDS_H_
#define PORTCULLIS_CLI_POLICY_COMMANDS_H_

#include <ostream>
#include <string>
#include <vector>

#include "cli/subcommand.h"

namespace portcullis::cli {

// `portcullis lint FILE...`: compiles each policy, prints every error as
// "file:line:column: message" to `out` (and "FILE: ok" for a clean file).
// Returns 0 if every file compiled, 1 otherwise.
int LintCommand(const std::vector<std::string>& files, std::ostream& out);

// `portcullis test PATH...`: see policies::RunPolicyTests. Returns 0 or 1.
int TestCommand(const std::vector<std::string>& paths, std::ostream& out);

// One question asked of a policy and a data file.
struct QueryArgs {
  std::string policy = "policies/workspace.yaml";
  std::string data = "policies/demo-data.yaml";
  std::string subject;   // "type:id"
  std::string action;
  std::string resource;  // "type:id"
  std::vector<std::string> context;  // "key=value"; value read as YAML
  std::string now;                   // RFC 3339; empty: the current time
};

// `portcullis check`: prints "allow" or "deny" on the first line and
// "reason: <code>: <description>" on the second. Errors (bad policy, data
// or arguments) go to `err`. Returns kExitAllow, kExitDeny or kExitError.
int CheckCommand(const QueryArgs& args, std::ostream& out, std::ostream& err);

// `portcullis explain`: like check, then every step the evaluator
// considered, each with the YAML location that produced it.
int ExplainCommand(const QueryArgs& args, std::ostream& out,
                   std::ostream& err);

// Declares lint, test, check and explain, in that order, on `app`; their
// runs write to std::cout and std::cerr.
void AddPolicyCommands(CLI::App& app, Subcommands* out);

}  // namespace portcullis::cli

#endif  // PORTCULLIS_CLI_POLICY_COMMANDS_H_
