#include "policies/test_runner.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include "explain/reason_text.h"

namespace portcullis::policies {
namespace {

std::string Decided(bool allowed, engine::ReasonCode code) {
  return std::string(allowed ? "allow" : "deny") + " (" +
         std::string(engine::ReasonCodeName(code)) + ")";
}

bool IsYaml(const std::filesystem::path& p) {
  const std::string ext = p.extension().string();
  return ext == ".yaml" || ext == ".yml";
}

// What the cases of one policy relied on.
struct Coverage {
  std::shared_ptr<const engine::Policy> policy;
  std::string file;
  std::set<std::pair<const engine::Grant*, engine::ActionId>> grants;
  std::set<const engine::Rule*> rules;
};

}  // namespace

CaseOutcome RunCase(const TestFile& file, const TestCase& tc) {
  CaseOutcome outcome;
  engine::CheckRequest req;
  // Both were validated as type:id when the file was loaded.
  req.subject = engine::ParseEntityRef(tc.subject).value_or(engine::EntityRef{});
  req.resource =
      engine::ParseEntityRef(tc.resource).value_or(engine::EntityRef{});
  req.action = tc.action;
  req.context = tc.context.view();
  req.now = tc.now ? *tc.now : (file.now ? *file.now : NowMicros());
  engine::Evaluator evaluator(*file.policy);
  outcome.decision = evaluator.Check(req, *file.data);
  const engine::Decision& d = outcome.decision;
  outcome.passed = d.allowed == tc.expect_allow &&
                   (!tc.reason || *tc.reason == d.reason.code);
  if (!outcome.passed) {
    std::string expected = tc.expect_allow ? "allow" : "deny";
    if (tc.reason) {
      expected += " (" + std::string(engine::ReasonCodeName(*tc.reason)) + ")";
    }
    outcome.message = "expected " + expected + ", got " +
                      Decided(d.allowed, d.reason.code) + ": " +
                      explain::ReasonText(*file.policy, d.reason, tc.action);
  }
  return outcome;
}

std::vector<std::string> CollectYamlFiles(
    const std::vector<std::string>& paths) {
  namespace fs = std::filesystem;
  std::vector<std::string> out;
  for (const std::string& p : paths) {
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
      std::vector<std::string> found;
      for (auto it = fs::recursive_directory_iterator(
               p, fs::directory_options::skip_permission_denied, ec);
           !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (it->is_regular_file(ec) && IsYaml(it->path())) {
          found.push_back(it->path().string());
        }
      }
      std::sort(found.begin(), found.end());
      out.insert(out.end(), found.begin(), found.end());
    } else {
      out.push_back(p);
    }
  }
  return out;
}

int RunPolicyTests(const std::vector<std::string>& paths, std::ostream& out,
                   TestSummary* summary_out) {
  TestSummary summary;
  PolicyCache cache;
  std::vector<Coverage> coverage;
  auto coverage_for = [&](const TestFile& tf) -> Coverage& {
    for (Coverage& c : coverage) {
      if (c.policy == tf.policy) return c;
    }
    coverage.push_back(Coverage{tf.policy, tf.policy_file, {}, {}});
    return coverage.back();
  };

  for (const std::string& path : CollectYamlFiles(paths)) {
    auto loaded = LoadTestFile(path, &cache);
    if (!loaded) {
      ++summary.load_errors;
      ++summary.failed;
      out << "ERROR " << path << ": the test file does not load:\n";
      for (const PolicyError& e : loaded.error()) {
        out << "  " << e.ToString() << "\n";
      }
      continue;
    }
    if (!loaded->has_value()) continue;  // not a test file
    const TestFile& tf = **loaded;
    ++summary.files;
    Coverage& cov = coverage_for(tf);
    for (const TestCase& tc : tf.cases) {
      CaseOutcome o = RunCase(tf, tc);
      const engine::Reason& r = o.decision.reason;
      if (r.grant) {
        const engine::ActionId a = tf.policy->FindAction(tc.action);
        if (a != engine::kNoAction) cov.grants.insert({r.grant, a});
      }
      if (r.rule) cov.rules.insert(r.rule);
      if (o.passed) {
        ++summary.passed;
      } else {
        ++summary.failed;
        out << "FAIL " << tc.location.ToString() << ": " << tc.name << ": "
            << o.message << "\n";
      }
    }
  }

  for (const Coverage& c : coverage) {
    const engine::Policy& p = *c.policy;
    std::vector<std::string> missing;
    size_t total = 0;
    for (const auto& g : p.grants) {
      g->actions.ForEach([&](engine::ActionId a) {
        ++total;
        if (c.grants.count({g.get(), a})) return;
        missing.push_back("role " + p.roles[g->role].name + " grants " +
                          p.actions[a].name + " on " + p.types[g->type].name +
                          (g->when ? " when " + g->when->text() : "") + " (" +
                          g->location.ToString() + ")");
      });
    }
    for (const engine::Rule& rule : p.rules) {
      ++total;
      if (c.rules.count(&rule)) continue;
      missing.push_back(std::string(rule.effect == engine::Effect::kAllow
                                        ? "allow"
                                        : "deny") +
                        " rule " + rule.name + " (" +
                        rule.location.ToString() + ")");
    }
    out << "coverage of " << c.file << ": " << (total - missing.size())
        << " of " << total << " grants and rules exercised\n";
    for (const std::string& m : missing) out << "  not exercised: " << m << "\n";
  }

  if (summary.files == 0 && summary.load_errors == 0) {
    out << "no test files found (a test file is YAML with a top-level "
           "`cases` key)\n";
  }
  out << summary.passed << " passed, " << summary.failed << " failed\n";
  if (summary_out) *summary_out = summary;
  return summary.failed == 0 && summary.files > 0 ? 0 : 1;
}

}  // namespace portcullis::policies
