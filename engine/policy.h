// Policy: the compiled, immutable form of a policy.
//
// policies/policy_compiler.h builds one from YAML; the evaluator reads it.
//
// Thread safety: once built and Finalize()d a Policy is never modified:
// share it between threads as std::shared_ptr<const Policy>. A reload builds a new one and swaps the
// pointer; requests keep the one they started with.
//
// Ids are dense: TypeId indexes types, ActionId indexes actions (one id per
// distinct action name across all types), RoleId indexes roles.
#ifndef PORTCULLIS_ENGINE_POLICY_H_
#define PORTCULLIS_ENGINE_POLICY_H_

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/action_set.h"
#include "engine/condition.h"
#include "engine/source_location.h"

namespace portcullis::engine {

enum class AttributeType : uint8_t {
  kAny, kBool, kInt, kNumber, kString, kTimestamp, kList
};

struct AttributeDecl {
  std::string name;
  AttributeType type = AttributeType::kAny;
  SourceLocation location;
};

// A resource type, a subject type, or both: a subject type that declares
// actions (a user whose profile others may read) is also a resource type.
// Its entities are stored once as subjects and once as resources (the
// store keeps the two apart: "user:alice" may be both).
struct TypeDef {
  std::string name;
  bool is_subject = false;
  // Only for a subject type: it declares actions, so it is a resource type
  // as well. A type that is not a subject is always a resource type.
  bool also_resource = false;
  bool IsResource() const { return !is_subject || also_resource; }
  // `entities: request`: an entity of this type that the store has never
  // seen is evaluated from the request alone (its properties as
  // attributes; as a resource, a root with no parent) instead of being
  // denied unknown_subject / unknown_resource. A stored entity of the type
  // is evaluated as usual (stored parent, stored attributes under the
  // request's properties).
  bool from_request = false;
  std::vector<TypeId> parents;  // resource types only; empty for a root type
  ActionSet actions;            // the actions defined on this type
  // Declared attributes. When non-empty, conditions may read only these.
  std::vector<AttributeDecl> attributes;
  bool restrictable = false;  // restrictions may be placed on this type
  SourceLocation location;
};

struct ActionDef {
  std::string name;
  TypeSet types;  // the types that define this action
  SourceLocation location;
};

// One entry of a role's grants: on resources of `type` at or below the
// resource the role is bound on, the role grants `actions`, if `when` holds.
struct Grant {
  RoleId role = kNoRole;  // the role that wrote this grant
  TypeId type = kNoType;
  ActionSet actions;
  std::unique_ptr<Condition> when;  // null: unconditional
  SourceLocation location;
};

struct RoleDef {
  std::string name;
  std::string description;
  TypeSet bindable_on;
  std::vector<RoleId> includes;  // as written
  // Every grant of this role, its own and those of the roles it includes
  // (transitively), as pointers into Policy::grants.
  std::vector<const Grant*> grants;
  bool exempt_from_restrictions = false;
  SourceLocation location;
};

enum class Effect : uint8_t { kAllow, kDeny };

// A rule that does not depend on a role binding. Deny rules override every
// allow; allow rules grant without a binding.
struct Rule {
  std::string name;
  Effect effect = Effect::kAllow;
  ActionSet actions;
  TypeSet types;                    // resource types it applies to
  std::unique_ptr<Condition> when;  // null: always
  SourceLocation location;
};

// How restrictions combine with grants.
enum class Precedence : uint8_t {
  // A restriction on the resource or any ancestor removes the action, whatever
  // the grant's origin (except roles exempt from restrictions).
  kRestrictionWins,
  // The nearer of the two wins: a binding on a resource at or below the
  // restriction's resource survives it; one further up does not. At the same
  // resource the restriction wins.
  kNearestWins,
};

// One step of a membership workflow (policy section `workflows:`): the
// action an actor needs, checked on the resource the step acts on, and for
// steps that grant roles, which roles they may grant.
struct WorkflowStep {
  bool defined = false;          // false: the policy does not offer the step
  ActionId action = kNoAction;   // the guard action
  TypeSet on;                    // the types of resource the step acts on
  TypeId type = kNoType;         // the first (for most steps the only) of `on`
  std::vector<RoleId> roles;     // roles the step may grant (see Workflows)
  SourceLocation location;
};

// The membership workflows of the portal (docs/policy-language.md,
// "Workflows"). Every step is optional; an undefined step is refused by the
// server with an error naming it.
struct Workflows {
  bool defined = false;  // the policy has a `workflows:` section
  // Creating a group: `action` on the container (`on`, e.g. account);
  // creates a resource of `creates`, whose creator receives `roles`.
  WorkflowStep create_group;
  TypeId creates = kNoType;
  // Inviting into a group (`on`); `roles`: what invitations may grant.
  WorkflowStep invite;
  // Subject types that stand for an address (e.g. email): an invitation to
  // one is accepted by whoever signs up with it, not by the address itself.
  TypeSet address_types;
  WorkflowStep view_invitations;
  WorkflowStep revoke_invitation;
  // Changing (to one of `roles`) or removing a member. The server refuses a
  // change after which no active member could perform this action.
  WorkflowStep manage_members;
  // Per-file raises (`roles`) and restrictions, on the types `on`.
  WorkflowStep manage_permissions;
  // Appointing and removing account administrators (`roles` are bound).
  WorkflowStep manage_account_administrators;
  WorkflowStep delete_account;
  WorkflowStep list_people;
};

class Policy {
 public:
  std::string name;
  std::string version;  // content hash of the sources, hex
  std::vector<std::string> source_files;
  std::vector<TypeDef> types;
  std::vector<ActionDef> actions;
  std::vector<RoleDef> roles;
  std::vector<std::unique_ptr<Grant>> grants;
  std::vector<Rule> rules;
  Precedence precedence = Precedence::kRestrictionWins;
  SourceLocation precedence_location;
  Workflows workflows;  // empty unless the policy has `workflows:`

  // Builds the lookup tables below. Call once, after filling the fields
  // above and before sharing the policy.
  void Finalize();

  TypeId FindType(std::string_view name) const;
  ActionId FindAction(std::string_view name) const;
  RoleId FindRole(std::string_view name) const;

  // Actions that `role` grants on `type` without a condition.
  const ActionSet& UnconditionalGrants(RoleId role, TypeId type) const {
    return unconditional_[role * types.size() + type];
  }
  // Grants of `role` on `type` that carry a condition.
  const std::vector<const Grant*>& ConditionalGrants(RoleId role,
                                                     TypeId type) const {
    return conditional_[role * types.size() + type];
  }
  // Every action `role` may grant on `type`, with or without a condition.
  const ActionSet& PossibleGrants(RoleId role, TypeId type) const {
    return possible_[role * types.size() + type];
  }
  // True if some allow rule could grant `action` on `type` without a binding.
  bool HasAllowRuleFor(ActionId action, TypeId type) const;
  // The deny rules / allow rules that apply to `action` on `type`, in policy
  // order.
  const std::vector<const Rule*>& DenyRules(TypeId type,
                                            ActionId action) const {
    return deny_rules_[type * actions.size() + action];
  }
  const std::vector<const Rule*>& AllowRules(TypeId type,
                                             ActionId action) const {
    return allow_rules_[type * actions.size() + action];
  }

 private:
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const;
  };
  using NameIndex =
      std::unordered_map<std::string, uint16_t, StringHash, std::equal_to<>>;
  NameIndex type_index_;
  NameIndex action_index_;
  NameIndex role_index_;
  std::vector<ActionSet> unconditional_;  // [role * types + type]
  std::vector<std::vector<const Grant*>> conditional_;
  std::vector<ActionSet> possible_;
  std::vector<ActionSet> allow_rule_actions_;  // [type]
  std::vector<std::vector<const Rule*>> deny_rules_;   // [type * actions + a]
  std::vector<std::vector<const Rule*>> allow_rules_;  // [type * actions + a]
};

}  // namespace portcullis::engine

#endif  // PORTCULLIS_ENGINE_POLICY_H_
