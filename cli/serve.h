// `portcullis serve`: compiles the policy, opens the store, starts the HTTP
// server and runs until SIGTERM or SIGINT, reloading the policy on SIGHUP.
// Start-up prints one line naming where it listens, the policy version and
// the store revision; a policy that fails to compile, a missing tokens file
// or an unusable store stop it before it listens.
//
// Thread safety: RunServe is called once per process, from the main thread
// (it owns the process's signal handling while it runs); the daemon's own
// threads are started and joined inside it.
#ifndef PORTCULLIS_CLI_SERVE_H_
#define PORTCULLIS_CLI_SERVE_H_

#include <ostream>

#include "cli/subcommand.h"
#include "server/config.h"

namespace portcullis::cli {

// Returns the process exit code: 0 after a clean shutdown, 1 on a start-up
// error (printed to `err`).
int RunServe(const server::ServeConfig& config, std::ostream& out,
             std::ostream& err);

// Declares serve on `app`. Its run reads the --config file, if any, lets
// each flag given override it, and runs RunServe on std::cout and
// std::cerr; a bad config file or a failed start exits with kExitError.
void AddServeCommand(CLI::App& app, Subcommands* out);

}  // namespace portcullis::cli

#endif  // PORTCULLIS_CLI_SERVE_H_
