// storage_bench: check latency over the LMDB store versus engine::MemoryData
// on the same generated data, import throughput, bytes on disk per binding,
// resident memory after opening, and time from open to the first check.
//
//   storage_bench [--benchmark_filter=...]
//   PORTCULLIS_BENCH_SCALE=medium storage_bench   (default: small)
//
// Latency/<mix>/<data> benchmarks time every check on its own (steady_clock,
// the timer's own cost measured and subtracted) and report p50, p99 and
// p99.9 in ns per check; for LMDB each check opens and releases its read
// view, as a server request does. Mixes:
//   random     random users on random files (mostly no binding: full walk)
//   member     a member's group binding reaches a file of that group
//   override   the subject holding a raise or a restriction on a file
//   condition  edit by a content creator: the department condition runs
// After the runs, a table gives each benchmark's p50 and mean as a ratio of
// Latency/member/memory, measured in the same run.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>

#include "bench/datagen_lib.h"
#include "engine/evaluator.h"
#include "engine/memory_data.h"
#include "storage/jsonl.h"
#include "storage/store.h"
#include "storage/test_policy.h"

namespace portcullis::bench {
namespace {

using engine::EntityRef;

struct Fixture {
  std::shared_ptr<const engine::Policy> policy = storage::testing::WorkspacePolicy();
  std::string dir;
  std::string jsonl;  // the generated data
  uint64_t records = 0;
  uint64_t bindings = 0;
  std::unique_ptr<storage::Store> store;
  engine::MemoryData memory;
  std::vector<std::string> users, files;
  double import_seconds = 0;
  // For the request mixes: (user, group index, role) of group bindings;
  // files by group index; access records on files; files with departments.
  struct Member {
    std::string user;
    uint64_t group;
    std::string role;
  };
  std::vector<Member> members;
  std::vector<std::vector<std::string>> files_of_group;
  std::vector<std::pair<std::string, std::string>> file_access;  // user, file
  std::vector<std::string> department_files;
};

// "file:g12f3" and "group:g12" -> 12.
uint64_t GroupIndex(std::string_view ref) {
  const size_t g = ref.find(":g");
  if (g == std::string_view::npos) return UINT64_MAX;
  uint64_t n = 0;
  for (size_t i = g + 2; i < ref.size() && ref[i] >= '0' && ref[i] <= '9';
       ++i) {
    n = n * 10 + (ref[i] - '0');
  }
  return n;
}

void LoadIntoMemory(engine::MemoryData& mem, const storage::JsonlRecord& rec) {
  if (auto* r = std::get_if<storage::ResourceRecord>(&rec)) {
    auto p = engine::ParseEntityRef(r->parent);
    mem.PutResource(r->type, r->id, p ? p->type : "", p ? p->id : "");
    for (const auto& [k, v] : r->attributes) {
      mem.SetAttribute(engine::EntityKind::kResource, r->type, r->id, k, v);
    }
  } else if (auto* s = std::get_if<storage::SubjectRecord>(&rec)) {
    mem.PutSubject(s->type, s->id);
    for (const auto& [k, v] : s->attributes) {
      mem.SetAttribute(engine::EntityKind::kSubject, s->type, s->id, k, v);
    }
  } else if (auto* b = std::get_if<storage::BindingRecord>(&rec)) {
    mem.SetBinding(*engine::ParseEntityRef(b->subject),
                   *engine::ParseEntityRef(b->resource), b->roles, b->state,
                   b->expires_at);
  } else if (auto* x = std::get_if<storage::RestrictionRecord>(&rec)) {
    mem.SetRestriction(*engine::ParseEntityRef(x->subject),
                       *engine::ParseEntityRef(x->resource), x->actions);
  }
}

Fixture& Get() {
  static Fixture* f = [] {
    auto* f = new Fixture;
    const char* scale = std::getenv("PORTCULLIS_BENCH_SCALE");
    DatagenOptions opts = *ScaleOptions("small");
    if (scale != nullptr && ScaleOptions(scale)) opts = *ScaleOptions(scale);
    std::string text;
    Generate(opts, [&](const storage::JsonlRecord& r) {
      text += storage::FormatJsonlRecord(r);
      text += '\n';
      ++f->records;
      if (std::holds_alternative<storage::BindingRecord>(r)) ++f->bindings;
      if (auto* res = std::get_if<storage::ResourceRecord>(&r)) {
        if (res->type == "file") {
          const std::string ref = "file:" + res->id;
          f->files.push_back(ref);
          const uint64_t g = GroupIndex(ref);
          if (f->files_of_group.size() <= g) f->files_of_group.resize(g + 1);
          f->files_of_group[g].push_back(ref);
          if (res->attributes.count("departments")) {
            f->department_files.push_back(ref);
          }
        }
      }
      if (auto* b = std::get_if<storage::BindingRecord>(&r)) {
        if (b->resource.starts_with("group:") && !b->roles.empty()) {
          f->members.push_back(
              {b->subject, GroupIndex(b->resource), b->roles[0]});
        } else if (b->resource.starts_with("file:")) {
          f->file_access.emplace_back(b->subject, b->resource);
        }
      }
      if (auto* x = std::get_if<storage::RestrictionRecord>(&r)) {
        f->file_access.emplace_back(x->subject, x->resource);
      }
      if (auto* s = std::get_if<storage::SubjectRecord>(&r)) {
        f->users.push_back("user:" + s->id);
      }
      LoadIntoMemory(f->memory, r);
    });
    f->jsonl = std::move(text);
    f->dir = std::filesystem::temp_directory_path() /
             ("portcullis_bench_" + std::to_string(::getpid()));
    std::filesystem::remove_all(f->dir);
    auto store = storage::Store::Open(f->dir);
    if (!store) std::abort();
    std::istringstream in(f->jsonl);
    storage::ImportOptions io;
    io.policy = f->policy.get();
    const auto start = std::chrono::steady_clock::now();
    auto st = storage::ImportJsonl(**store, in, io);
    f->import_seconds = std::chrono::duration<double>(
                            std::chrono::steady_clock::now() - start)
                            .count();
    if (!st) {
      std::fprintf(stderr, "import failed: %s\n",
                   st.error().ToString().c_str());
      std::abort();
    }
    f->store = std::move(*store);
    return f;
  }();
  return *f;
}

// A fixed, mixed request stream: random users on random files.
std::vector<engine::CheckRequest> Requests(Fixture& f, size_t n) {
  std::mt19937 rng(42);
  std::vector<engine::CheckRequest> out(n);
  const char* actions[] = {"view", "edit", "delete"};
  for (auto& r : out) {
    r.subject = *engine::ParseEntityRef(f.users[rng() % f.users.size()]);
    r.resource = *engine::ParseEntityRef(f.files[rng() % f.files.size()]);
    r.action = actions[rng() % 3];
    r.now = 1'800'000'000'000'000;
  }
  return out;
}

// A request stream of one mix. The strings the requests view live in the
// fixture.
std::vector<engine::CheckRequest> MixRequests(Fixture& f,
                                              const std::string& mix,
                                              size_t n) {
  if (mix == "random") return Requests(f, n);
  std::mt19937 rng(7);
  std::vector<engine::CheckRequest> out;
  out.reserve(n);
  auto add = [&](std::string_view subject, std::string_view resource,
                 std::string_view action) {
    engine::CheckRequest r;
    r.subject = *engine::ParseEntityRef(subject);
    r.resource = *engine::ParseEntityRef(resource);
    r.action = action;
    r.now = 1'800'000'000'000'000;
    out.push_back(r);
  };
  std::vector<const Fixture::Member*> creators;
  for (const auto& m : f.members) {
    if (m.role == "content_creator") creators.push_back(&m);
  }
  std::vector<const std::string*> creator_files;  // in a creator's group
  while (out.size() < n) {
    if (mix == "member") {
      const auto& m = f.members[rng() % f.members.size()];
      const auto& files = f.files_of_group[m.group];
      if (files.empty()) continue;
      add(m.user, files[rng() % files.size()], "view");
    } else if (mix == "override") {
      if (f.file_access.empty()) return {};
      const auto& [user, file] = f.file_access[rng() % f.file_access.size()];
      add(user, file, rng() % 2 ? "edit" : "view");
    } else if (mix == "condition") {
      if (creators.empty()) return {};
      const auto& m = *creators[rng() % creators.size()];
      const auto& files = f.files_of_group[m.group];
      if (files.empty()) continue;
      add(m.user, files[rng() % files.size()], "edit");
    } else {
      return {};
    }
  }
  return out;
}

// The cost of one steady_clock::now() pair, to subtract from each sample.
int64_t TimerOverheadNs() {
  static const int64_t overhead = [] {
    std::vector<int64_t> d(20001);
    for (auto& x : d) {
      const auto a = std::chrono::steady_clock::now();
      const auto b = std::chrono::steady_clock::now();
      x = std::chrono::duration_cast<std::chrono::nanoseconds>(b - a).count();
    }
    std::nth_element(d.begin(), d.begin() + d.size() / 2, d.end());
    return d[d.size() / 2];
  }();
  return overhead;
}

struct LatencySummary {
  double p50 = 0, p99 = 0, p999 = 0, mean = 0;
};
std::map<std::string, LatencySummary>& Summaries() {
  static std::map<std::string, LatencySummary> s;
  return s;
}

// Times each check (and, over LMDB, its read view) on its own.
void RunLatency(benchmark::State& state, const std::string& name,
                const std::string& mix, bool lmdb) {
  Fixture& f = Get();
  engine::Evaluator eval(*f.policy);
  const auto reqs = MixRequests(f, mix, 4096);
  if (reqs.empty()) {
    state.SkipWithError("the data set has no requests of this mix");
    return;
  }
  const int64_t overhead = TimerOverheadNs();
  std::vector<int64_t> samples;
  samples.reserve(1 << 20);
  size_t i = 0, allowed = 0;
  for (auto _ : state) {
    const engine::CheckRequest& req = reqs[i++ & 4095];
    const auto start = std::chrono::steady_clock::now();
    bool ok;
    if (lmdb) {
      auto view = f.store->Read();
      ok = eval.Check(req, *view).allowed;
    } else {
      ok = eval.Check(req, f.memory).allowed;
    }
    const auto end = std::chrono::steady_clock::now();
    allowed += ok;
    if (samples.size() < samples.capacity()) {
      samples.push_back(
          std::chrono::duration_cast<std::chrono::nanoseconds>(end - start)
              .count() -
          overhead);
    }
  }
  std::sort(samples.begin(), samples.end());
  auto at = [&](double q) {
    if (samples.empty()) return 0.0;
    const size_t k = std::min(samples.size() - 1,
                              static_cast<size_t>(q * samples.size()));
    return static_cast<double>(std::max<int64_t>(0, samples[k]));
  };
  LatencySummary sum{at(0.50), at(0.99), at(0.999), 0};
  for (int64_t x : samples) sum.mean += static_cast<double>(x);
  if (!samples.empty()) sum.mean /= static_cast<double>(samples.size());
  Summaries()[name] = sum;
  state.counters["p50_ns"] = sum.p50;
  state.counters["p99_ns"] = sum.p99;
  state.counters["p999_ns"] = sum.p999;
  state.counters["allowed_ratio"] =
      static_cast<double>(allowed) / state.iterations();
}

void BM_CheckMemory(benchmark::State& state) {
  Fixture& f = Get();
  engine::Evaluator eval(*f.policy);
  auto reqs = Requests(f, 4096);
  size_t i = 0, allowed = 0;
  for (auto _ : state) {
    allowed += eval.Check(reqs[i++ & 4095], f.memory).allowed;
  }
  state.counters["allowed_ratio"] =
      static_cast<double>(allowed) / state.iterations();
}
BENCHMARK(BM_CheckMemory);

// One read transaction per check, as the server does per request.
void BM_CheckLmdbViewPerCheck(benchmark::State& state) {
  Fixture& f = Get();
  engine::Evaluator eval(*f.policy);
  auto reqs = Requests(f, 4096);
  size_t i = 0, allowed = 0;
  for (auto _ : state) {
    auto view = f.store->Read();
    allowed += eval.Check(reqs[i++ & 4095], *view).allowed;
  }
  state.counters["allowed_ratio"] =
      static_cast<double>(allowed) / state.iterations();
}
BENCHMARK(BM_CheckLmdbViewPerCheck);

// One long-lived view: the cost of the lookups alone.
void BM_CheckLmdbSharedView(benchmark::State& state) {
  Fixture& f = Get();
  engine::Evaluator eval(*f.policy);
  auto reqs = Requests(f, 4096);
  auto view = f.store->Read();
  size_t i = 0, allowed = 0;
  for (auto _ : state) {
    allowed += eval.Check(reqs[i++ & 4095], *view).allowed;
  }
  state.counters["allowed_ratio"] =
      static_cast<double>(allowed) / state.iterations();
}
BENCHMARK(BM_CheckLmdbSharedView);

// Import throughput into a fresh store (the generated data set, whole).
void BM_Import(benchmark::State& state) {
  Fixture& f = Get();
  for (auto _ : state) {
    const std::string dir = f.dir + "_import";
    std::filesystem::remove_all(dir);
    auto store = storage::Store::Open(dir);
    std::istringstream in(f.jsonl);
    storage::ImportOptions io;
    io.policy = f.policy.get();
    auto st = storage::ImportJsonl(**store, in, io);
    if (!st) state.SkipWithError(st.error().ToString().c_str());
    store->reset();
    std::filesystem::remove_all(dir);
  }
  state.counters["records_per_s"] = benchmark::Counter(
      static_cast<double>(f.records) * state.iterations(),
      benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Import)->Unit(benchmark::kMillisecond)->Iterations(1);

long RssKiB() {
  std::ifstream statm("/proc/self/statm");
  long size = 0, resident = 0;
  statm >> size >> resident;
  return resident * (::sysconf(_SC_PAGESIZE) / 1024);
}

// Opening an existing store and answering the first check: no load phase.
void BM_OpenToFirstCheck(benchmark::State& state) {
  Fixture& f = Get();
  engine::Evaluator eval(*f.policy);
  auto reqs = Requests(f, 1);
  for (auto _ : state) {
    const long rss_before = RssKiB();
    auto store = storage::Store::Open(f.dir);
    auto view = (*store)->Read();
    benchmark::DoNotOptimize(eval.Check(reqs[0], *view).allowed);
    state.counters["rss_growth_KiB"] = static_cast<double>(RssKiB() - rss_before);
    { storage::ReadView done = std::move(*view); }
  }
  auto stats = f.store->GetStats();
  state.counters["bytes_per_binding"] =
      static_cast<double>(stats->used_bytes) / std::max<uint64_t>(1, f.bindings);
  state.counters["store_MiB"] = stats->used_bytes / 1048576.0;
  state.counters["records"] = static_cast<double>(f.records);
  state.counters["first_import_records_per_s"] = f.records / f.import_seconds;
}
BENCHMARK(BM_OpenToFirstCheck)->Unit(benchmark::kMicrosecond);

void RegisterLatency() {
  for (const char* mix : {"member", "random", "override", "condition"}) {
    for (bool lmdb : {false, true}) {
      const std::string name = std::string("Latency/") + mix +
                               (lmdb ? "/lmdb_view_per_check" : "/memory");
      benchmark::RegisterBenchmark(
          name.c_str(),
          [name, m = std::string(mix), lmdb](benchmark::State& st) {
            RunLatency(st, name, m, lmdb);
          });
    }
  }
}

void PrintLatencyTable() {
  const auto& all = Summaries();
  auto base = all.find("Latency/member/memory");
  if (all.empty()) return;
  std::printf("\n%-40s %9s %9s %9s %9s %8s\n", "per check (ns)", "p50",
              "p99", "p99.9", "mean", "p50 x");
  for (const auto& [name, s] : all) {
    const double ratio =
        base == all.end() || base->second.p50 == 0 ? 0
                                                   : s.p50 / base->second.p50;
    std::printf("%-40s %9.0f %9.0f %9.0f %9.0f %8.2f\n", name.c_str(), s.p50,
                s.p99, s.p999, s.mean, ratio);
  }
  std::printf("(p50 x: ratio to Latency/member/memory in this run)\n");
}

}  // namespace
}  // namespace portcullis::bench

int main(int argc, char** argv) {
  using namespace portcullis::bench;  // NOLINT
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  Get();  // build the data set before timing anything
  RegisterLatency();
  benchmark::RunSpecifiedBenchmarks();
  PrintLatencyTable();
  benchmark::Shutdown();
  return 0;
}
