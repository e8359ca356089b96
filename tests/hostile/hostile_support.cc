#include "tests/hostile/hostile_support.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iterator>

#include "tests/e2e/daemon.h"

namespace portcullis::hostile {

int64_t RssKiB(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6));
  }
  return 0;
}

int ConnectRaw(int port, bool nonblocking) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  if (nonblocking) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  return fd;
}

bool WaitClosedByPeer(int fd, int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(timeout_ms);
  char buf[65536];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          deadline - std::chrono::steady_clock::now())
                          .count();
    if (left <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left)) <= 0) continue;
    const ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (n == 0) return true;
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return true;
  }
}

int RunPortcullis(const std::vector<std::string>& args, int timeout_ms,
                  std::string* output) {
  char tmpl[] = "/tmp/portcullis_run_XXXXXX";
  const int out = mkstemp(tmpl);
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(out, STDOUT_FILENO);
    dup2(out, STDERR_FILENO);
    std::vector<std::string> argv_s = {PORTCULLIS_BINARY};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  int status = 0, code = -1;
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (waitpid(pid, &status, WNOHANG) == pid) {
      code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (code == -1) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
  }
  std::ifstream in(tmpl);
  output->assign(std::istreambuf_iterator<char>(in), {});
  close(out);
  unlink(tmpl);
  return code;
}

int64_t RaiseFileLimit() {
  rlimit r{};
  getrlimit(RLIMIT_NOFILE, &r);
  r.rlim_cur = r.rlim_max;
  setrlimit(RLIMIT_NOFILE, &r);
  getrlimit(RLIMIT_NOFILE, &r);
  return static_cast<int64_t>(r.rlim_cur);
}

WellBehavedClient::WellBehavedClient(int port, std::string token,
                                     std::string body, bool expected)
    : port_(port),
      token_(std::move(token)),
      body_(std::move(body)),
      expected_(expected),
      thread_([this] { Run(); }) {}

WellBehavedClient::~WellBehavedClient() { Stop(); }

void WellBehavedClient::Stop() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
}

void WellBehavedClient::Run() {
  const std::string want =
      std::string("\"allowed\":") + (expected_ ? "true" : "false");
  auto conn = std::make_unique<e2e::Connection>(port_);
  while (!stop_.load()) {
    const auto start = std::chrono::steady_clock::now();
    e2e::Response r = conn->Request("POST", "/v1/check", body_, token_);
    const double ms = std::chrono::duration<double, std::milli>(
                          std::chrono::steady_clock::now() - start)
                          .count();
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (r.status != 200 || r.body.find(want) == std::string::npos) {
        if (errors_++ == 0) {
          first_error_ = std::to_string(r.status) + " " + r.body;
        }
      } else {
        latencies_ms_.push_back(ms);
      }
    }
    if (r.status == 0) conn = std::make_unique<e2e::Connection>(port_);
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

WellBehavedClient::Stats WellBehavedClient::Snapshot() {
  std::lock_guard<std::mutex> lock(mu_);
  Stats s;
  s.answers = static_cast<int64_t>(latencies_ms_.size());
  s.errors = errors_;
  s.first_error = first_error_;
  if (latencies_ms_.empty()) return s;
  std::vector<double> v = latencies_ms_;
  std::sort(v.begin(), v.end());
  s.p50_ms = v[v.size() / 2];
  s.p99_ms = v[std::min(v.size() - 1, v.size() * 99 / 100)];
  s.max_ms = v.back();
  return s;
}

}  // namespace portcullis::hostile
