#include "engine/condition.h"

#include <gtest/gtest.h>

#include <vector>

#include "engine/memory_data.h"

namespace portcullis::engine {
namespace {

// Builds a Condition node by node, as the parser would.
class Expr {
 public:
  uint32_t Lit(Value v) {
    ExprNode n;
    n.op = ExprOp::kLiteral;
    if (v.kind == ValueKind::kString) v.s = c_.InternString(v.s);
    n.literal = v;
    return c_.AddNode(std::move(n));
  }
  uint32_t Str(std::string_view s) { return Lit(Value::String(s)); }
  uint32_t Int(int64_t i) { return Lit(Value::Int(i)); }
  uint32_t List(std::vector<Value> values) {
    for (Value& v : values) {
      if (v.kind == ValueKind::kString) v.s = c_.InternString(v.s);
    }
    return Lit(Value::List(c_.InternList(std::move(values))));
  }
  uint32_t Attr(AttrRoot root, std::string_view key) {
    ExprNode n;
    n.op = ExprOp::kAttr;
    n.root = root;
    n.key = c_.InternString(key);
    return c_.AddNode(std::move(n));
  }
  uint32_t Has(AttrRoot root, std::string_view key) {
    ExprNode n;
    n.op = ExprOp::kHas;
    n.root = root;
    n.key = c_.InternString(key);
    return c_.AddNode(std::move(n));
  }
  uint32_t Now() {
    ExprNode n;
    n.op = ExprOp::kNow;
    return c_.AddNode(std::move(n));
  }
  uint32_t Op(ExprOp op, uint32_t a, uint32_t b = 0) {
    ExprNode n;
    n.op = op;
    n.child[0] = a;
    n.child[1] = b;
    return c_.AddNode(std::move(n));
  }
  uint32_t ListOf(std::vector<uint32_t> children) {
    ExprNode n;
    n.op = ExprOp::kList;
    n.list_children = std::move(children);
    return c_.AddNode(std::move(n));
  }
  Condition& Root(uint32_t root) {
    c_.set_root(root);
    return c_;
  }
  Condition& cond() { return c_; }

 private:
  Condition c_;
};

class ConditionTest : public ::testing::Test {
 protected:
  ConditionTest() {
    data_.PutResource("file", "f1");
    data_.PutSubject("user", "alice");
    data_.SetAttribute(EntityKind::kResource, "file", "f1", "owner",
                       Owned(Value::String("alice")));
    data_.SetAttribute(EntityKind::kResource, "file", "f1", "size",
                       Owned(Value::Int(100)));
    data_.SetAttribute(EntityKind::kSubject, "user", "alice", "department",
                       Owned(Value::String("sales")));
    std::vector<Value> groups = {Value::String("staff"),
                                 Value::String("managers")};
    data_.SetAttribute(EntityKind::kSubject, "user", "alice", "groups",
                       Owned(Value::List(groups)));
    in_.data = &data_;
    in_.subject = {"user", "alice"};
    in_.resource = {"file", "f1"};
    in_.action = "delete";
    in_.now = 1'000'000;
  }
  static OwnedValue Owned(const Value& v) { return OwnedValue::FromValue(v); }

  ConditionResult Eval(const Condition& c) { return c.Evaluate(in_, &err_); }

  MemoryData data_;
  ConditionInputs in_;
  EvalError err_;
};

TEST_F(ConditionTest, EmptyConditionIsTrue) {
  Condition c;
  EXPECT_EQ(Eval(c), ConditionResult::kTrue);
}

TEST_F(ConditionTest, OwnerEqualsSubjectId) {
  Expr e;
  Condition& c = e.Root(e.Op(ExprOp::kEq, e.Attr(AttrRoot::kResource, "owner"),
                             e.Attr(AttrRoot::kSubject, "id")));
  EXPECT_EQ(Eval(c), ConditionResult::kTrue);
  in_.subject = {"user", "bob"};
  EXPECT_EQ(Eval(c), ConditionResult::kFalse);
  EXPECT_FALSE(err_);
}

TEST_F(ConditionTest, BuiltInIdsTypesAndActionName) {
  Expr e;
  uint32_t a =
      e.Op(ExprOp::kEq, e.Attr(AttrRoot::kSubject, "type"), e.Str("user"));
  uint32_t b =
      e.Op(ExprOp::kEq, e.Attr(AttrRoot::kResource, "type"), e.Str("file"));
  uint32_t c =
      e.Op(ExprOp::kEq, e.Attr(AttrRoot::kAction, "name"), e.Str("delete"));
  uint32_t d =
      e.Op(ExprOp::kEq, e.Attr(AttrRoot::kResource, "id"), e.Str("f1"));
  Condition& cond = e.Root(
      e.Op(ExprOp::kAnd, e.Op(ExprOp::kAnd, a, b), e.Op(ExprOp::kAnd, c, d)));
  EXPECT_EQ(Eval(cond), ConditionResult::kTrue);
  in_.action = "view";
  EXPECT_EQ(Eval(cond), ConditionResult::kFalse);
}

TEST_F(ConditionTest, MissingAttributeIsAnErrorNamingTheNode) {
  Expr e;
  uint32_t attr = e.Attr(AttrRoot::kResource, "classification");
  Condition& c = e.Root(e.Op(ExprOp::kEq, attr, e.Str("secret")));
  EXPECT_EQ(Eval(c), ConditionResult::kError);
  EXPECT_EQ(err_.kind, EvalErrorKind::kMissingAttribute);
  ASSERT_NE(err_.node, nullptr);
  EXPECT_EQ(err_.node, &c.nodes()[attr]);
  EXPECT_EQ(err_.node->key, "classification");
}

TEST_F(ConditionTest, RequestPropertiesOverrideStoredAttributes) {
  Expr e;
  Condition& c = e.Root(
      e.Op(ExprOp::kEq, e.Attr(AttrRoot::kResource, "owner"), e.Str("bob")));
  EXPECT_EQ(Eval(c), ConditionResult::kFalse);
  Attribute props[] = {{"owner", Value::String("bob")}};
  in_.resource_properties = props;
  EXPECT_EQ(Eval(c), ConditionResult::kTrue);
}

TEST_F(ConditionTest, ContextAndActionPropertiesAreReadFromTheRequest) {
  Expr e;
  Condition& c = e.Root(e.Op(
      ExprOp::kAnd,
      e.Op(ExprOp::kEq, e.Attr(AttrRoot::kContext, "soft"),
           e.Lit(Value::Bool(true))),
      e.Op(ExprOp::kEq, e.Attr(AttrRoot::kAction, "reason"), e.Str("gdpr"))));
  EXPECT_EQ(Eval(c), ConditionResult::kError);
  EXPECT_EQ(err_.kind, EvalErrorKind::kMissingAttribute);
  Attribute ctx[] = {{"soft", Value::Bool(true)}};
  Attribute act[] = {{"reason", Value::String("gdpr")}};
  in_.context = ctx;
  in_.action_properties = act;
  EXPECT_EQ(Eval(c), ConditionResult::kTrue);
}

TEST_F(ConditionTest, NullComparesUnequalInsteadOfFailing) {
  Expr e;
  Condition& c = e.Root(e.Op(ExprOp::kNe, e.Attr(AttrRoot::kResource, "owner"),
                             e.Lit(Value::Null())));
  EXPECT_EQ(Eval(c), ConditionResult::kTrue);
  Expr e2;
  Condition& c2 =
      e2.Root(e2.Op(ExprOp::kEq, e2.Lit(Value::Null()), e2.Lit(Value::Null())));
  EXPECT_EQ(Eval(c2), ConditionResult::kTrue);
}

TEST_F(ConditionTest, NumbersCompareAcrossIntAndDouble) {
  Expr e;
  Condition& c = e.Root(e.Op(ExprOp::kLt, e.Attr(AttrRoot::kResource, "size"),
                             e.Lit(Value::Double(100.5))));
  EXPECT_EQ(Eval(c), ConditionResult::kTrue);
  Expr e2;
  Condition& c2 =
      e2.Root(e2.Op(ExprOp::kEq, e2.Int(100), e2.Lit(Value::Double(100.0))));
  EXPECT_EQ(Eval(c2), ConditionResult::kTrue);
  Expr e3;
  Condition& c3 = e3.Root(e3.Op(ExprOp::kGe, e3.Int(3), e3.Int(4)));
  EXPECT_EQ(Eval(c3), ConditionResult::kFalse);
}

TEST_F(ConditionTest, TimestampsCompareWithNowAndRfc3339Strings) {
  // "a grant that expires at a given time": now < timestamp(...)
  Expr e;
  Condition& c =
      e.Root(e.Op(ExprOp::kLt, e.Now(), e.Str("2026-01-01T00:00:00Z")));
  in_.now = *ParseRfc3339("2025-12-31T23:59:59Z");
  EXPECT_EQ(Eval(c), ConditionResult::kTrue);
  in_.now = *ParseRfc3339("2026-01-01T00:00:00Z");
  EXPECT_EQ(Eval(c), ConditionResult::kFalse);
  // A string that is not a timestamp cannot be compared with one.
  Expr e2;
  Condition& c2 = e2.Root(e2.Op(ExprOp::kLt, e2.Now(), e2.Str("tomorrow")));
  EXPECT_EQ(Eval(c2), ConditionResult::kError);
  EXPECT_EQ(err_.kind, EvalErrorKind::kTypeMismatch);
}

TEST_F(ConditionTest, IncompatibleKindsAreTypeMismatches) {
  Expr e;
  Condition& c = e.Root(
      e.Op(ExprOp::kEq, e.Attr(AttrRoot::kResource, "size"), e.Str("100")));
  EXPECT_EQ(Eval(c), ConditionResult::kError);
  EXPECT_EQ(err_.kind, EvalErrorKind::kTypeMismatch);
  Expr e2;
  Condition& c2 = e2.Root(e2.Op(ExprOp::kLt, e2.Lit(Value::Bool(false)),
                                e2.Lit(Value::Bool(true))));
  EXPECT_EQ(Eval(c2), ConditionResult::kError);
}

TEST_F(ConditionTest, NonBooleanResultIsATypeMismatch) {
  Expr e;
  Condition& c = e.Root(e.Attr(AttrRoot::kResource, "owner"));
  EXPECT_EQ(Eval(c), ConditionResult::kError);
  EXPECT_EQ(err_.kind, EvalErrorKind::kTypeMismatch);
  Expr e2;
  Condition& c2 = e2.Root(e2.Op(ExprOp::kNot, e2.Str("x")));
  EXPECT_EQ(Eval(c2), ConditionResult::kError);
  Expr e3;
  Condition& c3 =
      e3.Root(e3.Op(ExprOp::kAnd, e3.Lit(Value::Bool(true)), e3.Int(1)));
  EXPECT_EQ(Eval(c3), ConditionResult::kError);
}

TEST_F(ConditionTest, AndOrShortCircuitSkipsTheFailingSide) {
  Expr e;
  Condition& c = e.Root(
      e.Op(ExprOp::kOr, e.Lit(Value::Bool(true)),
           e.Op(ExprOp::kEq, e.Attr(AttrRoot::kResource, "nope"), e.Int(1))));
  EXPECT_EQ(Eval(c), ConditionResult::kTrue);
  Expr e2;
  Condition& c2 = e2.Root(e2.Op(
      ExprOp::kAnd, e2.Lit(Value::Bool(false)),
      e2.Op(ExprOp::kEq, e2.Attr(AttrRoot::kResource, "nope"), e2.Int(1))));
  EXPECT_EQ(Eval(c2), ConditionResult::kFalse);
  Expr e3;
  Condition& c3 = e3.Root(e3.Op(
      ExprOp::kAnd, e3.Lit(Value::Bool(true)),
      e3.Op(ExprOp::kEq, e3.Attr(AttrRoot::kResource, "nope"), e3.Int(1))));
  EXPECT_EQ(Eval(c3), ConditionResult::kError);
}

TEST_F(ConditionTest, NotNegates) {
  Expr e;
  Condition& c = e.Root(e.Op(ExprOp::kNot, e.Lit(Value::Bool(false))));
  EXPECT_EQ(Eval(c), ConditionResult::kTrue);
}

TEST_F(ConditionTest, InLiteralListAndAttributeList) {
  Expr e;
  Condition& c =
      e.Root(e.Op(ExprOp::kIn, e.Attr(AttrRoot::kSubject, "department"),
                  e.List({Value::String("hr"), Value::String("sales")})));
  EXPECT_EQ(Eval(c), ConditionResult::kTrue);
  Expr e2;
  Condition& c2 = e2.Root(e2.Op(ExprOp::kIn, e2.Str("managers"),
                                e2.Attr(AttrRoot::kSubject, "groups")));
  EXPECT_EQ(Eval(c2), ConditionResult::kTrue);
  Expr e3;
  Condition& c3 = e3.Root(e3.Op(ExprOp::kIn, e3.Str("admins"),
                                e3.Attr(AttrRoot::kSubject, "groups")));
  EXPECT_EQ(Eval(c3), ConditionResult::kFalse);
}

TEST_F(ConditionTest, InListNodeWithAttributeElements) {
  Expr e;
  uint32_t list =
      e.ListOf({e.Str("bob"), e.Attr(AttrRoot::kResource, "owner")});
  Condition& c =
      e.Root(e.Op(ExprOp::kIn, e.Attr(AttrRoot::kSubject, "id"), list));
  EXPECT_EQ(Eval(c), ConditionResult::kTrue);
  in_.subject = {"user", "carol"};
  EXPECT_EQ(Eval(c), ConditionResult::kFalse);
}

TEST_F(ConditionTest, InNonListIsATypeMismatch) {
  Expr e;
  Condition& c = e.Root(
      e.Op(ExprOp::kIn, e.Str("a"), e.Attr(AttrRoot::kResource, "owner")));
  EXPECT_EQ(Eval(c), ConditionResult::kError);
  EXPECT_EQ(err_.kind, EvalErrorKind::kTypeMismatch);
}

TEST_F(ConditionTest, HasTestsExistenceWithoutFailing) {
  Expr e;
  Condition& c = e.Root(e.Has(AttrRoot::kResource, "owner"));
  EXPECT_EQ(Eval(c), ConditionResult::kTrue);
  Expr e2;
  Condition& c2 = e2.Root(e2.Has(AttrRoot::kResource, "nope"));
  EXPECT_EQ(Eval(c2), ConditionResult::kFalse);
  EXPECT_FALSE(err_);
}

// A DataView that has failed: it finds nothing and says so.
class FailedView : public DataView {
 public:
  std::optional<ResourceInfo> GetResource(EntityRef) const override {
    return std::nullopt;
  }
  bool SubjectExists(EntityRef) const override { return false; }
  SubjectAccess GetAccess(EntityRef, EntityRef) const override { return {}; }
  std::optional<Value> GetAttribute(EntityKind, EntityRef,
                                    std::string_view) const override {
    return std::nullopt;
  }
  void ForEachChild(EntityRef,
                    const std::function<bool(EntityRef)>&) const override {}
  void ForEachBindingOn(
      EntityRef, const std::function<bool(EntityRef, const StoredBinding&)>&)
      const override {}
  void ForEachBindingOf(
      EntityRef, const std::function<bool(EntityRef, const StoredBinding&)>&)
      const override {}
  void ForEachResourceOfType(
      std::string_view, const std::function<bool(EntityRef)>&) const override {}
  void ForEachSubjectOfType(
      std::string_view, const std::function<bool(EntityRef)>&) const override {}
  bool failed() const override { return true; }
  std::string_view failure() const override { return "disk on fire"; }
};

TEST_F(ConditionTest, StorageFailureIsAnError) {
  FailedView failed;
  in_.data = &failed;
  Expr e;
  Condition& c = e.Root(e.Has(AttrRoot::kResource, "owner"));
  EXPECT_EQ(Eval(c), ConditionResult::kError);
  EXPECT_EQ(err_.kind, EvalErrorKind::kStorage);
}

TEST(EvalErrorKindName, NamesEveryKind) {
  EXPECT_EQ(EvalErrorKindName(EvalErrorKind::kMissingAttribute),
            "missing attribute");
  EXPECT_EQ(EvalErrorKindName(EvalErrorKind::kTypeMismatch), "type mismatch");
  EXPECT_EQ(EvalErrorKindName(EvalErrorKind::kStorage), "storage error");
}

}  // namespace
}  // namespace portcullis::engine
