// storage_bench: check latency over the LMDB store versus engine::MemoryData
// on the same generated data (bench/datagen_lib.h, policies/workspace.yaml),
// import throughput, bytes on disk per binding, resident memory after
// opening, and time from open to the first check.
//
//   storage_bench [--benchmark_filter=...]
//   PORTCULLIS_BENCH_SCALE=small|medium|large storage_bench  (default small)
//   PORTCULLIS_BENCH_MEMORY=0 storage_bench   (LMDB only: no MemoryData copy)
//   PORTCULLIS_BENCH_STORE=DIR storage_bench  (DIR already holds this
//       scale's data set, as bench/run_bench.sh imports it: open, not import)
//
// The data set is generated into a temporary folder as JSON Lines, imported
// through storage::ImportJsonlFile (the path `portcullis import` takes) and,
// record by record, loaded into a MemoryData. Latency/<mix>/<data> times
// every check on its own (steady_clock, the timer's own cost measured and
// subtracted) and reports p50, p99 and p99.9 in ns per check; over LMDB each
// check opens and releases its read view, as a server request does. The
// mixes are the generator's sampled requests (DatagenRefs):
//   hit        a member views a file of their group
//   miss       a user views a file of a group they are not in (full walk)
//   deep       a member views a file 6-8 folders below the group
//   override   a raise or a restriction on the file decides
//   condition  a content creator deletes a file: the owner condition runs
//   hot        the first 16 hits over and over: what the others cost when
//              the data they touch is in the CPU caches (the other mixes
//              cycle through 4,096 requests spread over the whole data set)
//   zipf       4,096 requests drawn from the five mixes above (shuffled
//              with a fixed seed), the k-th with probability proportional
//              to 1/k (Zipf, s = 1): popular subjects and resources
// Each mix runs over three data sources: memory (engine::MemoryData), lmdb
// (a ReadView per check) and index (a ReadView and an index::IndexView per
// check, over a DecisionIndex built from the store: the daemon's read path).
// Batch/cold/<source> evaluates batches of 100 requests of the five mixes
// (shuffled) per read view, as POST /v1/check/batch does, on one thread,
// each check preceded by the prefetch hints of those ahead
// (engine::PrefetchAhead; Batch/cold/index/no_prefetch without them):
// items_per_second is decisions per second on one core.
// After the runs, a table gives each benchmark's p50 and mean as a ratio of
// Latency/hit/memory, measured in the same run.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <thread>

#include "bench/datagen_lib.h"
#include "engine/evaluator.h"
#include "engine/lookup.h"
#include "engine/memory_data.h"
#include "index/decision_index.h"
#include "index/index_view.h"
#include "policies/policy_compiler.h"
#include "storage/jsonl.h"
#include "storage/store.h"

namespace portcullis::bench {
namespace {

using engine::EntityRef;

std::shared_ptr<const engine::Policy> WorkspacePolicy() {
  auto p = policies::CompilePolicyFile(PORTCULLIS_SOURCE_DIR
                                       "/policies/workspace.yaml");
  if (!p) {
    std::fprintf(stderr, "storage_bench: the workspace policy does not compile\n");
    std::abort();
  }
  return *p;
}

long RssKiB() {
  std::ifstream statm("/proc/self/statm");
  long size = 0, resident = 0;
  statm >> size >> resident;
  return resident * (::sysconf(_SC_PAGESIZE) / 1024);
}

struct Fixture {
  std::shared_ptr<const engine::Policy> policy = WorkspacePolicy();
  std::string scale = "small";
  std::string dir;
  uint64_t records = 0;
  uint64_t bindings = 0;
  uint64_t resources = 0;
  uint64_t users = 0;
  std::unique_ptr<storage::Store> store;
  bool with_memory = true;
  engine::MemoryData memory;
  long memory_rss_KiB = 0;  // RSS growth while loading MemoryData
  DatagenRefs refs;
  std::string store_dir;      // the LMDB folder measured
  double import_seconds = 0;  // 0: the store was given, not imported
  std::unique_ptr<index::DecisionIndex> index;  // built on first use
  long index_rss_KiB = 0;     // RSS growth while building it
};

enum class Source { kMemory, kLmdb, kIndex };

// The fixture's decision index, following the store as the daemon's does
// (so writes reach it), built on first use.
index::DecisionIndex& IndexOf(Fixture& f) {
  if (!f.index) {
    const long rss_before = RssKiB();
    f.index = std::make_unique<index::DecisionIndex>();
    f.index->Follow(f.store.get());
    if (!f.index->WaitUntilBuilt()) {
      std::fprintf(stderr, "storage_bench: index: %s\n",
                   f.index->stats().failure.c_str());
      std::abort();
    }
    f.index_rss_KiB = RssKiB() - rss_before;
  }
  return *f.index;
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
    if (scale != nullptr && ScaleOptions(scale)) f->scale = scale;
    const char* memory = std::getenv("PORTCULLIS_BENCH_MEMORY");
    f->with_memory = memory == nullptr || std::string(memory) != "0";
    const DatagenOptions opts = *ScaleOptions(f->scale);
    f->dir = std::filesystem::temp_directory_path() /
             ("portcullis_bench_" + std::to_string(::getpid()));
    std::filesystem::remove_all(f->dir);
    std::filesystem::create_directories(f->dir);
    const char* given = std::getenv("PORTCULLIS_BENCH_STORE");
    f->store_dir = given != nullptr && *given ? given : f->dir + "/store";
    const bool import = given == nullptr || !*given;
    const std::string jsonl = f->dir + "/data.jsonl";
    {
      std::ofstream out;
      if (import) out.open(jsonl, std::ios::binary);
      const long rss_before = RssKiB();
      Generate(
          opts,
          [&](const storage::JsonlRecord& r) {
            if (import) out << storage::FormatJsonlRecord(r) << '\n';
            ++f->records;
            if (std::holds_alternative<storage::BindingRecord>(r)) ++f->bindings;
            if (std::holds_alternative<storage::ResourceRecord>(r)) ++f->resources;
            if (std::holds_alternative<storage::SubjectRecord>(r)) ++f->users;
            if (f->with_memory) LoadIntoMemory(f->memory, r);
          },
          &f->refs);
      f->memory_rss_KiB = RssKiB() - rss_before;
      if (!out) {
        std::fprintf(stderr, "storage_bench: cannot write %s\n", jsonl.c_str());
        std::abort();
      }
    }
    std::fprintf(stderr,
                 "storage_bench: %s: %llu records (%llu resources, %llu "
                 "users, %llu bindings); %s %s\n",
                 f->scale.c_str(), static_cast<unsigned long long>(f->records),
                 static_cast<unsigned long long>(f->resources),
                 static_cast<unsigned long long>(f->users),
                 static_cast<unsigned long long>(f->bindings),
                 import ? "importing into" : "opening", f->store_dir.c_str());
    storage::StoreOptions so;
    so.must_exist = !import;
    auto store = storage::Store::Open(f->store_dir, so);
    if (!store) {
      std::fprintf(stderr, "storage_bench: %s\n",
                   store.error().ToString().c_str());
      std::exit(1);
    }
    if (!import) {
      f->store = std::move(*store);
      return f;
    }
    storage::ImportOptions io;
    io.policy = f->policy.get();
    io.progress = ::isatty(STDERR_FILENO) != 0;
    const auto start = std::chrono::steady_clock::now();
    auto st = storage::ImportJsonlFile(**store, jsonl, io);
    f->import_seconds = std::chrono::duration<double>(
                            std::chrono::steady_clock::now() - start)
                            .count();
    if (!st) {
      std::fprintf(stderr, "import failed: %s\n",
                   st.error().ToString().c_str());
      std::abort();
    }
    std::filesystem::remove(jsonl);
    f->store = std::move(*store);
    return f;
  }();
  return *f;
}

// The requests of one mix. The strings the requests view live in the
// fixture's refs, or (zipf, cold) in copies kept for the whole run.
std::vector<engine::CheckRequest> MixRequests(Fixture& f,
                                              const std::string& mix) {
  static std::map<std::string, std::vector<DatagenRequest>> kept;
  const std::map<std::string, const std::vector<DatagenRequest>*> mixes = {
      {"hit", &f.refs.hit},
      {"miss", &f.refs.miss},
      {"deep", &f.refs.deep},
      {"override", &f.refs.override_},
      {"condition", &f.refs.condition},
      {"hot", &f.refs.hit}};
  std::vector<DatagenRequest> drawn;
  if (mix == "zipf" || mix == "cold") {
    for (const auto* list : {&f.refs.hit, &f.refs.miss, &f.refs.deep,
                             &f.refs.override_, &f.refs.condition}) {
      drawn.insert(drawn.end(), list->begin(), list->end());
    }
    std::mt19937 rng(42);
    std::shuffle(drawn.begin(), drawn.end(), rng);
    if (mix == "zipf" && !drawn.empty()) {
      std::vector<double> weights(drawn.size());
      for (size_t k = 0; k < weights.size(); ++k) weights[k] = 1.0 / (k + 1);
      std::discrete_distribution<size_t> zipf(weights.begin(), weights.end());
      std::vector<DatagenRequest> sample;
      for (size_t k = 0; k < DatagenRefs::kRefsPerKind; ++k) {
        sample.push_back(drawn[zipf(rng)]);
      }
      drawn = std::move(sample);
    }
  } else {
    drawn = *mixes.at(mix);
  }
  std::vector<DatagenRequest>& held = kept[mix];
  held = std::move(drawn);
  std::vector<engine::CheckRequest> out;
  for (const auto& r : held) {
    if (mix == "hot" && out.size() == 16) break;
    engine::CheckRequest req;
    req.subject = *engine::ParseEntityRef(r.subject);
    req.resource = *engine::ParseEntityRef(r.resource);
    req.action = r.action;
    req.now = 1'800'000'000'000'000;
    out.push_back(req);
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

// Writes at a steady rate while checks are timed: `per_second` changes in
// transactions of kPerTxn, each change one of: create a file under the
// folder of a mix request's file, bind or unbind a mix subject on one of
// those files, move one to another such folder, delete one. Every change is
// a real write through Store::Write (LMDB commit, change set, the index's
// ApplyChange).
class SteadyWriter {
 public:
  static constexpr int kPerTxn = 100;

  SteadyWriter(Fixture& f, const std::vector<engine::CheckRequest>& reqs,
               int per_second)
      : f_(f), per_second_(per_second) {
    auto view = f.store->Read();
    for (const engine::CheckRequest& r : reqs) {
      if (r.resource.type != "file") continue;
      if (auto info = view->GetResource(r.resource); info && !info->parent.empty()) {
        folders_.push_back(info->parent.ToString());
      }
      users_.push_back(r.subject.ToString());
      if (folders_.size() >= 512) break;
    }
    const engine::TypeId file = f.policy->FindType("file");
    for (const engine::RoleDef& role : f.policy->roles) {
      if (role.bindable_on.Contains(file)) {
        role_ = role.name;
        break;
      }
    }
    if (!folders_.empty() && !role_.empty()) {
      thread_ = std::thread([this] { Run(); });
    }
  }
  ~SteadyWriter() { Stop(); }
  void Stop() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
  }
  bool running() const { return !folders_.empty() && !role_.empty(); }
  uint64_t changes() const { return changes_; }
  uint64_t failed() const { return failed_; }
  double seconds() const { return seconds_; }

 private:
  void Run() {
    std::mt19937 rng(7);
    std::vector<std::string> mine;  // files this writer created, alive
    uint64_t next_id = 0;
    const auto start = std::chrono::steady_clock::now();
    const auto period = std::chrono::nanoseconds(
        1'000'000'000LL * kPerTxn / std::max(1, per_second_));
    auto due = start;
    while (!stop_.load()) {
      due += period;
      std::this_thread::sleep_until(due);
      auto pick = [&](const std::vector<std::string>& v) -> const std::string& {
        return v[rng() % v.size()];
      };
      uint64_t made = 0, refused = 0;
      auto result = f_.store->Write(f_.policy.get(), "", [&](storage::WriteTxn& w) {
        for (int k = 0; k < kPerTxn; ++k) {
          const int op = mine.size() < 64 ? 0 : static_cast<int>(rng() % 5);
          Status s;
          if (op == 0) {
            const std::string id = "steady" + std::to_string(next_id++);
            s = w.PutResource({"file", id, pick(folders_), {}});
            if (s.ok()) mine.push_back("file:" + id);
          } else {
            const size_t at = rng() % mine.size();
            const engine::EntityRef file = *engine::ParseEntityRef(mine[at]);
            if (op == 1 || op == 2) {
              storage::BindingRecord b;
              b.subject = pick(users_);
              b.resource = mine[at];
              if (op == 1) b.roles = {role_};  // op 2: unbind
              s = w.SetBinding(b);
            } else if (op == 3) {
              s = w.MoveResource(file, *engine::ParseEntityRef(pick(folders_)));
            } else {
              s = w.DeleteResource(file);
              if (s.ok()) {
                mine[at] = mine.back();
                mine.pop_back();
              }
            }
          }
          if (s.ok()) ++made;
          else ++refused;
        }
        return Status::Ok();
      });
      if (result) {
        changes_ += made;
        failed_ += refused;
      } else {
        failed_ += kPerTxn;
      }
    }
    seconds_ = std::chrono::duration<double>(
                   std::chrono::steady_clock::now() - start)
                   .count();
  }

  Fixture& f_;
  const int per_second_;
  std::vector<std::string> folders_, users_;
  std::string role_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> changes_{0}, failed_{0};  // committed, refused
  double seconds_ = 0;
  std::thread thread_;
};

// Times each check (and, over LMDB, its read view) on its own; with
// `writes_per_second`, while a SteadyWriter writes.
void RunLatency(benchmark::State& state, const std::string& name,
                const std::string& mix, Source source,
                int writes_per_second = 0) {
  Fixture& f = Get();
  engine::Evaluator eval(*f.policy);
  const bool lmdb = source == Source::kLmdb;
  index::DecisionIndex* idx =
      source == Source::kIndex ? &IndexOf(f) : nullptr;
  if (source == Source::kMemory && !f.with_memory) {
    state.SkipWithError("PORTCULLIS_BENCH_MEMORY=0: no in-memory copy");
    return;
  }
  const auto reqs = MixRequests(f, mix);
  if (reqs.empty()) {
    state.SkipWithError("the data set has no requests of this mix");
    return;
  }
  const int64_t overhead = TimerOverheadNs();
  std::vector<int64_t> samples;
  samples.reserve(1 << 20);
  std::unique_ptr<SteadyWriter> writer;
  if (writes_per_second > 0) {
    writer = std::make_unique<SteadyWriter>(f, reqs, writes_per_second);
    if (!writer->running()) {
      state.SkipWithError("no files or no role bindable on a file to write");
      return;
    }
  }
  size_t i = 0, allowed = 0;
  for (auto _ : state) {
    const engine::CheckRequest& req = reqs[i++ % reqs.size()];
    const auto start = std::chrono::steady_clock::now();
    bool ok;
    if (lmdb) {
      auto view = f.store->Read();
      ok = eval.Check(req, *view).allowed;
    } else if (idx != nullptr) {
      auto view = f.store->Read();
      const index::IndexView data(idx, &*view);
      ok = eval.Check(req, data).allowed;
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
  if (writer) {
    writer->Stop();
    state.counters["writes_per_s"] =
        writer->changes() / std::max(1e-9, writer->seconds());
    state.counters["writes_failed"] = static_cast<double>(writer->failed());
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

// Opening the imported store and answering the first check: no load phase.
void BM_OpenToFirstCheck(benchmark::State& state) {
  Fixture& f = Get();
  engine::Evaluator eval(*f.policy);
  const auto reqs = MixRequests(f, "hit");
  if (reqs.empty()) {
    state.SkipWithError("the data set has no requests");
    return;
  }
  for (auto _ : state) {
    const long rss_before = RssKiB();
    const auto start = std::chrono::steady_clock::now();
    auto store = storage::Store::Open(f.store_dir);
    auto view = (*store)->Read();
    benchmark::DoNotOptimize(eval.Check(reqs[0], *view).allowed);
    state.counters["open_to_first_check_us"] =
        std::chrono::duration<double, std::micro>(
            std::chrono::steady_clock::now() - start)
            .count();
    state.counters["rss_growth_KiB"] =
        static_cast<double>(RssKiB() - rss_before);
    { storage::ReadView done = std::move(*view); }
  }
  auto stats = f.store->GetStats();
  state.counters["bytes_per_binding"] =
      static_cast<double>(stats->used_bytes) / std::max<uint64_t>(1, f.bindings);
  state.counters["store_MiB"] = stats->used_bytes / 1048576.0;
  state.counters["records"] = static_cast<double>(f.records);
  state.counters["resources"] = static_cast<double>(f.resources);
  state.counters["bindings"] = static_cast<double>(f.bindings);
  if (f.import_seconds > 0) {
    state.counters["import_records_per_s"] = f.records / f.import_seconds;
  }
  state.counters["memory_data_MiB"] = f.memory_rss_KiB / 1024.0;
}
BENCHMARK(BM_OpenToFirstCheck)->Unit(benchmark::kMicrosecond)->Iterations(1);

// "Which files may X view": one page of up to 10,000, complete, over LMDB
// (one read view per request, as the server does) or through the decision
// index (the daemon's read path: the index streams the page in order).
// lookup_large asks for a member of the largest group, lookup_small for a
// member of one small group; "/later" asks for the page after the first.
void BM_Lookup(benchmark::State& state, const std::string& kind,
               Source source, bool later) {
  Fixture& f = Get();
  engine::Evaluator eval(*f.policy);
  index::DecisionIndex* idx =
      source == Source::kIndex ? &IndexOf(f) : nullptr;
  const auto& refs =
      kind == "large" ? f.refs.lookup_large : f.refs.lookup_small;
  if (refs.empty()) {
    state.SkipWithError("the data set has no lookups of this kind");
    return;
  }
  auto request = [&](const DatagenRequest& r) {
    engine::LookupResourcesRequest req;
    req.subject = *engine::ParseEntityRef(r.subject);
    req.action = r.action;
    req.type = r.resource;
    req.limit = engine::kMaxPageSize;
    req.now = 1'800'000'000'000'000;
    return req;
  };
  // "/later" cycles through the first 64 requests with more than one page,
  // each asking for its second page.
  std::vector<DatagenRequest> asked(refs.begin(), refs.end());
  std::vector<std::string> tokens(refs.size());
  if (later) {
    asked.clear();
    tokens.clear();
    for (size_t i = 0; i < refs.size() && asked.size() < 64; ++i) {
      auto view = f.store->Read();
      const index::IndexView data(idx, &*view);
      auto page = engine::LookupResources(eval, data, request(refs[i]));
      if (page && !page->next_page_token.empty()) {
        asked.push_back(refs[i]);
        tokens.push_back(page->next_page_token);
      }
    }
    if (asked.empty()) {
      state.SkipWithError("no lookup of this kind has a second page");
      return;
    }
  }
  size_t i = 0, found = 0;
  for (auto _ : state) {
    const size_t k = i++ % asked.size();
    engine::LookupResourcesRequest req = request(asked[k]);
    req.page_token = tokens[k];
    auto view = f.store->Read();
    const index::IndexView data(idx, &*view);
    auto page = engine::LookupResources(eval, data, req);
    if (!page) {
      state.SkipWithError(page.error().ToString().c_str());
      return;
    }
    found += page->refs.size();
  }
  state.counters["results_per_lookup"] =
      static_cast<double>(found) / state.iterations();
}

// Batches of 100 requests of the cold mix, one read view per batch, on one
// thread: decisions per second on one core.
void BM_Batch(benchmark::State& state, Source source, bool prefetch) {
  Fixture& f = Get();
  engine::Evaluator eval(*f.policy);
  index::DecisionIndex* idx =
      source == Source::kIndex ? &IndexOf(f) : nullptr;
  const auto reqs = MixRequests(f, "cold");
  if (reqs.empty()) {
    state.SkipWithError("the data set has no requests");
    return;
  }
  constexpr size_t kBatch = 100;
  size_t i = 0, allowed = 0;
  for (auto _ : state) {
    auto view = f.store->Read();
    const index::IndexView data(idx, &*view);
    const size_t first = i;
    for (size_t k = 0; k < kBatch; ++k) {
      if (prefetch) {
        engine::PrefetchAhead(data, k, kBatch, [&](size_t ahead) {
          const engine::CheckRequest& r = reqs[(first + ahead) % reqs.size()];
          return std::pair(r.subject, r.resource);
        });
      }
      allowed += eval.Check(reqs[i++ % reqs.size()], data).allowed;
    }
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
  state.counters["allowed_ratio"] =
      static_cast<double>(allowed) / (state.iterations() * kBatch);
  if (idx != nullptr) {
    const index::DecisionIndex::Stats st = idx->stats();
    state.counters["index_build_s"] = st.build_seconds;
    state.counters["index_MiB"] = st.bytes / 1048576.0;
    state.counters["index_rss_MiB"] = f.index_rss_KiB / 1024.0;
    state.counters["index_bytes_per_resource"] =
        static_cast<double>(st.bytes) / std::max<uint64_t>(1, st.resources);
  }
}

void RegisterLatency() {
  for (const char* kind : {"small", "large"}) {
    for (const char* variant : {"/lmdb", "/index", "/index/later"}) {
      const Source src = variant[1] == 'l' ? Source::kLmdb : Source::kIndex;
      const bool later = std::string_view(variant).ends_with("later");
      benchmark::RegisterBenchmark(
          (std::string("Lookup/") + kind + variant).c_str(),
          [k = std::string(kind), src, later](benchmark::State& st) {
            BM_Lookup(st, k, src, later);
          })
          ->Unit(benchmark::kMillisecond);
    }
  }
  const std::pair<const char*, Source> sources[] = {
      {"/memory", Source::kMemory},
      {"/lmdb", Source::kLmdb},
      {"/index", Source::kIndex}};
  for (const char* mix :
       {"hit", "miss", "deep", "override", "condition", "hot", "zipf"}) {
    for (const auto& [suffix, source] : sources) {
      const std::string name = std::string("Latency/") + mix + suffix;
      benchmark::RegisterBenchmark(
          name.c_str(),
          [name, m = std::string(mix), src = source](benchmark::State& st) {
            RunLatency(st, name, m, src);
          });
    }
  }
  // The cold mix read-only, then while 5,000 changes a second are written
  // (bindings, unbindings, moves, creates and deletes, 100 per transaction).
  for (const int writes : {0, 5000}) {
    const std::string name =
        std::string("Latency/cold/index") + (writes ? "/writes5000" : "");
    benchmark::RegisterBenchmark(
        name.c_str(), [name, writes](benchmark::State& st) {
          RunLatency(st, name, "cold", Source::kIndex, writes);
        });
  }
  for (const auto& [suffix, source] : sources) {
    if (source == Source::kMemory) continue;
    benchmark::RegisterBenchmark(
        (std::string("Batch/cold") + suffix).c_str(),
        [src = source](benchmark::State& st) { BM_Batch(st, src, true); });
    if (source == Source::kIndex) {
      // The same without the prefetch hints: what they bring.
      benchmark::RegisterBenchmark(
          "Batch/cold/index/no_prefetch",
          [](benchmark::State& st) { BM_Batch(st, Source::kIndex, false); });
    }
  }
}

void PrintLatencyTable() {
  const auto& all = Summaries();
  auto base = all.find("Latency/hit/memory");
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
  std::printf("(p50 x: ratio to Latency/hit/memory in this run)\n");
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
  Get().index.reset();  // it follows the store: stop it first
  Get().store.reset();
  std::filesystem::remove_all(Get().dir);  // never a given store
  return 0;
}
