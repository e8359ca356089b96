#include "explain/reason_text.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "engine/condition.h"

namespace portcullis::explain {
namespace {

using engine::Reason;
using engine::ReasonCode;

// A policy with one role, one grant (conditional), one rule, and a
// condition whose attribute node fails: every reference a reason may hold.
class ReasonTextTest : public ::testing::Test {
 protected:
  ReasonTextTest() {
    policy_.roles.emplace_back();
    policy_.roles[0].name = "editor";
    grant_.role = 0;
    grant_.location = {"policies/workspace.yaml", 40, 7};
    grant_.when = std::make_unique<engine::Condition>();
    grant_.when->set_text("resource.owner == subject.id");
    rule_.name = "legal_hold";
    rule_.location = {"test.yaml", 201, 5};
    node_.op = engine::ExprOp::kAttr;
    node_.root = engine::AttrRoot::kResource;
    node_.key = "owner";
    condition_.set_text("resource.owner == subject.id");
    condition_.set_location({"c.yaml", 3, 9});
  }

  std::string Text(const Reason& r, std::string_view action = "edit") {
    return ReasonText(policy_, r, action);
  }

  engine::Policy policy_;
  engine::Grant grant_;
  engine::Rule rule_;
  engine::ExprNode node_;
  engine::Condition condition_;
  static constexpr engine::EntityRef kF1{"file", "f1"};
};

TEST_F(ReasonTextTest, GrantAndRules) {
  Reason r;
  r.code = ReasonCode::kGrantedByRole;
  r.role = 0;
  r.at = kF1;
  EXPECT_EQ(Text(r), "role editor on file:f1 grants edit");
  r.grant = &grant_;
  EXPECT_EQ(Text(r),
            "role editor on file:f1 grants edit "
            "(policies/workspace.yaml:40:7)");
  r.role = engine::kNoRole;
  EXPECT_EQ(Text(r),
            "role ? on file:f1 grants edit (policies/workspace.yaml:40:7)");

  Reason rule;
  rule.rule = &rule_;
  rule.code = ReasonCode::kAllowedByRule;
  EXPECT_EQ(Text(rule), "allow rule legal_hold (test.yaml:201:5)");
  rule.code = ReasonCode::kDeniedByRule;
  EXPECT_EQ(Text(rule), "denied by rule legal_hold (test.yaml:201:5)");
  rule.code = ReasonCode::kConditionFalse;
  EXPECT_EQ(Text(rule),
            "condition of rule legal_hold is false (test.yaml:201:5)");
}

TEST_F(ReasonTextTest, RestrictionsAndMissingBindings) {
  Reason r;
  r.code = ReasonCode::kRestricted;
  r.at = kF1;
  r.role = 0;
  EXPECT_EQ(Text(r),
            "restricted by override on file:f1 (role editor would grant "
            "edit)");
  r.rule = &rule_;
  EXPECT_EQ(Text(r),
            "restricted by override on file:f1 (would be allowed by rule "
            "legal_hold)");

  Reason n;
  n.at = kF1;
  n.code = ReasonCode::kNotGranted;
  EXPECT_EQ(Text(n),
            "no role bound on the resource or its ancestors grants edit "
            "(nearest binding: file:f1)");
  n.code = ReasonCode::kNoBinding;
  EXPECT_EQ(Text(n), "no binding on file:f1 or its ancestors grants edit");
  n.at = {};
  EXPECT_EQ(Text(n), "no binding on the resource or its ancestors grants edit");
  n.at = kF1;
  n.code = ReasonCode::kBindingPending;
  EXPECT_EQ(Text(n),
            "the binding on file:f1 is pending (invitation not accepted)");
  n.code = ReasonCode::kBindingExpired;
  EXPECT_EQ(Text(n), "the binding on file:f1 has expired");
}

TEST_F(ReasonTextTest, ConditionOfARole) {
  Reason r;
  r.code = ReasonCode::kConditionFalse;
  r.role = 0;
  EXPECT_EQ(Text(r), "condition of role editor is false: ");
  r.grant = &grant_;
  EXPECT_EQ(Text(r),
            "condition of role editor is false: resource.owner == subject.id "
            "(policies/workspace.yaml:40:7)");
}

TEST_F(ReasonTextTest, UnknownNames) {
  Reason r;
  r.at = {"user", "zed"};
  r.code = ReasonCode::kUnknownSubject;
  EXPECT_EQ(Text(r), "unknown subject user:zed");
  r.code = ReasonCode::kUnknownResource;
  EXPECT_EQ(Text(r), "unknown resource user:zed");
  r.code = ReasonCode::kUnknownResourceType;
  EXPECT_EQ(Text(r), "unknown resource type user");
  r.code = ReasonCode::kUnknownAction;
  EXPECT_EQ(Text(r, "fly"), "unknown action fly for this resource type");
}

TEST_F(ReasonTextTest, Errors) {
  Reason r;
  r.code = ReasonCode::kEvaluationError;
  r.error.kind = engine::EvalErrorKind::kMissingAttribute;
  EXPECT_EQ(Text(r), "evaluation error (denied): missing attribute");
  r.condition = &condition_;
  EXPECT_EQ(Text(r),
            "evaluation error (denied): missing attribute in "
            "`resource.owner == subject.id` (c.yaml:3:9)");
  r.error.node = &node_;
  EXPECT_EQ(Text(r),
            "evaluation error (denied): missing attribute resource.owner in "
            "`resource.owner == subject.id` (c.yaml:3:9)");
  node_.location = {"c.yaml", 3, 10};
  EXPECT_EQ(Text(r),
            "evaluation error (denied): missing attribute resource.owner in "
            "`resource.owner == subject.id` (c.yaml:3:10)");

  Reason s;
  s.code = ReasonCode::kStorageError;
  EXPECT_EQ(Text(s), "storage error (denied)");
  s.code = ReasonCode::kDepthExceeded;
  EXPECT_EQ(Text(s),
            "the resource's parent chain is deeper than 64 or cyclic "
            "(denied)");
}

// Appending keeps what the buffer holds and, once the buffer is large
// enough, needs no new memory: a reused string serves every decision.
TEST_F(ReasonTextTest, AppendsIntoTheCallersBuffer) {
  Reason r;
  r.code = ReasonCode::kGrantedByRole;
  r.role = 0;
  r.at = kF1;
  r.grant = &grant_;
  std::string buf = "reason: ";
  AppendReasonText(policy_, r, "edit", &buf);
  EXPECT_EQ(buf,
            "reason: role editor on file:f1 grants edit "
            "(policies/workspace.yaml:40:7)");
  buf.clear();
  buf.reserve(256);
  const char* data = buf.data();
  AppendReasonText(policy_, r, "edit", &buf);
  EXPECT_EQ(buf.data(), data);
  EXPECT_EQ(buf, Text(r));
}

}  // namespace
}  // namespace portcullis::explain
