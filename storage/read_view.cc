// ReadView: the point reads of one read transaction (the engine::DataView
// hot path, owned-record getters) and its life cycle (release into the
// Store's idle list, refresh). Listings and full scans are in listings.cc.
#include <functional>

#include "storage/store.h"
#include "storage/store_internal.h"

namespace portcullis::storage {

using engine::EntityRef;
using engine::Value;
using engine::ValueKind;
using internal::ForEachDup;
using internal::ForEachPrefix;
using internal::GetRaw;
using internal::LmdbError;
using internal::MakeAccess;
using internal::ReadU64;
using internal::S;
using internal::V;

// ---------------------------------------------------------------------------
// ReadView.

ReadView::ReadView(Store* store, MDB_txn* txn, bool owns_txn,
                   std::unique_ptr<ReadCache> cache)
    : store_(store),
      txn_(txn),
      owns_txn_(owns_txn),
      cache_(cache ? std::move(cache) : std::make_unique<ReadCache>()) {}

ReadView::ReadView(ReadView&& o) noexcept
    : store_(o.store_),
      txn_(o.txn_),
      owns_txn_(o.owns_txn_),
      failure_(std::move(o.failure_)),
      cache_(std::move(o.cache_)) {
  o.txn_ = nullptr;
}

ReadView& ReadView::operator=(ReadView&& o) noexcept {
  if (this != &o) {
    Release();
    store_ = o.store_;
    txn_ = o.txn_;
    owns_txn_ = o.owns_txn_;
    failure_ = std::move(o.failure_);
    cache_ = std::move(o.cache_);
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
    if (cache_ != nullptr && failure_.empty()) {  // keep only healthy ones
      MutexLock lock(&sync.idle_mu);
      if (sync.idle.size() < Store::Sync::kMaxIdleReads) {
        sync.idle.emplace_back(txn_, std::move(cache_));
        kept = true;
      }
    }
    if (!kept) mdb_txn_abort(txn_);
    internal::UnpinMap(&sync.resize_mu);  // taken by Store::Read
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

bool ReadView::InjectedFault(std::string_view what) const {
  const auto& fault = store_->options_.read_fault;
  if (!fault || !fault(what)) return false;
  if (failure_.empty()) {
    failure_ = "storage read failed: ";
    failure_.append(what);
    failure_.append(": injected fault");
  }
  return true;
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
  cache_->Reset();
  failure_.clear();
  if (rc != 0) {
    MarkFailed("renew", rc);
    return LmdbError("mdb_txn_renew", rc);
  }
  return Status::Ok();
}

std::optional<engine::ResourceInfo> ReadView::GetResource(
    EntityRef resource) const {
  if (InjectedFault("resource")) return std::nullopt;
  std::string& key = cache_->key[0];
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
  if (InjectedFault("subject")) return false;
  std::string& key = cache_->key[0];
  key.clear();
  layout::AppendRef(&key, subject);
  std::string_view v;
  const int rc = GetRaw(txn_, store_->dbis_->subjects, key, &v);
  if (rc != 0 && rc != MDB_NOTFOUND) MarkFailed("subject", rc);
  return rc == 0;
}

bool ReadView::CacheSubjectAccess(EntityRef subject) const {
  ReadCache& a = *cache_;
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
    if (a.subject_count == ReadCache::kSubjectAccess) {
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
  if (InjectedFault("access")) return {};
  engine::SubjectAccess out;
  std::string_view v;
  if (owns_txn_ && CacheSubjectAccess(subject)) {
    const ReadCache& a = *cache_;
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
    std::string& key = cache_->key[0];
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
    out.binding = engine::StoredBinding{engine::PackedNames(a->roles), a->state,
                                        a->expires_at};
  }
  if (a->flags & layout::kHasRestriction) {
    out.restriction =
        engine::StoredRestriction{engine::PackedNames(a->actions)};
  }
  return out;
}

namespace {

// Decodes one encoded value as a view: strings point into the map, list
// elements into the read cache.
bool DecodeView(layout::Reader* r, Value* out, int depth,
                const std::function<Value*(size_t)>& alloc) {
  if (depth > 16) return false;
  const uint8_t kind = r->Get<uint8_t>();
  switch (static_cast<ValueKind>(kind)) {
    case ValueKind::kNull:
      *out = Value::Null();
      break;
    case ValueKind::kBool:
      *out = Value::Bool(r->Get<uint8_t>() != 0);
      break;
    case ValueKind::kInt:
      *out = Value::Int(r->Get<int64_t>());
      break;
    case ValueKind::kTimestamp:
      *out = Value::Timestamp(r->Get<int64_t>());
      break;
    case ValueKind::kDouble:
      *out = Value::Double(r->Get<double>());
      break;
    case ValueKind::kString:
      *out = Value::String(r->Str32());
      break;
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
    default:
      return false;
  }
  return r->ok();
}

}  // namespace

std::optional<Value> ReadView::GetAttribute(engine::EntityKind kind,
                                            EntityRef entity,
                                            std::string_view key) const {
  if (InjectedFault("attribute")) return std::nullopt;
  std::string& k = cache_->key[0];
  k.clear();
  layout::AppendRef(&k, entity);
  const bool is_resource = kind == engine::EntityKind::kResource;
  std::string_view v;
  const int rc = GetRaw(
      txn_, is_resource ? store_->dbis_->resources : store_->dbis_->subjects, k,
      &v);
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
  ReadCache* cache = cache_.get();
  if (!DecodeView(&r, &out, 0, [cache](size_t n) { return cache->Alloc(n); })) {
    MarkFailed("attribute", 0);
    return std::nullopt;
  }
  return out;
}

void ReadView::ForEachChild(EntityRef parent,
                            const std::function<bool(EntityRef)>& fn) const {
  if (InjectedFault("children")) return;
  std::string& key = cache_->key[1];
  key.clear();
  layout::AppendRef(&key, parent);
  ReadCache::KeptCursor& kept = cache_->children_cursor;
  MDB_cursor* cursor = nullptr;
  if (owns_txn_ && !kept.busy) {
    cursor = kept.Get(txn_, store_->dbis_->children);
  }
  if (cursor == nullptr) {  // a nested listing, or a write transaction's view
    const int rc = ForEachDup(
        txn_, store_->dbis_->children, key, {},
        [&](std::string_view child) { return fn(layout::SplitRef(child)); });
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
  if (InjectedFault("bindings on resource")) return;
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
  if (InjectedFault("bindings of subject")) return;
  std::string prefix;
  layout::AppendRef(&prefix, subject);
  prefix.push_back('\0');
  std::string scratch;
  const int rc =
      ForEachPrefix(txn_, store_->dbis_->access, prefix, {}, &scratch,
                    [&](std::string_view resource, std::string_view v) {
                      auto a = layout::DecodeAccess(v);
                      if (!a) {
                        MarkFailed("access", 0);
                        return false;
                      }
                      if (!(a->flags & layout::kHasBinding)) return true;
                      engine::StoredBinding b{engine::PackedNames(a->roles),
                                              a->state, a->expires_at};
                      return fn(layout::SplitRef(resource), b);
                    });
  if (rc) MarkFailed("bindings of subject", rc);
}

namespace {

// Calls fn(type, id) for each id listed under `type` in a by-type index.
// Returns an LMDB error code, or 0.
int ForEachOfType(MDB_txn* txn, MDB_dbi index, std::string_view type,
                  const std::function<bool(EntityRef)>& fn) {
  return ForEachDup(txn, index, type, {}, [&](std::string_view id) {
    return fn(EntityRef{type, id});
  });
}

}  // namespace

void ReadView::ForEachResourceOfType(
    std::string_view type, const std::function<bool(EntityRef)>& fn) const {
  if (InjectedFault("resources by type")) return;
  const int rc =
      ForEachOfType(txn_, store_->dbis_->resources_by_type, type, fn);
  if (rc) MarkFailed("resources by type", rc);
}

void ReadView::ForEachSubjectOfType(
    std::string_view type, const std::function<bool(EntityRef)>& fn) const {
  if (InjectedFault("subjects by type")) return;
  const int rc = ForEachOfType(txn_, store_->dbis_->subjects_by_type, type, fn);
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
}  // namespace portcullis::storage
