// PgWriteGate: the storage::WriteGate of cluster mode. Every write of the
// local Store goes through PostgreSQL first, in groups (group commit: the
// Store hands the gate the writes that queued up while the previous group
// was being committed, see storage::WriteGate):
//
//   Begin   BEGIN; SELECT revision FROM portcullis_head FOR UPDATE (H). The
//           head row stays locked until this transaction ends, so no other
//           writer of the cluster can commit: revisions are gap-free and in
//           commit order. Then waits (bounded) until the local replica has
//           applied H (the follower keeps applying meanwhile: Begin runs
//           with no store lock held).
//   Commit  for the group's change sets (revisions H + 1 ... H + k): sets
//           the head row to H + k, upserts and deletes the records of each
//           change set in order, inserts each encoded change set into
//           portcullis_changes (one row per revision), one NOTIFY, COMMIT:
//           one round trip and one fsync for the group. The Store then
//           commits the same change sets to LMDB, so each write is
//           acknowledged only once this node's replica holds it.
//   Abort   ROLLBACK (no revision is taken).
//
// If PostgreSQL is unreachable, Begin fails at once with kUnavailable and a
// message that says reads are still served from the replica. If the
// connection is lost during COMMIT, the outcome is unknown: Commit returns
// kUnavailable saying so; if PostgreSQL did commit, the follower applies the
// revisions like any other, so the writes are then present everywhere but
// were not acknowledged.
//
// Thread safety: thread-safe. Groups of one process are serialized: a
// second Begin waits until the first group commits or aborts. Begin, Commit
// and Abort of one group are called on one thread (the Store's group
// leader); Commit ends the group whatever its outcome, and an Abort after it
// (or on a thread holding no group) does nothing. Invariant: while a group
// is open (busy_), only the thread that began it (owner_) uses conn_.
#ifndef PORTCULLIS_CLUSTER_WRITE_GATE_H_
#define PORTCULLIS_CLUSTER_WRITE_GATE_H_

#include <chrono>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <thread>

#include "common/mutex.h"
#include "common/status.h"
#include "common/thread_annotations.h"
#include "storage/change_set.h"
#include "storage/store.h"

namespace portcullis::cluster {

class PgConnection;  // cluster/pg.h

class PgWriteGate final : public storage::WriteGate {
 public:
  // Waits until the local replica has applied `revision`, at most `timeout`;
  // true if it has.
  using WaitApplied = std::function<bool(storage::Revision revision,
                                         std::chrono::milliseconds timeout)>;

  // `store` is the replica the writes commit to (for its revision in
  // messages); it and `wait_applied` must outlive the gate.
  // `local_commit` (may be empty) is told the newest revision after each
  // group's local commit. `after_commit` (fault injection for tests; may be
  // empty) runs after each PostgreSQL COMMIT of a group, before the local
  // commit.
  PgWriteGate(std::string url, storage::Store* store, WaitApplied wait_applied,
              std::chrono::milliseconds replica_wait,
              std::function<void(storage::Revision)> local_commit = {},
              std::function<void()> after_commit = {});
  ~PgWriteGate() override;

  Result<storage::Revision> Begin() override EXCLUDES(mu_);
  Status Commit(std::span<const storage::ChangeSet> group) override
      EXCLUDES(mu_);
  void Abort() override EXCLUDES(mu_);
  void Committed(storage::Revision revision) override;

 private:
  // Begin's PostgreSQL part: the connection, BEGIN and the head row.
  Result<storage::Revision> TakeRevision();
  // Commit's statements, COMMIT included.
  Status WriteGroup(std::span<const storage::ChangeSet> group);
  // The error of a write refused because PostgreSQL failed: kUnavailable,
  // saying what failed and that reads go on from the replica.
  Status Refused(const Status& cause) const;
  // Rolls back if the connection still works, else drops it.
  void RollBack();
  void Release() EXCLUDES(mu_);
  // Whether the calling thread holds the open write.
  bool Holds() const EXCLUDES(mu_);

  const std::string url_;
  storage::Store* const store_;
  const WaitApplied wait_applied_;
  const std::chrono::milliseconds replica_wait_;
  const std::function<void(storage::Revision)> local_commit_;
  const std::function<void()> after_commit_;
  mutable Mutex mu_;
  CondVar idle_;
  bool busy_ GUARDED_BY(mu_) = false;
  std::thread::id owner_ GUARDED_BY(mu_);  // the thread of the open write
  // Used only by the thread that holds the write (busy_); see above.
  std::unique_ptr<PgConnection> conn_;
  storage::Revision head_ = 0;  // the source's head when the group began
};

}  // namespace portcullis::cluster

#endif  // PORTCULLIS_CLUSTER_WRITE_GATE_H_
