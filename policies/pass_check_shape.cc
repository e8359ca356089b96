// Pass CheckShape of the policy compiler (compiler_passes.h): every key known
// and unique, every value of the right kind; fills the AST (policy_ast.h)
// with the position of every node.
#include "policies/compiler_passes.h"

#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "policies/yaml_util.h"

namespace portcullis::policies {
namespace {

// An attribute name: dot-separated segments (nested request objects are
// dotted keys), each a name (NameKind::kName) of its own. A condition
// reads a segment that is not an identifier quoted: resource."content-type".
std::string AttributeNameProblem(std::string_view s) {
  size_t start = 0;
  while (true) {
    const size_t dot = s.find('.', start);
    const std::string_view seg =
        s.substr(start, dot == std::string_view::npos ? s.npos : dot - start);
    if (seg.empty()) return "has an empty segment between dots";
    if (std::string p = NameProblem(seg, NameKind::kName); !p.empty()) {
      return p;
    }
    if (dot == std::string_view::npos) return {};
    start = dot + 1;
  }
}

std::optional<WhenAst> ReadWhen(CompileState& st, const YAML::Node& n) {
  if (!n.IsScalar()) {
    st.sink.Add(n.Mark(), "'when' must be a condition (a string), got " +
                              DescribeNode(n));
    return std::nullopt;
  }
  return WhenAst{n.Scalar(), n.Mark()};
}

void ShapeAttributes(CompileState& st, const YAML::Node& map,
                     const std::string& what, TypeAst* t) {
  if (!CheckNameMap(map, "the attributes of " + what, st.sink)) return;
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
    if (std::string problem = AttributeNameProblem(name); !problem.empty()) {
      st.sink.Add(it->first.Mark(), "attribute name '" + name +
                                        "' is not valid: it " + problem);
      continue;
    }
    std::optional<std::string> type =
        ReadString(it->second, "the type of attribute '" + name + "'", st.sink);
    if (!type) continue;
    auto found = std::find_if(kTypes.begin(), kTypes.end(),
                              [&](const auto& p) { return p.first == *type; });
    if (found == kTypes.end()) {
      st.sink.Add(it->second.Mark(),
                  "unknown attribute type '" + *type + "'" +
                      DidYouMean(*type, type_names) +
                      "; expected one of: " + JoinNames(type_names));
      continue;
    }
    t->attributes.push_back(
        AttributeAst{name, found->second, it->first.Mark()});
  }
}

void ShapeTypes(CompileState& st, const YAML::Node& map, bool is_subject) {
  const char* section = is_subject ? "subjects" : "resources";
  if (!CheckNameMap(map, section, st.sink)) return;
  for (auto it = map.begin(); it != map.end(); ++it) {
    std::optional<std::string> name = ReadName(
        it->first, is_subject ? "subject type" : "resource type", st.sink,
        NameKind::kType);
    if (!name) continue;
    TypeAst t;
    t.name = *name;
    t.mark = it->first.Mark();
    t.is_subject = is_subject;
    const YAML::Node body =
        it->second;  // a copy: `it->` yields a temporary proxy
    const std::string what =
        std::string(is_subject ? "subject type '" : "resource type '") + *name +
        "'";
    if (!body.IsNull()) {
      // A subject type may declare actions (and parents): it is then a
      // resource type too.
      const std::vector<std::string> allowed = {
          "description", "attributes", "parents", "actions", "entities"};
      if (CheckMap(body, what, allowed, {}, st.sink)) {
        if (YAML::Node d = Get(body, "description"); d.IsDefined()) {
          ReadString(d, "description", st.sink);
        }
        if (YAML::Node p = Get(body, "parents"); p.IsDefined()) {
          t.parents = ReadNameList(p, "parent type", st.sink, NameKind::kType);
        }
        if (YAML::Node a = Get(body, "actions"); a.IsDefined()) {
          t.actions = ReadNameList(a, "action", st.sink);
          std::erase_if(t.actions, [&](const NameRef& r) {
            if (r.name != "*") return false;
            st.sink.Add(r.mark,
                        "action '*' is not a valid name: '*' stands for "
                        "every action in restrictions");
            return true;
          });
        }
        if (YAML::Node a = Get(body, "attributes"); a.IsDefined()) {
          ShapeAttributes(st, a, what, &t);
        }
        t.also_resource = is_subject && (Get(body, "actions").IsDefined() ||
                                         Get(body, "parents").IsDefined());
        if (YAML::Node e = Get(body, "entities"); e.IsDefined()) {
          std::optional<std::string> v = ReadString(e, "entities", st.sink);
          if (v && *v != "stored" && *v != "request") {
            st.sink.Add(e.Mark(), "entities of " + what + " must be stored "
                                  "or request, got '" + *v + "'" +
                                  DidYouMean(*v, {"stored", "request"}));
          }
          t.from_request = v && *v == "request";
        }
      }
    }
    st.ast.types.push_back(std::move(t));
  }
}

void ShapeGrants(CompileState& st, const YAML::Node& map,
                 const std::string& what, RoleAst* r) {
  if (!CheckNameMap(map, "the grants of " + what, st.sink)) return;
  for (auto it = map.begin(); it != map.end(); ++it) {
    std::optional<std::string> type = ReadName(it->first, "type", st.sink, NameKind::kType);
    if (!type) continue;
    GrantsForTypeAst g;
    g.type = NameRef{*type, it->first.Mark()};
    const YAML::Node items =
        it->second;  // a copy: `it->` yields a temporary proxy
    auto item = [&](const YAML::Node& n) {
      GrantItemAst gi;
      gi.mark = n.Mark();
      if (n.IsMap()) {
        if (!CheckMap(n, "a conditional grant", {"actions", "when"},
                      {"actions"}, st.sink)) {
          return;
        }
        if (YAML::Node a = Get(n, "actions"); a.IsDefined()) {
          gi.actions = ReadNameList(a, "action", st.sink);
        }
        if (YAML::Node w = Get(n, "when"); w.IsDefined()) {
          gi.when = ReadWhen(st, w);
        }
      } else if (n.IsScalar()) {
        std::optional<std::string> a = ReadName(n, "action", st.sink);
        if (!a) return;
        gi.actions.push_back(NameRef{*a, n.Mark()});
      } else {
        st.sink.Add(n.Mark(),
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
      st.sink.Add(items.IsNull() ? it->first.Mark() : items.Mark(),
                  "the grants on '" + *type +
                      "' must be a list of actions, got " +
                      DescribeNode(items));
    }
    r->grants.push_back(std::move(g));
  }
}

void ShapeRoles(CompileState& st, const YAML::Node& map) {
  if (!CheckNameMap(map, "roles", st.sink)) return;
  for (auto it = map.begin(); it != map.end(); ++it) {
    std::optional<std::string> name = ReadName(it->first, "role", st.sink);
    if (!name) continue;
    RoleAst r;
    r.name = *name;
    r.mark = it->first.Mark();
    const YAML::Node body =
        it->second;  // a copy: `it->` yields a temporary proxy
    const std::string what = "role '" + *name + "'";
    if (CheckMap(body, what, {"description", "on", "includes", "grants"}, {},
                 st.sink)) {
      if (YAML::Node d = Get(body, "description"); d.IsDefined()) {
        if (auto s = ReadString(d, "description", st.sink)) r.description = *s;
      }
      if (YAML::Node n = Get(body, "on"); n.IsDefined()) {
        r.on = ReadNameList(n, "type", st.sink, NameKind::kType);
      }
      if (YAML::Node n = Get(body, "includes"); n.IsDefined()) {
        r.includes = ReadNameList(n, "role", st.sink);
      }
      if (YAML::Node n = Get(body, "grants"); n.IsDefined()) {
        ShapeGrants(st, n, what, &r);
      }
    }
    st.ast.roles.push_back(std::move(r));
  }
}

void ShapeRestrictions(CompileState& st, const YAML::Node& map) {
  if (!CheckMap(map, "restrictions", {"on", "exempt_roles", "precedence"},
                {"on"}, st.sink)) {
    return;
  }
  if (YAML::Node n = Get(map, "on"); n.IsDefined()) {
    st.ast.restrictions.on = ReadNameList(n, "type", st.sink, NameKind::kType);
  }
  if (YAML::Node n = Get(map, "exempt_roles"); n.IsDefined()) {
    st.ast.restrictions.exempt_roles = ReadNameList(n, "role", st.sink);
  }
  if (YAML::Node n = Get(map, "precedence"); n.IsDefined()) {
    st.ast.restrictions.precedence_mark = n.Mark();
    if (auto s = ReadString(n, "precedence", st.sink)) {
      if (*s == "restriction-wins") {
        st.ast.restrictions.precedence = engine::Precedence::kRestrictionWins;
      } else if (*s == "nearest-wins") {
        st.ast.restrictions.precedence = engine::Precedence::kNearestWins;
      } else {
        st.sink.Add(n.Mark(),
                    "unknown precedence '" + *s + "'" +
                        DidYouMean(*s, {"restriction-wins", "nearest-wins"}) +
                        "; expected restriction-wins or "
                        "nearest-wins");
      }
    }
  }
}

void ShapeRules(CompileState& st, const YAML::Node& list) {
  if (!list.IsSequence()) {
    st.sink.Add(list.Mark(),
                "rules must be a list of rules, got " + DescribeNode(list));
    return;
  }
  for (const YAML::Node& n : list) {
    RuleAst r;
    r.mark = n.Mark();
    if (!CheckMap(n, "a rule",
                  {"name", "description", "effect", "actions", "on", "when"},
                  {"name", "effect", "actions", "on"}, st.sink)) {
      continue;
    }
    if (YAML::Node x = Get(n, "name"); x.IsDefined()) {
      if (auto s = ReadName(x, "rule name", st.sink)) {
        r.name = *s;
        r.mark = x.Mark();
      } else {
        r.valid = false;
      }
    } else {
      r.valid = false;
    }
    if (YAML::Node x = Get(n, "description"); x.IsDefined()) {
      ReadString(x, "description", st.sink);
    }
    if (YAML::Node x = Get(n, "effect"); x.IsDefined()) {
      std::optional<std::string> e = ReadString(x, "effect", st.sink);
      if (e && *e == "allow") {
        r.effect = engine::Effect::kAllow;
      } else if (e && *e == "deny") {
        r.effect = engine::Effect::kDeny;
      } else {
        if (e) {
          st.sink.Add(x.Mark(), "unknown effect '" + *e + "'" +
                                    DidYouMean(*e, {"allow", "deny"}) +
                                    "; expected allow or deny");
        }
        r.valid = false;
      }
    } else {
      r.valid = false;
    }
    if (YAML::Node x = Get(n, "actions"); x.IsDefined()) {
      r.actions = ReadNameList(x, "action", st.sink);
    }
    if (YAML::Node x = Get(n, "on"); x.IsDefined()) {
      r.on = ReadNameList(x, "type", st.sink, NameKind::kType);
    }
    if (YAML::Node x = Get(n, "when"); x.IsDefined()) r.when = ReadWhen(st, x);
    st.ast.rules.push_back(std::move(r));
  }
}

void ShapeWorkflows(CompileState& st, const YAML::Node& map) {
  st.ast.workflows.present = true;
  if (!CheckMap(map, "workflows", WorkflowStepNames(), {}, st.sink)) return;
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
      st.sink.Add(KeyMark(map, step),
                  what + " must be a mapping with at least 'action' and 'on'");
      continue;
    }
    if (!CheckMap(body, what, allowed, required, st.sink)) continue;
    WorkflowStepAst s;
    s.present = true;
    s.mark = KeyMark(map, step);
    if (YAML::Node d = Get(body, "description"); d.IsDefined()) {
      ReadString(d, "description", st.sink);
    }
    if (YAML::Node a = Get(body, "action"); a.IsDefined()) {
      if (auto n = ReadName(a, "action", st.sink))
        s.action = NameRef{*n, a.Mark()};
    }
    if (YAML::Node o = Get(body, "on"); o.IsDefined()) {
      s.on = ReadNameList(o, "type", st.sink, NameKind::kType);
    }
    const char* roles_key = step == "create_group" ? "creator_roles" : "roles";
    if (YAML::Node r = Get(body, roles_key); r.IsDefined()) {
      s.roles = ReadNameList(r, "role", st.sink);
    }
    if (YAML::Node c = Get(body, "creates"); c.IsDefined()) {
      if (auto n = ReadName(c, "type", st.sink, NameKind::kType))
        s.creates = NameRef{*n, c.Mark()};
    }
    if (YAML::Node t = Get(body, "address_types"); t.IsDefined()) {
      s.address_types = ReadNameList(t, "subject type", st.sink, NameKind::kType);
    }
    st.ast.workflows.steps[step] = std::move(s);
  }
}

}  // namespace

void CheckShape(CompileState& st) {
  const YAML::Node& root = *st.root;
  if (!CheckMap(root, "the policy",
                {"name", "description", "subjects", "resources", "roles",
                 "restrictions", "rules", "workflows"},
                {"name", "subjects", "resources"}, st.sink)) {
    return;
  }
  if (YAML::Node n = Get(root, "name"); n.IsDefined()) {
    if (auto s = ReadString(n, "name", st.sink)) st.ast.name = *s;
  }
  if (YAML::Node n = Get(root, "description"); n.IsDefined()) {
    ReadString(n, "description", st.sink);
  }
  if (YAML::Node n = Get(root, "subjects"); n.IsDefined()) {
    ShapeTypes(st, n, /*is_subject=*/true);
  }
  if (YAML::Node n = Get(root, "resources"); n.IsDefined()) {
    ShapeTypes(st, n, /*is_subject=*/false);
  }
  if (YAML::Node n = Get(root, "roles"); n.IsDefined() && !n.IsNull()) {
    ShapeRoles(st, n);
  }
  if (YAML::Node n = Get(root, "restrictions"); n.IsDefined()) {
    ShapeRestrictions(st, n);
  }
  if (YAML::Node n = Get(root, "rules"); n.IsDefined() && !n.IsNull()) {
    ShapeRules(st, n);
  }
  if (YAML::Node n = Get(root, "workflows"); n.IsDefined()) {
    ShapeWorkflows(st, n);
  }
}

}  // namespace portcullis::policies
