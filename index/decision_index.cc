#include "index/decision_index.h"

#include <chrono>
#include <cstdio>
#include <utility>

#include "index/index_data.h"
#include "storage/layout.h"

namespace portcullis::index {

using storage::ChangeSet;
using storage::RecordChange;
using storage::Revision;
using storage::Table;

namespace {

// Applies record images to one Data. Freed nodes are collected and released
// only by Finish(), after every image of a change set is in (invariant 2 of
// decision_index.h).
class Applier {
 public:
  // `bulk`: a build from a scan in key order; the ordered sets are filled
  // by FillOrderedSets() once every record is in.
  Applier(DecisionIndex::Data* d, bool bulk) : d_(*d), bulk_(bulk) {}

  Status Image(Table table, std::string_view key,
               const std::optional<std::string_view>& value) {
    Status s;
    switch (table) {
      case Table::kResources: s = Resource(key, value); break;
      case Table::kSubjects: s = Subject(key, value); break;
      case Table::kAccess: s = Access(key, value); break;
      case Table::kInvitations: break;  // checks never read them
    }
    if (s.ok() && too_many_types_) {
      s = Status::FailedPrecondition("more resource types than the index holds");
    }
    return s;
  }

  // Bulk: every live resource, scanned in key order, joins its ancestors'
  // sets and its type's, each appended in order.
  void FillOrderedSets() {
    for (const uint32_t id : scanned_) {
      const uint16_t type = d_.resources[id].type;
      ForEachAncestor(id, [&](uint32_t a) {
        SetBelow(a, type)->Insert(id, KeyOf());
        ++d_.ordered_entries;
      });
      d_.of_type[type].Insert(id, KeyOf());
      ++d_.ordered_entries;
    }
    scanned_.clear();
    scanned_.shrink_to_fit();
  }

  void Finish() {
    for (uint32_t id : resource_candidates_) TryFreeResource(id);
    for (uint32_t id : subject_candidates_) TryFreeSubject(id);
    resource_candidates_.clear();
    subject_candidates_.clear();
  }

 private:
  static Status Malformed(Table t, std::string_view key) {
    return Status::InvalidArgument("malformed " +
                                   std::string(storage::TableName(t)) +
                                   " record " + std::string(key));
  }

  // The key of a resource id, for the ordered sets.
  struct ResourceKeys {
    const DecisionIndex::Data* d;
    std::string_view operator()(uint32_t id) const { return d->resources[id].ref; }
  };
  ResourceKeys KeyOf() const { return {&d_}; }
  // Calls fn(a) for each ancestor of `id` by parent links, nearest first
  // (at most kMaxChain).
  template <typename Fn>
  void ForEachAncestor(uint32_t id, Fn&& fn) const {
    uint32_t a = d_.resources[id].parent;
    for (int depth = 0; a != kNone && depth < kMaxChain; ++depth) {
      fn(a);
      a = d_.resources[a].parent;
    }
  }
  // The set of `type` below `a`, made if missing.
  OrderedIds* SetBelow(uint32_t a, uint16_t type) {
    std::unique_ptr<Descendants>& d = d_.below[a];
    if (d == nullptr) d = std::make_unique<Descendants>();
    for (auto& [t, ids] : d->by_type) {
      if (t == type) return &ids;
    }
    ++d_.ordered_sets;
    return &d->by_type.emplace_back(type, OrderedIds()).second;
  }
  // Adds `id` to (or removes it from) the sets of `ancestor` and above.
  void JoinChain(uint32_t ancestor, uint32_t id, bool join) {
    const uint16_t type = d_.resources[id].type;
    for (int depth = 0; ancestor != kNone && depth < kMaxChain; ++depth) {
      if (join) {
        SetBelow(ancestor, type)->Insert(id, KeyOf());
        ++d_.ordered_entries;
      } else {
        Leave(ancestor, type, id);
      }
      ancestor = d_.resources[ancestor].parent;
    }
  }
  void Leave(uint32_t a, uint16_t type, uint32_t id) {
    Descendants* d = d_.below[a].get();
    if (d == nullptr) return;
    for (auto it = d->by_type.begin(); it != d->by_type.end(); ++it) {
      if (it->first != type) continue;
      if (it->second.Erase(id, KeyOf())) --d_.ordered_entries;
      if (it->second.empty()) {
        d->by_type.erase(it);
        --d_.ordered_sets;
      }
      break;
    }
    if (d->by_type.empty()) d_.below[a].reset();
  }
  // A live resource appears or disappears: its ancestors' sets and its
  // type's.
  void SetLive(uint32_t id, bool live) {
    ResourceNode& n = d_.resources[id];
    n.live = live;
    if (live) ++d_.live_resources;
    else --d_.live_resources;
    if (bulk_) {
      if (live) scanned_.push_back(id);
      return;
    }
    JoinChain(n.parent, id, live);
    OrderedIds& all = d_.of_type[n.type];
    if (live) {
      all.Insert(id, KeyOf());
      ++d_.ordered_entries;
    } else if (all.Erase(id, KeyOf())) {
      --d_.ordered_entries;
    }
  }
  // `id`'s parent link changes from `from` to `to`: its subtree (itself if
  // live, and everything live below it) leaves the sets of `from` and
  // above and joins those of `to` and above.
  void MoveSubtree(uint32_t id, uint32_t from, uint32_t to) {
    if (bulk_) return;
    std::vector<uint32_t> members;
    if (d_.resources[id].live) members.push_back(id);
    if (const Descendants* d = d_.below[id].get()) {
      for (const auto& [t, ids] : d->by_type) {
        ids.ForEach([&](uint32_t m) { members.push_back(m); });
      }
    }
    for (const uint32_t m : members) {
      JoinChain(from, m, false);
      JoinChain(to, m, true);
    }
  }
  uint16_t InternType(std::string_view name) {
    const uint16_t found = d_.FindType(name);
    if (found != UINT16_MAX) return found;
    if (d_.type_names.size() >= UINT16_MAX - 1) {
      too_many_types_ = true;  // Status() reports it
      return 0;
    }
    d_.type_names.emplace_back(name);
    d_.of_type.emplace_back();
    return static_cast<uint16_t>(d_.type_names.size() - 1);
  }

  // The id of `ref` in `ids`, adding a node (not live) if it has none.
  template <typename Node>
  static uint32_t Intern(IdTable* ids, HugeVector<Node>* nodes,
                         std::vector<uint32_t>* free, uint64_t* string_bytes,
                         std::string_view ref) {
    auto key_of = [nodes](uint32_t id) {
      return std::string_view((*nodes)[id].ref);
    };
    const engine::EntityRef split{ref.substr(0, ref.find(':')),
                                  ref.substr(ref.find(':') + 1)};
    const uint32_t found = ids->Find(split, key_of);
    if (found != kNone) return found;
    uint32_t id;
    if (!free->empty()) {
      id = free->back();
      free->pop_back();
    } else {
      id = static_cast<uint32_t>(nodes->size());
      nodes->emplace_back();
    }
    Node& n = (*nodes)[id];
    n = Node();
    n.ref = std::string(ref);
    *string_bytes += DecisionIndex::Data::HeapBytes(n.ref);
    n.type_len = static_cast<uint16_t>(ref.find(':'));
    ids->Insert(ref, id, key_of);
    return id;
  }
  uint32_t InternResource(std::string_view ref) {
    const uint32_t id =
        Intern(&d_.resource_ids, &d_.resources, &d_.free_resources,
               &d_.string_bytes, ref);
    if (d_.resource_attrs.size() < d_.resources.size()) {
      d_.resource_attrs.resize(d_.resources.size());
      d_.below.resize(d_.resources.size());
    }
    // A node's key, and so its type, never changes: setting it again is a
    // no-op.
    d_.resources[id].type = InternType(ref.substr(0, ref.find(':')));
    return id;
  }
  uint32_t InternSubject(std::string_view ref) {
    const uint32_t id =
        Intern(&d_.subject_ids, &d_.subjects, &d_.free_subjects,
               &d_.string_bytes, ref);
    if (d_.subject_attrs.size() < d_.subjects.size()) {
      d_.subject_attrs.resize(d_.subjects.size());
    }
    return id;
  }

  uint32_t InternNames(std::string_view packed) {
    auto [it, inserted] = d_.name_ids.try_emplace(
        std::string(packed), static_cast<uint32_t>(d_.names.size()));
    if (inserted) d_.names.push_back(&it->first);
    return it->second;
  }

  void Unref(uint32_t resource) {
    --d_.resources[resource].refs;
    resource_candidates_.push_back(resource);
  }

  Status Resource(std::string_view key,
                  const std::optional<std::string_view>& value) {
    if (key.find(':') == std::string_view::npos) {
      return Malformed(Table::kResources, key);
    }
    const uint32_t id = InternResource(key);
    if (!value) {
      if (d_.resources[id].live) SetLive(id, false);
      if (d_.resources[id].parent != kNone) {
        const uint32_t parent = d_.resources[id].parent;
        MoveSubtree(id, parent, kNone);
        d_.resources[id].parent = kNone;
        Unref(parent);
      }
      d_.SetBlob(&d_.resource_attrs[id], {});
      resource_candidates_.push_back(id);
      return Status::Ok();
    }
    auto rec = storage::layout::DecodeResource(*value);
    if (!rec) return Malformed(Table::kResources, key);
    uint32_t parent = kNone;
    if (!rec->parent.empty()) {
      if (rec->parent.find(':') == std::string_view::npos) {
        return Malformed(Table::kResources, key);
      }
      parent = InternResource(rec->parent);  // may move d_.resources
    }
    if (d_.resources[id].parent != parent) {
      const uint32_t old = d_.resources[id].parent;
      MoveSubtree(id, old, parent);
      d_.resources[id].parent = parent;
      if (parent != kNone) ++d_.resources[parent].refs;
      if (old != kNone) Unref(old);
    }
    if (!d_.resources[id].live) SetLive(id, true);
    d_.SetBlob(&d_.resource_attrs[id], rec->attributes);
    return Status::Ok();
  }

  Status Subject(std::string_view key,
                 const std::optional<std::string_view>& value) {
    if (key.find(':') == std::string_view::npos) {
      return Malformed(Table::kSubjects, key);
    }
    const uint32_t id = InternSubject(key);
    SubjectNode& n = d_.subjects[id];
    if (value.has_value() != n.live) {
      n.live = value.has_value();
      if (n.live) ++d_.live_subjects;
      else --d_.live_subjects;
    }
    if (n.live) {
      d_.SetBlob(&d_.subject_attrs[id], *value);
    } else {
      d_.SetBlob(&d_.subject_attrs[id], {});
      subject_candidates_.push_back(id);
    }
    return Status::Ok();
  }

  Status Access(std::string_view key,
                const std::optional<std::string_view>& value) {
    const size_t nul = key.find('\0');
    if (nul == std::string_view::npos) return Malformed(Table::kAccess, key);
    const std::string_view subject = key.substr(0, nul);
    const std::string_view resource = key.substr(nul + 1);
    if (subject.find(':') == std::string_view::npos ||
        resource.find(':') == std::string_view::npos) {
      return Malformed(Table::kAccess, key);
    }
    if (!value) {
      const uint32_t sid = d_.FindSubject(Split(subject));
      const uint32_t rid = d_.FindResource(Split(resource));
      if (sid == kNone || rid == kNone) return Status::Ok();
      std::vector<AccessEntry>& a = d_.subjects[sid].access;
      for (auto it = a.begin(); it != a.end(); ++it) {
        if (it->resource == rid) {
          a.erase(it);
          --d_.access_entries;
          Unref(rid);
          break;
        }
      }
      subject_candidates_.push_back(sid);
      return Status::Ok();
    }
    auto decoded = storage::layout::DecodeAccess(*value);
    if (!decoded || decoded->flags == 0) return Malformed(Table::kAccess, key);
    AccessEntry e;
    e.resource = InternResource(resource);
    if (decoded->flags & storage::layout::kHasBinding) {
      e.roles = InternNames(decoded->roles);
      e.state = decoded->state;
      e.expires_at = decoded->expires_at;
    }
    if (decoded->flags & storage::layout::kHasRestriction) {
      e.actions = InternNames(decoded->actions);
    }
    const uint32_t sid = InternSubject(subject);
    std::vector<AccessEntry>& a = d_.subjects[sid].access;
    size_t lo = 0, hi = a.size();
    while (lo < hi) {
      const size_t mid = (lo + hi) / 2;
      if (a[mid].resource < e.resource) lo = mid + 1;
      else hi = mid;
    }
    if (lo < a.size() && a[lo].resource == e.resource) {
      a[lo] = e;
    } else {
      a.insert(a.begin() + static_cast<ptrdiff_t>(lo), e);
      ++d_.access_entries;
      ++d_.resources[e.resource].refs;
    }
    return Status::Ok();
  }

  static engine::EntityRef Split(std::string_view ref) {
    const size_t colon = ref.find(':');
    return {ref.substr(0, colon), ref.substr(colon + 1)};
  }

  void TryFreeResource(uint32_t id) {
    ResourceNode& n = d_.resources[id];
    if (!n.used() || n.live || n.refs != 0) return;
    d_.resource_ids.Erase(n.ref, id);
    d_.string_bytes -= DecisionIndex::Data::HeapBytes(n.ref);
    n = ResourceNode();
    d_.below[id].reset();  // empty: nothing live is below a freed node
    d_.free_resources.push_back(id);
  }

  void TryFreeSubject(uint32_t id) {
    SubjectNode& n = d_.subjects[id];
    if (!n.used() || n.live || !n.access.empty()) return;
    d_.subject_ids.Erase(n.ref, id);
    d_.string_bytes -= DecisionIndex::Data::HeapBytes(n.ref);
    n = SubjectNode();
    d_.free_subjects.push_back(id);
  }

  DecisionIndex::Data& d_;
  const bool bulk_;
  bool too_many_types_ = false;
  std::vector<uint32_t> scanned_;  // bulk: live resources in key order
  std::vector<uint32_t> resource_candidates_, subject_candidates_;
};

}  // namespace

DecisionIndex::DecisionIndex() : data_(std::make_unique<Data>()) {}

DecisionIndex::~DecisionIndex() {
  if (store_ != nullptr) store_->SetCommitListener(nullptr);
  {
    MutexLock lock(&pending_mu_);
    stopping_ = true;
    work_cv_.NotifyAll();
  }
  if (builder_.joinable()) builder_.join();
}

Status DecisionIndex::Build(const storage::ReadView& view) {
  const auto start = std::chrono::steady_clock::now();
  auto fresh = std::make_unique<Data>();
  Applier applier(fresh.get(), /*bulk=*/true);
  Status failed;
  for (Table t : {Table::kResources, Table::kSubjects, Table::kAccess}) {
    Status s = view.ScanTable(
        t, [&](std::string_view key, std::string_view value) {
          failed = applier.Image(t, key, value);
          return failed.ok();
        });
    if (!s.ok()) failed = s;
    if (!failed.ok()) break;
  }
  applier.Finish();
  if (failed.ok()) applier.FillOrderedSets();
  if (!failed.ok()) {
    MarkUnusable("build failed: " + failed.ToString());
    return failed;
  }
  fresh->revision = view.revision();
  const double seconds = std::chrono::duration<double>(
                             std::chrono::steady_clock::now() - start)
                             .count();
  WriterMutexLock lock(&mu_);
  data_ = std::move(fresh);
  failure_.clear();
  build_seconds_ = seconds;
  ready_.store(true, std::memory_order_release);
  return Status::Ok();
}

Status DecisionIndex::ApplyChange(const ChangeSet& cs) {
  WriterMutexLock lock(&mu_);
  if (!failure_.empty()) return Status::FailedPrecondition(failure_);
  Data& d = *data_;
  const bool continuation = cs.revision == d.revision && d.revision != 0 &&
                            cs.entry.changes.empty();
  if (!continuation && cs.revision != d.revision + 1) {
    failure_ = "change set of revision " + std::to_string(cs.revision) +
               " does not follow the index's revision " +
               std::to_string(d.revision);
    ready_.store(false, std::memory_order_release);
    return Status::FailedPrecondition(failure_);
  }
  Applier applier(&d, /*bulk=*/false);
  for (const RecordChange& rc : cs.records) {
    std::optional<std::string_view> value;
    if (rc.value) value = *rc.value;
    if (Status s = applier.Image(rc.table, rc.key, value); !s.ok()) {
      // Half applied: never read again (views fall back to LMDB).
      failure_ = "revision " + std::to_string(cs.revision) + ": " +
                 s.ToString();
      ready_.store(false, std::memory_order_release);
      data_ = std::make_unique<Data>();
      return s;
    }
  }
  applier.Finish();
  d.revision = cs.revision;
  return Status::Ok();
}

std::vector<std::string> DecisionIndex::CheckOrderedSets(size_t max) const {
  ReaderMutexLock lock(&mu_);
  const Data& d = *data_;
  std::vector<std::string> problems;
  auto report = [&](std::string line) {
    if (problems.size() < max) problems.push_back(std::move(line));
  };
  auto check_set = [&](const OrderedIds& set, uint16_t type, uint32_t root,
                       std::string_view name) {
    std::string_view previous;
    bool first = true;
    set.ForEach([&](uint32_t id) {
      const ResourceNode& n = d.resources[id];
      if (!first && !(previous < std::string_view(n.ref))) {
        report("ordered set " + std::string(name) + " is out of order at " +
               n.ref);
      }
      first = false;
      previous = n.ref;
      if (!n.live || n.type != type) {
        report("ordered set " + std::string(name) + " holds " +
               (n.used() ? n.ref : std::string("a freed node")));
      }
      bool below = root == kNone;
      uint32_t a = n.parent;
      for (int depth = 0; !below && a != kNone && depth < kMaxChain; ++depth) {
        below = a == root;
        a = d.resources[a].parent;
      }
      if (!below) {
        report("ordered set " + std::string(name) + " holds " + n.ref +
               ", which is not below it");
      }
    });
  };
  uint64_t entries = 0, expected = 0;
  for (size_t t = 0; t < d.of_type.size(); ++t) {
    check_set(d.of_type[t], static_cast<uint16_t>(t), kNone,
              "of type " + d.type_names[t]);
    entries += d.of_type[t].size();
  }
  for (uint32_t id = 0; id < d.resources.size(); ++id) {
    const ResourceNode& n = d.resources[id];
    if (n.live) {
      ++expected;
      uint32_t a = n.parent;
      for (int depth = 0; a != kNone && depth < kMaxChain; ++depth) {
        ++expected;
        a = d.resources[a].parent;
      }
    }
    if (const Descendants* below = d.below[id].get()) {
      for (const auto& [type, set] : below->by_type) {
        check_set(set, type, id, "below " + n.ref);
        entries += set.size();
      }
    }
  }
  if (entries != expected || entries != d.ordered_entries) {
    report("ordered sets hold " + std::to_string(entries) + " entries (" +
           std::to_string(d.ordered_entries) + " counted), the tree " +
           std::to_string(expected));
  }
  return problems;
}

void DecisionIndex::MarkUnusable(std::string why) {
  WriterMutexLock lock(&mu_);
  failure_ = std::move(why);
  ready_.store(false, std::memory_order_release);
}

Revision DecisionIndex::revision() const {
  ReaderMutexLock lock(&mu_);
  return data_->revision;
}

DecisionIndex::Stats DecisionIndex::stats() const {
  ReaderMutexLock lock(&mu_);
  Stats s;
  s.ready = ready();
  s.failure = failure_;
  s.revision = data_->revision;
  s.resources = data_->live_resources;
  s.subjects = data_->live_subjects;
  s.access = data_->access_entries;
  s.build_seconds = build_seconds_;
  // Nodes, id tables, attribute slots, access entries and the heap strings
  // (kept as they change: a scrape of /metrics walks no node and holds the
  // lock for no longer than a check).
  const Data& d = *data_;
  const uint64_t bytes =
      d.resources.capacity() * sizeof(ResourceNode) +
      d.subjects.capacity() * sizeof(SubjectNode) + d.resource_ids.bytes() +
      d.subject_ids.bytes() +
      (d.resource_attrs.capacity() + d.subject_attrs.capacity()) *
          sizeof(std::string) +
      d.access_entries * sizeof(AccessEntry) + d.string_bytes +
      // The ordered sets: one pointer per resource, and per set its entry,
      // one chunk's header and the ids (chunks are at least half full).
      d.below.capacity() * sizeof(d.below[0]) +
      d.ordered_sets * (sizeof(Descendants) +
                        sizeof(std::pair<uint16_t, OrderedIds>) +
                        sizeof(std::vector<uint32_t>)) +
      d.ordered_entries * sizeof(uint32_t);
  s.bytes = bytes;
  s.ordered_entries = d.ordered_entries;
  s.string_bytes = d.string_bytes;
  return s;
}

void DecisionIndex::Follow(storage::Store* store) {
  {
    MutexLock lock(&pending_mu_);
    following_ = true;
  }
  store_ = store;
  store->SetCommitListener([this](const ChangeSet& cs) { OnCommit(cs); });
  builder_ = std::thread([this] { Maintain(); });
}

void DecisionIndex::OnCommit(const ChangeSet& cs) {
  MutexLock lock(&pending_mu_);
  if (!built_) {
    pending_.push_back(cs);
    return;
  }
  if (Status s = ApplyChange(cs); !s.ok()) {
    // A gap (a commit made by another process on the same store) or a
    // record the index cannot read: views read LMDB until it is rebuilt.
    std::fprintf(stderr, "decision index: %s; rebuilding\n",
                 s.ToString().c_str());
    built_ = false;
    rebuild_ = true;
    work_cv_.NotifyAll();
  }
}

void DecisionIndex::Maintain() {
  Revision behind_at = 0;  // index revision when LMDB was seen ahead of it
  while (true) {
    BuildFollowed();
    MutexLock lock(&pending_mu_);
    while (!stopping_ && !rebuild_) {
      const auto deadline =
          std::chrono::steady_clock::now() + std::chrono::seconds(1);
      if (work_cv_.WaitUntil(&pending_mu_, deadline)) continue;
      // Once a second: is LMDB ahead of the index with no change set on its
      // way (another process wrote to the store)? Seen twice at the same
      // index revision, rebuild.
      const Revision at = revision();
      if (store_->revision() > at) {
        if (behind_at == at) rebuild_ = true;
        behind_at = at;
      } else {
        behind_at = 0;
      }
    }
    if (stopping_) return;
    rebuild_ = false;
    built_ = false;
    ++rebuilds_;
  }
}

void DecisionIndex::BuildFollowed() {
  Status s;
  {
    auto view = store_->Read();
    s = view ? Build(*view) : view.error();
  }
  MutexLock lock(&pending_mu_);
  if (s.ok()) {
    // Change sets committed while the snapshot was read: those after its
    // revision, in order.
    const Revision built_at = revision();
    for (const ChangeSet& cs : pending_) {
      if (cs.revision <= built_at) continue;
      if (!(s = ApplyChange(cs)).ok()) break;
    }
  }
  if (!s.ok()) {
    std::fprintf(stderr, "decision index: %s; checks read LMDB\n",
                 s.ToString().c_str());
  }
  pending_.clear();
  pending_.shrink_to_fit();
  built_ = true;
  built_cv_.NotifyAll();
}

bool DecisionIndex::WaitUntilBuilt() {
  MutexLock lock(&pending_mu_);
  while (following_ && !built_) built_cv_.Wait(&pending_mu_);
  return ready();
}

uint64_t DecisionIndex::rebuilds() const {
  MutexLock lock(&pending_mu_);
  return rebuilds_;
}

}  // namespace portcullis::index
