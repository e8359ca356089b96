#include "server/api.h"
#include "server/json.h"

#include <gtest/gtest.h>

#include <algorithm>

#include <unistd.h>

#include <filesystem>
#include <functional>
#include <thread>

#include "tests/support/temp_store.h"
#include "tests/support/test_policies.h"

namespace portcullis::server {
namespace {

constexpr const char* kCheckToken = "check-token-0123456789";
constexpr const char* kAdminToken = "admin-token-0123456789";

class ApiTest : public ::testing::Test {
 protected:
  ApiTest() : holder_(testing::MakeTestPolicy()) {
    EXPECT_TRUE(
        testing::LoadTestData(store_.get(), *holder_.Current()->policy).ok());
    api_ = MakeApi(true);
  }
  ~ApiTest() override { api_.reset(); }

  std::unique_ptr<Api> MakeApi(bool auth) {
    ApiOptions o;
    o.auth_enabled = auth;
    o.tokens.Add(Scope::kCheck, kCheckToken);
    o.tokens.Add(Scope::kAdmin, kAdminToken);
    o.max_batch = 5;
    o.decision_log = [this](std::string_view l) {
      decisions_.emplace_back(l);
    };
    PolicyAdmin admin;
    admin.load = [this](std::vector<PolicyDiagnostic>* errors)
        -> std::shared_ptr<const engine::Policy> {
      if (next_load_fails_) {
        errors->push_back({"p.yaml", 3, 7, "unknown key 'rolez'"});
        return nullptr;
      }
      return testing::MakeTestPolicy("v2");
    };
    admin.validate = [](std::string_view yaml) {
      std::vector<PolicyDiagnostic> d;
      if (yaml.find("bad") != std::string_view::npos) {
        d.push_back({"<body>", 1, 1, "bad policy"});
      }
      return d;
    };
    auto api = std::make_unique<Api>(std::move(o), &holder_, store_.get(),
                                     std::move(admin));
    api->SetReady(true);
    return api;
  }

  HttpResponse Call(std::string method, std::string path, std::string body,
                    const char* token = kAdminToken) {
    HttpRequest r;
    r.method = std::move(method);
    const size_t q = path.find('?');
    r.target = path;
    r.path = path.substr(0, q);
    if (q != std::string::npos) r.query = path.substr(q + 1);
    r.body = std::move(body);
    if (token) r.headers.emplace_back("authorization", std::string("Bearer ") + token);
    return api_->Handle(r);
  }

  static rapidjson::Document Json(const HttpResponse& r) {
    rapidjson::Document d;
    d.Parse(r.body.data(), r.body.size());
    EXPECT_FALSE(d.HasParseError()) << r.body;
    return d;
  }

  static std::string Header(const HttpResponse& r, std::string_view name) {
    for (const auto& [n, v] : r.headers) {
      if (n == name) return v;
    }
    return "";
  }

  testing::TempStore store_{"api_test"};
  PolicyHolder holder_;
  std::unique_ptr<Api> api_;
  std::vector<std::string> decisions_;
  bool next_load_fails_ = false;
};

TEST_F(ApiTest, CheckAllowsMemberWithReasonAndRevision) {
  HttpResponse r = Call("POST", "/v1/check",
                        R"({"subject":"user:alice","action":"view","resource":"file:f1"})");
  ASSERT_EQ(r.status, 200) << r.body;
  auto d = Json(r);
  EXPECT_TRUE(d["allowed"].GetBool());
  EXPECT_STREQ(d["revision"].GetString(), "1");  // the test data's write
  EXPECT_STREQ(d["policy_version"].GetString(), "v1");
  EXPECT_STREQ(d["reason"]["code"].GetString(), "granted_by_role");
  EXPECT_STREQ(d["reason"]["role"].GetString(), "member");
  EXPECT_STREQ(d["reason"]["at"].GetString(), "group:g1");
  EXPECT_TRUE(d["reason"]["message"].IsString());
  EXPECT_FALSE(d.HasMember("trace"));
  ASSERT_EQ(decisions_.size(), 1u);
  EXPECT_NE(decisions_[0].find("\"decision\":\"allow\""), std::string::npos);
}

TEST_F(ApiTest, CheckDeniesWithoutGrantAndExplainsWithTrace) {
  HttpResponse r = Call("POST", "/v1/check",
                        R"({"subject":"user:alice","action":"edit","resource":"file:f1","explain":true})");
  ASSERT_EQ(r.status, 200);
  auto d = Json(r);
  EXPECT_FALSE(d["allowed"].GetBool());
  EXPECT_STREQ(d["reason"]["code"].GetString(), "not_granted");
  ASSERT_TRUE(d["trace"].IsArray());
  EXPECT_GT(d["trace"].Size(), 0u);
  EXPECT_TRUE(d["trace"][0]["what"].IsString());
}

TEST_F(ApiTest, CheckOnUnknownEntitiesIsDenyNotError) {
  auto d = Json(Call("POST", "/v1/check",
                     R"({"subject":"user:nobody","action":"view","resource":"file:f1"})"));
  EXPECT_FALSE(d["allowed"].GetBool());
  EXPECT_STREQ(d["reason"]["code"].GetString(), "unknown_subject");
  d = Json(Call("POST", "/v1/check",
                R"({"subject":"user:alice","action":"view","resource":"file:nope"})"));
  EXPECT_FALSE(d["allowed"].GetBool());
  EXPECT_STREQ(d["reason"]["code"].GetString(), "unknown_resource");
}

TEST_F(ApiTest, CheckPassesContextToConditions) {
  // f4 is public: the allow rule grants view without a binding.
  auto d = Json(Call("POST", "/v1/check",
                     R"({"subject":"user:alice","action":"view","resource":"file:f4","context":{"a":{"b":1}}})"));
  EXPECT_TRUE(d["allowed"].GetBool());
  EXPECT_STREQ(d["reason"]["code"].GetString(), "allowed_by_rule");
  EXPECT_STREQ(d["reason"]["rule"].GetString(), "public_files");
}

TEST_F(ApiTest, CheckRejectsBadInputNamingTheField) {
  struct Case {
    const char* body;
    const char* field;
  } cases[] = {
      {R"({"action":"view","resource":"file:f1"})", "subject"},
      {R"({"subject":"alice","action":"view","resource":"file:f1"})", "subject"},
      {R"({"subject":"user:alice","action":7,"resource":"file:f1"})", "action"},
      {R"({"subject":"user:alice","action":"view","resource":"file:"})", "resource"},
      {R"({"subject":"user:alice","action":"view","resource":"file:f1","context":[]})", "context"},
      {R"({"subject":"user:alice","action":"view","resource":"file:f1","explain":"yes"})", "explain"},
  };
  for (const Case& c : cases) {
    HttpResponse r = Call("POST", "/v1/check", c.body);
    EXPECT_EQ(r.status, 400) << c.body;
    auto d = Json(r);
    EXPECT_STREQ(d["error"]["code"].GetString(), "INVALID_ARGUMENT");
    EXPECT_STREQ(d["error"]["field"].GetString(), c.field) << c.body;
  }
  EXPECT_EQ(Call("POST", "/v1/check", "{\"subject\":").status, 400);
  EXPECT_EQ(Call("POST", "/v1/check", "[1]").status, 400);
  EXPECT_EQ(Call("POST", "/v1/check", "").status, 400);
  EXPECT_EQ(Call("POST", "/v1/check", std::string(100, '[') + std::string(100, ']')).status, 400);
  EXPECT_EQ(Call("POST", "/v1/check", std::string("{\"subject\":\"\xff\"}")).status, 400);
}

TEST_F(ApiTest, AtLeastRevisionFromTheFutureIsRefused) {
  HttpResponse r = Call("POST", "/v1/check",
                        R"({"subject":"user:alice","action":"view","resource":"file:f1","at_least_revision":"5"})");
  EXPECT_EQ(r.status, 409);
  auto written = store_->Write(
      holder_.Current()->policy.get(), "", [](storage::WriteTxn& txn) {
        return txn.PutResource({"group", "g3", "", {}});
      });
  ASSERT_TRUE(written.has_value());
  ASSERT_EQ(*written, 2u);
  r = Call("POST", "/v1/check",
           R"({"subject":"user:alice","action":"view","resource":"file:f1","at_least_revision":"2"})");
  EXPECT_EQ(r.status, 200);
  EXPECT_STREQ(Json(r)["revision"].GetString(), "2");
}

TEST_F(ApiTest, AtLeastRevisionHeaderAndLookupsInTheEmbeddedMode) {
  HttpRequest r;
  r.method = "GET";
  r.target = r.path = "/v1/resources/file/f1";
  r.headers.emplace_back("authorization", std::string("Bearer ") + kAdminToken);
  r.headers.emplace_back("x-portcullis-at-least-revision", "1");
  EXPECT_EQ(api_->Handle(r).status, 200);
  r.headers.back().second = "2";
  HttpResponse future = api_->Handle(r);
  EXPECT_EQ(future.status, 409) << future.body;
  EXPECT_STREQ(Json(future)["error"]["field"].GetString(),
               "X-Portcullis-At-Least-Revision");
  r.headers.back().second = "2x";
  EXPECT_EQ(api_->Handle(r).status, 400);
  HttpResponse lookup = Call(
      "POST", "/v1/lookup/resources",
      R"({"subject":"user:alice","action":"view","type":"file","at_least_revision":"7"})");
  EXPECT_EQ(lookup.status, 409) << lookup.body;
  lookup = Call("POST", "/v1/lookup/subjects",
                R"({"action":"view","resource":"file:f1","at_least_revision":"1"})");
  EXPECT_EQ(lookup.status, 200) << lookup.body;
}

// Cluster mode: a read waits for the replica, then answers 503 with the
// lag; /readyz and /metrics report the replica.
// A replica that cannot reach its source says, in every decision answer,
// how long it has been out of touch; while it can, and in the embedded
// mode, the answers carry no such field.
TEST_F(ApiTest, DecisionAnswersCarryTheReplicaStaleness) {
  for (const int64_t stale : {int64_t{-1}, int64_t{0}, int64_t{4321}}) {
    SCOPED_TRACE(stale);
    ApiOptions o;
    o.auth_enabled = false;
    o.replica.stale_ms = [stale] { return stale; };
    Api api(std::move(o), &holder_, store_.get(), PolicyAdmin{});
    api.SetReady(true);
    auto call = [&](const std::string& path, const std::string& body) {
      HttpRequest r;
      r.method = "POST";
      r.target = r.path = path;
      r.body = body;
      r.headers.emplace_back("content-type", "application/json");
      return api.Handle(r);
    };
    const std::string check =
        R"({"subject":"user:alice","action":"view","resource":"file:f1"})";
    for (const auto& [path, body] :
         std::vector<std::pair<std::string, std::string>>{
             {"/v1/check", check},
             {"/v1/check/batch", R"({"checks":[)" + check + "]}"},
             {"/v1/actions",
              R"({"subject":"user:alice","resource":"file:f1"})"}}) {
      HttpResponse r = call(path, body);
      ASSERT_EQ(r.status, 200) << path << " " << r.body;
      rapidjson::Document d = Json(r);
      EXPECT_EQ(d.HasMember("stale_ms"), stale >= 0) << path;
      if (stale >= 0) EXPECT_EQ(d["stale_ms"].GetInt64(), stale) << path;
    }
    HttpResponse z = call(
        "/access/v1/evaluation",
        R"({"subject":{"type":"user","id":"alice"},"action":{"name":"view"},"resource":{"type":"file","id":"f1"}})");
    ASSERT_EQ(z.status, 200) << z.body;
    rapidjson::Document d = Json(z);
    EXPECT_TRUE(d["decision"].GetBool());
    EXPECT_EQ(d.HasMember("context"), stale >= 0);
    if (stale >= 0) EXPECT_EQ(d["context"]["stale_ms"].GetInt64(), stale);
  }
}

// A read whose at_least_revision the replica does not hold yet is answered
// by a long poll: no thread waits; the replica's wake makes the server run
// it again, and the deadline answers 503.
TEST_F(ApiTest, AtLeastRevisionWaitsForTheReplicaWithoutAThread) {
  ApiOptions o;
  o.auth_enabled = false;
  o.revision_wait = std::chrono::milliseconds(50);
  bool stuck = false;
  bool full = false;
  int watches = 0;
  std::function<void()> wake;
  o.replica.status = [&] {
    ReplicaStatus st;
    st.revision = store_->revision();
    st.source_revision = 9;
    st.lag_ms = 120;
    st.source_reachable = true;
    st.stuck = stuck;
    return st;
  };
  o.replica.revision = [&] { return store_->revision(); };
  o.replica.watch = [&](uint64_t, std::function<void()> w)
      -> std::shared_ptr<void> {
    ++watches;
    if (full) return nullptr;
    wake = std::move(w);
    return std::make_shared<int>(0);
  };
  Api api(std::move(o), &holder_, store_.get(), PolicyAdmin{});
  api.SetReady(true);
  auto call = [&](const std::string& path, const std::string& body) {
    HttpRequest r;
    r.method = body.empty() ? "GET" : "POST";
    r.target = r.path = path;
    r.body = body;
    return api.Handle(r);
  };
  HttpResponse r = call(
      "/v1/check",
      R"({"subject":"user:alice","action":"view","resource":"file:f1","at_least_revision":"2"})");
  ASSERT_TRUE(r.long_poll);
  EXPECT_EQ(watches, 1);
  PollWake* poll_wake = r.long_poll->wake.get();
  ASSERT_NE(poll_wake, nullptr);
  EXPECT_FALSE(r.long_poll->poll(false));  // still behind: keeps waiting
  // The replica applies revision 2 and wakes the read.
  auto w = store_->Write(nullptr, "", [](storage::WriteTxn& txn) {
    return txn.PutResource({"group", "g9", "", {}});
  });
  ASSERT_TRUE(w);
  bool woken = false;
  poll_wake->Arm([&] { woken = true; });
  ASSERT_TRUE(wake);
  wake();
  EXPECT_TRUE(woken);
  std::optional<HttpResponse> done = r.long_poll->poll(false);
  ASSERT_TRUE(done);
  EXPECT_EQ(done->status, 200) << done->body;
  EXPECT_STREQ(Json(*done)["revision"].GetString(), "2");
  EXPECT_NE(done->headers.begin(), done->headers.end());  // X-Request-ID
  // Not there by the deadline: 503 with where the replica is.
  r = call("/v1/actions",
           R"({"subject":"user:alice","resource":"file:f1","at_least_revision":"5"})");
  ASSERT_TRUE(r.long_poll);
  done = r.long_poll->poll(true);
  ASSERT_TRUE(done);
  ASSERT_EQ(done->status, 503) << done->body;
  auto d = Json(*done);
  EXPECT_STREQ(d["error"]["code"].GetString(), "unavailable");
  EXPECT_STREQ(d["at_least_revision"].GetString(), "5");
  EXPECT_STREQ(d["replica"]["revision"].GetString(), "2");
  EXPECT_EQ(d["replica"]["lag_revisions"].GetUint64(), 7u);
  EXPECT_EQ(d["replica"]["lag_ms"].GetInt64(), 120);
  r = call("/v1/check/batch",
           R"({"checks":[{"subject":"user:alice","action":"view","resource":"file:f1","at_least_revision":"3"}]})");
  ASSERT_TRUE(r.long_poll);
  done = r.long_poll->poll(true);
  ASSERT_TRUE(done);
  EXPECT_EQ(done->status, 503) << done->body;
  // Already there: answered at once, nothing registered.
  const int before = watches;
  r = call("/v1/check",
           R"({"subject":"user:alice","action":"view","resource":"file:f1","at_least_revision":"2"})");
  EXPECT_FALSE(r.long_poll);
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(watches, before);
  // Too many reads waiting already: 503 at once.
  full = true;
  r = call("/v1/check",
           R"({"subject":"user:alice","action":"view","resource":"file:f1","at_least_revision":"4"})");
  EXPECT_FALSE(r.long_poll);
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_NE(r.body.find("too many reads are waiting"), std::string::npos)
      << r.body;
  r = call("/readyz", "");
  EXPECT_EQ(r.status, 200);
  EXPECT_STREQ(Json(r)["replica"]["source_revision"].GetString(), "9");
  EXPECT_NE(call("/metrics", "").body.find("portcullis_replica_lag_revisions 7"),
            std::string::npos);
  stuck = true;
  EXPECT_EQ(call("/readyz", "").status, 503);
}

// In cluster mode a write runs on the write pool (run_write), not on the
// I/O thread: the answer is a long poll woken when the write is done.
TEST_F(ApiTest, WritesRunOffTheIoThreadWhenAPoolIsGiven) {
  ApiOptions o;
  o.auth_enabled = false;
  std::vector<std::function<void()>> tasks;
  o.replica.run_write = [&](std::function<void()> task) {
    tasks.push_back(std::move(task));
  };
  Api api(std::move(o), &holder_, store_.get(), PolicyAdmin{});
  api.SetReady(true);
  HttpRequest put;
  put.method = "PUT";
  put.target = put.path = "/v1/resources/group/g7";
  put.body = "{}";
  HttpResponse r = api.Handle(put);
  ASSERT_TRUE(r.long_poll);
  ASSERT_EQ(tasks.size(), 1u);
  EXPECT_FALSE(r.long_poll->poll(false));  // not run yet
  bool woken = false;
  r.long_poll->wake->Arm([&] { woken = true; });
  std::thread worker(tasks[0]);
  worker.join();
  EXPECT_TRUE(woken);
  std::optional<HttpResponse> done = r.long_poll->poll(false);
  ASSERT_TRUE(done);
  EXPECT_EQ(done->status, 200) << done->body;
  auto view = store_->Read();
  ASSERT_TRUE(view);
  EXPECT_TRUE(view->GetResource({"group", "g7"}));
  // Reads stay on the I/O thread.
  HttpRequest get;
  get.method = "GET";
  get.target = get.path = "/v1/resources/group/g7";
  r = api.Handle(get);
  EXPECT_FALSE(r.long_poll);
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(tasks.size(), 1u);
}

TEST_F(ApiTest, BatchAnswersInOrderWithPerItemErrors) {
  HttpResponse r = Call("POST", "/v1/check/batch", R"({"checks":[
      {"subject":"user:alice","action":"view","resource":"file:f1"},
      {"subject":"user:alice","action":"view"},
      {"subject":"user:bob","action":"edit","resource":"file:f2"},
      {"subject":"user:carol","action":"view","resource":"group:g1"}]})");
  ASSERT_EQ(r.status, 200) << r.body;
  auto d = Json(r);
  const auto& results = d["results"];
  ASSERT_EQ(results.Size(), 4u);
  EXPECT_TRUE(results[0]["allowed"].GetBool());
  EXPECT_FALSE(results[1]["allowed"].GetBool());
  EXPECT_STREQ(results[1]["error"]["field"].GetString(), "checks[1].resource");
  EXPECT_TRUE(results[2]["allowed"].GetBool());
  EXPECT_FALSE(results[3]["allowed"].GetBool());
  EXPECT_STREQ(results[3]["reason"]["code"].GetString(), "binding_pending");
}

// Batch items share memoized reasons (ReasonCache): every item must still
// answer exactly what the same check alone answers, repeated or not.
TEST_F(ApiTest, BatchItemsAnswerWhatSingleChecksAnswer) {
  const std::vector<std::string> checks = {
      R"({"subject":"user:alice","action":"view","resource":"file:f1"})",
      R"({"subject":"user:alice","action":"view","resource":"file:f1"})",
      R"({"subject":"user:alice","action":"edit","resource":"file:f1"})",
      R"({"subject":"user:bob","action":"edit","resource":"file:f2"})",
      R"({"subject":"user:alice","action":"view","resource":"file:f4"})",
      R"({"subject":"user:carol","action":"view","resource":"group:g1"})",
      R"({"subject":"user:nobody","action":"view","resource":"file:f1"})",
      R"({"subject":"user:alice","action":"view","resource":"file:nope"})",
      R"({"subject":"user:alice","action":"view","resource":"file:f2"})",
      R"({"subject":"user:bob","action":"view","resource":"file:f1"})",
      R"({"subject":"user:alice","action":"view","resource":"file:f1"})"};
  auto serialize = [](const rapidjson::Value& v) {
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    v.Accept(w);
    return std::string(buf.GetString(), buf.GetSize());
  };
  for (size_t start = 0; start < checks.size(); start += 5) {
    std::string body = "{\"checks\":[";
    for (size_t i = start; i < std::min(checks.size(), start + 5); ++i) {
      if (i > start) body += ",";
      body += checks[i];
    }
    body += "]}";
    auto batch = Json(Call("POST", "/v1/check/batch", body));
    ASSERT_TRUE(batch["results"].IsArray()) << body;
    for (size_t i = start; i < std::min(checks.size(), start + 5); ++i) {
      auto single = Json(Call("POST", "/v1/check", checks[i]));
      const auto& item = batch["results"][static_cast<unsigned>(i - start)];
      EXPECT_EQ(item["allowed"].GetBool(), single["allowed"].GetBool())
          << checks[i];
      EXPECT_EQ(serialize(item["reason"]), serialize(single["reason"]))
          << checks[i];
    }
  }
  auto bad = Json(Call("POST", "/v1/check/batch",
                       R"({"checks":[3,{"subject":"alice","action":"view","resource":"file:f1"}]})"));
  EXPECT_STREQ(bad["results"][0]["error"]["message"].GetString(),
               "checks[0] must be an object");
  EXPECT_STREQ(bad["results"][1]["error"]["field"].GetString(),
               "checks[1].subject");
  EXPECT_EQ(std::string(bad["results"][1]["error"]["message"].GetString())
                .rfind("checks[1].subject must be", 0),
            0u);
}

TEST_F(ApiTest, BatchSizeIsBounded) {
  std::string body = "{\"checks\":[";
  for (int i = 0; i < 6; ++i) {
    if (i) body += ",";
    body += R"({"subject":"user:alice","action":"view","resource":"file:f1"})";
  }
  body += "]}";
  HttpResponse r = Call("POST", "/v1/check/batch", body);
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(Call("POST", "/v1/check/batch", R"({"checks":{}})").status, 400);
  EXPECT_EQ(Call("POST", "/v1/check/batch", R"({})").status, 400);
}

TEST_F(ApiTest, ActionsListsEverythingAllowed) {
  auto d = Json(Call("POST", "/v1/actions",
                     R"({"subject":"user:bob","resource":"file:f2"})"));
  ASSERT_TRUE(d["actions"].IsArray());
  ASSERT_EQ(d["actions"].Size(), 2u);
  EXPECT_STREQ(d["actions"][0].GetString(), "view");
  EXPECT_STREQ(d["actions"][1].GetString(), "edit");
  d = Json(Call("POST", "/v1/actions",
                R"({"subject":"user:bob","resource":"file:f1"})"));
  EXPECT_EQ(d["actions"].Size(), 0u);
}

TEST_F(ApiTest, LookupResourcesIsCompleteAndPaginated) {
  // alice: member of g1 -> f1, f2; f4 is public -> also f4.
  std::vector<std::string> all;
  std::string token;
  int pages = 0;
  do {
    std::string body = R"({"subject":"user:alice","action":"view","type":"file","limit":1)";
    if (!token.empty()) body += ",\"page_token\":\"" + token + "\"";
    body += "}";
    HttpResponse r = Call("POST", "/v1/lookup/resources", body);
    ASSERT_EQ(r.status, 200) << r.body;
    auto d = Json(r);
    for (const auto& v : d["resources"].GetArray()) all.push_back(v.GetString());
    token = d["next_page_token"].GetString();
    ASSERT_LT(++pages, 10);
  } while (!token.empty());
  EXPECT_EQ(all, (std::vector<std::string>{"file:f1", "file:f2", "file:f4"}));
  EXPECT_EQ(pages, 3);

  auto d = Json(Call("POST", "/v1/lookup/resources",
                     R"({"subject":"user:alice","action":"edit","type":"file"})"));
  EXPECT_EQ(d["resources"].Size(), 0u);
  d = Json(Call("POST", "/v1/lookup/resources",
                R"({"subject":"user:alice","action":"view","type":"file","under":"group:g2"})"));
  ASSERT_EQ(d["resources"].Size(), 1u);
  EXPECT_STREQ(d["resources"][0].GetString(), "file:f4");
  EXPECT_EQ(Call("POST", "/v1/lookup/resources",
                 R"({"subject":"user:alice","action":"view","type":"user"})").status,
            400);
  EXPECT_EQ(Call("POST", "/v1/lookup/resources",
                 R"({"subject":"user:alice","action":"view","type":"file","limit":0})").status,
            400);
  EXPECT_EQ(Call("POST", "/v1/lookup/resources",
                 R"({"subject":"user:alice","action":"view","type":"file","page_token":"zz"})").status,
            400);
}

TEST_F(ApiTest, LookupSubjectsChecksBindingsOnAncestors) {
  auto d = Json(Call("POST", "/v1/lookup/subjects",
                     R"({"action":"view","resource":"file:f2"})"));
  ASSERT_EQ(d["subjects"].Size(), 2u) << Json(Call("POST", "/v1/lookup/subjects",
                     R"({"action":"view","resource":"file:f2"})"))["subjects"].Size();
  EXPECT_STREQ(d["subjects"][0].GetString(), "user:alice");
  EXPECT_STREQ(d["subjects"][1].GetString(), "user:bob");
  d = Json(Call("POST", "/v1/lookup/subjects",
                R"({"action":"edit","resource":"file:f2"})"));
  ASSERT_EQ(d["subjects"].Size(), 1u);
  EXPECT_STREQ(d["subjects"][0].GetString(), "user:bob");
  // The public file: every known user.
  d = Json(Call("POST", "/v1/lookup/subjects",
                R"({"action":"view","resource":"file:f4","limit":2})"));
  EXPECT_EQ(d["subjects"].Size(), 2u);
  EXPECT_STRNE(d["next_page_token"].GetString(), "");
}

TEST_F(ApiTest, RoutingAnswers404And405) {
  HttpResponse r = Call("GET", "/v1/nothing", "");
  EXPECT_EQ(r.status, 404);
  EXPECT_STREQ(Json(r)["error"]["code"].GetString(), "NOT_FOUND");
  r = Call("GET", "/v1/check", "");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(Header(r, "Allow"), "POST");
}

TEST_F(ApiTest, AuthenticationAndScopes) {
  const char* body = R"({"subject":"user:alice","action":"view","resource":"file:f1"})";
  HttpResponse r = Call("POST", "/v1/check", body, nullptr);
  EXPECT_EQ(r.status, 401);
  EXPECT_NE(Header(r, "WWW-Authenticate").find("Bearer"), std::string::npos);
  r = Call("POST", "/v1/check", body, "wrong-token-0123456789");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(Call("POST", "/v1/check", body, kCheckToken).status, 200);
  EXPECT_EQ(Call("POST", "/v1/policy/reload", "", kCheckToken).status, 403);
  EXPECT_EQ(Call("GET", "/healthz", "", nullptr).status, 200);
  api_ = MakeApi(false);
  EXPECT_EQ(Call("POST", "/v1/check", body, nullptr).status, 200);
}

TEST_F(ApiTest, RequestIdIsEchoedOrGenerated) {
  HttpRequest req;
  req.method = "GET";
  req.path = "/healthz";
  req.headers.emplace_back("x-request-id", "abc-123");
  EXPECT_EQ(Header(api_->Handle(req), "X-Request-ID"), "abc-123");
  req.headers.clear();
  EXPECT_FALSE(Header(api_->Handle(req), "X-Request-ID").empty());
}

TEST_F(ApiTest, ReloadSwapsPolicyAndRefusesABadOne) {
  auto d = Json(Call("GET", "/v1/policy", ""));
  EXPECT_STREQ(d["version"].GetString(), "v1");
  HttpResponse r = Call("POST", "/v1/policy/reload", "");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_STREQ(Json(Call("GET", "/v1/policy", ""))["version"].GetString(), "v2");
  next_load_fails_ = true;
  r = Call("POST", "/v1/policy/reload", "");
  EXPECT_EQ(r.status, 409);
  d = Json(r);
  EXPECT_EQ(d["errors"][0]["line"].GetUint(), 3u);
  EXPECT_STREQ(Json(Call("GET", "/v1/policy", ""))["version"].GetString(), "v2");
  d = Json(Call("POST", "/v1/policy/validate", "bad"));
  EXPECT_FALSE(d["valid"].GetBool());
  EXPECT_EQ(d["errors"].Size(), 1u);
}

TEST_F(ApiTest, ReadyzAndMetrics) {
  EXPECT_EQ(Call("GET", "/readyz", "").status, 200);
  api_->SetReady(false);
  EXPECT_EQ(Call("GET", "/readyz", "").status, 503);
  Call("POST", "/v1/check", R"({"subject":"user:alice","action":"view","resource":"file:f1"})");
  HttpResponse r = Call("GET", "/metrics", "");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("portcullis_decisions_total{decision=\"allowed\"} 1"),
            std::string::npos)
      << r.body;
  EXPECT_NE(r.body.find("endpoint=\"POST /v1/check\""), std::string::npos);
  EXPECT_NE(r.body.find("portcullis_open_connections"), std::string::npos);
}

}  // namespace
}  // namespace portcullis::server
