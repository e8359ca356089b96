// portcullis: the command-line entry point. Only wires the subcommands
// (cli/*_commands.h, cli/serve.h) to the command line; no logic lives here.
#include <CLI/CLI.hpp>

#include "cli/data_commands.h"
#include "cli/invite_command.h"
#include "cli/policy_commands.h"
#include "cli/serve.h"
#include "cli/subcommand.h"

int main(int argc, char** argv) {
  namespace cli = portcullis::cli;
  CLI::App app{"Portcullis: authorization decisions from a YAML policy"};
  app.require_subcommand(1);
  // The order they are added is the order `--help` lists them in.
  cli::Subcommands subcommands;
  cli::AddPolicyCommands(app, &subcommands);  // lint, test, check, explain
  cli::AddServeCommand(app, &subcommands);
  cli::AddDataCommands(app, &subcommands);  // import, export, verify
  cli::AddInviteCommand(app, &subcommands);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : cli::kExitError;
  }
  for (const cli::Subcommand& s : subcommands) {
    if (*s.given) return s.run();
  }
  return cli::kExitError;
}
