// Test support for the hostile-client tests: a well-behaved client that keeps
// checking in the background and records its latencies, RSS of a process,
// and raw socket helpers.
#ifndef PORTCULLIS_TESTS_HOSTILE_HOSTILE_SUPPORT_H_
#define PORTCULLIS_TESTS_HOSTILE_HOSTILE_SUPPORT_H_

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace portcullis::hostile {

// Resident set size of `pid` in KiB (VmRSS of /proc/PID/status); 0 if gone.
int64_t RssKiB(pid_t pid);

// A socket to 127.0.0.1:port, or -1. Non-blocking when asked.
int ConnectRaw(int port, bool nonblocking = false);

// True once the peer closed (recv returns 0 or an error) within timeout_ms;
// data received meanwhile is discarded.
bool WaitClosedByPeer(int fd, int timeout_ms);

// Runs the portcullis binary with `args` until it exits (killed after
// timeout_ms); returns its exit status (-1 on timeout) and sets *output to
// what it wrote to stdout and stderr.
int RunPortcullis(const std::vector<std::string>& args, int timeout_ms,
                  std::string* output);

// Raises the soft limit of open files to the hard limit; returns the new
// soft limit.
int64_t RaiseFileLimit();

// Checks in a loop on one keep-alive connection (reconnecting if it is
// closed, which counts as an error) and records every latency. `expected`
// is the "allowed" value each answer must carry.
class WellBehavedClient {
 public:
  WellBehavedClient(int port, std::string token, std::string body,
                    bool expected);
  ~WellBehavedClient();
  void Stop();

  struct Stats {
    int64_t answers = 0;
    int64_t errors = 0;       // wrong, failed or missing answers
    double p50_ms = 0, p99_ms = 0, max_ms = 0;
    std::string first_error;
  };
  // Stats of the answers so far (callable while running).
  Stats Snapshot();

 private:
  void Run();
  int port_;
  std::string token_, body_;
  bool expected_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<double> latencies_ms_;  // guarded by mu_
  int64_t errors_ = 0;                // guarded by mu_
  std::string first_error_;           // guarded by mu_
  std::thread thread_;
};

}  // namespace portcullis::hostile

#endif  // PORTCULLIS_TESTS_HOSTILE_HOSTILE_SUPPORT_H_
