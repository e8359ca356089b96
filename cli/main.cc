// portcullis: the command-line entry point. Only wires subcommands to their
// implementations (cli/*_commands.h, cli/serve.h); no logic lives here.
#include <algorithm>
#include <iostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli/data_commands.h"
#include "cli/invite_command.h"
#include "cli/policy_commands.h"
#include "cli/serve.h"
#include "policies/policy_compiler.h"
#include "server/config.h"

int main(int argc, char** argv) {
  namespace cli = portcullis::cli;
  namespace pp = portcullis::policies;
  CLI::App app{"Portcullis: authorization decisions from a YAML policy"};
  app.require_subcommand(1);

  std::vector<std::string> lint_files;
  CLI::App* lint = app.add_subcommand(
      "lint", "Validate policy files; print every error as file:line:column");
  lint->add_option("FILE", lint_files, "policy files")->required();

  std::vector<std::string> test_paths;
  CLI::App* test = app.add_subcommand(
      "test", "Run the policy test files under the paths");
  test->add_option("PATH", test_paths, "test files or directories")
      ->required();

  cli::QueryArgs query;
  auto add_query = [&](CLI::App* cmd) {
    cmd->add_option("--policy", query.policy, "policy file")
        ->capture_default_str();
    cmd->add_option("--data", query.data, "YAML data file")
        ->capture_default_str();
    cmd->add_option("--context", query.context,
                    "request context key=value (value read as YAML); "
                    "repeatable");
    cmd->add_option("--now", query.now, "request time, RFC 3339");
    cmd->add_option("SUBJECT", query.subject, "subject, type:id")->required();
    cmd->add_option("ACTION", query.action, "action name")->required();
    cmd->add_option("RESOURCE", query.resource, "resource, type:id")
        ->required();
  };
  CLI::App* check = app.add_subcommand(
      "check", "Answer one question: allow (exit 0) or deny (exit 1)");
  add_query(check);
  CLI::App* explain = app.add_subcommand(
      "explain", "Answer one question and show everything considered");
  add_query(explain);

  namespace ps = portcullis::server;
  std::string config_file;
  ps::ServeConfig flags;
  bool no_auth = false;
  CLI::App* serve = app.add_subcommand(
      "serve", "Run the authorization daemon (HTTP, native API and AuthZEN)");
  serve->add_option("--config", config_file, "YAML config file");
  CLI::Option* listen_opt = serve->add_option(
      "--listen", flags.listen, "ADDRESS:PORT; port 0 picks a free one "
      "(default 127.0.0.1:8181)");
  CLI::Option* data_opt = serve->add_option(
      "--data", flags.data_dir, "store directory (default portcullis-data)");
  CLI::Option* policy_opt =
      serve->add_option("--policy", flags.policy_path, "policy file");
  CLI::Option* threads_opt = serve->add_option(
      "--threads", flags.threads, "I/O threads (default 2)");
  CLI::Option* tokens_opt = serve->add_option(
      "--tokens", flags.tokens_file, "tokens file: one `SCOPE TOKEN` per line");
  serve->add_flag("--no-auth", no_auth,
                  "run without authentication (says so at start-up)");
  // Storage: bulk import and export in JSON Lines, and the consistency
  // checker (cli/data_commands.h).
  std::string data_dir = "portcullis-data";
  std::string import_file;
  std::string import_policy;
  CLI::App* import_cmd = app.add_subcommand(
      "import", "Import JSON Lines (parents before children) into the store");
  import_cmd->add_option("FILE", import_file, "JSON Lines file, - for stdin")
      ->required();
  import_cmd->add_option("--data", data_dir, "store directory")
      ->capture_default_str();
  import_cmd->add_option("--policy", import_policy,
                         "enforce this policy's referential rules");
  CLI::App* export_cmd =
      app.add_subcommand("export", "Write the whole store as JSON Lines");
  export_cmd->add_option("--data", data_dir, "store directory")
      ->capture_default_str();
  CLI::App* verify_cmd = app.add_subcommand(
      "verify", "Check that the store's indexes agree with its records");
  verify_cmd->add_option("--data", data_dir, "store directory")
      ->capture_default_str();

  cli::InviteArgs invite_args;
  CLI::App* invite = app.add_subcommand(
      "invite", "Invite the people of a contacts CSV into a group, through "
                "the daemon");
  invite->add_option("--group", invite_args.group, "group id")->required();
  invite->add_option("--roles", invite_args.roles,
                     "the permission set: roles, comma-separated")
      ->required()
      ->delimiter(',');
  invite->add_option("--actor", invite_args.actor,
                     "who invites, e.g. user:alice")
      ->required();
  invite->add_option("--from", invite_args.from,
                     "contacts CSV (Outlook, Google, ...)")
      ->required();
  invite->add_option("--server", invite_args.server, "daemon URL")
      ->capture_default_str();
  invite->add_option("--token", invite_args.token,
                     "bearer token with the admin scope");
  invite->add_option("--message", invite_args.message, "invitation message");
  invite->add_flag("--dry-run", invite_args.dry_run,
                   "show who would be invited; send nothing");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : cli::kExitError;
  }
  if (*serve) {
    ps::ServeConfig config;
    if (!config_file.empty()) {
      portcullis::Status s = ps::LoadConfigFile(config_file, &config);
      if (!s.ok()) {
        std::cerr << "portcullis serve: " << s.message() << "\n";
        return cli::kExitError;
      }
    }
    if (*listen_opt) config.listen = flags.listen;
    if (*data_opt) config.data_dir = flags.data_dir;
    if (*policy_opt) config.policy_path = flags.policy_path;
    if (*threads_opt) config.threads = std::max(1, flags.threads);
    if (*tokens_opt) config.tokens_file = flags.tokens_file;
    if (no_auth) config.auth = false;
    return cli::RunServe(config, std::cout, std::cerr) == 0 ? 0
                                                           : cli::kExitError;
  }
  if (*invite) return cli::RunInviteCommand(invite_args, std::cout, std::cerr);
  if (*lint) return cli::LintCommand(lint_files, std::cout);
  if (*test) return cli::TestCommand(test_paths, std::cout);
  if (*check) return cli::CheckCommand(query, std::cout, std::cerr);
  if (*explain) return cli::ExplainCommand(query, std::cout, std::cerr);
  if (*import_cmd) {
    std::shared_ptr<const portcullis::engine::Policy> policy;
    if (!import_policy.empty()) {
      auto compiled = pp::CompilePolicyFile(import_policy);
      if (!compiled) {
        for (const auto& e : compiled.error()) std::cerr << e.ToString() << "\n";
        return cli::kExitError;
      }
      policy = *compiled;
    }
    return cli::RunImportCommand(import_file, data_dir, policy.get(), std::cout,
                                std::cerr);
  }
  if (*export_cmd) return cli::RunExportCommand(data_dir, std::cout, std::cerr);
  if (*verify_cmd) return cli::RunVerifyCommand(data_dir, std::cout, std::cerr);
  return cli::kExitError;
}
