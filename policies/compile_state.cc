#include "policies/compile_state.h"

namespace portcullis::policies {

using engine::ActionId;
using engine::RoleId;
using engine::TypeId;

std::string JoinNames(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += out.empty() ? n : ", " + n;
  return out;
}

std::vector<std::string> CompileState::TypeNames(bool subjects,
                                                 bool resources) const {
  std::vector<std::string> out;
  for (const engine::TypeDef& t : policy->types) {
    if ((t.is_subject && subjects) || (t.IsResource() && resources)) {
      out.push_back(t.name);
    }
  }
  return out;
}

TypeId CompileState::ResolveResourceType(const NameRef& ref,
                                         const std::string& context) {
  auto it = type_ids.find(ref.name);
  if (it == type_ids.end()) {
    sink.Add(ref.mark, "unknown type '" + ref.name + "'" + context +
                           DidYouMean(ref.name, TypeNames(false, true)));
    return engine::kNoType;
  }
  if (!policy->types[it->second].IsResource()) {
    sink.Add(ref.mark, "'" + ref.name +
                           "' is a subject type (a resource "
                           "type is expected" +
                           context + ")");
    return engine::kNoType;
  }
  return it->second;
}

ActionId CompileState::ResolveAction(const NameRef& ref, TypeId type) {
  const engine::TypeDef& t = policy->types[type];
  std::vector<std::string> own;
  t.actions.ForEach(
      [&](ActionId a) { own.push_back(policy->actions[a].name); });
  auto it = action_ids.find(ref.name);
  if (it == action_ids.end()) {
    sink.Add(ref.mark, "unknown action '" + ref.name + "'" +
                           DidYouMean(ref.name, own) + "; actions of " +
                           t.name + ": " +
                           (own.empty() ? "none" : JoinNames(own)));
    return engine::kNoAction;
  }
  if (!t.actions.Contains(it->second)) {
    sink.Add(ref.mark, "action '" + ref.name + "' is not defined on type " +
                           t.name + DidYouMean(ref.name, own) +
                           "; actions of " + t.name + ": " +
                           (own.empty() ? "none" : JoinNames(own)));
    return engine::kNoAction;
  }
  return it->second;
}

RoleId CompileState::ResolveRole(const NameRef& ref) {
  auto it = role_ids.find(ref.name);
  if (it == role_ids.end()) {
    std::vector<std::string> names;
    for (const engine::RoleDef& r : policy->roles) names.push_back(r.name);
    sink.Add(ref.mark,
             "unknown role '" + ref.name + "'" + DidYouMean(ref.name, names));
    return engine::kNoRole;
  }
  return it->second;
}

}  // namespace portcullis::policies
