#include "policies/test_file.h"

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include "policies/yaml_loaders.h"
#include "policies/yaml_util.h"

namespace portcullis::policies {
namespace {

using engine::EntityRef;
using engine::OwnedValue;
using engine::ValueKind;

bool ReadText(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream s;
  s << in.rdbuf();
  *out = s.str();
  return true;
}

std::optional<YAML::Node> ParseYamlText(const std::string& text,
                                        const std::string& file,
                                        PolicyErrors* errors) {
  try {
    return YAML::Load(text);
  } catch (const YAML::Exception& e) {
    errors->push_back(PolicyError{file, MarkLine(e.mark), MarkColumn(e.mark),
                                  "YAML syntax error: " + e.msg});
  }
  return std::nullopt;
}

// Reads "type:id" and checks the type against the policy.
std::optional<EntityRef> ReadEntity(const YAML::Node& node,
                                    std::string_view what, bool subject,
                                    const engine::Policy& policy,
                                    ErrorSink& sink) {
  std::optional<std::string> s = ReadString(node, what, sink);
  if (!s) return std::nullopt;
  std::optional<EntityRef> ref = engine::ParseEntityRef(node.Scalar());
  if (!ref) {
    sink.Add(node.Mark(), std::string(what) + " '" + *s +
                              "' must have the form type:id");
    return std::nullopt;
  }
  const engine::TypeId t = policy.FindType(ref->type);
  std::vector<std::string> names;
  for (const engine::TypeDef& d : policy.types) {
    if (subject ? d.is_subject : d.IsResource()) names.push_back(d.name);
  }
  if (t == engine::kNoType ||
      !(subject ? policy.types[t].is_subject : policy.types[t].IsResource())) {
    sink.Add(node.Mark(), std::string(what) + " '" + *s + "': '" +
                              std::string(ref->type) + "' is not a " +
                              (subject ? "subject" : "resource") +
                              " type of the policy" +
                              DidYouMean(ref->type, names));
    return std::nullopt;
  }
  return ref;
}

// Checks flattened attribute values against the type's declared schema.
void CheckAttributes(
    const engine::TypeDef& type,
    const std::vector<std::pair<std::string, OwnedValue>>& attrs,
    const std::vector<YAML::Mark>& marks, ErrorSink& sink) {
  if (type.attributes.empty()) return;
  std::vector<std::string> names;
  for (const engine::AttributeDecl& d : type.attributes) names.push_back(d.name);
  for (size_t i = 0; i < attrs.size(); ++i) {
    const auto& [key, value] = attrs[i];
    const engine::AttributeDecl* decl = nullptr;
    for (const engine::AttributeDecl& d : type.attributes) {
      if (d.name == key) decl = &d;
    }
    if (decl == nullptr) {
      sink.Add(marks[i], "type " + type.name + " declares no attribute '" +
                             key + "'" + DidYouMean(key, names));
      continue;
    }
    if (value.kind == ValueKind::kNull) continue;
    bool ok = true;
    const char* expected = "";
    switch (decl->type) {
      case engine::AttributeType::kAny: break;
      case engine::AttributeType::kBool:
        ok = value.kind == ValueKind::kBool;
        expected = "a bool";
        break;
      case engine::AttributeType::kInt:
        ok = value.kind == ValueKind::kInt;
        expected = "an int";
        break;
      case engine::AttributeType::kNumber:
        ok = value.kind == ValueKind::kInt || value.kind == ValueKind::kDouble;
        expected = "a number";
        break;
      case engine::AttributeType::kString:
        ok = value.kind == ValueKind::kString;
        expected = "a string";
        break;
      case engine::AttributeType::kTimestamp:
        ok = value.kind == ValueKind::kString && ParseRfc3339(value.s);
        expected = "an RFC 3339 timestamp";
        break;
      case engine::AttributeType::kList:
        ok = value.kind == ValueKind::kList;
        expected = "a list";
        break;
    }
    if (!ok) {
      sink.Add(marks[i], "attribute '" + key + "' of type " + type.name +
                             " must be " + expected + ", got " +
                             std::string(engine::ValueKindName(value.kind)));
    }
  }
}

std::vector<std::string> ReadStringList(const YAML::Node& node,
                                        std::string_view what,
                                        ErrorSink& sink,
                                        std::vector<YAML::Mark>* marks) {
  std::vector<std::string> out;
  if (!node.IsSequence()) {
    sink.Add(node.Mark(), std::string(what) + " must be a list, got " +
                              DescribeNode(node));
    return out;
  }
  for (const YAML::Node& n : node) {
    if (auto s = ReadString(n, what, sink)) {
      out.push_back(*s);
      marks->push_back(n.Mark());
    }
  }
  return out;
}

std::optional<TimestampMicros> ReadTime(const YAML::Node& node,
                                        std::string_view what,
                                        ErrorSink& sink) {
  std::optional<std::string> s = ReadString(node, what, sink);
  if (!s) return std::nullopt;
  std::optional<TimestampMicros> t = ParseRfc3339(*s);
  if (!t) {
    sink.Add(node.Mark(), std::string(what) + " '" + *s +
                              "' is not an RFC 3339 time (e.g. "
                              "2026-06-01T12:00:00Z)");
  }
  return t;
}

}  // namespace

// ------------------------------------------------------------ OwnedAttributes

OwnedAttributes::OwnedAttributes(
    std::vector<std::pair<std::string, engine::OwnedValue>> values)
    : values_(std::move(values)) {
  views_.reserve(values_.size());
  for (const auto& [k, v] : values_) {
    views_.push_back(engine::Attribute{k, ToView(v)});
  }
}

engine::Value OwnedAttributes::ToView(const engine::OwnedValue& v) {
  switch (v.kind) {
    case ValueKind::kNull: return engine::Value::Null();
    case ValueKind::kBool: return engine::Value::Bool(v.b);
    case ValueKind::kInt: return engine::Value::Int(v.i);
    case ValueKind::kDouble: return engine::Value::Double(v.d);
    case ValueKind::kString: return engine::Value::String(v.s);
    case ValueKind::kTimestamp: return engine::Value::Timestamp(v.i);
    case ValueKind::kList: {
      auto elems = std::make_unique<std::vector<engine::Value>>();
      for (const engine::OwnedValue& e : v.list) elems->push_back(ToView(e));
      lists_.push_back(std::move(elems));
      return engine::Value::List(*lists_.back());
    }
  }
  return engine::Value::Null();
}

// ------------------------------------------------------------------- data

namespace {

// Loads the data mapping of one file into a MemoryData (see LoadData). The
// sections load in a fixed order (resources, subjects, bindings,
// restrictions), so that errors come in the order of the checks.
class DataLoader {
 public:
  DataLoader(const YAML::Node& node, const engine::Policy& policy,
             engine::MemoryData* out, ErrorSink& sink)
      : node_(node), policy_(policy), out_(out), sink_(sink) {}

  // Two passes, so parents may be listed after their children.
  void LoadResources() {
    struct PendingResource {
      EntityRef ref;
      std::optional<EntityRef> parent;
      YAML::Mark parent_mark;
      YAML::Node node;
    };
    std::vector<PendingResource> resources;
    for (const YAML::Node& r : ListOf("resources")) {
      if (!CheckMap(r, "a resource", {"id", "parent", "attributes"}, {"id"},
                    sink_)) {
        continue;
      }
      std::optional<EntityRef> ref =
          ReadId(r, /*subject=*/false, &resource_ids_);
      if (!ref) continue;
      PendingResource p{*ref, std::nullopt, {}, r};
      if (YAML::Node parent = Get(r, "parent"); parent.IsDefined()) {
        p.parent = ReadEntity(parent, "parent", false, policy_, sink_);
        p.parent_mark = parent.Mark();
        if (!p.parent) continue;
      }
      resources.push_back(std::move(p));
    }
    for (const PendingResource& p : resources) {
      const engine::TypeId t = policy_.FindType(p.ref.type);
      if (p.parent) {
        if (!resource_ids_.count(p.parent->ToString())) {
          sink_.Add(p.parent_mark, "parent '" + p.parent->ToString() + "' of " +
                                       p.ref.ToString() +
                                       " is not a resource of the data");
          continue;
        }
        const engine::TypeId pt = policy_.FindType(p.parent->type);
        const auto& allowed = policy_.types[t].parents;
        if (std::find(allowed.begin(), allowed.end(), pt) == allowed.end()) {
          std::string names;
          for (engine::TypeId a : allowed) {
            names += (names.empty() ? "" : ", ") + policy_.types[a].name;
          }
          sink_.Add(p.parent_mark,
                    "a " + std::string(p.ref.type) + " may not sit under a " +
                        std::string(p.parent->type) + " (allowed parents: " +
                        (names.empty() ? "none, it is a root type" : names) +
                        ")");
          continue;
        }
        out_->PutResource(p.ref.type, p.ref.id, p.parent->type, p.parent->id);
      } else {
        out_->PutResource(p.ref.type, p.ref.id);
      }
      LoadAttributes(p.node, engine::EntityKind::kResource, p.ref);
    }
  }

  void LoadSubjects() {
    std::set<std::string> subject_ids;
    for (const YAML::Node& s : ListOf("subjects")) {
      if (!CheckMap(s, "a subject", {"id", "attributes"}, {"id"}, sink_))
        continue;
      std::optional<EntityRef> ref = ReadId(s, /*subject=*/true, &subject_ids);
      if (!ref) continue;
      out_->PutSubject(ref->type, ref->id);
      LoadAttributes(s, engine::EntityKind::kSubject, *ref);
    }
  }

  void LoadBindings() {
    std::set<std::string> bound;
    for (const YAML::Node& b : ListOf("bindings")) {
      if (!CheckMap(b, "a binding",
                    {"subject", "resource", "roles", "state", "expires_at"},
                    {"subject", "resource", "roles"}, sink_)) {
        continue;
      }
      std::optional<EntityRef> subject, resource;
      const bool targets_ok = ReadTarget(b, &subject, &resource);
      std::vector<std::string> roles;
      bool roles_ok = true;
      if (YAML::Node r = Get(b, "roles"); r.IsDefined()) {
        std::vector<YAML::Mark> marks;
        roles = ReadStringList(r, "roles", sink_, &marks);
        for (size_t i = 0; i < roles.size(); ++i) {
          const engine::RoleId id = policy_.FindRole(roles[i]);
          if (id == engine::kNoRole) {
            std::vector<std::string> names;
            for (const engine::RoleDef& d : policy_.roles)
              names.push_back(d.name);
            sink_.Add(marks[i], "unknown role '" + roles[i] + "'" +
                                    DidYouMean(roles[i], names));
            roles_ok = false;
            continue;
          }
          if (resource) {
            const engine::TypeId t = policy_.FindType(resource->type);
            if (!policy_.roles[id].bindable_on.Contains(t)) {
              std::string on;
              for (engine::TypeId x = 0; x < policy_.types.size(); ++x) {
                if (policy_.roles[id].bindable_on.Contains(x)) {
                  on += (on.empty() ? "" : ", ") + policy_.types[x].name;
                }
              }
              sink_.Add(marks[i], "role " + roles[i] +
                                      " cannot be bound on a " +
                                      std::string(resource->type) +
                                      " (it may be bound on: " +
                                      (on.empty() ? "nothing" : on) + ")");
              roles_ok = false;
            }
          }
        }
        if (roles.empty() && r.IsSequence()) {
          sink_.Add(r.Mark(), "a binding needs at least one role");
          roles_ok = false;
        }
      }
      engine::BindingState state = engine::BindingState::kActive;
      if (YAML::Node s = Get(b, "state"); s.IsDefined()) {
        std::optional<std::string> v = ReadString(s, "state", sink_);
        if (v && *v == "pending") {
          state = engine::BindingState::kPending;
        } else if (v && *v != "active") {
          sink_.Add(s.Mark(), "unknown binding state '" + *v +
                                  "'; expected active or pending");
          roles_ok = false;
        }
      }
      TimestampMicros expires = kNoExpiry;
      if (YAML::Node e = Get(b, "expires_at"); e.IsDefined()) {
        std::optional<TimestampMicros> t = ReadTime(e, "expires_at", sink_);
        if (!t) continue;
        expires = *t;
      }
      if (!targets_ok || !roles_ok) continue;
      if (!bound.insert(subject->ToString() + " " + resource->ToString())
               .second) {
        sink_.Add(b.Mark(), "a second binding of " + subject->ToString() +
                                " on " + resource->ToString() +
                                " (list every role in one binding's roles)");
        continue;
      }
      out_->SetBinding(*subject, *resource, roles, state, expires);
    }
  }

  void LoadRestrictions() {
    std::set<std::string> restricted;
    for (const YAML::Node& r : ListOf("restrictions")) {
      if (!CheckMap(r, "a restriction", {"subject", "resource", "actions"},
                    {"subject", "resource", "actions"}, sink_)) {
        continue;
      }
      std::optional<EntityRef> subject, resource;
      if (!ReadTarget(r, &subject, &resource)) continue;
      const engine::TypeId t = policy_.FindType(resource->type);
      if (!policy_.types[t].restrictable) {
        sink_.Add(Get(r, "resource").Mark(),
                  "restrictions may not be placed on a " +
                      std::string(resource->type) +
                      " (see `restrictions: on:` in the policy)");
        continue;
      }
      std::vector<YAML::Mark> marks;
      std::vector<std::string> actions =
          ReadStringList(Get(r, "actions"), "actions", sink_, &marks);
      bool ok = !actions.empty();
      if (actions.empty()) {
        sink_.Add(Get(r, "actions").Mark(),
                  "a restriction needs at least one action (or \"*\")");
      }
      for (size_t i = 0; i < actions.size(); ++i) {
        if (actions[i] == "*") continue;
        if (policy_.FindAction(actions[i]) == engine::kNoAction) {
          std::vector<std::string> names;
          for (const engine::ActionDef& a : policy_.actions)
            names.push_back(a.name);
          sink_.Add(marks[i], "unknown action '" + actions[i] + "'" +
                                  DidYouMean(actions[i], names));
          ok = false;
        }
      }
      if (!ok) continue;
      if (!restricted.insert(subject->ToString() + " " + resource->ToString())
               .second) {
        sink_.Add(r.Mark(), "a second restriction of " + subject->ToString() +
                                " on " + resource->ToString());
        continue;
      }
      out_->SetRestriction(*subject, *resource, actions);
    }
  }

 private:
  // Reads the `id` of a resource or subject entry. Returns nullopt (after
  // reporting) if it is missing, malformed or already in `seen`.
  std::optional<EntityRef> ReadId(const YAML::Node& entry, bool subject,
                                  std::set<std::string>* seen) {
    YAML::Node id = Get(entry, "id");
    if (!id.IsDefined()) return std::nullopt;
    const std::string kind = subject ? "subject" : "resource";
    std::optional<EntityRef> ref =
        ReadEntity(id, kind + " id", subject, policy_, sink_);
    if (!ref) return std::nullopt;
    if (!seen->insert(ref->ToString()).second) {
      sink_.Add(id.Mark(), "duplicate " + kind + " '" + ref->ToString() + "'");
      return std::nullopt;
    }
    return ref;
  }

  // Stores the `attributes` of `entity` (if it has any) on `ref`, checked
  // against the attributes its type declares.
  void LoadAttributes(const YAML::Node& entity, engine::EntityKind kind,
                      const EntityRef& ref) {
    const YAML::Node a = Get(entity, "attributes");
    if (!a.IsDefined()) return;
    std::vector<std::pair<std::string, OwnedValue>> attrs;
    std::vector<YAML::Mark> marks;
    FlattenAttributes(a, "", "attributes", sink_, &attrs, &marks);
    CheckAttributes(policy_.types[policy_.FindType(ref.type)], attrs, marks,
                    sink_);
    for (auto& [k, v] : attrs) {
      out_->SetAttribute(kind, ref.type, ref.id, k, std::move(v));
    }
  }

  // The elements of the list under `key` (none if absent or null).
  std::vector<YAML::Node> ListOf(const char* key) {
    std::vector<YAML::Node> items;
    YAML::Node n = Get(node_, key);
    if (!n.IsDefined() || n.IsNull()) return items;
    if (!n.IsSequence()) {
      sink_.Add(n.Mark(),
                std::string(key) + " must be a list, got " + DescribeNode(n));
      return items;
    }
    for (const YAML::Node& x : n) items.push_back(x);
    return items;
  }

  // Reads `subject` and `resource` of a binding or restriction; the
  // resource must be one of the data. True if both were read.
  bool ReadTarget(const YAML::Node& n, std::optional<EntityRef>* subject,
                  std::optional<EntityRef>* resource) {
    if (YAML::Node s = Get(n, "subject"); s.IsDefined()) {
      *subject = ReadEntity(s, "subject", true, policy_, sink_);
    }
    if (YAML::Node r = Get(n, "resource"); r.IsDefined()) {
      *resource = ReadEntity(r, "resource", false, policy_, sink_);
      if (*resource && !resource_ids_.count((*resource)->ToString())) {
        sink_.Add(r.Mark(), "resource '" + (*resource)->ToString() +
                                "' is not a resource of the data");
        resource->reset();
      }
    }
    return subject->has_value() && resource->has_value();
  }

  const YAML::Node& node_;
  const engine::Policy& policy_;
  engine::MemoryData* out_;
  ErrorSink& sink_;
  std::set<std::string> resource_ids_;
};

}  // namespace

void LoadData(const YAML::Node& node, const std::string& file,
              const engine::Policy& policy, engine::MemoryData* out,
              PolicyErrors* errors) {
  ErrorSink sink(file, errors);
  if (!CheckMap(node, "the data",
                {"resources", "subjects", "bindings", "restrictions"}, {},
                sink)) {
    return;
  }
  DataLoader loader(node, policy, out, sink);
  loader.LoadResources();
  loader.LoadSubjects();
  loader.LoadBindings();
  loader.LoadRestrictions();
}

tl::expected<std::unique_ptr<engine::MemoryData>, PolicyErrors> LoadDataFile(
    const std::string& path, const engine::Policy& policy) {
  PolicyErrors errors;
  std::string text;
  if (!ReadText(path, &text)) {
    errors.push_back(PolicyError{path, 0, 0, "cannot open the file"});
    return tl::unexpected<PolicyErrors>(std::move(errors));
  }
  // JSON Lines (the export format) is read through the same loader: its
  // records become the YAML layout, and errors name the JSON Lines line.
  std::vector<uint32_t> source_lines;
  const bool jsonl = LooksLikeJsonLines(text);
  if (jsonl) {
    std::optional<std::string> yaml =
        JsonLinesAsDataYaml(text, path, &source_lines, &errors);
    if (!yaml) return tl::unexpected<PolicyErrors>(std::move(errors));
    text = std::move(*yaml);
  }
  std::optional<YAML::Node> root = ParseYamlText(text, path, &errors);
  if (!root) return tl::unexpected<PolicyErrors>(std::move(errors));
  auto data = std::make_unique<engine::MemoryData>();
  try {
    LoadData(*root, path, policy, data.get(), &errors);
  } catch (const YAML::Exception& e) {
    errors.push_back(PolicyError{path, MarkLine(e.mark), MarkColumn(e.mark),
                                 "YAML error: " + e.msg});
  }
  if (jsonl) {
    for (PolicyError& e : errors) {
      if (e.line >= 1 && e.line <= source_lines.size()) {
        e.line = source_lines[e.line - 1];
        e.column = 1;
      }
    }
  }
  if (!errors.empty()) return tl::unexpected<PolicyErrors>(std::move(errors));
  return data;
}

PolicyErrors ReadContextValue(
    const std::string& key, std::string_view yaml, const std::string& source,
    std::vector<std::pair<std::string, OwnedValue>>* out) {
  PolicyErrors errors;
  ErrorSink sink(source, &errors);
  try {
    YAML::Node value = YAML::Load(std::string(yaml));
    if (value.IsMap()) {
      FlattenAttributes(value, key, "context", sink, out);
    } else if (auto v = ToOwnedValue(value, key, sink)) {
      out->emplace_back(key, std::move(*v));
    }
  } catch (const YAML::Exception& e) {
    sink.Add(e.mark, "the value is not a YAML scalar: " + e.msg);
  }
  return errors;
}

// ------------------------------------------------------------- test files

PolicyResult PolicyCache::Get(const std::string& path) {
  std::error_code ec;
  std::string key = std::filesystem::weakly_canonical(path, ec).string();
  if (ec) key = path;
  auto it = compiled_.find(key);
  if (it != compiled_.end()) return it->second;
  PolicyResult r = CompilePolicyFile(path);
  compiled_.emplace(key, r);
  return r;
}

std::optional<engine::ReasonCode> ParseReasonCode(std::string_view name) {
  for (int c = 0; c <= static_cast<int>(engine::ReasonCode::kDepthExceeded);
       ++c) {
    const auto code = static_cast<engine::ReasonCode>(c);
    if (engine::ReasonCodeName(code) == name) return code;
  }
  return std::nullopt;
}

namespace {

std::vector<std::string> ReasonCodeNames() {
  std::vector<std::string> out;
  for (int c = 0; c <= static_cast<int>(engine::ReasonCode::kDepthExceeded);
       ++c) {
    out.emplace_back(engine::ReasonCodeName(static_cast<engine::ReasonCode>(c)));
  }
  return out;
}

void LoadCases(const YAML::Node& list, TestFile* tf, ErrorSink& sink) {
  if (!list.IsSequence()) {
    sink.Add(list.Mark(), "cases must be a list, got " + DescribeNode(list));
    return;
  }
  std::set<std::string> names;
  for (const YAML::Node& c : list) {
    if (!CheckMap(c, "a case",
                  {"name", "subject", "action", "resource", "context", "now",
                   "expect", "reason"},
                  {"name", "subject", "action", "resource", "expect"}, sink)) {
      continue;
    }
    const size_t before = sink.count();
    TestCase tc;
    tc.location = sink.Location(c.Mark());
    auto str = [&](const char* key, std::string* out) {
      if (YAML::Node n = Get(c, key); n.IsDefined()) {
        if (auto s = ReadString(n, key, sink)) *out = *s;
      }
    };
    str("name", &tc.name);
    str("subject", &tc.subject);
    str("action", &tc.action);
    str("resource", &tc.resource);
    if (!tc.name.empty() && !names.insert(tc.name).second) {
      sink.Add(Get(c, "name").Mark(), "duplicate case name '" + tc.name + "'");
    }
    for (const char* key : {"subject", "resource"}) {
      YAML::Node n = Get(c, key);
      if (n.IsDefined() && n.IsScalar() &&
          !engine::ParseEntityRef(n.Scalar())) {
        sink.Add(n.Mark(), std::string(key) + " '" + n.Scalar() +
                               "' must have the form type:id");
      }
    }
    if (YAML::Node n = Get(c, "context"); n.IsDefined() && !n.IsNull()) {
      std::vector<std::pair<std::string, OwnedValue>> ctx;
      FlattenAttributes(n, "", "context", sink, &ctx);
      tc.context = OwnedAttributes(std::move(ctx));
    }
    if (YAML::Node n = Get(c, "now"); n.IsDefined()) {
      tc.now = ReadTime(n, "now", sink);
    }
    if (YAML::Node n = Get(c, "expect"); n.IsDefined()) {
      std::optional<std::string> e = ReadString(n, "expect", sink);
      if (e && (*e == "allow" || *e == "deny")) {
        tc.expect_allow = *e == "allow";
      } else if (e) {
        sink.Add(n.Mark(), "expect must be allow or deny, got '" + *e + "'");
      }
    }
    if (YAML::Node n = Get(c, "reason"); n.IsDefined()) {
      if (std::optional<std::string> r = ReadString(n, "reason", sink)) {
        tc.reason = ParseReasonCode(*r);
        if (!tc.reason) {
          const std::vector<std::string> all = ReasonCodeNames();
          std::string list;
          for (const std::string& x : all) list += (list.empty() ? "" : ", ") + x;
          sink.Add(n.Mark(), "unknown reason code '" + *r + "'" +
                                 DidYouMean(*r, all) + "; expected one of: " +
                                 list);
        }
      }
    }
    if (sink.count() == before) tf->cases.push_back(std::move(tc));
  }
}

}  // namespace

tl::expected<std::optional<TestFile>, PolicyErrors> LoadTestFile(
    const std::string& path, PolicyCache* cache) {
  PolicyErrors errors;
  auto fail = [&]() {
    return tl::unexpected<PolicyErrors>(std::move(errors));
  };
  std::string text;
  if (!ReadText(path, &text)) {
    errors.push_back(PolicyError{path, 0, 0, "cannot open the file"});
    return fail();
  }
  std::optional<YAML::Node> root = ParseYamlText(text, path, &errors);
  if (!root) return fail();
  if (!root->IsMap() || !Get(*root, "cases").IsDefined()) {
    return std::optional<TestFile>();
  }
  ErrorSink sink(path, &errors);
  try {
    CheckMap(*root, "a test file",
             {"description", "policy", "now", "data", "cases"},
             {"policy", "cases"}, sink);
    TestFile tf;
    tf.path = path;
    tf.data = std::make_unique<engine::MemoryData>();
    YAML::Node policy = Get(*root, "policy");
    if (policy.IsMap()) {
      PolicyResult r = CompilePolicyNode(policy, text, path);
      if (r) {
        tf.policy = *r;
      } else {
        for (PolicyError& e : r.error()) errors.push_back(std::move(e));
      }
      tf.policy_file = path;
    } else if (policy.IsDefined()) {
      if (std::optional<std::string> p =
              ReadString(policy, "policy (a path or a mapping)", sink)) {
        const std::string resolved =
            (std::filesystem::path(path).parent_path() / *p).lexically_normal()
                .string();
        PolicyCache local;
        PolicyResult r = (cache ? cache : &local)->Get(resolved);
        if (r) {
          tf.policy = *r;
        } else {
          sink.Add(policy.Mark(), "the policy " + resolved +
                                      " does not compile (" +
                                      std::to_string(r.error().size()) +
                                      " errors follow)");
          for (PolicyError& e : r.error()) errors.push_back(std::move(e));
        }
        tf.policy_file = resolved;
      }
    }
    if (YAML::Node n = Get(*root, "now"); n.IsDefined()) {
      tf.now = ReadTime(n, "now", sink);
    }
    if (tf.policy) {
      YAML::Node data = Get(*root, "data");
      if (data.IsScalar()) {
        // `data: path/to/data.yaml`, relative to the test file.
        const std::string resolved =
            (std::filesystem::path(path).parent_path() / data.Scalar())
                .lexically_normal()
                .string();
        auto d = LoadDataFile(resolved, *tf.policy);
        if (d) {
          tf.data = std::move(*d);
        } else {
          for (PolicyError& e : d.error()) errors.push_back(std::move(e));
        }
      } else if (data.IsDefined() && !data.IsNull()) {
        LoadData(data, path, *tf.policy, tf.data.get(), &errors);
      }
    }
    LoadCases(Get(*root, "cases"), &tf, sink);
    if (!errors.empty()) return fail();
    return std::optional<TestFile>(std::move(tf));
  } catch (const YAML::Exception& e) {
    errors.push_back(PolicyError{path, MarkLine(e.mark), MarkColumn(e.mark),
                                 "YAML error: " + e.msg});
    return fail();
  }
}

}  // namespace portcullis::policies
