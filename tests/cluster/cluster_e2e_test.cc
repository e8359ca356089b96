// Cluster mode end to end: one PostgreSQL started by the test
// (tests/support/pg_server.h) and real `portcullis serve --source`
// processes on loopback ports, spoken to over HTTP.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include "tests/e2e/daemon.h"
#include "tests/support/pg_server.h"

namespace portcullis::e2e {
namespace {

using testing::PgServer;

const char* kPolicy = R"(name: cluster
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
    on: [group]
    grants:
      group: [view_group]
      file: [view]
restrictions:
  on: [file]
  precedence: restriction-wins
)";

PgServer* server = nullptr;

class ClusterEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    server = new PgServer();
    // No PostgreSQL is a failure, not a skip: the install script installs it.
    ASSERT_EQ(server->Start(), "");
  }
  void TearDown() override {
    delete server;
    server = nullptr;
  }
};
const auto* const kEnvironment =
    ::testing::AddGlobalTestEnvironment(new ClusterEnvironment());

rapidjson::Document Json(const Response& r) {
  rapidjson::Document d;
  d.Parse(r.body.data(), r.body.size());
  return d;
}

uint64_t RevisionOf(const Response& r) {
  rapidjson::Document d = Json(r);
  if (d.HasParseError() || !d.IsObject() || !d.HasMember("revision") ||
      !d["revision"].IsString()) {
    return 0;
  }
  return std::strtoull(d["revision"].GetString(), nullptr, 10);
}

// One daemon of the cluster, on a store folder that outlives it.
class Node {
 public:
  // `extra_args` are given to every start.
  Node(const std::string& url, const std::string& data_dir,
       std::vector<std::string> extra_args = {})
      : url_(url), data_dir_(data_dir), extra_args_(std::move(extra_args)) {
    Start();
  }
  void Start() {
    std::vector<std::string> args{"--source", url_};
    args.insert(args.end(), extra_args_.begin(), extra_args_.end());
    daemon_ = std::make_unique<Daemon>(kPolicy, args, data_dir_);
  }
  // SIGKILL, as a crash.
  void Kill() {
    daemon_->Signal(SIGKILL);
    daemon_->Wait(10000);
  }
  void Stop() {
    daemon_->Signal(SIGTERM);
    daemon_->Wait(10000);
  }
  Daemon& d() { return *daemon_; }
  const std::string& data_dir() const { return data_dir_; }

  Response Put(const std::string& target, const std::string& body = "") {
    return daemon_->Call("PUT", target, body);
  }
  // Whether `user` may view `file`, read at `at_least` or later. A replica
  // that is behind answers 503 after its bounded wait (2 s); on a loaded
  // machine (sanitizers, parallel tests) a follower that is reconnecting
  // may take longer, so this asks again for up to 20 s.
  Response Check(const std::string& user, const std::string& file,
                 uint64_t at_least) {
    Response r;
    for (int i = 0; i < 10; ++i) {
      r = CheckOnce(user, file, at_least);
      if (r.status != 503) break;
    }
    return r;
  }
  Response CheckOnce(const std::string& user, const std::string& file,
                     uint64_t at_least) {
    return daemon_->Call(
        "POST", "/v1/check",
        R"({"subject":"user:)" + user + R"(","action":"view","resource":"file:)" +
            file + R"(","at_least_revision":")" + std::to_string(at_least) +
            R"("})");
  }

 private:
  std::string url_;
  std::string data_dir_;
  std::vector<std::string> extra_args_;
  std::unique_ptr<Daemon> daemon_;
};

class ClusterE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(server, nullptr);
    url_ = server->CreateDatabase();
    ASSERT_NE(url_, "");
    database_ = url_.substr(url_.rfind('/') + 1);
    char tmpl[] = "/tmp/portcullis_cluster_e2e_XXXXXX";
    root_ = ::mkdtemp(tmpl);
  }
  void TearDown() override {
    nodes_.clear();
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }

  Node& AddNode(std::vector<std::string> extra_args = {}) {
    const std::string dir = root_ + "/node" + std::to_string(nodes_.size());
    nodes_.push_back(std::make_unique<Node>(url_, dir, std::move(extra_args)));
    EXPECT_TRUE(nodes_.back()->d().started()) << nodes_.back()->d().Stderr();
    return *nodes_.back();
  }

  // group:g1 with files f0..f2, and users u0..u4.
  uint64_t LoadBase(Node& n) {
    uint64_t r = 0;
    auto put = [&](const std::string& target, const std::string& body) {
      Response resp = n.Put(target, body);
      EXPECT_EQ(resp.status, 200) << target << " " << resp.body;
      r = RevisionOf(resp);
    };
    put("/v1/resources/group/g1", "");
    for (int f = 0; f < 3; ++f) {
      put("/v1/resources/file/f" + std::to_string(f), R"({"parent":"group:g1"})");
    }
    for (int u = 0; u < 5; ++u) put("/v1/subjects/user/u" + std::to_string(u), "");
    return r;
  }

  // The export of a node, read at `at_least` or later.
  static std::string Export(Node& n, uint64_t at_least) {
    Response r;
    for (int i = 0; i < 10; ++i) {  // as Node::Check
      Connection c(n.d().port());
      r = c.Request(
          "GET", "/v1/export", "", Daemon::kAdminToken,
          {"X-Portcullis-At-Least-Revision: " + std::to_string(at_least)});
      if (r.status != 503) break;
    }
    EXPECT_EQ(r.status, 200) << r.body;
    return r.body;
  }

  // `portcullis verify` on a node's (stopped) store: its indexes, then,
  // with --source, that it holds exactly the source's records.
  int Verify(const std::string& data_dir) {
    const std::string bin = PORTCULLIS_BINARY;
    const std::string quiet = " >" + root_ + "/verify.out 2>&1";
    const int local =
        std::system((bin + " verify --data " + data_dir + quiet).c_str());
    if (local != 0) return local;
    return std::system((bin + " verify --source " + url_ + " --data " +
                        data_dir + quiet)
                           .c_str());
  }

  std::string Sql(const std::string& sql) {
    return server->Sql(database_, sql);
  }

  std::string url_;
  std::string database_;
  std::string root_;
  std::vector<std::unique_ptr<Node>> nodes_;
};

TEST_F(ClusterE2E, AWriteAtOneNodeIsReadAtTheOthers) {
  Node& a = AddNode();
  Node& b = AddNode();
  Node& c = AddNode();
  LoadBase(a);
  Response w = a.Put("/v1/bindings",
                     R"({"subject":"user:u0","resource":"group:g1","roles":["member"]})");
  ASSERT_EQ(w.status, 200) << w.body;
  const uint64_t rev = RevisionOf(w);
  ASSERT_GT(rev, 0u);
  for (Node* n : {&b, &c}) {
    Response r = n->Check("u0", "f1", rev);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_NE(r.body.find("\"allowed\":true"), std::string::npos) << r.body;
    EXPECT_GE(RevisionOf(r), rev);
  }
  // AuthZEN, with the header.
  Connection conn(c.d().port());
  Response z = conn.Request(
      "POST", "/access/v1/evaluation",
      R"({"subject":{"type":"user","id":"u0"},"action":{"name":"view"},)"
      R"("resource":{"type":"file","id":"f2"}})",
      Daemon::kCheckToken,
      {"Content-Type: application/json",
       "X-Portcullis-At-Least-Revision: " + std::to_string(rev)});
  ASSERT_EQ(z.status, 200) << z.body;
  EXPECT_NE(z.body.find("\"decision\":true"), std::string::npos) << z.body;
  // A revision no node has: 503 with the lag, not a stale answer.
  Response ahead = b.CheckOnce("u0", "f1", rev + 1000);
  EXPECT_EQ(ahead.status, 503) << ahead.body;
  EXPECT_NE(ahead.body.find("\"lag_revisions\""), std::string::npos);
  // Readiness and metrics say where each replica is.
  Response ready = c.d().Call("GET", "/readyz");
  EXPECT_EQ(ready.status, 200);
  EXPECT_NE(ready.body.find("\"source_reachable\":true"), std::string::npos)
      << ready.body;
  Response metrics = c.d().Call("GET", "/metrics");
  EXPECT_NE(metrics.body.find("portcullis_replica_lag_revisions 0"),
            std::string::npos)
      << metrics.body;
  EXPECT_EQ(Sql("SELECT revision FROM portcullis_head"), std::to_string(rev));
}

TEST_F(ClusterE2E, RandomWritesAtThreeNodesAgreeWithAModel) {
  Node* nodes[3] = {&AddNode(), &AddNode(), &AddNode()};
  uint64_t rev = LoadBase(*nodes[0]);
  std::mt19937 rng(20261205);
  bool member[5] = {};
  bool restricted[5][3] = {};
  for (int step = 0; step < 60; ++step) {
    Node& writer = *nodes[rng() % 3];
    const int u = static_cast<int>(rng() % 5);
    const int f = static_cast<int>(rng() % 3);
    const std::string user = "user:u" + std::to_string(u);
    Response w;
    if (rng() % 2 == 0) {
      member[u] = !member[u];
      w = writer.Put("/v1/bindings",
                     R"({"subject":")" + user +
                         R"(","resource":"group:g1","roles":[)" +
                         (member[u] ? R"("member")" : "") + "]}");
    } else {
      restricted[u][f] = !restricted[u][f];
      w = writer.Put("/v1/restrictions",
                     R"({"subject":")" + user + R"(","resource":"file:f)" +
                         std::to_string(f) + R"(","actions":[)" +
                         (restricted[u][f] ? R"("view")" : "") + "]}");
    }
    ASSERT_EQ(w.status, 200) << w.body;
    const uint64_t got = RevisionOf(w);
    ASSERT_EQ(got, rev + 1) << "revisions are gap-free";
    rev = got;
    // Read at a random node at the acknowledged revision.
    Node& reader = *nodes[rng() % 3];
    const int ru = static_cast<int>(rng() % 5);
    const int rf = static_cast<int>(rng() % 3);
    Response r = reader.Check("u" + std::to_string(ru),
                              "f" + std::to_string(rf), rev);
    ASSERT_EQ(r.status, 200) << r.body;
    const bool expected = member[ru] && !restricted[ru][rf];
    EXPECT_NE(r.body.find(expected ? "\"allowed\":true" : "\"allowed\":false"),
              std::string::npos)
        << "step " << step << " u" << ru << " f" << rf << ": " << r.body;
  }
  // Every node answers every question as the model does, and holds the
  // same records.
  const std::string first = Export(*nodes[0], rev);
  for (Node* n : nodes) {
    for (int u = 0; u < 5; ++u) {
      for (int f = 0; f < 3; ++f) {
        Response r = n->Check("u" + std::to_string(u), "f" + std::to_string(f),
                              rev);
        const bool expected = member[u] && !restricted[u][f];
        EXPECT_NE(
            r.body.find(expected ? "\"allowed\":true" : "\"allowed\":false"),
            std::string::npos)
            << r.body;
      }
    }
    EXPECT_EQ(Export(*n, rev), first);
  }
  for (Node* n : nodes) {
    n->Stop();
    EXPECT_EQ(Verify(n->data_dir()), 0);
  }
}

TEST_F(ClusterE2E, WithoutPostgresReadsGoOnAndWritesAre503) {
  Node& a = AddNode();
  Node& b = AddNode();
  const uint64_t rev = LoadBase(a);
  ASSERT_EQ(b.Check("u0", "f0", rev).status, 200);
  server->Stop();
  // Reads: answered from the replica.
  for (Node* n : {&a, &b}) {
    Response r = n->Check("u0", "f0", rev);
    EXPECT_EQ(r.status, 200) << r.body;
  }
  // Writes: refused, clearly.
  Response w = a.Put("/v1/resources/file/f9", R"({"parent":"group:g1"})");
  EXPECT_EQ(w.status, 503) << w.body;
  EXPECT_NE(w.body.find("writes are refused"), std::string::npos) << w.body;
  // The follower notices within its poll interval and says so.
  bool unreachable = false;
  for (int i = 0; i < 50 && !unreachable; ++i) {
    Response ready = b.d().Call("GET", "/readyz");
    unreachable =
        ready.body.find("\"source_reachable\":false") != std::string::npos;
    if (!unreachable) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(unreachable);
  // ...and so does every decision answer, with how long it has been.
  Response stale = b.Check("u0", "f0", rev);
  EXPECT_EQ(stale.status, 200) << stale.body;
  EXPECT_NE(stale.body.find("\"stale_ms\":"), std::string::npos)
      << stale.body;
  ASSERT_EQ(server->Restart(), "");
  // Writes work again once the node reconnects; the others catch up.
  Response again;
  for (int i = 0; i < 100; ++i) {
    again = a.Put("/v1/resources/file/f9", R"({"parent":"group:g1"})");
    if (again.status == 200) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(RevisionOf(again), rev + 1);  // the refused write took nothing
  Response r;
  for (int i = 0; i < 10; ++i) {  // as Node::Check
    Connection c(b.d().port());
    r = c.Request("GET", "/v1/resources/file/f9", "", Daemon::kAdminToken,
                  {"X-Portcullis-At-Least-Revision: " +
                   std::to_string(rev + 1)});
    if (r.status != 503) break;
  }
  EXPECT_EQ(r.status, 200) << r.body;
  // In touch again (it read revision rev + 1 from the source): not stale.
  Response fresh = b.Check("u0", "f0", rev + 1);
  EXPECT_EQ(fresh.status, 200) << fresh.body;
  EXPECT_EQ(fresh.body.find("stale_ms"), std::string::npos) << fresh.body;
}

// PostgreSQL crashes and comes back while a client keeps writing at one
// node and reading at the other: reads never fail, writes fail only while
// it is away, and every acknowledged write is at both nodes afterwards.
TEST_F(ClusterE2E, NothingAcknowledgedIsLostWhenPostgresStopsUnderLoad) {
  Node& a = AddNode();
  Node& b = AddNode();
  const uint64_t base = LoadBase(a);
  std::atomic<bool> stop{false};
  std::vector<std::string> acknowledged;
  int refused = 0, unanswered = 0;
  std::thread writer([&] {
    for (int i = 0; !stop.load(); ++i) {
      const std::string id = "load" + std::to_string(i);
      Response w = a.Put("/v1/resources/file/" + id, R"({"parent":"group:g1"})");
      if (w.status == 200) {
        acknowledged.push_back(id);
      } else if (w.status == 503) {
        ++refused;
      } else {
        ++unanswered;
      }
    }
  });
  int reads = 0, failed_reads = 0;
  auto read_for = [&](std::chrono::milliseconds how_long) {
    const auto until = std::chrono::steady_clock::now() + how_long;
    while (std::chrono::steady_clock::now() < until) {
      ++reads;
      if (b.CheckOnce("u0", "f0", base).status != 200) ++failed_reads;
    }
  };
  read_for(std::chrono::milliseconds(300));
  server->Stop();
  read_for(std::chrono::milliseconds(700));
  ASSERT_EQ(server->Restart(), "");
  read_for(std::chrono::milliseconds(1500));
  stop.store(true);
  writer.join();
  EXPECT_EQ(failed_reads, 0) << "of " << reads;
  EXPECT_GT(refused, 0);
  EXPECT_EQ(unanswered, 0);
  ASSERT_FALSE(acknowledged.empty());
  // Writes work again, and both nodes hold every acknowledged one.
  Response last;
  for (int i = 0; i < 100; ++i) {
    last = a.Put("/v1/resources/file/after", R"({"parent":"group:g1"})");
    if (last.status == 200) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(last.status, 200) << last.body;
  const uint64_t rev = RevisionOf(last);
  const std::string exported = Export(b, rev);
  for (const std::string& id : acknowledged) {
    EXPECT_NE(exported.find("\"id\":\"" + id + "\""), std::string::npos) << id;
  }
  EXPECT_EQ(Export(a, rev), exported);
}

TEST_F(ClusterE2E, AKilledFollowerResumesWhereItWas) {
  Node& a = AddNode();
  Node& b = AddNode();
  uint64_t rev = LoadBase(a);
  // Writes keep coming while b is killed and restarted.
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> last{rev};
  std::thread writer([&] {
    for (int i = 0; !stop.load() && i < 400; ++i) {
      Response w = a.Put("/v1/resources/file/w" + std::to_string(i),
                         R"({"parent":"group:g1"})");
      if (w.status == 200) last.store(RevisionOf(w));
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  b.Kill();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  b.Start();
  ASSERT_TRUE(b.d().started()) << b.d().Stderr();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  stop.store(true);
  writer.join();
  rev = last.load();
  EXPECT_EQ(b.d().Stderr().find("bootstrapping"), std::string::npos)
      << "resumed from its own revision, not a new snapshot: "
      << b.d().Stderr();
  EXPECT_EQ(Export(b, rev), Export(a, rev));
  b.Stop();
  EXPECT_EQ(Verify(b.data_dir()), 0);
}

TEST_F(ClusterE2E, AChangeLogPrunedPastANodeMeansANewBootstrap) {
  Node& a = AddNode();
  Node& b = AddNode();
  uint64_t rev = LoadBase(a);
  ASSERT_EQ(b.Check("u0", "f0", rev).status, 200);
  b.Stop();
  for (int i = 0; i < 5; ++i) {
    Response w = a.Put("/v1/resources/file/p" + std::to_string(i),
                       R"({"parent":"group:g1"})");
    ASSERT_EQ(w.status, 200);
    rev = RevisionOf(w);
  }
  Sql("DELETE FROM portcullis_changes WHERE revision < " +
      std::to_string(rev));
  b.Start();
  ASSERT_TRUE(b.d().started()) << b.d().Stderr();
  EXPECT_NE(b.d().Stderr().find("bootstrapping again"), std::string::npos)
      << b.d().Stderr();
  Response metrics = b.d().Call("GET", "/metrics");
  EXPECT_NE(metrics.body.find("portcullis_replica_rebootstraps_total 1"),
            std::string::npos)
      << metrics.body;
  EXPECT_EQ(Export(b, rev), Export(a, rev));
  b.Stop();
  EXPECT_EQ(Verify(b.data_dir()), 0);
}

// Reads that wait for a revision the replica does not hold yet hold no I/O
// thread: many of them wait at once while plain checks are answered at
// once, and they are answered as soon as the revision is applied, long
// before their deadline (timeouts.revision_wait_ms).
TEST_F(ClusterE2E, ReadsWaitingForARevisionHoldNoThread) {
  Node& a = AddNode();
  // A deadline far beyond the bounds below, so that a read answered at its
  // deadline (not on apply) fails them even on a loaded machine.
  const std::string config = WriteFile(root_ + "/slow-wait.yaml",
                                       "timeouts:\n  revision_wait_ms: 20000\n");
  Node& b = AddNode({"--config", config});
  const uint64_t base = LoadBase(a);
  ASSERT_EQ(b.Check("u2", "f0", base).status, 200);
  constexpr int kWaiting = 64;  // the daemon has 2 I/O threads
  const std::string ask = Connection::Format(
      "POST", "/v1/check",
      R"({"subject":"user:u2","action":"view","resource":"file:f0","at_least_revision":")" +
          std::to_string(base + 1) + R"("})",
      Daemon::kCheckToken, {"Content-Type: application/json"});
  std::vector<std::unique_ptr<Connection>> waiting;
  for (int i = 0; i < kWaiting; ++i) {
    waiting.push_back(std::make_unique<Connection>(b.d().port()));
    ASSERT_TRUE(waiting.back()->SendRaw(ask));
  }
  // An export waits the same way, and is streamed once woken.
  Connection export_wait(b.d().port());
  ASSERT_TRUE(export_wait.SendRaw(Connection::Format(
      "GET", "/v1/export", "", Daemon::kAdminToken,
      {"X-Portcullis-At-Least-Revision: " + std::to_string(base + 1)})));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 5; ++i) {
    Response plain = b.CheckOnce("u0", "f0", 0);
    ASSERT_EQ(plain.status, 200) << plain.body;
  }
  const auto plain_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::steady_clock::now() - t0)
                            .count();
  EXPECT_LT(plain_ms, 5000) << "plain checks waited behind waiting reads";
  Response w = a.Put("/v1/bindings",
                     R"({"subject":"user:u2","resource":"group:g1","roles":["member"]})");
  ASSERT_EQ(w.status, 200) << w.body;
  const auto t1 = std::chrono::steady_clock::now();
  for (auto& c : waiting) {
    Response r = c->Read();
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_NE(r.body.find("\"allowed\":true"), std::string::npos) << r.body;
  }
  const auto woken_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::steady_clock::now() - t1)
                            .count();
  EXPECT_LT(woken_ms, 5000) << "answered at the deadline, not on apply";
  Response exported = export_wait.Read();
  ASSERT_EQ(exported.status, 200) << exported.body;
  EXPECT_NE(exported.body.find(R"("subject":"user:u2","resource":"group:g1")"),
            std::string::npos)
      << exported.body;
}

// Writes do not hold I/O threads: a node with the default two carries
// many concurrent writes in one PostgreSQL transaction (group commit).
TEST_F(ClusterE2E, ConcurrentWritesAtANodeShareSourceTransactions) {
  Node& a = AddNode();
  const uint64_t base = LoadBase(a);
  constexpr int kClients = 16, kEach = 10;
  std::vector<std::thread> clients;
  std::atomic<int> failed{0};
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      Connection conn(a.d().port());
      for (int i = 0; i < kEach; ++i) {
        Response w = conn.Request(
            "PUT",
            "/v1/resources/file/c" + std::to_string(c) + "_" + std::to_string(i),
            R"({"parent":"group:g1"})", Daemon::kAdminToken,
            {"Content-Type: application/json"});
        if (w.status != 200) ++failed;
      }
    });
  }
  for (std::thread& t : clients) t.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(Sql("SELECT revision FROM portcullis_head"),
            std::to_string(base + kClients * kEach));
  const int transactions = std::stoi(
      Sql("SELECT count(DISTINCT xmin::text) FROM portcullis_changes WHERE "
          "revision > " + std::to_string(base)));
  // With writes on the I/O threads, at most 2 per transaction (80 or more).
  EXPECT_LT(transactions, kClients * kEach / 3) << transactions;
}

// The node that writes dies by SIGKILL right after PostgreSQL's COMMIT,
// before its own commit and its answer (a fault-injection switch that the
// daemon reads from its environment, set for this test only): the client
// gets no answer, yet the write is made: at the source, at the other node,
// and at the writer once it restarts (from the change log). A client that
// must know reads it back, e.g. at the source's head revision.
TEST_F(ClusterE2E, AWriterKilledAfterTheSourceCommitLeavesTheWriteEverywhere) {
  Node& a = AddNode();
  Node& b = AddNode();
  const uint64_t base = LoadBase(a);
  ASSERT_EQ(b.Check("u1", "f0", base).status, 200);
  a.Stop();
  ::setenv("PORTCULLIS_TEST_KILL_AFTER_SOURCE_COMMIT", "1", 1);
  a.Start();
  ::unsetenv("PORTCULLIS_TEST_KILL_AFTER_SOURCE_COMMIT");
  ASSERT_TRUE(a.d().started()) << a.d().Stderr();
  Response w = a.Put("/v1/bindings",
                     R"({"subject":"user:u1","resource":"group:g1","roles":["member"]})");
  EXPECT_EQ(w.status, 0) << "answered, though it died first: " << w.body;
  EXPECT_EQ(a.d().Wait(10000), 128 + SIGKILL);
  EXPECT_EQ(Sql("SELECT revision FROM portcullis_head"),
            std::to_string(base + 1));
  Response r = b.Check("u1", "f0", base + 1);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("\"allowed\":true"), std::string::npos) << r.body;
  a.Start();
  ASSERT_TRUE(a.d().started()) << a.d().Stderr();
  EXPECT_EQ(a.d().Stderr().find("bootstrapping"), std::string::npos)
      << "resumed from its own revision: " << a.d().Stderr();
  r = a.Check("u1", "f0", base + 1);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("\"allowed\":true"), std::string::npos) << r.body;
  EXPECT_EQ(Export(a, base + 1), Export(b, base + 1));
  for (Node* n : {&a, &b}) {
    n->Stop();
    EXPECT_EQ(Verify(n->data_dir()), 0);
  }
}

// A running node that the change log no longer reaches (it was cut off,
// here stopped with SIGSTOP, while the log was pruned past it) replaces its
// store with a snapshot in one transaction, says so in its log and metrics,
// and its decision index rebuilds itself.
TEST_F(ClusterE2E, ARunningNodePastTheChangeLogBootstrapsAgainInPlace) {
  Node& a = AddNode();
  Node& b = AddNode();
  uint64_t rev = LoadBase(a);
  ASSERT_EQ(b.Check("u3", "f0", rev).status, 200);
  b.d().Signal(SIGSTOP);
  for (int i = 0; i < 3; ++i) {
    Response w = a.Put("/v1/resources/file/p" + std::to_string(i),
                       R"({"parent":"group:g1"})");
    ASSERT_EQ(w.status, 200) << w.body;
  }
  Response w = a.Put("/v1/bindings",
                     R"({"subject":"user:u3","resource":"group:g1","roles":["member"]})");
  ASSERT_EQ(w.status, 200) << w.body;
  rev = RevisionOf(w);
  Sql("DELETE FROM portcullis_changes WHERE revision < " +
      std::to_string(rev));
  b.d().Signal(SIGCONT);
  Response r = b.Check("u3", "p1", rev);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("\"allowed\":true"), std::string::npos) << r.body;
  EXPECT_NE(b.d().Stderr().find("bootstrapping again, in place"),
            std::string::npos)
      << b.d().Stderr();
  Response metrics = b.d().Call("GET", "/metrics");
  EXPECT_NE(metrics.body.find("portcullis_replica_rebootstraps_total 1"),
            std::string::npos)
      << metrics.body;
  EXPECT_NE(metrics.body.find("portcullis_replica_stuck 0"), std::string::npos);
  // The decision index saw a change set that follows nothing and rebuilt
  // itself at the new revision.
  const std::string ready = "portcullis_decision_index_ready 1";
  const std::string at = "portcullis_decision_index_revision " +
                         std::to_string(rev) + "\n";
  for (int i = 0; i < 100; ++i) {
    metrics = b.d().Call("GET", "/metrics");
    if (metrics.body.find(ready) != std::string::npos &&
        metrics.body.find(at) != std::string::npos) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_NE(metrics.body.find(ready), std::string::npos) << metrics.body;
  EXPECT_NE(metrics.body.find(at), std::string::npos) << metrics.body;
  EXPECT_NE(b.d().Stderr().find("rebuilding"), std::string::npos)
      << b.d().Stderr();
  EXPECT_EQ(Export(b, rev), Export(a, rev));
  b.Stop();
  EXPECT_EQ(Verify(b.data_dir()), 0);
}

TEST_F(ClusterE2E, ImportAndExportGoStraightToTheSource) {
  const std::string bin = PORTCULLIS_BINARY;
  const std::string jsonl = root_ + "/in.jsonl";
  WriteFile(jsonl,
            "{\"kind\":\"resource\",\"type\":\"group\",\"id\":\"g1\"}\n"
            "{\"kind\":\"resource\",\"type\":\"file\",\"id\":\"f1\","
            "\"parent\":\"group:g1\"}\n");
  ASSERT_EQ(std::system((bin + " import --source " + url_ + " " + jsonl +
                         " >" + root_ + "/import.out 2>&1")
                            .c_str()),
            0);
  EXPECT_EQ(Sql("SELECT count(*) FROM portcullis_records"), "2");
  Node& a = AddNode();
  Response r = a.d().Call("GET", "/v1/resources/file/f1");
  EXPECT_EQ(r.status, 200) << r.body;
  const std::string out = root_ + "/export.jsonl";
  ASSERT_EQ(std::system((bin + " export --source " + url_ + " >" + out +
                         " 2>/dev/null")
                            .c_str()),
            0);
  std::ifstream in(out);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(text.str(), Export(a, 1));
}

TEST_F(ClusterE2E, AnUnreachableSourceWithNoReplicaFailsStartUp) {
  Node bad("postgresql://postgres@127.0.0.1:1/nowhere", root_ + "/bad");
  EXPECT_FALSE(bad.d().started());
  EXPECT_EQ(bad.d().Wait(10000), 2);  // kExitError
  EXPECT_NE(bad.d().Stderr().find("no local replica"), std::string::npos)
      << bad.d().Stderr();
}

}  // namespace
}  // namespace portcullis::e2e
