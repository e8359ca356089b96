// The policy AST: what CheckShape reads out of the YAML nodes of one policy
// file, before any name is resolved. Plain values; the passes of
// compiler_passes.h read it and build the engine::Policy from it.
//
// Internal to policies/ (it holds yaml-cpp marks).
//
// Thread safety: plain data; a PolicyAst is built and read by the one
// compilation that owns it.
//
// Invariants:
//   1. Every node keeps the position it was read from: `mark` (a
//      YAML::Mark: 0-based line, column and byte offset into the source;
//      the file is CompileState::file) on each definition, and NameRef::mark
//      on each name reference. Errors and engine::SourceLocation are made
//      from these marks and only from them.
//   2. Names are as written; uniqueness and references are checked by later
//      passes (CollectNames, ResolveReferences), not here.
#ifndef PORTCULLIS_POLICIES_POLICY_AST_H_
#define PORTCULLIS_POLICIES_POLICY_AST_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "engine/policy.h"
#include "policies/yaml_util.h"

namespace portcullis::policies {

// A condition as written: the scalar's text and the mark of the scalar
// (its quote or block indicator, if any; see CompileConditions).
struct WhenAst {
  std::string text;
  YAML::Mark mark;
};

// A declared attribute of a type (`attributes: {name: type}`).
struct AttributeAst {
  std::string name;
  engine::AttributeType type = engine::AttributeType::kAny;
  YAML::Mark mark;
};

// A subject or resource type; `mark` is its name key.
struct TypeAst {
  std::string name;
  YAML::Mark mark;
  bool is_subject = false;
  // A subject type that declares actions (or parents) is also a resource
  // type (engine::TypeDef::also_resource).
  bool also_resource = false;
  bool from_request = false;  // entities: request
  std::vector<NameRef> parents;
  std::vector<NameRef> actions;
  std::vector<AttributeAst> attributes;
};

// One entry of a role's grants on a type: plain action names, or
// {actions, when}; `mark` is the entry.
struct GrantItemAst {
  std::vector<NameRef> actions;
  std::optional<WhenAst> when;
  YAML::Mark mark;
};

// The grants of a role on one type (`type` is the key written).
struct GrantsForTypeAst {
  NameRef type;
  std::vector<GrantItemAst> items;
};

// A role; `mark` is its name key.
struct RoleAst {
  std::string name;
  YAML::Mark mark;
  std::string description;
  std::vector<NameRef> on;
  std::vector<NameRef> includes;
  std::vector<GrantsForTypeAst> grants;
};

// A rule; `mark` is its `name` value (the entry if the name is missing).
struct RuleAst {
  std::string name;
  YAML::Mark mark;
  bool valid = true;  // name and effect read
  engine::Effect effect = engine::Effect::kAllow;
  std::vector<NameRef> actions;
  std::vector<NameRef> on;
  std::optional<WhenAst> when;
};

// The `restrictions:` section.
struct RestrictionsAst {
  std::vector<NameRef> on;
  std::vector<NameRef> exempt_roles;
  engine::Precedence precedence = engine::Precedence::kRestrictionWins;
  YAML::Mark precedence_mark;
};

// One step of `workflows:`.
struct WorkflowStepAst {
  bool present = false;
  YAML::Mark mark;
  std::optional<NameRef> action;
  std::vector<NameRef> on;
  std::vector<NameRef> roles;  // `roles`, or `creator_roles` of create_group
  std::optional<NameRef> creates;      // create_group only
  std::vector<NameRef> address_types;  // invite only
};

// The step names of `workflows:`, in the order of engine::Workflows.
inline const std::vector<std::string>& WorkflowStepNames() {
  static const std::vector<std::string> kNames = {
      "create_group",
      "invite",
      "view_invitations",
      "revoke_invitation",
      "manage_members",
      "manage_permissions",
      "manage_account_administrators",
      "delete_account",
      "list_people"};
  return kNames;
}

// The `workflows:` section: the steps written, by name.
struct WorkflowsAst {
  bool present = false;
  std::map<std::string, WorkflowStepAst> steps;
};

// One policy file, as CheckShape read it.
struct PolicyAst {
  WorkflowsAst workflows;
  std::string name;
  std::vector<TypeAst> types;
  std::vector<RoleAst> roles;
  RestrictionsAst restrictions;
  std::vector<RuleAst> rules;
};

}  // namespace portcullis::policies

#endif  // PORTCULLIS_POLICIES_POLICY_AST_H_
