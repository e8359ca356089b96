// Parses the text of a condition ("resource.owner == subject.id") into a
// compiled engine::Condition, checking types where they are known statically.
//
// Grammar (docs/policy-language.md, "Conditions"):
//   or      := and ('||' and)*
//   and     := cmp ('&&' cmp)*
//   cmp     := unary [('=='|'!='|'<'|'<='|'>'|'>='|'in') unary]
//   unary   := '!' unary | primary
//   primary := literal | '[' [or (',' or)*] ']' | 'timestamp' '(' string ')'
//            | 'now' | 'has' '(' path ')' | path | '(' or ')'
//   path    := ('subject'|'resource'|'action'|'context') ('.' ident)+
//   literal := string ("..." or '...') | int | float | true | false | null
// Comparisons do not chain. A list of constants becomes one literal list
// value; a list with attribute elements stays a kList node and may appear
// only on the right of `in`.
//
// Static checks (where operand kinds are known: literals, `now`, built-ins
// subject.id/type, resource.id/type, action.name, and attributes declared by
// the candidate types): ordering of bools, lists or null; equality of kinds
// that can never be equal (a string and an int); non-bool operands of
// `&&`, `||`, `!`; a non-bool result; reading an attribute that a candidate
// type with declared attributes does not declare.
//
// Thread safety: a pure function; call from any thread.
//
// Invariants:
//   1. Either a whole condition or at least one error is returned, never a
//      half-built condition.
//   2. Every node of a returned condition carries a position in
//      `origin.file` that points into the YAML text.
#ifndef PORTCULLIS_POLICIES_CONDITION_PARSER_H_
#define PORTCULLIS_POLICIES_CONDITION_PARSER_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

#include "engine/condition.h"
#include "engine/policy.h"
#include "policies/policy_error.h"

namespace portcullis::policies {

// Where the expression's first character sits in its file. Offsets on the
// first line of the expression map to `column + offset`; later lines (block
// scalars) map to `continuation_column + offset_in_line`.
struct ConditionOrigin {
  std::string file;
  uint32_t line = 1;
  uint32_t column = 1;
  uint32_t continuation_column = 1;
};

// What the compiler knows about the entities a condition may see. Empty
// lists mean "unknown": nothing is checked for that root.
struct AttributeSchema {
  std::vector<const engine::TypeDef*> subject_types;
  std::vector<const engine::TypeDef*> resource_types;
};

using ConditionResultOrErrors =
    tl::expected<std::unique_ptr<engine::Condition>, PolicyErrors>;

// Parses and checks `text`. On failure returns every error found (a syntax
// error stops parsing; type errors are all reported). `schema` may be null.
ConditionResultOrErrors ParseCondition(std::string_view text,
                                       const ConditionOrigin& origin,
                                       const AttributeSchema* schema);

}  // namespace portcullis::policies

#endif  // PORTCULLIS_POLICIES_CONDITION_PARSER_H_
