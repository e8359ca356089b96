// storage_bench: check latency over the LMDB store versus engine::MemoryData
// on the same generated data, import throughput, bytes on disk per binding,
// resident memory after opening, and time from open to the first check.
//
//   storage_bench [--benchmark_filter=...]
//   PORTCULLIS_BENCH_SCALE=medium storage_bench   (default: small)
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
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
};

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
        if (res->type == "file") f->files.push_back("file:" + res->id);
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

}  // namespace
}  // namespace portcullis::bench

BENCHMARK_MAIN();
