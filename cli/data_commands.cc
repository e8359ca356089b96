#include "cli/data_commands.h"

#include <unistd.h>

#include <iostream>
#include <ostream>

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
  for (const std::string& p : *problems) out << p << "\n";
  auto stats = (*store)->GetStats();
  if (problems->empty()) {
    out << "ok: revision " << (*store)->revision();
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

}  // namespace portcullis::cli
