#include "storage/store.h"

#include <lmdb.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <random>
#include <shared_mutex>

#include "engine/evaluator.h"
#include "storage/layout.h"

namespace portcullis::storage {

using engine::EntityRef;
using engine::Value;
using engine::ValueKind;

namespace {

constexpr int kWriteAttempts = 20;
constexpr uint64_t kMinGrowth = uint64_t{64} << 20;
constexpr auto kGrowLockTimeout = std::chrono::seconds(10);

MDB_val V(std::string_view s) {
  return MDB_val{s.size(), const_cast<char*>(s.data())};
}
std::string_view S(const MDB_val& v) {
  return std::string_view(static_cast<const char*>(v.mv_data), v.mv_size);
}

Status LmdbError(std::string_view what, int rc) {
  std::string msg = "lmdb ";
  msg.append(what).append(": ").append(mdb_strerror(rc));
  if (rc == MDB_READERS_FULL) {
    return Status(StatusCode::kUnavailable,
                  msg + " (raise StoreOptions::max_readers)");
  }
  return Status::Internal(std::move(msg));
}

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

int GetRaw(MDB_txn* txn, MDB_dbi dbi, std::string_view key,
           std::string_view* out) {
  MDB_val k = V(key), v;
  const int rc = mdb_get(txn, dbi, &k, &v);
  if (rc == 0) *out = S(v);
  return rc;
}

uint64_t ReadU64(std::string_view v) {
  uint64_t x = 0;
  if (v.size() == 8) std::memcpy(&x, v.data(), 8);
  return x;
}

BindingRecord MakeBinding(std::string_view subject, std::string_view resource,
                          const layout::AccessValue& a) {
  BindingRecord b;
  b.subject = std::string(subject);
  b.resource = std::string(resource);
  b.roles = layout::Unpack(a.roles);
  b.state = a.state;
  b.expires_at = a.expires_at;
  b.created_by = std::string(a.created_by);
  b.created_at = a.created_at;
  return b;
}

AccessRecord MakeAccess(std::string_view subject, std::string_view resource,
                        const layout::AccessValue& a) {
  AccessRecord r;
  r.subject = std::string(subject);
  r.resource = std::string(resource);
  if (a.flags & layout::kHasBinding) {
    r.binding = MakeBinding(subject, resource, a);
  }
  if (a.flags & layout::kHasRestriction) {
    r.restriction = RestrictionRecord{r.subject, r.resource,
                                      layout::Unpack(a.actions)};
  }
  return r;
}

}  // namespace

std::string_view InvitationStateName(InvitationState s) {
  switch (s) {
    case InvitationState::kPending: return "pending";
    case InvitationState::kAccepted: return "accepted";
    case InvitationState::kDeclined: return "declined";
    case InvitationState::kRevoked: return "revoked";
    case InvitationState::kExpired: return "expired";
  }
  return "unknown";
}

std::optional<InvitationState> ParseInvitationState(std::string_view name) {
  for (uint8_t i = 0; i <= static_cast<uint8_t>(InvitationState::kExpired);
       ++i) {
    const auto s = static_cast<InvitationState>(i);
    if (InvitationStateName(s) == name) return s;
  }
  return std::nullopt;
}

std::string GenerateInvitationId() {
  std::random_device rd;  // getrandom(2) / /dev/urandom on Linux
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id;
  id.reserve(32);
  for (int i = 0; i < 4; ++i) {
    uint32_t x = rd();
    for (int j = 0; j < 8; ++j) {
      id.push_back(kHex[x & 15]);
      x >>= 4;
    }
  }
  return id;
}

// ---------------------------------------------------------------------------
// Store internals.

struct Store::Sync {
  std::mutex write_mu;  // one writer at a time (LMDB's own lock is per env)
  // Shared by every open read transaction of this process; exclusive while
  // the map is resized (mdb_env_set_mapsize needs no active transaction).
  std::shared_timed_mutex resize_mu;
  // Read transactions of released views, reset (mdb_txn_reset) and kept
  // with their scratch arenas, so that Read() renews one (no allocation, no
  // reader-table lock) instead of beginning a new one. With MDB_NOTLS a
  // reset transaction keeps its reader slot and may be renewed by any
  // thread. At most kMaxIdleReads are kept; they are aborted by ~Store.
  static constexpr size_t kMaxIdleReads = 64;
  std::mutex idle_mu;
  std::vector<std::pair<MDB_txn*, std::unique_ptr<ReadView::Arena>>> idle;
};

// Blocks of Values that list attributes are decoded into, plus key buffers.
// Reset() keeps the memory, so a warm view does not allocate.
struct ReadView::Arena {
  static constexpr size_t kBlock = 256;
  std::vector<std::unique_ptr<Value[]>> blocks;
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
  // Read-only cursors kept with the arena and renewed with each transaction
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

  Arena() = default;
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;

  Value* Alloc(size_t n) {
    while (block < blocks.size()) {
      if (sizes[block] - used >= n) {
        Value* p = blocks[block].get() + used;
        used += n;
        return p;
      }
      ++block;
      used = 0;
    }
    const size_t size = std::max(kBlock, n);
    blocks.push_back(std::make_unique<Value[]>(size));
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

// ---------------------------------------------------------------------------
// ReadView.

ReadView::ReadView(Store* store, MDB_txn* txn, bool owns_txn,
                   std::unique_ptr<Arena> arena)
    : store_(store),
      txn_(txn),
      owns_txn_(owns_txn),
      arena_(arena ? std::move(arena) : std::make_unique<Arena>()) {}

ReadView::ReadView(ReadView&& o) noexcept
    : store_(o.store_),
      txn_(o.txn_),
      owns_txn_(o.owns_txn_),
      failure_(std::move(o.failure_)),
      arena_(std::move(o.arena_)) {
  o.txn_ = nullptr;
}

ReadView& ReadView::operator=(ReadView&& o) noexcept {
  if (this != &o) {
    Release();
    store_ = o.store_;
    txn_ = o.txn_;
    owns_txn_ = o.owns_txn_;
    failure_ = std::move(o.failure_);
    arena_ = std::move(o.arena_);
    o.txn_ = nullptr;
  }
  return *this;
}

ReadView::~ReadView() { Release(); }

void ReadView::Release() {
  if (txn_ != nullptr && owns_txn_) {
    Store::Sync& sync = *store_->sync_;
    mdb_txn_reset(txn_);
    bool kept = false;
    if (arena_ != nullptr && failure_.empty()) {  // keep only healthy ones
      std::lock_guard lock(sync.idle_mu);
      if (sync.idle.size() < Store::Sync::kMaxIdleReads) {
        sync.idle.emplace_back(txn_, std::move(arena_));
        kept = true;
      }
    }
    if (!kept) mdb_txn_abort(txn_);
    sync.resize_mu.unlock_shared();
  }
  txn_ = nullptr;
}

void ReadView::MarkFailed(std::string_view what, int rc) const {
  if (!failure_.empty()) return;
  failure_ = "storage read failed: ";
  failure_.append(what);
  failure_.append(": ");
  failure_.append(rc == 0 ? "corrupt record" : mdb_strerror(rc));
}

Revision ReadView::revision() const {
  std::string_view v;
  const int rc = GetRaw(txn_, store_->dbis_->meta, "revision", &v);
  if (rc == MDB_NOTFOUND) return 0;
  if (rc != 0) {
    MarkFailed("revision", rc);
    return 0;
  }
  return ReadU64(v);
}

Status ReadView::Refresh() {
  if (!owns_txn_ || txn_ == nullptr) {
    return Status::FailedPrecondition("only a standalone read view refreshes");
  }
  mdb_txn_reset(txn_);
  const int rc = mdb_txn_renew(txn_);
  arena_->Reset();
  failure_.clear();
  if (rc != 0) {
    MarkFailed("renew", rc);
    return LmdbError("mdb_txn_renew", rc);
  }
  return Status::Ok();
}

std::optional<engine::ResourceInfo> ReadView::GetResource(
    EntityRef resource) const {
  std::string& key = arena_->key[0];
  key.clear();
  layout::AppendRef(&key, resource);
  std::string_view v;
  const int rc = GetRaw(txn_, store_->dbis_->resources, key, &v);
  if (rc == MDB_NOTFOUND) return std::nullopt;
  if (rc != 0) {
    MarkFailed("resource", rc);
    return std::nullopt;
  }
  auto rec = layout::DecodeResource(v);
  if (!rec) {
    MarkFailed("resource", 0);
    return std::nullopt;
  }
  engine::ResourceInfo info;
  if (!rec->parent.empty()) info.parent = layout::SplitRef(rec->parent);
  return info;
}

bool ReadView::SubjectExists(EntityRef subject) const {
  std::string& key = arena_->key[0];
  key.clear();
  layout::AppendRef(&key, subject);
  std::string_view v;
  const int rc = GetRaw(txn_, store_->dbis_->subjects, key, &v);
  if (rc != 0 && rc != MDB_NOTFOUND) MarkFailed("subject", rc);
  return rc == 0;
}

bool ReadView::CacheSubjectAccess(EntityRef subject) const {
  Arena& a = *arena_;
  // a.subject is "type:id\0": compared in place, no key built per call.
  const size_t t = subject.type.size();
  if (a.subject_cached && a.subject.size() == t + subject.id.size() + 2 &&
      a.subject.compare(0, t, subject.type) == 0 && a.subject[t] == ':' &&
      a.subject.compare(t + 1, subject.id.size(), subject.id) == 0) {
    return a.subject_complete;
  }
  a.subject_cached = false;
  MDB_cursor* cursor = a.access_cursor.Get(txn_, store_->dbis_->access);
  if (cursor == nullptr) return false;  // the caller reads record by record
  a.subject.clear();
  layout::AppendRef(&a.subject, subject);
  a.subject.push_back('\0');
  a.subject_count = 0;
  a.subject_complete = true;
  MDB_val k = V(a.subject), v;
  int rc = mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE);
  while (rc == 0) {
    const std::string_view key = S(k);
    if (key.substr(0, a.subject.size()) != a.subject) break;
    if (a.subject_count == Arena::kSubjectAccess) {
      a.subject_complete = false;
      break;
    }
    a.subject_access[a.subject_count++] = {key.substr(a.subject.size()), S(v)};
    rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT);
  }
  if (rc != 0 && rc != MDB_NOTFOUND) {
    MarkFailed("access", rc);
    return false;
  }
  a.subject_cached = true;
  return a.subject_complete;
}

engine::SubjectAccess ReadView::GetAccess(EntityRef subject,
                                          EntityRef resource) const {
  engine::SubjectAccess out;
  std::string_view v;
  if (owns_txn_ && CacheSubjectAccess(subject)) {
    const Arena& a = *arena_;
    size_t i = 0;
    for (; i < a.subject_count; ++i) {
      const std::string_view r = a.subject_access[i].first;
      if (r.size() == resource.type.size() + 1 + resource.id.size() &&
          r.substr(0, resource.type.size()) == resource.type &&
          r[resource.type.size()] == ':' &&
          r.substr(resource.type.size() + 1) == resource.id) {
        break;
      }
    }
    if (i == a.subject_count) return out;
    v = a.subject_access[i].second;
  } else {
    if (failed()) return out;
    std::string& key = arena_->key[0];
    key.clear();
    layout::AppendRef(&key, subject);
    key.push_back('\0');
    layout::AppendRef(&key, resource);
    const int rc = GetRaw(txn_, store_->dbis_->access, key, &v);
    if (rc == MDB_NOTFOUND) return out;
    if (rc != 0) {
      MarkFailed("access", rc);
      return out;
    }
  }
  auto a = layout::DecodeAccess(v);
  if (!a) {
    MarkFailed("access", 0);
    return out;
  }
  if (a->flags & layout::kHasBinding) {
    out.binding = engine::StoredBinding{engine::PackedNames(a->roles),
                                        a->state, a->expires_at};
  }
  if (a->flags & layout::kHasRestriction) {
    out.restriction =
        engine::StoredRestriction{engine::PackedNames(a->actions)};
  }
  return out;
}

namespace {

// Decodes one encoded value as a view: strings point into the map, list
// elements into the arena.
bool DecodeView(layout::Reader* r, Value* out, int depth,
                const std::function<Value*(size_t)>& alloc) {
  if (depth > 16) return false;
  const uint8_t kind = r->Get<uint8_t>();
  switch (static_cast<ValueKind>(kind)) {
    case ValueKind::kNull: *out = Value::Null(); break;
    case ValueKind::kBool: *out = Value::Bool(r->Get<uint8_t>() != 0); break;
    case ValueKind::kInt: *out = Value::Int(r->Get<int64_t>()); break;
    case ValueKind::kTimestamp:
      *out = Value::Timestamp(r->Get<int64_t>());
      break;
    case ValueKind::kDouble: *out = Value::Double(r->Get<double>()); break;
    case ValueKind::kString: *out = Value::String(r->Str32()); break;
    case ValueKind::kList: {
      const uint32_t n = r->Get<uint32_t>();
      if (!r->ok() || n > (1u << 20)) return false;
      Value* elems = n ? alloc(n) : nullptr;
      for (uint32_t i = 0; i < n; ++i) {
        if (!DecodeView(r, &elems[i], depth + 1, alloc)) return false;
      }
      *out = Value::List(std::span<const Value>(elems, n));
      break;
    }
    default: return false;
  }
  return r->ok();
}

}  // namespace

std::optional<Value> ReadView::GetAttribute(engine::EntityKind kind,
                                            EntityRef entity,
                                            std::string_view key) const {
  std::string& k = arena_->key[0];
  k.clear();
  layout::AppendRef(&k, entity);
  const bool is_resource = kind == engine::EntityKind::kResource;
  std::string_view v;
  const int rc = GetRaw(
      txn_, is_resource ? store_->dbis_->resources : store_->dbis_->subjects,
      k, &v);
  if (rc == MDB_NOTFOUND) return std::nullopt;
  if (rc != 0) {
    MarkFailed("attribute", rc);
    return std::nullopt;
  }
  std::string_view blob = v;
  if (is_resource) {
    auto rec = layout::DecodeResource(v);
    if (!rec) {
      MarkFailed("resource", 0);
      return std::nullopt;
    }
    blob = rec->attributes;
  }
  auto encoded = layout::FindAttribute(blob, key);
  if (!encoded) return std::nullopt;
  layout::Reader r(*encoded);
  Value out;
  Arena* arena = arena_.get();
  if (!DecodeView(&r, &out, 0,
                  [arena](size_t n) { return arena->Alloc(n); })) {
    MarkFailed("attribute", 0);
    return std::nullopt;
  }
  return out;
}

void ReadView::ForEachChild(EntityRef parent,
                            const std::function<bool(EntityRef)>& fn) const {
  std::string& key = arena_->key[1];
  key.clear();
  layout::AppendRef(&key, parent);
  Arena::KeptCursor& kept = arena_->children_cursor;
  MDB_cursor* cursor = nullptr;
  if (owns_txn_ && !kept.busy) {
    cursor = kept.Get(txn_, store_->dbis_->children);
  }
  if (cursor == nullptr) {  // a nested listing, or a write transaction's view
    const int rc =
        ForEachDup(txn_, store_->dbis_->children, key, {},
                   [&](std::string_view child) {
                     return fn(layout::SplitRef(child));
                   });
    if (rc) MarkFailed("children", rc);
    return;
  }
  kept.busy = true;
  MDB_val k = V(key), v;
  int rc = mdb_cursor_get(cursor, &k, &v, MDB_SET_KEY);
  while (rc == 0) {
    if (!fn(layout::SplitRef(S(v)))) {
      rc = MDB_NOTFOUND;
      break;
    }
    rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT_DUP);
  }
  kept.busy = false;
  if (rc != MDB_NOTFOUND) MarkFailed("children", rc);
}

void ReadView::ForEachBindingOn(
    EntityRef resource,
    const std::function<bool(EntityRef, const engine::StoredBinding&)>& fn)
    const {
  std::string rkey;
  layout::AppendRef(&rkey, resource);
  std::string akey;
  const int rc = ForEachDup(
      txn_, store_->dbis_->access_by_resource, rkey, {},
      [&](std::string_view subject) {
        akey.assign(subject).push_back('\0');
        akey.append(rkey);
        std::string_view v;
        const int grc = GetRaw(txn_, store_->dbis_->access, akey, &v);
        if (grc != 0) {
          MarkFailed("access index", grc == MDB_NOTFOUND ? 0 : grc);
          return false;
        }
        auto a = layout::DecodeAccess(v);
        if (!a) {
          MarkFailed("access", 0);
          return false;
        }
        if (!(a->flags & layout::kHasBinding)) return true;
        engine::StoredBinding b{engine::PackedNames(a->roles), a->state,
                                a->expires_at};
        return fn(layout::SplitRef(subject), b);
      });
  if (rc) MarkFailed("bindings on resource", rc);
}

void ReadView::ForEachBindingOf(
    EntityRef subject,
    const std::function<bool(EntityRef, const engine::StoredBinding&)>& fn)
    const {
  std::string prefix;
  layout::AppendRef(&prefix, subject);
  prefix.push_back('\0');
  std::string scratch;
  const int rc = ForEachPrefix(
      txn_, store_->dbis_->access, prefix, {}, &scratch,
      [&](std::string_view resource, std::string_view v) {
        auto a = layout::DecodeAccess(v);
        if (!a) {
          MarkFailed("access", 0);
          return false;
        }
        if (!(a->flags & layout::kHasBinding)) return true;
        engine::StoredBinding b{engine::PackedNames(a->roles), a->state,
                                a->expires_at};
        return fn(layout::SplitRef(resource), b);
      });
  if (rc) MarkFailed("bindings of subject", rc);
}

void ReadView::ForEachResourceOfType(
    std::string_view type, const std::function<bool(EntityRef)>& fn) const {
  const int rc = ForEachDup(txn_, store_->dbis_->resources_by_type, type, {},
                            [&](std::string_view id) {
                              return fn(EntityRef{type, id});
                            });
  if (rc) MarkFailed("resources by type", rc);
}

void ReadView::ForEachSubjectOfType(
    std::string_view type, const std::function<bool(EntityRef)>& fn) const {
  const int rc = ForEachDup(txn_, store_->dbis_->subjects_by_type, type, {},
                            [&](std::string_view id) {
                              return fn(EntityRef{type, id});
                            });
  if (rc) MarkFailed("subjects by type", rc);
}

std::optional<ResourceRecord> ReadView::GetResourceRecord(
    EntityRef resource) const {
  std::string key;
  layout::AppendRef(&key, resource);
  std::string_view v;
  const int rc = GetRaw(txn_, store_->dbis_->resources, key, &v);
  if (rc != 0) {
    if (rc != MDB_NOTFOUND) MarkFailed("resource", rc);
    return std::nullopt;
  }
  auto dec = layout::DecodeResource(v);
  ResourceRecord rec;
  if (!dec || !layout::DecodeAttributes(dec->attributes, &rec.attributes)) {
    MarkFailed("resource", 0);
    return std::nullopt;
  }
  rec.type = std::string(resource.type);
  rec.id = std::string(resource.id);
  rec.parent = std::string(dec->parent);
  return rec;
}

std::optional<SubjectRecord> ReadView::GetSubjectRecord(
    EntityRef subject) const {
  std::string key;
  layout::AppendRef(&key, subject);
  std::string_view v;
  const int rc = GetRaw(txn_, store_->dbis_->subjects, key, &v);
  if (rc != 0) {
    if (rc != MDB_NOTFOUND) MarkFailed("subject", rc);
    return std::nullopt;
  }
  SubjectRecord rec;
  if (!layout::DecodeAttributes(v, &rec.attributes)) {
    MarkFailed("subject", 0);
    return std::nullopt;
  }
  rec.type = std::string(subject.type);
  rec.id = std::string(subject.id);
  return rec;
}

std::optional<AccessRecord> ReadView::GetAccessRecord(
    EntityRef subject, EntityRef resource) const {
  std::string s = subject.ToString(), r = resource.ToString();
  std::string key = s + std::string(1, '\0') + r;
  std::string_view v;
  const int rc = GetRaw(txn_, store_->dbis_->access, key, &v);
  if (rc != 0) {
    if (rc != MDB_NOTFOUND) MarkFailed("access", rc);
    return std::nullopt;
  }
  auto a = layout::DecodeAccess(v);
  if (!a) {
    MarkFailed("access", 0);
    return std::nullopt;
  }
  return MakeAccess(s, r, *a);
}

std::optional<Invitation> ReadView::GetInvitation(std::string_view id) const {
  if (id.empty()) return std::nullopt;
  std::string_view v;
  const int rc = GetRaw(txn_, store_->dbis_->invitations, id, &v);
  if (rc != 0) {
    if (rc != MDB_NOTFOUND) MarkFailed("invitation", rc);
    return std::nullopt;
  }
  auto inv = layout::DecodeInvitation(id, v);
  if (!inv) MarkFailed("invitation", 0);
  return inv;
}

namespace {

Status CheckLimit(size_t limit) {
  if (limit == 0) return Status::InvalidArgument("limit must be at least 1",
                                                 "limit");
  return Status::Ok();
}

// Collects up to limit+1 cursor strings; fills the page's cursor.
template <typename T>
void FinishPage(Page<T>* page, std::vector<std::string>* cursors,
                size_t limit) {
  if (cursors->size() > limit) {
    page->items.resize(limit);
    page->next_cursor = (*cursors)[limit - 1];
  }
}

}  // namespace

Result<Page<std::string>> ReadView::ListChildren(EntityRef parent,
                                                 std::string_view after,
                                                 size_t limit) const {
  if (Status s = CheckLimit(limit); !s.ok()) return Fail(s);
  Page<std::string> page;
  const int rc = ForEachDup(txn_, store_->dbis_->children, parent.ToString(),
                            after, [&](std::string_view child) {
                              page.items.emplace_back(child);
                              return page.items.size() <= limit;
                            });
  if (rc) return Fail(LmdbError("children", rc));
  if (page.items.size() > limit) {
    page.items.resize(limit);
    page.next_cursor = page.items.back();
  }
  return page;
}

Result<Page<AccessRecord>> ReadView::ListAccessOn(EntityRef resource,
                                                  std::string_view after,
                                                  size_t limit) const {
  if (Status s = CheckLimit(limit); !s.ok()) return Fail(s);
  const std::string rkey = resource.ToString();
  Page<AccessRecord> page;
  std::vector<std::string> cursors;
  std::string akey;
  int inner = 0;
  const int rc = ForEachDup(
      txn_, store_->dbis_->access_by_resource, rkey, after,
      [&](std::string_view subject) {
        akey.assign(subject).push_back('\0');
        akey.append(rkey);
        std::string_view v;
        inner = GetRaw(txn_, store_->dbis_->access, akey, &v);
        if (inner) return false;
        auto a = layout::DecodeAccess(v);
        if (!a) {
          inner = -1;
          return false;
        }
        page.items.push_back(MakeAccess(subject, rkey, *a));
        cursors.emplace_back(subject);
        return cursors.size() <= limit;
      });
  if (rc) return Fail(LmdbError("access by resource", rc));
  if (inner) {
    return Fail(Status::Internal("access index of " + rkey +
                                 " disagrees with the access records"));
  }
  FinishPage(&page, &cursors, limit);
  return page;
}

Result<Page<AccessRecord>> ReadView::ListAccessOf(EntityRef subject,
                                                  std::string_view after,
                                                  size_t limit) const {
  if (Status s = CheckLimit(limit); !s.ok()) return Fail(s);
  const std::string skey = subject.ToString();
  std::string prefix = skey;
  prefix.push_back('\0');
  Page<AccessRecord> page;
  std::vector<std::string> cursors;
  std::string scratch;
  bool corrupt = false;
  const int rc = ForEachPrefix(
      txn_, store_->dbis_->access, prefix, after, &scratch,
      [&](std::string_view resource, std::string_view v) {
        auto a = layout::DecodeAccess(v);
        if (!a) {
          corrupt = true;
          return false;
        }
        page.items.push_back(MakeAccess(skey, resource, *a));
        cursors.emplace_back(resource);
        return cursors.size() <= limit;
      });
  if (rc) return Fail(LmdbError("access of subject", rc));
  if (corrupt) return Fail(Status::Internal("corrupt access record"));
  FinishPage(&page, &cursors, limit);
  return page;
}

Result<Page<std::string>> ReadView::ListResourcesOfType(std::string_view type,
                                                        std::string_view after,
                                                        size_t limit) const {
  if (Status s = CheckLimit(limit); !s.ok()) return Fail(s);
  Page<std::string> page;
  const int rc = ForEachDup(txn_, store_->dbis_->resources_by_type, type,
                            after, [&](std::string_view id) {
                              page.items.emplace_back(id);
                              return page.items.size() <= limit;
                            });
  if (rc) return Fail(LmdbError("resources by type", rc));
  if (page.items.size() > limit) {
    page.items.resize(limit);
    page.next_cursor = page.items.back();
  }
  return page;
}

Result<Page<std::string>> ReadView::ListSubjectsOfType(std::string_view type,
                                                       std::string_view after,
                                                       size_t limit) const {
  if (Status s = CheckLimit(limit); !s.ok()) return Fail(s);
  Page<std::string> page;
  const int rc = ForEachDup(txn_, store_->dbis_->subjects_by_type, type,
                            after, [&](std::string_view id) {
                              page.items.emplace_back(id);
                              return page.items.size() <= limit;
                            });
  if (rc) return Fail(LmdbError("subjects by type", rc));
  if (page.items.size() > limit) {
    page.items.resize(limit);
    page.next_cursor = page.items.back();
  }
  return page;
}

namespace {

Result<Page<Invitation>> ListInvitations(MDB_txn* txn, const Store::Dbis& d,
                                         MDB_dbi index, std::string_view key,
                                         std::optional<InvitationState> state,
                                         std::string_view after,
                                         size_t limit) {
  if (Status s = CheckLimit(limit); !s.ok()) return Fail(s);
  Page<Invitation> page;
  std::vector<std::string> cursors;
  int inner = 0;
  const int rc = ForEachDup(txn, index, key, after, [&](std::string_view id) {
    std::string_view v;
    inner = GetRaw(txn, d.invitations, id, &v);
    if (inner) return false;
    auto inv = layout::DecodeInvitation(id, v);
    if (!inv) {
      inner = -1;
      return false;
    }
    if (state && inv->state != *state) return true;
    page.items.push_back(std::move(*inv));
    cursors.emplace_back(id);
    return cursors.size() <= limit;
  });
  if (rc) return Fail(LmdbError("invitation index", rc));
  if (inner) {
    return Fail(Status::Internal(
        "invitation index disagrees with the invitation records"));
  }
  FinishPage(&page, &cursors, limit);
  return page;
}

}  // namespace

Result<Page<Invitation>> ReadView::ListInvitationsOn(
    EntityRef resource, std::optional<InvitationState> state,
    std::string_view after, size_t limit) const {
  return ListInvitations(txn_, *store_->dbis_, store_->dbis_->inv_by_resource,
                         resource.ToString(), state, after, limit);
}

Result<Page<Invitation>> ReadView::ListInvitationsFor(
    EntityRef invitee, std::optional<InvitationState> state,
    std::string_view after, size_t limit) const {
  return ListInvitations(txn_, *store_->dbis_, store_->dbis_->inv_by_invitee,
                         invitee.ToString(), state, after, limit);
}

namespace {

// Calls fn(key, value) for every entry of `dbi` in key order.
template <typename Fn>
Status ScanAll(MDB_txn* txn, MDB_dbi dbi, Fn&& fn) {
  Cursor c(txn, dbi);
  if (c.open_rc()) return LmdbError("cursor", c.open_rc());
  MDB_val k, v;
  int rc = c.Get(&k, &v, MDB_FIRST);
  while (rc == 0) {
    Status s = fn(S(k), S(v));
    if (s.code() == StatusCode::kAlreadyExists) return Status::Ok();  // stop
    if (!s.ok()) return s;
    rc = c.Get(&k, &v, MDB_NEXT);
  }
  return rc == MDB_NOTFOUND ? Status::Ok() : LmdbError("scan", rc);
}

Status Stop() { return Status(StatusCode::kAlreadyExists, "stop"); }

}  // namespace

Status ReadView::ForEachResourceRecord(
    const std::function<bool(const ResourceRecord&)>& fn) const {
  return ScanAll(txn_, store_->dbis_->resources,
                 [&](std::string_view key, std::string_view v) {
                   auto dec = layout::DecodeResource(v);
                   ResourceRecord rec;
                   if (!dec || !layout::DecodeAttributes(dec->attributes,
                                                         &rec.attributes)) {
                     return Status::Internal("corrupt resource record " +
                                             std::string(key));
                   }
                   const EntityRef e = layout::SplitRef(key);
                   rec.type = std::string(e.type);
                   rec.id = std::string(e.id);
                   rec.parent = std::string(dec->parent);
                   return fn(rec) ? Status::Ok() : Stop();
                 });
}

Status ReadView::ForEachSubjectRecord(
    const std::function<bool(const SubjectRecord&)>& fn) const {
  return ScanAll(txn_, store_->dbis_->subjects,
                 [&](std::string_view key, std::string_view v) {
                   SubjectRecord rec;
                   if (!layout::DecodeAttributes(v, &rec.attributes)) {
                     return Status::Internal("corrupt subject record " +
                                             std::string(key));
                   }
                   const EntityRef e = layout::SplitRef(key);
                   rec.type = std::string(e.type);
                   rec.id = std::string(e.id);
                   return fn(rec) ? Status::Ok() : Stop();
                 });
}

Status ReadView::ForEachAccessRecord(
    const std::function<bool(const AccessRecord&)>& fn) const {
  return ScanAll(txn_, store_->dbis_->access,
                 [&](std::string_view key, std::string_view v) {
                   const size_t nul = key.find('\0');
                   auto a = layout::DecodeAccess(v);
                   if (nul == std::string_view::npos || !a) {
                     return Status::Internal("corrupt access record");
                   }
                   return fn(MakeAccess(key.substr(0, nul),
                                        key.substr(nul + 1), *a))
                              ? Status::Ok()
                              : Stop();
                 });
}

Status ReadView::ForEachInvitation(
    const std::function<bool(const Invitation&)>& fn) const {
  return ScanAll(txn_, store_->dbis_->invitations,
                 [&](std::string_view key, std::string_view v) {
                   auto inv = layout::DecodeInvitation(key, v);
                   if (!inv) {
                     return Status::Internal("corrupt invitation " +
                                             std::string(key));
                   }
                   return fn(*inv) ? Status::Ok() : Stop();
                 });
}

Revision ReadView::OldestChange() const {
  Cursor c(txn_, store_->dbis_->changelog);
  MDB_val k, v;
  if (c.open_rc() || c.Get(&k, &v, MDB_FIRST) != 0) return 0;
  return layout::RevisionFromKey(S(k));
}

Result<std::vector<ChangelogEntry>> ReadView::Changes(Revision since,
                                                      size_t limit) const {
  if (Status s = CheckLimit(limit); !s.ok()) return Fail(s);
  const Revision latest = revision();
  std::vector<ChangelogEntry> out;
  if (since >= latest) return out;
  const Revision oldest = OldestChange();
  if (oldest == 0 || oldest > since + 1) {
    return Fail(Status(
        StatusCode::kGone,
        "changes after revision " + std::to_string(since) +
            " were compacted away; the oldest kept is " +
            std::to_string(oldest) + " (resynchronize from an export)"));
  }
  Cursor c(txn_, store_->dbis_->changelog);
  if (c.open_rc()) return Fail(LmdbError("changelog", c.open_rc()));
  const std::string start = layout::RevisionKey(since + 1);
  MDB_val k = V(start), v;
  int rc = c.Get(&k, &v, MDB_SET_RANGE);
  while (rc == 0 && out.size() < limit) {
    auto e = layout::DecodeChangelog(layout::RevisionFromKey(S(k)), S(v));
    if (!e) return Fail(Status::Internal("corrupt changelog entry"));
    out.push_back(std::move(*e));
    rc = c.Get(&k, &v, MDB_NEXT);
  }
  if (rc != 0 && rc != MDB_NOTFOUND) return Fail(LmdbError("changelog", rc));
  return out;
}

// ---------------------------------------------------------------------------
// WriteTxn.

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

  void Poison(std::string_view what, int rc) {
    if (!poisoned.ok()) return;
    if (rc == MDB_MAP_FULL) {
      map_full = true;
      poisoned = Status(StatusCode::kResourceExhausted, "lmdb map full");
    } else {
      poisoned = LmdbError(what, rc);
    }
  }
  // Copies the value out: a later write may move the page it lives on.
  std::optional<std::string> Get(MDB_dbi dbi, std::string_view key) {
    std::string_view v;
    const int rc = GetRaw(txn, dbi, key, &v);
    if (rc == MDB_NOTFOUND) return std::nullopt;
    if (rc != 0) {
      Poison("mdb_get", rc);
      return std::nullopt;
    }
    return std::string(v);
  }
  bool Exists(MDB_dbi dbi, std::string_view key) {
    std::string_view v;
    const int rc = GetRaw(txn, dbi, key, &v);
    if (rc != 0 && rc != MDB_NOTFOUND) Poison("mdb_get", rc);
    return rc == 0;
  }
  void Put(MDB_dbi dbi, std::string_view key, std::string_view value,
           unsigned flags = 0) {
    if (!poisoned.ok()) return;
    MDB_val k = V(key), v = V(value);
    const int rc = mdb_put(txn, dbi, &k, &v, flags);
    if (rc == MDB_KEYEXIST && (flags & MDB_NODUPDATA)) return;
    if (rc != 0) Poison("mdb_put", rc);
  }
  // Deletes one duplicate (value given) or the key with all its values.
  void Del(MDB_dbi dbi, std::string_view key,
           std::optional<std::string_view> value = std::nullopt) {
    if (!poisoned.ok()) return;
    MDB_val k = V(key), v;
    if (value) v = V(*value);
    const int rc = mdb_del(txn, dbi, &k, value ? &v : nullptr);
    if (rc != 0 && rc != MDB_NOTFOUND) Poison("mdb_del", rc);
  }
  std::vector<std::string> Dups(MDB_dbi dbi, std::string_view key) {
    std::vector<std::string> out;
    const int rc = ForEachDup(txn, dbi, key, {}, [&](std::string_view v) {
      out.emplace_back(v);
      return true;
    });
    if (rc) Poison("cursor", rc);
    return out;
  }
  void AddChange(std::string_view op, std::string_view entity,
                 std::string_view related = {}) {
    ++entry.change_count;
    if (entry.changes.size() < store->options_.max_changes_per_entry) {
      entry.changes.push_back(
          Change{std::string(op), std::string(entity), std::string(related)});
    } else {
      entry.truncated = true;
    }
  }

  // The policy's resource type named `type`, or an error.
  Status CheckResourceType(std::string_view type, engine::TypeId* id) {
    *id = engine::kNoType;
    if (policy == nullptr) return Status::Ok();
    *id = policy->FindType(type);
    if (*id == engine::kNoType) {
      return Status::InvalidArgument(
          "unknown resource type '" + std::string(type) + "'", "type");
    }
    if (policy->types[*id].is_subject) {
      *id = engine::kNoType;
      return Status::InvalidArgument(
          "'" + std::string(type) + "' is a subject type, not a resource type",
          "type");
    }
    return Status::Ok();
  }

  // The parent rules of the policy for a resource of `type`.
  Status CheckParentType(std::string_view type, engine::TypeId tid,
                         std::string_view parent) {
    if (policy == nullptr || tid == engine::kNoType) return Status::Ok();
    const engine::TypeDef& def = policy->types[tid];
    if (def.parents.empty()) {
      if (parent.empty()) return Status::Ok();
      return Status::FailedPrecondition(
          "'" + std::string(type) + "' is a root type and takes no parent",
          "parent");
    }
    std::string allowed;
    for (engine::TypeId p : def.parents) {
      if (!allowed.empty()) allowed += ", ";
      allowed += policy->types[p].name;
    }
    if (parent.empty()) {
      return Status::FailedPrecondition(
          "a " + std::string(type) + " needs a parent (one of: " + allowed +
              ")",
          "parent");
    }
    const std::string_view ptype = layout::SplitRef(parent).type;
    const engine::TypeId pid = policy->FindType(ptype);
    if (std::find(def.parents.begin(), def.parents.end(), pid) ==
        def.parents.end()) {
      return Status::FailedPrecondition(
          "a " + std::string(type) + " cannot be placed under a " +
              std::string(ptype) + " (allowed parents: " + allowed + ")",
          "parent");
    }
    return Status::Ok();
  }

  // Walks up from `parent`: fails if `self` is on the way (a cycle) or the
  // tree would be deeper than the evaluator walks.
  Status CheckNoCycle(std::string_view self, std::string_view parent) {
    std::string cur(parent);
    for (int depth = 0; depth < engine::kMaxDepth - 1; ++depth) {
      if (cur.empty()) return Status::Ok();
      if (cur == self) {
        return Status::FailedPrecondition(
            "placing " + std::string(self) + " under " + std::string(parent) +
                " would create a cycle",
            "parent");
      }
      auto v = Get(d.resources, cur);
      if (!poisoned.ok()) return poisoned;
      if (!v) return Status::Ok();
      auto rec = layout::DecodeResource(*v);
      if (!rec) return Status::Internal("corrupt resource record " + cur);
      cur = std::string(rec->parent);
    }
    return Status::FailedPrecondition(
        "placing " + std::string(self) + " under " + std::string(parent) +
            " would make the resource tree deeper than " +
            std::to_string(engine::kMaxDepth),
        "parent");
  }

  // Role names: well-formed, distinct, and (with a policy) existing and
  // bindable on `resource_type`.
  Status CheckRoles(const std::vector<std::string>& roles,
                    std::string_view resource_type) {
    for (size_t i = 0; i < roles.size(); ++i) {
      const std::string& r = roles[i];
      if (r.empty() || r.find('\0') != std::string::npos || r.size() > 64) {
        return Status::InvalidArgument("invalid role name '" + r + "'",
                                       "roles");
      }
      for (size_t j = 0; j < i; ++j) {
        if (roles[j] == r) {
          return Status::InvalidArgument("role '" + r + "' is listed twice",
                                         "roles");
        }
      }
      if (policy == nullptr) continue;
      const engine::RoleId id = policy->FindRole(r);
      if (id == engine::kNoRole) {
        return Status::InvalidArgument("unknown role '" + r + "'", "roles");
      }
      const engine::TypeId t = policy->FindType(resource_type);
      if (!policy->roles[id].bindable_on.Contains(t)) {
        return Status::FailedPrecondition(
            "role '" + r + "' cannot be bound on a " +
                std::string(resource_type),
            "roles");
      }
    }
    return Status::Ok();
  }

  Status CheckSubjectType(std::string_view type) {
    if (policy == nullptr) return Status::Ok();
    const engine::TypeId t = policy->FindType(type);
    if (t == engine::kNoType || !policy->types[t].is_subject) {
      return Status::InvalidArgument(
          "'" + std::string(type) + "' is not a subject type of the policy",
          "subject");
    }
    return Status::Ok();
  }

  void EnsureSubject(std::string_view ref) {
    if (Exists(d.subjects, ref)) return;
    std::string blob;
    layout::EncodeAttributes({}, &blob);
    Put(d.subjects, ref, blob);
    const EntityRef e = layout::SplitRef(ref);
    Put(d.subjects_by_type, e.type, e.id, MDB_NODUPDATA);
  }

  // Writes (or deletes, when flags is 0) the access record subject\0resource.
  void WriteAccess(const std::string& subject, const std::string& resource,
                   const layout::AccessValue& a) {
    std::string key = subject;
    key.push_back('\0');
    key += resource;
    if (a.flags == 0) {
      Del(d.access, key);
      Del(d.access_by_resource, resource, subject);
      return;
    }
    std::string value;
    layout::EncodeAccess(a, &value);
    Put(d.access, key, value);
    Put(d.access_by_resource, resource, subject, MDB_NODUPDATA);
  }

  void DeleteInvitationRecord(const std::string& id) {
    auto v = Get(d.invitations, id);
    if (!v) return;
    auto inv = layout::DecodeInvitation(id, *v);
    if (inv) {
      Del(d.inv_by_resource, inv->resource, id);
      Del(d.inv_by_invitee, inv->invitee, id);
    }
    Del(d.invitations, id);
  }

  // Deletes one resource's own records (not its children's).
  void DeleteOneResource(const std::string& ref) {
    for (const std::string& subject : Dups(d.access_by_resource, ref)) {
      std::string key = subject;
      key.push_back('\0');
      key += ref;
      Del(d.access, key);
    }
    Del(d.access_by_resource, ref);
    for (const std::string& id : Dups(d.inv_by_resource, ref)) {
      DeleteInvitationRecord(id);
    }
    Del(d.inv_by_resource, ref);
    Del(d.children, ref);
    const EntityRef e = layout::SplitRef(ref);
    Del(d.resources_by_type, e.type, e.id);
    Del(d.resources, ref);
  }

  Result<Revision> Finish() {
    if (!poisoned.ok()) return Fail(poisoned);
    auto cur = Get(d.meta, "revision");
    const Revision rev = (cur ? ReadU64(*cur) : 0) + 1;
    char buf[8];
    std::memcpy(buf, &rev, 8);
    Put(d.meta, "revision", std::string_view(buf, 8));
    entry.revision = rev;
    entry.time = NowMicros();
    std::string value;
    layout::EncodeChangelog(entry, &value);
    Put(d.changelog, layout::RevisionKey(rev), value);
    const uint64_t keep = store->options_.changelog_retention;
    if (keep > 0 && rev > keep) {
      DeleteChangesUpTo(rev - keep);
    }
    if (!poisoned.ok()) return Fail(poisoned);
    return rev;
  }

  void DeleteChangesUpTo(Revision up_to) {
    Cursor c(txn, d.changelog);
    if (c.open_rc()) {
      Poison("cursor", c.open_rc());
      return;
    }
    MDB_val k, v;
    int rc = c.Get(&k, &v, MDB_FIRST);
    std::vector<std::string> doomed;
    while (rc == 0 && layout::RevisionFromKey(S(k)) <= up_to) {
      doomed.emplace_back(S(k));
      rc = c.Get(&k, &v, MDB_NEXT);
    }
    for (const std::string& key : doomed) Del(d.changelog, key);
  }
};

WriteTxn::WriteTxn(Store* store, MDB_txn* txn, const engine::Policy* policy,
                   std::string_view actor)
    : impl_(std::make_unique<Impl>(store, txn, policy, actor)),
      view_(store, txn, /*owns_txn=*/false) {}

WriteTxn::~WriteTxn() {
  if (impl_->txn != nullptr) mdb_txn_abort(impl_->txn);
}

Status WriteTxn::PutResource(const ResourceRecord& r) {
  Impl& m = *impl_;
  if (!m.poisoned.ok()) return m.poisoned;
  if (Status s = layout::CheckName(r.type, "type"); !s.ok()) return s;
  const std::string key = layout::Ref(r.type, r.id);
  if (Status s = layout::CheckRef(key, "id"); !s.ok()) return s;
  if (!r.parent.empty()) {
    if (Status s = layout::CheckRef(r.parent, "parent"); !s.ok()) return s;
  }
  engine::TypeId tid;
  if (Status s = m.CheckResourceType(r.type, &tid); !s.ok()) return s;
  if (Status s = m.CheckParentType(r.type, tid, r.parent); !s.ok()) return s;
  if (!r.parent.empty() && !m.Exists(m.d.resources, r.parent)) {
    if (!m.poisoned.ok()) return m.poisoned;
    return Status(StatusCode::kNotFound,
                  "parent " + r.parent + " does not exist", "parent");
  }
  auto existing = m.Get(m.d.resources, key);
  std::string old_parent;
  if (existing) {
    auto dec = layout::DecodeResource(*existing);
    if (!dec) return Status::Internal("corrupt resource record " + key);
    old_parent = std::string(dec->parent);
  }
  if (!existing || old_parent != r.parent) {
    if (Status s = m.CheckNoCycle(key, r.parent); !s.ok()) return s;
  }
  if (existing && old_parent != r.parent && !old_parent.empty()) {
    m.Del(m.d.children, old_parent, key);
  }
  std::string value;
  layout::EncodeResource(r.parent, r.attributes, &value);
  m.Put(m.d.resources, key, value);
  m.Put(m.d.resources_by_type, r.type, r.id, MDB_NODUPDATA);
  if (!r.parent.empty()) m.Put(m.d.children, r.parent, key, MDB_NODUPDATA);
  m.AddChange("resource.put", key, r.parent);
  return m.poisoned;
}

Status WriteTxn::MoveResource(EntityRef resource, EntityRef new_parent) {
  Impl& m = *impl_;
  if (!m.poisoned.ok()) return m.poisoned;
  const std::string key = resource.ToString();
  const std::string parent = new_parent.empty() ? "" : new_parent.ToString();
  if (Status s = layout::CheckRef(key, "resource"); !s.ok()) return s;
  if (!parent.empty()) {
    if (Status s = layout::CheckRef(parent, "parent"); !s.ok()) return s;
  }
  auto existing = m.Get(m.d.resources, key);
  if (!existing) {
    if (!m.poisoned.ok()) return m.poisoned;
    return Status::NotFound("resource " + key + " does not exist");
  }
  if (!parent.empty() && !m.Exists(m.d.resources, parent)) {
    if (!m.poisoned.ok()) return m.poisoned;
    return Status(StatusCode::kNotFound,
                  "parent " + parent + " does not exist", "parent");
  }
  engine::TypeId tid;
  if (Status s = m.CheckResourceType(resource.type, &tid); !s.ok()) return s;
  if (Status s = m.CheckParentType(resource.type, tid, parent); !s.ok()) {
    return s;
  }
  auto dec = layout::DecodeResource(*existing);
  if (!dec) return Status::Internal("corrupt resource record " + key);
  const std::string old_parent(dec->parent);
  if (old_parent == parent) return Status::Ok();
  if (Status s = m.CheckNoCycle(key, parent); !s.ok()) return s;
  std::string value;
  layout::EncodeResourceRaw(parent, dec->attributes, &value);
  if (!old_parent.empty()) m.Del(m.d.children, old_parent, key);
  m.Put(m.d.resources, key, value);
  if (!parent.empty()) m.Put(m.d.children, parent, key, MDB_NODUPDATA);
  m.AddChange("resource.move", key, parent);
  return m.poisoned;
}

Status WriteTxn::DeleteResource(EntityRef resource) {
  Impl& m = *impl_;
  if (!m.poisoned.ok()) return m.poisoned;
  const std::string key = resource.ToString();
  auto existing = m.Get(m.d.resources, key);
  if (!existing) {
    if (!m.poisoned.ok()) return m.poisoned;
    return Status::NotFound("resource " + key + " does not exist");
  }
  auto dec = layout::DecodeResource(*existing);
  if (!dec) return Status::Internal("corrupt resource record " + key);
  const std::string parent(dec->parent);
  // Breadth-first over the subtree; the children index is read before each
  // resource's own entries are deleted.
  std::vector<std::string> queue{key};
  for (size_t i = 0; i < queue.size() && m.poisoned.ok(); ++i) {
    for (std::string& child : m.Dups(m.d.children, queue[i])) {
      queue.push_back(std::move(child));
    }
  }
  for (const std::string& ref : queue) m.DeleteOneResource(ref);
  if (!parent.empty()) m.Del(m.d.children, parent, key);
  m.AddChange("resource.delete", key,
              std::to_string(queue.size()) + " resources");
  return m.poisoned;
}

Status WriteTxn::PutSubject(const SubjectRecord& s) {
  Impl& m = *impl_;
  if (!m.poisoned.ok()) return m.poisoned;
  if (Status st = layout::CheckName(s.type, "type"); !st.ok()) return st;
  const std::string key = layout::Ref(s.type, s.id);
  if (Status st = layout::CheckRef(key, "id"); !st.ok()) return st;
  if (m.policy != nullptr) {
    const engine::TypeId t = m.policy->FindType(s.type);
    if (t != engine::kNoType && !m.policy->types[t].is_subject) {
      return Status::InvalidArgument(
          "'" + s.type + "' is a resource type, not a subject type", "type");
    }
  }
  std::string blob;
  layout::EncodeAttributes(s.attributes, &blob);
  m.Put(m.d.subjects, key, blob);
  m.Put(m.d.subjects_by_type, s.type, s.id, MDB_NODUPDATA);
  m.AddChange("subject.put", key);
  return m.poisoned;
}

Status WriteTxn::DeleteSubject(EntityRef subject) {
  Impl& m = *impl_;
  if (!m.poisoned.ok()) return m.poisoned;
  const std::string key = subject.ToString();
  if (!m.Exists(m.d.subjects, key)) {
    if (!m.poisoned.ok()) return m.poisoned;
    return Status::NotFound("subject " + key + " does not exist");
  }
  std::string prefix = key;
  prefix.push_back('\0');
  std::vector<std::string> resources;
  std::string scratch;
  const int rc = ForEachPrefix(
      m.txn, m.d.access, prefix, {}, &scratch,
      [&](std::string_view resource, std::string_view) {
        resources.emplace_back(resource);
        return true;
      });
  if (rc) m.Poison("cursor", rc);
  for (const std::string& r : resources) {
    m.Del(m.d.access, prefix + r);
    m.Del(m.d.access_by_resource, r, key);
  }
  for (const std::string& id : m.Dups(m.d.inv_by_invitee, key)) {
    m.DeleteInvitationRecord(id);
  }
  m.Del(m.d.inv_by_invitee, key);
  m.Del(m.d.subjects_by_type, subject.type, subject.id);
  m.Del(m.d.subjects, key);
  m.AddChange("subject.delete", key);
  return m.poisoned;
}

Status WriteTxn::SetBinding(const BindingRecord& b) {
  Impl& m = *impl_;
  if (!m.poisoned.ok()) return m.poisoned;
  if (Status s = layout::CheckRef(b.subject, "subject"); !s.ok()) return s;
  if (Status s = layout::CheckRef(b.resource, "resource"); !s.ok()) return s;
  if (!b.created_by.empty()) {
    if (Status s = layout::CheckRef(b.created_by, "created_by"); !s.ok()) {
      return s;
    }
  }
  if (!m.Exists(m.d.resources, b.resource)) {
    if (!m.poisoned.ok()) return m.poisoned;
    return Status(StatusCode::kNotFound,
                  "resource " + b.resource + " does not exist", "resource");
  }
  const EntityRef res = layout::SplitRef(b.resource);
  if (!b.roles.empty()) {
    if (Status s = m.CheckSubjectType(layout::SplitRef(b.subject).type);
        !s.ok()) {
      return s;
    }
    if (Status s = m.CheckRoles(b.roles, res.type); !s.ok()) return s;
  }
  std::string key = b.subject;
  key.push_back('\0');
  key += b.resource;
  auto existing = m.Get(m.d.access, key);
  layout::AccessValue a;
  if (existing) {
    auto dec = layout::DecodeAccess(*existing);
    if (!dec) return Status::Internal("corrupt access record");
    a = *dec;  // views into *existing, which lives until the end
  }
  const std::string roles = layout::Pack(b.roles);
  if (b.roles.empty()) {
    a.flags &= ~layout::kHasBinding;
    a.roles = {};
    a.created_by = {};
    a.state = engine::BindingState::kActive;
    a.expires_at = kNoExpiry;
    a.created_at = 0;
  } else {
    a.flags |= layout::kHasBinding;
    a.roles = roles;
    a.state = b.state;
    a.expires_at = b.expires_at;
    a.created_by = b.created_by;
    a.created_at = b.created_at;
    m.EnsureSubject(b.subject);
  }
  if (!existing && a.flags == 0) return Status::Ok();  // nothing to remove
  m.WriteAccess(b.subject, b.resource, a);
  m.AddChange(b.roles.empty() ? "binding.remove" : "binding.set", b.subject,
              b.resource);
  return m.poisoned;
}

Status WriteTxn::SetRestriction(const RestrictionRecord& r) {
  Impl& m = *impl_;
  if (!m.poisoned.ok()) return m.poisoned;
  if (Status s = layout::CheckRef(r.subject, "subject"); !s.ok()) return s;
  if (Status s = layout::CheckRef(r.resource, "resource"); !s.ok()) return s;
  if (!m.Exists(m.d.resources, r.resource)) {
    if (!m.poisoned.ok()) return m.poisoned;
    return Status(StatusCode::kNotFound,
                  "resource " + r.resource + " does not exist", "resource");
  }
  const EntityRef res = layout::SplitRef(r.resource);
  for (size_t i = 0; i < r.actions.size(); ++i) {
    const std::string& a = r.actions[i];
    if (a.empty() || a.find('\0') != std::string::npos || a.size() > 64) {
      return Status::InvalidArgument("invalid action name '" + a + "'",
                                     "actions");
    }
    if (a == "*" && r.actions.size() != 1) {
      return Status::InvalidArgument(
          "\"*\" restricts everything and must be the only action", "actions");
    }
    for (size_t j = 0; j < i; ++j) {
      if (r.actions[j] == a) {
        return Status::InvalidArgument("action '" + a + "' is listed twice",
                                       "actions");
      }
    }
  }
  if (!r.actions.empty()) {
    if (Status s = m.CheckSubjectType(layout::SplitRef(r.subject).type);
        !s.ok()) {
      return s;
    }
    if (m.policy != nullptr) {
      const engine::TypeId t = m.policy->FindType(res.type);
      if (t == engine::kNoType || !m.policy->types[t].restrictable) {
        return Status::FailedPrecondition(
            "resources of type '" + std::string(res.type) +
                "' cannot carry restrictions",
            "resource");
      }
      for (const std::string& a : r.actions) {
        if (a == "*") continue;
        const engine::ActionId id = m.policy->FindAction(a);
        if (id == engine::kNoAction ||
            !m.policy->types[t].actions.Contains(id)) {
          return Status::InvalidArgument("'" + a + "' is not an action of " +
                                             std::string(res.type),
                                         "actions");
        }
      }
    }
  }
  std::string key = r.subject;
  key.push_back('\0');
  key += r.resource;
  auto existing = m.Get(m.d.access, key);
  layout::AccessValue a;
  if (existing) {
    auto dec = layout::DecodeAccess(*existing);
    if (!dec) return Status::Internal("corrupt access record");
    a = *dec;
  }
  const std::string actions = layout::Pack(r.actions);
  if (r.actions.empty()) {
    a.flags &= ~layout::kHasRestriction;
    a.actions = {};
  } else {
    a.flags |= layout::kHasRestriction;
    a.actions = actions;
    m.EnsureSubject(r.subject);
  }
  if (!existing && a.flags == 0) return Status::Ok();
  m.WriteAccess(r.subject, r.resource, a);
  m.AddChange(r.actions.empty() ? "restriction.remove" : "restriction.set",
              r.subject, r.resource);
  return m.poisoned;
}

Status WriteTxn::CreateInvitation(Invitation* inv) {
  Impl& m = *impl_;
  if (!m.poisoned.ok()) return m.poisoned;
  if (inv->id.empty()) inv->id = GenerateInvitationId();
  if (inv->id.size() > 128 || inv->id.find('\0') != std::string::npos) {
    return Status::InvalidArgument("invalid invitation id", "id");
  }
  if (Status s = layout::CheckRef(inv->resource, "resource"); !s.ok()) {
    return s;
  }
  if (Status s = layout::CheckRef(inv->invitee, "invitee"); !s.ok()) return s;
  if (!inv->inviter.empty()) {
    if (Status s = layout::CheckRef(inv->inviter, "inviter"); !s.ok()) {
      return s;
    }
  }
  if (inv->roles.empty()) {
    return Status::InvalidArgument("an invitation needs at least one role",
                                   "roles");
  }
  if (!m.Exists(m.d.resources, inv->resource)) {
    if (!m.poisoned.ok()) return m.poisoned;
    return Status(StatusCode::kNotFound,
                  "resource " + inv->resource + " does not exist", "resource");
  }
  if (Status s = m.CheckRoles(inv->roles,
                              layout::SplitRef(inv->resource).type);
      !s.ok()) {
    return s;
  }
  if (m.Exists(m.d.invitations, inv->id)) {
    return Status::AlreadyExists("invitation " + inv->id + " already exists");
  }
  std::string value;
  layout::EncodeInvitation(*inv, &value);
  m.Put(m.d.invitations, inv->id, value);
  m.Put(m.d.inv_by_resource, inv->resource, inv->id, MDB_NODUPDATA);
  m.Put(m.d.inv_by_invitee, inv->invitee, inv->id, MDB_NODUPDATA);
  m.EnsureSubject(inv->invitee);
  m.AddChange("invitation.create", inv->id, inv->invitee);
  return m.poisoned;
}

Status WriteTxn::SetInvitationState(std::string_view id,
                                    InvitationState state) {
  Impl& m = *impl_;
  if (!m.poisoned.ok()) return m.poisoned;
  auto v = id.empty() ? std::nullopt : m.Get(m.d.invitations, id);
  if (!v) {
    if (!m.poisoned.ok()) return m.poisoned;
    return Status::NotFound("invitation " + std::string(id) +
                            " does not exist");
  }
  if (v->empty()) return Status::Internal("corrupt invitation record");
  (*v)[0] = static_cast<char>(state);
  m.Put(m.d.invitations, id, *v);
  m.AddChange("invitation.state", id, InvitationStateName(state));
  return m.poisoned;
}

// ---------------------------------------------------------------------------
// Store.

Store::Store(std::string dir, StoreOptions options)
    : dir_(std::move(dir)),
      options_(options),
      dbis_(std::make_unique<Dbis>()),
      sync_(std::make_unique<Sync>()) {}

Store::~Store() {
  if (sync_ != nullptr) {
    for (auto& [txn, arena] : sync_->idle) mdb_txn_abort(txn);
    sync_->idle.clear();
  }
  if (env_ != nullptr) mdb_env_close(env_);
}

Result<std::unique_ptr<Store>> Store::Open(const std::string& dir,
                                           const StoreOptions& options) {
  std::error_code ec;
  if (options.must_exist || options.read_only) {
    if (!std::filesystem::exists(std::filesystem::path(dir) / "data.mdb",
                                 ec)) {
      return Fail(Status::NotFound("no store in " + dir +
                                   " (data.mdb is missing)"));
    }
  } else {
    std::filesystem::create_directories(dir, ec);
    if (ec) {
      return Fail(Status::Internal("cannot create " + dir + ": " +
                                   ec.message()));
    }
  }
  std::unique_ptr<Store> store(new Store(dir, options));
  if (Status s = store->Init(); !s.ok()) return Fail(s);
  return store;
}

Status Store::Init() {
  int rc = mdb_env_create(&env_);
  if (rc) return LmdbError("mdb_env_create", rc);
  const unsigned readers = options_.max_readers
                               ? options_.max_readers
                               : 126 + 2 * std::max(1, options_.server_threads);
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
  std::unique_lock lock(sync_->resize_mu, std::defer_lock);
  if (!lock.try_lock_for(kGrowLockTimeout)) {
    return Status(StatusCode::kUnavailable,
                  "the store is full and could not grow: read transactions "
                  "stayed open");
  }
  const int rc = mdb_env_set_mapsize(env_, next);
  if (rc) return LmdbError("mdb_env_set_mapsize", rc);
  return Status::Ok();
}

namespace {

// Begins a transaction; adopts a map another process has grown.
int BeginTxn(MDB_env* env, unsigned flags, MDB_txn** txn,
             std::shared_timed_mutex* resize_mu, bool holding_shared) {
  for (int attempt = 0;; ++attempt) {
    const int rc = mdb_txn_begin(env, nullptr, flags, txn);
    if (rc != MDB_MAP_RESIZED || attempt > 3) return rc;
    if (holding_shared) resize_mu->unlock_shared();
    {
      std::unique_lock lock(*resize_mu);
      mdb_env_set_mapsize(env, 0);
    }
    if (holding_shared) resize_mu->lock_shared();
  }
}

}  // namespace

Result<ReadView> Store::Read() {
  sync_->resize_mu.lock_shared();
  MDB_txn* txn = nullptr;
  std::unique_ptr<ReadView::Arena> arena;
  {
    std::lock_guard lock(sync_->idle_mu);
    if (!sync_->idle.empty()) {
      txn = sync_->idle.back().first;
      arena = std::move(sync_->idle.back().second);
      sync_->idle.pop_back();
    }
  }
  if (txn != nullptr) {
    if (mdb_txn_renew(txn) == 0) {
      arena->Reset();
      return ReadView(this, txn, /*owns_txn=*/true, std::move(arena));
    }
    // E.g. MDB_MAP_RESIZED (another process grew the map): begin afresh,
    // which adopts the new size.
    mdb_txn_abort(txn);
    txn = nullptr;
  }
  const int rc =
      BeginTxn(env_, MDB_RDONLY, &txn, &sync_->resize_mu, /*holding=*/true);
  if (rc) {
    sync_->resize_mu.unlock_shared();
    return Fail(LmdbError("begin read transaction", rc));
  }
  return ReadView(this, txn, /*owns_txn=*/true, std::move(arena));
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
  std::lock_guard write_lock(sync_->write_mu);
  for (int attempt = 0; attempt < kWriteAttempts; ++attempt) {
    MDB_txn* txn = nullptr;
    const int rc =
        BeginTxn(env_, 0, &txn, &sync_->resize_mu, /*holding=*/false);
    if (rc) return Fail(LmdbError("begin write transaction", rc));
    WriteTxn w(this, txn, policy, actor);
    Status s = fn(w);
    Result<Revision> rev = Fail(s);
    if (s.ok()) rev = w.impl_->Finish();
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
    return rev;
  }
  return Fail(Status::Internal("write did not fit after growing the map " +
                               std::to_string(kWriteAttempts) + " times"));
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
    return mdb_stat(view->txn(), dbi, &s) == 0 ? s.ms_entries : 0;
  };
  st.resources = count(dbis_->resources);
  st.subjects = count(dbis_->subjects);
  st.access = count(dbis_->access);
  st.invitations = count(dbis_->invitations);
  return st;
}

// ---------------------------------------------------------------------------
// Verify: every index against the primary records, and back.

Result<std::vector<std::string>> Store::Verify() {
  auto view_or = Read();
  if (!view_or) return Fail(view_or.error());
  ReadView& view = *view_or;
  MDB_txn* txn = view.txn();
  const Dbis& d = *dbis_;
  std::vector<std::string> problems;
  constexpr size_t kMaxProblems = 1000;
  auto problem = [&](std::string p) {
    if (problems.size() < kMaxProblems) problems.push_back(std::move(p));
  };
  auto exists = [&](MDB_dbi dbi, std::string_view key) {
    std::string_view v;
    return GetRaw(txn, dbi, key, &v) == 0;
  };
  auto has_dup = [&](MDB_dbi dbi, std::string_view key,
                     std::string_view value) {
    Cursor c(txn, dbi);
    MDB_val k = V(key), v = V(value);
    return c.open_rc() == 0 && c.Get(&k, &v, MDB_GET_BOTH) == 0;
  };
  // Calls fn(key, value) for every entry of a database.
  auto scan = [&](MDB_dbi dbi, const auto& fn) -> Status {
    Cursor c(txn, dbi);
    if (c.open_rc()) return LmdbError("cursor", c.open_rc());
    MDB_val k, v;
    int rc = c.Get(&k, &v, MDB_FIRST);
    while (rc == 0) {
      fn(S(k), S(v));
      rc = c.Get(&k, &v, MDB_NEXT);
    }
    return rc == MDB_NOTFOUND ? Status::Ok() : LmdbError("scan", rc);
  };

  // Resources: well-formed, indexed by type and under their parent, parents
  // exist, no cycles.
  Status s = scan(d.resources, [&](std::string_view key, std::string_view v) {
    const std::string ref(key);
    if (!layout::CheckRef(ref, "resource").ok()) {
      problem("resource key \"" + ref + "\" is not a type:id reference");
      return;
    }
    auto rec = layout::DecodeResource(v);
    Attributes attrs;
    if (!rec || !layout::DecodeAttributes(rec->attributes, &attrs)) {
      problem("resource " + ref + ": corrupt record");
      return;
    }
    const EntityRef e = layout::SplitRef(ref);
    if (!has_dup(d.resources_by_type, e.type, e.id)) {
      problem("resource " + ref + " is missing from resources_by_type");
    }
    if (!rec->parent.empty()) {
      const std::string parent(rec->parent);
      if (!exists(d.resources, parent)) {
        problem("resource " + ref + ": parent " + parent + " does not exist");
      } else if (!has_dup(d.children, parent, ref)) {
        problem("resource " + ref + " is missing from the children of " +
                parent);
      }
      // Walk up: a cycle or an over-deep chain never reaches a root.
      std::string cur = parent;
      int depth = 0;
      while (!cur.empty() && depth <= engine::kMaxDepth) {
        if (cur == ref) break;
        std::string_view pv;
        if (GetRaw(txn, d.resources, cur, &pv) != 0) break;
        auto prec = layout::DecodeResource(pv);
        if (!prec) break;
        cur = std::string(prec->parent);
        ++depth;
      }
      if (cur == ref) problem("resource " + ref + " is in a parent cycle");
      else if (depth > engine::kMaxDepth) {
        problem("resource " + ref + " is nested deeper than " +
                std::to_string(engine::kMaxDepth));
      }
    }
  });
  if (!s.ok()) return Fail(s);

  s = scan(d.children, [&](std::string_view parent, std::string_view child) {
    std::string_view v;
    if (GetRaw(txn, d.resources, child, &v) != 0) {
      problem("children index: " + std::string(parent) + " -> " +
              std::string(child) + ": the child does not exist");
      return;
    }
    auto rec = layout::DecodeResource(v);
    if (rec && rec->parent != parent) {
      problem("children index: " + std::string(parent) + " -> " +
              std::string(child) + ": the child's parent is " +
              std::string(rec->parent));
    }
  });
  if (!s.ok()) return Fail(s);

  s = scan(d.resources_by_type,
           [&](std::string_view type, std::string_view id) {
             if (!exists(d.resources, layout::Ref(type, id))) {
               problem("resources_by_type: " + layout::Ref(type, id) +
                       " does not exist");
             }
           });
  if (!s.ok()) return Fail(s);

  s = scan(d.subjects, [&](std::string_view key, std::string_view v) {
    Attributes attrs;
    const std::string ref(key);
    if (!layout::DecodeAttributes(v, &attrs)) {
      problem("subject " + ref + ": corrupt record");
    }
    const EntityRef e = layout::SplitRef(ref);
    if (!has_dup(d.subjects_by_type, e.type, e.id)) {
      problem("subject " + ref + " is missing from subjects_by_type");
    }
  });
  if (!s.ok()) return Fail(s);

  s = scan(d.subjects_by_type,
           [&](std::string_view type, std::string_view id) {
             if (!exists(d.subjects, layout::Ref(type, id))) {
               problem("subjects_by_type: " + layout::Ref(type, id) +
                       " does not exist");
             }
           });
  if (!s.ok()) return Fail(s);

  s = scan(d.access, [&](std::string_view key, std::string_view v) {
    const size_t nul = key.find('\0');
    if (nul == std::string_view::npos) {
      problem("access key without separator");
      return;
    }
    const std::string subject(key.substr(0, nul));
    const std::string resource(key.substr(nul + 1));
    const std::string what = "access " + subject + " on " + resource;
    if (!layout::DecodeAccess(v)) problem(what + ": corrupt record");
    if (!exists(d.subjects, subject)) {
      problem(what + ": the subject has no record");
    }
    if (!exists(d.resources, resource)) {
      problem(what + ": the resource does not exist");
    }
    if (!has_dup(d.access_by_resource, resource, subject)) {
      problem(what + " is missing from access_by_resource");
    }
  });
  if (!s.ok()) return Fail(s);

  s = scan(d.access_by_resource,
           [&](std::string_view resource, std::string_view subject) {
             std::string key(subject);
             key.push_back('\0');
             key.append(resource);
             if (!exists(d.access, key)) {
               problem("access_by_resource: " + std::string(subject) +
                       " on " + std::string(resource) + " has no record");
             }
           });
  if (!s.ok()) return Fail(s);

  s = scan(d.invitations, [&](std::string_view id, std::string_view v) {
    auto inv = layout::DecodeInvitation(id, v);
    const std::string what = "invitation " + std::string(id);
    if (!inv) {
      problem(what + ": corrupt record");
      return;
    }
    if (!exists(d.resources, inv->resource)) {
      problem(what + ": resource " + inv->resource + " does not exist");
    }
    if (!has_dup(d.inv_by_resource, inv->resource, id)) {
      problem(what + " is missing from invitations_by_resource");
    }
    if (!has_dup(d.inv_by_invitee, inv->invitee, id)) {
      problem(what + " is missing from invitations_by_invitee");
    }
  });
  if (!s.ok()) return Fail(s);

  for (MDB_dbi index : {d.inv_by_resource, d.inv_by_invitee}) {
    const bool by_resource = index == d.inv_by_resource;
    s = scan(index, [&](std::string_view key, std::string_view id) {
      std::string_view v;
      const std::string what = std::string(by_resource
                                               ? "invitations_by_resource"
                                               : "invitations_by_invitee") +
                               ": " + std::string(key) + " -> " +
                               std::string(id);
      if (GetRaw(txn, d.invitations, id, &v) != 0) {
        problem(what + ": no such invitation");
        return;
      }
      auto inv = layout::DecodeInvitation(id, v);
      if (inv && (by_resource ? inv->resource : inv->invitee) != key) {
        problem(what + ": the invitation names another " +
                (by_resource ? std::string("resource") : "invitee"));
      }
    });
    if (!s.ok()) return Fail(s);
  }

  const Revision rev = view.revision();
  s = scan(d.changelog, [&](std::string_view key, std::string_view v) {
    const Revision r = layout::RevisionFromKey(key);
    if (key.size() != 8 || r == 0 || r > rev) {
      problem("changelog entry " + std::to_string(r) +
              " is outside 1.." + std::to_string(rev));
    }
    if (!layout::DecodeChangelog(r, v)) {
      problem("changelog entry " + std::to_string(r) + ": corrupt");
    }
  });
  if (!s.ok()) return Fail(s);
  if (view.failed()) return Fail(Status::Internal(std::string(view.failure())));
  return problems;
}

}  // namespace portcullis::storage
