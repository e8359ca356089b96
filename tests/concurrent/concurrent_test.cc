// Concurrency tests of the daemon's request path, run in one process so that
// ThreadSanitizer sees both the I/O threads and the clients: the real
// HttpServer, Api, LMDB Store and compiled policy, with clients on plain
// sockets. Labelled `concurrent`; `scripts/test.sh` runs them under TSan.
//
//   ChecksDuringReload      checkers on keep-alive connections while the
//                           policy is reloaded over and over (endpoint and
//                           Api::Reload, as SIGHUP does): no failed or wrong
//                           answer, and both versions are seen.
//   ChecksDuringWrites      a writer grants files one by one over HTTP while
//                           checkers ask with at_least_revision: a granted
//                           file is always allowed, a never-granted one never.
//   ManyConnections         hundreds of connections opened, used and dropped
//                           (some mid-request) from several threads.
//   StopWhileClientsComeAndGo  shutdown while connections open and close.
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <mutex>
#include <set>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "policies/policy_compiler.h"
#include "server/api.h"
#include "server/http/http_server.h"
#include "server/json.h"
#include "storage/store.h"
#include "tests/e2e/daemon.h"

namespace portcullis {
namespace {

using e2e::Connection;
using e2e::Response;
using server::Api;
using server::ApiOptions;
using server::HttpServer;
using server::HttpServerOptions;
using server::PolicyAdmin;
using server::PolicyDiagnostic;
using server::PolicyHolder;
using server::Scope;

constexpr const char* kCheckToken = "check-token-concurrent-0123456789";
constexpr const char* kAdminToken = "admin-token-concurrent-0123456789";

// `comment` changes the text, hence the version hash, not the meaning.
std::string PolicyText(const std::string& comment) {
  return "# " + comment + R"(
name: concurrent
subjects:
  user: {}
resources:
  group:
    actions: [view_group]
  file:
    parents: [group]
    actions: [view, edit]
roles:
  member:
    on: [group, file]
    grants:
      group: [view_group]
      file: [view]
)";
}

std::shared_ptr<const engine::Policy> Compile(const std::string& text) {
  auto p = policies::CompilePolicyText(text, "concurrent.yaml");
  EXPECT_TRUE(p.has_value()) << policies::FormatErrors(p.error());
  return p ? *p : nullptr;
}

// One in-process daemon on 127.0.0.1:0 over a temporary store.
class InProcessDaemon {
 public:
  explicit InProcessDaemon(int threads = 2) {
    dir_ = std::filesystem::temp_directory_path() /
           ("portcullis_concurrent_" + std::to_string(getpid()) + "_" +
            std::to_string(counter_++));
    std::filesystem::remove_all(dir_);
    storage::StoreOptions so;
    so.max_reader_threads = threads;
    auto store = storage::Store::Open(dir_.string(), so);
    EXPECT_TRUE(store.has_value()) << store.error().message();
    store_ = std::move(*store);
    holder_ = std::make_unique<PolicyHolder>(Compile(PolicyText("v0")));

    ApiOptions o;
    o.tokens.Add(Scope::kCheck, kCheckToken);
    o.tokens.Add(Scope::kAdmin, kAdminToken);
    o.access_log = [this](std::string_view) { log_lines_.fetch_add(1); };
    PolicyAdmin admin;
    admin.load = [this](std::vector<PolicyDiagnostic>* errors)
        -> std::shared_ptr<const engine::Policy> {
      const uint64_t n = loads_.fetch_add(1) + 1;
      auto p = policies::CompilePolicyText(PolicyText("v" + std::to_string(n)),
                                           "concurrent.yaml");
      if (!p) {
        errors->push_back({"concurrent.yaml", 1, 1, "does not compile"});
        return nullptr;
      }
      return *p;
    };
    api_ = std::make_unique<Api>(std::move(o), holder_.get(),
                                 store_.get(), std::move(admin));
    HttpServerOptions h;
    h.address = "127.0.0.1";
    h.port = 0;
    h.threads = threads;
    h.read_timeout = std::chrono::milliseconds(5000);
    h.on_connection = [this](int d) { api_->metrics().ObserveConnection(d); };
    h.error_body = [](int, std::string_view code, std::string_view message) {
      return server::ErrorJson(code, message);
    };
    server_ = std::make_unique<HttpServer>(
        std::move(h), [this](server::HttpRequest& r) { return api_->Handle(r); });
    Status s = server_->Start();
    EXPECT_TRUE(s.ok()) << s.message();
    api_->SetReady(true);
  }

  ~InProcessDaemon() {
    server_->Stop(std::chrono::milliseconds(2000));
    server_.reset();
    api_.reset();
    store_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  int port() const { return server_->port(); }
  Api& api() { return *api_; }
  HttpServer& server() { return *server_; }
  PolicyHolder& holder() { return *holder_; }

 private:
  static inline std::atomic<int> counter_{0};
  std::filesystem::path dir_;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<PolicyHolder> holder_;
  std::unique_ptr<Api> api_;
  std::unique_ptr<HttpServer> server_;
  std::atomic<uint64_t> loads_{0};
  std::atomic<uint64_t> log_lines_{0};
};

rapidjson::Document Json(const Response& r) {
  rapidjson::Document d;
  d.Parse(r.body.data(), r.body.size());
  return d;
}

std::string CheckBody(const std::string& file, uint64_t at_least = 0) {
  std::string b = R"({"subject":"user:alice","action":"view","resource":"file:)" +
                  file + "\"";
  if (at_least > 0) {
    b += R"(,"at_least_revision":")" + std::to_string(at_least) + "\"";
  }
  return b + "}";
}

// Writes with the admin token on a fresh connection; returns the revision.
uint64_t Write(int port, const std::string& method, const std::string& target,
               const std::string& body) {
  Connection c(port);
  Response r = c.Request(method, target, body, kAdminToken);
  EXPECT_EQ(r.status, 200) << method << " " << target << ": " << r.body;
  if (r.status != 200) return 0;
  rapidjson::Document d = Json(r);
  if (!d.IsObject() || !d.HasMember("revision")) return 0;
  return std::stoull(d["revision"].GetString());
}

void Seed(int port, int files) {
  Write(port, "PUT", "/v1/resources/group/g1", "");
  Write(port, "PUT", "/v1/subjects/user/alice", "");
  for (int i = 0; i < files; ++i) {
    Write(port, "PUT", "/v1/resources/file/f" + std::to_string(i),
          R"({"parent":"group:g1"})");
  }
}

TEST(Concurrent, ChecksDuringReload) {
  InProcessDaemon d;
  ASSERT_GT(d.port(), 0);
  Seed(d.port(), 2);
  Write(d.port(), "PUT", "/v1/bindings",
        R"({"subject":"user:alice","resource":"file:f0","roles":["member"]})");

  std::atomic<bool> stop{false};
  std::atomic<int> answers{0}, wrong{0};
  std::vector<std::thread> checkers;
  std::mutex versions_mu;
  std::set<std::string> versions;
  for (int t = 0; t < 3; ++t) {
    checkers.emplace_back([&] {
      Connection c(d.port());
      ASSERT_TRUE(c.ok());
      int i = 0;
      while (!stop.load()) {
        const bool granted = (i++ % 2) == 0;
        Response r = c.Request("POST", "/v1/check",
                               CheckBody(granted ? "f0" : "f1"), kCheckToken);
        rapidjson::Document j = Json(r);
        if (r.status != 200 || !j.IsObject() || !j.HasMember("allowed") ||
            j["allowed"].GetBool() != granted) {
          wrong.fetch_add(1);
          ADD_FAILURE() << r.status << " " << r.body;
          return;
        }
        {
          std::lock_guard<std::mutex> lock(versions_mu);
          versions.insert(j["policy_version"].GetString());
        }
        answers.fetch_add(1);
      }
    });
  }
  for (int i = 0; i < 40; ++i) {
    if (i % 2 == 0) {
      Connection c(d.port());
      Response r = c.Request("POST", "/v1/policy/reload", "", kAdminToken);
      EXPECT_EQ(r.status, 200) << r.body;
    } else {
      std::vector<PolicyDiagnostic> errors;
      EXPECT_TRUE(d.api().Reload(&errors).ok());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  // Let the checkers see the last version too.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  stop.store(true);
  for (auto& t : checkers) t.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_GT(answers.load(), 40);
  EXPECT_GE(versions.size(), 2u) << "checkers never saw a reload";
}

TEST(Concurrent, ChecksDuringWrites) {
  constexpr int kFiles = 40;
  InProcessDaemon d;
  ASSERT_GT(d.port(), 0);
  Seed(d.port(), kFiles);

  // granted_[i] holds the revision that granted file i (0: not yet).
  std::vector<std::atomic<uint64_t>> granted(kFiles);
  std::atomic<int> granted_count{0};
  std::atomic<bool> stop{false};
  std::atomic<int> checked{0};
  std::vector<std::thread> checkers;
  for (int t = 0; t < 3; ++t) {
    checkers.emplace_back([&, t] {
      Connection c(d.port());
      ASSERT_TRUE(c.ok());
      std::mt19937 rng(t);
      while (!stop.load()) {
        const int i = static_cast<int>(rng() % kFiles);
        const uint64_t rev = granted[i].load();
        Response r = c.Request("POST", "/v1/check",
                               CheckBody("f" + std::to_string(i), rev),
                               kCheckToken);
        rapidjson::Document j = Json(r);
        ASSERT_EQ(r.status, 200) << r.body;
        ASSERT_TRUE(j.IsObject() && j.HasMember("allowed")) << r.body;
        const uint64_t seen = std::stoull(j["revision"].GetString());
        if (rev > 0) {
          ASSERT_GE(seen, rev);
          ASSERT_TRUE(j["allowed"].GetBool()) << "file " << i << " " << r.body;
        }
        // Granted strictly after this answer's snapshot: must be denied.
        if (!j["allowed"].GetBool()) {
          const uint64_t later = granted[i].load();
          ASSERT_TRUE(later == 0 || later > seen) << r.body;
        }
        checked.fetch_add(1);
      }
    });
  }
  std::thread writer([&] {
    for (int i = 0; i < kFiles; ++i) {
      const uint64_t rev = Write(
          d.port(), "PUT", "/v1/bindings",
          R"({"subject":"user:alice","resource":"file:f)" + std::to_string(i) +
              R"(","roles":["member"]})");
      ASSERT_GT(rev, 0u);
      granted[i].store(rev);
      granted_count.fetch_add(1);
    }
  });
  writer.join();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  stop.store(true);
  for (auto& t : checkers) t.join();
  EXPECT_EQ(granted_count.load(), kFiles);
  EXPECT_GT(checked.load(), kFiles);
}

TEST(Concurrent, ManyConnections) {
  InProcessDaemon d(2);
  ASSERT_GT(d.port(), 0);
  Seed(d.port(), 1);
  Write(d.port(), "PUT", "/v1/bindings",
        R"({"subject":"user:alice","resource":"group:g1","roles":["member"]})");
  constexpr int kThreads = 4;
  constexpr int kPerThread = 60;
  std::atomic<int> ok{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < kThreads; ++t) {
    clients.emplace_back([&, t] {
      std::vector<std::unique_ptr<Connection>> open;
      for (int i = 0; i < kPerThread; ++i) {
        auto c = std::make_unique<Connection>(d.port());
        ASSERT_TRUE(c->ok());
        switch ((t + i) % 3) {
          case 0: {  // a full request, kept open
            Response r = c->Request("POST", "/v1/check", CheckBody("f0"),
                                    kCheckToken);
            ASSERT_EQ(r.status, 200) << r.body;
            ASSERT_NE(r.body.find("\"allowed\":true"), std::string::npos);
            ok.fetch_add(1);
            open.push_back(std::move(c));
            break;
          }
          case 1:  // half a request, then dropped
            c->SendRaw("POST /v1/check HTTP/1.1\r\nHost: x\r\nContent-Len");
            break;
          default:  // idle, kept open
            open.push_back(std::move(c));
        }
      }
      // Reuse the kept connections once more, then drop them all.
      for (auto& c : open) {
        Response r = c->Request("GET", "/healthz");
        ASSERT_EQ(r.status, 200);
      }
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(ok.load(), kThreads * kPerThread / 3);
  // Every dropped connection is eventually closed on the server side.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (d.server().open_connections() > 0 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(d.server().open_connections(), 0u);
}

// Stop() called CloseIfIdle() under the sessions lock; a session
// whose last reference was dropped there ran ~Session, which takes the same
// lock. The window is a few instructions wide: this stress test exercises
// the path (15 shutdowns amid connection churn) but did not reproduce the
// hang on demand; one full-suite run under load timed out in this file.
TEST(Concurrent, StopWhileClientsComeAndGo) {
  for (int round = 0; round < 15; ++round) {
    auto d = std::make_unique<InProcessDaemon>(2);
    ASSERT_GT(d->port(), 0);
    const int port = d->port();
    std::atomic<bool> stop{false};
    std::vector<std::thread> clients;
    for (int t = 0; t < 3; ++t) {
      clients.emplace_back([&] {
        while (!stop.load()) {
          Connection c(port);
          if (!c.ok()) return;  // the listener is closed
          c.Request("GET", "/healthz");
        }
      });
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    const auto start = std::chrono::steady_clock::now();
    d->server().Stop(std::chrono::milliseconds(2000));
    const double secs = std::chrono::duration<double>(
                            std::chrono::steady_clock::now() - start)
                            .count();
    stop.store(true);
    for (auto& t : clients) t.join();
    EXPECT_LT(secs, 5.0) << "round " << round;
    d.reset();
  }
}

}  // namespace
}  // namespace portcullis
