#include "engine/lookup.h"

#include <algorithm>
#include <deque>
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

// A DataView that passes everything to another; the lookup's views below
// override only GetResource.
class ForwardingView : public DataView {
 public:
  explicit ForwardingView(const DataView& data) : data_(data) {}

  std::optional<ResourceInfo> GetResource(EntityRef resource) const override {
    return data_.GetResource(resource);
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

 protected:
  const DataView& data_;
};

// Remembers the parent of every resource read through GetResource. A
// lookup checks many candidates whose ancestors are the same few
// resources; through the memo each such step is a hash probe instead of a
// storage read.
class ParentMemo final : public ForwardingView {
 public:
  using ForwardingView::ForwardingView;

  std::optional<ResourceInfo> GetResource(EntityRef resource) const override {
    auto it = parents_.find(resource);
    if (it == parents_.end()) {
      std::optional<ResourceInfo> info = data_.GetResource(resource);
      if (!info) return std::nullopt;
      it = parents_.try_emplace(resource.ToString()).first;
      if (!info->parent.empty()) {
        it->second.parent = info->parent.ToString();
        it->second.ref = *ParseEntityRef(it->second.parent);
      }
    }
    return ResourceInfo{it->second.ref};
  }

 private:
  struct Parent {
    std::string parent;  // "type:id", empty for a root
    EntityRef ref;       // views `parent`
  };
  // Nodes never move, so the views into them stay valid.
  mutable RefMap<Parent> parents_;
};

// The resources a lookup's traversal reached, in one arena: each node's
// "type:id" and the index of its parent node (kNone for where a traversal
// started, whose ancestors are read through the memo). No per-node
// allocation, no hashing: the traversal of a large group visits every
// resource below it.
class Forest {
 public:
  static constexpr uint32_t kNone = UINT32_MAX;

  uint32_t Add(EntityRef ref, uint32_t parent) {
    nodes_.push_back({static_cast<uint32_t>(text_.size()),
                      static_cast<uint32_t>(ref.type.size()),
                      static_cast<uint32_t>(ref.id.size()), parent});
    text_.append(ref.type);
    text_.push_back(':');
    text_.append(ref.id);
    return static_cast<uint32_t>(nodes_.size() - 1);
  }
  // Views valid until the next Add().
  std::string_view Key(uint32_t i) const {
    const Node& n = nodes_[i];
    return {text_.data() + n.offset, n.type_size + 1 + n.id_size};
  }
  EntityRef Ref(uint32_t i) const {
    const Node& n = nodes_[i];
    return {std::string_view(text_.data() + n.offset, n.type_size),
            std::string_view(text_.data() + n.offset + n.type_size + 1,
                             n.id_size)};
  }
  uint32_t Parent(uint32_t i) const { return nodes_[i].parent; }

 private:
  struct Node {
    uint32_t offset, type_size, id_size, parent;
  };
  std::string text_;
  std::vector<Node> nodes_;
};

// The resource types under which the policy lets anything be placed: the
// only ones whose children a traversal needs to list. Most resources of a
// large tree are leaves (files), and listing a leaf's children is a storage
// read that finds nothing. A type the policy does not know is listed.
class ParentTypes {
 public:
  explicit ParentTypes(const Policy& policy) {
    std::vector<bool> parent(policy.types.size(), false);
    for (const TypeDef& t : policy.types) {
      for (TypeId p : t.parents) parent[p] = true;
    }
    for (size_t i = 0; i < policy.types.size(); ++i) {
      if (policy.types[i].IsResource() && !parent[i]) {
        leaves_.push_back(policy.types[i].name);
      }
    }
  }
  bool MayHaveChildren(std::string_view type) const {
    return std::find(leaves_.begin(), leaves_.end(), type) == leaves_.end();
  }

 private:
  std::vector<std::string_view> leaves_;
};

// Adds `root` and every resource below it to the forest, and the indexes of
// those of `type` to `out`.
void CollectSubtree(const DataView& data, const ParentTypes& parents,
                    EntityRef root, std::string_view type, Forest* forest,
                    std::vector<uint32_t>* out) {
  // (node, depth below root). The store refuses cycles, but a view that
  // has one (a corrupt store, an in-memory test view) must not loop: like
  // a check, the traversal stops at kMaxDepth; the duplicates a cycle adds
  // are dropped when the page is built.
  std::vector<std::pair<uint32_t, int>> stack{
      {forest->Add(root, Forest::kNone), 0}};
  std::string key;
  while (!stack.empty()) {
    const uint32_t node = stack.back().first;
    const int depth = stack.back().second;
    stack.pop_back();
    const std::string_view node_type = forest->Ref(node).type;
    if (node_type == type) out->push_back(node);
    if (depth + 1 >= kMaxDepth || !parents.MayHaveChildren(node_type)) {
      continue;
    }
    key.assign(forest->Key(node));  // Add() below may move the arena
    data.ForEachChild(*ParseEntityRef(key), [&](EntityRef child) {
      stack.emplace_back(forest->Add(child, node), depth + 1);
      return true;
    });
  }
}

// A view for checking forest nodes: GetResource on the node being checked,
// and then on each ancestor in turn as the evaluator walks up, answers from
// the forest; above where the traversal started, from the memo.
class ChainView final : public ForwardingView {
 public:
  ChainView(const Forest& forest, const ParentMemo& memo)
      : ForwardingView(memo), forest_(forest) {}
  void Start(uint32_t node) { next_ = node; }

  std::optional<ResourceInfo> GetResource(EntityRef resource) const override {
    if (next_ != Forest::kNone) {
      const EntityRef at = forest_.Ref(next_);
      if (at.type == resource.type && at.id == resource.id) {
        const uint32_t parent = forest_.Parent(next_);
        next_ = parent;
        if (parent != Forest::kNone) return ResourceInfo{forest_.Ref(parent)};
      }
    }
    return data_.GetResource(resource);
  }

 private:
  const Forest& forest_;
  mutable uint32_t next_ = Forest::kNone;
};

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

// Where a lookup's candidates are: with an allow rule that may grant without
// any binding, every resource of the type (under `under` when given);
// otherwise the subtrees of the subject's active bindings (a root also
// counts itself), each subtree once: a binding below another binding of the
// subject adds nothing, and with `under`, a binding at or above it means the
// whole of `under`.
struct CandidateRoots {
  bool every_resource = false;  // every resource of the type, no roots
  std::vector<std::string> roots;  // "type:id"
};

CandidateRoots ChooseRoots(const Policy& policy, const DataView& data,
                           ParentMemo& memo,
                           const LookupResourcesRequest& request,
                           ActionId action, TypeId type) {
  CandidateRoots out;
  const bool has_under = !request.under.empty();
  if (policy.HasAllowRuleFor(action, type)) {
    if (has_under) {
      out.roots.push_back(request.under.ToString());
    } else {
      out.every_resource = true;
    }
    return out;
  }
  std::vector<std::string> roots;
  data.ForEachBindingOf(request.subject,
                        [&](EntityRef r, const StoredBinding& b) {
                          if (b.state == BindingState::kActive) {
                            roots.push_back(r.ToString());
                          }
                          return true;
                        });
  std::sort(roots.begin(), roots.end());
  auto below_another_root = [&](const std::string& root) {
    std::string node = root;
    for (int depth = 0; depth < kMaxDepth; ++depth) {
      std::optional<ResourceInfo> info =
          memo.GetResource(*ParseEntityRef(node));
      if (!info || info->parent.empty()) return false;
      node = info->parent.ToString();
      if (std::binary_search(roots.begin(), roots.end(), node)) return true;
    }
    return false;
  };
  if (has_under) {
    for (const std::string& root : roots) {
      if (IsAtOrBelow(memo, request.under, *ParseEntityRef(root))) {
        out.roots.push_back(request.under.ToString());
        return out;
      }
    }
  }
  for (const std::string& root_key : roots) {
    const EntityRef root = *ParseEntityRef(root_key);
    if (has_under && !IsAtOrBelow(memo, root, request.under)) continue;
    if (below_another_root(root_key)) continue;
    out.roots.push_back(root_key);
  }
  return out;
}

// Puts into *candidates (nodes of *forest) the resources of the request's
// type below (and at) the roots, each subtree traversed once.
void CollectCandidates(const Policy& policy, const DataView& data,
                       const CandidateRoots& where,
                       const LookupResourcesRequest& request, Forest* forest,
                       std::vector<uint32_t>* candidates) {
  if (where.every_resource) {
    data.ForEachResourceOfType(request.type, [&](EntityRef r) {
      candidates->push_back(forest->Add(r, Forest::kNone));
      return true;
    });
    return;
  }
  const ParentTypes parents(policy);
  for (const std::string& root : where.roots) {
    CollectSubtree(data, parents, *ParseEntityRef(root), request.type, forest,
                   candidates);
  }
}

// The request's check, for each candidate in turn.
CheckRequest CandidateCheck(const LookupResourcesRequest& request) {
  CheckRequest req;
  req.subject = request.subject;
  req.action = request.action;
  req.context = request.context;
  req.subject_properties = request.subject_properties;
  req.action_properties = request.action_properties;
  req.now = request.now;
  return req;
}

// The page from a view that streams resources in order
// (DataView::ResourcesInOrder): the roots' streams merged in key order,
// starting after the page token, each candidate checked until limit + 1
// are allowed. Its cost grows with the page (and the candidates denied on
// the way), not with the subtrees. Null when the view keeps no order.
std::optional<LookupPage> PageFromOrderedStreams(
    const Evaluator& evaluator, const DataView& data,
    const CandidateRoots& where, const LookupResourcesRequest& request) {
  struct Stream {
    std::unique_ptr<ResourceCursor> cursor;
    EntityRef head;
  };
  std::vector<Stream> streams;
  // Roots of the wanted type are candidates themselves, after the token.
  std::vector<std::string_view> own;
  auto open = [&](EntityRef root) {
    std::unique_ptr<ResourceCursor> c =
        data.ResourcesInOrder(root, request.type, request.page_token);
    if (c == nullptr) return false;
    Stream s{std::move(c), {}};
    if (s.cursor->Next(&s.head)) streams.push_back(std::move(s));
    return true;
  };
  if (where.every_resource) {
    if (!open(EntityRef{})) return std::nullopt;
  }
  for (const std::string& key : where.roots) {
    const EntityRef root = *ParseEntityRef(key);
    if (!open(root)) return std::nullopt;
    if (root.type == request.type && std::string_view(key) > request.page_token) {
      own.push_back(key);
    }
  }
  std::sort(own.begin(), own.end());
  // Every candidate is of the wanted type, so ids compare as keys do.
  auto later = [](const Stream& a, const Stream& b) { return a.head.id > b.head.id; };
  std::make_heap(streams.begin(), streams.end(), later);
  size_t next_own = 0;
  CheckRequest req = CandidateCheck(request);
  LookupPage page;
  std::string_view last;  // the id decided last: streams may overlap
  bool decided_any = false;
  while (!streams.empty() || next_own < own.size()) {
    EntityRef candidate;
    const bool from_own =
        next_own < own.size() &&
        (streams.empty() ||
         ParseEntityRef(own[next_own])->id <= streams.front().head.id);
    if (from_own) {
      candidate = *ParseEntityRef(own[next_own++]);
    } else {
      std::pop_heap(streams.begin(), streams.end(), later);
      candidate = streams.back().head;
      if (streams.back().cursor->Next(&streams.back().head)) {
        std::push_heap(streams.begin(), streams.end(), later);
      } else {
        streams.pop_back();
      }
    }
    if (decided_any && candidate.id == last) continue;
    decided_any = true;
    last = candidate.id;
    req.resource = candidate;
    if (!evaluator.Check(req, data).allowed) continue;
    if (page.refs.size() == request.limit) {
      page.next_page_token = page.refs.back();
      break;
    }
    page.refs.push_back(candidate.ToString());
  }
  return page;
}

// Checks the candidates after the request's page token in key order and
// returns the page (limit allowed keys, and the token of the next page when
// there is one more).
LookupPage PageInKeyOrder(const Evaluator& evaluator, ParentMemo& memo,
                          const Forest& forest,
                          std::vector<uint32_t> candidates,
                          const LookupResourcesRequest& request) {
  // The page: candidates after the token in key order, checked in that
  // order until limit + 1 are allowed. Only as many candidates as the page
  // may need are put in order (nth_element, then sort of that chunk), so a
  // first page of a very large result does not sort all of it.
  // Keys of one lookup share long prefixes ("file:g0f..."): each candidate
  // carries its key's first 8 bytes after the type as a big-endian number,
  // and the full keys are compared only when those are equal.
  struct Candidate {
    uint64_t prefix;
    uint32_t node;
  };
  std::vector<Candidate> sorted;
  sorted.reserve(candidates.size());
  for (uint32_t c : candidates) {
    if (!request.page_token.empty() && forest.Key(c) <= request.page_token) {
      continue;
    }
    const std::string_view id = forest.Ref(c).id;
    uint64_t prefix = 0;
    for (size_t i = 0; i < 8; ++i) {
      prefix = (prefix << 8) |
               (i < id.size() ? static_cast<unsigned char>(id[i]) : 0u);
    }
    sorted.push_back({prefix, c});
  }
  candidates = std::vector<uint32_t>();  // release it before checking
  auto less = [&](const Candidate& a, const Candidate& b) {
    if (a.prefix != b.prefix) return a.prefix < b.prefix;
    return forest.Key(a.node) < forest.Key(b.node);
  };
  auto begin = sorted.begin();
  auto end = sorted.end();
  ChainView chain(forest, memo);
  CheckRequest req = CandidateCheck(request);
  LookupPage page;
  bool full = false;
  std::string_view last;  // the key decided last
  while (begin != end && !full) {
    const size_t chunk =
        std::min<size_t>(end - begin, 2 * (request.limit + 1) + 64);
    if (chunk < static_cast<size_t>(end - begin)) {
      std::nth_element(begin, begin + chunk, end, less);
    }
    std::sort(begin, begin + chunk, less);
    for (auto it = begin; it != begin + chunk; ++it) {
      // Equal keys are adjacent in the overall order (a resource reached
      // twice through a cycle): decide each resource once.
      if (!last.empty() && forest.Key(it->node) == last) continue;
      last = forest.Key(it->node);
      chain.Start(it->node);
      req.resource = forest.Ref(it->node);
      if (!evaluator.Check(req, chain).allowed) continue;
      if (page.refs.size() == request.limit) {
        // There is at least one more: the page is full.
        page.next_page_token = page.refs.back();
        full = true;
        break;
      }
      page.refs.emplace_back(forest.Key(it->node));
    }
    begin += chunk;
  }
  return page;
}

}  // namespace

Result<LookupPage> LookupResources(const Evaluator& evaluator,
                                   const DataView& data,
                                   const LookupResourcesRequest& request) {
  const Policy& policy = evaluator.policy();
  const TypeId type = policy.FindType(request.type);
  if (type == kNoType || !policy.types[type].IsResource()) {
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
  const CandidateRoots where =
      ChooseRoots(policy, data, memo, request, action, type);
  if (data.failed()) {
    return Fail(Status::Internal("storage error: " +
                                 std::string(data.failure())));
  }
  if (std::optional<LookupPage> page =
          PageFromOrderedStreams(evaluator, data, where, request)) {
    if (data.failed()) {
      return Fail(Status::Internal("storage error: " +
                                   std::string(data.failure())));
    }
    return std::move(*page);
  }
  Forest forest;
  std::vector<uint32_t> candidates;  // forest nodes of the wanted type
  CollectCandidates(policy, data, where, request, &forest, &candidates);
  if (data.failed()) {
    return Fail(Status::Internal("storage error: " +
                                 std::string(data.failure())));
  }

  LookupPage page = PageInKeyOrder(evaluator, memo, forest,
                                   std::move(candidates), request);
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
  if (type == kNoType || !policy.types[type].IsResource()) {
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
