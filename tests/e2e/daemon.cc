#include "tests/e2e/daemon.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace portcullis::e2e {

std::string WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  return path;
}

Connection::Connection(int port) {
  fd_ = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd_);
    fd_ = -1;
    return;
  }
  int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

Connection::~Connection() {
  if (fd_ >= 0) close(fd_);
}

bool Connection::SendRaw(const std::string& bytes) {
  size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t n =
        send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return false;
    sent += static_cast<size_t>(n);
  }
  return true;
}

Response Connection::Read(int timeout_ms) {
  Response r;
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(timeout_ms);
  auto fill = [&]() -> bool {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
    char buf[65536];
    const ssize_t n = recv(fd_, buf, sizeof(buf), 0);
    if (n <= 0) return false;
    buffer_.append(buf, static_cast<size_t>(n));
    return true;
  };
  size_t header_end;
  while ((header_end = buffer_.find("\r\n\r\n")) == std::string::npos) {
    if (!fill()) return r;
  }
  std::istringstream head(buffer_.substr(0, header_end));
  std::string line;
  std::getline(head, line);
  if (line.size() < 12) return r;
  const int status = std::atoi(line.c_str() + 9);
  size_t length = 0;
  while (std::getline(head, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon);
    for (char& c : name) c = static_cast<char>(std::tolower(c));
    std::string value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.erase(0, 1);
    if (name == "content-length") length = std::stoul(value);
    r.headers[name] = value;
  }
  if (r.headers["transfer-encoding"] == "chunked") {
    // Chunked: "SIZE\r\nDATA\r\n" ... "0\r\n\r\n" (no trailers).
    size_t pos = header_end + 4;
    std::string body;
    for (;;) {
      size_t eol;
      while ((eol = buffer_.find("\r\n", pos)) == std::string::npos) {
        if (!fill()) return r;
      }
      const size_t size =
          std::stoul(buffer_.substr(pos, eol - pos), nullptr, 16);
      while (buffer_.size() < eol + 2 + size + 2) {
        if (!fill()) return r;
      }
      if (buffer_.compare(eol + 2 + size, 2, "\r\n") != 0) return r;
      body.append(buffer_, eol + 2, size);
      pos = eol + 2 + size + 2;
      if (size == 0) break;
      ++r.chunks;
    }
    buffer_.erase(0, pos);
    r.body = std::move(body);
    r.status = status;
    return r;
  }
  while (buffer_.size() < header_end + 4 + length) {
    if (!fill()) return r;
  }
  r.body = buffer_.substr(header_end + 4, length);
  buffer_.erase(0, header_end + 4 + length);
  r.status = status;
  return r;
}

std::string Connection::Format(const std::string& method,
                               const std::string& target,
                               const std::string& body,
                               const std::string& token,
                               const std::vector<std::string>& extra) {
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: localhost\r\n";
  if (!token.empty()) req += "Authorization: Bearer " + token + "\r\n";
  for (const std::string& h : extra) req += h + "\r\n";
  if (!body.empty() || method == "POST" || method == "PUT") {
    req += "Content-Type: application/json\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n";
  }
  req += "\r\n" + body;
  return req;
}

Response Connection::Request(const std::string& method,
                             const std::string& target,
                             const std::string& body, const std::string& token,
                             const std::vector<std::string>& extra) {
  if (!SendRaw(Format(method, target, body, token, extra))) return {};
  return Read();
}

Daemon::Daemon(const std::string& policy_yaml,
               std::vector<std::string> extra_args,
               const std::string& data_dir) {
  char tmpl[] = "/tmp/portcullis_e2e_XXXXXX";
  dir_ = mkdtemp(tmpl);
  WriteFile(policy_path(), policy_yaml);
  WriteFile(dir_ + "/tokens",
            std::string("check ") + kCheckToken + "\nadmin " + kAdminToken +
                "\n");
  int out_pipe[2];
  if (pipe(out_pipe) != 0) return;
  std::vector<std::string> args = {PORTCULLIS_BINARY, "serve",
                                   "--listen",        "127.0.0.1:0",
                                   "--data",
                                   data_dir.empty() ? dir_ + "/data" : data_dir,
                                   "--policy",        policy_path(),
                                   "--tokens",        dir_ + "/tokens",
                                   "--threads",       "2"};
  for (std::string& a : extra_args) args.push_back(std::move(a));
  pid_ = fork();
  if (pid_ == 0) {
    dup2(out_pipe[1], STDOUT_FILENO);
    const int err = open((dir_ + "/stderr").c_str(),
                         O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(err, STDERR_FILENO);
    close(out_pipe[0]);
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(out_pipe[1]);
  stdout_fd_ = out_pipe[0];
  // Read the start-up line: "portcullis: listening on HOST:PORT ...".
  std::string out;
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (out.find('\n') == std::string::npos &&
         std::chrono::steady_clock::now() < deadline) {
    pollfd p{stdout_fd_, POLLIN, 0};
    if (poll(&p, 1, 200) <= 0) continue;
    char buf[512];
    const ssize_t n = read(stdout_fd_, buf, sizeof(buf));
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  startup_line_ = out.substr(0, out.find('\n'));
  const std::string marker = "listening on 127.0.0.1:";
  const size_t at = startup_line_.find(marker);
  if (at != std::string::npos) {
    port_ = std::atoi(startup_line_.c_str() + at + marker.size());
  }
}

Daemon::~Daemon() {
  if (pid_ > 0 && !exited_) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  if (stdout_fd_ >= 0) close(stdout_fd_);
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

Response Daemon::Call(const std::string& method, const std::string& target,
                      const std::string& body, const std::string& token) {
  Connection c(port_);
  if (!c.ok()) return {};
  return c.Request(method, target, body, token);
}

void Daemon::Signal(int sig) {
  if (pid_ > 0 && !exited_) kill(pid_, sig);
}

int Daemon::Wait(int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    const pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      exited_ = true;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return -1;
}

std::string Daemon::Stderr() const {
  std::ifstream in(dir_ + "/stderr");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace portcullis::e2e
