// The write rules a WriteTxn enforces: the policy's types, parents, roles and
// actions, and the structural rules (no cycles, bounded depth, well-formed
// names) that hold even without a policy.
#include <algorithm>

#include "engine/evaluator.h"
#include "storage/store.h"
#include "storage/store_internal.h"

namespace portcullis::storage {

Status WriteTxn::Impl::CheckResourceType(std::string_view type,
                                         engine::TypeId* id) {
  *id = engine::kNoType;
  if (policy == nullptr) return Status::Ok();
  *id = policy->FindType(type);
  if (*id == engine::kNoType) {
    return Status::InvalidArgument(
        "unknown resource type '" + std::string(type) + "'", "type");
  }
  if (!policy->types[*id].IsResource()) {
    *id = engine::kNoType;
    return Status::InvalidArgument(
        "'" + std::string(type) + "' is a subject type, not a resource type",
        "type");
  }
  return Status::Ok();
}

Status WriteTxn::Impl::CheckParentType(std::string_view type,
                                       engine::TypeId tid,
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
        "a " + std::string(type) + " needs a parent (one of: " + allowed + ")",
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

Status WriteTxn::Impl::CheckNoCycle(std::string_view self,
                                    std::string_view parent) {
  std::string cur(parent);
  for (int depth = 0; depth < engine::kMaxDepth - 1; ++depth) {
    if (cur.empty()) return Status::Ok();
    if (cur == self) {
      return Status::FailedPrecondition("placing " + std::string(self) +
                                            " under " + std::string(parent) +
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

Status WriteTxn::Impl::CheckRoles(const std::vector<std::string>& roles,
                                  std::string_view resource_type) {
  for (size_t i = 0; i < roles.size(); ++i) {
    const std::string& r = roles[i];
    if (r.empty() || r.find('\0') != std::string::npos || r.size() > 64) {
      return Status::InvalidArgument("invalid role name '" + r + "'", "roles");
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
          "role '" + r + "' cannot be bound on a " + std::string(resource_type),
          "roles");
    }
  }
  return Status::Ok();
}

Status WriteTxn::Impl::CheckSubjectType(std::string_view type) {
  if (policy == nullptr) return Status::Ok();
  const engine::TypeId t = policy->FindType(type);
  if (t == engine::kNoType || !policy->types[t].is_subject) {
    return Status::InvalidArgument(
        "'" + std::string(type) + "' is not a subject type of the policy",
        "subject");
  }
  return Status::Ok();
}

Status WriteTxn::Impl::CheckActionNames(
    const std::vector<std::string>& actions) {
  for (size_t i = 0; i < actions.size(); ++i) {
    const std::string& a = actions[i];
    if (a.empty() || a.find('\0') != std::string::npos || a.size() > 64) {
      return Status::InvalidArgument("invalid action name '" + a + "'",
                                     "actions");
    }
    if (a == "*" && actions.size() != 1) {
      return Status::InvalidArgument(
          "\"*\" restricts everything and must be the only action", "actions");
    }
    for (size_t j = 0; j < i; ++j) {
      if (actions[j] == a) {
        return Status::InvalidArgument("action '" + a + "' is listed twice",
                                       "actions");
      }
    }
  }
  return Status::Ok();
}

Status WriteTxn::Impl::CheckRestrictable(
    const std::vector<std::string>& actions, std::string_view resource_type) {
  if (policy == nullptr) return Status::Ok();
  const engine::TypeId t = policy->FindType(resource_type);
  if (t == engine::kNoType || !policy->types[t].restrictable) {
    return Status::FailedPrecondition("resources of type '" +
                                          std::string(resource_type) +
                                          "' cannot carry restrictions",
                                      "resource");
  }
  for (const std::string& a : actions) {
    if (a == "*") continue;
    const engine::ActionId id = policy->FindAction(a);
    if (id == engine::kNoAction || !policy->types[t].actions.Contains(id)) {
      return Status::InvalidArgument(
          "'" + a + "' is not an action of " + std::string(resource_type),
          "actions");
    }
  }
  return Status::Ok();
}

}  // namespace portcullis::storage
