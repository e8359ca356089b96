#include "server/authzen.h"

#include <gtest/gtest.h>

#include "server/api.h"
#include "server/json.h"
#include <unistd.h>

#include <filesystem>

#include "tests/support/temp_store.h"
#include "tests/support/test_policies.h"

namespace portcullis::server {
namespace {

constexpr const char* kCheckToken = "check-token-0123456789";

rapidjson::Document Doc(std::string_view text) {
  rapidjson::Document d;
  d.Parse(text.data(), text.size());
  EXPECT_FALSE(d.HasParseError()) << text;
  return d;
}

const engine::Value* Find(const std::vector<engine::Attribute>& attrs,
                          std::string_view key) {
  return engine::FindAttribute(attrs, key);
}

TEST(AuthzenParse, SingleEvaluationFillsTheCheckRequest) {
  auto d = Doc(R"({"subject":{"type":"user","id":"alice",
      "properties":{"dept":{"name":"sales"}}},
      "action":{"name":"view","properties":{"soft":true}},
      "resource":{"type":"file","id":"f1"},
      "context":{"ip":"10.0.0.1"},"unknown":[1,2]})");
  AttributeArena arena;
  authzen::Evaluation ev;
  ASSERT_TRUE(authzen::ResolveEvaluation(&d, nullptr, "", &arena, &ev).ok());
  EXPECT_EQ(ev.request.subject.type, "user");
  EXPECT_EQ(ev.request.subject.id, "alice");
  EXPECT_EQ(ev.request.action, "view");
  EXPECT_EQ(ev.request.resource.ToString(), "file:f1");
  ASSERT_NE(Find(ev.subject_properties, "dept.name"), nullptr);
  EXPECT_EQ(Find(ev.subject_properties, "dept.name")->s, "sales");
  ASSERT_NE(Find(ev.action_properties, "soft"), nullptr);
  EXPECT_TRUE(Find(ev.action_properties, "soft")->b);
  ASSERT_NE(Find(ev.context, "ip"), nullptr);
  EXPECT_EQ(ev.request.context.size(), 1u);
}

TEST(AuthzenParse, MissingOrMistypedFieldsNameTheField) {
  struct Case {
    const char* body;
    const char* field;
  } cases[] = {
      {R"({"action":{"name":"v"},"resource":{"type":"f","id":"1"}})",
       "subject"},
      {R"({"subject":{"type":"u","id":"a"},"resource":{"type":"f","id":"1"}})",
       "action"},
      {R"({"subject":{"type":"u","id":"a"},"action":{"name":"v"}})",
       "resource"},
      {R"({"subject":{"id":"a"},"action":{"name":"v"},"resource":{"type":"f","id":"1"}})",
       "subject.type"},
      {R"({"subject":{"type":"u"},"action":{"name":"v"},"resource":{"type":"f","id":"1"}})",
       "subject.id"},
      {R"({"subject":{"type":"u","id":"a"},"action":{},"resource":{"type":"f","id":"1"}})",
       "action.name"},
      {R"({"subject":"alice","action":{"name":"v"},"resource":{"type":"f","id":"1"}})",
       "subject"},
      {R"({"subject":{"type":"u","id":"a"},"action":{"name":123},"resource":{"type":"f","id":"1"}})",
       "action.name"},
      {R"({"subject":{"type":"u","id":"a"},"action":{"name":"v"},"resource":{"type":"f","id":""}})",
       "resource.id"},
      {R"({"subject":{"type":"u","id":"a","properties":[1]},"action":{"name":"v"},"resource":{"type":"f","id":"1"}})",
       "subject.properties"},
  };
  for (const Case& c : cases) {
    auto d = Doc(c.body);
    AttributeArena arena;
    authzen::Evaluation ev;
    Status s = authzen::ResolveEvaluation(&d, nullptr, "", &arena, &ev);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << c.body;
    EXPECT_EQ(s.field(), c.field) << c.body << ": " << s.message();
  }
}

TEST(AuthzenParse, AnItemKeyOverridesItsDefaultAsAWhole) {
  auto d = Doc(R"({"subject":{"type":"user","id":"alice",
      "properties":{"role":"admin"}},
      "action":{"name":"view"},
      "resource":{"type":"file","id":"f0","properties":{"status":"x"}},
      "context":{"a":1},
      "evaluations":[
        {"resource":{"type":"file","id":"f1","properties":{"status":"active"}}},
        {"subject":{"type":"user","id":"bob"},"action":{"name":"edit"},
         "resource":{"type":"group","id":"g1"},"context":{"b":2}},
        {"resource":{"type":"file"}},
        {"subject":{"id":"bob"}},
        {"action":{}},
        {}
      ]})");
  const auto& items = d["evaluations"];
  AttributeArena arena;
  authzen::Evaluation ev;
  ASSERT_TRUE(authzen::ResolveEvaluation(&items[0], &d, "evaluations[0].",
                                         &arena, &ev)
                  .ok());
  EXPECT_EQ(ev.request.resource.ToString(), "file:f1");
  EXPECT_EQ(Find(ev.resource_properties, "status")->s, "active");
  EXPECT_EQ(Find(ev.subject_properties, "role")->s, "admin");
  EXPECT_NE(Find(ev.context, "a"), nullptr);

  ev.Clear();
  ASSERT_TRUE(authzen::ResolveEvaluation(&items[1], &d, "evaluations[1].",
                                         &arena, &ev)
                  .ok());
  EXPECT_EQ(ev.request.subject.ToString(), "user:bob");
  // The item's subject replaces the default wholesale: no inherited role.
  EXPECT_EQ(Find(ev.subject_properties, "role"), nullptr);
  EXPECT_EQ(ev.request.action, "edit");
  EXPECT_EQ(Find(ev.context, "a"), nullptr);
  EXPECT_NE(Find(ev.context, "b"), nullptr);

  // An incomplete entity in an item is an error of that item: its missing
  // field is never taken from the default entity.
  const std::pair<int, const char*> incomplete[] = {
      {2, "evaluations[2].resource.id"},
      {3, "evaluations[3].subject.type"},
      {4, "evaluations[4].action.name"},
  };
  for (const auto& [i, field] : incomplete) {
    ev.Clear();
    const std::string prefix = "evaluations[" + std::to_string(i) + "].";
    Status s =
        authzen::ResolveEvaluation(&items[i], &d, prefix, &arena, &ev);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << field;
    EXPECT_EQ(s.field(), field);
    EXPECT_EQ(s.message(), std::string(field) + " is required");
  }

  // An empty item takes every default.
  ev.Clear();
  ASSERT_TRUE(authzen::ResolveEvaluation(&items[5], &d, "evaluations[5].",
                                         &arena, &ev)
                  .ok());
  EXPECT_EQ(ev.request.resource.ToString(), "file:f0");
  EXPECT_EQ(Find(ev.resource_properties, "status")->s, "x");
}

TEST(AuthzenParse, Semantic) {
  EXPECT_EQ(*authzen::ParseSemantic(Doc("{}")),
            authzen::Semantic::kExecuteAll);
  EXPECT_EQ(*authzen::ParseSemantic(
                Doc(R"({"options":{"evaluations_semantic":"deny_on_first_deny"}})")),
            authzen::Semantic::kDenyOnFirstDeny);
  EXPECT_EQ(*authzen::ParseSemantic(Doc(
                R"({"options":{"evaluations_semantic":"permit_on_first_permit"}})")),
            authzen::Semantic::kPermitOnFirstPermit);
  auto bad = authzen::ParseSemantic(
      Doc(R"({"options":{"evaluations_semantic":"first"}})"));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().field(), "options.evaluations_semantic");
  EXPECT_FALSE(authzen::ParseSemantic(Doc(R"({"options":3})")));
}

TEST(AuthzenParse, ContentType) {
  std::string json = "application/json";
  std::string charset = "Application/JSON; charset=utf-8";
  std::string form = "application/x-www-form-urlencoded";
  EXPECT_TRUE(authzen::CheckJsonContentType(&json).ok());
  EXPECT_TRUE(authzen::CheckJsonContentType(&charset).ok());
  EXPECT_FALSE(authzen::CheckJsonContentType(&form).ok());
  EXPECT_FALSE(authzen::CheckJsonContentType(nullptr).ok());
}

TEST(AuthzenParse, BaseUrlAndMetadata) {
  std::string host = "pdp.example.com:8181";
  EXPECT_EQ(*authzen::BaseUrl("", &host), "http://pdp.example.com:8181");
  EXPECT_EQ(*authzen::BaseUrl("https://pdp.example.com/", &host),
            "https://pdp.example.com");
  std::string evil = "a\"b";
  EXPECT_FALSE(authzen::BaseUrl("", &evil));
  EXPECT_FALSE(authzen::BaseUrl("", nullptr));
  auto d = Doc(authzen::MetadataJson("https://pdp.example.com"));
  EXPECT_STREQ(d["policy_decision_point"].GetString(),
               "https://pdp.example.com");
  EXPECT_STREQ(d["access_evaluations_endpoint"].GetString(),
               "https://pdp.example.com/access/v1/evaluations");
  EXPECT_STREQ(d["search_action_endpoint"].GetString(),
               "https://pdp.example.com/access/v1/search/action");
}

// ---- Handlers, over the server's test policy and data ----

class AuthzenApiTest : public ::testing::Test {
 protected:
  AuthzenApiTest() : holder_(testing::MakeTestPolicy()) {
    EXPECT_TRUE(
        testing::LoadTestData(store_.get(), *holder_.Current()->policy).ok());
    ApiOptions o;
    o.tokens.Add(Scope::kCheck, kCheckToken);
    o.max_batch = 4;
    api_ = std::make_unique<Api>(std::move(o), &holder_, store_.get(),
                                 PolicyAdmin{});
    api_->SetReady(true);
  }
  ~AuthzenApiTest() override { api_.reset(); }

  HttpResponse Post(std::string path, std::string body,
                    std::string content_type = "application/json") {
    HttpRequest r;
    r.method = "POST";
    r.target = r.path = std::move(path);
    r.body = std::move(body);
    r.headers.emplace_back("authorization",
                           std::string("Bearer ") + kCheckToken);
    r.headers.emplace_back("x-request-id", "req-42");
    if (!content_type.empty()) r.headers.emplace_back("content-type", content_type);
    return api_->Handle(r);
  }

  static std::string Header(const HttpResponse& r, std::string_view name) {
    for (const auto& [n, v] : r.headers) {
      if (n == name) return v;
    }
    return "";
  }

  testing::TempStore store_{"authzen_test"};
  PolicyHolder holder_;
  std::unique_ptr<Api> api_;
};

TEST_F(AuthzenApiTest, EvaluationAnswersMinimally) {
  const std::string tuple =
      R"("subject":{"type":"user","id":"alice"},"resource":{"type":"file","id":"f1"})";
  HttpResponse r = Post("/access/v1/evaluation",
                        "{" + tuple + R"(,"action":{"name":"view"}})");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"decision":true})");
  EXPECT_EQ(Header(r, "X-Request-ID"), "req-42");
  r = Post("/access/v1/evaluation",
           "{" + tuple + R"(,"action":{"name":"edit"}})");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"decision":false})");
  // Unknown subject: a deny, not an error.
  r = Post("/access/v1/evaluation",
           R"({"subject":{"type":"user","id":"nobody"},"action":{"name":"view"},
               "resource":{"type":"file","id":"f1"}})");
  EXPECT_EQ(r.body, R"({"decision":false})");
}

TEST_F(AuthzenApiTest, RequestPropertiesOverrideStoredAttributes) {
  // f1 is stored with public=false; bob holds nothing on f1.
  const char* body =
      R"({"subject":{"type":"user","id":"bob"},"action":{"name":"view"},
          "resource":{"type":"file","id":"f1","properties":{"public":%s}}})";
  char buf[512];
  snprintf(buf, sizeof(buf), body, "true");
  EXPECT_EQ(Post("/access/v1/evaluation", buf).body, R"({"decision":true})");
  snprintf(buf, sizeof(buf), body, "false");
  EXPECT_EQ(Post("/access/v1/evaluation", buf).body, R"({"decision":false})");
}

TEST_F(AuthzenApiTest, BadRequestsAre400WithTheErrorBody) {
  // The specification's error body: a message string naming the field.
  HttpResponse r = Post("/access/v1/evaluation",
                        R"({"action":{"name":"view"},"resource":{"type":"file","id":"f1"}})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, R"("subject is required")");
  EXPECT_EQ(r.content_type, "application/json");
  r = Post("/access/v1/evaluation", "{not json");
  EXPECT_EQ(r.status, 400);
  r = Post("/access/v1/evaluation", "");
  EXPECT_EQ(r.status, 400);
  r = Post("/access/v1/evaluation",
           R"({"subject":{"type":"user","id":"alice"},"action":{"name":"view"},"resource":{"type":"file","id":"f1"}})",
           "text/plain");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("Content-Type"), std::string::npos);
}

TEST_F(AuthzenApiTest, EvaluationsKeepOrderAndReportItemErrors) {
  HttpResponse r = Post("/access/v1/evaluations", R"({
      "subject":{"type":"user","id":"alice"},"action":{"name":"view"},
      "evaluations":[
        {"resource":{"type":"file","id":"f1"}},
        {"resource":{"type":"file","id":"f3"}},
        {},
        {"action":{"name":"edit"},"subject":{"type":"user","id":"bob"},
         "resource":{"type":"file","id":"f2"}}]})");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body,
            R"({"evaluations":[{"decision":true},{"decision":false},)"
            R"({"decision":false,"context":{"error":{"status":400,)"
            R"("message":"evaluations[2].resource is required"}}},)"
            R"({"decision":true}]})");
}

TEST_F(AuthzenApiTest, EvaluationsWithoutItemsActAsOneEvaluation) {
  const std::string tuple =
      R"("subject":{"type":"user","id":"alice"},"action":{"name":"view"},"resource":{"type":"file","id":"f1"})";
  EXPECT_EQ(Post("/access/v1/evaluations", "{" + tuple + "}").body,
            R"({"decision":true})");
  EXPECT_EQ(Post("/access/v1/evaluations", "{" + tuple + R"(,"evaluations":[]})")
                .body,
            R"({"decision":true})");
}

TEST_F(AuthzenApiTest, ShortCircuitSemantics) {
  const std::string items =
      R"("subject":{"type":"user","id":"alice"},"action":{"name":"view"},
         "evaluations":[{"resource":{"type":"file","id":"f1"}},
                        {"resource":{"type":"file","id":"f3"}},
                        {"resource":{"type":"file","id":"f2"}}])";
  EXPECT_EQ(Post("/access/v1/evaluations", "{" + items + "}").body,
            R"({"evaluations":[{"decision":true},{"decision":false},{"decision":true}]})");
  EXPECT_EQ(Post("/access/v1/evaluations",
                 "{" + items +
                     R"(,"options":{"evaluations_semantic":"deny_on_first_deny"}})")
                .body,
            R"({"evaluations":[{"decision":true},{"decision":false}]})");
  EXPECT_EQ(Post("/access/v1/evaluations",
                 "{" + items +
                     R"(,"options":{"evaluations_semantic":"permit_on_first_permit"}})")
                .body,
            R"({"evaluations":[{"decision":true}]})");
  HttpResponse r = Post("/access/v1/evaluations",
                        "{" + items + R"(,"options":{"evaluations_semantic":"any"}})");
  EXPECT_EQ(r.status, 400);
}

TEST_F(AuthzenApiTest, EvaluationsBatchBound) {
  std::string body = R"({"subject":{"type":"user","id":"alice"},"action":{"name":"view"},"evaluations":[)";
  for (int i = 0; i < 5; ++i) {
    body += std::string(i ? "," : "") + R"({"resource":{"type":"file","id":"f1"}})";
  }
  body += "]}";
  EXPECT_EQ(Post("/access/v1/evaluations", body).status, 413);
}

TEST_F(AuthzenApiTest, SubjectSearchPages) {
  // view on f1: alice (member of g1); f1 is not public.
  const char* body = R"({"subject":{"type":"user"},"action":{"name":"view"},
      "resource":{"type":"file","id":"f2"},"page":{"limit":1%s}})";
  char buf[512];
  snprintf(buf, sizeof(buf), body, "");
  HttpResponse r = Post("/access/v1/search/subject", buf);
  ASSERT_EQ(r.status, 200) << r.body;
  rapidjson::Document d;
  d.Parse(r.body.c_str());
  ASSERT_EQ(d["results"].Size(), 1u);
  EXPECT_STREQ(d["results"][0]["type"].GetString(), "user");
  EXPECT_STREQ(d["results"][0]["id"].GetString(), "alice");
  const std::string token = d["page"]["next_token"].GetString();
  ASSERT_FALSE(token.empty());
  snprintf(buf, sizeof(buf), body, (R"(,"token":")" + token + "\"").c_str());
  r = Post("/access/v1/search/subject", buf);
  EXPECT_EQ(r.body,
            R"({"results":[{"type":"user","id":"bob"}],"page":{"next_token":""}})");
  snprintf(buf, sizeof(buf), body, R"(,"token":"zz")");
  EXPECT_EQ(Post("/access/v1/search/subject", buf).status, 400);
}

TEST_F(AuthzenApiTest, ResourceSearchUsesSubjectProperties) {
  HttpResponse r = Post("/access/v1/search/resource",
                        R"({"subject":{"type":"user","id":"bob"},
                            "action":{"name":"edit"},"resource":{"type":"file"}})");
  EXPECT_EQ(r.body,
            R"({"results":[{"type":"file","id":"f2"}],"page":{"next_token":""}})");
  r = Post("/access/v1/search/resource",
           R"({"subject":{"type":"user","id":"bob"},
               "action":{"name":"view"},"resource":{"type":"file"}})");
  // f2 by binding, f4 by the public rule.
  EXPECT_EQ(r.body,
            R"({"results":[{"type":"file","id":"f2"},{"type":"file","id":"f4"}],"page":{"next_token":""}})");
}

TEST_F(AuthzenApiTest, ActionSearchPages) {
  const char* body = R"({"subject":{"type":"user","id":"bob"},
      "resource":{"type":"file","id":"f2"},"page":{"limit":1%s}})";
  char buf[512];
  snprintf(buf, sizeof(buf), body, "");
  HttpResponse r = Post("/access/v1/search/action", buf);
  rapidjson::Document d;
  d.Parse(r.body.c_str());
  ASSERT_TRUE(d.IsObject()) << r.body;
  ASSERT_EQ(d["results"].Size(), 1u);
  EXPECT_STREQ(d["results"][0]["name"].GetString(), "view");
  const std::string token = d["page"]["next_token"].GetString();
  ASSERT_FALSE(token.empty());
  snprintf(buf, sizeof(buf), body, (R"(,"token":")" + token + "\"").c_str());
  EXPECT_EQ(Post("/access/v1/search/action", buf).body,
            R"({"results":[{"name":"edit"}],"page":{"next_token":""}})");
}

TEST_F(AuthzenApiTest, SearchesOfUnknownThingsAreEmpty) {
  const char* empty = R"({"results":[],"page":{"next_token":""}})";
  EXPECT_EQ(Post("/access/v1/search/subject",
                 R"({"subject":{"type":"spaceship"},"action":{"name":"view"},
                     "resource":{"type":"file","id":"f1"}})")
                .body,
            empty);
  EXPECT_EQ(Post("/access/v1/search/subject",
                 R"({"subject":{"type":"user"},"action":{"name":"view"},
                     "resource":{"type":"file","id":"nope"}})")
                .body,
            empty);
  EXPECT_EQ(Post("/access/v1/search/resource",
                 R"({"subject":{"type":"user","id":"alice"},"action":{"name":"fly"},
                     "resource":{"type":"file"}})")
                .body,
            empty);
  EXPECT_EQ(Post("/access/v1/search/action",
                 R"({"subject":{"type":"user","id":"nonexistent"},
                     "resource":{"type":"file","id":"f1"}})")
                .body,
            empty);
}

TEST_F(AuthzenApiTest, SearchRequiredFields) {
  EXPECT_EQ(Post("/access/v1/search/subject",
                 R"({"subject":{"type":"user"},"resource":{"type":"file","id":"f1"}})")
                .status,
            400);
  EXPECT_EQ(Post("/access/v1/search/subject",
                 R"({"subject":{"type":"user"},"action":{"name":"view"},"resource":{"type":"file"}})")
                .status,
            400);
  EXPECT_EQ(Post("/access/v1/search/resource",
                 R"({"action":{"name":"view"},"resource":{"type":"file"}})")
                .status,
            400);
  EXPECT_EQ(Post("/access/v1/search/resource",
                 R"({"subject":{"type":"user"},"action":{"name":"view"},"resource":{"type":"file"}})")
                .status,
            400);
  EXPECT_EQ(Post("/access/v1/search/action",
                 R"({"subject":{"type":"user","id":"alice"}})")
                .status,
            400);
}

TEST_F(AuthzenApiTest, PageLimitIsANonNegativeInteger) {
  const std::string search =
      R"({"subject":{"type":"user","id":"bob"},"resource":{"type":"file","id":"f2"},"page":{"limit":)";
  // 0 asks for no particular size: the default page holds both actions.
  HttpResponse r = Post("/access/v1/search/action", search + "0}}");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body,
            R"({"results":[{"name":"view"},{"name":"edit"}],"page":{"next_token":""}})");
  for (const char* bad : {R"("1")", "-1", "1.5", "true"}) {
    r = Post("/access/v1/search/action", search + bad + "}}");
    EXPECT_EQ(r.status, 400) << bad;
    EXPECT_EQ(r.body,
              R"x("page.limit must be a non-negative integer (a JSON number)")x")
        << bad;
  }
}

TEST_F(AuthzenApiTest, WellKnownConfigurationNeedsNoToken) {
  HttpRequest r;
  r.method = "GET";
  r.target = r.path = "/.well-known/authzen-configuration";
  r.headers.emplace_back("host", "127.0.0.1:9999");
  HttpResponse resp = api_->Handle(r);
  EXPECT_EQ(resp.status, 200);
  EXPECT_NE(resp.body.find(
                R"("access_evaluation_endpoint":"http://127.0.0.1:9999/access/v1/evaluation")"),
            std::string::npos)
      << resp.body;
}

TEST_F(AuthzenApiTest, EndpointsNeedTheCheckScope) {
  HttpRequest r;
  r.method = "POST";
  r.target = r.path = "/access/v1/evaluation";
  r.body = "{}";
  HttpResponse resp = api_->Handle(r);
  EXPECT_EQ(resp.status, 401);
  EXPECT_EQ(resp.body, R"("a valid bearer token is required")");
}

}  // namespace
}  // namespace portcullis::server
