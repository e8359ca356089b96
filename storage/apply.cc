// Store::Apply's record-level half: replacing a primary record with the
// image a change set carries, and keeping the secondary indexes in step
// (store_internal.h, WriteTxn::Impl::ApplyRecord). The transaction around it
// is Store::ApplyOnce (lifecycle.cc).
#include <cstring>

#include "storage/store.h"
#include "storage/store_internal.h"

namespace portcullis::storage {

using engine::EntityRef;

namespace {

Status BadImage(const RecordChange& rc) {
  return Status::InvalidArgument("change set holds a malformed " +
                                 std::string(TableName(rc.table)) +
                                 " record");
}

}  // namespace

Status WriteTxn::Impl::ApplyRecord(const RecordChange& rc) {
  const std::optional<std::string> old = Get(TableDbi(rc.table), rc.key);
  if (!poisoned.ok()) return poisoned;
  switch (rc.table) {
    case Table::kResources: {
      if (layout::CheckRef(rc.key, "resource").ok() == false) {
        return BadImage(rc);
      }
      const EntityRef ref = layout::SplitRef(rc.key);
      std::optional<layout::ResourceValue> now;
      if (rc.value && !(now = layout::DecodeResource(*rc.value))) {
        return BadImage(rc);
      }
      if (old) {
        if (auto was = layout::DecodeResource(*old);
            was && !was->parent.empty() &&
            (!now || now->parent != was->parent)) {
          Del(d.children, std::string(was->parent), rc.key);
        }
      }
      if (!now) {
        Del(d.resources_by_type, ref.type, ref.id);
        Del(d.resources, rc.key);
        return poisoned;
      }
      Put(d.resources, rc.key, *rc.value);
      Put(d.resources_by_type, ref.type, ref.id, MDB_NODUPDATA);
      if (!now->parent.empty()) {
        Put(d.children, std::string(now->parent), rc.key, MDB_NODUPDATA);
      }
      return poisoned;
    }
    case Table::kSubjects: {
      if (layout::CheckRef(rc.key, "subject").ok() == false) {
        return BadImage(rc);
      }
      const EntityRef ref = layout::SplitRef(rc.key);
      if (!rc.value) {
        Del(d.subjects_by_type, ref.type, ref.id);
        Del(d.subjects, rc.key);
        return poisoned;
      }
      Attributes attrs;
      if (!layout::DecodeAttributes(*rc.value, &attrs)) return BadImage(rc);
      Put(d.subjects, rc.key, *rc.value);
      Put(d.subjects_by_type, ref.type, ref.id, MDB_NODUPDATA);
      return poisoned;
    }
    case Table::kAccess: {
      const size_t nul = rc.key.find('\0');
      if (nul == std::string::npos) return BadImage(rc);
      const std::string subject = rc.key.substr(0, nul);
      const std::string resource = rc.key.substr(nul + 1);
      if (!rc.value) {
        Del(d.access, rc.key);
        Del(d.access_by_resource, resource, subject);
        return poisoned;
      }
      if (!layout::DecodeAccess(*rc.value)) return BadImage(rc);
      Put(d.access, rc.key, *rc.value);
      Put(d.access_by_resource, resource, subject, MDB_NODUPDATA);
      return poisoned;
    }
    case Table::kInvitations: {
      if (old) {
        if (auto was = layout::DecodeInvitation(rc.key, *old)) {
          Del(d.inv_by_resource, was->resource, rc.key);
          Del(d.inv_by_invitee, was->invitee, rc.key);
        }
      }
      if (!rc.value) {
        Del(d.invitations, rc.key);
        return poisoned;
      }
      auto now = layout::DecodeInvitation(rc.key, *rc.value);
      if (!now) return BadImage(rc);
      Put(d.invitations, rc.key, *rc.value);
      Put(d.inv_by_resource, now->resource, rc.key, MDB_NODUPDATA);
      Put(d.inv_by_invitee, now->invitee, rc.key, MDB_NODUPDATA);
      return poisoned;
    }
  }
  return BadImage(rc);
}

Result<Revision> Store::Replace(
    Revision revision,
    const std::function<Result<bool>(std::vector<RecordChange>* part)>& next) {
  if (options_.read_only) {
    return Fail(Status::FailedPrecondition("the store is open read-only"));
  }
  if (revision == 0) {
    return Fail(Status::InvalidArgument("a snapshot has no revision"));
  }
  MutexLock write_lock(&sync_->write_mu);
  MDB_txn* txn = nullptr;
  int rc = mdb_txn_begin(env_, nullptr, 0, &txn);
  if (rc) return Fail(internal::LmdbError("begin write transaction", rc));
  WriteTxn w(this, txn, nullptr, "");
  WriteTxn::Impl& m = *w.impl_;
  const Dbis& d = *dbis_;
  for (MDB_dbi dbi : {d.resources, d.subjects, d.access, d.access_by_resource,
                      d.children, d.resources_by_type, d.subjects_by_type,
                      d.invitations, d.inv_by_resource, d.inv_by_invitee,
                      d.changelog}) {
    if ((rc = mdb_drop(txn, dbi, 0)) != 0) {
      return Fail(internal::LmdbError("mdb_drop", rc));
    }
  }
  std::vector<RecordChange> part;
  uint64_t records = 0;
  for (;;) {
    part.clear();
    Result<bool> more = next(&part);
    if (!more) return Fail(more.error());
    for (const RecordChange& r : part) {
      Status s = m.ApplyRecord(r);
      if (!s.ok() && !m.map_full) return Fail(s);  // ~WriteTxn aborts
      if (!s.ok()) break;
    }
    records += part.size();
    if (m.map_full || !*more) break;
  }
  char buf[8];
  std::memcpy(buf, &revision, 8);
  m.Put(d.meta, "revision", std::string_view(buf, 8));
  m.entry.revision = revision;
  m.entry.time = NowMicros();
  m.entry.changes.push_back(
      {"replica.bootstrap", "", std::to_string(records)});
  m.entry.change_count = 1;
  m.WriteChangelog(revision);
  int crc = m.poisoned.ok() ? mdb_txn_commit(txn) : 0;
  if (m.poisoned.ok()) m.txn = nullptr;
  if (m.map_full || crc == MDB_MAP_FULL) {
    if (m.txn != nullptr) {
      mdb_txn_abort(txn);
      m.txn = nullptr;
    }
    if (Status g = Grow(); !g.ok()) return Fail(g);
    return Fail(Status(StatusCode::kResourceExhausted,
                       "the store was full; it has grown: replace again"));
  }
  if (!m.poisoned.ok()) return Fail(m.poisoned);  // ~WriteTxn aborts
  if (crc) return Fail(internal::LmdbError("commit", crc));
  if (sync_->listener) {
    ChangeSet reset;
    reset.entry.changes.push_back({"replica.bootstrap", "", std::to_string(revision)});
    reset.entry.change_count = 1;
    sync_->listener(reset);
  }
  return revision;
}

}  // namespace portcullis::storage
