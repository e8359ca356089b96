#include "engine/lookup.h"

#include <algorithm>
#include <deque>
#include <unordered_map>
#include <vector>

#include "engine/hash.h"

namespace portcullis::engine {
namespace {

Status CheckLimit(size_t limit) {
  if (limit == 0 || limit > kMaxPageSize) {
    return Status::InvalidArgument(
        "limit must be between 1 and " + std::to_string(kMaxPageSize),
        "limit");
  }
  return Status::Ok();
}

// A DataView over another that remembers the parent of every resource the
// lookup has met: the children its traversal reached (their parent is the
// node being expanded) and whatever was read once through GetResource. The
// checks of a lookup's candidates walk the same ancestors over and over;
// through the memo each step is a hash probe instead of a storage read.
// Everything else goes to the underlying view.
class ParentMemo final : public DataView {
 public:
  struct Entry {
    std::string parent;  // "type:id", empty for a root
    EntityRef parent_ref;  // views `parent`
    bool expanded = false;  // the traversal has listed its children
  };
  using Node = std::pair<const std::string, Entry>;

  explicit ParentMemo(const DataView& data) : data_(data) {}

  // The entry of `resource`, read from the store on first use; null if the
  // resource does not exist (or the read failed).
  Node* Find(EntityRef resource) const {
    auto it = entries_.find(resource);
    if (it != entries_.end()) return &*it;
    std::optional<ResourceInfo> info = data_.GetResource(resource);
    if (!info) return nullptr;
    return Insert(resource, info->parent.empty() ? std::string()
                                                 : info->parent.ToString());
  }
  // Records `child` under the already known `parent` node.
  Node* Insert(EntityRef child, const std::string& parent) const {
    auto [it, inserted] = entries_.try_emplace(child.ToString());
    if (inserted) {
      it->second.parent = parent;
      if (!parent.empty()) it->second.parent_ref = *ParseEntityRef(it->second.parent);
    }
    return &*it;
  }

  std::optional<ResourceInfo> GetResource(EntityRef resource) const override {
    const Node* n = Find(resource);
    if (n == nullptr) return std::nullopt;
    return ResourceInfo{n->second.parent_ref};
  }
  bool SubjectExists(EntityRef subject) const override {
    return data_.SubjectExists(subject);
  }
  SubjectAccess GetAccess(EntityRef subject,
                          EntityRef resource) const override {
    return data_.GetAccess(subject, resource);
  }
  std::optional<Value> GetAttribute(EntityKind kind, EntityRef entity,
                                    std::string_view key) const override {
    return data_.GetAttribute(kind, entity, key);
  }
  void ForEachChild(EntityRef parent,
                    const std::function<bool(EntityRef)>& fn) const override {
    data_.ForEachChild(parent, fn);
  }
  void ForEachBindingOn(EntityRef resource,
                        const std::function<bool(EntityRef,
                                                 const StoredBinding&)>& fn)
      const override {
    data_.ForEachBindingOn(resource, fn);
  }
  void ForEachBindingOf(EntityRef subject,
                        const std::function<bool(EntityRef,
                                                 const StoredBinding&)>& fn)
      const override {
    data_.ForEachBindingOf(subject, fn);
  }
  void ForEachResourceOfType(
      std::string_view type,
      const std::function<bool(EntityRef)>& fn) const override {
    data_.ForEachResourceOfType(type, fn);
  }
  void ForEachSubjectOfType(
      std::string_view type,
      const std::function<bool(EntityRef)>& fn) const override {
    data_.ForEachSubjectOfType(type, fn);
  }
  bool failed() const override { return data_.failed(); }
  std::string_view failure() const override { return data_.failure(); }

 private:
  struct RefHash {
    using is_transparent = void;
    size_t operator()(std::string_view joined) const noexcept {
      return hash::Joined(joined);
    }
    size_t operator()(const std::string& joined) const noexcept {
      return hash::Joined(joined);
    }
    size_t operator()(EntityRef r) const noexcept {
      return hash::Ref(r.type, r.id);
    }
  };
  struct RefEq {
    using is_transparent = void;
    bool operator()(const std::string& a, const std::string& b) const noexcept {
      return a == b;
    }
    bool operator()(EntityRef r, const std::string& joined) const noexcept {
      const size_t t = r.type.size();
      return joined.size() == t + 1 + r.id.size() && joined[t] == ':' &&
             joined.compare(0, t, r.type) == 0 &&
             joined.compare(t + 1, std::string::npos, r.id) == 0;
    }
    bool operator()(const std::string& joined, EntityRef r) const noexcept {
      return (*this)(r, joined);
    }
  };

  const DataView& data_;
  // Nodes never move, so views into keys and entries stay valid.
  mutable std::unordered_map<std::string, Entry, RefHash, RefEq> entries_;
};

// Adds every resource of `type` at or below `root` to `out` (views of the
// memo's keys), skipping subtrees already expanded.
void CollectSubtree(const ParentMemo& memo, const DataView& data,
                    EntityRef root, std::string_view type,
                    std::vector<std::string_view>* out) {
  ParentMemo::Node* start = memo.Find(root);
  if (start == nullptr) return;
  std::vector<ParentMemo::Node*> stack{start};
  while (!stack.empty()) {
    ParentMemo::Node* node = stack.back();
    stack.pop_back();
    if (node->second.expanded) continue;
    node->second.expanded = true;
    const std::string& key = node->first;
    const EntityRef ref = *ParseEntityRef(key);
    if (ref.type == type) out->push_back(key);
    data.ForEachChild(ref, [&](EntityRef child) {
      stack.push_back(memo.Insert(child, key));
      return true;
    });
  }
}

// True if `node` is `ancestor` or below it.
bool IsAtOrBelow(const DataView& data, EntityRef node, EntityRef ancestor) {
  std::string current = node.ToString();
  const std::string target = ancestor.ToString();
  for (int depth = 0; depth < kMaxDepth; ++depth) {
    if (current == target) return true;
    std::optional<EntityRef> ref = ParseEntityRef(current);
    if (!ref) return false;
    std::optional<ResourceInfo> info = data.GetResource(*ref);
    if (!info || info->parent.empty()) return false;
    current = info->parent.ToString();
  }
  return false;
}

// Sorts and deduplicates candidates ("type:id" views).
void SortUnique(std::vector<std::string_view>* v) {
  std::sort(v->begin(), v->end());
  v->erase(std::unique(v->begin(), v->end()), v->end());
}

// Checks sorted candidates after `token` and fills one page.
template <typename MakeRequest>
LookupPage Paginate(const Evaluator& evaluator, const DataView& data,
                    const std::vector<std::string_view>& candidates,
                    std::string_view token, size_t limit,
                    MakeRequest make_request) {
  LookupPage page;
  auto it = token.empty() ? candidates.begin()
                          : std::upper_bound(candidates.begin(),
                                             candidates.end(), token);
  for (; it != candidates.end(); ++it) {
    const std::optional<EntityRef> ref = ParseEntityRef(*it);
    if (!ref) continue;
    const CheckRequest req = make_request(*ref);
    if (!evaluator.Check(req, data).allowed) continue;
    if (page.refs.size() == limit) {
      // There is at least one more: the page is full.
      page.next_page_token = page.refs.back();
      break;
    }
    page.refs.emplace_back(*it);
  }
  return page;
}

}  // namespace

Result<LookupPage> LookupResources(const Evaluator& evaluator,
                                   const DataView& data,
                                   const LookupResourcesRequest& request) {
  const Policy& policy = evaluator.policy();
  const TypeId type = policy.FindType(request.type);
  if (type == kNoType || policy.types[type].is_subject) {
    return Fail(Status::InvalidArgument(
        "unknown resource type '" + std::string(request.type) + "'", "type"));
  }
  const ActionId action = policy.FindAction(request.action);
  if (action == kNoAction || !policy.types[type].actions.Contains(action)) {
    return Fail(Status::InvalidArgument("'" + std::string(request.action) +
                                            "' is not an action of type '" +
                                            std::string(request.type) + "'",
                                        "action"));
  }
  if (Status s = CheckLimit(request.limit); !s.ok()) return Fail(s);
  const bool has_under = !request.under.empty();
  if (has_under && !data.GetResource(request.under)) {
    if (data.failed()) {  // a failed read is not a missing resource
      return Fail(Status::Internal("storage error: " +
                                   std::string(data.failure())));
    }
    return Fail(Status::NotFound("resource '" + request.under.ToString() +
                                 "' does not exist"));
  }

  ParentMemo memo(data);
  std::vector<std::string_view> candidates;  // views of memo keys or `owned`
  std::deque<std::string> owned;
  if (policy.HasAllowRuleFor(action, type)) {
    // A rule may allow without any binding: every resource of the type is a
    // candidate.
    if (has_under) {
      CollectSubtree(memo, data, request.under, request.type, &candidates);
    } else {
      data.ForEachResourceOfType(request.type, [&](EntityRef r) {
        candidates.push_back(owned.emplace_back(r.ToString()));
        return true;
      });
    }
  } else {
    std::vector<std::string> roots;
    data.ForEachBindingOf(request.subject,
                          [&](EntityRef r, const StoredBinding& b) {
                            if (b.state == BindingState::kActive) {
                              roots.push_back(r.ToString());
                            }
                            return true;
                          });
    for (const std::string& root_key : roots) {
      const EntityRef root = *ParseEntityRef(root_key);
      if (!has_under || IsAtOrBelow(memo, root, request.under)) {
        CollectSubtree(memo, data, root, request.type, &candidates);
      } else if (IsAtOrBelow(memo, request.under, root)) {
        CollectSubtree(memo, data, request.under, request.type, &candidates);
      }
    }
  }
  if (data.failed()) {
    return Fail(Status::Internal("storage error: " +
                                 std::string(data.failure())));
  }
  SortUnique(&candidates);
  LookupPage page = Paginate(
      evaluator, memo, candidates, request.page_token, request.limit,
      [&](EntityRef r) {
        CheckRequest req;
        req.subject = request.subject;
        req.action = request.action;
        req.resource = r;
        req.context = request.context;
        req.subject_properties = request.subject_properties;
        req.action_properties = request.action_properties;
        req.now = request.now;
        return req;
      });
  if (data.failed()) {
    return Fail(Status::Internal("storage error: " +
                                 std::string(data.failure())));
  }
  return page;
}

Result<LookupPage> LookupSubjects(const Evaluator& evaluator,
                                  const DataView& data,
                                  const LookupSubjectsRequest& request) {
  const Policy& policy = evaluator.policy();
  const TypeId type = policy.FindType(request.resource.type);
  if (type == kNoType || policy.types[type].is_subject) {
    return Fail(Status::InvalidArgument(
        "unknown resource type '" + std::string(request.resource.type) + "'",
        "resource"));
  }
  const ActionId action = policy.FindAction(request.action);
  if (action == kNoAction || !policy.types[type].actions.Contains(action)) {
    return Fail(Status::InvalidArgument(
        "'" + std::string(request.action) + "' is not an action of type '" +
            std::string(request.resource.type) + "'",
        "action"));
  }
  if (!request.subject_type.empty()) {
    const TypeId st = policy.FindType(request.subject_type);
    if (st == kNoType || !policy.types[st].is_subject) {
      return Fail(Status::InvalidArgument(
          "unknown subject type '" + std::string(request.subject_type) + "'",
          "subject_type"));
    }
  }
  if (Status s = CheckLimit(request.limit); !s.ok()) return Fail(s);
  std::optional<ResourceInfo> info = data.GetResource(request.resource);
  if (!info) {
    if (data.failed()) {  // a failed read is not a missing resource
      return Fail(Status::Internal("storage error: " +
                                   std::string(data.failure())));
    }
    return Fail(Status::NotFound("resource '" + request.resource.ToString() +
                                 "' does not exist"));
  }

  std::deque<std::string> owned;
  std::vector<std::string_view> candidates;  // views of `owned`
  auto wanted = [&](EntityRef s) {
    return request.subject_type.empty() || s.type == request.subject_type;
  };
  if (policy.HasAllowRuleFor(action, type)) {
    for (const TypeDef& t : policy.types) {
      if (!t.is_subject || (!request.subject_type.empty() &&
                            t.name != request.subject_type)) {
        continue;
      }
      data.ForEachSubjectOfType(t.name, [&](EntityRef s) {
        candidates.push_back(owned.emplace_back(s.ToString()));
        return true;
      });
    }
  } else {
    // Only bindings on the resource or its ancestors can grant.
    std::string node = request.resource.ToString();
    for (int depth = 0; depth < kMaxDepth; ++depth) {
      const EntityRef ref = *ParseEntityRef(node);
      data.ForEachBindingOn(ref, [&](EntityRef s, const StoredBinding& b) {
        if (b.state == BindingState::kActive && wanted(s)) {
          candidates.push_back(owned.emplace_back(s.ToString()));
        }
        return true;
      });
      std::optional<ResourceInfo> up = data.GetResource(ref);
      if (!up || up->parent.empty()) break;
      node = up->parent.ToString();
    }
  }
  if (data.failed()) {
    return Fail(Status::Internal("storage error: " +
                                 std::string(data.failure())));
  }
  SortUnique(&candidates);
  // Every candidate is checked on the same resource: its ancestors are read
  // once.
  ParentMemo memo(data);
  LookupPage page = Paginate(
      evaluator, memo, candidates, request.page_token, request.limit,
      [&](EntityRef s) {
        CheckRequest req;
        req.subject = s;
        req.action = request.action;
        req.resource = request.resource;
        req.context = request.context;
        req.resource_properties = request.resource_properties;
        req.action_properties = request.action_properties;
        req.now = request.now;
        return req;
      });
  if (data.failed()) {
    return Fail(Status::Internal("storage error: " +
                                 std::string(data.failure())));
  }
  return page;
}

}  // namespace portcullis::engine
