// The data endpoints over a real LMDB store in a temporary directory.
#include <gtest/gtest.h>

#include <filesystem>

#include "server/api.h"
#include "server/json.h"
#include "tests/support/temp_store.h"
#include "tests/support/test_policies.h"

namespace portcullis::server {
namespace {

class DataApiTest : public ::testing::Test {
 protected:
  DataApiTest() : holder_(testing::MakeTestPolicy()) {
    ApiOptions o;
    o.auth_enabled = false;
    api_ = std::make_unique<Api>(std::move(o), &holder_,
                                 store_.get(), PolicyAdmin{});
  }
  ~DataApiTest() override { api_.reset(); }

  HttpResponse Call(std::string method, std::string target,
                    std::string body = "") {
    HttpRequest r;
    r.method = std::move(method);
    const size_t q = target.find('?');
    r.path = target.substr(0, q);
    if (q != std::string::npos) r.query = target.substr(q + 1);
    r.target = std::move(target);
    r.body = std::move(body);
    return api_->Handle(r);
  }
  // The whole body of a streamed response.
  static std::string Drain(const HttpResponse& r) {
    if (r.stream == nullptr) return r.body;
    Result<std::string> all = DrainBodyStream(*r.stream);
    EXPECT_TRUE(all.has_value());
    return all ? *all : std::string();
  }

  static rapidjson::Document Json(const HttpResponse& r) {
    rapidjson::Document d;
    d.Parse(r.body.data(), r.body.size());
    EXPECT_FALSE(d.HasParseError()) << r.body;
    return d;
  }
  void Load() {
    ASSERT_EQ(Call("PUT", "/v1/resources/group/g1").status, 200);
    ASSERT_EQ(Call("PUT", "/v1/resources/file/f1",
                   R"({"parent":"group:g1","attributes":{"public":false,"meta":{"size":3}}})")
                  .status,
              200);
    ASSERT_EQ(Call("PUT", "/v1/subjects/user/alice",
                   R"({"attributes":{"email":"a@x.org"}})").status,
              200);
  }

  PolicyHolder holder_;
  testing::TempStore store_{"store_handlers_test"};
  std::unique_ptr<Api> api_;
};

TEST_F(DataApiTest, WritesAnswerIncreasingRevisions) {
  auto r1 = Json(Call("PUT", "/v1/resources/group/g1"));
  auto r2 = Json(Call("PUT", "/v1/resources/file/f1", R"({"parent":"group:g1"})"));
  EXPECT_LT(std::stoull(r1["revision"].GetString()),
            std::stoull(r2["revision"].GetString()));
}

TEST_F(DataApiTest, ResourceRoundTripAndDelete) {
  Load();
  HttpResponse r = Call("GET", "/v1/resources/file/f1");
  ASSERT_EQ(r.status, 200) << r.body;
  auto d = Json(r);
  EXPECT_STREQ(d["parent"].GetString(), "group:g1");
  EXPECT_EQ(d["attributes"]["meta.size"].GetInt(), 3);
  EXPECT_EQ(Call("GET", "/v1/subjects/user/alice").status, 200);
  EXPECT_EQ(Call("DELETE", "/v1/resources/group/g1").status, 200);
  EXPECT_EQ(Call("GET", "/v1/resources/file/f1").status, 404);
  EXPECT_EQ(Call("DELETE", "/v1/resources/group/g1").status, 404);
}

TEST_F(DataApiTest, BadWritesAreRefusedWithTheRightStatus) {
  EXPECT_EQ(Call("PUT", "/v1/resources/file/f9", R"({"parent":"group:none"})").status / 100, 4);
  EXPECT_EQ(Call("PUT", "/v1/resources/file/f9", R"({"parent":7})").status, 400);
  EXPECT_EQ(Call("PUT", "/v1/resources/file/f9", "{").status, 400);
  EXPECT_EQ(Call("PUT", "/v1/bindings", R"({"subject":"user:a","resource":"group:g1"})").status, 400);
  Load();
  EXPECT_EQ(Call("PUT", "/v1/bindings",
                 R"({"subject":"user:alice","resource":"group:g1","roles":["nope"]})").status / 100,
            4);
  EXPECT_EQ(Call("PUT", "/v1/bindings",
                 R"({"subject":"user:alice","resource":"group:g1","roles":["member"],"expires_at":"tomorrow"})").status,
            400);
}

// The API stores attributes by the rules of an import line (one codec,
// storage/attributes_json.h): what import refuses, the API refuses too.
TEST_F(DataApiTest, AttributesFollowTheImportRules) {
  ASSERT_EQ(Call("PUT", "/v1/resources/group/g1").status, 200);
  struct Case {
    const char* attributes;
    const char* field;
  } cases[] = {
      {R"({"big":18446744073709551615})", "attributes.big"},
      {R"({"l":[{"a":1}]})", "attributes.l"},
      {R"({"a.b":1,"a":{"b":2}})", "attributes"},
      {R"({"":1})", "attributes"},
  };
  for (const Case& c : cases) {
    HttpResponse r = Call("PUT", "/v1/resources/file/f9",
                          std::string(R"({"parent":"group:g1","attributes":)") +
                              c.attributes + "}");
    ASSERT_EQ(r.status, 400) << c.attributes << " -> " << r.body;
    EXPECT_STREQ(Json(r)["error"]["field"].GetString(), c.field) << r.body;
  }
  EXPECT_EQ(Call("GET", "/v1/resources/file/f9").status, 404);  // nothing kept
  HttpResponse ok = Call("PUT", "/v1/resources/file/f9",
                         R"({"parent":"group:g1","attributes":{"l":[1,[2]],"d":{"e":-1}}})");
  ASSERT_EQ(ok.status, 200) << ok.body;
  rapidjson::Document d = Json(Call("GET", "/v1/resources/file/f9"));
  EXPECT_EQ(d["attributes"]["d.e"].GetInt64(), -1);
  EXPECT_EQ(d["attributes"]["l"][1][0].GetInt64(), 2);
}

TEST_F(DataApiTest, BindingsAndRestrictionsDriveChecks) {
  Load();
  const std::string check =
      R"({"subject":"user:alice","action":"view","resource":"file:f1"})";
  EXPECT_FALSE(Json(Call("POST", "/v1/check", check))["allowed"].GetBool());
  ASSERT_EQ(Call("PUT", "/v1/bindings",
                 R"({"subject":"user:alice","resource":"group:g1","roles":["member"]})").status,
            200);
  EXPECT_TRUE(Json(Call("POST", "/v1/check", check))["allowed"].GetBool());
  auto d = Json(Call("GET", "/v1/bindings?resource=group:g1"));
  ASSERT_EQ(d["bindings"].Size(), 1u);
  EXPECT_STREQ(d["bindings"][0]["roles"][0].GetString(), "member");
  d = Json(Call("GET", "/v1/bindings?subject=user%3Aalice"));
  EXPECT_EQ(d["bindings"].Size(), 1u);
  EXPECT_EQ(Call("GET", "/v1/bindings").status, 400);

  ASSERT_EQ(Call("PUT", "/v1/restrictions",
                 R"({"subject":"user:alice","resource":"file:f1","actions":["*"]})").status,
            200);
  d = Json(Call("POST", "/v1/check", check));
  EXPECT_FALSE(d["allowed"].GetBool());
  EXPECT_STREQ(d["reason"]["code"].GetString(), "restricted");
  EXPECT_EQ(Json(Call("GET", "/v1/restrictions?resource=file:f1"))["restrictions"].Size(), 1u);
  ASSERT_EQ(Call("PUT", "/v1/restrictions",
                 R"({"subject":"user:alice","resource":"file:f1","actions":[]})").status,
            200);
  ASSERT_EQ(Call("PUT", "/v1/bindings",
                 R"({"subject":"user:alice","resource":"group:g1","roles":[]})").status,
            200);
  EXPECT_FALSE(Json(Call("POST", "/v1/check", check))["allowed"].GetBool());
}

TEST_F(DataApiTest, ChangesListWritesAfterARevision) {
  Load();
  auto d = Json(Call("GET", "/v1/changes?since=1"));
  ASSERT_EQ(d["changes"].Size(), 2u);
  EXPECT_STREQ(d["changes"][0]["revision"].GetString(), "2");
  EXPECT_STREQ(d["changes"][0]["changes"][0]["op"].GetString(), "resource.put");
  EXPECT_EQ(Call("GET", "/v1/changes?since=x").status, 400);
  // Nothing new: a wait turns into a long poll, which answers empty at the
  // deadline and with the change once one is written.
  HttpResponse r = Call("GET", "/v1/changes?since=3&wait=5");
  ASSERT_TRUE(r.long_poll);
  EXPECT_FALSE(r.long_poll->poll(false).has_value());
  Call("PUT", "/v1/resources/group/g2");
  std::optional<HttpResponse> later = r.long_poll->poll(false);
  ASSERT_TRUE(later.has_value());
  EXPECT_EQ(Json(*later)["changes"].Size(), 1u);
}

TEST_F(DataApiTest, ExportThenImportReproducesTheData) {
  Load();
  Call("PUT", "/v1/bindings",
       R"({"subject":"user:alice","resource":"group:g1","roles":["member"],"state":"pending"})");
  Call("PUT", "/v1/restrictions",
       R"({"subject":"user:alice","resource":"file:f1","actions":["edit"]})");
  HttpResponse exported = Call("GET", "/v1/export");
  ASSERT_EQ(exported.status, 200);
  EXPECT_EQ(exported.content_type, "application/x-ndjson");
  ASSERT_NE(exported.stream, nullptr);  // streamed, not built in memory
  ASSERT_TRUE(exported.body.empty());
  exported.body = Drain(exported);
  EXPECT_EQ(std::count(exported.body.begin(), exported.body.end(), '\n'), 5);
  EXPECT_EQ(Call("DELETE", "/v1/resources/group/g1").status, 200);
  EXPECT_EQ(Call("DELETE", "/v1/subjects/user/alice").status, 200);
  HttpResponse imported = Call("POST", "/v1/import", exported.body);
  ASSERT_EQ(imported.status, 200) << imported.body;
  EXPECT_EQ(Json(imported)["imported"].GetInt(), 5);
  HttpResponse again = Call("GET", "/v1/export");
  EXPECT_EQ(Drain(again), exported.body);

  HttpResponse bad = Call("POST", "/v1/import",
                          "{\"kind\":\"resource\",\"type\":\"group\",\"id\":\"g5\"}\n{\"kind\":\"thing\"}\n");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("line 2"), std::string::npos);
  EXPECT_EQ(Call("GET", "/v1/resources/group/g5").status, 404);  // atomic
}

}  // namespace
}  // namespace portcullis::server
