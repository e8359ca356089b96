// CompileState: what one compilation of one policy file shares between the
// passes of the policy compiler (compiler_passes.h): the source text, the
// errors found so far, the AST, the engine::Policy being built, and the
// indexes from names to ids, with the lookups that report unknown names.
//
// Internal to policies/ (it holds yaml-cpp nodes and marks).
//
// Thread safety: none. One compilation owns its state and runs its passes
// in order on one thread; neither copyable nor movable (`sink` points at
// `errors`).
//
// Invariants (each holds from the pass named onwards):
//   1. `errors` holds every error reported so far, through `sink` or
//      directly; an error never goes away.
//   2. CollectNames: type_ast[i] and role_ast[i] point into `ast` and are
//      the definitions of policy->types[i] and policy->roles[i];
//      type_ids, action_ids and role_ids map each name to its index in
//      policy->types, policy->actions and policy->roles.
//   3. ResolveReferences: rule_ast[i] and rule_types[i] describe
//      policy->rules[i]; role_on and role_grants have one entry per role;
//      every PendingGrant::grant is owned by policy->grants.
//   4. CheckCycles: `acyclic` is true if neither parents nor role includes
//      have a cycle.
#ifndef PORTCULLIS_POLICIES_COMPILE_STATE_H_
#define PORTCULLIS_POLICIES_COMPILE_STATE_H_

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "engine/policy.h"
#include "policies/policy_ast.h"
#include "policies/policy_error.h"
#include "policies/yaml_util.h"

namespace portcullis::policies {

// A grant of a role before FlattenRoleGrants; `when` is null for a plain
// action, else the condition CompileConditions compiles into grant->when.
struct PendingGrant {
  engine::Grant* grant;
  const WhenAst* when;
  YAML::Mark type_mark;  // the type key the grant was written under
};

struct CompileState {
  // REQUIRES: `source` outlives the state.
  CompileState(std::string_view source, const std::string& file)
      : source(source),
        file(file),
        sink(file, &errors),
        policy(std::make_shared<engine::Policy>()) {}
  CompileState(const CompileState&) = delete;
  CompileState& operator=(const CompileState&) = delete;

  // Lookups shared by the passes. Each reports an unknown (or wrong kind
  // of) name at the reference and returns kNoType / kNoAction / kNoRole.
  std::vector<std::string> TypeNames(bool subjects, bool resources) const;
  engine::TypeId ResolveResourceType(const NameRef& ref,
                                     const std::string& context);
  // An action that must be defined on `type`.
  engine::ActionId ResolveAction(const NameRef& ref, engine::TypeId type);
  engine::RoleId ResolveRole(const NameRef& ref);

  std::string_view source;  // the whole text; hashed into Policy::version
  std::string file;         // the name errors and locations give
  PolicyErrors errors;
  ErrorSink sink;

  std::optional<YAML::Node> root;  // ParseYaml's output, or the caller's
  PolicyAst ast;
  std::shared_ptr<engine::Policy> policy;
  bool acyclic = true;
  std::string_view current_pass;  // the running pass's name, for traces

  std::vector<const TypeAst*> type_ast;  // by TypeId
  std::vector<const RoleAst*> role_ast;  // by RoleId
  std::vector<const RuleAst*> rule_ast;  // by index in policy->rules
  std::vector<std::vector<engine::TypeId>> rule_types;
  std::vector<std::vector<engine::TypeId>> role_on;
  std::vector<std::vector<PendingGrant>> role_grants;  // own grants, by role
  std::map<std::pair<engine::RoleId, engine::RoleId>, YAML::Mark> include_marks;
  std::map<std::string, engine::TypeId> type_ids;
  std::map<std::string, engine::ActionId> action_ids;
  std::map<std::string, engine::RoleId> role_ids;
};

// "a, b, c".
std::string JoinNames(const std::vector<std::string>& names);

}  // namespace portcullis::policies

#endif  // PORTCULLIS_POLICIES_COMPILE_STATE_H_
