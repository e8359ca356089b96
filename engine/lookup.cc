#include "engine/lookup.h"

#include <set>

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

// Adds every resource of `type` at or below `root` to `out`.
void CollectSubtree(const DataView& data, EntityRef root,
                    std::string_view type, std::set<std::string>* out,
                    std::set<std::string>* visited) {
  std::vector<std::string> stack;
  stack.push_back(root.ToString());
  while (!stack.empty()) {
    std::string key = std::move(stack.back());
    stack.pop_back();
    if (!visited->insert(key).second) continue;
    const std::optional<EntityRef> ref = ParseEntityRef(key);
    if (!ref) continue;
    if (ref->type == type) out->insert(key);
    data.ForEachChild(*ref, [&](EntityRef child) {
      stack.push_back(child.ToString());
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

// Checks candidates in sorted order after `token` and fills one page.
template <typename MakeRequest>
LookupPage Paginate(const Evaluator& evaluator, const DataView& data,
                    const std::set<std::string>& candidates,
                    std::string_view token, size_t limit,
                    MakeRequest make_request) {
  LookupPage page;
  auto it = token.empty() ? candidates.begin()
                          : candidates.upper_bound(std::string(token));
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
    page.refs.push_back(*it);
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

  std::set<std::string> candidates;
  std::set<std::string> visited;
  if (policy.HasAllowRuleFor(action, type)) {
    // A rule may allow without any binding: every resource of the type is a
    // candidate.
    if (has_under) {
      CollectSubtree(data, request.under, request.type, &candidates, &visited);
    } else {
      data.ForEachResourceOfType(request.type, [&](EntityRef r) {
        candidates.insert(r.ToString());
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
      if (!has_under) {
        CollectSubtree(data, root, request.type, &candidates, &visited);
      } else if (IsAtOrBelow(data, root, request.under)) {
        CollectSubtree(data, root, request.type, &candidates, &visited);
      } else if (IsAtOrBelow(data, request.under, root)) {
        CollectSubtree(data, request.under, request.type, &candidates,
                       &visited);
      }
    }
  }
  if (data.failed()) {
    return Fail(Status::Internal("storage error: " +
                                 std::string(data.failure())));
  }
  LookupPage page = Paginate(
      evaluator, data, candidates, request.page_token, request.limit,
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

  std::set<std::string> candidates;
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
        candidates.insert(s.ToString());
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
          candidates.insert(s.ToString());
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
  LookupPage page = Paginate(
      evaluator, data, candidates, request.page_token, request.limit,
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
