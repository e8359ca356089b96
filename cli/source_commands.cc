#include "cli/source_commands.h"

#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <memory>
#include <sstream>

#include "cluster/replica.h"
#include "storage/jsonl.h"
#include "storage/store.h"

namespace portcullis::cli {
namespace {

// A replica for one command, in `data_dir` or in a temporary folder that
// is removed (after the replica is closed) on destruction.
class CommandReplica {
 public:
  ~CommandReplica() {
    replica_.reset();
    if (!temp_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(temp_, ec);
    }
  }
  // False (after printing why, prefixed by `command`) if it cannot be had.
  bool Open(const char* command, const std::string& source,
            const std::string& data_dir, std::ostream& err) {
    std::string dir = data_dir;
    if (dir.empty()) {
      std::string tmpl =
          (std::filesystem::temp_directory_path() / "portcullis-replica-XXXXXX")
              .string();
      if (::mkdtemp(tmpl.data()) == nullptr) {
        err << "portcullis " << command << ": cannot make a temporary folder\n";
        return false;
      }
      dir = temp_ = tmpl;
    }
    cluster::ReplicaOptions o;
    o.source_url = source;
    o.data_dir = dir;
    o.store_options.no_sync = !temp_.empty();  // thrown away afterwards
    auto r = cluster::Replica::Open(std::move(o));
    if (!r) {
      err << "portcullis " << command << ": " << r.error().message() << "\n";
      return false;
    }
    if (!(*r)->State().source_reachable) {
      err << "portcullis " << command << ": the source "
          << cluster::RedactUrl(source) << " is unreachable\n";
      return false;
    }
    replica_ = std::move(*r);
    return true;
  }
  cluster::Replica& operator*() { return *replica_; }
  cluster::Replica* operator->() { return replica_.get(); }

 private:
  std::string temp_;
  std::unique_ptr<cluster::Replica> replica_;
};

Result<std::string> ExportText(storage::Store* store, storage::Revision* at) {
  auto view = store->Read();
  if (!view) return tl::unexpected(view.error());
  *at = view->revision();
  std::ostringstream out;
  auto stats = storage::ExportJsonl(*view, out);
  if (!stats) return tl::unexpected(stats.error());
  return out.str();
}

// Prints the store's Verify() problems; false if there are any or it
// failed.
bool VerifyStore(storage::Store* store, const std::string& what,
                 std::ostream& out, std::ostream& err) {
  auto problems = store->Verify();
  if (!problems) {
    err << "portcullis verify: " << what << ": " << problems.error().message()
        << "\n";
    return false;
  }
  for (const std::string& p : *problems) out << what << ": " << p << "\n";
  return problems->empty();
}

}  // namespace

int RunSourceImportCommand(const std::string& file, const std::string& source,
                           const std::string& data_dir,
                           const engine::Policy* policy, std::ostream& out,
                           std::ostream& err) {
  CommandReplica replica;
  if (!replica.Open("import", source, data_dir, err)) return 1;
  storage::ImportOptions opts;
  opts.policy = policy;
  opts.progress = ::isatty(STDERR_FILENO) == 1;
  storage::Store& store = *replica->store();
  auto stats = file == "-" ? storage::ImportJsonl(store, std::cin, opts)
                           : storage::ImportJsonlFile(store, file, opts);
  if (!stats) {
    err << "portcullis import: " << (file == "-" ? "stdin" : file) << ": "
        << stats.error().ToString() << "\n";
    return 1;
  }
  out << "imported " << stats->records << " records from " << stats->lines
      << " lines in " << stats->batches << " transactions into "
      << cluster::RedactUrl(source) << "; revision " << stats->revision
      << "\n";
  return 0;
}

int RunSourceExportCommand(const std::string& source,
                           const std::string& data_dir, std::ostream& out,
                           std::ostream& err) {
  CommandReplica replica;
  if (!replica.Open("export", source, data_dir, err)) return 1;
  auto view = replica->store()->Read();
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

int RunSourceVerifyCommand(const std::string& source,
                           const std::string& data_dir, std::ostream& out,
                           std::ostream& err) {
  CommandReplica fresh;
  if (!fresh.Open("verify", source, "", err)) return 1;
  bool ok = VerifyStore(fresh->store(), "source", out, err);
  storage::Revision at = fresh->store()->revision();
  if (!data_dir.empty()) {
    CommandReplica node;
    if (!node.Open("verify", source, data_dir, err)) return 1;
    ok = VerifyStore(node->store(), data_dir, out, err) && ok;
    // Both at the same revision (writes may go on meanwhile).
    at = std::max(at, node->store()->revision());
    if (!fresh->WaitForRevision(at, std::chrono::seconds(30)) ||
        !node->WaitForRevision(at, std::chrono::seconds(30))) {
      err << "portcullis verify: the copies did not reach revision " << at
          << "\n";
      return 1;
    }
    storage::Revision a = 0, b = 0;
    auto source_text = ExportText(fresh->store(), &a);
    auto node_text = ExportText(node->store(), &b);
    if (!source_text || !node_text) {
      err << "portcullis verify: export failed\n";
      return 1;
    }
    if (a != b || *source_text != *node_text) {
      out << data_dir << ": differs from the source (revision " << b
          << " against " << a << ")\n";
      ok = false;
    }
  }
  if (!ok) {
    out << "problems found\n";
    return 2;
  }
  out << "ok: source " << cluster::RedactUrl(source) << " at revision " << at
      << (data_dir.empty() ? "" : ", and the replica in " + data_dir +
                                      " holds the same records")
      << "\n";
  return 0;
}

}  // namespace portcullis::cli
