#include "cli/policy_commands.h"

#include <fstream>
#include <sstream>
#include <tuple>

#include <gtest/gtest.h>

namespace portcullis::cli {
namespace {

const std::string kTestdata = PORTCULLIS_POLICIES_TESTDATA;

QueryArgs Query(std::string subject, std::string action,
                std::string resource) {
  QueryArgs q;
  q.policy = kTestdata + "/small_policy.yaml";
  q.data = kTestdata + "/small_data.yaml";
  q.subject = std::move(subject);
  q.action = std::move(action);
  q.resource = std::move(resource);
  q.now = "2026-06-01T12:00:00Z";
  return q;
}

TEST(LintCommand, CleanFileSaysOk) {
  std::ostringstream out;
  EXPECT_EQ(LintCommand({kTestdata + "/small_policy.yaml"}, out), 0);
  EXPECT_EQ(out.str(), kTestdata +
                           "/small_policy.yaml: ok (6 types, 6 actions, 3 "
                           "roles, 2 rules)\n");
}

TEST(LintCommand, PrintsEveryErrorAndFails) {
  std::ostringstream out;
  EXPECT_EQ(LintCommand({kTestdata + "/lint_errors.yaml",
                         kTestdata + "/small_policy.yaml"},
                        out),
            1);
  const std::string f = kTestdata + "/lint_errors.yaml";
  EXPECT_EQ(out.str(),
            f + ":6:15: unknown type 'fiel' in the parents of doc (did you "
                "mean 'file'?)\n" +
            f + ":10:5: unknown key 'grant' in role 'reader' (did you mean "
                "'grants'?); expected one of: description, on, includes, "
                "grants\n" +
            f + ":12:5: duplicate key 'on' in role 'reader'\n" +
            kTestdata +
            "/small_policy.yaml: ok (6 types, 6 actions, 3 roles, 2 rules)\n");
}

TEST(CheckCommand, AllowExitsZero) {
  std::ostringstream out, err;
  EXPECT_EQ(CheckCommand(Query("user:alice", "view", "file:f1"), out, err),
            kExitAllow);
  EXPECT_EQ(out.str(),
            "allow\nreason: granted_by_role: role content_creator on file:f1 "
            "grants view (" +
                kTestdata + "/small_policy.yaml:32:14)\n");
  EXPECT_EQ(err.str(), "");
}

TEST(CheckCommand, DenyExitsOneWithReason) {
  std::ostringstream out, err;
  EXPECT_EQ(CheckCommand(Query("user:alice", "edit", "file:f1"), out, err),
            kExitDeny);
  EXPECT_EQ(out.str(),
            "deny\nreason: restricted: restricted by override on folder:f "
            "(role content_creator would grant edit)\n");
}

TEST(CheckCommand, DataMayBeJsonLines) {
  // The same data as small_data.yaml, in the export format: same answers.
  for (auto [subject, action, resource, code] :
       {std::tuple{"user:alice", "view", "file:f1", kExitAllow},
        std::tuple{"user:alice", "edit", "file:f1", kExitDeny},
        std::tuple{"user:bob", "view_group", "group:g1", kExitDeny}}) {
    QueryArgs yaml = Query(subject, action, resource);
    QueryArgs jsonl = yaml;
    jsonl.data = kTestdata + "/small_data.jsonl";
    std::ostringstream out_yaml, out_jsonl, err;
    EXPECT_EQ(CheckCommand(yaml, out_yaml, err), code);
    EXPECT_EQ(CheckCommand(jsonl, out_jsonl, err), code) << err.str();
    EXPECT_EQ(out_jsonl.str(), out_yaml.str());
  }
  // A bad line is named by its line number.
  const std::string bad = ::testing::TempDir() + "/bad_data.jsonl";
  {
    std::ofstream f(bad);
    f << R"({"kind":"resource","type":"account","id":"acme"})" "\n"
      << R"({"kind":"resource","type":"fiel","id":"x"})" "\n"
      << R"({"kind":"gadget"})" "\n";
  }
  QueryArgs q = Query("user:alice", "view", "file:f1");
  q.data = bad;
  std::ostringstream out, err;
  EXPECT_EQ(CheckCommand(q, out, err), kExitError);
  EXPECT_NE(err.str().find(bad + ":3:1: unknown kind 'gadget'"),
            std::string::npos)
      << err.str();
  {
    std::ofstream f(bad);
    f << R"({"kind":"resource","type":"account","id":"acme"})" "\n"
      << R"({"kind":"resource","type":"fiel","id":"x"})" "\n";
  }
  std::ostringstream out2, err2;
  EXPECT_EQ(CheckCommand(q, out2, err2), kExitError);
  EXPECT_NE(err2.str().find(bad + ":2:1: "), std::string::npos) << err2.str();
  EXPECT_NE(err2.str().find("fiel"), std::string::npos) << err2.str();
}

TEST(CheckCommand, ContextValuesAreReadAsYaml) {
  QueryArgs q = Query("user:alice", "delete", "file:f1");
  std::ostringstream out1, err1;
  EXPECT_EQ(CheckCommand(q, out1, err1), kExitDeny);  // no_hard_delete
  EXPECT_NE(out1.str().find("denied_by_rule"), std::string::npos);
  q.context = {"soft=true"};
  std::ostringstream out2, err2;
  EXPECT_EQ(CheckCommand(q, out2, err2), kExitAllow) << out2.str() << err2.str();
  q.context = {"soft='true'"};  // a string, not a bool: the deny rule holds
  std::ostringstream out3, err3;
  EXPECT_EQ(CheckCommand(q, out3, err3), kExitDeny);
}

TEST(CheckCommand, BadArgumentsExitTwo) {
  QueryArgs q = Query("alice", "view", "file:f1");
  q.context = {"novalue"};
  q.now = "yesterday";
  std::ostringstream out, err;
  EXPECT_EQ(CheckCommand(q, out, err), kExitError);
  EXPECT_EQ(out.str(), "");
  EXPECT_EQ(err.str(),
            "SUBJECT 'alice' must have the form type:id\n"
            "--context 'novalue' must have the form key=value\n"
            "--now 'yesterday' is not an RFC 3339 time\n");
  QueryArgs bad_policy = Query("user:alice", "view", "file:f1");
  bad_policy.policy = kTestdata + "/lint_errors.yaml";
  std::ostringstream out2, err2;
  EXPECT_EQ(CheckCommand(bad_policy, out2, err2), kExitError);
  EXPECT_NE(err2.str().find("lint_errors.yaml:6:15: unknown type 'fiel'"),
            std::string::npos);
}

TEST(ExplainCommand, PrintsTheTraceWithLocations) {
  std::ostringstream out, err;
  EXPECT_EQ(ExplainCommand(Query("user:alice", "edit", "file:f1"), out, err),
            kExitDeny);
  const std::string s = out.str();
  EXPECT_EQ(s.substr(0, 5), "deny\n");
  EXPECT_NE(s.find("policy: small ("), std::string::npos) << s;
  EXPECT_NE(s.find("request: user:alice edit file:f1 at 2026-06-01T12:00:00Z"),
            std::string::npos)
      << s;
  EXPECT_NE(s.find("restriction on folder:f: [edit]: covers edit"),
            std::string::npos)
      << s;
  EXPECT_NE(s.find("takes it away [" + kTestdata + "/small_policy.yaml:39:11]"),
            std::string::npos)
      << s;
}

}  // namespace
}  // namespace portcullis::cli
