// Test support: runs `portcullis serve` as a child process and speaks HTTP/1.1
// to it over plain sockets (no Beast in the tests).
#ifndef PORTCULLIS_TESTS_E2E_DAEMON_H_
#define PORTCULLIS_TESTS_E2E_DAEMON_H_

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

namespace portcullis::e2e {

struct Response {
  int status = 0;  // 0: no (complete) response
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  int chunks = 0;  // data chunks of a chunked body (0: Content-Length)
};

// One keep-alive connection.
class Connection {
 public:
  explicit Connection(int port);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  bool ok() const { return fd_ >= 0; }
  // Sends raw bytes.
  bool SendRaw(const std::string& bytes);
  // Reads one response (Content-Length or chunked). status 0 on EOF or
  // timeout.
  Response Read(int timeout_ms = 10000);
  // Sends one request and reads its response.
  Response Request(const std::string& method, const std::string& target,
                   const std::string& body = "",
                   const std::string& token = "",
                   const std::vector<std::string>& extra_headers = {});
  static std::string Format(const std::string& method,
                            const std::string& target, const std::string& body,
                            const std::string& token,
                            const std::vector<std::string>& extra_headers);

 private:
  int fd_ = -1;
  std::string buffer_;
};

// A running daemon in a fresh temporary directory holding its data folder,
// policy and tokens files.
class Daemon {
 public:
  static constexpr const char* kCheckToken = "check-token-e2e-0123456789";
  static constexpr const char* kAdminToken = "admin-token-e2e-0123456789";

  // Writes `policy_yaml` and a tokens file, starts the daemon with
  // `extra_args`, and waits for its start-up line.
  // `data_dir`, when given, is the store folder instead of one inside the
  // daemon's temporary directory (it then outlives the daemon, so that a
  // test can start another on the same data).
  explicit Daemon(const std::string& policy_yaml,
                  std::vector<std::string> extra_args = {},
                  const std::string& data_dir = "");
  ~Daemon();

  bool started() const { return port_ > 0; }
  pid_t pid() const { return pid_; }
  int port() const { return port_; }
  const std::string& startup_line() const { return startup_line_; }
  const std::string& dir() const { return dir_; }
  std::string policy_path() const { return dir_ + "/policy.yaml"; }

  // One request on a fresh connection with the admin token.
  Response Call(const std::string& method, const std::string& target,
                const std::string& body = "",
                const std::string& token = kAdminToken);

  void Signal(int sig);
  // Waits for exit; returns the exit status, or -1 on timeout.
  int Wait(int timeout_ms);
  // Everything the daemon wrote to stderr so far.
  std::string Stderr() const;

 private:
  std::string dir_;
  pid_t pid_ = -1;
  int port_ = 0;
  int stdout_fd_ = -1;
  std::string startup_line_;
  bool exited_ = false;
};

std::string WriteFile(const std::string& path, const std::string& text);

}  // namespace portcullis::e2e

#endif  // PORTCULLIS_TESTS_E2E_DAEMON_H_
