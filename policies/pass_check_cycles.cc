// Pass CheckCycles of the policy compiler (compiler_passes.h): cycles in
// parents (a type may list itself, for nesting) and in role includes.
#include "policies/compiler_passes.h"

#include <algorithm>
#include <functional>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

namespace portcullis::policies {
namespace {

using engine::RoleId;
using engine::TypeId;

// Where type t names its parent p (or t itself if not found).
YAML::Mark ParentMark(const CompileState& st, TypeId t, TypeId p) {
  for (const NameRef& ref : st.type_ast[t]->parents) {
    if (ref.name == st.policy->types[p].name) return ref.mark;
  }
  return st.type_ast[t]->mark;
}

// A depth-first search for cycles along the `edges` of `defs`: calls
// report(from, to, path) for each edge that closes one, with `path` reading
// "a -> b -> a". A self-edge is skipped if `skip_self`. Returns true if
// there was no cycle.
template <typename Def, typename Id, typename Report>
bool FindCycles(const std::vector<Def>& defs, std::vector<Id> Def::*edges,
                bool skip_self, Report report) {
  bool ok = true;
  std::vector<int> state(defs.size(), 0);  // 0 new, 1 on stack, 2 done
  std::vector<Id> stack;
  std::function<void(Id)> visit = [&](Id x) {
    state[x] = 1;
    stack.push_back(x);
    for (Id y : defs[x].*edges) {
      if (skip_self && y == x) continue;
      if (state[y] == 1) {
        std::string path;
        for (auto i = std::find(stack.begin(), stack.end(), y);
             i != stack.end(); ++i) {
          path += defs[*i].name + " -> ";
        }
        path += defs[y].name;
        report(x, y, path);
        ok = false;
      } else if (state[y] == 0) {
        visit(y);
      }
    }
    stack.pop_back();
    state[x] = 2;
  };
  for (Id x = 0; x < defs.size(); ++x) {
    if (state[x] == 0) visit(x);
  }
  return ok;
}

}  // namespace

void CheckCycles(CompileState& st) {
  // Parents (a self-edge is nesting, not a cycle).
  const bool parents_ok = FindCycles(
      st.policy->types, &engine::TypeDef::parents, /*skip_self=*/true,
      [&](TypeId t, TypeId p, const std::string& path) {
        st.sink.Add(ParentMark(st, t, p),
                    "cycle in parents: " + path +
                        " (only a type's own name may repeat, for nesting)");
      });
  const bool includes_ok = FindCycles(
      st.policy->roles, &engine::RoleDef::includes, /*skip_self=*/false,
      [&](RoleId r, RoleId inc, const std::string& path) {
        st.sink.Add(st.include_marks[{r, inc}],
                    "cycle in role includes: " + path);
      });
  st.acyclic = parents_ok && includes_ok;
}

}  // namespace portcullis::policies
