// Replica: a local Store kept as a replica of a PostgreSQL source, with
// every write going through the source (cluster mode of `portcullis serve`).
//
// Open() decides what to do with the store folder it is given, in order:
//   1. Connects to the source and creates or migrates its schema
//      (schema.h); a schema newer than this build is refused.
//   2. Discards the local store (data.mdb, lock.mdb) when it cannot be
//      brought forward in place, and says why in the log: a bootstrap was
//      cut short (the marker file is there); the machine restarted while
//      the store was open (kUnflushedFile, below); the store was made from
//      another cluster (its recorded cluster id differs); the source's
//      change log no longer reaches the store's revision (retention); the
//      store is ahead of the source (the database was restored from an
//      older backup: the source wins).
//   3. Refuses a store that holds data but was never a replica (an
//      embedded-mode store): `portcullis import --source` loads such data.
//   4. Brings the store to the source's head (bootstrap when empty), then
//      routes the store's writes through a PgWriteGate and starts the
//      follower.
// The store's LMDB commits do not wait for fsync (StoreOptions::no_sync):
// PostgreSQL holds every acknowledged write durably, a process that dies
// (SIGKILL included) leaves its commits in the kernel's page cache, which
// the next process reads, and a machine that goes down leaves a store that
// may have lost its last commits or be torn, which kUnflushedFile detects:
// that store is bootstrapped again (docs/scale-out.md, "Durability").
//
// When the source cannot be reached at start-up, a store that was already a
// replica (revision > 0) is served as it is (reads answer from it, writes
// are refused until the source returns, and the follower keeps trying);
// without one, Open fails with the connection error: a node with no data
// must not answer every question with "unknown".
//
// Thread safety: store(), State() and WaitForRevision() may be called from
// any thread. The destructor stops the follower, detaches the gate and
// closes the store; no request may be running then.
#ifndef PORTCULLIS_CLUSTER_REPLICA_H_
#define PORTCULLIS_CLUSTER_REPLICA_H_

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "cluster/follower.h"
#include "common/status.h"
#include "storage/store.h"

namespace portcullis::cluster {

class PgWriteGate;

// The file in the store folder naming the cluster the replica was made
// from (portcullis_schema.cluster_id).
inline constexpr const char* kClusterIdFile = "replica-cluster-id";
// The file in the store folder that says the replica is open and its last
// commits may not be on disk yet (its LMDB commits do not wait for fsync):
// it holds the kernel's boot id, and is removed after a flush when the
// replica closes. Found at start-up with another boot id (the machine went
// down meanwhile), the store is discarded and bootstrapped again.
inline constexpr const char* kUnflushedFile = "replica-unflushed";

struct ReplicaOptions {
  std::string source_url;  // postgresql://...
  std::string data_dir;
  storage::StoreOptions store_options;  // no_sync is always set (above)
  FollowerOptions follower;
  // How long a write waits for this replica to apply the revisions before
  // its own.
  std::chrono::milliseconds write_wait{5000};
  // Fault injection, for tests only (the daemon never sets it): called after
  // each write's PostgreSQL COMMIT, before the local LMDB commit and the
  // acknowledgement.
  std::function<void()> after_source_commit;
};

class Replica {
 public:
  static Result<std::unique_ptr<Replica>> Open(ReplicaOptions options);
  ~Replica();
  Replica(const Replica&) = delete;
  Replica& operator=(const Replica&) = delete;

  storage::Store* store() const { return store_.get(); }
  ReplicaState State() const;
  int64_t StaleMs() const { return follower_->StaleMs(); }
  // See Follower.
  storage::Revision applied() const { return follower_->applied(); }
  bool WaitForRevision(storage::Revision revision,
                       std::chrono::milliseconds timeout) {
    return follower_->WaitForRevision(revision, timeout);
  }
  std::shared_ptr<void> WatchRevision(storage::Revision revision,
                                      std::function<void()> wake) {
    return follower_->WatchRevision(revision, std::move(wake));
  }

 private:
  Replica() = default;
  // Steps 1-3 of Open; leaves store_ open.
  Status OpenStore(const ReplicaOptions& options, bool* reachable);

  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<Follower> follower_;
  std::unique_ptr<PgWriteGate> gate_;
  uint64_t rebootstraps_ = 0;
};

}  // namespace portcullis::cluster

#endif  // PORTCULLIS_CLUSTER_REPLICA_H_
