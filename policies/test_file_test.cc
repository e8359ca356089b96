#include "policies/test_file.h"

#include <algorithm>

#include <gtest/gtest.h>

namespace portcullis::policies {
namespace {

const std::string kTestdata = PORTCULLIS_POLICIES_TESTDATA;

TEST(TestFile, LoadsAFileWithPolicyAndDataPaths) {
  PolicyCache cache;
  auto r = LoadTestFile(kTestdata + "/suite/passing.yaml", &cache);
  ASSERT_TRUE(r) << FormatErrors(r.error());
  ASSERT_TRUE(r->has_value());
  const TestFile& tf = **r;
  EXPECT_EQ(tf.policy->name, "small");
  EXPECT_EQ(tf.policy_file, kTestdata + "/small_policy.yaml");
  ASSERT_EQ(tf.cases.size(), 5u);
  EXPECT_EQ(tf.cases[0].name, "member views a file in the group");
  EXPECT_EQ(tf.cases[0].subject, "user:alice");
  EXPECT_TRUE(tf.cases[0].expect_allow);
  EXPECT_EQ(tf.cases[0].reason, engine::ReasonCode::kGrantedByRole);
  EXPECT_EQ(tf.cases[0].location.line, 6u);
  EXPECT_EQ(tf.now, ParseRfc3339("2026-06-01T12:00:00Z"));
  // Data: the resource tree and attributes.
  auto info = tf.data->GetResource({"file", "f1"});
  ASSERT_TRUE(info);
  EXPECT_EQ(info->parent, (engine::EntityRef{"folder", "f"}));
  auto owner = tf.data->GetAttribute(engine::EntityKind::kResource,
                                     {"file", "f1"}, "owner");
  ASSERT_TRUE(owner);
  EXPECT_EQ(owner->s, "alice");
  auto pub = tf.data->GetAttribute(engine::EntityKind::kResource,
                                   {"file", "f1"}, "public");
  ASSERT_TRUE(pub);
  EXPECT_EQ(pub->kind, engine::ValueKind::kBool);
  auto level = tf.data->GetAttribute(engine::EntityKind::kSubject,
                                     {"user", "alice"}, "level");
  ASSERT_TRUE(level);
  EXPECT_EQ(level->i, 3);
  auto bob = tf.data->GetAccess({"user", "bob"}, {"group", "g1"});
  ASSERT_TRUE(bob.binding);
  EXPECT_EQ(bob.binding->state, engine::BindingState::kPending);
  auto alice = tf.data->GetAccess({"user", "alice"}, {"folder", "f"});
  ASSERT_TRUE(alice.restriction);
  EXPECT_EQ(alice.restriction->actions.packed(), "edit");
}

TEST(TestFile, InlinePolicyAndNestedContext) {
  auto r = LoadTestFile(kTestdata + "/suite/nested/inline.yaml", nullptr);
  ASSERT_TRUE(r) << FormatErrors(r.error());
  ASSERT_TRUE(r->has_value());
  const TestFile& tf = **r;
  EXPECT_EQ(tf.policy->name, "inline");
  // Locations of an inline policy point into the test file.
  EXPECT_EQ(tf.policy->roles[0].location.ToString(),
            kTestdata + "/suite/nested/inline.yaml:8:5");
  auto access = tf.data->GetAccess({"user", "ann"}, {"doc", "d1"});
  ASSERT_TRUE(access.binding);
  EXPECT_EQ(access.binding->expires_at, *ParseRfc3339("2026-01-01T00:00:00Z"));
  const TestCase& c = tf.cases[1];
  ASSERT_EQ(c.context.view().size(), 2u);
  EXPECT_EQ(c.context.view()[0].key, "device.ip");
  EXPECT_EQ(c.context.view()[0].value.s, "10.0.0.1");
  EXPECT_EQ(c.context.view()[1].key, "device.trusted");
  EXPECT_TRUE(c.context.view()[1].value.b);
  EXPECT_EQ(c.now, ParseRfc3339("2025-06-01T00:00:00Z"));
}

TEST(TestFile, YamlWithoutCasesIsNotATestFile) {
  auto r = LoadTestFile(kTestdata + "/suite/not_a_test.yaml", nullptr);
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->has_value());
}

TEST(TestFile, DataIsValidatedAgainstThePolicy) {
  auto r = LoadTestFile(kTestdata + "/broken/bad_data.yaml", nullptr);
  ASSERT_FALSE(r);
  std::vector<std::string> got;
  for (const PolicyError& e : r.error()) {
    EXPECT_EQ(e.file, kTestdata + "/broken/bad_data.yaml");
    got.push_back(std::to_string(e.line) + ":" + std::to_string(e.column) +
                  ": " + e.message);
  }
  auto expect = [&](const std::string& s) {
    EXPECT_NE(std::find(got.begin(), got.end(), s), got.end())
        << "missing: " << s << "\nin: " << ::testing::PrintToString(got);
  };
  expect("4:32: parent 'folder:nowhere' of group:g1 is not a resource of the "
         "data");
  expect("5:55: attribute 'owner' of type file must be a string, got int");
  expect("5:65: type file declares no attribute 'colour'");
  expect("6:32: a folder may not sit under a account (allowed parents: group, "
         "folder)");
  expect("8:12: resource id 'user:u': 'user' is not a resource type of the "
         "policy");
  expect("10:55: role member cannot be bound on a file (it may be bound on: "
         "group)");
  expect("11:57: unknown role 'membr' (did you mean 'member'?)");
  expect("12:37: resource 'group:g9' is not a resource of the data");
  expect("13:74: unknown binding state 'maybe'; expected active or pending");
  expect("15:37: restrictions may not be placed on a account (see "
         "`restrictions: on:` in the policy)");
  expect("16:57: unknown action 'fly'");
  expect("24:5: unknown key 'colour' in a case; expected one of: name, "
         "subject, action, resource, context, now, expect, reason");
  EXPECT_EQ(got.size(), 14u) << ::testing::PrintToString(got);
}

TEST(TestFile, DataFileAlone) {
  PolicyResult p = CompilePolicyFile(kTestdata + "/small_policy.yaml");
  ASSERT_TRUE(p);
  auto d = LoadDataFile(kTestdata + "/small_data.yaml", **p);
  ASSERT_TRUE(d) << FormatErrors(d.error());
  EXPECT_TRUE((*d)->SubjectExists({"user", "alice"}));
  auto missing = LoadDataFile(kTestdata + "/nope.yaml", **p);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error()[0].message, "cannot open the file");
}

TEST(TestFile, ReasonCodesRoundTrip) {
  EXPECT_EQ(ParseReasonCode("restricted"), engine::ReasonCode::kRestricted);
  EXPECT_EQ(ParseReasonCode("depth_exceeded"),
            engine::ReasonCode::kDepthExceeded);
  EXPECT_FALSE(ParseReasonCode("granted"));
}

TEST(TestFile, OwnedAttributesViewsSurviveCopyAndMove) {
  std::vector<std::pair<std::string, engine::OwnedValue>> v;
  engine::OwnedValue list;
  list.kind = engine::ValueKind::kList;
  engine::OwnedValue s;
  s.kind = engine::ValueKind::kString;
  s.s = "a fairly long string that is not stored inline";
  list.list.push_back(s);
  v.emplace_back("tags", list);
  OwnedAttributes a(std::move(v));
  OwnedAttributes copy = a;
  OwnedAttributes moved = std::move(a);
  for (const OwnedAttributes* x : {&copy, &moved}) {
    ASSERT_EQ(x->view().size(), 1u);
    EXPECT_EQ(x->view()[0].key, "tags");
    EXPECT_EQ(x->view()[0].value.list[0].s,
              "a fairly long string that is not stored inline");
  }
}

}  // namespace
}  // namespace portcullis::policies
