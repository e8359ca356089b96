#include "index/index_view.h"

#include "index/index_data.h"
#include "storage/layout.h"

namespace portcullis::index {
namespace {

// The view keeps its shared hold on the index's lock across calls, which the
// analysis (one function at a time) cannot follow: taken and given back only
// here.
void HoldShared(SharedMutex* mu) NO_THREAD_SAFETY_ANALYSIS {
  mu->LockShared();
}
void ReleaseShared(SharedMutex* mu) NO_THREAD_SAFETY_ANALYSIS {
  mu->UnlockShared();
}

}  // namespace

const DecisionIndex::Data* IndexView::HeldData(const DecisionIndex* index) {
  return index->data_.get();
}

IndexView::IndexView(const DecisionIndex* index, storage::ReadView* view)
    : view_(view), last_resource_(kNone), last_subject_(kNone) {
  if (index == nullptr || !index->ready()) return;
  HoldShared(&index->mu_);
  const DecisionIndex::Data* data = HeldData(index);
  bool usable = index->ready() && !view->failed();
  if (usable && view->revision() != data->revision) {
    // Older than the index: move to the newest snapshot. Newer (a change set
    // still being applied): read LMDB.
    usable = view->Refresh().ok() && view->revision() == data->revision;
  }
  if (!usable) {
    ReleaseShared(&index->mu_);
    return;
  }
  index_ = index;
  data_ = data;
}

IndexView::~IndexView() {
  if (index_ != nullptr) ReleaseShared(&index_->mu_);
}

uint32_t IndexView::ResolveResource(engine::EntityRef r) const {
  for (const auto& [ptr, id] : recent_) {
    if (ptr != nullptr && ptr == r.type.data()) {
      const ResourceNode& n = data_->resources[id];
      if (n.ref.data() == ptr && n.type_len == r.type.size() &&
          n.ref.size() == r.type.size() + 1 + r.id.size()) {
        return id;
      }
    }
  }
  if (last_resource_ != kNone) {
    const ResourceNode& n = data_->resources[last_resource_];
    if (n.used() && RefEquals(n.ref, r)) return last_resource_;
  }
  last_resource_ = data_->FindResource(r);
  return last_resource_;
}

uint32_t IndexView::ResolveSubject(engine::EntityRef r) const {
  if (last_subject_ != kNone) {
    const SubjectNode& n = data_->subjects[last_subject_];
    if (n.used() && RefEquals(n.ref, r)) return last_subject_;
  }
  last_subject_ = data_->FindSubject(r);
  return last_subject_;
}

std::optional<engine::ResourceInfo> IndexView::GetResource(
    engine::EntityRef resource) const {
  if (data_ == nullptr) return view_->GetResource(resource);
  const uint32_t id = ResolveResource(resource);
  if (id == kNone || !data_->resources[id].live) return std::nullopt;
  engine::ResourceInfo info;
  const uint32_t parent = data_->resources[id].parent;
  if (parent != kNone) {
    const ResourceNode& p = data_->resources[parent];
    info.parent = p.Ref();
    Remember(p.ref, parent);
  }
  return info;
}

// Reads one ordered set from a position on. The ids are in key order, not
// in memory order, so each node is a cache miss: the cursor prefetches the
// node kAhead places ahead, and the parent and long key of the node half
// as far ahead (whose node it fetched then), so that the checks run on
// nodes already on their way.
class IndexView::Cursor final : public engine::ResourceCursor {
 public:
  Cursor(const IndexView* view, const OrderedIds* set,
         OrderedIds::Position at)
      : view_(view), set_(set), at_(at), ahead_(at), near_(at) {
    if (set_ == nullptr) return;
    for (int i = 0; i < kAhead && !AtEnd(ahead_); ++i) {
      Prefetch(&view_->data_->resources[set_->At(ahead_)]);
      ahead_ = set_->Advance(ahead_);
      if (i < kAhead / 2) near_ = set_->Advance(near_);
    }
  }
  bool Next(engine::EntityRef* out) override {
    if (set_ == nullptr || AtEnd(at_)) return false;
    const auto& nodes = view_->data_->resources;
    if (!AtEnd(ahead_)) {
      Prefetch(&nodes[set_->At(ahead_)]);
      ahead_ = set_->Advance(ahead_);
    }
    if (!AtEnd(near_)) {
      const ResourceNode& soon = nodes[set_->At(near_)];
      if (soon.parent != kNone) Prefetch(&nodes[soon.parent]);
      Prefetch(soon.ref.data());
      near_ = set_->Advance(near_);
    }
    const uint32_t id = set_->At(at_);
    at_ = set_->Advance(at_);
    const ResourceNode& n = nodes[id];
    *out = n.Ref();
    view_->Remember(n.ref, id);  // the check that follows resolves it
    return true;
  }

 private:
  static constexpr int kAhead = 16;
  static void Prefetch(const void* p) { __builtin_prefetch(p, 0, 1); }
  bool AtEnd(OrderedIds::Position p) const {
    return p.chunk == set_->chunk_count();
  }

  const IndexView* view_;
  const OrderedIds* set_;  // null: empty
  OrderedIds::Position at_, ahead_, near_;
};

std::unique_ptr<engine::ResourceCursor> IndexView::ResourcesInOrder(
    engine::EntityRef root, std::string_view type,
    std::string_view after) const {
  if (data_ == nullptr) return nullptr;
  const OrderedIds* set = nullptr;
  const uint16_t t = data_->FindType(type);
  if (t != UINT16_MAX) {
    if (root.empty()) {
      set = &data_->of_type[t];
    } else if (const uint32_t id = ResolveResource(root); id != kNone) {
      set = data_->Below(id, t);
    }
  }
  OrderedIds::Position at;
  if (set != nullptr) {
    at = after.empty()
             ? set->Begin()
             : set->UpperBound(after, [this](uint32_t id) {
                 return std::string_view(data_->resources[id].ref);
               });
  }
  return std::make_unique<Cursor>(this, set, at);
}

void IndexView::Prefetch(engine::EntityRef subject,
                         engine::EntityRef resource, int stage) const {
  if (data_ == nullptr) return;
  const DecisionIndex::Data& d = *data_;
  if (stage == 0) {
    d.resource_ids.PrefetchSlot(resource);
    if (!subject.empty()) d.subject_ids.PrefetchSlot(subject);
    return;
  }
  const uint32_t rid = d.resource_ids.Guess(resource);
  const uint32_t sid = subject.empty() ? kNone : d.subject_ids.Guess(subject);
  if (stage == 1) {
    if (rid != kNone) __builtin_prefetch(&d.resources[rid], 0, 1);
    if (sid != kNone) __builtin_prefetch(&d.subjects[sid], 0, 1);
    return;
  }
  if (rid != kNone) {
    const ResourceNode& n = d.resources[rid];
    __builtin_prefetch(n.ref.data(), 0, 1);
    if (n.parent != kNone) __builtin_prefetch(&d.resources[n.parent], 0, 1);
  }
  if (sid != kNone) {
    const std::vector<AccessEntry>& a = d.subjects[sid].access;
    if (!a.empty()) __builtin_prefetch(&a[a.size() / 2], 0, 1);
  }
}

bool IndexView::SubjectExists(engine::EntityRef subject) const {
  if (data_ == nullptr) return view_->SubjectExists(subject);
  const uint32_t id = ResolveSubject(subject);
  return id != kNone && data_->subjects[id].live;
}

engine::SubjectAccess IndexView::GetAccess(engine::EntityRef subject,
                                           engine::EntityRef resource) const {
  if (data_ == nullptr) return view_->GetAccess(subject, resource);
  engine::SubjectAccess out;
  const uint32_t sid = ResolveSubject(subject);
  if (sid == kNone || data_->subjects[sid].access.empty()) return out;
  const uint32_t rid = ResolveResource(resource);
  if (rid == kNone) return out;
  const AccessEntry* e = data_->FindAccess(sid, rid);
  if (e == nullptr) return out;
  if (e->roles != kNone) {
    out.binding = engine::StoredBinding{data_->Names(e->roles), e->state,
                                        e->expires_at};
  }
  if (e->actions != kNone) {
    out.restriction = engine::StoredRestriction{data_->Names(e->actions)};
  }
  return out;
}

std::optional<engine::Value> IndexView::GetAttribute(
    engine::EntityKind kind, engine::EntityRef entity,
    std::string_view key) const {
  if (data_ == nullptr) return view_->GetAttribute(kind, entity, key);
  const bool resource = kind == engine::EntityKind::kResource;
  const uint32_t id = resource ? ResolveResource(entity) : ResolveSubject(entity);
  if (id == kNone) return std::nullopt;
  if (!(resource ? data_->resources[id].live : data_->subjects[id].live)) {
    return std::nullopt;
  }
  const std::string& blob =
      resource ? data_->resource_attrs[id] : data_->subject_attrs[id];
  const std::optional<std::string_view> encoded =
      storage::layout::FindAttribute(blob, key);
  if (!encoded) return std::nullopt;
  storage::layout::Reader r(*encoded);
  engine::Value out;
  switch (static_cast<engine::ValueKind>(r.Get<uint8_t>())) {
    case engine::ValueKind::kNull: out = engine::Value::Null(); break;
    case engine::ValueKind::kBool:
      out = engine::Value::Bool(r.Get<uint8_t>() != 0);
      break;
    case engine::ValueKind::kInt:
      out = engine::Value::Int(r.Get<int64_t>());
      break;
    case engine::ValueKind::kTimestamp:
      out = engine::Value::Timestamp(r.Get<int64_t>());
      break;
    case engine::ValueKind::kDouble:
      out = engine::Value::Double(r.Get<double>());
      break;
    case engine::ValueKind::kString:
      out = engine::Value::String(r.Str32());
      break;
    default:  // a list, or a byte LMDB's decoder refuses (and reports)
      return view_->GetAttribute(kind, entity, key);
  }
  if (!r.ok()) return view_->GetAttribute(kind, entity, key);
  return out;
}

}  // namespace portcullis::index
