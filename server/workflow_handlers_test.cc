// The workflow endpoints through Api::Handle (no sockets): routing, request
// parsing, status codes and response shapes, over the demo portal.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "policies/policy_compiler.h"
#include "server/api.h"
#include "tests/support/temp_store.h"
#include "server/json.h"
#include "storage/jsonl.h"

namespace portcullis::server {
namespace {

const std::string kPolicies = PORTCULLIS_POLICIES_DIR;

std::shared_ptr<const engine::Policy> Workspace() {
  policies::PolicyResult p =
      policies::CompilePolicyFile(kPolicies + "/workspace.yaml");
  EXPECT_TRUE(p.has_value());
  return *p;
}

class WorkflowApiTest : public ::testing::Test {
 protected:
  WorkflowApiTest() : holder_(Workspace()) {
    storage::ImportOptions o;
    o.policy = holder_.Current()->policy.get();
    EXPECT_TRUE(
        storage::ImportJsonlFile(*store_.get(), kPolicies + "/demo-data.jsonl", o));
    ApiOptions opts;
    opts.auth_enabled = false;
    api_ = std::make_unique<Api>(std::move(opts), &holder_,
                                 store_.get(), PolicyAdmin{});
  }
  ~WorkflowApiTest() override { api_.reset(); }

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
  static rapidjson::Document Json(const HttpResponse& r) {
    rapidjson::Document d;
    d.Parse(r.body.data(), r.body.size());
    EXPECT_FALSE(d.HasParseError()) << r.body;
    return d;
  }
  static std::string ErrorCode(const HttpResponse& r) {
    rapidjson::Document d = Json(r);
    if (!d.IsObject() || !d.HasMember("error")) return "";
    return d["error"]["code"].GetString();
  }

  PolicyHolder holder_;
  testing::TempStore store_{"workflow_handlers_test"};
  std::unique_ptr<Api> api_;
};

TEST_F(WorkflowApiTest, CreateGroupAnswersTheGroupAndRevision) {
  HttpResponse r =
      Call("POST", "/v1/groups",
           R"({"actor":"user:olivia","account":"acme","id":"launch",
                            "attributes":{"title":"Launch"}})");
  ASSERT_EQ(r.status, 200) << r.body;
  rapidjson::Document d = Json(r);
  EXPECT_STREQ(d["group"].GetString(), "group:launch");
  EXPECT_STREQ(d["roles"][0].GetString(), "administrator");
  EXPECT_TRUE(d["revision"].IsString());
  HttpResponse denied =
      Call("POST", "/v1/groups",
           R"({"actor":"user:bob","account":"acme","id":"other"})");
  EXPECT_EQ(denied.status, 403);
  EXPECT_EQ(ErrorCode(denied), "PERMISSION_DENIED");
  HttpResponse missing =
      Call("POST", "/v1/groups", R"({"account":"acme","id":"x"})");
  EXPECT_EQ(missing.status, 400);
  EXPECT_STREQ(Json(missing)["error"]["field"].GetString(), "actor");
}

TEST_F(WorkflowApiTest, InviteListAcceptRoundTrip) {
  HttpResponse r = Call("POST", "/v1/groups/project_x/invitations",
                        R"({"actor":"user:alice","invitees":["user:ivan",
                            "user:dave"],"roles":["member"],
                            "message":"hello","expires_in":3600})");
  ASSERT_EQ(r.status, 200) << r.body;
  rapidjson::Document d = Json(r);
  ASSERT_EQ(d["invitations"].Size(), 1u);
  const rapidjson::Value& inv = d["invitations"][0];
  for (const char* key : {"id", "invitee", "roles", "state", "inviter",
                          "created_at", "expires_at"}) {
    EXPECT_TRUE(inv.HasMember(key)) << key;
  }
  EXPECT_STREQ(inv["state"].GetString(), "pending");
  ASSERT_EQ(d["conflicts"].Size(), 1u);
  EXPECT_STREQ(d["conflicts"][0]["code"].GetString(), "already_member");
  const std::string id = inv["id"].GetString();

  HttpResponse mine =
      Call("GET", "/v1/subjects/user/ivan/invitations?state=pending");
  ASSERT_EQ(mine.status, 200) << mine.body;
  EXPECT_EQ(Json(mine)["invitations"].Size(), 1u);

  HttpResponse pending = Call(
      "GET", "/v1/groups/project_x/invitations?state=pending&actor=user:carol");
  ASSERT_EQ(pending.status, 200) << pending.body;
  EXPECT_EQ(Json(pending)["invitations"].Size(), 3u);  // ivan, heidi, grace
  EXPECT_EQ(
      Call("GET", "/v1/groups/project_x/invitations?actor=user:dave").status,
      403);
  EXPECT_EQ(Call("GET", "/v1/groups/project_x/invitations").status, 400);
  EXPECT_EQ(
      Call("GET", "/v1/groups/project_x/invitations?actor=user:alice&state=x")
          .status,
      400);

  HttpResponse wrong = Call("POST", "/v1/invitations/" + id + "/accept",
                            R"({"subject":"user:bob"})");
  EXPECT_EQ(wrong.status, 403);
  HttpResponse ok = Call("POST", "/v1/invitations/" + id + "/accept",
                         R"({"subject":"user:ivan"})");
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_STREQ(Json(ok)["invitation"]["state"].GetString(), "accepted");
  HttpResponse again = Call("POST", "/v1/invitations/" + id + "/accept",
                            R"({"subject":"user:ivan"})");
  EXPECT_EQ(again.status, 409);
  EXPECT_EQ(
      Call("POST", "/v1/invitations/nope/accept", R"({"subject":"user:ivan"})")
          .status,
      404);
}

TEST_F(WorkflowApiTest, RevokeAndDecline) {
  HttpResponse list = Call(
      "GET", "/v1/groups/project_x/invitations?state=pending&actor=user:alice");
  rapidjson::Document d = Json(list);
  ASSERT_EQ(d["invitations"].Size(), 2u);
  std::string heidi, grace;
  for (const auto& inv : d["invitations"].GetArray()) {
    (std::string(inv["invitee"].GetString()) == "user:heidi" ? heidi : grace) =
        inv["id"].GetString();
  }
  EXPECT_EQ(
      Call("DELETE", "/v1/invitations/" + grace + "?actor=user:bob").status,
      404);
  HttpResponse revoked =
      Call("DELETE", "/v1/invitations/" + grace + "?actor=user:alice");
  ASSERT_EQ(revoked.status, 200) << revoked.body;
  EXPECT_STREQ(Json(revoked)["invitation"]["state"].GetString(), "revoked");
  HttpResponse declined = Call("POST", "/v1/invitations/" + heidi + "/decline",
                               R"({"subject":"user:heidi"})");
  ASSERT_EQ(declined.status, 200) << declined.body;
  EXPECT_EQ(Call("POST", "/v1/invitations/" + grace + "/accept",
                 R"({"subject":"user:grace"})")
                .status,
            409);
}

TEST_F(WorkflowApiTest, MembersPermissionsAndAccounts) {
  EXPECT_EQ(Call("PUT", "/v1/groups/project_x/members/user:dave",
                 R"({"actor":"user:alice","roles":["content_creator"]})")
                .status,
            200);
  HttpResponse last =
      Call("DELETE", "/v1/groups/board/members/user:ivan?actor=user:ivan");
  EXPECT_EQ(last.status, 409);
  EXPECT_EQ(ErrorCode(last), "FAILED_PRECONDITION");
  EXPECT_EQ(
      Call("DELETE", "/v1/groups/project_x/members/user:frank?actor=user:alice")
          .status,
      200);
  HttpResponse raise = Call("PUT", "/v1/permissions",
                            R"({"actor":"user:alice","subject":"user:dave",
                                "resource":"file:logo","roles":["content_creator"]})");
  EXPECT_EQ(raise.status, 200) << raise.body;
  HttpResponse neither = Call("PUT", "/v1/permissions",
                              R"({"actor":"user:alice","subject":"user:dave",
                                  "resource":"file:logo"})");
  EXPECT_EQ(neither.status, 400);
  HttpResponse restrict = Call("PUT", "/v1/permissions",
                               R"({"actor":"user:alice","subject":"user:dave",
                                   "resource":"file:readme","restrict":["*"]})");
  EXPECT_EQ(restrict.status, 200) << restrict.body;
  EXPECT_EQ(Call("PUT", "/v1/accounts/acme/administrators/user:alice",
                 R"({"actor":"user:olivia"})")
                .status,
            200);
  EXPECT_EQ(
      Call("DELETE",
           "/v1/accounts/acme/administrators/user:olivia?actor=user:alice")
          .status,
      200);
  HttpResponse people =
      Call("GET", "/v1/accounts/acme/people?actor=user:alice");
  ASSERT_EQ(people.status, 200) << people.body;
  EXPECT_GT(Json(people)["people"].Size(), 3u);
  EXPECT_EQ(Call("GET", "/v1/accounts/acme/people?actor=user:bob").status, 403);
  EXPECT_EQ(Call("DELETE", "/v1/accounts/acme?actor=user:bob").status, 403);
  EXPECT_EQ(Call("DELETE", "/v1/accounts/acme?actor=user:alice").status, 200);
  EXPECT_EQ(Call("GET", "/v1/resources/group/project_x").status, 404);
  // Gone now: alice holds nothing there, and the answer is the one for any
  // account where she holds nothing.
  EXPECT_EQ(Call("DELETE", "/v1/accounts/acme?actor=user:alice").status, 403);
}

}  // namespace
}  // namespace portcullis::server
