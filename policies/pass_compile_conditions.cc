// Pass CompileConditions of the policy compiler (compiler_passes.h): each
// `when` text -> engine::Condition, type-checked against the attribute
// schema of the types it can see, positions pointing into the YAML.
#include "policies/compiler_passes.h"

#include <memory>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "policies/condition_parser.h"

namespace portcullis::policies {
namespace {

using engine::TypeId;

// Where the text of a condition starts: past the quote of a quoted
// scalar, on the line after the indicator of a block scalar.
ConditionOrigin OriginOf(const CompileState& st, const YAML::Mark& mark) {
  ConditionOrigin o;
  o.file = st.file;
  o.line = MarkLine(mark);
  o.column = MarkColumn(mark);
  o.continuation_column = 1;
  if (mark.pos < 0 || static_cast<size_t>(mark.pos) >= st.source.size()) {
    return o;
  }
  const char c = st.source[mark.pos];
  if (c == '"' || c == '\'') {
    o.column += 1;
  } else if (c == '|' || c == '>') {
    // A block scalar: the text starts on the next line, indented.
    size_t p = st.source.find('\n', mark.pos);
    if (p == std::string_view::npos) return o;
    ++p;
    size_t indent = 0;
    while (p + indent < st.source.size() && st.source[p + indent] == ' ') {
      ++indent;
    }
    o.line += 1;
    o.column = static_cast<uint32_t>(indent) + 1;
    o.continuation_column = o.column;
  }
  return o;
}

void Compile(CompileState& st, const WhenAst& when,
             const AttributeSchema& schema,
             std::unique_ptr<engine::Condition>* out) {
  ConditionResultOrErrors r =
      ParseCondition(when.text, OriginOf(st, when.mark), &schema);
  if (!r) {
    for (PolicyError& e : r.error()) st.errors.push_back(std::move(e));
    return;
  }
  *out = std::move(*r);
}

}  // namespace

void CompileConditions(CompileState& st) {
  std::vector<const engine::TypeDef*> subjects;
  for (const engine::TypeDef& t : st.policy->types) {
    if (t.is_subject) subjects.push_back(&t);
  }
  for (auto& grants : st.role_grants) {
    for (const PendingGrant& g : grants) {
      if (g.when == nullptr) continue;
      AttributeSchema schema;
      schema.subject_types = subjects;
      schema.resource_types = {&st.policy->types[g.grant->type]};
      Compile(st, *g.when, schema, &g.grant->when);
    }
  }
  for (size_t i = 0; i < st.rule_ast.size(); ++i) {
    if (!st.rule_ast[i]->when) continue;
    AttributeSchema schema;
    schema.subject_types = subjects;
    for (TypeId t : st.rule_types[i]) {
      schema.resource_types.push_back(&st.policy->types[t]);
    }
    if (schema.resource_types.empty()) continue;  // `on` failed to resolve
    Compile(st, *st.rule_ast[i]->when, schema, &st.policy->rules[i].when);
  }
}

}  // namespace portcullis::policies
