#include "policies/condition_parser.h"

#include <gtest/gtest.h>

namespace portcullis::policies {
namespace {

using engine::ConditionResult;
using engine::ExprOp;

std::unique_ptr<engine::Condition> Parse(std::string_view text,
                                         const AttributeSchema* schema = nullptr) {
  ConditionOrigin origin{"f.yaml", 1, 1, 1};
  auto r = ParseCondition(text, origin, schema);
  EXPECT_TRUE(r.has_value()) << (r ? "" : r.error()[0].ToString());
  return r ? std::move(*r) : nullptr;
}

// The first error as "line:column: message".
std::string FirstError(std::string_view text,
                       const AttributeSchema* schema = nullptr,
                       ConditionOrigin origin = {"f.yaml", 1, 1, 1}) {
  auto r = ParseCondition(text, origin, schema);
  if (r) return "no error";
  const PolicyError& e = r.error()[0];
  return std::to_string(e.line) + ":" + std::to_string(e.column) + ": " +
         e.message;
}

ConditionResult Eval(const engine::Condition& c,
                     std::vector<engine::Attribute> context,
                     TimestampMicros now = 0) {
  engine::ConditionInputs in;
  in.subject = {"user", "alice"};
  in.resource = {"file", "f1"};
  in.action = "view";
  in.context = context;
  in.now = now;
  return c.Evaluate(in, nullptr);
}

TEST(ConditionParser, ParsesComparisonOfAttributes) {
  auto c = Parse("resource.owner == subject.id");
  ASSERT_TRUE(c);
  const auto& root = c->nodes()[c->root()];
  EXPECT_EQ(root.op, ExprOp::kEq);
  EXPECT_EQ(c->nodes()[root.child[0]].op, ExprOp::kAttr);
  EXPECT_EQ(c->nodes()[root.child[0]].root, engine::AttrRoot::kResource);
  EXPECT_EQ(c->nodes()[root.child[0]].key, "owner");
  EXPECT_EQ(c->nodes()[root.child[1]].key, "id");
  EXPECT_EQ(c->text(), "resource.owner == subject.id");
}

TEST(ConditionParser, DottedPathsReachNestedKeys) {
  auto c = Parse("context.device.ip == \"10.0.0.1\"");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->nodes()[c->nodes()[c->root()].child[0]].key, "device.ip");
  engine::Attribute a{"device.ip", engine::Value::String("10.0.0.1")};
  EXPECT_EQ(Eval(*c, {a}), ConditionResult::kTrue);
}

TEST(ConditionParser, AndBindsTighterThanOr) {
  // true || (false && false) is true; (true || false) && false is false.
  auto c = Parse("true || false && false");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->nodes()[c->root()].op, ExprOp::kOr);
  EXPECT_EQ(Eval(*c, {}), ConditionResult::kTrue);
  auto d = Parse("(true || false) && false");
  EXPECT_EQ(Eval(*d, {}), ConditionResult::kFalse);
}

TEST(ConditionParser, NotAppliesToItsOperand) {
  auto c = Parse("!context.soft");
  engine::Attribute t{"soft", engine::Value::Bool(true)};
  EXPECT_EQ(Eval(*c, {t}), ConditionResult::kFalse);
  auto d = Parse("!(context.n > 3) && !false");
  engine::Attribute n{"n", engine::Value::Int(2)};
  EXPECT_EQ(Eval(*d, {n}), ConditionResult::kTrue);
}

TEST(ConditionParser, ConstantListBecomesOneLiteral) {
  auto c = Parse("context.color in [\"red\", \"green\", 3, 4.5, null, [1]]");
  ASSERT_TRUE(c);
  const auto& rhs = c->nodes()[c->nodes()[c->root()].child[1]];
  EXPECT_EQ(rhs.op, ExprOp::kLiteral);
  ASSERT_EQ(rhs.literal.kind, engine::ValueKind::kList);
  EXPECT_EQ(rhs.literal.list.size(), 6u);
  EXPECT_EQ(rhs.literal.list[0].s, "red");
  EXPECT_EQ(rhs.literal.list[5].list[0].i, 1);
  engine::Attribute g{"color", engine::Value::String("green")};
  EXPECT_EQ(Eval(*c, {g}), ConditionResult::kTrue);
  // Comparing a string with the int 3 is an evaluation error.
  engine::Attribute b{"color", engine::Value::String("blue")};
  EXPECT_EQ(Eval(*c, {b}), ConditionResult::kError);
  auto d = Parse("context.color in [\"red\", \"green\"]");
  EXPECT_EQ(Eval(*d, {b}), ConditionResult::kFalse);
}

TEST(ConditionParser, ListWithAttributesStaysAListNode) {
  auto c = Parse("subject.id in [resource.owner, context.delegate, \"root\"]");
  ASSERT_TRUE(c);
  const auto& rhs = c->nodes()[c->nodes()[c->root()].child[1]];
  EXPECT_EQ(rhs.op, ExprOp::kList);
  EXPECT_EQ(rhs.list_children.size(), 3u);
  engine::Attribute d{"delegate", engine::Value::String("alice")};
  EXPECT_EQ(Eval(*c, {d}), ConditionResult::kError);  // resource.owner missing
}

TEST(ConditionParser, TimestampsAndNow) {
  auto c = Parse("now < timestamp(\"2027-01-01T00:00:00Z\")");
  ASSERT_TRUE(c);
  const TimestampMicros t2026 = *ParseRfc3339("2026-06-01T00:00:00Z");
  const TimestampMicros t2028 = *ParseRfc3339("2028-06-01T00:00:00Z");
  EXPECT_EQ(Eval(*c, {}, t2026), ConditionResult::kTrue);
  EXPECT_EQ(Eval(*c, {}, t2028), ConditionResult::kFalse);
  // A string holding a time compares with a timestamp.
  auto d = Parse("context.until > now");
  engine::Attribute u{"until", engine::Value::String("2027-01-01T00:00:00Z")};
  EXPECT_EQ(Eval(*d, {u}, t2026), ConditionResult::kTrue);
}

TEST(ConditionParser, LiteralsOfEveryKind) {
  auto c = Parse("context.a == 'single' && context.b == -42 && "
                 "context.c >= 1.5e2 && context.d == null && has(context.a) && "
                 "!has(context.zz)");
  ASSERT_TRUE(c);
  std::vector<engine::Attribute> ctx = {
      {"a", engine::Value::String("single")},
      {"b", engine::Value::Int(-42)},
      {"c", engine::Value::Double(150)},
      {"d", engine::Value::Null()}};
  EXPECT_EQ(Eval(*c, ctx), ConditionResult::kTrue);
}

TEST(ConditionParser, NodeLocationsPointIntoTheFile) {
  ConditionOrigin origin{"p.yaml", 7, 15, 1};
  auto r = ParseCondition("resource.owner == subject.id", origin, nullptr);
  ASSERT_TRUE(r);
  const auto& root = (*r)->nodes()[(*r)->root()];
  EXPECT_EQ(root.location.ToString(), "p.yaml:7:30");  // the '=='
  EXPECT_EQ((*r)->nodes()[root.child[1]].location.ToString(), "p.yaml:7:33");
  EXPECT_EQ((*r)->location().ToString(), "p.yaml:7:15");
}

TEST(ConditionParser, SyntaxErrorsCarryTheirColumn) {
  EXPECT_EQ(FirstError("resource.owner = subject.id"),
            "1:16: unexpected '=' (use '==' to compare)");
  EXPECT_EQ(FirstError("resource.owner =="),
            "1:18: expected a value, an attribute or '(', found the end of "
            "the condition");
  EXPECT_EQ(FirstError("(true"), "1:6: expected ')', found the end of the "
                                 "condition");
  EXPECT_EQ(FirstError("owner == 1").substr(0, 25), "1:1: unknown name 'owner'");
  EXPECT_EQ(FirstError("context.a == \"open"), "1:14: unterminated string");
  EXPECT_EQ(FirstError("true true"),
            "1:6: expected an operator or the end of the condition, found "
            "'true'");
  EXPECT_EQ(FirstError("context.a & true"), "1:11: unexpected '&' (use '&&')");
  EXPECT_EQ(FirstError("context.a == 1 == 2"),
            "1:16: comparisons do not chain; use '&&' between two comparisons");
  EXPECT_EQ(FirstError("context"),
            "1:8: expected '.' and an attribute name after 'context'");
  EXPECT_EQ(FirstError("has(true)"),
            "1:5: expected an attribute such as resource.owner, found 'true'");
  EXPECT_EQ(FirstError("context.a == 12abc"), "1:14: malformed number");
  EXPECT_EQ(FirstError(""), "1:1: expected a value, an attribute or '(', found "
                            "the end of the condition");
}

TEST(ConditionParser, ErrorColumnsAreOffsetByTheOrigin) {
  EXPECT_EQ(FirstError("true &&", nullptr, {"f", 12, 11, 1}),
            "12:18: expected a value, an attribute or '(', found the end of "
            "the condition");
  // Later lines of a block scalar use the continuation column.
  EXPECT_EQ(FirstError("true &&\n  = 1", nullptr, {"f", 12, 7, 7}),
            "13:9: unexpected '=' (use '==' to compare)");
}

TEST(ConditionParser, InvalidTimestampIsACompileError) {
  EXPECT_EQ(FirstError("now < timestamp(\"next tuesday\")"),
            "1:17: \"next tuesday\" is not an RFC 3339 time (e.g. "
            "\"2027-01-01T00:00:00Z\")");
  EXPECT_EQ(FirstError("now < timestamp(5)"),
            "1:17: expected a string such as \"2027-01-01T00:00:00Z\", found "
            "'5'");
}

TEST(ConditionParser, StaticTypeErrors) {
  EXPECT_EQ(FirstError("subject.id == 5"),
            "1:12: cannot compare string with int using '==': they are never "
            "equal");
  EXPECT_EQ(FirstError("true < false"), "1:6: '<' cannot order bool values");
  EXPECT_EQ(FirstError("[1, 2] >= 1"), "1:8: '>=' cannot order list values");
  EXPECT_EQ(FirstError("\"a\" && true"),
            "1:1: operand of '&&' must be a bool, got string");
  EXPECT_EQ(FirstError("true || 3"),
            "1:9: operand of '||' must be a bool, got int");
  EXPECT_EQ(FirstError("!\"x\""), "1:2: operand of '!' must be a bool, got string");
  EXPECT_EQ(FirstError("subject.id"),
            "1:1: a condition must be a boolean expression, got string");
  EXPECT_EQ(FirstError("context.a in 5"),
            "1:14: right side of 'in' must be a list, got int");
  EXPECT_EQ(FirstError("subject.id in [1, 2]"),
            "1:12: 'in' compares string with list elements of kind int: they "
            "are never equal");
  EXPECT_EQ(FirstError("now > 5"), "1:5: cannot compare timestamp with int using '>'");
  EXPECT_EQ(FirstError("now > \"soon\""),
            "1:7: \"soon\" is compared with a timestamp but is not an RFC 3339 "
            "time");
  EXPECT_EQ(FirstError("[context.a] == [1]"),
            "1:1: a list containing attributes may only appear on the right of "
            "'in'");
  // Unknown kinds are not checked.
  EXPECT_EQ(FirstError("context.a == 5 && context.b < \"x\""), "no error");
  // Numbers compare with numbers, strings with timestamps, null with all.
  EXPECT_EQ(FirstError("1 < 2.5 && \"2027-01-01T00:00:00Z\" > now && "
                       "subject.id != null"),
            "no error");
}

TEST(ConditionParser, ReportsEveryTypeError) {
  auto r = ParseCondition("subject.id == 1 || true < false", {"f", 1, 1, 1},
                          nullptr);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().size(), 2u);
}

TEST(ConditionParser, DeclaredAttributesAreChecked) {
  engine::TypeDef user;
  user.name = "user";
  user.is_subject = true;
  user.attributes = {{"department", engine::AttributeType::kString, {}},
                     {"level", engine::AttributeType::kInt, {}}};
  engine::TypeDef email;  // declares nothing: anything may be read
  email.name = "email";
  email.is_subject = true;
  engine::TypeDef file;
  file.name = "file";
  file.attributes = {{"owner", engine::AttributeType::kString, {}},
                     {"public", engine::AttributeType::kBool, {}}};
  AttributeSchema schema;
  schema.subject_types = {&user};
  schema.resource_types = {&file};
  EXPECT_EQ(FirstError("resource.ownr == subject.id", &schema),
            "1:1: resource.ownr: type file declares no attribute 'ownr' (did "
            "you mean 'owner'?) (declared: owner, public)");
  EXPECT_EQ(FirstError("has(resource.size)", &schema).substr(0, 48),
            "1:5: resource.size: type file declares no attrib");
  EXPECT_EQ(FirstError("resource.public == \"yes\"", &schema),
            "1:17: cannot compare bool with string using '==': they are never "
            "equal");
  EXPECT_EQ(FirstError("subject.level > \"3\"", &schema),
            "1:15: cannot compare int with string using '>'");
  EXPECT_EQ(FirstError("resource.public && subject.level >= 2 && "
                       "resource.id == subject.id",
                       &schema),
            "no error");
  // Two candidate types that disagree: the kind is unknown, not an error.
  schema.subject_types = {&user, &email};
  EXPECT_EQ(FirstError("subject.level == \"x\"", &schema), "no error");
  // But an attribute one of them does not declare still is.
  EXPECT_EQ(FirstError("subject.team == \"x\"", &schema).substr(0, 50),
            "1:1: subject.team: type user declares no attribute");
}

TEST(ConditionParser, DeepNestingIsAnErrorNotACrash) {
  std::string deep(10000, '(');
  EXPECT_NE(FirstError(deep).find("nests too deeply"), std::string::npos);
  std::string nots(10000, '!');
  EXPECT_NE(FirstError(nots + "true").find("nests too deeply"),
            std::string::npos);
}

}  // namespace
}  // namespace portcullis::policies
