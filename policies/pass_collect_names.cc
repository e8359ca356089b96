// Pass CollectNames of the policy compiler (compiler_passes.h): types,
// actions, roles and rules get their ids; duplicate names; size limits.
#include "policies/compiler_passes.h"

#include <map>
#include <string>

#include <yaml-cpp/yaml.h>

namespace portcullis::policies {

using engine::ActionId;
using engine::RoleId;
using engine::TypeId;

void CollectNames(CompileState& st) {
  st.policy->name = st.ast.name;
  std::map<std::string, const TypeAst*> seen_types;
  for (const TypeAst& t : st.ast.types) {
    if (auto [it, fresh] = seen_types.emplace(t.name, &t); !fresh) {
      // Within one section CheckShape reported the duplicate key already.
      if (it->second->is_subject == t.is_subject) continue;
      st.sink.Add(t.mark, "duplicate type name '" + t.name +
                              "' (first defined at line " +
                              std::to_string(MarkLine(it->second->mark)) +
                              "); type names are unique across subjects and "
                              "resources: for a type that is both, declare "
                              "it once under subjects with its actions");
      continue;
    }
    if (st.policy->types.size() == engine::kMaxTypes) {
      st.sink.Add(t.mark, "too many types: at most " +
                              std::to_string(engine::kMaxTypes) +
                              " subject and resource types");
      continue;
    }
    engine::TypeDef def;
    def.name = t.name;
    def.is_subject = t.is_subject;
    def.also_resource = t.also_resource;
    def.from_request = t.from_request;
    def.location = st.sink.Location(t.mark);
    for (const AttributeAst& a : t.attributes) {
      def.attributes.push_back(
          engine::AttributeDecl{a.name, a.type, st.sink.Location(a.mark)});
    }
    st.type_ast.push_back(&t);
    st.type_ids[t.name] = static_cast<TypeId>(st.policy->types.size());
    st.policy->types.push_back(std::move(def));
  }
  // Actions: one id per distinct name across all types.
  for (size_t ti = 0; ti < st.type_ast.size(); ++ti) {
    for (const NameRef& a : st.type_ast[ti]->actions) {
      auto it = st.action_ids.find(a.name);
      ActionId id;
      if (it == st.action_ids.end()) {
        if (st.policy->actions.size() == engine::kMaxActions) {
          st.sink.Add(a.mark, "too many actions: at most " +
                                  std::to_string(engine::kMaxActions) +
                                  " distinct action names");
          continue;
        }
        id = static_cast<ActionId>(st.policy->actions.size());
        st.action_ids[a.name] = id;
        engine::ActionDef def;
        def.name = a.name;
        def.location = st.sink.Location(a.mark);
        st.policy->actions.push_back(std::move(def));
      } else {
        id = it->second;
      }
      st.policy->actions[id].types.Add(static_cast<TypeId>(ti));
      st.policy->types[ti].actions.Add(id);
    }
  }
  for (const RoleAst& r : st.ast.roles) {
    // Duplicate role names are reported by CheckNameMap (duplicate key).
    if (st.role_ids.count(r.name)) continue;
    if (st.policy->roles.size() == engine::kMaxRoles) {
      st.sink.Add(r.mark, "too many roles: at most " +
                              std::to_string(engine::kMaxRoles));
      continue;
    }
    engine::RoleDef def;
    def.name = r.name;
    def.description = r.description;
    def.location = st.sink.Location(r.mark);
    st.role_ast.push_back(&r);
    st.role_ids[r.name] = static_cast<RoleId>(st.policy->roles.size());
    st.policy->roles.push_back(std::move(def));
  }
  std::map<std::string, YAML::Mark> seen_rules;
  for (const RuleAst& r : st.ast.rules) {
    if (!r.valid) continue;
    if (auto [it, fresh] = seen_rules.emplace(r.name, r.mark); !fresh) {
      st.sink.Add(r.mark, "duplicate rule name '" + r.name +
                              "' (first defined at line " +
                              std::to_string(MarkLine(it->second)) + ")");
    }
  }
}

}  // namespace portcullis::policies
