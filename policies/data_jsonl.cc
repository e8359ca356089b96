// JSON Lines data (the export and import format, docs/data-format.md) read
// as the data of `portcullis check` and of policy tests: each record is
// rewritten into the YAML data layout, which the one data loader
// validates (yaml_loaders.h).
#include <sstream>
#include <string>
#include <vector>

#include "policies/yaml_loaders.h"

namespace portcullis::policies {
namespace {

// A YAML double-quoted scalar holding `s`.
void AppendQuoted(const std::string& s, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(static_cast<char>(c));
    } else if (c < 0x20) {
      out->append("\\x");
      out->push_back(kHex[c >> 4]);
      out->push_back(kHex[c & 15]);
    } else {
      out->push_back(static_cast<char>(c));
    }
  }
  out->push_back('"');
}

// `node` as a one-line YAML flow value. A JSON string (a quoted scalar)
// stays a string; numbers, booleans and null stay plain.
void AppendFlow(const YAML::Node& node, std::string* out) {
  if (node.IsMap()) {
    out->push_back('{');
    bool first = true;
    for (auto it = node.begin(); it != node.end(); ++it) {
      if (!first) out->append(", ");
      first = false;
      AppendQuoted(it->first.Scalar(), out);
      out->append(": ");
      AppendFlow(it->second, out);
    }
    out->push_back('}');
  } else if (node.IsSequence()) {
    out->push_back('[');
    for (size_t i = 0; i < node.size(); ++i) {
      if (i > 0) out->append(", ");
      AppendFlow(node[i], out);
    }
    out->push_back(']');
  } else if (node.IsScalar()) {
    if (node.Tag() == "!") {
      AppendQuoted(node.Scalar(), out);
    } else {
      out->append(node.Scalar());
    }
  } else {
    out->append("null");
  }
}

// The fields a record of each kind keeps in the YAML layout, and those it
// may carry besides (the export's bookkeeping, not needed for checks).
struct Kind {
  const char* name;
  const char* section;
  std::vector<const char*> fields;
  std::vector<const char*> ignored;
};

const Kind kKinds[] = {
    {"resource", "resources", {"parent", "attributes"}, {"type", "id"}},
    {"subject", "subjects", {"attributes"}, {"type", "id"}},
    {"binding", "bindings",
     {"subject", "resource", "roles", "state", "expires_at"},
     {"created_by", "created_at"}},
    {"restriction", "restrictions", {"subject", "resource", "actions"}, {}},
};

// The first field of `rec` that a record of `kind` does not have, or "".
std::string UnknownField(const YAML::Node& rec, const Kind& kind) {
  for (auto it = rec.begin(); it != rec.end(); ++it) {
    const std::string name = it->first.Scalar();
    if (name == "kind") continue;
    bool known = false;
    for (const auto* list : {&kind.fields, &kind.ignored}) {
      for (const char* f : *list) known = known || name == f;
    }
    if (!known) return name;
  }
  return "";
}

}  // namespace

bool LooksLikeJsonLines(const std::string& text) {
  for (char c : text) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') continue;
    return c == '{';
  }
  return false;
}

std::optional<std::string> JsonLinesAsDataYaml(
    const std::string& text, const std::string& file,
    std::vector<uint32_t>* source_lines, PolicyErrors* errors) {
  // Per section: (JSONL line, YAML flow text) in file order.
  std::vector<std::pair<uint32_t, std::string>> items[std::size(kKinds)];
  std::istringstream in(text);
  std::string line;
  uint32_t n = 0;
  auto fail = [&](std::string message) {
    errors->push_back(PolicyError{file, n, 1, std::move(message)});
  };
  while (std::getline(in, line)) {
    ++n;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    YAML::Node rec;
    try {
      rec = YAML::Load(line);
    } catch (const YAML::Exception& e) {
      fail("not a JSON object: " + e.msg);
      continue;
    }
    if (!rec.IsMap() || !rec["kind"].IsScalar()) {
      fail("a line is a JSON object with a \"kind\"");
      continue;
    }
    const std::string kind = rec["kind"].Scalar();
    if (kind == "invitation") continue;  // its pending binding has a line
    size_t k = 0;
    while (k < std::size(kKinds) && kind != kKinds[k].name) ++k;
    if (k == std::size(kKinds)) {
      fail("unknown kind '" + kind +
           "' (expected resource, subject, binding, restriction or "
           "invitation)");
      continue;
    }
    if (std::string f = UnknownField(rec, kKinds[k]); !f.empty()) {
      fail("unknown field '" + f + "' in a " + kind + " line");
      continue;
    }
    std::string flow = "{";
    if (k < 2) {  // resource, subject: "type" and "id" make the reference
      if (!rec["type"].IsScalar() || !rec["id"].IsScalar()) {
        fail(kind + " needs \"type\" and \"id\"");
        continue;
      }
      flow.append("\"id\": ");
      AppendQuoted(rec["type"].Scalar() + ":" + rec["id"].Scalar(), &flow);
    }
    for (const char* field : kKinds[k].fields) {
      const YAML::Node v = rec[field];
      if (!v.IsDefined() || v.IsNull()) continue;
      if (flow.size() > 1) flow.append(", ");
      AppendQuoted(field, &flow);
      flow.append(": ");
      AppendFlow(v, &flow);
    }
    flow.push_back('}');
    items[k].emplace_back(n, std::move(flow));
  }
  if (!errors->empty()) return std::nullopt;
  std::string yaml;
  source_lines->clear();
  for (size_t k = 0; k < std::size(kKinds); ++k) {
    if (items[k].empty()) continue;
    yaml.append(kKinds[k].section).append(":\n");
    source_lines->push_back(items[k].front().first);
    for (const auto& [line_no, flow] : items[k]) {
      yaml.append("  - ").append(flow).append("\n");
      source_lines->push_back(line_no);
    }
  }
  if (yaml.empty()) yaml = "{}\n";
  return yaml;
}

}  // namespace portcullis::policies
