// End-to-end: the real daemon, over HTTP.
#include <signal.h>

#include <gtest/gtest.h>
#include <unistd.h>
#include <rapidjson/document.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <thread>

#include "tests/e2e/daemon.h"

namespace portcullis::e2e {
namespace {

const char* kPolicy = R"(name: e2e
subjects:
  user: {}
resources:
  group:
    actions: [view_group, invite_members]
  file:
    parents: [group]
    actions: [view, edit]
    attributes:
      public: bool
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
  - name: public_files
    effect: allow
    actions: [view]
    on: [file]
    when: resource.public == true
)";

rapidjson::Document Json(const Response& r) {
  rapidjson::Document d;
  d.Parse(r.body.data(), r.body.size());
  EXPECT_FALSE(d.HasParseError()) << r.body;
  return d;
}

class E2E : public ::testing::Test {
 protected:
  void SetUp() override {
    daemon_ = std::make_unique<Daemon>(kPolicy);
    ASSERT_TRUE(daemon_->started())
        << daemon_->startup_line() << "\n" << daemon_->Stderr();
  }
  void Seed() {
    ASSERT_EQ(D().Call("PUT", "/v1/resources/group/g1").status, 200);
    ASSERT_EQ(D().Call("PUT", "/v1/resources/file/f1",
                       R"({"parent":"group:g1","attributes":{"public":false}})")
                  .status,
              200);
    ASSERT_EQ(D().Call("PUT", "/v1/resources/file/f2",
                       R"({"parent":"group:g1","attributes":{"public":false}})")
                  .status,
              200);
    ASSERT_EQ(D().Call("PUT", "/v1/subjects/user/alice",
                       R"({"attributes":{"email":"alice@example.org"}})")
                  .status,
              200);
    ASSERT_EQ(D().Call("PUT", "/v1/bindings",
                       R"({"subject":"user:alice","resource":"group:g1","roles":["member"]})")
                  .status,
              200);
  }
  Daemon& D() { return *daemon_; }
  std::unique_ptr<Daemon> daemon_;
};

TEST_F(E2E, StartupLineNamesPortPolicyAndRevision) {
  EXPECT_NE(D().startup_line().find("policy e2e version"), std::string::npos);
  EXPECT_NE(D().startup_line().find("store revision 0"), std::string::npos);
  EXPECT_GT(D().port(), 0);
}

TEST_F(E2E, HealthReadyAndMetrics) {
  EXPECT_EQ(D().Call("GET", "/healthz", "", "").status, 200);
  EXPECT_EQ(D().Call("GET", "/readyz", "", "").status, 200);
  Response m = D().Call("GET", "/metrics", "", Daemon::kCheckToken);
  EXPECT_EQ(m.status, 200);
  EXPECT_NE(m.body.find("portcullis_open_connections"), std::string::npos);
  EXPECT_NE(m.headers["content-type"].find("text/plain"), std::string::npos);
}

TEST_F(E2E, AuthenticationAndScopes) {
  const std::string check =
      R"({"subject":"user:alice","action":"view","resource":"file:f1"})";
  Response r = D().Call("POST", "/v1/check", check, "");
  EXPECT_EQ(r.status, 401);
  EXPECT_NE(r.headers["www-authenticate"].find("Bearer"), std::string::npos);
  EXPECT_STREQ(Json(r)["error"]["code"].GetString(), "UNAUTHENTICATED");
  EXPECT_EQ(D().Call("POST", "/v1/check", check, "not-a-real-token-123456").status,
            401);
  EXPECT_EQ(D().Call("POST", "/v1/check", check, Daemon::kCheckToken).status,
            200);
  EXPECT_EQ(D().Call("PUT", "/v1/resources/group/g9", "", Daemon::kCheckToken)
                .status,
            403);
  EXPECT_EQ(D().Call("POST", "/v1/policy/reload", "", Daemon::kCheckToken)
                .status,
            403);
  EXPECT_EQ(D().Call("GET", "/v1/export", "", Daemon::kCheckToken).status, 403);
}

TEST_F(E2E, WritesDriveChecksBatchesActionsAndLookups) {
  Seed();
  const std::string tok = Daemon::kCheckToken;
  Response r = D().Call("POST", "/v1/check",
                        R"({"subject":"user:alice","action":"view","resource":"file:f1","explain":true})",
                        tok);
  ASSERT_EQ(r.status, 200) << r.body;
  auto d = Json(r);
  EXPECT_TRUE(d["allowed"].GetBool());
  EXPECT_STREQ(d["reason"]["code"].GetString(), "granted_by_role");
  EXPECT_STREQ(d["revision"].GetString(), "5");
  EXPECT_TRUE(d["trace"].IsArray());
  // A check on an unknown subject is a 200 deny.
  d = Json(D().Call("POST", "/v1/check",
                    R"({"subject":"user:zed","action":"view","resource":"file:f1"})", tok));
  EXPECT_FALSE(d["allowed"].GetBool());

  // Restrict f2, raise on f1.
  ASSERT_EQ(D().Call("PUT", "/v1/restrictions",
                     R"({"subject":"user:alice","resource":"file:f2","actions":["*"]})")
                .status,
            200);
  ASSERT_EQ(D().Call("PUT", "/v1/bindings",
                     R"({"subject":"user:alice","resource":"file:f1","roles":["editor"]})")
                .status,
            200);
  d = Json(D().Call("POST", "/v1/check/batch", R"({"checks":[
      {"subject":"user:alice","action":"edit","resource":"file:f1"},
      {"subject":"user:alice","action":"edit","resource":"file:f2"},
      {"subject":"user:alice","action":"view","resource":"file:f2"},
      {"subject":"bad","action":"view","resource":"file:f2"}]})", tok));
  ASSERT_EQ(d["results"].Size(), 4u);
  EXPECT_TRUE(d["results"][0]["allowed"].GetBool());
  EXPECT_FALSE(d["results"][1]["allowed"].GetBool());
  EXPECT_STREQ(d["results"][2]["reason"]["code"].GetString(), "restricted");
  EXPECT_STREQ(d["results"][3]["error"]["field"].GetString(), "checks[3].subject");

  d = Json(D().Call("POST", "/v1/actions",
                    R"({"subject":"user:alice","resource":"file:f1"})", tok));
  ASSERT_EQ(d["actions"].Size(), 2u);

  d = Json(D().Call("POST", "/v1/lookup/resources",
                    R"({"subject":"user:alice","action":"view","type":"file"})", tok));
  ASSERT_EQ(d["resources"].Size(), 1u);
  EXPECT_STREQ(d["resources"][0].GetString(), "file:f1");
  EXPECT_STREQ(d["next_page_token"].GetString(), "");
  d = Json(D().Call("POST", "/v1/lookup/subjects",
                    R"({"action":"view","resource":"file:f1"})", tok));
  ASSERT_EQ(d["subjects"].Size(), 1u);
  EXPECT_STREQ(d["subjects"][0].GetString(), "user:alice");

  d = Json(D().Call("GET", "/v1/bindings?subject=user:alice", "", tok));
  EXPECT_EQ(d["bindings"].Size(), 2u);
  d = Json(D().Call("GET", "/v1/restrictions?resource=file:f2", "", tok));
  EXPECT_EQ(d["restrictions"].Size(), 1u);
  d = Json(D().Call("GET", "/v1/resources/file/f1", "", tok));
  EXPECT_STREQ(d["parent"].GetString(), "group:g1");
  d = Json(D().Call("GET", "/v1/subjects/user/alice", "", tok));
  EXPECT_STREQ(d["attributes"]["email"].GetString(), "alice@example.org");
  d = Json(D().Call("GET", "/v1/changes?since=5", "", tok));
  EXPECT_EQ(d["changes"].Size(), 2u);
}

TEST_F(E2E, ExportDeleteImportRoundTrip) {
  Seed();
  Response exported = D().Call("GET", "/v1/export");
  ASSERT_EQ(exported.status, 200);
  ASSERT_EQ(D().Call("DELETE", "/v1/resources/group/g1").status, 200);
  ASSERT_EQ(D().Call("DELETE", "/v1/subjects/user/alice").status, 200);
  EXPECT_EQ(D().Call("GET", "/v1/resources/file/f1").status, 404);
  Response imported = D().Call("POST", "/v1/import", exported.body);
  ASSERT_EQ(imported.status, 200) << imported.body;
  EXPECT_EQ(D().Call("GET", "/v1/export").body, exported.body);
}

// GET /v1/export is streamed (chunked) rather than built in memory: a store
// whose export is several chunks long (64 KiB each) comes back whole, in
// more than one chunk, byte-identical on a second export, on a connection
// that stays usable afterwards; a client that has not read its export yet
// holds up neither writes nor checks, and what it reads is the snapshot of
// the moment it asked.
TEST_F(E2E, ExportIsStreamedInChunks) {
  std::string jsonl = "{\"kind\":\"resource\",\"type\":\"group\",\"id\":\"g1\"}\n";
  constexpr int kFiles = 4000;
  for (int i = 0; i < kFiles; ++i) {
    jsonl += "{\"kind\":\"resource\",\"type\":\"file\",\"id\":\"file-number-" +
             std::to_string(i) +
             "\",\"parent\":\"group:g1\",\"attributes\":{\"public\":" +
             (i % 2 ? "true" : "false") + "}}\n";
  }
  for (int i = 0; i < 100; ++i) {
    jsonl += "{\"kind\":\"subject\",\"type\":\"user\",\"id\":\"u" +
             std::to_string(i) + "\"}\n";
    jsonl += "{\"kind\":\"binding\",\"subject\":\"user:u" + std::to_string(i) +
             "\",\"resource\":\"group:g1\",\"roles\":[\"member\"]}\n";
  }
  const size_t records = 1 + kFiles + 200;
  Response imported = D().Call("POST", "/v1/import", jsonl);
  ASSERT_EQ(imported.status, 200) << imported.body;
  ASSERT_GT(jsonl.size(), 4u * 64 * 1024);

  Connection c(D().port());
  ASSERT_TRUE(c.ok());
  Response first = c.Request("GET", "/v1/export", "", Daemon::kAdminToken);
  ASSERT_EQ(first.status, 200);
  EXPECT_EQ(first.headers["transfer-encoding"], "chunked");
  EXPECT_EQ(first.headers.count("content-length"), 0u);
  EXPECT_EQ(first.headers["content-type"], "application/x-ndjson");
  EXPECT_FALSE(first.headers["x-portcullis-revision"].empty());
  EXPECT_GT(first.chunks, 1);
  EXPECT_EQ(static_cast<size_t>(
                std::count(first.body.begin(), first.body.end(), '\n')),
            records);
  EXPECT_NE(first.body.find("\"id\":\"file-number-3999\""), std::string::npos);
  // The connection stays alive after the last chunk.
  EXPECT_EQ(c.Request("GET", "/healthz").status, 200);
  // Deterministic: the same store exports the same bytes.
  EXPECT_EQ(D().Call("GET", "/v1/export").body, first.body);

  // A client that asks and then does not read.
  Connection slow(D().port());
  ASSERT_TRUE(slow.ok());
  ASSERT_TRUE(slow.SendRaw(Connection::Format("GET", "/v1/export", "",
                                              Daemon::kAdminToken, {})));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  ASSERT_EQ(D().Call("PUT", "/v1/resources/file/later",
                     R"({"parent":"group:g1"})")
                .status,
            200);
  Response check = D().Call(
      "POST", "/v1/check",
      R"({"subject":"user:u1","action":"view","resource":"file:later"})",
      Daemon::kCheckToken);
  ASSERT_EQ(check.status, 200);
  EXPECT_NE(check.body.find("\"allowed\":true"), std::string::npos);
  Response late = slow.Read();
  ASSERT_EQ(late.status, 200);
  EXPECT_EQ(late.body, first.body);  // the snapshot of the moment it asked
  EXPECT_EQ(D().Call("GET", "/v1/export").body.find("\"id\":\"later\"") ==
                std::string::npos,
            false);
}

TEST_F(E2E, ErrorClasses) {
  Response r = D().Call("GET", "/v1/nowhere");
  EXPECT_EQ(r.status, 404);
  EXPECT_STREQ(Json(r)["error"]["code"].GetString(), "NOT_FOUND");
  r = D().Call("DELETE", "/v1/check");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.headers["allow"], "POST");
  r = D().Call("POST", "/v1/check", "{\"subject\":");
  EXPECT_EQ(r.status, 400);
  EXPECT_STREQ(Json(r)["error"]["code"].GetString(), "INVALID_ARGUMENT");
  r = D().Call("POST", "/v1/check", std::string(5000, '[') + std::string(5000, ']'));
  EXPECT_EQ(r.status, 400);
  r = D().Call("POST", "/v1/check", R"({"subject":"user:a","action":"view"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_STREQ(Json(r)["error"]["field"].GetString(), "resource");
  // Body over the 1 MiB default.
  r = D().Call("POST", "/v1/check", std::string(2 << 20, ' '));
  EXPECT_EQ(r.status, 413);
  EXPECT_STREQ(Json(r)["error"]["code"].GetString(), "RESOURCE_EXHAUSTED");
  // Header over the limit.
  Connection c(D().port());
  ASSERT_TRUE(c.SendRaw("GET /healthz HTTP/1.1\r\nX-Big: " +
                        std::string(64 * 1024, 'a') + "\r\n\r\n"));
  EXPECT_EQ(c.Read().status, 413);
  // Malformed HTTP.
  Connection c2(D().port());
  ASSERT_TRUE(c2.SendRaw("THIS IS NOT HTTP\r\n\r\n"));
  r = c2.Read();
  EXPECT_EQ(r.status, 400);
  EXPECT_TRUE(Json(r).HasMember("error"));
  // Conflicts from the store's rules are 4xx with a JSON error.
  r = D().Call("PUT", "/v1/resources/file/orphan", R"({"parent":"group:none"})");
  EXPECT_EQ(r.status / 100, 4);
  EXPECT_TRUE(Json(r).HasMember("error"));
}

TEST_F(E2E, KeepAliveAndPipelining) {
  Connection c(D().port());
  ASSERT_TRUE(c.ok());
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(c.Request("GET", "/healthz").status, 200);
  }
  // Three requests in one write: three answers, in order.
  std::string batch;
  for (const char* id : {"r1", "r2", "r3"}) {
    batch += Connection::Format("GET", "/healthz", "", "",
                                {std::string("X-Request-ID: ") + id});
  }
  ASSERT_TRUE(c.SendRaw(batch));
  for (const char* id : {"r1", "r2", "r3"}) {
    Response r = c.Read();
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.headers["x-request-id"], id);
  }
}

TEST_F(E2E, PolicyReloadKeepsTheGoodPolicyOnFailure) {
  Response r = D().Call("GET", "/v1/policy");
  const std::string v1 = Json(r)["version"].GetString();
  // A broken policy on disk: the reload endpoint refuses it with its errors.
  WriteFile(D().policy_path(), "name: broken\nsubjects: {user: {}}\nresources: 7\n");
  r = D().Call("POST", "/v1/policy/reload");
  EXPECT_EQ(r.status, 409);
  auto d = Json(r);
  ASSERT_TRUE(d["errors"].IsArray());
  EXPECT_GT(d["errors"][0]["line"].GetUint(), 0u);
  EXPECT_EQ(Json(D().Call("GET", "/v1/policy"))["version"].GetString(), v1);
  // So does SIGHUP; checks keep working.
  D().Signal(SIGHUP);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(D().Call("GET", "/healthz").status, 200);
  EXPECT_EQ(Json(D().Call("GET", "/v1/policy"))["version"].GetString(), v1);
  // Validate reports errors without touching the running policy.
  d = Json(D().Call("POST", "/v1/policy/validate", "name: x\nbogus: 1\n"));
  EXPECT_FALSE(d["valid"].GetBool());
  // A good change on disk: SIGHUP picks it up.
  WriteFile(D().policy_path(), std::string(kPolicy) + "description: v2\n");
  D().Signal(SIGHUP);
  std::string v2 = v1;
  for (int i = 0; i < 100 && v2 == v1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    v2 = Json(D().Call("GET", "/v1/policy"))["version"].GetString();
  }
  EXPECT_NE(v2, v1);
}

TEST_F(E2E, ChangesLongPollWakesOnWrite) {
  Connection c(D().port());
  ASSERT_TRUE(c.SendRaw(Connection::Format("GET", "/v1/changes?since=0&wait=10",
                                           "", Daemon::kCheckToken, {})));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  ASSERT_EQ(D().Call("PUT", "/v1/resources/group/g7").status, 200);
  Response r = c.Read(5000);
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(Json(r)["changes"].Size(), 1u);
}

TEST_F(E2E, SigtermDrainsInFlightRequestsAndExitsCleanly) {
  Connection c(D().port());
  // An in-flight long poll that ends after one second.
  ASSERT_TRUE(c.SendRaw(Connection::Format("GET", "/v1/changes?since=0&wait=1",
                                           "", Daemon::kCheckToken, {})));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  D().Signal(SIGTERM);
  Response r = c.Read(5000);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(D().Wait(15000), 0);
  EXPECT_NE(D().Stderr().find("draining"), std::string::npos);
}

TEST(E2EStartup, RefusesABadPolicyAndMissingTokens) {
  Daemon bad("name: broken\nresources: [\n");
  EXPECT_FALSE(bad.started());
  EXPECT_NE(bad.Wait(10000), 0);
  EXPECT_NE(bad.Stderr().find("policy"), std::string::npos);
}

TEST(E2EStartup, NoAuthIsExplicitAndAnnounced) {
  Daemon d(kPolicy, {"--no-auth"});
  ASSERT_TRUE(d.started());
  EXPECT_NE(d.startup_line().find("auth off"), std::string::npos);
  EXPECT_EQ(d.Call("POST", "/v1/check",
                   R"({"subject":"user:a","action":"view","resource":"file:f"})", "")
                .status,
            200);
  EXPECT_NE(d.Stderr().find("authentication is OFF"), std::string::npos);
}

// Timeouts are enforced by a periodic sweep (every quarter of the shortest
// timeout): an idle connection and a client that stalls inside a request are
// both disconnected after their timeout, not much later, and a client that
// keeps its requests coming is not.
TEST(E2ETimeouts, IdleAndStalledClientsAreDisconnected) {
  const std::string config_dir = ::testing::TempDir();
  const std::string config = WriteFile(
      config_dir + "/portcullis-timeouts.yaml",
      "timeouts: {read_ms: 300, write_ms: 300, idle_ms: 400}\n");
  Daemon d(kPolicy, {"--no-auth", "--config", config});
  ASSERT_TRUE(d.started()) << d.Stderr();
  auto closed_within = [](Connection& c, int ms) {
    // A read that ends (EOF) rather than timing out: the server closed.
    const auto start = std::chrono::steady_clock::now();
    Response r = c.Read(ms);
    const auto waited = std::chrono::steady_clock::now() - start;
    return r.status == 0 && waited < std::chrono::milliseconds(ms);
  };
  Connection idle(d.port());
  ASSERT_TRUE(idle.ok());
  EXPECT_EQ(idle.Request("GET", "/healthz").status, 200);
  EXPECT_TRUE(closed_within(idle, 2000));

  Connection stalled(d.port());
  ASSERT_TRUE(stalled.ok());
  ASSERT_TRUE(stalled.SendRaw("POST /v1/check HTTP/1.1\r\nHost: x\r\n"
                              "Content-Length: 100\r\n\r\n{\"subj"));
  EXPECT_TRUE(closed_within(stalled, 2000));

  Connection busy(d.port());
  ASSERT_TRUE(busy.ok());
  for (int i = 0; i < 8; ++i) {
    ASSERT_EQ(busy.Request("GET", "/healthz").status, 200) << i;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

// The access and decision logs are buffered off the request path and
// written by a flusher: every line reaches its file shortly after the
// request, and SIGTERM writes whatever is left.
TEST(E2ELogs, AccessAndDecisionLinesReachTheirFiles) {
  const std::string dir = ::testing::TempDir();
  // Names of this process's own: another checkout's suite may run at once.
  const std::string pid = std::to_string(getpid());
  const std::string access = dir + "/portcullis-e2e-access-" + pid + ".log";
  const std::string decisions =
      dir + "/portcullis-e2e-decisions-" + pid + ".log";
  std::remove(access.c_str());
  std::remove(decisions.c_str());
  const std::string config =
      WriteFile(dir + "/portcullis-logs-" + pid + ".yaml",
                "log: {access: " + access + ", decisions: " + decisions + "}\n");
  Daemon d(kPolicy, {"--no-auth", "--config", config});
  ASSERT_TRUE(d.started()) << d.Stderr();
  auto lines = [](const std::string& path) {
    std::ifstream in(path);
    std::string line;
    int n = 0;
    while (std::getline(in, line)) ++n;
    return n;
  };
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(d.Call("POST", "/v1/check",
                     R"({"subject":"user:a","action":"view","resource":"file:f"})",
                     "")
                  .status,
              200);
  }
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(5);
  // The two logs are flushed independently: wait for both.
  while ((lines(decisions) < 3 || lines(access) < 3) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(lines(decisions), 3);
  EXPECT_GE(lines(access), 3);
  ASSERT_EQ(d.Call("GET", "/healthz", "", "").status, 200);
  d.Signal(SIGTERM);
  ASSERT_EQ(d.Wait(15000), 0);
  EXPECT_EQ(lines(access), 4);  // the last one written at exit at the latest
}

}  // namespace
}  // namespace portcullis::e2e
