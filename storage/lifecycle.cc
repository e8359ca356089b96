// The life cycle of a Store: open (environment, databases, format version),
// read and write transactions (with map growth and retries), changelog
// compaction, statistics and close.
#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>

#include "storage/store.h"
#include "storage/store_internal.h"

namespace portcullis::storage {

using internal::GetRaw;
using internal::LmdbError;
using internal::ReadU64;
using internal::V;

namespace {

constexpr int kWriteAttempts = 20;
// At most this many writes in one group commit (WriteGate).
constexpr size_t kMaxGroup = 128;
constexpr uint64_t kMinGrowth = uint64_t{64} << 20;
constexpr auto kGrowLockTimeout = std::chrono::seconds(10);

}  // namespace

// ---------------------------------------------------------------------------
// Store.

Store::Store(std::string dir, StoreOptions options)
    : dir_(std::move(dir)),
      options_(options),
      dbis_(std::make_unique<Dbis>()),
      sync_(std::make_unique<Sync>()) {}

Store::~Store() {
  if (sync_ != nullptr) {
    for (auto& [txn, cache] : sync_->idle) mdb_txn_abort(txn);
    sync_->idle.clear();
  }
  if (env_ != nullptr) mdb_env_close(env_);
}

Result<std::unique_ptr<Store>> Store::Open(const std::string& dir,
                                           const StoreOptions& options) {
  std::error_code ec;
  if (options.must_exist || options.read_only) {
    if (!std::filesystem::exists(std::filesystem::path(dir) / "data.mdb", ec)) {
      return Fail(
          Status::NotFound("no store in " + dir + " (data.mdb is missing)"));
    }
  } else {
    std::filesystem::create_directories(dir, ec);
    if (ec) {
      return Fail(
          Status::Internal("cannot create " + dir + ": " + ec.message()));
    }
  }
  std::unique_ptr<Store> store(new Store(dir, options));
  if (Status s = store->Init(); !s.ok()) return Fail(s);
  return store;
}

Status Store::Init() {
  int rc = mdb_env_create(&env_);
  if (rc) return LmdbError("mdb_env_create", rc);
  const unsigned readers =
      options_.max_readers ? options_.max_readers
                           : 126 + 2 * std::max(1, options_.max_reader_threads);
  if ((rc = mdb_env_set_maxreaders(env_, readers)) ||
      (rc = mdb_env_set_maxdbs(env_, 16)) ||
      (rc = mdb_env_set_mapsize(env_, options_.map_size))) {
    return LmdbError("configure environment", rc);
  }
  unsigned flags = MDB_NOTLS;
  if (options_.no_sync) flags |= MDB_NOSYNC;
  if (options_.read_only) flags |= MDB_RDONLY;
  rc = mdb_env_open(env_, dir_.c_str(), flags, 0644);
  if (rc) return LmdbError("mdb_env_open " + dir_, rc);

  MDB_txn* txn = nullptr;
  rc = mdb_txn_begin(env_, nullptr, options_.read_only ? MDB_RDONLY : 0, &txn);
  if (rc) return LmdbError("mdb_txn_begin", rc);
  const unsigned create = options_.read_only ? 0 : MDB_CREATE;
  struct {
    const char* name;
    MDB_dbi* dbi;
    unsigned flags;
  } dbs[] = {
      {"meta", &dbis_->meta, 0},
      {"resources", &dbis_->resources, 0},
      {"subjects", &dbis_->subjects, 0},
      {"access", &dbis_->access, 0},
      {"access_by_resource", &dbis_->access_by_resource, MDB_DUPSORT},
      {"children", &dbis_->children, MDB_DUPSORT},
      {"resources_by_type", &dbis_->resources_by_type, MDB_DUPSORT},
      {"subjects_by_type", &dbis_->subjects_by_type, MDB_DUPSORT},
      {"invitations", &dbis_->invitations, 0},
      {"invitations_by_resource", &dbis_->inv_by_resource, MDB_DUPSORT},
      {"invitations_by_invitee", &dbis_->inv_by_invitee, MDB_DUPSORT},
      {"changelog", &dbis_->changelog, 0},
  };
  // An unknown store is recognized by its meta database before anything
  // else is created in it.
  rc = mdb_dbi_open(txn, "meta", create, &dbis_->meta);
  if (rc) {
    mdb_txn_abort(txn);
    return Status::FailedPrecondition(
        dir_ + " does not hold a portcullis store: " + mdb_strerror(rc));
  }
  std::string_view version;
  rc = GetRaw(txn, dbis_->meta, "format_version", &version);
  if (rc == MDB_NOTFOUND) {
    MDB_stat st;
    mdb_stat(txn, dbis_->meta, &st);
    if (st.ms_entries != 0 || options_.read_only) {
      mdb_txn_abort(txn);
      return Status::FailedPrecondition(dir_ +
                                        ": store has no format version record");
    }
    const uint32_t v = kFormatVersion;
    MDB_val k = V("format_version"), val{sizeof v, const_cast<uint32_t*>(&v)};
    rc = mdb_put(txn, dbis_->meta, &k, &val, 0);
    if (rc) {
      mdb_txn_abort(txn);
      return LmdbError("write format version", rc);
    }
  } else if (rc) {
    mdb_txn_abort(txn);
    return LmdbError("read format version", rc);
  } else {
    uint32_t v = 0;
    if (version.size() == 4) std::memcpy(&v, version.data(), 4);
    if (version.size() != 4 || v != kFormatVersion) {
      mdb_txn_abort(txn);
      return Status::FailedPrecondition(
          dir_ + ": store has format version " +
          (version.size() == 4 ? std::to_string(v) : "(unreadable)") +
          "; this build of portcullis reads format version " +
          std::to_string(kFormatVersion));
    }
  }
  for (auto& db : dbs) {
    rc = mdb_dbi_open(txn, db.name, create | db.flags, db.dbi);
    if (rc) {
      mdb_txn_abort(txn);
      return LmdbError(std::string("open database ") + db.name, rc);
    }
  }
  rc = mdb_txn_commit(txn);
  if (rc) return LmdbError("commit open", rc);
  return Status::Ok();
}

Status Store::Grow() {
  MDB_envinfo info;
  mdb_env_info(env_, &info);
  const uint64_t cur = info.me_mapsize;
  const uint64_t next = std::max(cur * 2, cur + kMinGrowth);
  if (!sync_->resize_mu.TryLockFor(kGrowLockTimeout)) {
    return Status(StatusCode::kUnavailable,
                  "the store is full and could not grow: read transactions "
                  "stayed open");
  }
  const int rc = mdb_env_set_mapsize(env_, next);
  sync_->resize_mu.Unlock();
  if (rc) return LmdbError("mdb_env_set_mapsize", rc);
  return Status::Ok();
}

namespace {

// Begins a transaction; adopts a map another process has grown. With
// `pinned`, the caller holds the read transaction's share of resize_mu
// (internal::PinMap), which is given back while the map is resized.
int BeginTxn(MDB_env* env, unsigned flags, MDB_txn** txn,
             SharedMutex* resize_mu, bool pinned) {
  for (int attempt = 0;; ++attempt) {
    const int rc = mdb_txn_begin(env, nullptr, flags, txn);
    if (rc != MDB_MAP_RESIZED || attempt > 3) return rc;
    if (pinned) internal::UnpinMap(resize_mu);
    {
      WriterMutexLock lock(resize_mu);
      mdb_env_set_mapsize(env, 0);
    }
    if (pinned) internal::PinMap(resize_mu);
  }
}

}  // namespace

Result<ReadView> Store::Read() {
  if (options_.read_fault && options_.read_fault("begin")) {
    return Fail(Status(StatusCode::kUnavailable,
                       "mdb_txn_begin: injected fault"));
  }
  // Given back by ReadView::Release, or below on failure.
  internal::PinMap(&sync_->resize_mu);
  MDB_txn* txn = nullptr;
  std::unique_ptr<ReadView::ReadCache> cache;
  {
    MutexLock lock(&sync_->idle_mu);
    if (!sync_->idle.empty()) {
      txn = sync_->idle.back().first;
      cache = std::move(sync_->idle.back().second);
      sync_->idle.pop_back();
    }
  }
  if (txn != nullptr) {
    if (mdb_txn_renew(txn) == 0) {
      cache->Reset();
      return ReadView(this, txn, /*owns_txn=*/true, std::move(cache));
    }
    // E.g. MDB_MAP_RESIZED (another process grew the map): begin afresh,
    // which adopts the new size.
    mdb_txn_abort(txn);
    txn = nullptr;
  }
  const int rc =
      BeginTxn(env_, MDB_RDONLY, &txn, &sync_->resize_mu, /*pinned=*/true);
  if (rc) {
    internal::UnpinMap(&sync_->resize_mu);
    return Fail(LmdbError("begin read transaction", rc));
  }
  return ReadView(this, txn, /*owns_txn=*/true, std::move(cache));
}

Result<Revision> Store::Write(const engine::Policy* policy,
                              std::string_view actor,
                              const std::function<Status(WriteTxn&)>& fn) {
  if (options_.read_only) {
    return Fail(Status::FailedPrecondition("the store is open read-only"));
  }
  if (!actor.empty()) {
    if (Status s = layout::CheckRef(actor, "actor"); !s.ok()) return Fail(s);
  }
  WriteGate* gate = sync_->gate.load(std::memory_order_acquire);
  if (gate != nullptr) return WriteThroughGate(gate, policy, actor, fn);
  return WriteLocked(policy, actor, fn);
}

Result<Revision> Store::WriteLocked(const engine::Policy* policy,
                                    std::string_view actor,
                                    const std::function<Status(WriteTxn&)>& fn) {
  MutexLock write_lock(&sync_->write_mu);
  const bool collect = sync_->listener != nullptr;
  for (int attempt = 0; attempt < kWriteAttempts; ++attempt) {
    MDB_txn* txn = nullptr;
    const int rc = BeginTxn(env_, 0, &txn, &sync_->resize_mu, /*pinned=*/false);
    if (rc) return Fail(LmdbError("begin write transaction", rc));
    WriteTxn w(this, txn, policy, actor);
    w.impl_->collect = collect;
    Status s = fn(w);
    Result<Revision> rev = Fail(s);
    if (s.ok()) rev = w.impl_->Finish();
    std::optional<ChangeSet> cs;
    if (rev && collect) {
      Result<ChangeSet> collected = w.impl_->CollectChangeSet();
      if (collected) cs = std::move(*collected);
      else rev = Fail(collected.error());
    }
    if (w.impl_->map_full) {
      mdb_txn_abort(txn);
      w.impl_->txn = nullptr;
      if (Status g = Grow(); !g.ok()) return Fail(g);
      continue;
    }
    if (!rev) return rev;  // ~WriteTxn aborts
    const int crc = mdb_txn_commit(txn);
    w.impl_->txn = nullptr;  // committed or freed by the failed commit
    if (crc == MDB_MAP_FULL) {
      if (Status g = Grow(); !g.ok()) return Fail(g);
      continue;
    }
    if (crc) return Fail(LmdbError("commit", crc));
    if (sync_->listener) sync_->listener(*cs);
    return rev;
  }
  return Fail(Status::Internal("write did not fit after growing the map " +
                               std::to_string(kWriteAttempts) + " times"));
}

Result<Revision> Store::WriteThroughGate(
    WriteGate* gate, const engine::Policy* policy, std::string_view actor,
    const std::function<Status(WriteTxn&)>& fn) {
  Sync& sync = *sync_;
  QueuedWrite me;
  me.policy = policy;
  me.actor = actor;
  me.fn = &fn;
  {
    MutexLock lock(&sync.queue_mu);
    sync.queue.push_back(&me);
    while (!me.done && (sync.leading || sync.queue.front() != &me)) {
      sync.queue_cv.Wait(&sync.queue_mu);
    }
    if (me.done) return std::move(*me.result);
    sync.leading = true;
  }
  // The leader. Writes that arrive while it waits for the source join its
  // group: it is taken after Begin().
  Result<Revision> head = gate->Begin();
  std::vector<QueuedWrite*> group;
  {
    MutexLock lock(&sync.queue_mu);
    while (!sync.queue.empty() && group.size() < kMaxGroup) {
      group.push_back(sync.queue.front());
      sync.queue.pop_front();
    }
  }
  if (head) {
    CommitGroup(gate, *head, group);
  } else {
    for (QueuedWrite* w : group) w->result = Fail(head.error());
  }
  Result<Revision> mine = std::move(*me.result);
  {
    MutexLock lock(&sync.queue_mu);
    for (QueuedWrite* w : group) w->done = true;
    sync.leading = false;
  }
  sync.queue_cv.NotifyAll();
  return mine;
}

void Store::CommitGroup(WriteGate* gate, Revision head,
                        const std::vector<QueuedWrite*>& group) {
  auto fail_all = [&](const Status& s) {
    for (QueuedWrite* w : group) {
      if (!w->result) w->result = Fail(s);
    }
  };
  MutexLock write_lock(&sync_->write_mu);
  for (int attempt = 0; attempt < kWriteAttempts; ++attempt) {
    for (QueuedWrite* w : group) w->result.reset();
    MDB_txn* parent = nullptr;
    int rc = BeginTxn(env_, 0, &parent, &sync_->resize_mu, /*pinned=*/false);
    if (rc) {
      gate->Abort();
      fail_all(LmdbError("begin write transaction", rc));
      return;
    }
    std::string_view cur;
    rc = GetRaw(parent, dbis_->meta, "revision", &cur);
    const Revision local = rc == 0 ? ReadU64(cur) : 0;
    if (local != head) {
      mdb_txn_abort(parent);
      gate->Abort();
      fail_all(Status(StatusCode::kUnavailable,
                      "the local replica is at revision " +
                          std::to_string(local) + ", not at the source's " +
                          std::to_string(head) + "; try again"));
      return;
    }
    // Each write in a nested transaction: one that fails is rolled back
    // alone, and the next one sees the writes before it.
    std::vector<ChangeSet> made;
    std::vector<QueuedWrite*> made_by;
    bool map_full = false;
    for (QueuedWrite* w : group) {
      MDB_txn* child = nullptr;
      rc = mdb_txn_begin(env_, parent, 0, &child);
      if (rc) {
        w->result = Fail(LmdbError("begin nested transaction", rc));
        continue;
      }
      WriteTxn t(this, child, w->policy, w->actor);
      t.impl_->collect = true;
      Status s = (*w->fn)(t);
      Result<Revision> rev = Fail(s);
      if (s.ok()) rev = t.impl_->Finish();
      std::optional<ChangeSet> cs;
      if (rev) {
        Result<ChangeSet> collected = t.impl_->CollectChangeSet();
        if (collected) cs = std::move(*collected);
        else rev = Fail(collected.error());
      }
      if (t.impl_->map_full) {
        map_full = true;
        break;  // ~WriteTxn aborts the nested transaction
      }
      if (!rev) {
        w->result = rev;
        continue;
      }
      const int crc = mdb_txn_commit(child);
      t.impl_->txn = nullptr;
      if (crc == MDB_MAP_FULL) {
        map_full = true;
        break;
      }
      if (crc) {
        w->result = Fail(LmdbError("commit nested transaction", crc));
        continue;
      }
      made.push_back(std::move(*cs));
      made_by.push_back(w);
    }
    if (map_full) {
      mdb_txn_abort(parent);
      if (Status g = Grow(); !g.ok()) {
        gate->Abort();
        for (QueuedWrite* w : group) w->result.reset();
        fail_all(g);
        return;
      }
      continue;
    }
    if (made.empty()) {
      mdb_txn_abort(parent);
      gate->Abort();
      return;
    }
    if (Status g = gate->Commit(made); !g.ok()) {
      mdb_txn_abort(parent);
      for (QueuedWrite* w : made_by) w->result = Fail(g);
      return;
    }
    const int crc = mdb_txn_commit(parent);
    if (crc) {
      // The source has the revisions: the replica's follower applies them.
      const Status s(StatusCode::kUnavailable,
                     "revision " + std::to_string(made.front().revision) +
                         " is committed at the source but the local commit "
                         "failed (" + LmdbError("commit", crc).message() +
                         "); the replica applies it from the source");
      for (QueuedWrite* w : made_by) w->result = Fail(s);
      return;
    }
    for (size_t i = 0; i < made.size(); ++i) {
      if (sync_->listener) sync_->listener(made[i]);
      made_by[i]->result = made[i].revision;
    }
    gate->Committed(made.back().revision);
    return;
  }
  gate->Abort();
  fail_all(Status::Internal("writes did not fit after growing the map " +
                            std::to_string(kWriteAttempts) + " times"));
}

Result<Revision> Store::Apply(const ChangeSet& cs) {
  if (options_.read_only) {
    return Fail(Status::FailedPrecondition("the store is open read-only"));
  }
  if (cs.entry.revision != cs.revision && !cs.entry.changes.empty()) {
    return Fail(Status::InvalidArgument(
        "change set's changelog entry is for another revision"));
  }
  MutexLock write_lock(&sync_->write_mu);
  for (int attempt = 0; attempt < kWriteAttempts; ++attempt) {
    bool map_full = false;
    Result<Revision> rev = ApplyOnce(cs, &map_full);
    if (map_full) {
      if (Status g = Grow(); !g.ok()) return Fail(g);
      continue;
    }
    if (rev && sync_->listener) sync_->listener(cs);
    return rev;
  }
  return Fail(Status::Internal("change set did not fit after growing the map " +
                               std::to_string(kWriteAttempts) + " times"));
}

Result<Revision> Store::ApplyOnce(const ChangeSet& cs, bool* map_full) {
  MDB_txn* txn = nullptr;
  const int rc = BeginTxn(env_, 0, &txn, &sync_->resize_mu, /*pinned=*/false);
  if (rc) return Fail(LmdbError("begin write transaction", rc));
  WriteTxn w(this, txn, nullptr, cs.entry.actor);
  WriteTxn::Impl& m = *w.impl_;
  auto cur = m.Get(m.d.meta, "revision");
  const Revision current = cur ? ReadU64(*cur) : 0;
  const bool continuation =
      cs.revision == current && current != 0 && cs.entry.changes.empty();
  if (!continuation && cs.revision != current + 1 && current != 0) {
    return Fail(Status::FailedPrecondition(
        "change set of revision " + std::to_string(cs.revision) +
        " does not follow the store's revision " + std::to_string(current)));
  }
  if (cs.revision == 0) {
    return Fail(Status::InvalidArgument("change set has no revision"));
  }
  for (const RecordChange& r : cs.records) {
    if (Status s = m.ApplyRecord(r); !s.ok()) {
      *map_full = m.map_full;
      return Fail(s);
    }
  }
  if (!continuation) {
    char buf[8];
    std::memcpy(buf, &cs.revision, 8);
    m.Put(m.d.meta, "revision", std::string_view(buf, 8));
    m.entry = cs.entry;
    m.entry.revision = cs.revision;
    m.WriteChangelog(cs.revision);
  }
  if (!m.poisoned.ok()) {
    *map_full = m.map_full;
    return Fail(m.poisoned);
  }
  const int crc = mdb_txn_commit(txn);
  m.txn = nullptr;
  if (crc == MDB_MAP_FULL) {
    *map_full = true;
    return Fail(Status(StatusCode::kResourceExhausted, "lmdb map full"));
  }
  if (crc) return Fail(LmdbError("commit", crc));
  return cs.revision;
}

void Store::SetWriteGate(WriteGate* gate) {
  sync_->gate.store(gate, std::memory_order_release);
}

Status Store::Flush() {
  const int rc = mdb_env_sync(env_, 1);
  return rc ? LmdbError("mdb_env_sync", rc) : Status::Ok();
}

void Store::SetCommitListener(
    std::function<void(const ChangeSet&)> listener) {
  MutexLock write_lock(&sync_->write_mu);
  sync_->listener = std::move(listener);
}

Revision Store::revision() {
  auto view = Read();
  if (!view) return 0;
  return view->revision();
}

Result<Revision> Store::CompactChangelog(Revision up_to) {
  auto rev = Write(nullptr, {}, [&](WriteTxn& w) {
    w.impl_->DeleteChangesUpTo(up_to);
    w.impl_->AddChange("changelog.compact", {}, std::to_string(up_to));
    return w.impl_->poisoned;
  });
  if (!rev) return rev;
  auto view = Read();
  if (!view) return Fail(view.error());
  return view->OldestChange();
}

Result<Store::Stats> Store::GetStats() {
  auto view = Read();
  if (!view) return Fail(view.error());
  Stats st;
  MDB_envinfo info;
  MDB_stat es;
  mdb_env_info(env_, &info);
  mdb_env_stat(env_, &es);
  st.map_size = info.me_mapsize;
  st.used_bytes = (info.me_last_pgno + 1) * uint64_t{es.ms_psize};
  st.max_readers = info.me_maxreaders;
  auto count = [&](MDB_dbi dbi) -> uint64_t {
    MDB_stat s;
    return mdb_stat(view->txn_, dbi, &s) == 0 ? s.ms_entries : 0;
  };
  st.resources = count(dbis_->resources);
  st.subjects = count(dbis_->subjects);
  st.access = count(dbis_->access);
  st.invitations = count(dbis_->invitations);
  return st;
}
}  // namespace portcullis::storage
