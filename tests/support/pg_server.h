// PgServer: a PostgreSQL server of its own for one test program, started
// with initdb and pg_ctl from PostgreSQL 15's binaries (Debian's
// postgresql-15, installed by scripts/install-deps.sh) in a fresh folder
// under /tmp, listening on 127.0.0.1 and a free port only, trusting local
// connections. As root, initdb and pg_ctl run as the `postgres` user (they
// refuse root). fsync is off to keep tests fast: a stopped or crashed server
// loses nothing (the kernel holds what was written), only a machine crash
// would; commits stay synchronous, so a test may crash the server (Stop)
// and expect every acknowledged commit back.
//
// Start() reports why the server could not start (no binaries: the test
// must fail, not skip); the destructor stops it with `pg_ctl stop -m
// immediate` and removes the folder, whatever the test's outcome. Stop()
// and Start() again (same port, same data) let a test take the source away
// and bring it back. CreateDatabase() gives each test a database of its own.
//
// Thread safety: one PgServer per test program, used from its main thread.
#ifndef PORTCULLIS_TESTS_SUPPORT_PG_SERVER_H_
#define PORTCULLIS_TESTS_SUPPORT_PG_SERVER_H_

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace portcullis::testing {

class PgServer {
 public:
  PgServer() = default;
  ~PgServer() {
    if (!dir_.empty()) {
      Stop();
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    }
  }
  PgServer(const PgServer&) = delete;
  PgServer& operator=(const PgServer&) = delete;

  // The folder of PostgreSQL's programs: $PORTCULLIS_PG_BIN, else Debian's.
  static std::string BinDir() {
    const char* env = std::getenv("PORTCULLIS_PG_BIN");
    return env && *env ? env : "/usr/lib/postgresql/15/bin";
  }

  // Creates the cluster on first call, then starts the server. Returns an
  // empty string on success, else what went wrong.
  std::string Start() {
    const std::string bin = BinDir();
    if (!std::filesystem::exists(bin + "/pg_ctl") ||
        !std::filesystem::exists(bin + "/initdb")) {
      return "PostgreSQL 15 is not installed (no pg_ctl/initdb in " + bin +
             "): run scripts/install-deps.sh";
    }
    if (dir_.empty()) {
      char tmpl[] = "/tmp/portcullis-pg-XXXXXX";
      if (::mkdtemp(tmpl) == nullptr) return "mkdtemp failed";
      dir_ = tmpl;
      if (::geteuid() == 0 &&
          Run("chown postgres:postgres " + dir_) != 0) {
        return "cannot give " + dir_ + " to the postgres user";
      }
      if (Run(As() + bin + "/initdb -D " + dir_ + "/data -A trust -U " +
              "postgres -E UTF8 --no-sync >" + dir_ + "/initdb.log 2>&1") !=
          0) {
        return "initdb failed: " + Slurp(dir_ + "/initdb.log");
      }
    }
    for (int attempt = 0; attempt < 5; ++attempt) {
      if (port_ == 0 || attempt > 0) port_ = FreePort();
      if (StartServer()) return "";
    }
    return "pg_ctl start failed: " + Slurp(dir_ + "/server.log");
  }

  // Stops the server at once (as a crash would); data stays for Start().
  void Stop() {
    if (!running_) return;
    Run(As() + BinDir() + "/pg_ctl -D " + dir_ +
        "/data -m immediate -w stop >/dev/null 2>&1");
    running_ = false;
  }

  // Starts it again on the same port and data.
  std::string Restart() {
    return StartServer() ? "" : "pg_ctl start failed: " +
                                    Slurp(dir_ + "/server.log");
  }

  // A new, empty database; returns its URL (empty on failure).
  std::string CreateDatabase() {
    static std::atomic<int> counter{0};
    const std::string name =
        "t" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
    if (Run(BinDir() + "/createdb -h 127.0.0.1 -p " + std::to_string(port_) +
            " -U postgres " + name + " >/dev/null 2>&1") != 0) {
      return "";
    }
    return Url(name);
  }

  // Runs SQL through psql; returns its output (rows unaligned, no header).
  std::string Sql(const std::string& database, const std::string& sql) {
    const std::string out = dir_ + "/psql.out";
    std::ofstream(dir_ + "/psql.sql") << sql;
    Run(BinDir() + "/psql -X -q -A -t -h 127.0.0.1 -p " + std::to_string(port_) +
        " -U postgres -d " + database + " -f " + dir_ + "/psql.sql >" + out +
        " 2>&1");
    std::string s = Slurp(out);
    while (!s.empty() && s.back() == '\n') s.pop_back();
    return s;
  }

  std::string Url(const std::string& database) const {
    return "postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/" +
           database;
  }
  int port() const { return port_; }
  const std::string& dir() const { return dir_; }

 private:
  // pg_ctl start on port_; true once the server accepts connections.
  bool StartServer() {
    running_ =
        Run(As() + BinDir() + "/pg_ctl -D " + dir_ + "/data -l " + dir_ +
            "/server.log -w -t 60 -o \"-c listen_addresses=127.0.0.1 -k " +
            dir_ + " -p " + std::to_string(port_) +
            " -c fsync=off"
            " -c full_page_writes=off -c max_connections=200\" start "
            ">/dev/null 2>&1") == 0;
    return running_;
  }
  static int Run(const std::string& command) {
    return std::system(command.c_str());
  }
  static std::string As() {
    return ::geteuid() == 0 ? "runuser -u postgres -- " : "";
  }
  static std::string Slurp(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  static int FreePort() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof addr;
    int port = 0;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
      port = ntohs(addr.sin_port);
    }
    ::close(fd);
    return port;
  }

  std::string dir_;
  int port_ = 0;
  bool running_ = false;
};

}  // namespace portcullis::testing

#endif  // PORTCULLIS_TESTS_SUPPORT_PG_SERVER_H_
