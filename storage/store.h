// Store: the durable data Portcullis decides on, in LMDB.
//
// One Store owns one LMDB environment (a directory holding data.mdb and
// lock.mdb). It is the only code that calls LMDB. It keeps:
//   resources    (type, id, parent, attributes)
//   subjects     (type, id, attributes)
//   access       a subject's binding (roles, state, expiry, who and when) and
//                restriction (actions) on one resource
//   invitations  (id, resource, invitee, roles, inviter, message, created,
//                expires, state)
//   a changelog  (revision, actor, time, what changed)
// and the indexes the queries need (see storage/layout.h).
//
// Reads: Store::Read() opens a ReadView, one LMDB read transaction: a
// consistent snapshot that writers never block. It implements
// engine::DataView, so the evaluator runs on it directly.
//
// Writes: Store::Write() runs a function inside one write transaction and
// commits it. Every committed write transaction advances the revision (a
// uint64 that strictly increases, starting at 1) and records one changelog
// entry. If the LMDB map fills up, the transaction is aborted, the map grown
// and the function run again from the start: the function must therefore
// depend only on its arguments and on what it reads through the transaction.
// A function that returns a non-OK Status aborts the transaction: nothing it
// did is applied.
//
// Durability: commits use LMDB's default synchronous flush, so a revision
// returned by Write() survives kill -9 and power loss. StoreOptions::no_sync
// opts out (then the last transactions before a power loss, not a process
// crash, may be lost).
//
// Thread safety: a Store may be shared by any number of threads. Writes are
// serialized (LMDB allows one writer). A ReadView or a WriteTxn is used by one
// thread at a time; both are move-only, and their destructor aborts the
// transaction. Nothing a view returns (string_view, Value, PackedNames)
// outlives the view.
#ifndef PORTCULLIS_STORAGE_STORE_H_
#define PORTCULLIS_STORAGE_STORE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "engine/data_view.h"
#include "engine/value.h"
#include "engine/policy.h"
#include "storage/change_set.h"

// LMDB's opaque handle types, named only by the private members below: no
// public function takes or returns one, so that callers neither include
// lmdb.h nor reason about transactions. Code inside storage/ reaches them
// through storage/store_internal.h.
typedef struct MDB_env MDB_env;
typedef struct MDB_txn MDB_txn;

namespace portcullis::storage {

// The on-disk layout version this build reads and writes. Opening a store of
// another version fails with kFailedPrecondition naming both versions.
inline constexpr uint32_t kFormatVersion = 1;

// Limits on names, so that every key fits LMDB's 511-byte key limit.
inline constexpr size_t kMaxTypeLength = 64;
inline constexpr size_t kMaxIdLength = 180;

struct StoreOptions {
  // The initial map size. The map grows (doubling, at least by 64 MiB) when a
  // write finds it full; the file on disk only holds the pages in use.
  uint64_t map_size = uint64_t{1} << 30;
  // The LMDB reader table: every concurrently open ReadView takes one slot.
  // `max_reader_threads` is how many threads may hold read views at once (the
  // server's worker threads); it sizes the table when max_readers is 0, as
  // 126 + 2 * max_reader_threads. It sizes nothing else.
  int max_reader_threads = 4;
  unsigned max_readers = 0;  // 0: 126 + 2 * max_reader_threads
  // Changelog retention: entries older than the newest `changelog_retention`
  // revisions are deleted by the write that makes them so. 0 keeps all.
  uint64_t changelog_retention = 100000;
  // At most this many changes are recorded per changelog entry; a larger
  // transaction (an import, a large subtree delete records only its root) is
  // recorded with `truncated` set and the total count.
  size_t max_changes_per_entry = 1000;
  // Open without creating; fail if the directory holds no store.
  bool must_exist = false;
  // Skip fsync on commit (MDB_NOSYNC). Unsafe on power loss; off by default.
  bool no_sync = false;
  bool read_only = false;
  // Fault injection, for tests of failing reads only (the daemon never sets
  // it). Called before each read a decision makes through a ReadView, with
  // what it reads ("resource", "subject", "access", "attribute", "children",
  // "bindings on resource", "bindings of subject", "resources by type",
  // "subjects by type"), and before Read() opens a view ("begin"). When it
  // returns true, that read fails as an LMDB error would: the view is marked
  // failed and the read finds nothing; for "begin", Read() answers
  // kUnavailable. Must be thread-safe if views are read on several threads.
  std::function<bool(std::string_view what)> read_fault;
};

// An attribute map, ordered by key. Nested JSON objects are flattened into
// dotted keys ("device.ip") before they get here.
using Attributes = std::map<std::string, engine::OwnedValue, std::less<>>;

// Owned copies of records, for the API, import/export and tests. References
// are "type:id" strings.
struct ResourceRecord {
  std::string type;
  std::string id;
  std::string parent;  // "type:id", or empty for a root
  Attributes attributes;
};

struct SubjectRecord {
  std::string type;
  std::string id;
  Attributes attributes;
};

struct BindingRecord {
  std::string subject;   // "type:id"
  std::string resource;  // "type:id"
  std::vector<std::string> roles;  // empty: remove the binding
  engine::BindingState state = engine::BindingState::kActive;
  TimestampMicros expires_at = kNoExpiry;
  std::string created_by;          // "type:id" or empty
  TimestampMicros created_at = 0;  // 0: unknown
};

struct RestrictionRecord {
  std::string subject;
  std::string resource;
  std::vector<std::string> actions;  // empty: remove; ["*"]: everything
};

enum class InvitationState : uint8_t {
  kPending = 0,
  kAccepted = 1,
  kDeclined = 2,
  kRevoked = 3,
  kExpired = 4,
};
std::string_view InvitationStateName(InvitationState s);  // "pending"
std::optional<InvitationState> ParseInvitationState(std::string_view name);

struct Invitation {
  std::string id;        // unguessable; see GenerateInvitationId()
  std::string resource;  // "type:id"
  std::string invitee;   // "user:bob" or "email:bob@example.com"
  std::vector<std::string> roles;
  std::string inviter;   // "type:id"
  std::string message;
  TimestampMicros created_at = 0;
  TimestampMicros expires_at = kNoExpiry;
  InvitationState state = InvitationState::kPending;
};

// 128 random bits from the OS, as 32 lowercase hex digits.
std::string GenerateInvitationId();

// A page of a paginated listing. Pass `next_cursor` back as `after` to get
// the next page; it is empty on the last page. Cursors are keys, so a page
// stays stable while other records are inserted or deleted.
template <typename T>
struct Page {
  std::vector<T> items;
  std::string next_cursor;
};

// What one subject holds directly on one resource, owned.
struct AccessRecord {
  std::string subject;
  std::string resource;
  std::optional<BindingRecord> binding;
  std::optional<RestrictionRecord> restriction;
};

class Store;
namespace internal {
struct Handles;  // store_internal.h
}  // namespace internal

// One LMDB read transaction: a consistent snapshot of the store. Implements
// engine::DataView: GetAccess() returns PackedNames viewing the map itself
// (zero copy); list attributes are decoded into memory of the view's
// ReadCache, kept by Refresh() and by the Store between views, so warm
// lookups do not allocate.
//
// Move-only; one thread at a time. The destructor ends the transaction. A
// view must be destroyed before its Store.
// Everything returned stays valid until the view is destroyed or refreshed.
class ReadView final : public engine::DataView {
 public:
  ReadView(ReadView&&) noexcept;
  ReadView& operator=(ReadView&&) noexcept;
  ReadView(const ReadView&) = delete;
  ReadView& operator=(const ReadView&) = delete;
  ~ReadView() override;

  // The revision of this snapshot (0 for an empty store).
  Revision revision() const;

  // Moves the view to the newest snapshot, invalidating everything it
  // returned before. Keeps the read cache's memory.
  Status Refresh();

  // engine::DataView.
  std::optional<engine::ResourceInfo> GetResource(
      engine::EntityRef resource) const override;
  bool SubjectExists(engine::EntityRef subject) const override;
  engine::SubjectAccess GetAccess(engine::EntityRef subject,
                                  engine::EntityRef resource) const override;
  std::optional<engine::Value> GetAttribute(
      engine::EntityKind kind, engine::EntityRef entity,
      std::string_view key) const override;
  void ForEachChild(engine::EntityRef parent,
                    const std::function<bool(engine::EntityRef)>& fn)
      const override;
  void ForEachBindingOn(
      engine::EntityRef resource,
      const std::function<bool(engine::EntityRef,
                               const engine::StoredBinding&)>& fn)
      const override;
  void ForEachBindingOf(
      engine::EntityRef subject,
      const std::function<bool(engine::EntityRef,
                               const engine::StoredBinding&)>& fn)
      const override;
  void ForEachResourceOfType(
      std::string_view type,
      const std::function<bool(engine::EntityRef)>& fn) const override;
  void ForEachSubjectOfType(
      std::string_view type,
      const std::function<bool(engine::EntityRef)>& fn) const override;
  bool failed() const override { return !failure_.empty(); }
  std::string_view failure() const override { return failure_; }

  // Owned records, for the API and export. nullopt: no such record (or the
  // view failed; see failed()).
  std::optional<ResourceRecord> GetResourceRecord(
      engine::EntityRef resource) const;
  std::optional<SubjectRecord> GetSubjectRecord(
      engine::EntityRef subject) const;
  std::optional<AccessRecord> GetAccessRecord(engine::EntityRef subject,
                                              engine::EntityRef resource) const;
  std::optional<Invitation> GetInvitation(std::string_view id) const;

  // Paginated listings in key order. `after` is the previous page's
  // next_cursor (empty for the first page); `limit` >= 1.
  // Children of `parent`, as "type:id".
  Result<Page<std::string>> ListChildren(engine::EntityRef parent,
                                         std::string_view after,
                                         size_t limit) const;
  // Bindings and restrictions on `resource`, ordered by subject.
  Result<Page<AccessRecord>> ListAccessOn(engine::EntityRef resource,
                                          std::string_view after,
                                          size_t limit) const;
  // Bindings and restrictions of `subject`, ordered by resource.
  Result<Page<AccessRecord>> ListAccessOf(engine::EntityRef subject,
                                          std::string_view after,
                                          size_t limit) const;
  // Ids of resources / subjects of one type, ordered by id.
  Result<Page<std::string>> ListResourcesOfType(std::string_view type,
                                                std::string_view after,
                                                size_t limit) const;
  Result<Page<std::string>> ListSubjectsOfType(std::string_view type,
                                               std::string_view after,
                                               size_t limit) const;
  // Invitations on a resource / addressed to an invitee, ordered by id,
  // optionally only those in `state`.
  Result<Page<Invitation>> ListInvitationsOn(
      engine::EntityRef resource, std::optional<InvitationState> state,
      std::string_view after, size_t limit) const;
  Result<Page<Invitation>> ListInvitationsFor(
      engine::EntityRef invitee, std::optional<InvitationState> state,
      std::string_view after, size_t limit) const;

  // Every record of one kind, in key order (resources and subjects by
  // "type:id", access by subject then resource, invitations by id), for
  // export and checks. Stops when fn returns false.
  Status ForEachResourceRecord(
      const std::function<bool(const ResourceRecord&)>& fn) const;
  Status ForEachSubjectRecord(
      const std::function<bool(const SubjectRecord&)>& fn) const;
  Status ForEachAccessRecord(
      const std::function<bool(const AccessRecord&)>& fn) const;
  Status ForEachInvitation(
      const std::function<bool(const Invitation&)>& fn) const;

  // Every record of one primary table as stored (the codecs of
  // storage/layout.h), in key order, for code that derives its own
  // structures from the records (the decision index). Stops when fn returns
  // false.
  Status ScanTable(Table table,
                   const std::function<bool(std::string_view key,
                                            std::string_view value)>& fn)
      const;

  // Changelog entries with revision > since, oldest first, at most `limit`.
  // kGone if entries after `since` were already compacted away (the caller
  // must resynchronize from an export).
  Result<std::vector<ChangelogEntry>> Changes(Revision since,
                                              size_t limit) const;
  // The oldest revision still in the changelog (0 if it is empty).
  Revision OldestChange() const;


 private:
  friend class Store;
  friend class WriteTxn;
  friend struct internal::Handles;
  struct ReadCache;  // store_internal.h
  // `cache` may be null: the view then makes its own.
  ReadView(Store* store, MDB_txn* txn, bool owns_txn,
           std::unique_ptr<ReadCache> cache = nullptr);
  void MarkFailed(std::string_view what, int rc) const;
  // Whether StoreOptions::read_fault fails this read (it then marks the
  // view failed).
  bool InjectedFault(std::string_view what) const;
  void Release();
  // Reads the subject's access records into the cache (see ReadCache) unless
  // they are there already; false when they are too many to keep (or the
  // cursor could not be had): then read record by record.
  bool CacheSubjectAccess(engine::EntityRef subject) const;

  Store* store_ = nullptr;
  MDB_txn* txn_ = nullptr;
  bool owns_txn_ = true;  // false: a view of a WriteTxn's transaction
  mutable std::string failure_;
  std::unique_ptr<ReadCache> cache_;
};

// One write transaction, handed to the function given to Store::Write().
// Every mutation enforces the store's referential rules and, when a policy
// is given, the policy's rules; a mutation that returns an error has changed
// nothing (but the caller should return the error, aborting the whole
// transaction). Reads through view() see this transaction's own writes.
class WriteTxn {
 public:
  WriteTxn(const WriteTxn&) = delete;
  WriteTxn& operator=(const WriteTxn&) = delete;
  ~WriteTxn();

  // Creates or updates a resource. Rules: the type is a resource type of the
  // policy; a type with allowed parents needs a parent of one of those types
  // that exists, a root type takes none; a changed parent is a move (no
  // cycles). Attributes are replaced as a whole.
  Status PutResource(const ResourceRecord& resource);
  // Changes only the parent. kNotFound if either does not exist.
  Status MoveResource(engine::EntityRef resource, engine::EntityRef new_parent);
  // Deletes the resource, its whole subtree, and every binding, restriction
  // and invitation on any of them. kNotFound if it does not exist.
  Status DeleteResource(engine::EntityRef resource);

  // Creates or updates a subject (attributes replaced as a whole). The type
  // must not be a resource type of the policy.
  Status PutSubject(const SubjectRecord& subject);
  // Deletes the subject, its bindings, restrictions and the invitations
  // addressed to it. kNotFound if it does not exist.
  Status DeleteSubject(engine::EntityRef subject);

  // Sets the subject's binding on the resource (roles, state, expiry, who,
  // when); empty roles remove it. The resource must exist; the subject's
  // type must be a subject type of the policy (its record is created if
  // missing); each role must exist and be bindable on the resource's type.
  Status SetBinding(const BindingRecord& binding);
  // Sets the actions restricted for the subject on the resource; empty
  // removes it. The resource's type must be restrictable; each action must be
  // an action of that type, or the single name "*".
  Status SetRestriction(const RestrictionRecord& restriction);

  // Stores a new invitation. Fills invitation->id if empty. kAlreadyExists if
  // the id is taken. The resource must exist; roles as for SetBinding. The
  // invitee's subject record is created if missing.
  Status CreateInvitation(Invitation* invitation);
  // kNotFound if no such invitation.
  Status SetInvitationState(std::string_view id, InvitationState state);

  // Reads within this transaction.
  const ReadView& view() const { return view_; }

 private:
  friend class Store;
  WriteTxn(Store* store, MDB_txn* txn, const engine::Policy* policy,
           std::string_view actor);
  class Impl;
  std::unique_ptr<Impl> impl_;
  ReadView view_;
};

// A source of truth that every write of a Store goes through (cluster mode:
// PostgreSQL), with group commit: writes that arrive at a Store while one
// group is being committed wait, and the first of them leads the next group.
// The leader calls Begin(), runs every write of its group in one local
// transaction (each in a nested transaction of its own, so that one write's
// failure leaves its neighbours alone), calls Commit() with the change sets
// of the writes that succeeded, in revision order, and only then commits
// locally and answers each of them. Abort() releases a Begin() that does not
// reach Commit() (no write of the group succeeded, or a local failure).
//
// Thread safety: Begin, Commit and Abort of one group are called on the
// leader's thread, one group at a time per Store, with no Store lock held
// during Begin() (so that a replica may keep applying, Store::Apply, while
// the leader waits in it). Several Stores may share nothing through a gate.
class WriteGate {
 public:
  virtual ~WriteGate() = default;
  // Serializes with every other writer of the source and waits until this
  // store has applied every revision the source holds. Returns the source's
  // newest revision H: the group's writes take H + 1, H + 2, ...
  virtual Result<Revision> Begin() = 0;
  // Makes the change sets (at least one; revisions H + 1, H + 2, ... in
  // order) durable at the source, all in one transaction. Non-OK: the local
  // transaction is aborted and each write of the group returns that status
  // (none of them is made, or, if the status says so, the outcome is
  // unknown). Ends the group whatever its outcome.
  virtual Status Commit(std::span<const ChangeSet> group) = 0;
  // Begin() succeeded but the group does not reach Commit(): release what
  // Begin() took.
  virtual void Abort() = 0;
  // The group committed locally too (its change sets went to the commit
  // listener): the store is now at `revision`. Called on the leader's
  // thread before the group's writes are answered.
  virtual void Committed(Revision revision) { (void)revision; }
};

class Store {
 public:
  // Opens (creating unless options.must_exist) the store in `dir`, which is
  // created if missing. Fails with kFailedPrecondition on a store of another
  // format version, with kInternal on an LMDB error.
  static Result<std::unique_ptr<Store>> Open(const std::string& dir,
                                             const StoreOptions& options = {});
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // A read snapshot. kUnavailable if the reader table is full.
  Result<ReadView> Read();

  // Runs `fn` in one write transaction and commits it; returns the new
  // revision. `policy` (may be null: then only the structural rules are
  // checked: parents exist, no cycles, names well-formed) is the policy the
  // referential rules are checked against; `actor` ("type:id" or empty) is
  // recorded in the changelog. `fn` may be run more than once (map growth).
  // A non-OK status from `fn` or the commit aborts everything.
  // With a WriteGate set, concurrent writes are committed in groups (see
  // WriteGate); each still gets its own revision and changelog entry, and a
  // write's failure fails only that write.
  Result<Revision> Write(const engine::Policy* policy, std::string_view actor,
                         const std::function<Status(WriteTxn&)>& fn);

  // Applies a change set made elsewhere (a replica applying its source's
  // change log): one transaction that writes or deletes each record, keeps
  // every secondary index, records cs.entry in the changelog and sets the
  // revision to cs.revision. Accepted when cs.revision == revision() + 1;
  // when the store is empty (revision 0: the first part of a bootstrap, at
  // any revision); and when cs.revision == revision() and cs.entry.changes
  // is empty (a further part of the same revision, such as the next chunk
  // of a bootstrap: the revision does not advance and no changelog entry is
  // written). Anything else is kFailedPrecondition and changes nothing. No
  // policy rules are checked (the source checked them) and the WriteGate is
  // bypassed. Records that fail to decode are kInvalidArgument.
  Result<Revision> Apply(const ChangeSet& cs);

  // Replaces the whole content of the store with a snapshot of another
  // store at `revision` (a replica that must bootstrap again while it
  // serves), in one write transaction: readers see the old content until it
  // commits, then the snapshot's. `next` is called until it returns false,
  // each time filling *part (cleared before each call) with more records of
  // the snapshot, each key once in all. The changelog is emptied and holds
  // one entry, `replica.bootstrap`. Then the commit listener gets a
  // ChangeSet of revision 0, which follows no revision: whoever derives
  // state from the change sets (the decision index) must rebuild it from a
  // snapshot. If the map fills up, it is grown and kResourceExhausted
  // returned (nothing changed; `next` cannot be replayed: call again with a
  // new snapshot). REQUIRES: revision > 0. The WriteGate is bypassed.
  Result<Revision> Replace(
      Revision revision,
      const std::function<Result<bool>(std::vector<RecordChange>* part)>&
          next);

  // Sets the gate every Write goes through (null: none, the embedded mode).
  // Set it before writes start; the gate must outlive the Store's writes.
  void SetWriteGate(WriteGate* gate);

  // Flushes every committed transaction to disk (for a store opened with
  // no_sync: before a clean close).
  Status Flush();

  // Sets the function called after every commit (Write or Apply) with its
  // change set, in revision order, with the store's writer lock held (so it
  // must not write to this Store). Empty: none. While one is set, each
  // write transaction also collects its change set (reading back the final
  // state of every record it touched).
  void SetCommitListener(std::function<void(const ChangeSet&)> listener);

  // The latest committed revision.
  Revision revision();

  // Deletes changelog entries with revision <= `up_to`. Also done
  // automatically by each write according to options.changelog_retention.
  Result<Revision> CompactChangelog(Revision up_to);

  // Checks that every index agrees with the primary records, that parents
  // exist and that there are no cycles. Returns one line per problem found
  // (empty: consistent), or an error if the store could not be read.
  Result<std::vector<std::string>> Verify();

  // Storage statistics, for metrics and benchmarks.
  struct Stats {
    uint64_t map_size = 0;     // bytes reserved
    uint64_t used_bytes = 0;   // pages in use * page size
    uint64_t resources = 0, subjects = 0, access = 0, invitations = 0;
    unsigned max_readers = 0;
  };
  Result<Stats> GetStats();

  const std::string& dir() const { return dir_; }
  const StoreOptions& options() const { return options_; }

  // The handles of the named databases (defined in store_internal.h).
  struct Dbis;

 private:
  friend class ReadView;
  friend class WriteTxn;
  friend struct internal::Handles;
  Store(std::string dir, StoreOptions options);
  Status Init();
  Status Grow();
  // Write() without a gate: runs under the writer lock.
  Result<Revision> WriteLocked(const engine::Policy* policy,
                               std::string_view actor,
                               const std::function<Status(WriteTxn&)>& fn);
  // One write waiting in a group commit (store_internal.h).
  struct QueuedWrite;
  // Write() with a gate: queues the write; the first in line leads a group.
  Result<Revision> WriteThroughGate(WriteGate* gate,
                                    const engine::Policy* policy,
                                    std::string_view actor,
                                    const std::function<Status(WriteTxn&)>& fn);
  // The leader's work after Begin() returned the source's head: runs the
  // group in one local transaction, commits it at the gate, then locally;
  // sets every write's result.
  void CommitGroup(WriteGate* gate, Revision head,
                   const std::vector<QueuedWrite*>& group);
  // Apply() under the writer lock, for one attempt; sets *map_full.
  Result<Revision> ApplyOnce(const ChangeSet& cs, bool* map_full);

  std::string dir_;
  StoreOptions options_;
  MDB_env* env_ = nullptr;
  std::unique_ptr<Dbis> dbis_;
  struct Sync;
  std::unique_ptr<Sync> sync_;
};

}  // namespace portcullis::storage

#endif  // PORTCULLIS_STORAGE_STORE_H_
