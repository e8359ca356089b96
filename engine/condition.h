// Condition: a compiled boolean expression over the attributes of the
// subject, the resource, the action and the request context.
//
// The text form ("resource.owner == subject.id && context.soft == true") is
// parsed by policies/condition_parser.h; this header holds the compiled form
// and its evaluation, which allocates nothing.
//
// Thread safety: a Condition is immutable after it is built and may be
// evaluated from many threads at once.
#ifndef PORTCULLIS_ENGINE_CONDITION_H_
#define PORTCULLIS_ENGINE_CONDITION_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "engine/data_view.h"
#include "engine/entity.h"
#include "engine/source_location.h"
#include "engine/value.h"

namespace portcullis::engine {

enum class ExprOp : uint8_t {
  kLiteral,  // literal
  kAttr,     // root.key
  kList,     // [children...]
  kNot,      // !child0
  kAnd,      // child0 && child1 (short-circuit)
  kOr,       // child0 || child1 (short-circuit)
  kEq,
  kNe,
  kLt,
  kLe,
  kGt,
  kGe,
  kIn,   // child0 in child1 (child1 a list)
  kHas,  // has(root.key): the attribute exists
  kNow,  // the request time, a timestamp
};

enum class AttrRoot : uint8_t { kSubject, kResource, kAction, kContext };

// One node of an expression tree. Children are indexes into the owning
// Condition's node vector.
struct ExprNode {
  ExprOp op = ExprOp::kLiteral;
  AttrRoot root = AttrRoot::kContext;  // kAttr, kHas
  // kAttr, kHas: the attribute name after the root ("owner", "device.ip").
  // "id" and "type" on subject and resource, and "name" on action, are the
  // entity's own id, type and name.
  std::string_view key;
  Value literal;  // kLiteral
  uint32_t child[2] = {0, 0};
  std::vector<uint32_t> list_children;  // kList
  SourceLocation location;
};

// The inputs a condition reads. Request properties override stored
// attributes of the same name.
struct ConditionInputs {
  const DataView* data = nullptr;
  EntityRef subject;
  EntityRef resource;
  std::string_view action;
  AttributeMap subject_properties;
  AttributeMap resource_properties;
  AttributeMap action_properties;
  AttributeMap context;
  TimestampMicros now = 0;
};

enum class EvalErrorKind : uint8_t {
  kNone,
  kMissingAttribute,  // the condition read an attribute that does not exist
  kTypeMismatch,      // operands of kinds the operator does not accept
  kStorage,           // the data view failed
};

std::string_view EvalErrorKindName(EvalErrorKind kind);

// Where and why a condition could not be evaluated.
struct EvalError {
  EvalErrorKind kind = EvalErrorKind::kNone;
  const ExprNode* node = nullptr;  // the failing node, for its location
  explicit operator bool() const { return kind != EvalErrorKind::kNone; }
};

enum class ConditionResult : uint8_t { kFalse, kTrue, kError };

class Condition {
 public:
  Condition() = default;
  Condition(const Condition&) = delete;
  Condition& operator=(const Condition&) = delete;
  Condition(Condition&&) = default;
  Condition& operator=(Condition&&) = default;

  // Building, used by the parser. Strings and lists added here are owned by
  // the condition and stay at a fixed address.
  std::string_view InternString(std::string_view s);
  std::span<const Value> InternList(std::vector<Value> values);
  uint32_t AddNode(ExprNode node);
  void set_root(uint32_t root) { root_ = root; }
  void set_text(std::string text) { text_ = std::move(text); }
  void set_location(SourceLocation loc) { location_ = std::move(loc); }

  const std::vector<ExprNode>& nodes() const { return nodes_; }
  uint32_t root() const { return root_; }
  // The condition as written in the policy.
  const std::string& text() const { return text_; }
  const SourceLocation& location() const { return location_; }

  // Evaluates the condition. A result that is not a bool is a type
  // mismatch. On kError, *error says which node failed and why.
  ConditionResult Evaluate(const ConditionInputs& in, EvalError* error) const;

 private:
  std::vector<ExprNode> nodes_;
  uint32_t root_ = 0;
  std::string text_;
  SourceLocation location_;
  std::vector<std::unique_ptr<std::string>> strings_;
  std::vector<std::unique_ptr<std::vector<Value>>> lists_;
};

}  // namespace portcullis::engine

#endif  // PORTCULLIS_ENGINE_CONDITION_H_
