#include "cluster/replica.h"

#include <filesystem>
#include <fstream>
#include <optional>
#include <utility>

#include "cluster/pg.h"
#include "cluster/schema.h"
#include "cluster/write_gate.h"

namespace portcullis::cluster {
namespace {

namespace fs = std::filesystem;

std::string ReadFirstLine(const fs::path& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

// Removes the store's files and the replica's own, leaving the folder.
void DiscardStore(const fs::path& dir) {
  std::error_code ec;
  for (const char* name : {"data.mdb", "lock.mdb", kBootstrapMarker,
                           kClusterIdFile, kUnflushedFile}) {
    fs::remove(dir / name, ec);
  }
}

// The kernel's id of this boot; empty if it cannot be read.
std::string BootId() {
  return ReadFirstLine("/proc/sys/kernel/random/boot_id");
}

}  // namespace

Status Replica::OpenStore(const ReplicaOptions& options, bool* reachable) {
  const fs::path dir(options.data_dir);
  const auto& log = options.follower.log;
  auto say = [&log](const std::string& line) {
    if (log) log(line);
  };
  auto conn = PgConnection::Connect(options.source_url, std::chrono::seconds(3));
  *reachable = conn.has_value();
  std::string cluster_id;
  SourcePosition position;
  if (conn) {
    Result<SchemaInfo> info = EnsureSchema(**conn);
    if (!info) return info.error();
    cluster_id = info->cluster_id;
    Result<SourcePosition> p = ReadPosition(**conn);
    if (!p) return p.error();
    position = *p;
  }
  std::string discard;
  const std::string boot = BootId();
  const bool unflushed = fs::exists(dir / kUnflushedFile);
  if (fs::exists(dir / kBootstrapMarker)) {
    discard = "its bootstrap was cut short";
  } else if (unflushed && (boot.empty() ||
                           ReadFirstLine(dir / kUnflushedFile) != boot)) {
    discard =
        "the machine restarted while it was open, and its last commits "
        "may not have reached the disk";
  } else if (conn) {
    const std::string recorded = ReadFirstLine(dir / kClusterIdFile);
    if (!recorded.empty() && recorded != cluster_id) {
      discard = "it was made from another cluster (" + recorded + ", not " +
                cluster_id + ")";
    }
  }
  if (!discard.empty()) {
    say("replica: discarding the store in " + options.data_dir + ": " +
        discard);
    DiscardStore(dir);
    ++rebootstraps_;
  }
  storage::StoreOptions store_options = options.store_options;
  store_options.no_sync = true;
  auto opened = storage::Store::Open(options.data_dir, store_options);
  if (!opened) return opened.error();
  store_ = std::move(*opened);
  std::ofstream(dir / kUnflushedFile) << boot << "\n";
  const storage::Revision local = store_->revision();
  if (local > 0 && ReadFirstLine(dir / kClusterIdFile).empty()) {
    return Status::FailedPrecondition(
        "the store in " + options.data_dir + " holds data (revision " +
        std::to_string(local) +
        ") but is not a replica of a source; serve it without --source, or "
        "load its export into the source with `portcullis import --source` "
        "and start this node on an empty folder");
  }
  if (!conn) {
    if (local == 0) {
      return Status(StatusCode::kUnavailable,
                    conn.error().message() +
                        "; no local replica to serve in " + options.data_dir);
    }
    say("replica: the source is unreachable (" + conn.error().message() +
        "); serving the local replica at revision " + std::to_string(local) +
        " until it returns; writes are refused meanwhile");
    return Status::Ok();
  }
  std::string why;
  const auto head = static_cast<storage::Revision>(position.head);
  const auto oldest = static_cast<storage::Revision>(position.oldest_change);
  if (local > head) {
    why = "it is at revision " + std::to_string(local) +
          ", ahead of the source at " + std::to_string(head) +
          " (was the database restored from a backup?)";
  } else if (local > 0 && local < head && (oldest == 0 || oldest > local + 1)) {
    why = "the source's change log starts at revision " +
          std::to_string(oldest) + " and no longer reaches revision " +
          std::to_string(local + 1) + " (retention)";
  }
  if (!why.empty()) {
    say("replica: bootstrapping again: the store in " + options.data_dir +
        " cannot be brought forward: " + why);
    store_.reset();
    DiscardStore(dir);
    ++rebootstraps_;
    opened = storage::Store::Open(options.data_dir, store_options);
    if (!opened) return opened.error();
    store_ = std::move(*opened);
    std::ofstream(dir / kUnflushedFile) << boot << "\n";
  }
  std::ofstream(dir / kClusterIdFile) << cluster_id << "\n";
  return Status::Ok();
}

Result<std::unique_ptr<Replica>> Replica::Open(ReplicaOptions options) {
  std::unique_ptr<Replica> r(new Replica());
  bool reachable = false;
  Status s = r->OpenStore(options, &reachable);
  if (!s.ok()) return tl::unexpected(s);
  r->follower_ = std::make_unique<Follower>(options.source_url, r->store(),
                                            options.follower);
  if (reachable) {
    s = r->follower_->CatchUp();
    if (!s.ok()) {
      return tl::unexpected(Status(
          s.code(), "cannot bring the replica to the source's revision: " +
                        s.message()));
    }
  }
  Follower* follower = r->follower_.get();
  r->gate_ = std::make_unique<PgWriteGate>(
      options.source_url, r->store(),
      [follower](storage::Revision revision, std::chrono::milliseconds t) {
        return follower->WaitForRevision(revision, t);
      },
      options.write_wait,
      [follower](storage::Revision revision) {
        follower->NoteApplied(revision);
      },
      options.after_source_commit);
  r->store_->SetWriteGate(r->gate_.get());
  r->follower_->Start();
  return r;
}

Replica::~Replica() {
  follower_.reset();
  if (store_ != nullptr) store_->SetWriteGate(nullptr);
  gate_.reset();
  if (store_ != nullptr && store_->Flush().ok()) {
    std::error_code ec;
    fs::remove(fs::path(store_->dir()) / kUnflushedFile, ec);
  }
  store_.reset();
}

ReplicaState Replica::State() const {
  ReplicaState st = follower_->State();
  st.rebootstraps += rebootstraps_;
  return st;
}

}  // namespace portcullis::cluster
