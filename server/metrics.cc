#include "server/metrics.h"

#include <cstdio>

namespace portcullis::server {

Metrics::Metrics(std::vector<std::string> endpoints) {
  for (std::string& name : endpoints) {
    auto e = std::make_unique<Endpoint>();
    e->name = std::move(name);
    endpoints_.push_back(std::move(e));
  }
}

void Metrics::ObserveRequest(size_t endpoint, int http_status,
                             double seconds) {
  if (endpoint >= endpoints_.size()) return;
  Endpoint& e = *endpoints_[endpoint];
  const int cls = http_status / 100 - 1;
  if (cls >= 0 && cls < 5) {
    e.by_class[cls].fetch_add(1, std::memory_order_relaxed);
  }
  size_t b = 0;
  while (b < kBuckets.size() && seconds > kBuckets[b]) ++b;
  e.buckets[b].fetch_add(1, std::memory_order_relaxed);
  e.count.fetch_add(1, std::memory_order_relaxed);
  e.sum_micros.fetch_add(static_cast<uint64_t>(seconds * 1e6),
                         std::memory_order_relaxed);
}

std::string Metrics::Render(uint64_t revision, uint64_t store_bytes) const {
  std::string out;
  out.reserve(8192);
  char line[1024];
  out +=
      "# HELP portcullis_http_requests_total HTTP requests by endpoint and "
      "status class.\n# TYPE portcullis_http_requests_total counter\n";
  static const char* kClasses[] = {"1xx", "2xx", "3xx", "4xx", "5xx"};
  for (const auto& e : endpoints_) {
    for (int c = 0; c < 5; ++c) {
      const uint64_t n = e->by_class[c].load(std::memory_order_relaxed);
      if (n == 0 && c != 1) continue;
      snprintf(line, sizeof(line),
               "portcullis_http_requests_total{endpoint=\"%s\",code=\"%s\"} "
               "%llu\n",
               e->name.c_str(), kClasses[c],
               static_cast<unsigned long long>(n));
      out += line;
    }
  }
  out +=
      "# HELP portcullis_http_request_duration_seconds Time from a complete "
      "request to its response.\n"
      "# TYPE portcullis_http_request_duration_seconds histogram\n";
  for (const auto& e : endpoints_) {
    uint64_t cumulative = 0;
    for (size_t b = 0; b <= kBuckets.size(); ++b) {
      cumulative += e->buckets[b].load(std::memory_order_relaxed);
      if (b < kBuckets.size()) {
        snprintf(line, sizeof(line),
                 "portcullis_http_request_duration_seconds_bucket{endpoint="
                 "\"%s\",le=\"%g\"} %llu\n",
                 e->name.c_str(), kBuckets[b],
                 static_cast<unsigned long long>(cumulative));
      } else {
        snprintf(line, sizeof(line),
                 "portcullis_http_request_duration_seconds_bucket{endpoint="
                 "\"%s\",le=\"+Inf\"} %llu\n",
                 e->name.c_str(), static_cast<unsigned long long>(cumulative));
      }
      out += line;
    }
    snprintf(line, sizeof(line),
             "portcullis_http_request_duration_seconds_sum{endpoint=\"%s\"} "
             "%.6f\n"
             "portcullis_http_request_duration_seconds_count{endpoint=\"%s\"} "
             "%llu\n",
             e->name.c_str(),
             e->sum_micros.load(std::memory_order_relaxed) / 1e6,
             e->name.c_str(),
             static_cast<unsigned long long>(
                 e->count.load(std::memory_order_relaxed)));
    out += line;
  }
  snprintf(line, sizeof(line),
           "# HELP portcullis_decisions_total Decisions by outcome.\n"
           "# TYPE portcullis_decisions_total counter\n"
           "portcullis_decisions_total{decision=\"allowed\"} %llu\n"
           "portcullis_decisions_total{decision=\"denied\"} %llu\n",
           static_cast<unsigned long long>(allowed_.load()),
           static_cast<unsigned long long>(denied_.load()));
  out += line;
  snprintf(line, sizeof(line),
           "# HELP portcullis_policy_reloads_total Policy reloads by result.\n"
           "# TYPE portcullis_policy_reloads_total counter\n"
           "portcullis_policy_reloads_total{result=\"ok\"} %llu\n"
           "portcullis_policy_reloads_total{result=\"failed\"} %llu\n",
           static_cast<unsigned long long>(reloads_.load()),
           static_cast<unsigned long long>(reload_failures_.load()));
  out += line;
  snprintf(line, sizeof(line),
           "# HELP portcullis_store_revision The store's latest revision.\n"
           "# TYPE portcullis_store_revision gauge\n"
           "portcullis_store_revision %llu\n"
           "# HELP portcullis_store_bytes Bytes used by the store's data.\n"
           "# TYPE portcullis_store_bytes gauge\n"
           "portcullis_store_bytes %llu\n"
           "# HELP portcullis_open_connections Open HTTP connections.\n"
           "# TYPE portcullis_open_connections gauge\n"
           "portcullis_open_connections %lld\n",
           static_cast<unsigned long long>(revision),
           static_cast<unsigned long long>(store_bytes),
           static_cast<long long>(connections_.load()));
  out += line;
  return out;
}

}  // namespace portcullis::server
