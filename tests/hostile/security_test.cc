// Authorization safety and fail-closed start-up against the real daemon:
// every endpoint refuses a request without a valid token of the right scope,
// a check-scope token cannot write or reload, tokens never reach the logs,
// errors do not leak other tenants' data, evaluation errors deny, and a
// policy that does not load keeps the daemon from starting at all.
#include <gtest/gtest.h>
#include <poll.h>
#include <rapidjson/document.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>

#include <cstdio>
#include <filesystem>
#include <functional>
#include <thread>
#include <tuple>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/e2e/daemon.h"
#include "tests/hostile/hostile_support.h"

namespace portcullis::hostile {
namespace {

using e2e::Connection;
using e2e::Daemon;
using e2e::Response;

const char* kPolicy = R"(name: security
subjects:
  user: {}
resources:
  account:
    actions: [view_account]
  group:
    parents: [account]
    actions: [view_group]
  file:
    parents: [group]
    actions: [view, edit]
roles:
  member:
    on: [group]
    grants:
      group: [view_group]
      file: [view]
  editor:
    on: [group, file]
    includes: [member]
    grants:
      file: [edit]
restrictions:
  on: [file]
  precedence: restriction-wins
rules:
  - name: classified_files_are_never_edited
    effect: deny
    actions: [edit]
    on: [file]
    when: resource.level > 5
  - name: open_files
    effect: allow
    actions: [view]
    on: [file]
    when: resource.open == true
)";

struct Endpoint {
  const char* method;
  const char* target;
  const char* body;
  bool admin;  // needs the admin scope
};

// Every route of the native API that needs a token.
const Endpoint kEndpoints[] = {
    {"GET", "/metrics", "", false},
    {"POST", "/v1/check", R"({"subject":"user:a","action":"view","resource":"file:f1"})", false},
    {"POST", "/v1/check/batch", R"({"checks":[]})", false},
    {"POST", "/v1/actions", R"({"subject":"user:a","resource":"file:f1"})", false},
    {"POST", "/v1/lookup/resources", R"({"subject":"user:a","action":"view","type":"file"})", false},
    {"POST", "/v1/lookup/subjects", R"({"action":"view","resource":"file:f1"})", false},
    {"PUT", "/v1/resources/group/gx", R"({"parent":"account:acme"})", true},
    {"GET", "/v1/resources/file/f1", "", false},
    {"DELETE", "/v1/resources/file/f1", "", true},
    {"PUT", "/v1/subjects/user/mallory", "", true},
    {"GET", "/v1/subjects/user/alice", "", false},
    {"DELETE", "/v1/subjects/user/alice", "", true},
    {"PUT", "/v1/bindings", R"({"subject":"user:mallory","resource":"group:g1","roles":["editor"]})", true},
    {"GET", "/v1/bindings?resource=group:g1", "", false},
    {"PUT", "/v1/restrictions", R"({"subject":"user:alice","resource":"file:f1","actions":["*"]})", true},
    {"GET", "/v1/restrictions?resource=file:f1", "", false},
    {"GET", "/v1/changes?since=0", "", false},
    {"POST", "/v1/import", R"({"kind":"subject","type":"user","id":"mallory"})", true},
    {"GET", "/v1/export", "", true},
    {"GET", "/v1/policy", "", false},
    {"POST", "/v1/policy/validate", "name: x\n", true},
    {"POST", "/v1/policy/reload", "", true},
    // Membership workflows.
    {"POST", "/v1/groups", R"({"actor":"user:alice","account":"acme","id":"gw"})", true},
    {"POST", "/v1/groups/g1/invitations", R"({"actor":"user:alice","invitees":["user:mallory"],"roles":["member"]})", true},
    {"GET", "/v1/groups/g1/invitations?actor=user:alice", "", false},
    {"GET", "/v1/subjects/user/alice/invitations", "", false},
    {"POST", "/v1/invitations/inv1/accept", R"({"subject":"user:mallory"})", true},
    {"POST", "/v1/invitations/inv1/decline", R"({"subject":"user:mallory"})", true},
    {"DELETE", "/v1/invitations/inv1?actor=user:alice", "", true},
    {"PUT", "/v1/groups/g1/members/user:mallory", R"({"actor":"user:alice","roles":["editor"]})", true},
    {"DELETE", "/v1/groups/g1/members/user:alice?actor=user:alice", "", true},
    {"PUT", "/v1/permissions", R"({"actor":"user:alice","subject":"user:bob","resource":"file:f1","roles":["editor"]})", true},
    {"PUT", "/v1/accounts/acme/administrators/user:mallory", R"({"actor":"user:alice"})", true},
    {"DELETE", "/v1/accounts/acme/administrators/user:alice?actor=user:alice", "", true},
    {"DELETE", "/v1/accounts/acme?actor=user:alice", "", true},
    {"GET", "/v1/accounts/acme/people?actor=user:alice", "", false},
};

constexpr const char* kSecret = "TOPSECRET-acme-7f3a9";
constexpr const char* kWrongToken = "wrong-token-SENSITIVE-5b2c81d4";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string TempConfig(const std::string& text) {
  char tmpl[] = "/tmp/portcullis_security_cfg_XXXXXX";
  const int fd = mkstemp(tmpl);
  close(fd);
  e2e::WriteFile(tmpl, text);
  return tmpl;
}

class Security : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/portcullis_security_logs_XXXXXX";
    logs_ = mkdtemp(tmpl);
    config_ = TempConfig("log:\n  access: " + logs_ + "/access.log\n  decisions: " +
                         logs_ + "/decisions.log\n");
    daemon_ = std::make_unique<Daemon>(
        kPolicy, std::vector<std::string>{"--config", config_});
    ASSERT_TRUE(daemon_->started()) << daemon_->Stderr();
    // Two tenants: acme (with a secret attribute) and globex.
    for (auto [m, t, b] : std::vector<std::tuple<std::string, std::string, std::string>>{
             {"PUT", "/v1/resources/account/acme", std::string(R"({"attributes":{"motto":")") + kSecret + "\"}}"},
             {"PUT", "/v1/resources/group/g1", R"({"parent":"account:acme"})"},
             {"PUT", "/v1/resources/file/f1",
              std::string(R"({"parent":"group:g1","attributes":{"level":1,"note":")") + kSecret + "\"}}"},
             {"PUT", "/v1/resources/file/classified",
              R"({"parent":"group:g1","attributes":{"level":"very high"}})"},
             {"PUT", "/v1/resources/file/open",
              R"({"parent":"group:g1","attributes":{"open":"yes"}})"},
             {"PUT", "/v1/subjects/user/alice", std::string(R"({"attributes":{"email":"alice-)") + kSecret + "@acme.example\"}}"},
             {"PUT", "/v1/bindings",
              R"({"subject":"user:alice","resource":"group:g1","roles":["editor"]})"},
             {"PUT", "/v1/resources/account/globex", ""},
             {"PUT", "/v1/resources/group/g2", R"({"parent":"account:globex"})"},
             {"PUT", "/v1/subjects/user/bob", ""},
             {"PUT", "/v1/bindings",
              R"({"subject":"user:bob","resource":"group:g2","roles":["member"]})"}}) {
      ASSERT_EQ(daemon_->Call(m, t, b).status, 200) << t;
    }
  }
  void TearDown() override {
    daemon_.reset();
    std::remove(config_.c_str());
    std::error_code ec;
    std::filesystem::remove_all(logs_, ec);
  }
  std::string Revision() {
    Response r = daemon_->Call("GET", "/v1/changes?since=0", "",
                               Daemon::kCheckToken);
    rapidjson::Document d;
    d.Parse(r.body.data(), r.body.size());
    if (!d.IsObject() || !d.HasMember("revision")) return r.body;
    return d["revision"].GetString();
  }
  Response Check(const std::string& subject, const std::string& action,
                 const std::string& resource) {
    return daemon_->Call("POST", "/v1/check",
                         R"({"subject":")" + subject + R"(","action":")" +
                             action + R"(","resource":")" + resource + "\"}",
                         Daemon::kCheckToken);
  }

  std::string logs_, config_;
  std::unique_ptr<Daemon> daemon_;
};

TEST_F(Security, EveryEndpointNeedsAValidTokenOfTheRightScope) {
  const std::string before = Revision();
  const std::vector<std::vector<std::string>> bad_headers = {
      {},
      {std::string("Authorization: Bearer ") + kWrongToken},
      {std::string("Authorization: Basic ") + Daemon::kAdminToken},
      {"Authorization: Bearer"},
      {"Authorization: Bearer "},
      {std::string("Authorization: Bearer ") + Daemon::kAdminToken + "x"},
      {std::string("Authorization: Bearer ") +
       std::string(Daemon::kAdminToken).substr(0, 10)},
      {std::string("Authorization: bearer") + Daemon::kAdminToken},
      {std::string("X-Authorization: Bearer ") + Daemon::kAdminToken},
  };
  int refused = 0;
  for (const Endpoint& e : kEndpoints) {
    for (const auto& headers : bad_headers) {
      Connection c(daemon_->port());
      Response r = c.Request(e.method, e.target, e.body, "", headers);
      EXPECT_EQ(r.status, 401) << e.method << " " << e.target << " with "
                               << (headers.empty() ? "no header" : headers[0]);
      EXPECT_NE(r.headers["www-authenticate"].find("Bearer"), std::string::npos);
      ++refused;
    }
    if (e.admin) {
      Response r = daemon_->Call(e.method, e.target, e.body, Daemon::kCheckToken);
      EXPECT_EQ(r.status, 403) << e.method << " " << e.target << ": " << r.body;
      ++refused;
    } else {
      Response r = daemon_->Call(e.method, e.target, e.body, Daemon::kCheckToken);
      EXPECT_NE(r.status, 401) << e.target;
      EXPECT_NE(r.status, 403) << e.target;
    }
  }
  printf("[auth] %d unauthorized requests refused\n", refused);
  // Nothing that was refused changed anything.
  EXPECT_EQ(Revision(), before);
  EXPECT_EQ(daemon_->Call("GET", "/v1/subjects/user/mallory").status, 404);
}

TEST_F(Security, TokensNeverAppearInLogs) {
  Check("user:alice", "view", "file:f1");
  Connection c(daemon_->port());
  c.Request("POST", "/v1/check", "{}", kWrongToken);
  c.Request("GET", "/v1/policy", "", "",
            {std::string("Authorization: Basic ") + kWrongToken});
  daemon_->Call("POST", "/v1/policy/reload", "", Daemon::kCheckToken);
  daemon_->Call("POST", "/v1/policy/reload", "", Daemon::kAdminToken);
  // A token in the query string or a body is not a token, but must not be
  // logged either when it is refused.
  daemon_->Call("GET", std::string("/v1/changes?since=0&token=") + kWrongToken,
                "", Daemon::kCheckToken);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const std::string access = ReadFile(logs_ + "/access.log");
  const std::string decisions = ReadFile(logs_ + "/decisions.log");
  const std::string err = daemon_->Stderr();
  ASSERT_FALSE(access.empty()) << "the access log is empty";
  ASSERT_FALSE(decisions.empty()) << "the decision log is empty";
  for (const std::string* log : {&access, &decisions, &err}) {
    for (const char* token :
         {Daemon::kCheckToken, Daemon::kAdminToken, kWrongToken}) {
      EXPECT_EQ(log->find(token), std::string::npos)
          << "token " << token << " in a log:\n" << log->substr(0, 2000);
    }
  }
}

TEST_F(Security, ErrorsDoNotLeakOtherTenantsData) {
  // Requests about acme's data from the other tenant's side, and broken
  // requests naming acme's entities: no answer may carry acme's secret.
  std::vector<Response> answers = {
      Check("user:bob", "view", "file:f1"),
      Check("user:bob", "edit", "file:f1"),
      Check("user:bob", "view_account", "account:acme"),
      Check("user:bob", "nonsense", "file:f1"),
      Check("user:bob", "view", "folder:f1"),
      daemon_->Call("POST", "/v1/check",
                    R"({"subject":"user:bob","action":"view","resource":"file:f1","context":7})",
                    Daemon::kCheckToken),
      daemon_->Call("POST", "/v1/actions",
                    R"({"subject":"user:bob","resource":"file:f1"})",
                    Daemon::kCheckToken),
      daemon_->Call("POST", "/v1/lookup/resources",
                    R"({"subject":"user:bob","action":"view","type":"file"})",
                    Daemon::kCheckToken),
      daemon_->Call("PUT", "/v1/resources/file/f9",
                    R"({"parent":"file:f1"})"),
      daemon_->Call("PUT", "/v1/resources/account/acme",
                    R"({"parent":"group:g2"})"),
      daemon_->Call("PUT", "/v1/bindings",
                    R"({"subject":"user:bob","resource":"file:f1","roles":["owner"]})"),
      daemon_->Call("PUT", "/v1/bindings",
                    R"({"subject":"user:bob","resource":"account:acme","roles":["member"]})"),
      daemon_->Call("PUT", "/v1/restrictions",
                    R"({"subject":"user:bob","resource":"file:f1","actions":["fly"]})"),
      daemon_->Call("DELETE", "/v1/subjects/user/zed"),
      daemon_->Call("PUT", "/v1/resources/group/g1", R"({"parent":"account:nowhere"})"),
  };
  for (const Response& r : answers) {
    EXPECT_NE(r.status, 0);
    EXPECT_EQ(r.body.find(kSecret), std::string::npos) << r.body;
    EXPECT_EQ(r.body.find("alice"), std::string::npos)
        << "an answer to bob names acme's user: " << r.body;
  }
  // Bob is denied everything of acme.
  EXPECT_NE(answers[0].body.find("\"allowed\":false"), std::string::npos);
  EXPECT_NE(answers[1].body.find("\"allowed\":false"), std::string::npos);
}

TEST_F(Security, EvaluationErrorsDeny) {
  // Alice is an editor, but the level of this file is a string: the deny
  // rule's condition cannot be evaluated, and that must deny.
  Response r = Check("user:alice", "edit", "file:classified");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("\"allowed\":false"), std::string::npos) << r.body;
  // An allow rule whose condition errors does not allow a stranger.
  r = Check("user:bob", "view", "file:open");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("\"allowed\":false"), std::string::npos) << r.body;
  // The same in a batch and in actions.
  r = daemon_->Call("POST", "/v1/check/batch",
                    R"({"checks":[{"subject":"user:alice","action":"edit","resource":"file:classified"},{"subject":"user:alice","action":"edit","resource":"file:f1"}]})",
                    Daemon::kCheckToken);
  ASSERT_EQ(r.status, 200);
  rapidjson::Document d;
  d.Parse(r.body.data(), r.body.size());
  EXPECT_FALSE(d["results"][0]["allowed"].GetBool()) << r.body;
  EXPECT_TRUE(d["results"][1]["allowed"].GetBool()) << r.body;
  r = daemon_->Call("POST", "/v1/actions",
                    R"({"subject":"user:alice","resource":"file:classified"})",
                    Daemon::kCheckToken);
  EXPECT_EQ(r.body.find("\"edit\""), std::string::npos) << r.body;
}


// ---- The HTTP edge: what a client controls before any handler runs ----
//
// The daemon here runs the workspace policy (the membership workflows) with
// an access log, account acme administered by olivia, group g1 with alice
// as administrator and bob as member.
class EdgeSecurity : public ::testing::Test {
 protected:
  static std::string Workspace() {
    return ReadFile(std::string(PORTCULLIS_POLICIES_DIR) + "/workspace.yaml");
  }
  void Start(const std::string& extra_config = "") {
    char tmpl[] = "/tmp/portcullis_edge_logs_XXXXXX";
    logs_ = mkdtemp(tmpl);
    config_ = TempConfig("log:\n  access: " + logs_ + "/access.log\n" +
                         extra_config);
    daemon_ = std::make_unique<Daemon>(
        Workspace(), std::vector<std::string>{"--config", config_});
    ASSERT_TRUE(daemon_->started()) << daemon_->Stderr();
    for (auto [m, t, b] :
         std::vector<std::tuple<std::string, std::string, std::string>>{
             {"PUT", "/v1/resources/account/acme", ""},
             {"PUT", "/v1/subjects/user/olivia", ""},
             {"PUT", "/v1/subjects/user/alice", ""},
             {"PUT", "/v1/subjects/user/bob", ""},
             {"PUT", "/v1/bindings",
              R"({"subject":"user:olivia","resource":"account:acme","roles":["account_administrator"]})"},
             {"PUT", "/v1/accounts/acme/administrators/user:alice",
              R"({"actor":"user:olivia"})"},
             {"POST", "/v1/groups",
              R"({"actor":"user:alice","account":"acme","id":"g1"})"},
             {"PUT", "/v1/bindings",
              R"({"subject":"user:bob","resource":"group:g1","roles":["member"]})"}}) {
      Response r = daemon_->Call(m, t, b);
      ASSERT_EQ(r.status, 200) << m << " " << t << ": " << r.body;
    }
  }
  void SetUp() override { Start(); }
  void TearDown() override {
    daemon_.reset();
    std::remove(config_.c_str());
    std::error_code ec;
    std::filesystem::remove_all(logs_, ec);
  }
  std::string Revision() {
    Response r = daemon_->Call("GET", "/v1/changes?since=0&limit=1");
    rapidjson::Document d;
    d.Parse(r.body.data(), r.body.size());
    if (!d.IsObject() || !d.HasMember("revision")) return r.body;
    return d["revision"].GetString();
  }
  static std::string Field(const Response& r) {
    rapidjson::Document d;
    d.Parse(r.body.data(), r.body.size());
    if (!d.IsObject() || !d.HasMember("error") ||
        !d["error"].HasMember("field")) {
      return "<no field in " + r.body + ">";
    }
    return d["error"]["field"].GetString();
  }
  // The access log's lines, once the daemon flushed them (it flushes every
  // 50 ms).
  std::vector<std::string> AccessLog() {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    std::vector<std::string> lines;
    std::istringstream in(ReadFile(logs_ + "/access.log"));
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
  }
  bool IsAdministrator(const std::string& user) {
    Response r = daemon_->Call(
        "GET", "/v1/bindings?subject=user:" + user + "&limit=100");
    return r.body.find("account_administrator") != std::string::npos;
  }

  std::string logs_, config_;
  std::unique_ptr<Daemon> daemon_;
};

// What one streaming client saw: the status line of the answer (empty if
// none) and how many body bytes it had sent when the answer came.
struct StreamResult {
  std::string status_line;
  size_t body_sent = 0;
  bool closed = false;
};

// Sends `head` and then up to `body_bytes` of body (chunked when `chunked`,
// else raw bytes after a Content-Length header in `head`), in 64 KiB
// pieces, reading the socket all the while; stops once a whole response
// header arrived or the connection closed.
StreamResult StreamBody(int port, const std::string& head, size_t body_bytes,
                        bool chunked) {
  StreamResult out;
  const int fd = ConnectRaw(port, /*nonblocking=*/true);
  if (fd < 0) return out;
  static const std::string kPiece(64 * 1024, 'x');
  std::string pending = head;
  std::string received;
  size_t sent = 0;
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    if (pending.empty() && sent < body_bytes) {
      const size_t n = std::min(kPiece.size(), body_bytes - sent);
      if (chunked) {
        char size_line[32];
        std::snprintf(size_line, sizeof(size_line), "%zx\r\n", n);
        pending = size_line;
        pending.append(kPiece, 0, n).append("\r\n");
        if (sent + n == body_bytes) pending += "0\r\n\r\n";
      } else {
        pending.assign(kPiece, 0, n);
      }
      sent += n;
    }
    pollfd p{fd, static_cast<short>(POLLIN | (pending.empty() ? 0 : POLLOUT)),
             0};
    if (poll(&p, 1, 1000) < 0) break;
    if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
      char buf[4096];
      const ssize_t n = recv(fd, buf, sizeof(buf), 0);
      if (n > 0) {
        received.append(buf, static_cast<size_t>(n));
        if (received.find("\r\n\r\n") != std::string::npos) break;
      } else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
        out.closed = true;
        break;
      }
    }
    if ((p.revents & POLLOUT) && !pending.empty()) {
      const ssize_t n =
          send(fd, pending.data(), pending.size(), MSG_NOSIGNAL);
      if (n > 0) {
        pending.erase(0, static_cast<size_t>(n));
      } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
        out.closed = true;  // the daemon closed: read what it answered
        pollfd r{fd, POLLIN, 0};
        if (poll(&r, 1, 1000) > 0) {
          char buf[4096];
          const ssize_t m = recv(fd, buf, sizeof(buf), 0);
          if (m > 0) received.append(buf, static_cast<size_t>(m));
        }
        break;
      }
    }
  }
  close(fd);
  out.status_line = received.substr(0, received.find("\r\n"));
  out.body_sent = sent;
  return out;
}

TEST_F(EdgeSecurity, UnauthorizedImportsAreRefusedBeforeTheBody) {
  constexpr size_t kBody = 64u << 20;  // 64 MiB, under the import limit
  const pid_t pid = daemon_->pid();
  const int64_t before = RssKiB(pid);
  std::atomic<bool> done{false};
  std::atomic<int64_t> peak{before};
  std::thread sampler([&] {
    while (!done.load()) {
      const int64_t now = RssKiB(pid);
      int64_t p = peak.load();
      while (now > p && !peak.compare_exchange_weak(p, now)) {
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  // 20 unauthenticated clients (16 chunked, 4 with a Content-Length), and 4
  // with a check-scope token, each with 64 MiB to send.
  struct Client {
    std::string head;
    bool chunked;
    const char* expect;
  };
  std::vector<Client> clients;
  for (int i = 0; i < 24; ++i) {
    const bool chunked = i % 5 != 4;
    std::string head = "POST /v1/import HTTP/1.1\r\nHost: localhost\r\n";
    if (i >= 20) {
      head += std::string("Authorization: Bearer ") + Daemon::kCheckToken +
              "\r\n";
    } else if (i % 2 == 1) {
      head += std::string("Authorization: Bearer ") + kWrongToken + "\r\n";
    }
    head += chunked ? "Transfer-Encoding: chunked\r\n"
                    : "Content-Length: " + std::to_string(kBody) + "\r\n";
    head += "\r\n";
    clients.push_back({head, chunked, i >= 20 ? " 403 " : " 401 "});
  }
  std::vector<StreamResult> results(clients.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < clients.size(); ++i) {
    threads.emplace_back([&, i] {
      results[i] = StreamBody(daemon_->port(), clients[i].head, kBody,
                              clients[i].chunked);
    });
  }
  for (std::thread& t : threads) t.join();
  done.store(true);
  sampler.join();
  for (size_t i = 0; i < clients.size(); ++i) {
    EXPECT_NE(results[i].status_line.find(clients[i].expect),
              std::string::npos)
        << "client " << i << ": '" << results[i].status_line << "'";
    // Answered long before the body could have been read.
    EXPECT_LT(results[i].body_sent, kBody / 2) << "client " << i;
  }
  const int64_t grown_kib = peak.load() - before;
  printf("[edge] rss before %lld KiB, peak growth %lld KiB\n",
         static_cast<long long>(before), static_cast<long long>(grown_kib));
  EXPECT_LT(grown_kib, 16 * 1024);
  // The daemon still answers, and nothing was imported.
  EXPECT_EQ(daemon_->Call("GET", "/v1/subjects/user/x").status, 404);
  EXPECT_EQ(daemon_->Call("GET", "/healthz", "", "").status, 200);
}

TEST_F(EdgeSecurity, EachRouteBodyLimitAppliesWhateverTheFraming) {
  // A daemon with a 1 MiB general limit and a 4 MiB import limit.
  daemon_.reset();
  Start("limits:\n  body_bytes: 1048576\n  import_body_bytes: 4194304\n");
  auto jsonl = [](size_t bytes, const std::string& prefix) {
    std::string body;
    for (int i = 0; body.size() < bytes; ++i) {
      body += R"({"kind":"subject","type":"user","id":")" + prefix +
              std::to_string(i) + "\"}\n";
    }
    return body;
  };
  auto chunked_request = [](const std::string& target,
                            const std::string& body) {
    std::string req = "POST " + target +
                      " HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer " +
                      Daemon::kAdminToken +
                      "\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (size_t at = 0; at < body.size(); at += 60000) {
      const std::string piece = body.substr(at, 60000);
      char size_line[32];
      std::snprintf(size_line, sizeof(size_line), "%zx\r\n", piece.size());
      req += size_line + piece + "\r\n";
    }
    return req + "0\r\n\r\n";
  };
  // 2 MiB of import: over the general limit, under the import's, either way.
  for (bool chunked : {false, true}) {
    const std::string body = jsonl(2u << 20, chunked ? "c" : "l");
    Connection c(daemon_->port());
    Response r;
    if (chunked) {
      ASSERT_TRUE(c.SendRaw(chunked_request("/v1/import", body)));
      r = c.Read(30000);
    } else {
      r = c.Request("POST", "/v1/import", body, Daemon::kAdminToken);
    }
    EXPECT_EQ(r.status, 200) << (chunked ? "chunked" : "content-length")
                             << ": " << r.body.substr(0, 300);
  }
  EXPECT_EQ(daemon_->Call("GET", "/v1/subjects/user/l7").status, 200);
  EXPECT_EQ(daemon_->Call("GET", "/v1/subjects/user/c7").status, 200);
  // 5 MiB of import, and 2 MiB to /v1/check: over their limits, either way.
  for (bool chunked : {false, true}) {
    for (const auto& [target, size] :
         {std::pair<std::string, size_t>{"/v1/import", 5u << 20},
          std::pair<std::string, size_t>{"/v1/check", 2u << 20}}) {
      const std::string body = jsonl(size, "big");
      Connection c(daemon_->port());
      Response r;
      if (chunked) {
        c.SendRaw(chunked_request(target, body));
        r = c.Read(30000);
      } else {
        r = c.Request("POST", target, body, Daemon::kAdminToken);
      }
      EXPECT_EQ(r.status, 413) << target << " "
                               << (chunked ? "chunked" : "content-length");
    }
  }
  EXPECT_EQ(daemon_->Call("GET", "/v1/subjects/user/big7").status, 404);
}

TEST_F(EdgeSecurity, RepeatedJsonKeysAreRefusedNamingTheKey) {
  const std::string before = Revision();
  struct Case {
    const char* method;
    const char* target;
    std::string body;
    const char* field;
  };
  const std::vector<Case> cases = {
      {"POST", "/v1/check",
       R"({"subject":"user:alice","action":"view_group","resource":"group:g1","subject":"user:bob"})",
       "subject"},
      {"POST", "/v1/check",
       R"({"subject":"user:bob","action":"view_group","resource":"group:g1","context":{"ip":"a","ip":"b"}})",
       "context.ip"},
      {"POST", "/v1/check/batch",
       R"({"checks":[{"subject":"user:bob","action":"view_group","resource":"group:g1"},{"subject":"user:bob","action":"view_group","action":"delete_group","resource":"group:g1"}]})",
       "checks[1].action"},
      {"POST", "/access/v1/evaluation",
       R"({"subject":{"type":"user","id":"bob","id":"alice"},"action":{"name":"view_group"},"resource":{"type":"group","id":"g1"}})",
       "subject.id"},
      {"PUT", "/v1/bindings",
       R"({"subject":"user:bob","resource":"group:g1","roles":["administrator"],"roles":[]})",
       "roles"},
      {"PUT", "/v1/subjects/user/carol", R"({"attributes":{"a":1,"a":2}})",
       "attributes.a"},
      {"POST", "/v1/groups",
       R"({"actor":"user:bob","account":"acme","id":"g2","actor":"user:alice"})",
       "actor"},
      {"DELETE", "/v1/groups/g1/members/user:bob", "", nullptr},  // below
      {"POST", "/v1/import",
       R"({"kind":"subject","type":"user","id":"dave","attributes":{"x":{"y":1,"y":2}}})",
       "line 1.attributes.x.y"},
  };
  for (const Case& c : cases) {
    if (c.field == nullptr) continue;
    Response r = daemon_->Call(c.method, c.target, c.body);
    EXPECT_EQ(r.status, 400) << c.target << " " << c.body << ": " << r.body;
    if (std::string_view(c.target).starts_with("/access/")) {
      // AuthZEN's error body is a message string; it names the field.
      rapidjson::Document d;
      d.Parse(r.body.data(), r.body.size());
      ASSERT_TRUE(d.IsString()) << r.body;
      EXPECT_NE(std::string(d.GetString()).find(c.field), std::string::npos)
          << r.body;
      continue;
    }
    EXPECT_EQ(Field(r), c.field) << c.target << " " << c.body;
  }
  EXPECT_EQ(Revision(), before);  // nothing was written
}

TEST_F(EdgeSecurity, RepeatedQueryParametersAreRefusedNamingTheParameter) {
  const std::string before = Revision();
  // Alice may remove bob; mallory's name must not ride on hers.
  Response r = daemon_->Call(
      "DELETE", "/v1/groups/g1/members/user:bob?actor=user:alice&actor=user:mallory");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(Field(r), "actor");
  r = daemon_->Call("GET", "/v1/changes?since=0&limit=5&since=3");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(Field(r), "since");
  r = daemon_->Call("GET", "/v1/bindings?resource=group:g1&resource=group:g1");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(Field(r), "resource");
  EXPECT_EQ(Revision(), before);
  // One of each is fine.
  EXPECT_EQ(daemon_->Call("GET", "/v1/changes?since=0&limit=5").status, 200);
}

TEST_F(EdgeSecurity, EscapedSlashStaysInsideItsPathSegment) {
  ASSERT_TRUE(IsAdministrator("alice"));
  const std::string before = Revision();
  // Decoded before the split, this was DELETE
  // /v1/accounts/acme/administrators/user:alice.
  Response r = daemon_->Call(
      "DELETE",
      "/v1/accounts/acme%2Fadministrators%2Fuser:alice?actor=user:olivia");
  // It names an account "acme/administrators/user:alice", which does not
  // exist: refused like any account where olivia holds nothing.
  EXPECT_TRUE(r.status == 404 || r.status == 400 || r.status == 403)
      << r.status << " " << r.body;
  EXPECT_TRUE(IsAdministrator("alice"));
  EXPECT_EQ(Revision(), before);
  // Escapes in literal segments still route.
  EXPECT_EQ(daemon_->Call("GET", "/v1/%72esources/account/acme").status, 200);
}

TEST_F(EdgeSecurity, IdsWithASlashOrSpaceAreRefusedOnEveryWrite) {
  const std::string before = Revision();
  struct Case {
    const char* method;
    const char* target;
    const char* body;
    const char* field;
  };
  const Case cases[] = {
      {"POST", "/v1/groups",
       R"({"actor":"user:alice","account":"acme","id":"a/b"})", "id"},
      {"POST", "/v1/groups",
       R"({"actor":"user:alice","account":"acme","id":"a b"})", "id"},
      {"PUT", "/v1/resources/group/x%2Fy", R"({"parent":"account:acme"})",
       "id"},
      {"PUT", "/v1/resources/group/x%09y", R"({"parent":"account:acme"})",
       "id"},
      {"PUT", "/v1/subjects/user/a%2Fb", "", "id"},
      {"PUT", "/v1/bindings",
       R"({"subject":"user:a/b","resource":"group:g1","roles":["member"]})",
       "subject"},
      {"PUT", "/v1/restrictions",
       R"({"subject":"user:x y","resource":"group:g1","actions":["view"]})",
       "subject"},
      {"POST", "/v1/import", R"({"kind":"subject","type":"user","id":"p/q"})",
       "line 1.id"},
  };
  for (const Case& c : cases) {
    Response r = daemon_->Call(c.method, c.target, c.body);
    EXPECT_EQ(r.status, 400) << c.target << " " << c.body << ": " << r.body;
    EXPECT_EQ(Field(r), c.field) << c.target << " " << c.body;
  }
  EXPECT_EQ(Revision(), before);
  // Ids that were always valid stay valid.
  for (const char* id : {"email:grace@example.com", "user:dave.o'brien",
                         "user:caf\xc3\xa9", "user:x:y"}) {
    const std::string ref(id);
    Response r = daemon_->Call(
        "PUT", "/v1/subjects/" + ref.substr(0, ref.find(':')) + "/" +
                   ref.substr(ref.find(':') + 1));
    EXPECT_EQ(r.status, 200) << id << ": " << r.body;
  }
}

bool ValidUtf8Json(const std::string& text) {
  rapidjson::Document d;
  d.Parse<rapidjson::kParseValidateEncodingFlag>(text.data(), text.size());
  return !d.HasParseError() && d.IsObject();
}

TEST_F(EdgeSecurity, InvalidUtf8InPathAndQueryIsEscapedInErrorsAndLogs) {
  const std::vector<std::pair<std::string, std::string>> requests = {
      {"GET", "/v1/no\xff\xfe/where"},            // 404 echoes the path
      {"GET", "/v1/%ff%fe"},                      // escaped, same
      {"POST", "/v1/resources/file/\xff\xfe"},    // 405 echoes the path
      {"GET", "/v1/resources/file/%ff"},          // 400
      {"GET", "/v1/bindings?resource=group:%ff%fe"},   // 200, logged
      {"GET", "/v1/changes?since=\xff\xfe"},            // 400
      {"GET", "/v1/changes?since=0&z\xff=%ff"},          // 200, logged
  };
  for (const auto& [method, target] : requests) {
    Connection c(daemon_->port());
    Response r = c.Request(method, target, "", Daemon::kAdminToken);
    EXPECT_NE(r.status, 0) << target;
    EXPECT_TRUE(ValidUtf8Json(r.body)) << target << " -> " << r.body;
  }
  const std::vector<std::string> lines = AccessLog();
  ASSERT_GE(lines.size(), requests.size());
  int with_escape = 0;
  for (const std::string& line : lines) {
    EXPECT_TRUE(ValidUtf8Json(line)) << line;
    if (line.find("\\\\xFF") != std::string::npos) ++with_escape;
  }
  EXPECT_GE(with_escape, 3);
}

TEST_F(EdgeSecurity, ChangesWaitMustBeAFiniteNumberOfSecondsInRange) {
  for (const char* wait : {"inf", "-inf", "nan", "1e308", "1e999", "-1",
                           "31", "", "0x10", "%201", "1s", "infinity"}) {
    Response r = daemon_->Call("GET", std::string("/v1/changes?since=0&wait=") +
                                          wait);
    EXPECT_EQ(r.status, 400) << "wait=" << wait << ": " << r.body;
    EXPECT_EQ(Field(r), "wait") << "wait=" << wait;
  }
  for (const char* wait : {"0", "0.05", "30"}) {
    Response r = daemon_->Call("GET", std::string("/v1/changes?since=0&wait=") +
                                          wait);
    EXPECT_EQ(r.status, 200) << "wait=" << wait << ": " << r.body;
  }
}

// Reads from `fd` until `done(received)` or 10 s pass.
std::string ReadUntil(int fd, const std::function<bool(const std::string&)>& done) {
  std::string received;
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!done(received) && std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 200) <= 0) continue;
    char buf[65536];
    const ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    received.append(buf, static_cast<size_t>(n));
  }
  return received;
}

TEST_F(EdgeSecurity, HeadAnswersCarryNoBodyEvenFromALongPoll) {
  const std::string rev = Revision();
  for (const std::string& target :
       {"/v1/changes?since=" + rev + "&wait=1", std::string("/v1/export"),
        std::string("/v1/changes?since=0")}) {
    const int fd = ConnectRaw(daemon_->port());
    ASSERT_GE(fd, 0);
    // HEAD, then a second request on the same connection.
    const std::string req =
        "HEAD " + target + " HTTP/1.1\r\nHost: localhost\r\n" +
        "Authorization: Bearer " + Daemon::kAdminToken + "\r\n\r\n" +
        "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n";
    ASSERT_EQ(send(fd, req.data(), req.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(req.size()));
    const std::string all = ReadUntil(fd, [](const std::string& s) {
      return s.find("{\"status\":\"ok\"}") != std::string::npos;
    });
    close(fd);
    const size_t end = all.find("\r\n\r\n");
    ASSERT_NE(end, std::string::npos) << target << ": " << all;
    const std::string head = all.substr(0, end);
    EXPECT_EQ(head.rfind("HTTP/1.1 200", 0), 0u) << target << ": " << head;
    EXPECT_NE(head.find("X-Request-ID: "), std::string::npos)
        << target << ": " << head;
    // The very next bytes are the second answer: no body came in between.
    EXPECT_EQ(all.compare(end + 4, 12, "HTTP/1.1 200"), 0)
        << target << ": " << all.substr(0, 600);
    EXPECT_TRUE(all.size() >= 15 &&
                all.compare(all.size() - 15, 15, "{\"status\":\"ok\"}") == 0)
        << target << ": " << all;
  }
  // A GET long poll's final answer carries X-Request-ID too (the client's).
  Connection c(daemon_->port());
  Response r = c.Request("GET", "/v1/changes?since=" + Revision() + "&wait=0.2",
                         "", Daemon::kAdminToken, {"X-Request-ID: poll-42"});
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.headers["x-request-id"], "poll-42");
}

TEST_F(EdgeSecurity, AccessLogShowsTheQueryAndRedactsInvitationIds) {
  // Refused: bob may not remove alice. The log ties the refusal to bob.
  Response r = daemon_->Call(
      "DELETE", "/v1/groups/g1/members/user:alice?actor=user:bob");
  EXPECT_EQ(r.status, 403) << r.body;
  // An invitation, accepted by its id (a bearer secret).
  ASSERT_EQ(daemon_->Call("PUT", "/v1/subjects/user/carol").status, 200);
  r = daemon_->Call(
      "POST", "/v1/groups/g1/invitations",
      R"({"actor":"user:alice","invitees":["user:carol"],"roles":["member"]})");
  ASSERT_EQ(r.status, 200) << r.body;
  rapidjson::Document d;
  d.Parse(r.body.data(), r.body.size());
  ASSERT_TRUE(d.IsObject() && d.HasMember("invitations") &&
              d["invitations"].IsArray() && d["invitations"].Size() == 1)
      << r.body;
  const std::string id = d["invitations"][0]["id"].GetString();
  ASSERT_EQ(id.size(), 32u) << r.body;
  EXPECT_EQ(daemon_->Call("POST", "/v1/invitations/" + id + "/accept",
                          R"({"subject":"user:carol"})")
                .status,
            200);
  // Unauthenticated, refused from the header: logged too.
  Connection c(daemon_->port());
  EXPECT_EQ(c.Request("DELETE", "/v1/invitations/" + id + "?actor=user:zed",
                      "", "")
                .status,
            401);
  // An unexpected parameter's value is not logged.
  daemon_->Call("GET", "/v1/changes?since=0&secret=hunter2hunter2");
  const std::vector<std::string> lines = AccessLog();
  bool refusal_logged = false, accept_logged = false, revoke_logged = false,
       secret_redacted = false;
  for (const std::string& line : lines) {
    EXPECT_EQ(line.find(id), std::string::npos) << line;
    EXPECT_EQ(line.find("hunter2"), std::string::npos) << line;
    rapidjson::Document l;
    l.Parse(line.data(), line.size());
    ASSERT_TRUE(l.IsObject() && l.HasMember("query")) << line;
    const std::string path = l["path"].GetString();
    const std::string query = l["query"].GetString();
    if (path == "/v1/groups/g1/members/user:alice" &&
        query == "actor=user:bob" && l["status"].GetInt() == 403) {
      refusal_logged = true;
    }
    if (path == "/v1/invitations/{redacted}/accept") accept_logged = true;
    if (path == "/v1/invitations/{redacted}" && query == "actor=user:zed" &&
        l["status"].GetInt() == 401) {
      revoke_logged = true;
    }
    if (query == "since=0&secret={redacted}") secret_redacted = true;
  }
  EXPECT_TRUE(refusal_logged);
  EXPECT_TRUE(accept_logged);
  EXPECT_TRUE(revoke_logged);
  EXPECT_TRUE(secret_redacted);
}

TEST(FailClosedStartup, APolicyThatDoesNotLoadKeepsTheDaemonDown) {
  const std::vector<std::pair<const char*, std::string>> bad = {
      {"empty", ""},
      {"not yaml", "name: [unclosed\n"},
      {"not a mapping", "- a\n- b\n"},
      {"unknown role in includes",
       "name: x\nsubjects:\n  user: {}\nresources:\n  doc:\n    actions: [read]\n"
       "roles:\n  reader:\n    on: [doc]\n    includes: [ghost]\n    grants:\n      doc: [read]\n"},
      {"bad condition",
       "name: x\nsubjects:\n  user: {}\nresources:\n  doc:\n    actions: [read]\n"
       "rules:\n  - name: r\n    effect: allow\n    actions: [read]\n    on: [doc]\n"
       "    when: resource.a == == 1\n"},
      {"binary", std::string("\x00\xff\xfe name: x", 12)},
  };
  for (const auto& [what, text] : bad) {
    Daemon d(text);
    EXPECT_FALSE(d.started()) << what << ": " << d.startup_line();
    EXPECT_NE(d.Wait(10000), 0) << what;
    EXPECT_NE(d.Stderr().find("policy"), std::string::npos) << what << ": "
                                                            << d.Stderr();
  }
}

TEST(FailClosedStartup, AnUnusableStoreKeepsTheDaemonDown) {
  char tmpl[] = "/tmp/portcullis_security_store_XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  e2e::WriteFile(dir + "/policy.yaml", kPolicy);
  e2e::WriteFile(dir + "/tokens", "admin some-admin-token-0123456789\n");
  // The data folder is a regular file; a data.mdb that is not LMDB.
  e2e::WriteFile(dir + "/file", "not a store");
  std::filesystem::create_directories(dir + "/garbage");
  e2e::WriteFile(dir + "/garbage/data.mdb", std::string(65536, 'x'));
  for (const char* data : {"/file", "/garbage"}) {
    std::string output;
    const int code = RunPortcullis(
        {"serve", "--listen", "127.0.0.1:0", "--data", dir + data, "--policy",
         dir + "/policy.yaml", "--tokens", dir + "/tokens"},
        10000, &output);
    EXPECT_NE(code, 0) << data << ": " << output;
    EXPECT_NE(code, -1) << data << ": still running: " << output;
    EXPECT_EQ(output.find("listening on"), std::string::npos) << output;
    EXPECT_NE(output.find("store"), std::string::npos) << output;
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

}  // namespace
}  // namespace portcullis::hostile
