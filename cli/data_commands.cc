#include "cli/data_commands.h"

#include <unistd.h>

#include <iostream>
#include <memory>
#include <ostream>

#include <CLI/CLI.hpp>

#include "cli/source_commands.h"
#include "index/decision_index.h"
#include "index/verify.h"
#include "policies/policy_compiler.h"
#include "storage/jsonl.h"
#include "storage/store.h"

namespace portcullis::cli {

using storage::Store;
using storage::StoreOptions;

int RunImportCommand(const std::string& file, const std::string& data_dir,
                     const engine::Policy* policy, std::ostream& out,
                     std::ostream& err) {
  auto store = Store::Open(data_dir);
  if (!store) {
    err << "portcullis import: " << store.error().ToString() << "\n";
    return 1;
  }
  storage::ImportOptions opts;
  opts.policy = policy;
  opts.progress = ::isatty(STDERR_FILENO) == 1;
  auto stats = file == "-" ? storage::ImportJsonl(**store, std::cin, opts)
                           : storage::ImportJsonlFile(**store, file, opts);
  if (!stats) {
    err << "portcullis import: " << (file == "-" ? "stdin" : file) << ": "
        << stats.error().ToString() << "\n";
    return 1;
  }
  out << "imported " << stats->records << " records from " << stats->lines
      << " lines in " << stats->batches << " transactions; revision "
      << stats->revision << "\n";
  return 0;
}

int RunExportCommand(const std::string& data_dir, std::ostream& out,
                     std::ostream& err) {
  StoreOptions opts;
  opts.must_exist = true;
  auto store = Store::Open(data_dir, opts);
  if (!store) {
    err << "portcullis export: " << store.error().ToString() << "\n";
    return 1;
  }
  auto view = (*store)->Read();
  if (!view) {
    err << "portcullis export: " << view.error().ToString() << "\n";
    return 1;
  }
  auto stats = storage::ExportJsonl(*view, out);
  if (!stats) {
    err << "portcullis export: " << stats.error().ToString() << "\n";
    return 1;
  }
  return 0;
}

int RunVerifyCommand(const std::string& data_dir, std::ostream& out,
                     std::ostream& err) {
  StoreOptions opts;
  opts.must_exist = true;
  auto store = Store::Open(data_dir, opts);
  if (!store) {
    err << "portcullis verify: " << store.error().ToString() << "\n";
    return 1;
  }
  auto problems = (*store)->Verify();
  if (!problems) {
    err << "portcullis verify: " << problems.error().ToString() << "\n";
    return 1;
  }
  // The decision index the daemon would build from this store must agree
  // with it, record by record.
  if (problems->empty()) {
    auto view = (*store)->Read();
    index::DecisionIndex decision_index;
    Status built = view ? decision_index.Build(*view) : view.error();
    if (!built.ok()) {
      problems->push_back("decision index: cannot be built: " +
                          built.ToString());
    } else {
      for (std::string& p : index::VerifyIndex(decision_index, &*view)) {
        problems->push_back(std::move(p));
      }
    }
  }
  for (const std::string& p : *problems) out << p << "\n";
  auto stats = (*store)->GetStats();
  if (problems->empty()) {
    out << "ok: revision " << (*store)->revision() << " (records, indexes "
        << "and the decision index agree)";
    if (stats) {
      out << ", " << stats->resources << " resources, " << stats->subjects
          << " subjects, " << stats->access << " access records, "
          << stats->invitations << " invitations";
    }
    out << "\n";
    return 0;
  }
  out << problems->size() << " problem(s) found\n";
  return 2;
}

namespace {

// What import, export and verify parse into.
struct DataArgs {
  std::string data_dir = "portcullis-data";
  std::string import_file;
  std::string import_policy;
  // Cluster mode: the PostgreSQL source; --data is then the replica folder
  // (a temporary one when not given).
  std::string source;
  CLI::Option* data = nullptr;
};

// The replica folder of a command run with --source: --data if given.
std::string ReplicaDir(const DataArgs& args) {
  return args.data != nullptr && args.data->count() > 0 ? args.data_dir : "";
}

// `portcullis import`: compiles --policy if given, then imports.
int RunImport(const DataArgs& args) {
  std::shared_ptr<const engine::Policy> policy;
  if (!args.import_policy.empty()) {
    auto compiled = policies::CompilePolicyFile(args.import_policy);
    if (!compiled) {
      for (const auto& e : compiled.error()) std::cerr << e.ToString() << "\n";
      return kExitError;
    }
    policy = *compiled;
  }
  if (!args.source.empty()) {
    return RunSourceImportCommand(args.import_file, args.source,
                                  ReplicaDir(args), policy.get(), std::cout,
                                  std::cerr);
  }
  return RunImportCommand(args.import_file, args.data_dir, policy.get(),
                          std::cout, std::cerr);
}

}  // namespace

void AddDataCommands(CLI::App& app, Subcommands* out) {
  // Each command has its own arguments: CLI11 registers an option per
  // subcommand, and --data's count says whether it was given.
  auto import_args = std::make_shared<DataArgs>();
  auto export_args = std::make_shared<DataArgs>();
  auto verify_args = std::make_shared<DataArgs>();
  const char* source_help =
      "cluster mode: work on the PostgreSQL source (postgresql://...) "
      "through a replica in --data (a temporary folder if not given)";
  CLI::App* import_cmd = app.add_subcommand(
      "import", "Import JSON Lines (parents before children) into the store");
  import_cmd
      ->add_option("FILE", import_args->import_file,
                   "JSON Lines file, - for stdin")
      ->required();
  import_args->data =
      import_cmd->add_option("--data", import_args->data_dir, "store directory")
          ->capture_default_str();
  import_cmd->add_option("--policy", import_args->import_policy,
                         "enforce this policy's referential rules");
  import_cmd->add_option("--source", import_args->source, source_help);
  out->push_back({import_cmd, [import_args] { return RunImport(*import_args); }});

  CLI::App* export_cmd =
      app.add_subcommand("export", "Write the whole store as JSON Lines");
  export_args->data =
      export_cmd->add_option("--data", export_args->data_dir, "store directory")
          ->capture_default_str();
  export_cmd->add_option("--source", export_args->source, source_help);
  out->push_back({export_cmd, [export_args] {
                    if (!export_args->source.empty()) {
                      return RunSourceExportCommand(export_args->source,
                                                    ReplicaDir(*export_args),
                                                    std::cout, std::cerr);
                    }
                    return RunExportCommand(export_args->data_dir, std::cout,
                                            std::cerr);
                  }});

  CLI::App* verify_cmd = app.add_subcommand(
      "verify", "Check that the store's indexes agree with its records");
  verify_args->data =
      verify_cmd->add_option("--data", verify_args->data_dir, "store directory")
          ->capture_default_str();
  verify_cmd->add_option(
      "--source", verify_args->source,
      "cluster mode: check a fresh copy of the PostgreSQL source and, with "
      "--data, that the replica there (a stopped node's) holds the same "
      "records");
  out->push_back({verify_cmd, [verify_args] {
                    if (!verify_args->source.empty()) {
                      return RunSourceVerifyCommand(verify_args->source,
                                                    ReplicaDir(*verify_args),
                                                    std::cout, std::cerr);
                    }
                    return RunVerifyCommand(verify_args->data_dir, std::cout,
                                            std::cerr);
                  }});
}

}  // namespace portcullis::cli
