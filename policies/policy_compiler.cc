#include "policies/policy_compiler.h"

#include <algorithm>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include "policies/condition_parser.h"
#include "policies/yaml_util.h"

namespace portcullis::policies {
namespace {

using engine::ActionId;
using engine::RoleId;
using engine::TypeId;

// ---------------------------------------------------------------- the AST

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
  std::optional<NameRef> creates;           // create_group only
  std::vector<NameRef> address_types;       // invite only
};

// The step names of `workflows:`, in the order of engine::Workflows.
const std::vector<std::string>& WorkflowStepNames() {
  static const std::vector<std::string> kNames = {
      "create_group",      "invite",
      "view_invitations",  "revoke_invitation",
      "manage_members",    "manage_permissions",
      "manage_account_administrators", "delete_account",
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

std::string JoinNames(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += out.empty() ? n : ", " + n;
  return out;
}

bool IsValidAttributeName(std::string_view s) {
  size_t start = 0;
  while (true) {
    const size_t dot = s.find('.', start);
    const std::string_view seg =
        s.substr(start, dot == std::string_view::npos ? s.npos : dot - start);
    if (!IsValidName(seg)) return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

// ------------------------------------------------------------ the compiler

class Compiler {
 public:
  Compiler(std::string_view source, const std::string& file)
      : source_(source), file_(file), sink_(file, &errors_) {}

  PolicyResult Run(const YAML::Node& root) {
    CheckShape(root);
    policy_ = std::make_shared<engine::Policy>();
    CollectNames();
    ResolveReferences();
    const bool acyclic = CheckCycles();
    CompileConditions();
    if (acyclic) FlattenRoleGrants();
    if (!errors_.empty()) {
      std::stable_sort(errors_.begin(), errors_.end(),
                       [](const PolicyError& a, const PolicyError& b) {
                         return std::tie(a.line, a.column) <
                                std::tie(b.line, b.column);
                       });
      return tl::unexpected<PolicyErrors>(std::move(errors_));
    }
    return BuildPolicy();
  }

 private:
  // ------------------------------------------------ pass 2: CheckShape

  void CheckShape(const YAML::Node& root) {
    if (!CheckMap(root, "the policy",
                  {"name", "description", "subjects", "resources", "roles",
                   "restrictions", "rules", "workflows"},
                  {"name", "subjects", "resources"}, sink_)) {
      return;
    }
    if (YAML::Node n = Get(root, "name"); n.IsDefined()) {
      if (auto s = ReadString(n, "name", sink_)) ast_.name = *s;
    }
    if (YAML::Node n = Get(root, "description"); n.IsDefined()) {
      ReadString(n, "description", sink_);
    }
    if (YAML::Node n = Get(root, "subjects"); n.IsDefined()) {
      ShapeTypes(n, /*is_subject=*/true);
    }
    if (YAML::Node n = Get(root, "resources"); n.IsDefined()) {
      ShapeTypes(n, /*is_subject=*/false);
    }
    if (YAML::Node n = Get(root, "roles"); n.IsDefined() && !n.IsNull()) {
      ShapeRoles(n);
    }
    if (YAML::Node n = Get(root, "restrictions"); n.IsDefined()) {
      ShapeRestrictions(n);
    }
    if (YAML::Node n = Get(root, "rules"); n.IsDefined() && !n.IsNull()) {
      ShapeRules(n);
    }
    if (YAML::Node n = Get(root, "workflows"); n.IsDefined()) {
      ShapeWorkflows(n);
    }
  }

  void ShapeWorkflows(const YAML::Node& map) {
    ast_.workflows.present = true;
    if (!CheckMap(map, "workflows", WorkflowStepNames(), {}, sink_)) return;
    for (const std::string& step : WorkflowStepNames()) {
      const YAML::Node body = Get(map, step);
      if (!body.IsDefined()) continue;
      const std::string what = "workflow step '" + step + "'";
      std::vector<std::string> allowed = {"description", "action", "on"};
      std::vector<std::string> required = {"action", "on"};
      if (step == "create_group") {
        allowed.insert(allowed.end(), {"creates", "creator_roles"});
        required.push_back("creates");
      } else if (step == "invite") {
        allowed.insert(allowed.end(), {"roles", "address_types"});
        required.push_back("roles");
      } else if (step == "manage_members" || step == "manage_permissions" ||
                 step == "manage_account_administrators") {
        allowed.push_back("roles");
        required.push_back("roles");
      }
      if (body.IsNull()) {
        sink_.Add(KeyMark(map, step),
                  what + " must be a mapping with at least 'action' and 'on'");
        continue;
      }
      if (!CheckMap(body, what, allowed, required, sink_)) continue;
      WorkflowStepAst s;
      s.present = true;
      s.mark = KeyMark(map, step);
      if (YAML::Node d = Get(body, "description"); d.IsDefined()) {
        ReadString(d, "description", sink_);
      }
      if (YAML::Node a = Get(body, "action"); a.IsDefined()) {
        if (auto n = ReadName(a, "action", sink_)) s.action = NameRef{*n, a.Mark()};
      }
      if (YAML::Node o = Get(body, "on"); o.IsDefined()) {
        s.on = ReadNameList(o, "type", sink_);
      }
      const char* roles_key = step == "create_group" ? "creator_roles" : "roles";
      if (YAML::Node r = Get(body, roles_key); r.IsDefined()) {
        s.roles = ReadNameList(r, "role", sink_);
      }
      if (YAML::Node c = Get(body, "creates"); c.IsDefined()) {
        if (auto n = ReadName(c, "type", sink_)) s.creates = NameRef{*n, c.Mark()};
      }
      if (YAML::Node t = Get(body, "address_types"); t.IsDefined()) {
        s.address_types = ReadNameList(t, "subject type", sink_);
      }
      ast_.workflows.steps[step] = std::move(s);
    }
  }

  void ShapeTypes(const YAML::Node& map, bool is_subject) {
    const char* section = is_subject ? "subjects" : "resources";
    if (!CheckNameMap(map, section, sink_)) return;
    for (auto it = map.begin(); it != map.end(); ++it) {
      std::optional<std::string> name =
          ReadName(it->first, is_subject ? "subject type" : "resource type",
                   sink_);
      if (!name) continue;
      TypeAst t;
      t.name = *name;
      t.mark = it->first.Mark();
      t.is_subject = is_subject;
      const YAML::Node body = it->second;  // a copy: `it->` yields a temporary proxy
      const std::string what =
          std::string(is_subject ? "subject type '" : "resource type '") +
          *name + "'";
      if (!body.IsNull()) {
        std::vector<std::string> allowed = {"description", "attributes"};
        if (!is_subject) {
          allowed.push_back("parents");
          allowed.push_back("actions");
        }
        if (CheckMap(body, what, allowed, {}, sink_)) {
          if (YAML::Node d = Get(body, "description"); d.IsDefined()) {
            ReadString(d, "description", sink_);
          }
          if (YAML::Node p = Get(body, "parents"); p.IsDefined()) {
            t.parents = ReadNameList(p, "parent type", sink_);
          }
          if (YAML::Node a = Get(body, "actions"); a.IsDefined()) {
            t.actions = ReadNameList(a, "action", sink_);
          }
          if (YAML::Node a = Get(body, "attributes"); a.IsDefined()) {
            ShapeAttributes(a, what, &t);
          }
        }
      }
      ast_.types.push_back(std::move(t));
    }
  }

  void ShapeAttributes(const YAML::Node& map, const std::string& what,
                       TypeAst* t) {
    if (!CheckNameMap(map, "the attributes of " + what, sink_)) return;
    static const std::vector<std::pair<std::string, engine::AttributeType>>
        kTypes = {{"any", engine::AttributeType::kAny},
                  {"bool", engine::AttributeType::kBool},
                  {"int", engine::AttributeType::kInt},
                  {"number", engine::AttributeType::kNumber},
                  {"string", engine::AttributeType::kString},
                  {"timestamp", engine::AttributeType::kTimestamp},
                  {"list", engine::AttributeType::kList}};
    std::vector<std::string> type_names;
    for (const auto& [n, _] : kTypes) type_names.push_back(n);
    for (auto it = map.begin(); it != map.end(); ++it) {
      if (!it->first.IsScalar()) continue;  // reported by CheckNameMap
      const std::string name = it->first.Scalar();
      if (!IsValidAttributeName(name)) {
        sink_.Add(it->first.Mark(),
                  "attribute name '" + name +
                      "' is not valid (expected [a-z][a-z0-9_]*, dotted "
                      "segments allowed)");
        continue;
      }
      std::optional<std::string> type =
          ReadString(it->second, "the type of attribute '" + name + "'", sink_);
      if (!type) continue;
      auto found = std::find_if(kTypes.begin(), kTypes.end(),
                                [&](const auto& p) { return p.first == *type; });
      if (found == kTypes.end()) {
        sink_.Add(it->second.Mark(),
                  "unknown attribute type '" + *type + "'" +
                      DidYouMean(*type, type_names) +
                      "; expected one of: " + JoinNames(type_names));
        continue;
      }
      t->attributes.push_back(AttributeAst{name, found->second,
                                           it->first.Mark()});
    }
  }

  void ShapeRoles(const YAML::Node& map) {
    if (!CheckNameMap(map, "roles", sink_)) return;
    for (auto it = map.begin(); it != map.end(); ++it) {
      std::optional<std::string> name = ReadName(it->first, "role", sink_);
      if (!name) continue;
      RoleAst r;
      r.name = *name;
      r.mark = it->first.Mark();
      const YAML::Node body = it->second;  // a copy: `it->` yields a temporary proxy
      const std::string what = "role '" + *name + "'";
      if (CheckMap(body, what, {"description", "on", "includes", "grants"}, {},
                   sink_)) {
        if (YAML::Node d = Get(body, "description"); d.IsDefined()) {
          if (auto s = ReadString(d, "description", sink_)) r.description = *s;
        }
        if (YAML::Node n = Get(body, "on"); n.IsDefined()) {
          r.on = ReadNameList(n, "type", sink_);
        }
        if (YAML::Node n = Get(body, "includes"); n.IsDefined()) {
          r.includes = ReadNameList(n, "role", sink_);
        }
        if (YAML::Node n = Get(body, "grants"); n.IsDefined()) {
          ShapeGrants(n, what, &r);
        }
      }
      ast_.roles.push_back(std::move(r));
    }
  }

  void ShapeGrants(const YAML::Node& map, const std::string& what,
                   RoleAst* r) {
    if (!CheckNameMap(map, "the grants of " + what, sink_)) return;
    for (auto it = map.begin(); it != map.end(); ++it) {
      std::optional<std::string> type = ReadName(it->first, "type", sink_);
      if (!type) continue;
      GrantsForTypeAst g;
      g.type = NameRef{*type, it->first.Mark()};
      const YAML::Node items = it->second;  // a copy: `it->` yields a temporary proxy
      auto item = [&](const YAML::Node& n) {
        GrantItemAst gi;
        gi.mark = n.Mark();
        if (n.IsMap()) {
          if (!CheckMap(n, "a conditional grant", {"actions", "when"},
                        {"actions"}, sink_)) {
            return;
          }
          if (YAML::Node a = Get(n, "actions"); a.IsDefined()) {
            gi.actions = ReadNameList(a, "action", sink_);
          }
          if (YAML::Node w = Get(n, "when"); w.IsDefined()) {
            gi.when = ReadWhen(w);
          }
        } else if (n.IsScalar()) {
          std::optional<std::string> a = ReadName(n, "action", sink_);
          if (!a) return;
          gi.actions.push_back(NameRef{*a, n.Mark()});
        } else {
          sink_.Add(n.Mark(),
                    "a grant must be an action name or a mapping {actions, "
                    "when}, got " +
                        DescribeNode(n));
          return;
        }
        g.items.push_back(std::move(gi));
      };
      if (items.IsSequence()) {
        for (const YAML::Node& n : items) item(n);
      } else if (items.IsScalar() || items.IsMap()) {
        item(items);
      } else {
        sink_.Add(items.IsNull() ? it->first.Mark() : items.Mark(),
                  "the grants on '" + *type +
                      "' must be a list of actions, got " +
                      DescribeNode(items));
      }
      r->grants.push_back(std::move(g));
    }
  }

  std::optional<WhenAst> ReadWhen(const YAML::Node& n) {
    if (!n.IsScalar()) {
      sink_.Add(n.Mark(), "'when' must be a condition (a string), got " +
                              DescribeNode(n));
      return std::nullopt;
    }
    return WhenAst{n.Scalar(), n.Mark()};
  }

  void ShapeRestrictions(const YAML::Node& map) {
    if (!CheckMap(map, "restrictions", {"on", "exempt_roles", "precedence"},
                  {"on"}, sink_)) {
      return;
    }
    if (YAML::Node n = Get(map, "on"); n.IsDefined()) {
      ast_.restrictions.on = ReadNameList(n, "type", sink_);
    }
    if (YAML::Node n = Get(map, "exempt_roles"); n.IsDefined()) {
      ast_.restrictions.exempt_roles = ReadNameList(n, "role", sink_);
    }
    if (YAML::Node n = Get(map, "precedence"); n.IsDefined()) {
      ast_.restrictions.precedence_mark = n.Mark();
      if (auto s = ReadString(n, "precedence", sink_)) {
        if (*s == "restriction-wins") {
          ast_.restrictions.precedence = engine::Precedence::kRestrictionWins;
        } else if (*s == "nearest-wins") {
          ast_.restrictions.precedence = engine::Precedence::kNearestWins;
        } else {
          sink_.Add(n.Mark(), "unknown precedence '" + *s + "'" +
                                  DidYouMean(*s, {"restriction-wins",
                                                  "nearest-wins"}) +
                                  "; expected restriction-wins or "
                                  "nearest-wins");
        }
      }
    }
  }

  void ShapeRules(const YAML::Node& list) {
    if (!list.IsSequence()) {
      sink_.Add(list.Mark(),
                "rules must be a list of rules, got " + DescribeNode(list));
      return;
    }
    for (const YAML::Node& n : list) {
      RuleAst r;
      r.mark = n.Mark();
      if (!CheckMap(n, "a rule", {"name", "description", "effect", "actions",
                                  "on", "when"},
                    {"name", "effect", "actions", "on"}, sink_)) {
        continue;
      }
      if (YAML::Node x = Get(n, "name"); x.IsDefined()) {
        if (auto s = ReadName(x, "rule name", sink_)) {
          r.name = *s;
          r.mark = x.Mark();
        } else {
          r.valid = false;
        }
      } else {
        r.valid = false;
      }
      if (YAML::Node x = Get(n, "description"); x.IsDefined()) {
        ReadString(x, "description", sink_);
      }
      if (YAML::Node x = Get(n, "effect"); x.IsDefined()) {
        std::optional<std::string> e = ReadString(x, "effect", sink_);
        if (e && *e == "allow") {
          r.effect = engine::Effect::kAllow;
        } else if (e && *e == "deny") {
          r.effect = engine::Effect::kDeny;
        } else {
          if (e) {
            sink_.Add(x.Mark(), "unknown effect '" + *e + "'" +
                                    DidYouMean(*e, {"allow", "deny"}) +
                                    "; expected allow or deny");
          }
          r.valid = false;
        }
      } else {
        r.valid = false;
      }
      if (YAML::Node x = Get(n, "actions"); x.IsDefined()) {
        r.actions = ReadNameList(x, "action", sink_);
      }
      if (YAML::Node x = Get(n, "on"); x.IsDefined()) {
        r.on = ReadNameList(x, "type", sink_);
      }
      if (YAML::Node x = Get(n, "when"); x.IsDefined()) r.when = ReadWhen(x);
      ast_.rules.push_back(std::move(r));
    }
  }

  // ---------------------------------------------- pass 3: CollectNames

  void CollectNames() {
    policy_->name = ast_.name;
    std::map<std::string, const TypeAst*> seen_types;
    for (const TypeAst& t : ast_.types) {
      if (auto [it, fresh] = seen_types.emplace(t.name, &t); !fresh) {
        // Within one section CheckShape reported the duplicate key already.
        if (it->second->is_subject == t.is_subject) continue;
        sink_.Add(t.mark, "duplicate type name '" + t.name +
                              "' (first defined at line " +
                              std::to_string(MarkLine(it->second->mark)) +
                              "); type names are unique across subjects and "
                              "resources");
        continue;
      }
      if (policy_->types.size() == engine::kMaxTypes) {
        sink_.Add(t.mark, "too many types: at most " +
                              std::to_string(engine::kMaxTypes) +
                              " subject and resource types");
        continue;
      }
      engine::TypeDef def;
      def.name = t.name;
      def.is_subject = t.is_subject;
      def.location = sink_.Location(t.mark);
      for (const AttributeAst& a : t.attributes) {
        def.attributes.push_back(
            engine::AttributeDecl{a.name, a.type, sink_.Location(a.mark)});
      }
      type_ast_.push_back(&t);
      type_ids_[t.name] = static_cast<TypeId>(policy_->types.size());
      policy_->types.push_back(std::move(def));
    }
    // Actions: one id per distinct name across all types.
    for (size_t ti = 0; ti < type_ast_.size(); ++ti) {
      for (const NameRef& a : type_ast_[ti]->actions) {
        auto it = action_ids_.find(a.name);
        ActionId id;
        if (it == action_ids_.end()) {
          if (policy_->actions.size() == engine::kMaxActions) {
            sink_.Add(a.mark, "too many actions: at most " +
                                  std::to_string(engine::kMaxActions) +
                                  " distinct action names");
            continue;
          }
          id = static_cast<ActionId>(policy_->actions.size());
          action_ids_[a.name] = id;
          engine::ActionDef def;
          def.name = a.name;
          def.location = sink_.Location(a.mark);
          policy_->actions.push_back(std::move(def));
        } else {
          id = it->second;
        }
        policy_->actions[id].types.Add(static_cast<TypeId>(ti));
        policy_->types[ti].actions.Add(id);
      }
    }
    for (const RoleAst& r : ast_.roles) {
      // Duplicate role names are reported by CheckNameMap (duplicate key).
      if (role_ids_.count(r.name)) continue;
      if (policy_->roles.size() == engine::kMaxRoles) {
        sink_.Add(r.mark, "too many roles: at most " +
                              std::to_string(engine::kMaxRoles));
        continue;
      }
      engine::RoleDef def;
      def.name = r.name;
      def.description = r.description;
      def.location = sink_.Location(r.mark);
      role_ast_.push_back(&r);
      role_ids_[r.name] = static_cast<RoleId>(policy_->roles.size());
      policy_->roles.push_back(std::move(def));
    }
    std::map<std::string, YAML::Mark> seen_rules;
    for (const RuleAst& r : ast_.rules) {
      if (!r.valid) continue;
      if (auto [it, fresh] = seen_rules.emplace(r.name, r.mark); !fresh) {
        sink_.Add(r.mark, "duplicate rule name '" + r.name +
                              "' (first defined at line " +
                              std::to_string(MarkLine(it->second)) + ")");
      }
    }
  }

  // ----------------------------------------- pass 4: ResolveReferences

  std::vector<std::string> TypeNames(bool subjects, bool resources) const {
    std::vector<std::string> out;
    for (const engine::TypeDef& t : policy_->types) {
      if ((t.is_subject && subjects) || (!t.is_subject && resources)) {
        out.push_back(t.name);
      }
    }
    return out;
  }

  // Resolves a resource type reference; reports and returns kNoType.
  TypeId ResolveResourceType(const NameRef& ref, const std::string& context) {
    auto it = type_ids_.find(ref.name);
    if (it == type_ids_.end()) {
      sink_.Add(ref.mark, "unknown type '" + ref.name + "'" + context +
                              DidYouMean(ref.name, TypeNames(false, true)));
      return engine::kNoType;
    }
    if (policy_->types[it->second].is_subject) {
      sink_.Add(ref.mark, "'" + ref.name + "' is a subject type (a resource "
                              "type is expected" + context + ")");
      return engine::kNoType;
    }
    return it->second;
  }

  // Resolves an action that must be defined on `type`.
  ActionId ResolveAction(const NameRef& ref, TypeId type) {
    const engine::TypeDef& t = policy_->types[type];
    std::vector<std::string> own;
    t.actions.ForEach(
        [&](ActionId a) { own.push_back(policy_->actions[a].name); });
    auto it = action_ids_.find(ref.name);
    if (it == action_ids_.end()) {
      sink_.Add(ref.mark, "unknown action '" + ref.name + "'" +
                              DidYouMean(ref.name, own) + "; actions of " +
                              t.name + ": " +
                              (own.empty() ? "none" : JoinNames(own)));
      return engine::kNoAction;
    }
    if (!t.actions.Contains(it->second)) {
      sink_.Add(ref.mark, "action '" + ref.name +
                              "' is not defined on type " + t.name +
                              DidYouMean(ref.name, own) + "; actions of " +
                              t.name + ": " +
                              (own.empty() ? "none" : JoinNames(own)));
      return engine::kNoAction;
    }
    return it->second;
  }

  RoleId ResolveRole(const NameRef& ref) {
    auto it = role_ids_.find(ref.name);
    if (it == role_ids_.end()) {
      std::vector<std::string> names;
      for (const engine::RoleDef& r : policy_->roles) names.push_back(r.name);
      sink_.Add(ref.mark, "unknown role '" + ref.name + "'" +
                              DidYouMean(ref.name, names));
      return engine::kNoRole;
    }
    return it->second;
  }

  void ResolveReferences() {
    // Parents.
    for (size_t ti = 0; ti < type_ast_.size(); ++ti) {
      for (const NameRef& p : type_ast_[ti]->parents) {
        const TypeId parent =
            ResolveResourceType(p, " in the parents of " + type_ast_[ti]->name);
        if (parent != engine::kNoType) {
          policy_->types[ti].parents.push_back(parent);
        }
      }
    }
    // Roles: on, includes, grants.
    role_grants_.resize(role_ast_.size());
    for (size_t ri = 0; ri < role_ast_.size(); ++ri) {
      const RoleAst& r = *role_ast_[ri];
      engine::RoleDef& def = policy_->roles[ri];
      for (const NameRef& on : r.on) {
        auto it = type_ids_.find(on.name);
        if (it == type_ids_.end()) {
          sink_.Add(on.mark, "unknown type '" + on.name + "' in 'on' of role " +
                                 r.name +
                                 DidYouMean(on.name, TypeNames(false, true)));
          continue;
        }
        if (policy_->types[it->second].is_subject) {
          sink_.Add(on.mark, "role " + r.name +
                                 " cannot be bound on subject type '" +
                                 on.name +
                                 "': roles are bound on resource types");
          continue;
        }
        def.bindable_on.Add(it->second);
        role_on_.resize(role_ast_.size());
        role_on_[ri].push_back(it->second);
      }
      for (const NameRef& inc : r.includes) {
        const RoleId id = ResolveRole(inc);
        if (id != engine::kNoRole) {
          def.includes.push_back(id);
          include_marks_[{ri, id}] = inc.mark;
        }
      }
      for (const GrantsForTypeAst& g : r.grants) {
        const TypeId type = ResolveResourceType(
            g.type, " in the grants of role " + r.name);
        if (type == engine::kNoType) continue;
        for (const GrantItemAst& item : g.items) {
          // One engine::Grant per plain action (each keeps its own line),
          // one per conditional item.
          if (!item.when) {
            for (const NameRef& a : item.actions) {
              const ActionId id = ResolveAction(a, type);
              if (id == engine::kNoAction) continue;
              auto grant = std::make_unique<engine::Grant>();
              grant->role = static_cast<RoleId>(ri);
              grant->type = type;
              grant->actions.Add(id);
              grant->location = sink_.Location(a.mark);
              role_grants_[ri].push_back({grant.get(), nullptr, g.type.mark});
              policy_->grants.push_back(std::move(grant));
            }
            continue;
          }
          auto grant = std::make_unique<engine::Grant>();
          grant->role = static_cast<RoleId>(ri);
          grant->type = type;
          grant->location = sink_.Location(item.mark);
          for (const NameRef& a : item.actions) {
            const ActionId id = ResolveAction(a, type);
            if (id != engine::kNoAction) grant->actions.Add(id);
          }
          role_grants_[ri].push_back({grant.get(), &*item.when, g.type.mark});
          policy_->grants.push_back(std::move(grant));
        }
      }
    }
    role_on_.resize(role_ast_.size());
    // Restrictions.
    for (const NameRef& on : ast_.restrictions.on) {
      const TypeId t = ResolveResourceType(on, " in 'on' of restrictions");
      if (t != engine::kNoType) policy_->types[t].restrictable = true;
    }
    for (const NameRef& r : ast_.restrictions.exempt_roles) {
      const RoleId id = ResolveRole(r);
      if (id != engine::kNoRole) {
        policy_->roles[id].exempt_from_restrictions = true;
      }
    }
    policy_->precedence = ast_.restrictions.precedence;
    policy_->precedence_location =
        sink_.Location(ast_.restrictions.precedence_mark);
    ResolveWorkflows();
    // Rules.
    for (const RuleAst& r : ast_.rules) {
      if (!r.valid) continue;
      rule_ast_.push_back(&r);
      engine::Rule rule;
      rule.name = r.name;
      rule.effect = r.effect;
      rule.location = sink_.Location(r.mark);
      std::vector<TypeId> types;
      for (const NameRef& on : r.on) {
        const TypeId t =
            ResolveResourceType(on, " in 'on' of rule " + r.name);
        if (t == engine::kNoType) continue;
        rule.types.Add(t);
        types.push_back(t);
      }
      for (const NameRef& a : r.actions) {
        for (TypeId t : types) {
          const ActionId id = ResolveAction(a, t);
          if (id == engine::kNoAction) break;  // one error per action
          rule.actions.Add(id);
        }
      }
      rule_types_.push_back(std::move(types));
      policy_->rules.push_back(std::move(rule));
    }
  }

  // Workflows: each step's action must be defined on each of its types;
  // roles must exist and be bindable where the step binds them.
  void ResolveWorkflows() {
    engine::Workflows& wf = policy_->workflows;
    wf.defined = ast_.workflows.present;
    engine::WorkflowStep* steps[] = {
        &wf.create_group,      &wf.invite,
        &wf.view_invitations,  &wf.revoke_invitation,
        &wf.manage_members,    &wf.manage_permissions,
        &wf.manage_account_administrators, &wf.delete_account,
        &wf.list_people};
    const std::vector<std::string>& names = WorkflowStepNames();
    for (size_t i = 0; i < names.size(); ++i) {
      auto it = ast_.workflows.steps.find(names[i]);
      if (it == ast_.workflows.steps.end()) continue;
      const WorkflowStepAst& a = it->second;
      engine::WorkflowStep& step = *steps[i];
      const std::string ctx = " in workflow step " + names[i];
      bool ok = a.action.has_value() && !a.on.empty();
      std::vector<TypeId> types;
      for (const NameRef& on : a.on) {
        const TypeId t = ResolveResourceType(on, ctx);
        if (t == engine::kNoType) {
          ok = false;
          continue;
        }
        types.push_back(t);
        step.on.Add(t);
      }
      if (names[i] != "manage_permissions" && a.on.size() > 1) {
        sink_.Add(a.on[1].mark, "workflow step " + names[i] +
                                    " acts on one type; give a single type "
                                    "in 'on'");
        ok = false;
      }
      if (a.action) {
        for (TypeId t : types) {
          const ActionId id = ResolveAction(*a.action, t);
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
        const TypeId c = ResolveResourceType(*a.creates, ctx);
        if (c == engine::kNoType) {
          ok = false;
        } else {
          wf.creates = c;
          bind_on = {c};
          const auto& parents = policy_->types[c].parents;
          for (TypeId t : types) {
            if (std::find(parents.begin(), parents.end(), t) ==
                parents.end()) {
              sink_.Add(a.creates->mark,
                        "type " + a.creates->name +
                            " cannot be created under " +
                            policy_->types[t].name +
                            ": it is not one of its parents");
              ok = false;
            }
          }
        }
      }
      for (const NameRef& r : a.roles) {
        const RoleId id = ResolveRole(r);
        if (id == engine::kNoRole) {
          ok = false;
          continue;
        }
        for (TypeId t : bind_on) {
          if (!policy_->roles[id].bindable_on.Contains(t)) {
            sink_.Add(r.mark, "role " + r.name + " cannot be bound on " +
                                  policy_->types[t].name + ctx +
                                  " (see the role's 'on')");
            ok = false;
          }
        }
        step.roles.push_back(id);
      }
      for (const NameRef& t : a.address_types) {
        auto found = type_ids_.find(t.name);
        if (found == type_ids_.end() ||
            !policy_->types[found->second].is_subject) {
          sink_.Add(t.mark, "unknown subject type '" + t.name + "'" + ctx +
                                DidYouMean(t.name, TypeNames(true, false)));
          ok = false;
          continue;
        }
        wf.address_types.Add(found->second);
      }
      step.type = types.empty() ? engine::kNoType : types.front();
      step.location = sink_.Location(a.mark);
      step.defined = ok;
    }
  }

  // ------------------------------------------------ pass 5: CheckCycles

  // Returns true if neither parents nor includes have a cycle.
  bool CheckCycles() {
    bool ok = true;
    // Parents (a self-edge is nesting, not a cycle).
    {
      const size_t n = policy_->types.size();
      std::vector<int> state(n, 0);  // 0 new, 1 on stack, 2 done
      std::vector<TypeId> stack;
      std::function<void(TypeId)> visit = [&](TypeId t) {
        state[t] = 1;
        stack.push_back(t);
        for (TypeId p : policy_->types[t].parents) {
          if (p == t) continue;
          if (state[p] == 1) {
            auto from = std::find(stack.begin(), stack.end(), p);
            std::string path;
            for (auto i = from; i != stack.end(); ++i) {
              path += policy_->types[*i].name + " -> ";
            }
            path += policy_->types[p].name;
            sink_.Add(ParentMark(t, p),
                      "cycle in parents: " + path +
                          " (only a type's own name may repeat, for nesting)");
            ok = false;
          } else if (state[p] == 0) {
            visit(p);
          }
        }
        stack.pop_back();
        state[t] = 2;
      };
      for (TypeId t = 0; t < n; ++t) {
        if (state[t] == 0) visit(t);
      }
    }
    // Role includes.
    {
      const size_t n = policy_->roles.size();
      std::vector<int> state(n, 0);
      std::vector<RoleId> stack;
      std::function<void(RoleId)> visit = [&](RoleId r) {
        state[r] = 1;
        stack.push_back(r);
        for (RoleId inc : policy_->roles[r].includes) {
          if (state[inc] == 1) {
            auto from = std::find(stack.begin(), stack.end(), inc);
            std::string path;
            for (auto i = from; i != stack.end(); ++i) {
              path += policy_->roles[*i].name + " -> ";
            }
            path += policy_->roles[inc].name;
            sink_.Add(include_marks_[{r, inc}], "cycle in role includes: " + path);
            ok = false;
          } else if (state[inc] == 0) {
            visit(inc);
          }
        }
        stack.pop_back();
        state[r] = 2;
      };
      for (RoleId r = 0; r < n; ++r) {
        if (state[r] == 0) visit(r);
      }
    }
    return ok;
  }

  YAML::Mark ParentMark(TypeId t, TypeId p) const {
    for (const NameRef& ref : type_ast_[t]->parents) {
      if (ref.name == policy_->types[p].name) return ref.mark;
    }
    return type_ast_[t]->mark;
  }

  // ------------------------------------------- pass 6: CompileConditions

  ConditionOrigin OriginOf(const YAML::Mark& mark) const {
    ConditionOrigin o;
    o.file = file_;
    o.line = MarkLine(mark);
    o.column = MarkColumn(mark);
    o.continuation_column = 1;
    if (mark.pos < 0 || static_cast<size_t>(mark.pos) >= source_.size()) {
      return o;
    }
    const char c = source_[mark.pos];
    if (c == '"' || c == '\'') {
      o.column += 1;
    } else if (c == '|' || c == '>') {
      // A block scalar: the text starts on the next line, indented.
      size_t p = source_.find('\n', mark.pos);
      if (p == std::string_view::npos) return o;
      ++p;
      size_t indent = 0;
      while (p + indent < source_.size() && source_[p + indent] == ' ') {
        ++indent;
      }
      o.line += 1;
      o.column = static_cast<uint32_t>(indent) + 1;
      o.continuation_column = o.column;
    }
    return o;
  }

  void Compile(const WhenAst& when, const AttributeSchema& schema,
               std::unique_ptr<engine::Condition>* out) {
    ConditionResultOrErrors r = ParseCondition(when.text, OriginOf(when.mark),
                                               &schema);
    if (!r) {
      for (PolicyError& e : r.error()) errors_.push_back(std::move(e));
      return;
    }
    *out = std::move(*r);
  }

  void CompileConditions() {
    std::vector<const engine::TypeDef*> subjects;
    for (const engine::TypeDef& t : policy_->types) {
      if (t.is_subject) subjects.push_back(&t);
    }
    for (auto& grants : role_grants_) {
      for (const PendingGrant& g : grants) {
        if (g.when == nullptr) continue;
        AttributeSchema schema;
        schema.subject_types = subjects;
        schema.resource_types = {&policy_->types[g.grant->type]};
        Compile(*g.when, schema, &g.grant->when);
      }
    }
    for (size_t i = 0; i < rule_ast_.size(); ++i) {
      if (!rule_ast_[i]->when) continue;
      AttributeSchema schema;
      schema.subject_types = subjects;
      for (TypeId t : rule_types_[i]) {
        schema.resource_types.push_back(&policy_->types[t]);
      }
      if (schema.resource_types.empty()) continue;  // `on` failed to resolve
      Compile(*rule_ast_[i]->when, schema, &policy_->rules[i].when);
    }
  }

  // ------------------------------------------- pass 7: FlattenRoleGrants

  void FlattenRoleGrants() {
    const size_t n_types = policy_->types.size();
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
        for (TypeId p : policy_->types[x].parents) {
          if (!seen[p]) {
            seen[p] = true;
            todo.push_back(p);
          }
        }
      }
    }
    std::set<const engine::Grant*> reported;
    for (RoleId r = 0; r < policy_->roles.size(); ++r) {
      engine::RoleDef& def = policy_->roles[r];
      std::vector<bool> seen(policy_->roles.size(), false);
      std::vector<RoleId> order;
      std::function<void(RoleId)> collect = [&](RoleId x) {
        if (seen[x]) return;
        seen[x] = true;
        order.push_back(x);
        for (RoleId inc : policy_->roles[x].includes) collect(inc);
      };
      collect(r);
      for (RoleId x : order) {
        for (const PendingGrant& g : role_grants_[x]) {
          def.grants.push_back(g.grant);
        }
      }
      if (role_on_[r].empty()) continue;  // only included by other roles
      for (const engine::Grant* g : def.grants) {
        bool reachable = false;
        for (TypeId on : role_on_[r]) {
          reachable = reachable || at_or_below[g->type].Contains(on);
        }
        if (reachable || !reported.insert(g).second) continue;
        std::vector<std::string> on_names;
        for (TypeId on : role_on_[r]) on_names.push_back(policy_->types[on].name);
        const std::string via =
            g->role == r ? "" : " (included from role " +
                                    policy_->roles[g->role].name + ")";
        sink_.Add(GrantTypeMark(g), "role " + def.name + " grants on type " +
                                        policy_->types[g->type].name + via +
                                        ", which is not at or below any type "
                                        "the role can be bound on (" +
                                        JoinNames(on_names) + ")");
      }
    }
  }

  YAML::Mark GrantTypeMark(const engine::Grant* g) const {
    for (const PendingGrant& p : role_grants_[g->role]) {
      if (p.grant == g) return p.type_mark;
    }
    return YAML::Mark();
  }

  // ------------------------------------------------ pass 8: BuildPolicy

  PolicyResult BuildPolicy() {
    policy_->version = Fnv1a64Hex(source_);
    policy_->source_files = {file_};
    policy_->Finalize();
    return std::shared_ptr<const engine::Policy>(std::move(policy_));
  }

  struct PendingGrant {
    engine::Grant* grant;
    const WhenAst* when;
    YAML::Mark type_mark;
  };

  std::string_view source_;
  std::string file_;
  PolicyErrors errors_;
  ErrorSink sink_;
  PolicyAst ast_;
  std::shared_ptr<engine::Policy> policy_;
  std::vector<const TypeAst*> type_ast_;  // by TypeId
  std::vector<const RoleAst*> role_ast_;  // by RoleId
  std::vector<const RuleAst*> rule_ast_;  // by index in policy_->rules
  std::vector<std::vector<TypeId>> rule_types_;
  std::vector<std::vector<TypeId>> role_on_;
  std::vector<std::vector<PendingGrant>> role_grants_;  // own grants, by role
  std::map<std::pair<RoleId, RoleId>, YAML::Mark> include_marks_;
  std::map<std::string, TypeId> type_ids_;
  std::map<std::string, ActionId> action_ids_;
  std::map<std::string, RoleId> role_ids_;
};

// ------------------------------------------------ pass 1: ParseYaml

std::optional<YAML::Node> ParseYaml(std::string_view text,
                                    const std::string& file,
                                    PolicyErrors* errors) {
  try {
    return YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    errors->push_back(PolicyError{file, MarkLine(e.mark), MarkColumn(e.mark),
                                  "YAML syntax error: " + e.msg});
  }
  return std::nullopt;
}

}  // namespace

PolicyResult CompilePolicyNode(const YAML::Node& root, std::string_view source,
                               const std::string& display_name) {
  try {
    Compiler compiler(source, display_name);
    return compiler.Run(root);
  } catch (const YAML::Exception& e) {
    // yaml-cpp throws only on misuse; keep the boundary exception-free.
    return tl::unexpected<PolicyErrors>(PolicyErrors{
        PolicyError{display_name, MarkLine(e.mark), MarkColumn(e.mark),
                    "internal YAML error: " + e.msg}});
  }
}

PolicyResult CompilePolicyText(std::string_view text,
                               const std::string& display_name) {
  PolicyErrors errors;
  if (text.size() > kMaxPolicyBytes) {
    errors.push_back(PolicyError{display_name, 0, 0,
                                 "the policy is larger than " +
                                     std::to_string(kMaxPolicyBytes) +
                                     " bytes"});
    return tl::unexpected<PolicyErrors>(std::move(errors));
  }
  std::optional<YAML::Node> root = ParseYaml(text, display_name, &errors);
  if (!root) return tl::unexpected<PolicyErrors>(std::move(errors));
  return CompilePolicyNode(*root, text, display_name);
}

PolicyResult CompilePolicyFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return tl::unexpected<PolicyErrors>(
        PolicyErrors{PolicyError{path, 0, 0, "cannot open the file"}});
  }
  std::ostringstream text;
  text << in.rdbuf();
  return CompilePolicyText(text.str(), path);
}

std::string FormatErrors(const PolicyErrors& errors) {
  std::string out;
  for (const PolicyError& e : errors) out += e.ToString() + "\n";
  return out;
}

}  // namespace portcullis::policies
