// loadgen: drives an HTTP/1.1 server over keep-alive connections with a
// weighted mix of request templates and reports latency percentiles and
// throughput as JSON.
//
//   loadgen --target HOST:PORT --mix FILE [--connections N] [--threads N]
//           [--duration S] [--warmup S] [--rate RPS] [--token T]
//           [--token-file F] [--cpus 2,3] [--timeout S] [--label L]
//           [--out FILE]
//
// Closed loop (no --rate): each connection sends its next request as soon as
// the previous answer has arrived; the throughput is the server's maximum
// at that concurrency.
//
// Open loop (--rate R): requests are placed on a fixed timeline, R per second
// spread evenly over the connections (connection c of C sends its k-th
// request at start + (c + k*C)/R). Latency is measured from the SCHEDULED
// send time, not from the moment the request actually left: when the server
// stalls, the requests that should have been sent meanwhile are charged the
// time they waited behind the stall. This avoids the "coordinated omission"
// that Gil Tene describes for load generators that wait for an answer
// before sending the next request. Requests scheduled before the end that
// could never be sent are reported as `unsent`, with the time they had
// waited recorded as a lower bound.
//
// Every answer's status is checked: a non-2xx answer or a transport failure
// counts as an error (by kind: "404", "transport", "timeout") and is left out
// of the latency histograms. Only requests scheduled inside the measured
// window (after the warm-up) are counted.
//
// Each load thread runs its own io_context with its share of the connections
// and is pinned to one CPU of --cpus (round robin) with
// pthread_setaffinity_np, so the load does not compete with the server's
// threads when the machine has cores to spare.
//
// Exit status: 0 when at least one answer was a success (warm-up included:
// an overloaded open-loop run may have no success inside its window), 3
// when none was (the document is still written), 2 on bad arguments.
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/loadgen_core.h"

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace portcullis::bench {
namespace {

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

struct Options {
  std::string host;
  std::string port;
  std::string mix_file;
  std::string token;
  int connections = 8;
  int threads = 1;
  double duration_s = 5;
  double warmup_s = 1;
  double rate = 0;  // 0: closed loop
  double timeout_s = 10;
  std::vector<int> cpus;
  std::string label;
  std::string out;
};

// What every connection reads and nobody writes once the run has started.
struct Plan {
  tcp::endpoint endpoint;
  std::vector<std::string> raw;  // the bytes of each template's request
  std::vector<uint32_t> decisions;
  std::vector<size_t> name_of_template;
  WeightedPicker picker;
  bool open_loop = false;
  double rate = 0;
  int connections = 0;
  int64_t start_ns = 0;    // the timeline's origin (warm-up starts here)
  int64_t measure_ns = 0;  // warm-up ends, measurement starts
  int64_t end_ns = 0;      // measurement ends
  std::chrono::nanoseconds timeout{0};
};

// One keep-alive connection. Lives on one io_context (one thread); its
// operations are strictly sequential (connect, write, read, write, ...), so
// it needs no lock. Writes only to its worker's statistics.
class Connection {
 public:
  Connection(asio::io_context& ioc, const Plan& plan, int index,
             std::vector<TemplateStats>& stats, uint64_t& connect_failures,
             uint64_t& answers)
      : plan_(plan),
        index_(index),
        stats_(stats),
        connect_failures_(connect_failures),
        answers_(answers),
        stream_(ioc),
        timer_(ioc),
        rng_(0x5EED0000ULL + static_cast<uint64_t>(index)) {}

  void Start() { Connect(); }

 private:
  bool Measured(int64_t sched) const {
    return sched >= plan_.measure_ns && sched < plan_.end_ns;
  }

  int64_t SlotTime(uint64_t k) const {
    const double offset =
        (static_cast<double>(index_) +
         static_cast<double>(k) * static_cast<double>(plan_.connections)) *
        1e9 / plan_.rate;
    return plan_.start_ns + static_cast<int64_t>(offset);
  }

  void Connect() {
    if (NowNs() >= plan_.end_ns) {
      Finish();
      return;
    }
    buffer_.clear();
    stream_.expires_after(plan_.timeout);
    stream_.async_connect(plan_.endpoint, [this](beast::error_code ec) {
      if (ec) {
        ++connect_failures_;
        stream_.close();
        RetryLater();
        return;
      }
      beast::error_code ignored;
      stream_.socket().set_option(tcp::no_delay(true), ignored);
      Next();
    });
  }

  void RetryLater() {
    timer_.expires_after(std::chrono::milliseconds(10));
    timer_.async_wait([this](beast::error_code) { Connect(); });
  }

  void Next() {
    const int64_t now = NowNs();
    if (!plan_.open_loop) {
      if (now >= plan_.end_ns) {
        Finish();
        return;
      }
      sched_ = now;
      Send();
      return;
    }
    sched_ = SlotTime(slot_++);
    if (sched_ >= plan_.end_ns || now >= plan_.end_ns) {
      --slot_;
      Finish();
      return;
    }
    if (now < sched_) {
      timer_.expires_at(std::chrono::steady_clock::time_point(
          std::chrono::nanoseconds(sched_)));
      timer_.async_wait([this](beast::error_code) { Send(); });
      return;
    }
    Send();
  }

  void Send() {
    current_ = plan_.picker.Pick(SplitMix64(rng_));
    sent_ = NowNs();
    stream_.expires_after(plan_.timeout);
    asio::async_write(stream_, asio::buffer(plan_.raw[current_]),
                      [this](beast::error_code ec, std::size_t) {
                        if (ec) {
                          Fail(ec);
                          return;
                        }
                        Receive();
                      });
  }

  void Receive() {
    parser_.emplace();
    parser_->body_limit(256 * 1024 * 1024);
    stream_.expires_after(plan_.timeout);
    http::async_read(stream_, buffer_, *parser_,
                     [this](beast::error_code ec, std::size_t) {
                       if (ec) {
                         Fail(ec);
                         return;
                       }
                       OnAnswer();
                     });
  }

  void OnAnswer() {
    const int64_t done = NowNs();
    const auto& res = parser_->get();
    const unsigned status = res.result_int();
    if (status >= 200 && status < 300) ++answers_;
    if (Measured(sched_)) {
      TemplateStats& s = stats_[plan_.name_of_template[current_]];
      if (status >= 200 && status < 300) {
        ++s.ok;
        s.decisions += plan_.decisions[current_];
        s.latency.Record(static_cast<uint64_t>(done - sched_));
        s.service.Record(static_cast<uint64_t>(done - sent_));
      } else {
        ++s.errors;
        ++s.errors_by_kind[std::to_string(status)];
      }
    }
    if (!res.keep_alive()) {
      beast::error_code ignored;
      stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
      stream_.close();
      Connect();
      return;
    }
    Next();
  }

  void Fail(beast::error_code ec) {
    if (Measured(sched_)) {
      TemplateStats& s = stats_[plan_.name_of_template[current_]];
      ++s.errors;
      ++s.errors_by_kind[ec == beast::error::timeout ? "timeout"
                                                     : "transport"];
    }
    stream_.close();
    RetryLater();
  }

  // No more requests. In open loop, the slots scheduled before the end that
  // were never sent are charged the time they had waited.
  void Finish() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
    if (!plan_.open_loop) return;
    const int64_t now = NowNs();
    for (;; ++slot_) {
      const int64_t sched = SlotTime(slot_);
      if (sched >= plan_.end_ns) break;
      if (!Measured(sched)) continue;
      const size_t t = plan_.picker.Pick(SplitMix64(rng_));
      TemplateStats& s = stats_[plan_.name_of_template[t]];
      ++s.unsent;
      s.latency.Record(static_cast<uint64_t>(std::max<int64_t>(0, now - sched)));
    }
  }

  const Plan& plan_;
  const int index_;
  std::vector<TemplateStats>& stats_;
  uint64_t& connect_failures_;
  uint64_t& answers_;  // 2xx answers at any time, warm-up included
  beast::tcp_stream stream_;
  asio::steady_timer timer_;
  beast::flat_buffer buffer_;
  std::optional<http::response_parser<http::string_body>> parser_;
  uint64_t rng_;
  uint64_t slot_ = 0;   // open loop: the next slot of this connection
  size_t current_ = 0;  // template of the request in flight
  int64_t sched_ = 0;   // when the request in flight was due
  int64_t sent_ = 0;    // when it was actually written
};

// One load thread: an io_context, its connections and its statistics.
struct Worker {
  asio::io_context ioc{1};
  std::vector<std::unique_ptr<Connection>> connections;
  std::vector<TemplateStats> stats;
  uint64_t connect_failures = 0;
  uint64_t answers = 0;
  int cpu = -1;
};

[[noreturn]] void Usage(const std::string& error) {
  std::cerr
      << "loadgen: " << error << "\n"
      << "usage: loadgen --target HOST:PORT --mix FILE [--connections N]\n"
         "         [--threads N] [--duration S] [--warmup S] [--rate RPS]\n"
         "         [--token T | --token-file F] [--cpus 2,3] [--timeout S]\n"
         "         [--label L] [--out FILE]\n";
  std::exit(2);
}

double ParseNumber(const std::string& flag, const std::string& text,
                   double min, double max) {
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || !(v >= min) || !(v <= max)) {
    Usage(flag + " must be a number in [" + std::to_string(min) + ", " +
          std::to_string(max) + "], got \"" + text + "\"");
  }
  return v;
}

Options ParseOptions(int argc, char** argv) {
  Options o;
  std::string target;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") Usage("drives an HTTP server");
    if (i + 1 >= argc) Usage(flag + " needs a value (or is unknown)");
    const std::string v = argv[++i];
    if (flag == "--target") {
      target = v;
    } else if (flag == "--mix") {
      o.mix_file = v;
    } else if (flag == "--connections") {
      o.connections = static_cast<int>(ParseNumber(flag, v, 1, 10000));
    } else if (flag == "--threads") {
      o.threads = static_cast<int>(ParseNumber(flag, v, 1, 256));
    } else if (flag == "--duration") {
      o.duration_s = ParseNumber(flag, v, 0.01, 86400);
    } else if (flag == "--warmup") {
      o.warmup_s = ParseNumber(flag, v, 0, 86400);
    } else if (flag == "--rate") {
      o.rate = ParseNumber(flag, v, 0, 1e9);
    } else if (flag == "--timeout") {
      o.timeout_s = ParseNumber(flag, v, 0.001, 3600);
    } else if (flag == "--token") {
      o.token = v;
    } else if (flag == "--token-file") {
      std::ifstream in(v);
      if (!in || !std::getline(in, o.token)) {
        Usage("cannot read a token from " + v);
      }
    } else if (flag == "--cpus") {
      std::stringstream ss(v);
      std::string item;
      while (std::getline(ss, item, ',')) {
        if (!item.empty()) {
          o.cpus.push_back(static_cast<int>(ParseNumber(flag, item, 0, 4095)));
        }
      }
    } else if (flag == "--label") {
      o.label = v;
    } else if (flag == "--out") {
      o.out = v;
    } else {
      Usage("unknown flag " + flag);
    }
  }
  if (target.empty()) Usage("--target is required");
  if (o.mix_file.empty()) Usage("--mix is required");
  const auto colon = target.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == target.size()) {
    Usage("--target must be HOST:PORT, got \"" + target + "\"");
  }
  o.host = target.substr(0, colon);
  o.port = target.substr(colon + 1);
  if (o.threads > o.connections) o.threads = o.connections;
  if (o.label.empty()) o.label = o.mix_file;
  return o;
}

void PinCurrentThread(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  const int rc = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
  if (rc != 0) {
    std::cerr << "loadgen: cannot pin a thread to CPU " << cpu
              << " (error " << rc << "); running unpinned\n";
  }
}

int Run(const Options& o) {
  auto mix = ReadMixFile(o.mix_file);
  if (!mix) {
    std::cerr << "loadgen: " << mix.error().message() << "\n";
    return 2;
  }
  asio::io_context resolver_ioc;
  tcp::resolver resolver(resolver_ioc);
  beast::error_code ec;
  auto results = resolver.resolve(o.host, o.port, ec);
  if (ec || results.empty()) {
    std::cerr << "loadgen: cannot resolve " << o.host << ":" << o.port
              << ": " << ec.message() << "\n";
    return 2;
  }

  const NameIndex names = IndexNames(*mix);
  Plan plan;
  plan.endpoint = results.begin()->endpoint();
  plan.picker = WeightedPicker(*mix);
  const std::string host_header = o.host + ":" + o.port;
  for (const auto& t : *mix) {
    plan.raw.push_back(BuildRawRequest(t, host_header, o.token));
    plan.decisions.push_back(t.decisions);
  }
  plan.name_of_template = names.name_of_template;
  plan.open_loop = o.rate > 0;
  plan.rate = o.rate;
  plan.connections = o.connections;
  plan.timeout = std::chrono::nanoseconds(
      static_cast<int64_t>(o.timeout_s * 1e9));

  std::vector<std::unique_ptr<Worker>> workers;
  for (int i = 0; i < o.threads; ++i) {
    auto w = std::make_unique<Worker>();
    w->stats.resize(names.names.size());
    if (!o.cpus.empty()) w->cpu = o.cpus[i % o.cpus.size()];
    workers.push_back(std::move(w));
  }
  for (int c = 0; c < o.connections; ++c) {
    Worker& w = *workers[c % o.threads];
    w.connections.push_back(std::make_unique<Connection>(
        w.ioc, plan, c, w.stats, w.connect_failures, w.answers));
  }

  // The timeline starts a little after now so that every thread is running.
  plan.start_ns = NowNs() + 20'000'000;
  plan.measure_ns = plan.start_ns + static_cast<int64_t>(o.warmup_s * 1e9);
  plan.end_ns = plan.measure_ns + static_cast<int64_t>(o.duration_s * 1e9);

  std::vector<std::thread> threads;
  for (auto& w : workers) {
    threads.emplace_back([&w = *w] {
      if (w.cpu >= 0) PinCurrentThread(w.cpu);
      for (auto& c : w.connections) c->Start();
      w.ioc.run();
    });
  }
  for (auto& t : threads) t.join();

  std::vector<TemplateStats> per_name(names.names.size());
  RunInfo info;
  uint64_t answers = 0;
  for (const auto& w : workers) {
    answers += w->answers;
    for (size_t i = 0; i < per_name.size(); ++i) per_name[i].Merge(w->stats[i]);
    info.connect_failures += w->connect_failures;
  }
  info.label = o.label;
  info.target = host_header;
  info.mix_file = o.mix_file;
  info.open_loop = plan.open_loop;
  info.offered_rps = o.rate;
  info.connections = o.connections;
  info.threads = o.threads;
  info.cpus = o.cpus;
  info.warmup_s = o.warmup_s;
  info.duration_s = o.duration_s;
  const std::string json = ResultJson(info, names.names, per_name);
  if (o.out.empty()) {
    std::cout << json;
  } else {
    std::ofstream out(o.out, std::ios::binary | std::ios::trunc);
    out << json;
    if (!out) {
      std::cerr << "loadgen: cannot write " << o.out << "\n";
      return 2;
    }
  }

  TemplateStats total;
  for (const auto& s : per_name) total.Merge(s);
  std::fprintf(stderr,
               "loadgen %s: %.0f ok/s, p50 %.1f us, p99 %.1f us, p99.9 %.1f "
               "us, errors %llu, unsent %llu, connect failures %llu\n",
               o.label.c_str(), static_cast<double>(total.ok) / o.duration_s,
               total.latency.ValueAtPercentile(50) / 1e3,
               total.latency.ValueAtPercentile(99) / 1e3,
               total.latency.ValueAtPercentile(99.9) / 1e3,
               static_cast<unsigned long long>(total.errors),
               static_cast<unsigned long long>(total.unsent),
               static_cast<unsigned long long>(info.connect_failures));
  return answers > 0 ? 0 : 3;
}

}  // namespace
}  // namespace portcullis::bench

int main(int argc, char** argv) {
  return portcullis::bench::Run(portcullis::bench::ParseOptions(argc, argv));
}
