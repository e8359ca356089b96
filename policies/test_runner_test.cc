#include "policies/test_runner.h"

#include <sstream>

#include <gtest/gtest.h>

namespace portcullis::policies {
namespace {

const std::string kTestdata = PORTCULLIS_POLICIES_TESTDATA;

// The last non-empty line of `s`.
std::string LastLine(const std::string& s) {
  std::string t = s;
  while (!t.empty() && t.back() == '\n') t.pop_back();
  return t.substr(t.rfind('\n') + 1);
}

TEST(TestRunner, WalksDirectoriesAndSkipsNonTestFiles) {
  std::ostringstream out;
  TestSummary summary;
  const int rc = RunPolicyTests({kTestdata + "/suite"}, out, &summary);
  EXPECT_EQ(rc, 0) << out.str();
  EXPECT_EQ(summary.files, 2);  // passing.yaml and nested/inline.yaml
  EXPECT_EQ(summary.passed, 7);
  EXPECT_EQ(summary.failed, 0);
  EXPECT_EQ(LastLine(out.str()), "7 passed, 0 failed");
  EXPECT_EQ(out.str().find("FAIL"), std::string::npos);
}

TEST(TestRunner, ReportsFailuresWithFileCaseAndReason) {
  std::ostringstream out;
  TestSummary summary;
  const int rc = RunPolicyTests({kTestdata + "/failing/wrong.yaml"}, out,
                                &summary);
  EXPECT_NE(rc, 0);
  EXPECT_EQ(summary.passed, 1);
  EXPECT_EQ(summary.failed, 2);
  const std::string s = out.str();
  EXPECT_NE(s.find("FAIL " + kTestdata +
                   "/failing/wrong.yaml:4:5: expects the wrong decision: "
                   "expected allow, got deny (restricted): restricted by "
                   "override on folder:f"),
            std::string::npos)
      << s;
  EXPECT_NE(s.find("right decision, wrong reason: expected deny (no_binding), "
                   "got deny (binding_pending): the binding on group:g1 is "
                   "pending"),
            std::string::npos)
      << s;
  EXPECT_EQ(LastLine(s), "1 passed, 2 failed");
}

TEST(TestRunner, CoverageListsWhatNoCaseExercised) {
  std::ostringstream out;
  RunPolicyTests({kTestdata + "/suite/passing.yaml"}, out);
  const std::string s = out.str();
  EXPECT_NE(s.find("coverage of " + kTestdata + "/small_policy.yaml: "),
            std::string::npos)
      << s;
  // administrator's grants are never used by a case; member's view on files
  // is (the first case).
  EXPECT_NE(s.find("not exercised: role administrator grants invite_members "
                   "on group (" +
                   kTestdata + "/small_policy.yaml:45:27)"),
            std::string::npos)
      << s;
  EXPECT_EQ(s.find("role member grants view on file"), std::string::npos)
      << s;
  EXPECT_EQ(s.find("rule public_files"), std::string::npos) << s;
  EXPECT_EQ(s.find("rule no_hard_delete"), std::string::npos) << s;
}

TEST(TestRunner, LoadErrorsFailTheRun) {
  std::ostringstream out;
  TestSummary summary;
  const int rc = RunPolicyTests({kTestdata + "/broken"}, out, &summary);
  EXPECT_NE(rc, 0);
  EXPECT_EQ(summary.load_errors, 1);
  EXPECT_NE(out.str().find("bad_data.yaml: the test file does not load"),
            std::string::npos);
  EXPECT_EQ(LastLine(out.str()), "0 passed, 1 failed");
}

TEST(TestRunner, NoTestFilesIsAFailure) {
  std::ostringstream out;
  EXPECT_NE(RunPolicyTests({kTestdata + "/suite/not_a_test.yaml"}, out), 0);
  EXPECT_NE(out.str().find("no test files found"), std::string::npos);
  std::ostringstream out2;
  EXPECT_NE(RunPolicyTests({"/nonexistent/dir"}, out2), 0);
  EXPECT_NE(out2.str().find("cannot open the file"), std::string::npos);
}

TEST(TestRunner, CollectsYamlFilesSorted) {
  std::vector<std::string> files = CollectYamlFiles({kTestdata + "/suite"});
  ASSERT_EQ(files.size(), 3u);
  EXPECT_EQ(files[0], kTestdata + "/suite/nested/inline.yaml");
  EXPECT_EQ(files[1], kTestdata + "/suite/not_a_test.yaml");
  EXPECT_EQ(files[2], kTestdata + "/suite/passing.yaml");
}

}  // namespace
}  // namespace portcullis::policies
