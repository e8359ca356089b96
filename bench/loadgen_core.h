// The parts of the load generator that do not touch the network: request
// mixes read from JSON Lines, the raw HTTP/1.1 bytes sent for each template,
// a weighted picker, per-template statistics and the JSON result document.
// Kept apart from loadgen.cc so that they are unit-tested without sockets and
// so that only loadgen.cc pays for compiling Beast.
#ifndef PORTCULLIS_BENCH_LOADGEN_CORE_H_
#define PORTCULLIS_BENCH_LOADGEN_CORE_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "bench/histogram.h"
#include "common/status.h"

namespace portcullis::bench {

// One line of a mix file:
//   {"name":"check_hit","method":"POST","path":"/v1/check",
//    "body":{...} or "...", "weight":3, "decisions":1}
// `body` may be a JSON value (sent as its compact serialization) or a string
// (sent verbatim); absent means no body. `weight` (default 1, > 0) is the
// relative frequency of this template in the mix. `decisions` (default 1) is
// how many authorization decisions one answer carries (100 for a batch of
// 100), used to report decisions per second.
struct RequestTemplate {
  std::string name;
  std::string method;
  std::string path;
  std::string body;
  bool has_body = false;
  double weight = 1.0;
  uint32_t decisions = 1;
};

// Parses a whole mix file's text. Blank lines and lines starting with '#'
// are skipped. Errors name the line (1-based) and the field. An empty mix is
// an error.
Result<std::vector<RequestTemplate>> ParseMix(std::string_view text);
Result<std::vector<RequestTemplate>> ReadMixFile(const std::string& path);

// The complete HTTP/1.1 request for `t` with keep-alive, a Host header, a
// Content-Type of application/json when there is a body, and
// "Authorization: Bearer <token>" when `bearer_token` is not empty.
std::string BuildRawRequest(const RequestTemplate& t, std::string_view host,
                            std::string_view bearer_token);

// Picks a template index with probability proportional to its weight, from
// a uniformly distributed 64-bit random number. Immutable after
// construction; safe to share between threads.
class WeightedPicker {
 public:
  WeightedPicker() = default;  // always picks 0
  explicit WeightedPicker(const std::vector<RequestTemplate>& templates);
  size_t Pick(uint64_t random) const;

 private:
  std::vector<double> cumulative_;  // upper edge of each template, in [0,1]
};

// SplitMix64: a tiny deterministic generator for picking templates.
inline uint64_t SplitMix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// What one template (or the whole run) measured. Not thread-safe: each load
// thread keeps its own and they are merged at the end.
struct TemplateStats {
  // From the scheduled send time to the last byte of the answer (the
  // coordinated-omission-free latency in open loop; equal to service time in
  // closed loop, where the schedule is "as soon as the previous answer").
  LatencyHistogram latency;
  // From the actual send to the last byte of the answer.
  LatencyHistogram service;
  uint64_t ok = 0;         // 2xx answers
  uint64_t errors = 0;     // non-2xx answers and transport failures
  uint64_t unsent = 0;     // open loop: scheduled in the window, never sent
  uint64_t decisions = 0;  // ok answers times the template's decisions
  std::map<std::string, uint64_t> errors_by_kind;  // "404", "transport", ...

  void Merge(const TemplateStats& other);
};

// Templates are reported by name: several templates (say, 200 different
// checks that all hit) may share one name. Returns the distinct names in
// order of first appearance and, for each template, the index of its name.
struct NameIndex {
  std::vector<std::string> names;
  std::vector<size_t> name_of_template;
};
NameIndex IndexNames(const std::vector<RequestTemplate>& templates);

// The settings of a run, echoed in the result document.
struct RunInfo {
  std::string label;
  std::string target;  // host:port
  std::string mix_file;
  bool open_loop = false;
  double offered_rps = 0;  // open loop only
  int connections = 0;
  int threads = 0;
  std::vector<int> cpus;
  double warmup_s = 0;
  double duration_s = 0;
  uint64_t connect_failures = 0;  // failed TCP connects, over the whole run
};

// The result document: the run settings, the totals over all names and one
// entry per name. Latencies are integer nanoseconds; rates are per second of
// the measured window. Histograms hold successful (2xx) answers and, in open
// loop, requests never sent before the end, counted with the time they had
// already waited (a lower bound).
std::string ResultJson(const RunInfo& info,
                       const std::vector<std::string>& names,
                       const std::vector<TemplateStats>& per_name);

}  // namespace portcullis::bench

#endif  // PORTCULLIS_BENCH_LOADGEN_CORE_H_
