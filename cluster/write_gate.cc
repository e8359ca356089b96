#include "cluster/write_gate.h"

#include <utility>
#include <vector>

#include "cluster/pg.h"
#include "cluster/schema.h"

namespace portcullis::cluster {

PgWriteGate::PgWriteGate(std::string url, storage::Store* store,
                         WaitApplied wait_applied,
                         std::chrono::milliseconds replica_wait,
                         std::function<void(storage::Revision)> local_commit,
                         std::function<void()> after_commit)
    : url_(std::move(url)),
      store_(store),
      wait_applied_(std::move(wait_applied)),
      replica_wait_(replica_wait),
      local_commit_(std::move(local_commit)),
      after_commit_(std::move(after_commit)) {}

void PgWriteGate::Committed(storage::Revision revision) {
  if (local_commit_) local_commit_(revision);
}

PgWriteGate::~PgWriteGate() = default;

Status PgWriteGate::Refused(const Status& cause) const {
  return Status(StatusCode::kUnavailable,
                "the source of truth (PostgreSQL) is unavailable, so writes "
                "are refused; reads are answered from this node's replica at "
                "revision " +
                    std::to_string(store_->revision()) + ". Cause: " +
                    cause.message());
}

void PgWriteGate::RollBack() {
  if (conn_ == nullptr) return;
  if (!conn_->ok() || !conn_->Run("ROLLBACK").ok()) conn_.reset();
}

void PgWriteGate::Release() {
  {
    MutexLock lock(&mu_);
    busy_ = false;
    owner_ = std::thread::id();
  }
  idle_.NotifyOne();
}

bool PgWriteGate::Holds() const {
  MutexLock lock(&mu_);
  return busy_ && owner_ == std::this_thread::get_id();
}

Result<storage::Revision> PgWriteGate::TakeRevision() {
  if (conn_ != nullptr && !conn_->ok()) conn_.reset();
  if (conn_ == nullptr) {
    auto conn = PgConnection::Connect(url_, std::chrono::seconds(2));
    if (!conn) return tl::unexpected(conn.error());
    conn_ = std::move(*conn);
    // A writer that stalls while holding the head row must not stop the
    // cluster's writes for long.
    Status s = conn_->Run(
        "SET idle_in_transaction_session_timeout = '30s'");
    if (!s.ok()) return tl::unexpected(s);
  }
  // BEGIN and the head row in one round trip; the row stays locked until
  // this transaction ends.
  Result<int64_t> head = conn_->QueryInt(
      "BEGIN; SELECT revision FROM portcullis_head FOR UPDATE");
  if (!head) return tl::unexpected(head.error());
  return static_cast<storage::Revision>(*head);
}

Result<storage::Revision> PgWriteGate::Begin() {
  {
    MutexLock lock(&mu_);
    while (busy_) idle_.Wait(&mu_);
    busy_ = true;
    owner_ = std::this_thread::get_id();
  }
  Result<storage::Revision> r = TakeRevision();
  if (!r) {
    const Status cause = r.error();
    RollBack();
    Release();
    return tl::unexpected(Refused(cause));
  }
  // Every revision of the source must be in the replica before the group
  // runs its rules against it.
  if (!wait_applied_(*r, replica_wait_)) {
    RollBack();
    Release();
    return tl::unexpected(Status(
        StatusCode::kUnavailable,
        "this node's replica is at revision " +
            std::to_string(store_->revision()) + " and did not reach " +
            std::to_string(*r) + " within " +
            std::to_string(replica_wait_.count()) +
            " ms; the write was not made"));
  }
  head_ = *r;
  return *r;
}

Status PgWriteGate::WriteGroup(std::span<const storage::ChangeSet> group) {
  // Every statement, COMMIT included, sent together: one round trip per
  // PgConnection::kPipelineChunk statements, and one commit (one fsync)
  // for the whole group.
  std::vector<PgConnection::Statement> statements;
  size_t records = 0;
  for (const storage::ChangeSet& cs : group) records += cs.records.size();
  statements.reserve(records + group.size() + 3);
  statements.push_back(
      {"UPDATE portcullis_head SET revision = $1",
       {PgParam::Int(static_cast<int64_t>(group.back().revision))}});
  std::string encoded;
  for (const storage::ChangeSet& cs : group) {
    for (const storage::RecordChange& rc : cs.records) {
      const PgParam table = PgParam::Int(static_cast<int>(rc.table));
      if (rc.value) {
        statements.push_back(
            {"INSERT INTO portcullis_records (tbl, key, value) VALUES ($1, "
             "$2, $3) ON CONFLICT (tbl, key) DO UPDATE SET value = "
             "EXCLUDED.value",
             {table, PgParam::Bytes(rc.key), PgParam::Bytes(*rc.value)}});
      } else {
        statements.push_back(
            {"DELETE FROM portcullis_records WHERE tbl = $1 AND key = $2",
             {table, PgParam::Bytes(rc.key)}});
      }
    }
    encoded.clear();
    storage::EncodeChangeSet(cs, &encoded);
    statements.push_back(
        {"INSERT INTO portcullis_changes (revision, change_set) VALUES ($1, "
         "$2)",
         {PgParam::Int(static_cast<int64_t>(cs.revision)),
          PgParam::Bytes(encoded)}});
  }
  statements.push_back(
      {"SELECT pg_notify($1, $2)",
       {PgParam::Text(kChangesChannel),
        PgParam::Text(std::to_string(group.back().revision))}});
  statements.push_back({"COMMIT", {}});
  return conn_->RunPipeline(statements);
}

Status PgWriteGate::Commit(std::span<const storage::ChangeSet> group) {
  if (!Holds()) {
    return Status::Internal("a write committed without Begin()");
  }
  for (size_t i = 0; i < group.size(); ++i) {
    if (group[i].revision != head_ + 1 + i) {
      RollBack();
      Release();
      return Status::Internal(
          "the change set is for revision " +
          std::to_string(group[i].revision) + " but the group's revision " +
          std::to_string(i + 1) + " is " + std::to_string(head_ + 1 + i));
    }
  }
  if (group.empty()) {
    RollBack();
    Release();
    return Status::Ok();
  }
  Status s = WriteGroup(group);
  if (!s.ok() && conn_->ok()) {
    // PostgreSQL refused a statement: the transaction is aborted, COMMIT
    // was not run.
    RollBack();
    Release();
    return Refused(s);
  }
  if (!s.ok()) {
    conn_.reset();
    Release();
    const std::string revisions =
        group.size() == 1
            ? "revision " + std::to_string(group.front().revision)
            : "revisions " + std::to_string(group.front().revision) + " to " +
                  std::to_string(group.back().revision);
    return Status(StatusCode::kUnavailable,
                  "the connection to PostgreSQL failed while committing " +
                      revisions +
                      ": the write may or may not have been made (if it was, "
                      "every replica applies it). Cause: " +
                      s.message());
  }
  Release();
  if (after_commit_) after_commit_();
  return Status::Ok();
}

void PgWriteGate::Abort() {
  if (!Holds()) return;
  RollBack();
  Release();
}

}  // namespace portcullis::cluster
