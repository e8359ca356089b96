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

#include <yaml-cpp/yaml.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/policy.h"
#include "policies/yaml_util.h"

namespace portcullis::policies {

struct WhenAst {
  std::string text;
  YAML::Mark mark;
};

struct AttributeAst {
  std::string name;
  engine::AttributeType type = engine::AttributeType::kAny;
  YAML::Mark mark;
};

struct TypeAst {
  std::string name;
  YAML::Mark mark;
  bool is_subject = false;
  std::vector<NameRef> parents;
  std::vector<NameRef> actions;
  std::vector<AttributeAst> attributes;
};

struct GrantItemAst {
  std::vector<NameRef> actions;
  std::optional<WhenAst> when;
  YAML::Mark mark;
};

struct GrantsForTypeAst {
  NameRef type;
  std::vector<GrantItemAst> items;
};

struct RoleAst {
  std::string name;
  YAML::Mark mark;
  std::string description;
  std::vector<NameRef> on;
  std::vector<NameRef> includes;
  std::vector<GrantsForTypeAst> grants;
};

struct RuleAst {
  std::string name;
  YAML::Mark mark;
  bool valid = true;  // name and effect read
  engine::Effect effect = engine::Effect::kAllow;
  std::vector<NameRef> actions;
  std::vector<NameRef> on;
  std::optional<WhenAst> when;
};

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

struct WorkflowsAst {
  bool present = false;
  std::map<std::string, WorkflowStepAst> steps;
};

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
