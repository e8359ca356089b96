// In-process decision latency: Evaluator::Check over MemoryData.
//
//   ninja -C build engine_bench && build/bench/engine_bench
//   build/bench/engine_bench --verify_no_alloc   # what ctest runs
//
// Every benchmark reports `allocs/check`, counted by the global operator new
// of this binary; the hot path must keep it at 0. After the runs, a table of
// each benchmark's time as a ratio of the baseline (a binding on the resource
// itself) measured in the same run.

#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "engine/evaluator.h"
#include "engine/memory_data.h"
#include "engine/policy.h"

// Counts every allocation in the process.
static std::atomic<uint64_t> g_allocations{0};

void* operator new(std::size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return operator new(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(n ? n : 1);
}
void* operator new[](std::size_t n, const std::nothrow_t& t) noexcept {
  return operator new(n, t);
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

namespace portcullis::engine {
namespace {

constexpr TimestampMicros kNow = 1'800'000'000'000'000;

std::unique_ptr<Condition> OwnerIsSubject() {
  auto c = std::make_unique<Condition>();
  ExprNode owner;
  owner.op = ExprOp::kAttr;
  owner.root = AttrRoot::kResource;
  owner.key = c->InternString("owner");
  ExprNode id;
  id.op = ExprOp::kAttr;
  id.root = AttrRoot::kSubject;
  id.key = c->InternString("id");
  ExprNode eq;
  eq.op = ExprOp::kEq;
  eq.child[0] = c->AddNode(std::move(owner));
  eq.child[1] = c->AddNode(std::move(id));
  c->set_root(c->AddNode(std::move(eq)));
  c->set_text("resource.owner == subject.id");
  return c;
}

// The workspace policy's shape: account > group > folder (nested) > file;
// member, content_creator (includes member; the owner may delete),
// administrator (exempt from restrictions); restrictions on folders and
// files, restriction-wins.
std::unique_ptr<Policy> WorkspacePolicy() {
  auto p = std::make_unique<Policy>();
  p->name = "bench";
  auto type = [&](std::string name, std::vector<TypeId> parents,
                  std::vector<std::string> actions, bool restrictable) {
    TypeDef t;
    t.name = std::move(name);
    t.parents = std::move(parents);
    t.restrictable = restrictable;
    const TypeId id = static_cast<TypeId>(p->types.size());
    for (const std::string& a : actions) {
      ActionId aid = kNoAction;
      for (size_t i = 0; i < p->actions.size(); ++i) {
        if (p->actions[i].name == a) aid = static_cast<ActionId>(i);
      }
      if (aid == kNoAction) {
        aid = static_cast<ActionId>(p->actions.size());
        p->actions.push_back(ActionDef{a, {}, {}});
      }
      p->actions[aid].types.Add(id);
      t.actions.Add(aid);
    }
    p->types.push_back(std::move(t));
    return id;
  };
  TypeDef user;
  user.name = "user";
  user.is_subject = true;
  p->types.push_back(std::move(user));
  const TypeId account = type("account", {}, {"create_group"}, false);
  const TypeId group =
      type("group", {account}, {"view_group", "invite_members"}, false);
  const std::vector<std::string> content = {"view",   "download", "edit",
                                            "upload", "delete",   "share"};
  const TypeId folder = type("folder", {group}, content, true);
  p->types[folder].parents.push_back(folder);
  const TypeId file = type("file", {group, folder}, content, true);

  auto actions = [&](std::vector<std::string> names) {
    ActionSet s;
    for (const std::string& n : names) {
      for (size_t i = 0; i < p->actions.size(); ++i) {
        if (p->actions[i].name == n) s.Add(static_cast<ActionId>(i));
      }
    }
    return s;
  };
  auto grant = [&](RoleId role, TypeId t, std::vector<std::string> names,
                   std::unique_ptr<Condition> when = nullptr) {
    auto g = std::make_unique<Grant>();
    g->role = role;
    g->type = t;
    g->actions = actions(std::move(names));
    g->when = std::move(when);
    p->grants.push_back(std::move(g));
    return p->grants.back().get();
  };
  p->roles.resize(3);
  p->roles[0].name = "member";
  p->roles[1].name = "content_creator";
  p->roles[2].name = "administrator";
  p->roles[2].exempt_from_restrictions = true;
  const Grant* m[] = {grant(0, group, {"view_group"}),
                      grant(0, folder, {"view", "download"}),
                      grant(0, file, {"view", "download"})};
  const Grant* c[] = {grant(1, folder, {"edit", "upload"}),
                      grant(1, file, {"edit", "upload"}),
                      grant(1, file, {"delete"}, OwnerIsSubject())};
  const Grant* a[] = {grant(2, group, {"view_group", "invite_members"}),
                      grant(2, folder, {"view", "download", "share"}),
                      grant(2, file, {"view", "download", "share"})};
  for (const Grant* g : m) p->roles[0].grants.push_back(g);
  for (const Grant* g : m) p->roles[1].grants.push_back(g);
  for (const Grant* g : c) p->roles[1].grants.push_back(g);
  for (const Grant* g : a) p->roles[2].grants.push_back(g);
  p->Finalize();
  return p;
}

// A policy, the data and one request.
struct Scenario {
  std::unique_ptr<Policy> policy = WorkspacePolicy();
  MemoryData data;
  CheckRequest request;
  bool expect_allowed = true;
  // Keeps the strings the request's EntityRefs view.
  std::vector<std::string> names;
};

// account:acme > group:g1 > folder:d1 > ... > folder:dN > file:f.
void BuildTree(Scenario* s, int folders) {
  s->data.PutResource("account", "acme");
  s->data.PutResource("group", "g1", "account", "acme");
  std::string parent_type = "group", parent = "g1";
  for (int i = 1; i <= folders; ++i) {
    const std::string id = "d" + std::to_string(i);
    s->data.PutResource("folder", id, parent_type, parent);
    parent_type = "folder";
    parent = id;
  }
  s->data.PutResource("file", "f", parent_type, parent);
  s->request.subject = {"user", "alice"};
  s->request.resource = {"file", "f"};
  s->request.action = "view";
  s->request.now = kNow;
}

std::unique_ptr<Scenario> Baseline() {
  auto s = std::make_unique<Scenario>();
  BuildTree(s.get(), 2);
  s->data.SetBinding({"user", "alice"}, {"file", "f"}, {"member"});
  return s;
}

std::unique_ptr<Scenario> Deep(int folders) {
  auto s = std::make_unique<Scenario>();
  BuildTree(s.get(), folders);
  s->data.SetBinding({"user", "alice"}, {"group", "g1"}, {"member"});
  return s;
}

std::unique_ptr<Scenario> ManyBindings() {
  auto s = std::make_unique<Scenario>();
  BuildTree(s.get(), 4);
  for (int i = 0; i < 100'000; ++i) {
    s->data.SetBinding({"user", "u" + std::to_string(i)}, {"group", "g1"},
                       {"member"});
  }
  s->names.push_back("u77777");
  s->request.subject = {"user", s->names.back()};
  return s;
}

std::unique_ptr<Scenario> Restricted() {
  auto s = std::make_unique<Scenario>();
  BuildTree(s.get(), 8);
  s->data.SetBinding({"user", "alice"}, {"group", "g1"}, {"member"});
  s->data.SetBinding({"user", "alice"}, {"file", "f"}, {"content_creator"});
  s->data.SetRestriction({"user", "alice"}, {"folder", "d3"},
                         {"download", "view"});
  s->expect_allowed = false;
  return s;
}

std::unique_ptr<Scenario> ExemptFromRestriction() {
  auto s = std::make_unique<Scenario>();
  BuildTree(s.get(), 8);
  s->data.SetBinding({"user", "alice"}, {"group", "g1"}, {"administrator"});
  s->data.SetRestriction({"user", "alice"}, {"folder", "d3"}, {"*"});
  return s;
}

std::unique_ptr<Scenario> Conditional() {
  auto s = std::make_unique<Scenario>();
  BuildTree(s.get(), 8);
  s->data.SetBinding({"user", "alice"}, {"group", "g1"}, {"content_creator"});
  OwnedValue owner;
  owner.kind = ValueKind::kString;
  owner.s = "alice";
  s->data.SetAttribute(EntityKind::kResource, "file", "f", "owner", owner);
  s->request.action = "delete";
  return s;
}

std::unique_ptr<Scenario> NoBinding() {
  auto s = std::make_unique<Scenario>();
  BuildTree(s.get(), 8);
  s->data.SetBinding({"user", "bob"}, {"group", "g1"}, {"member"});
  s->data.PutSubject("user", "alice");
  s->expect_allowed = false;
  return s;
}

struct Named {
  const char* name;
  std::function<std::unique_ptr<Scenario>()> make;
};

const std::vector<Named>& Scenarios() {
  static const std::vector<Named> kAll = {
      {"Baseline_BindingOnResource", Baseline},
      {"DeepNesting/8", [] { return Deep(8); }},
      {"DeepNesting/32", [] { return Deep(32); }},
      {"ManyBindings/100k_subjects", ManyBindings},
      {"Restricted/deny", Restricted},
      {"ExemptFromRestriction", ExemptFromRestriction},
      {"ConditionalGrant/owner_delete", Conditional},
      {"NoBinding/deny", NoBinding},
  };
  return kAll;
}

void RunCheck(benchmark::State& state, const Scenario& s) {
  const Evaluator ev(*s.policy);
  if (ev.Check(s.request, s.data).allowed != s.expect_allowed) {
    state.SkipWithError("unexpected decision");
    return;
  }
  const uint64_t before = g_allocations.load();
  for (auto _ : state) {
    Decision d = ev.Check(s.request, s.data);
    benchmark::DoNotOptimize(d);
  }
  state.counters["allocs/check"] = benchmark::Counter(
      static_cast<double>(g_allocations.load() - before) / state.iterations());
}

void RunAllowedActions(benchmark::State& state, const Scenario& s) {
  const Evaluator ev(*s.policy);
  const uint64_t before = g_allocations.load();
  for (auto _ : state) {
    ActionSet a = ev.AllowedActions(s.request, s.data);
    benchmark::DoNotOptimize(a);
  }
  state.counters["allocs/check"] = benchmark::Counter(
      static_cast<double>(g_allocations.load() - before) / state.iterations());
}

// Runs every scenario after a warm-up and counts allocations per Check.
// Returns the number of scenarios whose hot path allocated.
int VerifyNoAllocation() {
  int bad = 0;
  for (const Named& n : Scenarios()) {
    std::unique_ptr<Scenario> s = n.make();
    const Evaluator ev(*s->policy);
    bool ok = ev.Check(s->request, s->data).allowed == s->expect_allowed;
    ev.AllowedActions(s->request, s->data);  // warm-up
    const uint64_t before = g_allocations.load();
    for (int i = 0; i < 1000; ++i) {
      benchmark::DoNotOptimize(ev.Check(s->request, s->data));
      benchmark::DoNotOptimize(ev.AllowedActions(s->request, s->data));
    }
    const uint64_t allocs = g_allocations.load() - before;
    std::printf("%-32s decision %s, %llu allocations in 1000 checks\n", n.name,
                ok ? "as expected" : "WRONG",
                static_cast<unsigned long long>(allocs));
    if (allocs != 0 || !ok) ++bad;
  }
  return bad;
}

// Prints, after the usual console output, each benchmark's time as a ratio
// of the baseline's (CPU time, steadier than wall time on a shared machine).
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& r : runs) {
      if (r.error_occurred) continue;
      times_.emplace_back(r.benchmark_name(), r.GetAdjustedCPUTime());
    }
  }
  void Finalize() override {
    ConsoleReporter::Finalize();
    double base = 0;
    for (const auto& [name, t] : times_) {
      if (name.find("Baseline") != std::string::npos) base = t;
    }
    if (base == 0) return;
    std::printf("\n%-48s %10s %8s\n", "benchmark", "cpu ns", "x base");
    for (const auto& [name, t] : times_) {
      std::printf("%-48s %10.1f %8.2f\n", name.c_str(), t, t / base);
    }
  }

 private:
  std::vector<std::pair<std::string, double>> times_;
};

}  // namespace
}  // namespace portcullis::engine

int main(int argc, char** argv) {
  using namespace portcullis::engine;  // NOLINT
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--verify_no_alloc") == 0) {
      const int bad = VerifyNoAllocation();
      std::printf("%s\n", bad == 0 ? "OK: the hot path does not allocate"
                                   : "FAIL: the hot path allocates");
      return bad == 0 ? 0 : 1;
    }
  }
  // Scenarios live for the whole run; benchmarks reference them.
  static std::vector<std::unique_ptr<Scenario>> live;
  for (const Named& n : Scenarios()) {
    live.push_back(n.make());
    const Scenario* s = live.back().get();
    benchmark::RegisterBenchmark(
        (std::string("Check/") + n.name).c_str(),
        [s](benchmark::State& st) { RunCheck(st, *s); });
  }
  {
    live.push_back(Deep(8));
    const Scenario* s = live.back().get();
    benchmark::RegisterBenchmark(
        "AllowedActions/DeepNesting/8",
        [s](benchmark::State& st) { RunAllowedActions(st, *s); });
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
