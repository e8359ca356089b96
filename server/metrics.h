// Metrics: counters and latency histograms, rendered in the Prometheus text
// format (version 0.0.4).
//
// Thread safety: every method may be called from any thread; counters are
// relaxed atomics, so a scrape sees each value at some recent moment.
#ifndef PORTCULLIS_SERVER_METRICS_H_
#define PORTCULLIS_SERVER_METRICS_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace portcullis::server {

class Metrics {
 public:
  // Upper bounds of the latency buckets, in seconds (+Inf is implicit).
  static constexpr std::array<double, 14> kBuckets = {
      0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
      0.01,    0.025,  0.05,    0.1,    0.25,  1.0,    5.0};

  // `endpoints` names the routes ("/v1/check"); Observe takes an index.
  explicit Metrics(std::vector<std::string> endpoints);

  void ObserveRequest(size_t endpoint, int http_status, double seconds);
  void ObserveDecision(bool allowed) {
    (allowed ? allowed_ : denied_).fetch_add(1, std::memory_order_relaxed);
  }
  void ObserveReload(bool ok) {
    (ok ? reloads_ : reload_failures_).fetch_add(1, std::memory_order_relaxed);
  }
  void ObserveConnection(int delta) {
    connections_.fetch_add(delta, std::memory_order_relaxed);
  }

  // The exposition text. `revision` and `store_bytes` come from the store
  // at scrape time.
  std::string Render(uint64_t revision, uint64_t store_bytes) const;

 private:
  struct Endpoint {
    std::string name;
    std::array<std::atomic<uint64_t>, 5> by_class{};  // 1xx..5xx
    std::array<std::atomic<uint64_t>, kBuckets.size() + 1> buckets{};
    std::atomic<uint64_t> count{0};
    std::atomic<uint64_t> sum_micros{0};
  };
  std::vector<std::unique_ptr<Endpoint>> endpoints_;
  std::atomic<uint64_t> allowed_{0};
  std::atomic<uint64_t> denied_{0};
  std::atomic<uint64_t> reloads_{0};
  std::atomic<uint64_t> reload_failures_{0};
  std::atomic<int64_t> connections_{0};
};

}  // namespace portcullis::server

#endif  // PORTCULLIS_SERVER_METRICS_H_
