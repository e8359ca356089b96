// The policy-test runner behind `portcullis test PATH...`.
//
// Walks the paths (directories recursively, *.yaml and *.yml, in sorted
// order), skips YAML files without a top-level `cases` key, runs every case,
// prints each failure with file, case name, expected and actual decision and
// reason, then a coverage report (grant actions and rules of each policy that
// no case's decision relied on, with file:line:column), and finally the line
// "N passed, N failed". A file that fails to load counts as one failure.
//
// Thread safety: reentrant; each call owns its state.
//
// Invariants: files run in sorted order, so the report of the same tree is
// the same text every time; a file that fails to load is counted, never
// skipped silently.
#ifndef PORTCULLIS_POLICIES_TEST_RUNNER_H_
#define PORTCULLIS_POLICIES_TEST_RUNNER_H_

#include <ostream>
#include <string>
#include <vector>

#include "engine/evaluator.h"
#include "policies/test_file.h"

namespace portcullis::policies {

struct CaseOutcome {
  bool passed = false;
  engine::Decision decision;
  // "expected deny (restricted), got allow: role member on group:g1 grants
  // view (policies/workspace.yaml:40:7)"; empty when passed.
  std::string message;
};

// Runs one case of a loaded test file.
CaseOutcome RunCase(const TestFile& file, const TestCase& test_case);

struct TestSummary {
  int passed = 0;
  int failed = 0;       // failed cases plus files that failed to load
  int load_errors = 0;  // files that failed to load
  int files = 0;        // test files run
};

// Runs every test file under `paths`; writes the report to `out`. Returns
// the process exit code: 0 if every case passed and every file loaded, 1
// otherwise (also when no test file was found).
int RunPolicyTests(const std::vector<std::string>& paths, std::ostream& out,
                   TestSummary* summary = nullptr);

// The YAML files under `paths` (files as given, directories recursively),
// sorted. A path that does not exist is returned as is (loading reports it).
std::vector<std::string> CollectYamlFiles(const std::vector<std::string>& paths);

}  // namespace portcullis::policies

#endif  // PORTCULLIS_POLICIES_TEST_RUNNER_H_
