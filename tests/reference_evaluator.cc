#include "tests/reference_evaluator.h"

#include <string>
#include <string_view>
#include <vector>

namespace portcullis::testing {
namespace {

using engine::ActionId;
using engine::ActionSet;
using engine::CheckRequest;
using engine::ConditionInputs;
using engine::ConditionResult;
using engine::DataView;
using engine::EntityRef;
using engine::Policy;
using engine::RoleId;
using engine::TypeId;

constexpr int kNotFound = -1;

int IndexOfType(const Policy& p, std::string_view name) {
  for (size_t i = 0; i < p.types.size(); ++i) {
    if (p.types[i].name == name) return static_cast<int>(i);
  }
  return kNotFound;
}

int IndexOfAction(const Policy& p, std::string_view name) {
  for (size_t i = 0; i < p.actions.size(); ++i) {
    if (p.actions[i].name == name) return static_cast<int>(i);
  }
  return kNotFound;
}

int IndexOfRole(const Policy& p, std::string_view name) {
  for (size_t i = 0; i < p.roles.size(); ++i) {
    if (p.roles[i].name == name) return static_cast<int>(i);
  }
  return kNotFound;
}

std::vector<std::string> Names(const engine::PackedNames& packed) {
  std::vector<std::string> out;
  packed.ForEach([&](std::string_view n) { out.emplace_back(n); });
  return out;
}

// `role` and every role it includes, directly or not.
std::vector<bool> RoleClosure(const Policy& p, RoleId role) {
  std::vector<bool> in(p.roles.size(), false);
  in[role] = true;
  bool grew = true;
  while (grew) {
    grew = false;
    for (size_t r = 0; r < p.roles.size(); ++r) {
      if (!in[r]) continue;
      for (RoleId inc : p.roles[r].includes) {
        if (!in[inc]) {
          in[inc] = true;
          grew = true;
        }
      }
    }
  }
  return in;
}

// True if the condition is absent or evaluates to true. An error is not true.
bool Holds(const engine::Condition* c, const ConditionInputs& in) {
  if (c == nullptr) return true;
  engine::EvalError err;
  return c->Evaluate(in, &err) == ConditionResult::kTrue;
}

bool Errs(const engine::Condition* c, const ConditionInputs& in) {
  if (c == nullptr) return false;
  engine::EvalError err;
  return c->Evaluate(in, &err) == ConditionResult::kError;
}

}  // namespace

bool ReferenceAllowed(const Policy& p, const CheckRequest& req,
                      const DataView& data) {
  // 1. Unknown resource type, resource, subject or action: deny.
  const int type = IndexOfType(p, req.resource.type);
  if (type == kNotFound || !p.types[type].IsResource()) return false;
  if (!data.GetResource(req.resource)) return false;
  if (!data.SubjectExists(req.subject)) return false;
  const int action = IndexOfAction(p, req.action);
  if (action == kNotFound || !p.actions[action].types.Contains(type)) {
    return false;
  }

  // The resource and its ancestors, nearest first. More than kMaxDepth
  // entries (or a cycle, which never ends) is a deny.
  std::vector<EntityRef> path;
  EntityRef node = req.resource;
  while (true) {
    path.push_back(node);
    if (path.size() > static_cast<size_t>(engine::kMaxDepth)) return false;
    std::optional<engine::ResourceInfo> info = data.GetResource(node);
    if (!info || info->parent.empty()) break;
    if (!data.GetResource(info->parent)) break;  // dangling parent
    node = info->parent;
  }

  ConditionInputs in;
  in.data = &data;
  in.subject = req.subject;
  in.resource = req.resource;
  in.action = req.action;
  in.subject_properties = req.subject_properties;
  in.resource_properties = req.resource_properties;
  in.action_properties = req.action_properties;
  in.context = req.context;
  in.now = req.now;

  // 2. A deny rule that matches or fails to evaluate denies.
  for (const engine::Rule& rule : p.rules) {
    if (rule.effect != engine::Effect::kDeny) continue;
    if (!rule.actions.Contains(action) || !rule.types.Contains(type)) continue;
    if (Holds(rule.when.get(), in) || Errs(rule.when.get(), in)) return false;
  }

  // Where on the path a restriction covers this action.
  std::vector<size_t> restricted_at;
  for (size_t i = 0; i < path.size(); ++i) {
    engine::SubjectAccess access = data.GetAccess(req.subject, path[i]);
    if (!access.restriction) continue;
    const int t = IndexOfType(p, path[i].type);
    if (t == kNotFound || !p.types[t].restrictable) continue;
    for (const std::string& a : Names(access.restriction->actions)) {
      if (a == "*" || a == req.action) {
        restricted_at.push_back(i);
        break;
      }
    }
  }

  // 3. A role held on the path that grants the action, not taken away.
  for (size_t j = 0; j < path.size(); ++j) {
    engine::SubjectAccess access = data.GetAccess(req.subject, path[j]);
    if (!access.binding) continue;
    const engine::StoredBinding& b = *access.binding;
    if (b.state == engine::BindingState::kPending) continue;
    if (b.expires_at <= req.now) continue;
    for (const std::string& role_name : Names(b.roles)) {
      const int role = IndexOfRole(p, role_name);
      if (role == kNotFound) continue;
      const std::vector<bool> closure = RoleClosure(p, role);
      bool grants = false;
      for (const auto& g : p.grants) {
        if (closure[g->role] && g->type == type &&
            g->actions.Contains(action) && Holds(g->when.get(), in)) {
          grants = true;
        }
      }
      if (!grants) continue;
      bool removed = false;
      if (!p.roles[role].exempt_from_restrictions) {
        for (size_t i : restricted_at) {
          if (p.precedence == engine::Precedence::kRestrictionWins || i <= j) {
            removed = true;
          }
        }
      }
      if (!removed) return true;
    }
  }

  // 4. An allow rule that matches, unless any restriction covers the action.
  for (const engine::Rule& rule : p.rules) {
    if (rule.effect != engine::Effect::kAllow) continue;
    if (!rule.actions.Contains(action) || !rule.types.Contains(type)) continue;
    if (Holds(rule.when.get(), in) && restricted_at.empty()) return true;
  }

  // 5. Otherwise deny.
  return false;
}

ActionSet ReferenceAllowedActions(const Policy& p, const CheckRequest& req,
                                  const DataView& data) {
  ActionSet out;
  for (size_t a = 0; a < p.actions.size(); ++a) {
    CheckRequest one = req;
    one.action = p.actions[a].name;
    if (ReferenceAllowed(p, one, data)) out.Add(static_cast<ActionId>(a));
  }
  return out;
}

}  // namespace portcullis::testing
