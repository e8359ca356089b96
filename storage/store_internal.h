// Internals of the Store shared between the storage/*.cc files that implement
// it: LMDB helpers (cursor, lookups, duplicate and prefix scans, full scans),
// the Store's synchronization state, the read cache of a ReadView, and the
// state of a write transaction.
//
// PRIVATE to storage/: nothing outside storage/ (server/, bench/, policies/)
// includes this header. Tests in storage/ may, to reach internals.
//
// Thread safety: the free functions keep no state and are safe to call from
// any thread on a transaction that thread is using. Store::Sync is shared by
// every thread of a Store (each member says what guards it, GUARDED_BY where
// it is memory). A ReadCache and
// a WriteTxn::Impl belong to one view or transaction, used by one thread at
// a time.
//
// Invariants:
//   1. Every string_view produced by S() or GetRaw() points into the LMDB map
//      and is valid only until the transaction it was read in ends (or, in a
//      write transaction, until the next write: copy it out first).
//   2. Callers pass a txn and a dbi that belong to the same environment.
//   3. Functions returning an int return an LMDB error code, or 0; a missing
//      key is MDB_NOTFOUND for GetRaw and 0 for the scans.
#ifndef PORTCULLIS_STORAGE_STORE_INTERNAL_H_
#define PORTCULLIS_STORAGE_STORE_INTERNAL_H_

#include <lmdb.h>

#include <algorithm>
#include <atomic>
#include <deque>
#include <functional>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/mutex.h"
#include "common/status.h"
#include "common/thread_annotations.h"
#include "engine/policy.h"
#include "storage/layout.h"
#include "storage/store.h"

namespace portcullis::storage::internal {

inline MDB_val V(std::string_view s) {
  return MDB_val{s.size(), const_cast<char*>(s.data())};
}
inline std::string_view S(const MDB_val& v) {
  return std::string_view(static_cast<const char*>(v.mv_data), v.mv_size);
}

// An LMDB error code as a Status: kUnavailable for a full reader table
// (naming the option to raise), kInternal otherwise.
Status LmdbError(std::string_view what, int rc);

// A cursor closed when it goes out of scope (before its transaction ends).
class Cursor {
 public:
  Cursor(MDB_txn* txn, MDB_dbi dbi) { rc_ = mdb_cursor_open(txn, dbi, &c_); }
  ~Cursor() {
    if (c_ != nullptr) mdb_cursor_close(c_);
  }
  Cursor(const Cursor&) = delete;
  Cursor& operator=(const Cursor&) = delete;
  int open_rc() const { return rc_; }
  int Get(MDB_val* k, MDB_val* v, MDB_cursor_op op) {
    return mdb_cursor_get(c_, k, v, op);
  }

 private:
  MDB_cursor* c_ = nullptr;
  int rc_ = 0;
};

// Calls fn(value) for the duplicates of `key` after `after` (all of them
// when `after` is empty), in order, until fn returns false. Returns an LMDB
// error code, or 0.
template <typename Fn>
int ForEachDup(MDB_txn* txn, MDB_dbi dbi, std::string_view key,
               std::string_view after, Fn&& fn) {
  Cursor c(txn, dbi);
  if (c.open_rc()) return c.open_rc();
  MDB_val k = V(key), v;
  int rc;
  if (after.empty()) {
    rc = c.Get(&k, &v, MDB_SET_KEY);
  } else {
    v = V(after);
    rc = c.Get(&k, &v, MDB_GET_BOTH_RANGE);
    if (rc == 0 && S(v) == after) rc = c.Get(&k, &v, MDB_NEXT_DUP);
  }
  while (rc == 0) {
    if (!fn(S(v))) return 0;
    rc = c.Get(&k, &v, MDB_NEXT_DUP);
  }
  return rc == MDB_NOTFOUND ? 0 : rc;
}

// Calls fn(key_suffix, value) for the keys starting with `prefix` that sort
// after prefix+after, in order, until fn returns false.
template <typename Fn>
int ForEachPrefix(MDB_txn* txn, MDB_dbi dbi, std::string_view prefix,
                  std::string_view after, std::string* scratch, Fn&& fn) {
  Cursor c(txn, dbi);
  if (c.open_rc()) return c.open_rc();
  scratch->assign(prefix).append(after);
  MDB_val k = V(*scratch), v;
  int rc = c.Get(&k, &v, MDB_SET_RANGE);
  if (rc == 0 && !after.empty() && S(k) == *scratch) {
    rc = c.Get(&k, &v, MDB_NEXT);
  }
  while (rc == 0) {
    const std::string_view key = S(k);
    if (key.substr(0, prefix.size()) != prefix) return 0;
    if (!fn(key.substr(prefix.size()), S(v))) return 0;
    rc = c.Get(&k, &v, MDB_NEXT);
  }
  return rc == MDB_NOTFOUND ? 0 : rc;
}

// What a ScanAll callback asks for next. Stopping is not an error, so it is
// not a Status: a callback's own error (whatever its code) always surfaces.
enum class ScanStep { kContinue, kStop };

// Calls fn(key, value) for every entry of `dbi` in key order. fn returns a
// Result<ScanStep>: kStop ends the scan with OK; an error ends it and is
// returned as it is.
template <typename Fn>
Status ScanAll(MDB_txn* txn, MDB_dbi dbi, Fn&& fn) {
  Cursor c(txn, dbi);
  if (c.open_rc()) return LmdbError("cursor", c.open_rc());
  MDB_val k, v;
  int rc = c.Get(&k, &v, MDB_FIRST);
  while (rc == 0) {
    Result<ScanStep> step = fn(S(k), S(v));
    if (!step) return step.error();
    if (*step == ScanStep::kStop) return Status::Ok();
    rc = c.Get(&k, &v, MDB_NEXT);
  }
  return rc == MDB_NOTFOUND ? Status::Ok() : LmdbError("scan", rc);
}

inline int GetRaw(MDB_txn* txn, MDB_dbi dbi, std::string_view key,
                  std::string_view* out) {
  MDB_val k = V(key), v;
  const int rc = mdb_get(txn, dbi, &k, &v);
  if (rc == 0) *out = S(v);
  return rc;
}

// A u64 stored little-endian in 8 bytes; 0 if `v` is not 8 bytes.
inline uint64_t ReadU64(std::string_view v) {
  uint64_t x = 0;
  if (v.size() == 8) std::memcpy(&x, v.data(), 8);
  return x;
}

// Owned copies of an access record's parts.
BindingRecord MakeBinding(std::string_view subject, std::string_view resource,
                          const layout::AccessValue& a);
AccessRecord MakeAccess(std::string_view subject, std::string_view resource,
                        const layout::AccessValue& a);

// kInvalidArgument unless limit >= 1.
Status CheckLimit(size_t limit);

}  // namespace portcullis::storage::internal

namespace portcullis::storage {

// The handles of the named databases of layout.h, opened by Store::Init and
// constant after it.
struct Store::Dbis {
  MDB_dbi meta, resources, subjects, access, access_by_resource, children,
      resources_by_type, subjects_by_type, invitations, inv_by_resource,
      inv_by_invitee, changelog;
};

namespace internal {

// The raw LMDB handles behind a Store and a ReadView, for code in storage/
// and its tests (which inspect or corrupt a store on purpose). Valid while
// the Store (the view) is.
struct Handles {
  static MDB_txn* Txn(const ReadView& view) { return view.txn_; }
  static MDB_env* Env(const Store& store) { return store.env_; }
  static const Store::Dbis& Dbis(const Store& store) { return *store.dbis_; }
};

}  // namespace internal

// One write waiting in a group commit. Lives on its writer's stack until
// `done`; the leader sets `result` before it sets `done` (under
// Sync::queue_mu), and touches the write no more after that.
struct Store::QueuedWrite {
  const engine::Policy* policy = nullptr;
  std::string_view actor;
  const std::function<Status(WriteTxn&)>* fn = nullptr;
  std::optional<Result<Revision>> result;
  bool done = false;  // guarded by Sync::queue_mu
};

// The synchronization state of one Store, shared by all its threads.
//
// Lock order: write_mu, then resize_mu, then idle_mu (a writer may grow the
// map; nothing takes write_mu or resize_mu with idle_mu held).
struct Store::Sync {
  // One writer at a time (LMDB's own lock is per environment, not per
  // thread). Guards no member: it serializes Store::Write and, through it,
  // Store::Grow.
  Mutex write_mu ACQUIRED_BEFORE(resize_mu);

  // Store::SetWriteGate; read by every Write before it takes write_mu.
  std::atomic<WriteGate*> gate{nullptr};

  // Group commit (Store::WriteThroughGate): the writes waiting for a group,
  // in arrival order, and whether a leader is at work. The leader takes
  // queue_mu only to take its group and to hand back results, never while
  // it holds write_mu.
  Mutex queue_mu;
  CondVar queue_cv;  // a group is done: results set, `leading` cleared
  std::deque<QueuedWrite*> queue GUARDED_BY(queue_mu);
  bool leading GUARDED_BY(queue_mu) = false;
  // Store::SetCommitListener.
  std::function<void(const ChangeSet&)> listener GUARDED_BY(write_mu);

  // Held shared by every open read transaction of this process, from
  // Store::Read to ReadView::Release; exclusive while the map is resized
  // (mdb_env_set_mapsize needs no active transaction). A ReadView holds its
  // share across calls, which the analysis cannot follow: that share is taken
  // and given back only through internal::PinMap and internal::UnpinMap.
  SharedMutex resize_mu ACQUIRED_BEFORE(idle_mu);

  // Read transactions of released views, reset (mdb_txn_reset) and kept
  // with their read caches, so that Read() renews one (no allocation, no
  // reader-table lock) instead of beginning a new one. With MDB_NOTLS a
  // reset transaction keeps its reader slot and may be renewed by any
  // thread. At most kMaxIdleReads are kept; they are aborted by ~Store.
  static constexpr size_t kMaxIdleReads = 64;
  Mutex idle_mu;
  std::vector<std::pair<MDB_txn*, std::unique_ptr<ReadView::ReadCache>>> idle
      GUARDED_BY(idle_mu);
};

namespace internal {

// Takes (PinMap) or gives back (UnpinMap) the shared hold on
// Store::Sync::resize_mu that a read transaction keeps for its whole life,
// from Store::Read through the ReadView to ReadView::Release. The analysis
// checks one function at a time and cannot follow a hold that an object
// keeps, so these two are not checked; every other use of the lock is.
inline void PinMap(SharedMutex* resize_mu) NO_THREAD_SAFETY_ANALYSIS {
  resize_mu->LockShared();
}
inline void UnpinMap(SharedMutex* resize_mu) NO_THREAD_SAFETY_ANALYSIS {
  resize_mu->UnlockShared();
}

}  // namespace internal

// What a ReadView keeps between reads so that warm lookups neither allocate
// nor open cursors: blocks of Values that list attributes are decoded into,
// key buffers, the access records of the subject checked last, and read-only
// cursors renewed with each transaction.
//
// Owned by one view (or idle in Store::Sync::idle); one thread at a time.
// Invariants: Reset() keeps the memory; after Reset() nothing cached refers
// to the previous transaction (subject_cached and the cursors' `ready` are
// false).
struct ReadView::ReadCache {
  static constexpr size_t kBlock = 256;
  std::vector<std::unique_ptr<engine::Value[]>> blocks;
  std::vector<size_t> sizes;
  size_t block = 0;
  size_t used = 0;
  std::string key[2];

  // The access records of the subject checked last, read with one cursor
  // range over the access table instead of one B-tree descent per level of
  // the resource's ancestry: (resource "type:id", encoded value), views into
  // the map, valid for this snapshot. Not used when the subject holds more
  // than kSubjectAccess records (`subject_complete` false).
  static constexpr size_t kSubjectAccess = 32;
  std::string subject;  // "type:id\0" of the cached subject
  bool subject_cached = false;
  bool subject_complete = false;
  size_t subject_count = 0;
  std::pair<std::string_view, std::string_view> subject_access[kSubjectAccess];
  // Read-only cursors kept with the cache and renewed with each transaction
  // (LMDB lets read-only cursors outlive theirs), so the hot reads do not
  // open and free one per call: on the access table, and on the children
  // index (the traversal of a lookup lists the children of every resource
  // it reaches).
  struct KeptCursor {
    MDB_cursor* cursor = nullptr;
    bool ready = false;  // opened or renewed for the current transaction
    bool busy = false;   // in use by a listing that has not returned
    ~KeptCursor() {
      if (cursor != nullptr) mdb_cursor_close(cursor);
    }
    // The cursor for `txn`, or null if LMDB refuses one.
    MDB_cursor* Get(MDB_txn* txn, MDB_dbi dbi) {
      if (!ready) {
        const int rc = cursor == nullptr ? mdb_cursor_open(txn, dbi, &cursor)
                                         : mdb_cursor_renew(txn, cursor);
        if (rc != 0) {
          if (cursor != nullptr) mdb_cursor_close(cursor);
          cursor = nullptr;
          return nullptr;
        }
        ready = true;
      }
      return cursor;
    }
  };
  KeptCursor access_cursor, children_cursor;

  ReadCache() = default;
  ReadCache(const ReadCache&) = delete;
  ReadCache& operator=(const ReadCache&) = delete;

  engine::Value* Alloc(size_t n) {
    while (block < blocks.size()) {
      if (sizes[block] - used >= n) {
        engine::Value* p = blocks[block].get() + used;
        used += n;
        return p;
      }
      ++block;
      used = 0;
    }
    const size_t size = std::max(kBlock, n);
    blocks.push_back(std::make_unique<engine::Value[]>(size));
    sizes.push_back(size);
    block = blocks.size() - 1;
    used = n;
    return blocks.back().get();
  }
  void Reset() {
    block = 0;
    used = 0;
    subject_cached = false;
    access_cursor.ready = false;
    children_cursor.ready = false;
  }
};

// The state of one write transaction: the LMDB primitives (which record the
// first LMDB error, "poisoning" the transaction, so that a mutation can issue
// several writes and check once), the changelog entry being built, and the
// policy's write rules (write_rules.cc).
//
// One thread at a time. Invariants: once `poisoned` is not OK, Put and Del do
// nothing and every mutation returns `poisoned`; `map_full` implies
// `poisoned` is kResourceExhausted; `txn` is null once committed or aborted.
class WriteTxn::Impl {
 public:
  Impl(Store* store, MDB_txn* txn, const engine::Policy* policy,
       std::string_view actor)
      : store(store), d(*store->dbis_), txn(txn), policy(policy) {
    entry.actor = std::string(actor);
  }

  Store* store;
  const Store::Dbis& d;
  MDB_txn* txn;
  const engine::Policy* policy;
  Status poisoned;
  bool map_full = false;
  ChangelogEntry entry;
  // Whether Put and Del record the primary keys they touch (`touched`), for
  // the transaction's ChangeSet; set when a listener or a gate needs one.
  bool collect = false;
  std::vector<std::pair<Table, std::string>> touched;

  // LMDB primitives (write_txn.cc).
  void Poison(std::string_view what, int rc);
  // Copies the value out: a later write may move the page it lives on.
  std::optional<std::string> Get(MDB_dbi dbi, std::string_view key);
  bool Exists(MDB_dbi dbi, std::string_view key);
  void Put(MDB_dbi dbi, std::string_view key, std::string_view value,
           unsigned flags = 0);
  // Deletes one duplicate (value given) or the key with all its values.
  void Del(MDB_dbi dbi, std::string_view key,
           std::optional<std::string_view> value = std::nullopt);
  std::vector<std::string> Dups(MDB_dbi dbi, std::string_view key);
  void AddChange(std::string_view op, std::string_view entity,
                 std::string_view related = {});

  // Record-level reads and writes (write_txn.cc).
  // kNotFound (field "resource") unless the resource `ref` exists.
  Status CheckResourceExists(const std::string& ref);
  // Reads the access record subject\0resource into *existing (nullopt if
  // there is none) and decodes it into *a, whose views point into *existing.
  Status ReadAccess(const std::string& subject, const std::string& resource,
                    std::optional<std::string>* existing,
                    layout::AccessValue* a);
  void EnsureSubject(std::string_view ref);
  // Writes (or deletes, when flags is 0) the access record subject\0resource.
  void WriteAccess(const std::string& subject, const std::string& resource,
                   const layout::AccessValue& a);
  void DeleteInvitationRecord(const std::string& id);
  // Deletes one resource's own records (not its children's).
  void DeleteOneResource(const std::string& ref);
  // Advances the revision and writes the changelog entry (and its retention).
  Result<Revision> Finish();
  // The ChangeSet of this transaction after Finish(): the final state of
  // every primary record it touched (requires `collect`).
  Result<ChangeSet> CollectChangeSet();
  // Writes the changelog entry of `revision` and applies the retention.
  void WriteChangelog(Revision revision);
  // Replaces (or deletes) one primary record with its image from a change
  // set, keeping the secondary indexes (apply.cc). kInvalidArgument if the
  // image does not decode.
  Status ApplyRecord(const RecordChange& rc);
  // The primary table `dbi` is, if it is one.
  std::optional<Table> PrimaryTable(MDB_dbi dbi) const;
  MDB_dbi TableDbi(Table t) const;
  void DeleteChangesUpTo(Revision up_to);

  // The policy's write rules (write_rules.cc). With no policy, only the
  // structural rules apply.
  // The policy's resource type named `type`, or an error.
  Status CheckResourceType(std::string_view type, engine::TypeId* id);
  // The parent rules of the policy for a resource of `type`.
  Status CheckParentType(std::string_view type, engine::TypeId tid,
                         std::string_view parent);
  // Walks up from `parent`: fails if `self` is on the way (a cycle) or the
  // tree would be deeper than the evaluator walks.
  Status CheckNoCycle(std::string_view self, std::string_view parent);
  // Role names: well-formed, distinct, and (with a policy) existing and
  // bindable on `resource_type`.
  Status CheckRoles(const std::vector<std::string>& roles,
                    std::string_view resource_type);
  Status CheckSubjectType(std::string_view type);
  // Action names of a restriction: well-formed, distinct, "*" alone.
  static Status CheckActionNames(const std::vector<std::string>& actions);
  // With a policy: `resource_type` is restrictable and each action (but "*")
  // is one of its actions.
  Status CheckRestrictable(const std::vector<std::string>& actions,
                           std::string_view resource_type);
};

}  // namespace portcullis::storage

#endif  // PORTCULLIS_STORAGE_STORE_INTERNAL_H_
