// Authorization safety and fail-closed start-up against the real daemon:
// every endpoint refuses a request without a valid token of the right scope,
// a check-scope token cannot write or reload, tokens never reach the logs,
// errors do not leak other tenants' data, evaluation errors deny, and a
// policy that does not load keeps the daemon from starting at all.
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
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
