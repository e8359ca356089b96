// portcullis: the command-line entry point. Only wires subcommands to their
// implementations (policies/cli_commands.h); no logic lives here.
#include <iostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "policies/cli_commands.h"
#include "policies/policy_compiler.h"
#include "storage/cli_commands.h"

int main(int argc, char** argv) {
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

  pp::QueryArgs query;
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

  // Storage: bulk import and export in JSON Lines, and the consistency
  // checker (storage/cli_commands.h).
  std::string data_dir = "data";
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

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : pp::kExitError;
  }
  if (*lint) return pp::LintCommand(lint_files, std::cout);
  if (*test) return pp::TestCommand(test_paths, std::cout);
  if (*check) return pp::CheckCommand(query, std::cout, std::cerr);
  if (*explain) return pp::ExplainCommand(query, std::cout, std::cerr);
  namespace ps = portcullis::storage;
  if (*import_cmd) {
    std::shared_ptr<const portcullis::engine::Policy> policy;
    if (!import_policy.empty()) {
      auto compiled = pp::CompilePolicyFile(import_policy);
      if (!compiled) {
        for (const auto& e : compiled.error()) std::cerr << e.ToString() << "\n";
        return pp::kExitError;
      }
      policy = *compiled;
    }
    return ps::RunImportCommand(import_file, data_dir, policy.get(), std::cout,
                                std::cerr);
  }
  if (*export_cmd) return ps::RunExportCommand(data_dir, std::cout, std::cerr);
  if (*verify_cmd) return ps::RunVerifyCommand(data_dir, std::cout, std::cerr);
  return pp::kExitError;
}
