// Pass ResolveReferences of the policy compiler (compiler_passes.h): every
// name a definition refers to (parents, role `on`, `includes` and grants,
// restrictions, rule targets, the `workflows:` steps) resolved to its id.
#include "policies/compiler_passes.h"

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

namespace portcullis::policies {
namespace {

using engine::ActionId;
using engine::RoleId;
using engine::TypeId;

// Workflows: each step's action must be defined on each of its types;
// roles must exist and be bindable where the step binds them.
void ResolveWorkflows(CompileState& st) {
  engine::Workflows& wf = st.policy->workflows;
  wf.defined = st.ast.workflows.present;
  engine::WorkflowStep* steps[] = {&wf.create_group,
                                   &wf.invite,
                                   &wf.view_invitations,
                                   &wf.revoke_invitation,
                                   &wf.manage_members,
                                   &wf.manage_permissions,
                                   &wf.manage_account_administrators,
                                   &wf.delete_account,
                                   &wf.list_people};
  const std::vector<std::string>& names = WorkflowStepNames();
  for (size_t i = 0; i < names.size(); ++i) {
    auto it = st.ast.workflows.steps.find(names[i]);
    if (it == st.ast.workflows.steps.end()) continue;
    const WorkflowStepAst& a = it->second;
    engine::WorkflowStep& step = *steps[i];
    const std::string ctx = " in workflow step " + names[i];
    bool ok = a.action.has_value() && !a.on.empty();
    std::vector<TypeId> types;
    for (const NameRef& on : a.on) {
      const TypeId t = st.ResolveResourceType(on, ctx);
      if (t == engine::kNoType) {
        ok = false;
        continue;
      }
      types.push_back(t);
      step.on.Add(t);
    }
    if (names[i] != "manage_permissions" && a.on.size() > 1) {
      st.sink.Add(a.on[1].mark, "workflow step " + names[i] +
                                    " acts on one type; give a single type "
                                    "in 'on'");
      ok = false;
    }
    if (a.action) {
      for (TypeId t : types) {
        const ActionId id = st.ResolveAction(*a.action, t);
        if (id == engine::kNoAction) {
          ok = false;
          break;  // one error per action
        }
        step.action = id;
      }
    }
    // The types the step's roles are bound on.
    std::vector<TypeId> bind_on = types;
    if (a.creates) {
      const TypeId c = st.ResolveResourceType(*a.creates, ctx);
      if (c == engine::kNoType) {
        ok = false;
      } else {
        wf.creates = c;
        bind_on = {c};
        const auto& parents = st.policy->types[c].parents;
        for (TypeId t : types) {
          if (std::find(parents.begin(), parents.end(), t) == parents.end()) {
            st.sink.Add(a.creates->mark, "type " + a.creates->name +
                                             " cannot be created under " +
                                             st.policy->types[t].name +
                                             ": it is not one of its parents");
            ok = false;
          }
        }
      }
    }
    for (const NameRef& r : a.roles) {
      const RoleId id = st.ResolveRole(r);
      if (id == engine::kNoRole) {
        ok = false;
        continue;
      }
      for (TypeId t : bind_on) {
        if (!st.policy->roles[id].bindable_on.Contains(t)) {
          st.sink.Add(r.mark, "role " + r.name + " cannot be bound on " +
                                  st.policy->types[t].name + ctx +
                                  " (see the role's 'on')");
          ok = false;
        }
      }
      step.roles.push_back(id);
    }
    for (const NameRef& t : a.address_types) {
      auto found = st.type_ids.find(t.name);
      if (found == st.type_ids.end() ||
          !st.policy->types[found->second].is_subject) {
        st.sink.Add(t.mark, "unknown subject type '" + t.name + "'" + ctx +
                                DidYouMean(t.name, st.TypeNames(true, false)));
        ok = false;
        continue;
      }
      wf.address_types.Add(found->second);
    }
    step.type = types.empty() ? engine::kNoType : types.front();
    step.location = st.sink.Location(a.mark);
    step.defined = ok;
  }
}

// Each type's parents.
void ResolveParents(CompileState& st) {
  for (size_t ti = 0; ti < st.type_ast.size(); ++ti) {
    for (const NameRef& p : st.type_ast[ti]->parents) {
      const TypeId parent = st.ResolveResourceType(
          p, " in the parents of " + st.type_ast[ti]->name);
      if (parent != engine::kNoType) {
        st.policy->types[ti].parents.push_back(parent);
      }
    }
  }
}

// The grants of role `ri`: one engine::Grant per plain action (each keeps
// its own line), one per conditional item.
void ResolveRoleGrants(CompileState& st, size_t ri) {
  const RoleAst& r = *st.role_ast[ri];
  for (const GrantsForTypeAst& g : r.grants) {
    const TypeId type =
        st.ResolveResourceType(g.type, " in the grants of role " + r.name);
    if (type == engine::kNoType) continue;
    for (const GrantItemAst& item : g.items) {
      if (!item.when) {
        for (const NameRef& a : item.actions) {
          const ActionId id = st.ResolveAction(a, type);
          if (id == engine::kNoAction) continue;
          auto grant = std::make_unique<engine::Grant>();
          grant->role = static_cast<RoleId>(ri);
          grant->type = type;
          grant->actions.Add(id);
          grant->location = st.sink.Location(a.mark);
          st.role_grants[ri].push_back({grant.get(), nullptr, g.type.mark});
          st.policy->grants.push_back(std::move(grant));
        }
        continue;
      }
      auto grant = std::make_unique<engine::Grant>();
      grant->role = static_cast<RoleId>(ri);
      grant->type = type;
      grant->location = st.sink.Location(item.mark);
      for (const NameRef& a : item.actions) {
        const ActionId id = st.ResolveAction(a, type);
        if (id != engine::kNoAction) grant->actions.Add(id);
      }
      st.role_grants[ri].push_back({grant.get(), &*item.when, g.type.mark});
      st.policy->grants.push_back(std::move(grant));
    }
  }
}

// Each role's `on`, `includes` and grants.
void ResolveRoles(CompileState& st) {
  st.role_grants.resize(st.role_ast.size());
  for (size_t ri = 0; ri < st.role_ast.size(); ++ri) {
    const RoleAst& r = *st.role_ast[ri];
    engine::RoleDef& def = st.policy->roles[ri];
    for (const NameRef& on : r.on) {
      auto it = st.type_ids.find(on.name);
      if (it == st.type_ids.end()) {
        st.sink.Add(on.mark,
                    "unknown type '" + on.name + "' in 'on' of role " + r.name +
                        DidYouMean(on.name, st.TypeNames(false, true)));
        continue;
      }
      if (!st.policy->types[it->second].IsResource()) {
        st.sink.Add(on.mark,
                    "role " + r.name + " cannot be bound on subject type '" +
                        on.name + "': roles are bound on resource types");
        continue;
      }
      def.bindable_on.Add(it->second);
      st.role_on.resize(st.role_ast.size());
      st.role_on[ri].push_back(it->second);
    }
    for (const NameRef& inc : r.includes) {
      const RoleId id = st.ResolveRole(inc);
      if (id != engine::kNoRole) {
        def.includes.push_back(id);
        st.include_marks[{ri, id}] = inc.mark;
      }
    }
    ResolveRoleGrants(st, ri);
  }
}

void ResolveRestrictions(CompileState& st) {
  for (const NameRef& on : st.ast.restrictions.on) {
    const TypeId t = st.ResolveResourceType(on, " in 'on' of restrictions");
    if (t != engine::kNoType) st.policy->types[t].restrictable = true;
  }
  for (const NameRef& r : st.ast.restrictions.exempt_roles) {
    const RoleId id = st.ResolveRole(r);
    if (id != engine::kNoRole) {
      st.policy->roles[id].exempt_from_restrictions = true;
    }
  }
  st.policy->precedence = st.ast.restrictions.precedence;
  st.policy->precedence_location =
      st.sink.Location(st.ast.restrictions.precedence_mark);
}

// Each rule's targets and actions; the actions must be defined on every
// type of `on`.
void ResolveRules(CompileState& st) {
  for (const RuleAst& r : st.ast.rules) {
    if (!r.valid) continue;
    st.rule_ast.push_back(&r);
    engine::Rule rule;
    rule.name = r.name;
    rule.effect = r.effect;
    rule.location = st.sink.Location(r.mark);
    std::vector<TypeId> types;
    for (const NameRef& on : r.on) {
      const TypeId t = st.ResolveResourceType(on, " in 'on' of rule " + r.name);
      if (t == engine::kNoType) continue;
      rule.types.Add(t);
      types.push_back(t);
    }
    for (const NameRef& a : r.actions) {
      for (TypeId t : types) {
        const ActionId id = st.ResolveAction(a, t);
        if (id == engine::kNoAction) break;  // one error per action
        rule.actions.Add(id);
      }
    }
    st.rule_types.push_back(std::move(types));
    st.policy->rules.push_back(std::move(rule));
  }
}

}  // namespace

void ResolveReferences(CompileState& st) {
  ResolveParents(st);
  ResolveRoles(st);
  st.role_on.resize(st.role_ast.size());
  ResolveRestrictions(st);
  ResolveWorkflows(st);
  ResolveRules(st);
}

}  // namespace portcullis::policies
