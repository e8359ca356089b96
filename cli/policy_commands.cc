#include "cli/policy_commands.h"

#include <iostream>
#include <memory>
#include <optional>

#include <CLI/CLI.hpp>

#include "common/clock.h"
#include "engine/evaluator.h"
#include "explain/reason_text.h"
#include "policies/policy_compiler.h"
#include "policies/test_file.h"
#include "policies/test_runner.h"

namespace portcullis::cli {

using policies::CompilePolicyFile;
using policies::FormatErrors;
using policies::PolicyError;
using policies::PolicyErrors;
using policies::PolicyResult;

int LintCommand(const std::vector<std::string>& files, std::ostream& out) {
  if (files.empty()) {
    out << "lint: no files given\n";
    return 1;
  }
  int rc = 0;
  for (const std::string& f : files) {
    PolicyResult r = CompilePolicyFile(f);
    if (!r) {
      out << FormatErrors(r.error());
      rc = 1;
      continue;
    }
    const engine::Policy& p = **r;
    out << f << ": ok (" << p.types.size() << " types, " << p.actions.size()
        << " actions, " << p.roles.size() << " roles, " << p.rules.size()
        << " rules)\n";
  }
  return rc;
}

int TestCommand(const std::vector<std::string>& paths, std::ostream& out) {
  return policies::RunPolicyTests(paths, out);
}

namespace {

// Everything a check needs, owned.
struct Query {
  std::shared_ptr<const engine::Policy> policy;
  std::unique_ptr<engine::MemoryData> data;
  policies::OwnedAttributes context;
  engine::CheckRequest request;
};

std::optional<Query> Prepare(const QueryArgs& args, std::ostream& err) {
  Query q;
  PolicyResult p = CompilePolicyFile(args.policy);
  if (!p) {
    err << FormatErrors(p.error());
    return std::nullopt;
  }
  q.policy = *p;
  auto d = policies::LoadDataFile(args.data, *q.policy);
  if (!d) {
    err << FormatErrors(d.error());
    return std::nullopt;
  }
  q.data = std::move(*d);
  bool ok = true;
  std::optional<engine::EntityRef> subject =
      engine::ParseEntityRef(args.subject);
  std::optional<engine::EntityRef> resource =
      engine::ParseEntityRef(args.resource);
  if (!subject) {
    err << "SUBJECT '" << args.subject << "' must have the form type:id\n";
    ok = false;
  }
  if (!resource) {
    err << "RESOURCE '" << args.resource << "' must have the form type:id\n";
    ok = false;
  }
  if (args.action.empty()) {
    err << "ACTION must not be empty\n";
    ok = false;
  }
  std::vector<std::pair<std::string, engine::OwnedValue>> ctx;
  for (const std::string& kv : args.context) {
    const size_t eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) {
      err << "--context '" << kv << "' must have the form key=value\n";
      ok = false;
      continue;
    }
    const std::string key = kv.substr(0, eq);
    const PolicyErrors errors = policies::ReadContextValue(
        key, std::string_view(kv).substr(eq + 1), "--context " + key, &ctx);
    for (const PolicyError& e : errors) {
      err << e.file << ": " << e.message << "\n";
      ok = false;
    }
  }
  TimestampMicros now = NowMicros();
  if (!args.now.empty()) {
    std::optional<TimestampMicros> t = ParseRfc3339(args.now);
    if (!t) {
      err << "--now '" << args.now << "' is not an RFC 3339 time\n";
      ok = false;
    } else {
      now = *t;
    }
  }
  if (!ok) return std::nullopt;
  q.context = policies::OwnedAttributes(std::move(ctx));
  // The views below point into `args` and `q.context`, which outlive them.
  q.request.subject = *subject;
  q.request.resource = *resource;
  q.request.action = args.action;
  q.request.now = now;
  return q;
}

int Answer(const QueryArgs& args, std::ostream& out, std::ostream& err,
           bool explain) {
  std::optional<Query> q = Prepare(args, err);
  if (!q) return kExitError;
  q->request.context = q->context.view();
  engine::Evaluator evaluator(*q->policy);
  engine::Trace trace;
  const engine::Decision d =
      evaluator.Check(q->request, *q->data, explain ? &trace : nullptr);
  out << (d.allowed ? "allow" : "deny") << "\n";
  out << "reason: " << engine::ReasonCodeName(d.reason.code) << ": "
      << explain::ReasonText(*q->policy, d.reason, args.action) << "\n";
  if (explain) {
    out << "policy: " << q->policy->name << " (" << args.policy
        << ", version " << q->policy->version << ")\n";
    out << "request: " << args.subject << " " << args.action << " "
        << args.resource << " at " << FormatRfc3339(q->request.now) << "\n";
    out << "trace:\n";
    if (trace.steps.empty()) {
      out << "  (nothing considered: the request was decided before any "
             "binding or rule)\n";
    }
    int i = 1;
    for (const engine::TraceStep& s : trace.steps) {
      out << "  " << i++ << ". " << s.what << ": " << s.outcome;
      if (s.location.line != 0) out << " [" << s.location.ToString() << "]";
      out << "\n";
    }
  }
  return d.allowed ? kExitAllow : kExitDeny;
}

}  // namespace

int CheckCommand(const QueryArgs& args, std::ostream& out, std::ostream& err) {
  return Answer(args, out, err, /*explain=*/false);
}

int ExplainCommand(const QueryArgs& args, std::ostream& out,
                   std::ostream& err) {
  return Answer(args, out, err, /*explain=*/true);
}

namespace {

// The options check and explain share.
void AddQueryOptions(CLI::App* cmd, QueryArgs* query) {
  cmd->add_option("--policy", query->policy, "policy file")
      ->capture_default_str();
  cmd->add_option("--data", query->data, "YAML data file")
      ->capture_default_str();
  cmd->add_option("--context", query->context,
                  "request context key=value (value read as YAML); "
                  "repeatable");
  cmd->add_option("--now", query->now, "request time, RFC 3339");
  cmd->add_option("SUBJECT", query->subject, "subject, type:id")->required();
  cmd->add_option("ACTION", query->action, "action name")->required();
  cmd->add_option("RESOURCE", query->resource, "resource, type:id")->required();
}

}  // namespace

void AddPolicyCommands(CLI::App& app, Subcommands* out) {
  auto lint_files = std::make_shared<std::vector<std::string>>();
  CLI::App* lint = app.add_subcommand(
      "lint", "Validate policy files; print every error as file:line:column");
  lint->add_option("FILE", *lint_files, "policy files")->required();
  out->push_back(
      {lint, [lint_files] { return LintCommand(*lint_files, std::cout); }});

  auto test_paths = std::make_shared<std::vector<std::string>>();
  CLI::App* test =
      app.add_subcommand("test", "Run the policy test files under the paths");
  test->add_option("PATH", *test_paths, "test files or directories")
      ->required();
  out->push_back(
      {test, [test_paths] { return TestCommand(*test_paths, std::cout); }});

  // check and explain share one QueryArgs: only one subcommand is given.
  auto query = std::make_shared<QueryArgs>();
  CLI::App* check = app.add_subcommand(
      "check", "Answer one question: allow (exit 0) or deny (exit 1)");
  AddQueryOptions(check, query.get());
  out->push_back(
      {check, [query] { return CheckCommand(*query, std::cout, std::cerr); }});
  CLI::App* explain = app.add_subcommand(
      "explain", "Answer one question and show everything considered");
  AddQueryOptions(explain, query.get());
  out->push_back({explain, [query] {
                    return ExplainCommand(*query, std::cout, std::cerr);
                  }});
}

}  // namespace portcullis::cli
