// Follower: keeps a local Store a replica of the PostgreSQL source.
//
// An empty store (revision 0) is bootstrapped, by CatchUp() before the
// daemon serves, from one REPEATABLE READ snapshot of the source: its head
// revision and every record, applied in chunks through Store::Apply (the
// first chunk sets the revision, the others add to it). Once serving, the
// store is never half-filled: an empty one follows the change log from
// revision 1 (and is stuck if the log no longer starts there). While a bootstrap runs, a marker file in the store's folder
// says so; a store found with the marker was cut short and is discarded by
// Replica::Open. Then the follower reads portcullis_changes after the
// store's revision and applies each change set, in order, through
// Store::Apply. It wakes on NOTIFY portcullis_changes and polls every
// poll_interval in case a notification is lost; after a connection failure
// it connects again every retry_interval.
//
// If the change log no longer holds the revision after the store's (it was
// deleted for retention), the follower replaces the store's content with a
// snapshot of the source in one LMDB transaction (Store::Replace), while
// the daemon keeps answering from the old content until that commits, and
// says so in the log and in State().rebootstraps. A store ahead of the
// source (a database restored from an older backup) is not replaced while
// it serves: the follower stops applying, marks itself stuck (State().stuck,
// said in the log), and Replica::Open bootstraps it on the next start.
//
// Thread safety: State(), applied(), WaitForRevision(), WatchRevision() and
// NoteApplied() may be called from any thread. CatchUp() is called by one thread before Start(); after Start()
// only the follower's own thread talks to PostgreSQL. The store is shared
// with the daemon (its writes go through the WriteGate and commit locally;
// the follower skips revisions the store already holds).
#ifndef PORTCULLIS_CLUSTER_FOLLOWER_H_
#define PORTCULLIS_CLUSTER_FOLLOWER_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/mutex.h"
#include "common/status.h"
#include "cluster/revision_waiters.h"
#include "common/thread_annotations.h"
#include "storage/change_set.h"
#include "storage/store.h"

namespace portcullis::cluster {

class PgConnection;  // cluster/pg.h

// The name of the marker file of a bootstrap in progress, in the store's
// folder.
inline constexpr const char* kBootstrapMarker = "replica-bootstrapping";

struct FollowerOptions {
  std::chrono::milliseconds poll_interval{1000};
  std::chrono::milliseconds retry_interval{1000};
  int fetch_batch = 256;       // change sets per query
  int bootstrap_chunk = 2000;  // records per Store::Apply of a bootstrap
  // At most this many reads wait for a revision at once (WatchRevision).
  size_t max_waiting_reads = 4096;
  // One line per event worth an operator's attention (connection lost and
  // back, bootstrap, stuck). Must be thread-safe; may be empty.
  std::function<void(std::string_view line)> log;
};

// What the replica knows of itself and of the source.
struct ReplicaState {
  storage::Revision applied = 0;      // the store's revision
  storage::Revision source_head = 0;  // the newest revision seen at the source
  int64_t lag_ms = 0;  // age of the oldest commit not yet applied; 0 if none
  bool source_reachable = false;
  TimestampMicros last_contact = 0;  // last successful read of the source
  uint64_t bootstraps = 0;           // bootstraps done by this process
  // Bootstraps again: stores discarded at start-up (Replica::Open: a
  // bootstrap cut short, another cluster's, past the change log, ahead of
  // the source, left open by a machine that went down) and stores replaced
  // in place while serving (retention).
  uint64_t rebootstraps = 0;
  uint64_t applied_changes = 0;      // change sets applied by this process
  bool stuck = false;  // the change log no longer reaches the store
  std::string last_error;
};

// "postgresql://user:secret@host/db" with the password replaced by "***",
// for logs and error messages.
std::string RedactUrl(std::string_view url);

class Follower {
 public:
  // `store` must outlive the follower.
  Follower(std::string url, storage::Store* store, FollowerOptions options);
  // Stops and joins the thread.
  ~Follower();
  Follower(const Follower&) = delete;
  Follower& operator=(const Follower&) = delete;

  // Brings the store to the source's head on the calling thread:
  // bootstraps an empty store, then applies the change log. Call before
  // Start(). kUnavailable if PostgreSQL cannot be reached.
  Status CatchUp() EXCLUDES(mu_);

  // Starts following on a thread of its own.
  void Start();

  ReplicaState State() const EXCLUDES(mu_);

  // Milliseconds since the source was last read successfully, while it is
  // unreachable; -1 while it is reachable (or not yet tried). Lock-free: it
  // is read on every decision answer.
  int64_t StaleMs() const;

  // The revision the store holds, as last noted (NoteApplied): no LMDB
  // transaction, for the read path.
  storage::Revision applied() const { return waiters_->revision(); }
  // Waits (blocking the calling thread) until the store's revision is at
  // least `revision`, at most `timeout`; true if it is. False at once when
  // the follower is stuck. Woken by NoteApplied, never polls.
  bool WaitForRevision(storage::Revision revision,
                       std::chrono::milliseconds timeout) EXCLUDES(mu_);
  // Calls `wake` once when the store reaches `revision` (at once if it is
  // there); see RevisionWaiters. Null when too many reads wait already.
  std::shared_ptr<void> WatchRevision(storage::Revision revision,
                                      std::function<void()> wake);
  // The store now holds `revision`: wakes what waits for it. Called by the
  // follower after each apply and by the write path after each local
  // commit (PgWriteGate::Committed).
  void NoteApplied(storage::Revision revision) EXCLUDES(mu_);

 private:
  void Run();
  // Connects (and LISTENs) if there is no working connection.
  Status Connect();
  Status Bootstrap() EXCLUDES(mu_);
  // Replaces a serving store by a snapshot (Store::Replace) when the change
  // log no longer reaches it; `why` goes to the log.
  Status BootstrapInPlace(const std::string& why) EXCLUDES(mu_);
  // Begins a REPEATABLE READ snapshot of the source and returns its head;
  // when the head is above 0, its records are then read with FetchSnapshot
  // (a cursor) until it returns false. The caller ends the transaction.
  Result<storage::Revision> OpenSnapshot();
  // Appends the next records of the snapshot to *part; false at the end.
  Result<bool> FetchSnapshot(std::vector<storage::RecordChange>* part);
  // A bootstrap begun at `start` loaded `records` at `head`: counts it,
  // wakes what waits for the revision, and says so in the log.
  void NoteBootstrapped(storage::Revision head, uint64_t records,
                        std::chrono::steady_clock::time_point start,
                        bool in_place) EXCLUDES(mu_);
  // One query of the change log after the store's revision, applied. Sets
  // *more when a full batch was read.
  Status ApplyNext(bool* more) EXCLUDES(mu_);
  Status ApplyOne(const storage::ChangeSet& cs) EXCLUDES(mu_);
  // Waits for a notification, a stop or the poll interval.
  void WaitForWork(std::chrono::milliseconds timeout);
  void NoteContact(storage::Revision head, TimestampMicros next_commit)
      EXCLUDES(mu_);
  void NoteFailure(const Status& s) EXCLUDES(mu_);
  void Log(const std::string& line) const;

  const std::string url_;
  storage::Store* const store_;
  const FollowerOptions options_;
  const std::shared_ptr<RevisionWaiters> waiters_;
  std::unique_ptr<PgConnection> conn_;  // the follower's thread only
  int stop_pipe_[2] = {-1, -1};
  std::atomic<bool> stop_{false};
  std::atomic<bool> serving_{false};  // Start() was called
  std::thread thread_;

  mutable Mutex mu_;
  CondVar applied_cv_;
  storage::Revision source_head_ GUARDED_BY(mu_) = 0;
  // Commit time of the revision after the last applied one, if known.
  TimestampMicros next_commit_ GUARDED_BY(mu_) = 0;
  bool reachable_ GUARDED_BY(mu_) = false;
  // 0 while the source is reachable; else when it was last read (or when it
  // was first found unreachable, if it never was read). See StaleMs().
  std::atomic<TimestampMicros> stale_since_{0};
  TimestampMicros last_contact_ GUARDED_BY(mu_) = 0;
  uint64_t bootstraps_ GUARDED_BY(mu_) = 0;
  uint64_t rebootstraps_ GUARDED_BY(mu_) = 0;  // BootstrapInPlace
  uint64_t applied_changes_ GUARDED_BY(mu_) = 0;
  bool stuck_ GUARDED_BY(mu_) = false;
  std::string last_error_ GUARDED_BY(mu_);
};

}  // namespace portcullis::cluster

#endif  // PORTCULLIS_CLUSTER_FOLLOWER_H_
