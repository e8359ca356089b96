// api_bench: the daemon's request handler (server::Api::Handle) in process,
// without sockets, over the real LMDB store: what one request costs between
// the HTTP parser and the socket write. The clean target for callgrind:
//
//   build/bench/api_bench --benchmark_filter=Check
//   valgrind --tool=callgrind build/bench/api_bench --loop check 20000
//
// Routes: healthz, check, batch100 (the demo portal's data, imported into a
// temporary folder from policies/demo-data.jsonl). `--loop ROUTE N` runs N
// requests without Google Benchmark (for callgrind) and prints the number
// of heap allocations per request.
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

// Counting allocator: the number of operator new calls, to report heap
// allocations per request.
static std::atomic<uint64_t> g_allocations{0};
void* operator new(size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
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
    api = std::make_unique<Api>(std::move(options), holder.get(),
                                store.get(), PolicyAdmin{});
    api->SetReady(true);
  }
  ~Fixture() {
    api.reset();
    store.reset();
    std::filesystem::remove_all(dir);
  }
};

Fixture& F() {
  static Fixture* f = new Fixture();
  return *f;
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
  if (route == "check") {
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
  Api& api = *F().api;
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
void BM_CheckBatch100(benchmark::State& s) { Run(s, "batch100"); }
BENCHMARK(BM_Healthz);
BENCHMARK(BM_Check);
BENCHMARK(BM_CheckBatch100);

int Loop(const std::string& route, long n) {
  Api& api = *F().api;
  const HttpRequest proto = MakeRequest(route);
  uint64_t allocs = 0;
  for (long i = 0; i < n; ++i) {
    HttpRequest r = proto;
    const uint64_t before = g_allocations.load(std::memory_order_relaxed);
    HttpResponse resp = api.Handle(r);
    allocs += g_allocations.load(std::memory_order_relaxed) - before;
    if (resp.status != 200) {
      std::cerr << "non-200 answer: " << resp.body << "\n";
      return 1;
    }
  }
  std::printf("%s: %ld requests, %.1f heap allocations per request\n",
              route.c_str(), n, static_cast<double>(allocs) / n);
  return 0;
}

}  // namespace
}  // namespace portcullis::server

int main(int argc, char** argv) {
  if (argc == 4 && std::strcmp(argv[1], "--loop") == 0) {
    return portcullis::server::Loop(argv[2], std::atol(argv[3]));
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
