// Pass FlattenRoleGrants of the policy compiler (compiler_passes.h): each
// role's grants plus those of the roles it includes; each grant must be
// reachable from a type the role can be bound on.
#include "policies/compiler_passes.h"

#include <functional>
#include <set>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

namespace portcullis::policies {
namespace {

using engine::RoleId;
using engine::TypeId;

// The type key grant g was written under.
YAML::Mark GrantTypeMark(const CompileState& st, const engine::Grant* g) {
  for (const PendingGrant& p : st.role_grants[g->role]) {
    if (p.grant == g) return p.type_mark;
  }
  return YAML::Mark();
}

}  // namespace

void FlattenRoleGrants(CompileState& st) {
  const size_t n_types = st.policy->types.size();
  // at_or_below[t]: the types b such that t is b or lies below b.
  std::vector<engine::TypeSet> at_or_below(n_types);
  for (TypeId t = 0; t < n_types; ++t) {
    std::vector<TypeId> todo = {t};
    std::vector<bool> seen(n_types, false);
    seen[t] = true;
    while (!todo.empty()) {
      const TypeId x = todo.back();
      todo.pop_back();
      at_or_below[t].Add(x);
      for (TypeId p : st.policy->types[x].parents) {
        if (!seen[p]) {
          seen[p] = true;
          todo.push_back(p);
        }
      }
    }
  }
  std::set<const engine::Grant*> reported;
  for (RoleId r = 0; r < st.policy->roles.size(); ++r) {
    engine::RoleDef& def = st.policy->roles[r];
    std::vector<bool> seen(st.policy->roles.size(), false);
    std::vector<RoleId> order;
    std::function<void(RoleId)> collect = [&](RoleId x) {
      if (seen[x]) return;
      seen[x] = true;
      order.push_back(x);
      for (RoleId inc : st.policy->roles[x].includes) collect(inc);
    };
    collect(r);
    for (RoleId x : order) {
      for (const PendingGrant& g : st.role_grants[x]) {
        def.grants.push_back(g.grant);
      }
    }
    if (st.role_on[r].empty()) continue;  // only included by other roles
    for (const engine::Grant* g : def.grants) {
      bool reachable = false;
      for (TypeId on : st.role_on[r]) {
        reachable = reachable || at_or_below[g->type].Contains(on);
      }
      if (reachable || !reported.insert(g).second) continue;
      std::vector<std::string> on_names;
      for (TypeId on : st.role_on[r])
        on_names.push_back(st.policy->types[on].name);
      const std::string via =
          g->role == r
              ? ""
              : " (included from role " + st.policy->roles[g->role].name + ")";
      st.sink.Add(GrantTypeMark(st, g),
                  "role " + def.name + " grants on type " +
                      st.policy->types[g->type].name + via +
                      ", which is not at or below any type "
                      "the role can be bound on (" +
                      JoinNames(on_names) + ")");
    }
  }
}

}  // namespace portcullis::policies
