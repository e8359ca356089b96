// The `portcullis` subcommands that work on a store, as functions that
// AddDataCommands wires to the command line and tests call directly:
//
//   portcullis import FILE --data DIR [--policy PATH]   (FILE "-" is stdin)
//   portcullis export --data DIR [> FILE]
//   portcullis verify --data DIR
// and, with --source postgresql://..., the same against a cluster's source
// (cli/source_commands.h).
//
// Each returns the process exit code (0 success, 1 failure, 2 verify found
// problems) and never throws. Results go to `out`, messages to `err`.
//
// Thread safety: reentrant; each call opens its own Store handle (LMDB
// serializes writers across handles and processes).
#ifndef PORTCULLIS_CLI_DATA_COMMANDS_H_
#define PORTCULLIS_CLI_DATA_COMMANDS_H_

#include <iosfwd>
#include <string>

#include "cli/subcommand.h"
#include "engine/policy.h"

namespace portcullis::cli {

// Imports a JSON Lines file (see storage/jsonl.h) into the store in
// `data_dir`, creating it if needed. With a policy, the referential rules
// of the policy are enforced; without, only the structural ones. Shows
// progress on stderr when stderr is a terminal.
int RunImportCommand(const std::string& file, const std::string& data_dir,
                     const engine::Policy* policy, std::ostream& out,
                     std::ostream& err);

// Writes the whole store, one consistent snapshot, as JSON Lines to `out`.
int RunExportCommand(const std::string& data_dir, std::ostream& out,
                     std::ostream& err);

// Checks that every index agrees with the primary records, parents exist and
// there are no cycles; prints one line per problem. Exit code 2 when it finds
// any.
int RunVerifyCommand(const std::string& data_dir, std::ostream& out,
                     std::ostream& err);

// Declares import, export and verify, in that order, on `app`. import
// compiles its --policy first (errors as file:line:column, exit code
// kExitError). Their runs write to std::cout and std::cerr.
void AddDataCommands(CLI::App& app, Subcommands* out);

}  // namespace portcullis::cli

#endif  // PORTCULLIS_CLI_DATA_COMMANDS_H_
