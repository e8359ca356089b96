// api_bench: the daemon's request handler (server::Api::Handle) in process,
// without sockets, over the real LMDB store: what one request costs between
// the HTTP parser and the socket write. The clean target for callgrind:
//
//   build/bench/api_bench --benchmark_filter=Check
//   valgrind --tool=callgrind build/bench/api_bench --loop check 20000
//
// Routes: healthz, check, batch100 (the demo portal's data, imported into a
// temporary folder from policies/demo-data.jsonl); check-logged is check
// with the access and decision logs configured (to functions that discard
// the line). `--loop ROUTE N` runs N requests without Google Benchmark (for
// callgrind) and prints the number of heap allocations per request after
// warm-up; `--loop ROUTE N --max-allocs K` also fails (exit 1) if that
// number exceeds K (the ctest api_bench_check_allocs).
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <new>
#include <sstream>
#include <string>

#include "policies/policy_compiler.h"
#include "server/api.h"
#include "server/json.h"
#include "storage/jsonl.h"
#include "storage/store.h"

// Counting allocator: the number of heap blocks taken, to report heap
// allocations per request. operator new goes to malloc, and malloc, calloc
// and realloc (which rapidjson's CrtAllocator and C libraries such as LMDB
// call directly) are counted here too, over glibc's own entry points.
static std::atomic<uint64_t> g_allocations{0};
#ifndef PORTCULLIS_BENCH_NO_MALLOC_COUNT
extern "C" {
void* __libc_malloc(size_t n);
void* __libc_calloc(size_t n, size_t size);
void* __libc_realloc(void* p, size_t n);
void __libc_free(void* p);
void* malloc(size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_malloc(n);
}
void* calloc(size_t n, size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_calloc(n, size);
}
void* realloc(void* p, size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_realloc(p, n);
}
void free(void* p) { __libc_free(p); }
}
#endif
void* operator new(size_t n) {
#ifdef PORTCULLIS_BENCH_NO_MALLOC_COUNT
  g_allocations.fetch_add(1, std::memory_order_relaxed);
#endif
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }

namespace portcullis::server {
namespace {

struct Fixture {
  std::string dir;
  std::unique_ptr<storage::Store> store;
  std::unique_ptr<PolicyHolder> holder;
  std::unique_ptr<Api> api;
  std::unique_ptr<Api> logged_api;  // the same, with both logs configured

  Fixture() {
    dir = (std::filesystem::temp_directory_path() /
           ("portcullis-api-bench-" + std::to_string(::getpid())))
              .string();
    std::filesystem::remove_all(dir);
    const std::string policies = PORTCULLIS_POLICIES_DIR;
    policies::PolicyResult compiled =
        policies::CompilePolicyFile(policies + "/workspace.yaml");
    if (!compiled) {
      std::cerr << policies::FormatErrors(compiled.error());
      std::exit(1);
    }
    auto opened = storage::Store::Open(dir);
    if (!opened) {
      std::cerr << opened.error().message() << "\n";
      std::exit(1);
    }
    store = std::move(*opened);
    storage::ImportOptions io;
    auto imported = storage::ImportJsonlFile(
        *store, policies + "/demo-data.jsonl", io);
    if (!imported) {
      std::cerr << imported.error().message() << "\n";
      std::exit(1);
    }
    holder = std::make_unique<PolicyHolder>(std::move(*compiled));
    ApiOptions options;
    options.auth_enabled = false;
    ApiOptions logged = options;
    logged.access_log = [](std::string_view line) {
      benchmark::DoNotOptimize(line.data());
    };
    logged.decision_log = logged.access_log;
    api = std::make_unique<Api>(std::move(options), holder.get(),
                                store.get(), PolicyAdmin{});
    api->SetReady(true);
    logged_api = std::make_unique<Api>(std::move(logged), holder.get(),
                                       store.get(), PolicyAdmin{});
    logged_api->SetReady(true);
  }
  ~Fixture() {
    api.reset();
    logged_api.reset();
    store.reset();
    std::filesystem::remove_all(dir);
  }
};

Fixture& F() {
  static Fixture* f = new Fixture();
  return *f;
}

Api& ApiFor(const std::string& route) {
  return route == "check-logged" ? *F().logged_api : *F().api;
}

std::string BatchBody(int n) {
  static const char* kSubjects[] = {"user:alice", "user:bob", "user:carol",
                                    "user:dave", "user:erin"};
  static const char* kResources[] = {"file:logo", "file:readme", "file:budget",
                                     "file:salaries", "file:minutes"};
  static const char* kActions[] = {"view", "edit", "download"};
  std::string body = "{\"checks\":[";
  for (int i = 0; i < n; ++i) {
    if (i) body += ",";
    body += std::string("{\"subject\":\"") + kSubjects[i % 5] +
            "\",\"action\":\"" + kActions[i % 3] + "\",\"resource\":\"" +
            kResources[(i / 5) % 5] + "\"}";
  }
  return body + "]}";
}

// A request as the HTTP layer hands it over (wrk's headers).
HttpRequest MakeRequest(const std::string& route) {
  HttpRequest r;
  r.remote = "127.0.0.1:40000";
  r.headers.emplace_back("host", "127.0.0.1:8181");
  if (route == "healthz") {
    r.method = "GET";
    r.target = r.path = "/healthz";
    return r;
  }
  r.method = "POST";
  r.headers.emplace_back("content-type", "application/json");
  if (route == "check" || route == "check-logged") {
    r.target = r.path = "/v1/check";
    r.body = R"({"subject":"user:alice","action":"view","resource":"file:logo"})";
  } else {
    r.target = r.path = "/v1/check/batch";
    r.body = BatchBody(100);
  }
  r.headers.emplace_back("content-length", std::to_string(r.body.size()));
  return r;
}

void Run(benchmark::State& state, const std::string& route) {
  Api& api = ApiFor(route);
  const HttpRequest proto = MakeRequest(route);
  uint64_t allocs = 0;
  for (auto _ : state) {
    HttpRequest r = proto;  // the HTTP layer builds a fresh one per request
    const uint64_t before = g_allocations.load(std::memory_order_relaxed);
    HttpResponse resp = api.Handle(r);
    allocs += g_allocations.load(std::memory_order_relaxed) - before;
    if (resp.status != 200) state.SkipWithError("non-200 answer");
    benchmark::DoNotOptimize(resp.body.data());
  }
  state.counters["allocs_per_request"] = benchmark::Counter(
      static_cast<double>(allocs) / static_cast<double>(state.iterations()));
  if (route == "batch100") {
    state.counters["decisions_per_s"] = benchmark::Counter(
        100.0 * static_cast<double>(state.iterations()),
        benchmark::Counter::kIsRate);
  }
}

void BM_Healthz(benchmark::State& s) { Run(s, "healthz"); }
void BM_Check(benchmark::State& s) { Run(s, "check"); }
void BM_CheckLogged(benchmark::State& s) { Run(s, "check-logged"); }
void BM_CheckBatch100(benchmark::State& s) { Run(s, "batch100"); }
BENCHMARK(BM_Healthz);
BENCHMARK(BM_Check);
BENCHMARK(BM_CheckLogged);
BENCHMARK(BM_CheckBatch100);

// Runs `n` requests after a warm-up (thread-local buffers grown, the LMDB
// reader slot taken) and prints the heap allocations per request; fails if
// that exceeds `max_allocs` (when >= 0).
int Loop(const std::string& route, long n, double max_allocs) {
  Api& api = ApiFor(route);
  const HttpRequest proto = MakeRequest(route);
  uint64_t allocs = 0;
  constexpr long kWarmUp = 10;
  for (long i = -kWarmUp; i < n; ++i) {
    HttpRequest r = proto;
    const uint64_t before = g_allocations.load(std::memory_order_relaxed);
    HttpResponse resp = api.Handle(r);
    if (i >= 0)
      allocs += g_allocations.load(std::memory_order_relaxed) - before;
    if (resp.status != 200) {
      std::cerr << "non-200 answer: " << resp.body << "\n";
      return 1;
    }
  }
  const double per_request = static_cast<double>(allocs) / n;
  std::printf("%s: %ld requests, %.3f heap allocations per request (%llu)\n",
              route.c_str(), n, per_request,
              static_cast<unsigned long long>(allocs));
  // A hundredth of slack: a reused log buffer may grow once more as the
  // request ids lengthen ("pc-ff" to "pc-100").
  if (max_allocs >= 0 && per_request > max_allocs + 0.01) {
    std::fprintf(stderr, "more than %.1f heap allocations per request\n",
                 max_allocs);
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace portcullis::server

int main(int argc, char** argv) {
  if ((argc == 4 || argc == 6) && std::strcmp(argv[1], "--loop") == 0) {
    double max_allocs = -1;
    if (argc == 6) {
      if (std::strcmp(argv[4], "--max-allocs") != 0) return 2;
      max_allocs = std::atof(argv[5]);
    }
    return portcullis::server::Loop(argv[2], std::atol(argv[3]), max_allocs);
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
