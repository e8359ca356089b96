// How the `portcullis` command's subcommands are put on its command line.
// Each group of subcommands (policy_commands.h, data_commands.h, serve.h,
// invite_command.h) has an Add...Command(s) function that declares its
// subcommands and options on the CLI11 application and appends one
// Subcommand per subcommand; main.cc parses the command line and runs the
// one that was given.
//
// Thread safety: registration and running happen on the main thread, once.
//
// Invariants:
//   1. A Subcommand's `run` owns (shares) the variables its options parse
//      into, so it stays valid for as long as the Subcommand lives.
//   2. `given` points into the CLI::App it was added to, which must outlive
//      the Subcommand.
#ifndef PORTCULLIS_CLI_SUBCOMMAND_H_
#define PORTCULLIS_CLI_SUBCOMMAND_H_

#include <functional>
#include <vector>

namespace CLI {
class App;
}  // namespace CLI

namespace portcullis::cli {

// Exit codes of check and explain; kExitError is also the exit code of a
// command line that does not parse and of a daemon that cannot start.
inline constexpr int kExitAllow = 0;
inline constexpr int kExitDeny = 1;
inline constexpr int kExitError = 2;

struct Subcommand {
  // The subcommand's node: true (operator bool) once the command line named
  // it.
  const CLI::App* given = nullptr;
  // Runs it on the parsed options; returns the process exit code.
  std::function<int()> run;
};
using Subcommands = std::vector<Subcommand>;

}  // namespace portcullis::cli

#endif  // PORTCULLIS_CLI_SUBCOMMAND_H_
