// End-to-end: the seed document ("Inviting Members & Setting User
// Permissions") from top to bottom, through HTTP only, against the real
// daemon running the workspace policy (issue 5, "Tests").
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "policies/policy_compiler.h"
#include "storage/jsonl.h"
#include "tests/e2e/daemon.h"

namespace portcullis::e2e {
namespace {

const std::string kPolicies = PORTCULLIS_POLICIES_DIR;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

rapidjson::Document Json(const Response& r) {
  rapidjson::Document d;
  d.Parse(r.body.data(), r.body.size());
  EXPECT_FALSE(d.HasParseError()) << r.body;
  return d;
}

class WorkflowsE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    daemon_ = std::make_unique<Daemon>(ReadFile(kPolicies + "/workspace.yaml"));
    ASSERT_TRUE(daemon_->started()) << daemon_->startup_line() << "\n"
                                    << daemon_->Stderr();
  }
  Daemon& D() { return *daemon_; }

  // 200 or the test fails showing the body.
  rapidjson::Document Ok(const std::string& method, const std::string& target,
                         const std::string& body = "") {
    Response r = D().Call(method, target, body);
    EXPECT_EQ(r.status, 200)
        << method << " " << target << " " << body << " -> " << r.body;
    return Json(r);
  }
  bool Allowed(const std::string& subject, const std::string& action,
               const std::string& resource) {
    rapidjson::Document d =
        Ok("POST", "/v1/check",
           R"({"subject":")" + subject + R"(","action":")" + action +
               R"(","resource":")" + resource + R"("})");
    return d.IsObject() && d.HasMember("allowed") && d["allowed"].GetBool();
  }
  std::string Reason(const std::string& subject, const std::string& action,
                     const std::string& resource) {
    rapidjson::Document d =
        Ok("POST", "/v1/check",
           R"({"subject":")" + subject + R"(","action":")" + action +
               R"(","resource":")" + resource + R"("})");
    return d["reason"]["code"].GetString();
  }
  // The account, its administrator and the people, written by the calling
  // service through the data endpoints.
  void SeedAccount() {
    Ok("PUT", "/v1/resources/account/acme");
    for (const char* u : {"olivia", "alice", "bob", "dave", "erin"}) {
      Ok("PUT", std::string("/v1/subjects/user/") + u);
    }
    Ok("PUT", "/v1/bindings",
       R"({"subject":"user:olivia","resource":"account:acme","roles":["account_administrator"]})");
  }

  std::unique_ptr<Daemon> daemon_;
};

TEST_F(WorkflowsE2E, TheSeedFromTopToBottom) {
  SeedAccount();

  // "If you create a group, you are automatically Administrator of that
  // group." An account administrator creates one.
  rapidjson::Document created =
      Ok("POST", "/v1/groups",
         R"({"actor":"user:olivia","account":"acme","id":"project"})");
  EXPECT_STREQ(created["group"].GetString(), "group:project");
  const uint64_t created_rev = std::stoull(created["revision"].GetString());
  EXPECT_TRUE(Allowed("user:olivia", "invite_members", "group:project"));
  EXPECT_TRUE(Allowed("user:olivia", "manage_members", "group:project"));
  // The changelog names the actor.
  rapidjson::Document changes =
      Ok("GET", "/v1/changes?since=" + std::to_string(created_rev - 1));
  ASSERT_GE(changes["changes"].Size(), 1u);
  EXPECT_STREQ(changes["changes"][0]["actor"].GetString(), "user:olivia");
  // Someone who is not an account administrator cannot create groups.
  Response no_group =
      D().Call("POST", "/v1/groups",
               R"({"actor":"user:alice","account":"acme","id":"other"})");
  EXPECT_EQ(no_group.status, 403) << no_group.body;
  EXPECT_NE(no_group.body.find("create_group"), std::string::npos);

  // Content, written by the calling service.
  Ok("PUT", "/v1/resources/folder/docs", R"({"parent":"group:project"})");
  Ok("PUT", "/v1/resources/file/plan",
     R"({"parent":"folder:docs","attributes":{"owner":"olivia"}})");
  Ok("PUT", "/v1/resources/file/notes",
     R"({"parent":"folder:docs","attributes":{"owner":"olivia"}})");

  // "The same permissions apply to all invitees if sending invitations to
  // many at the same time": three as members ("None of the above"), one of
  // them by e-mail address, no account yet ...
  rapidjson::Document three =
      Ok("POST", "/v1/groups/project/invitations",
         R"({"actor":"user:olivia","invitees":["user:dave","user:erin",
          "email:frank@example.com"],"roles":["member"],
          "message":"Welcome to the project portal"})");
  ASSERT_EQ(three["invitations"].Size(), 3u);
  EXPECT_EQ(three["conflicts"].Size(), 0u);
  // ... and one with another permission set, in a separate request.
  rapidjson::Document one =
      Ok("POST", "/v1/groups/project/invitations",
         R"({"actor":"user:olivia","invitees":["user:bob"],
          "roles":["content_creator"]})");
  ASSERT_EQ(one["invitations"].Size(), 1u);
  const std::string bob_invitation = one["invitations"][0]["id"].GetString();
  EXPECT_EQ(bob_invitation.size(), 32u);  // 128 random bits, hex
  // Inviting someone already invited is a per-invitee conflict.
  rapidjson::Document again =
      Ok("POST", "/v1/groups/project/invitations",
         R"({"actor":"user:olivia","invitees":["user:dave","user:alice"],
          "roles":["member"]})");
  ASSERT_EQ(again["conflicts"].Size(), 1u);
  EXPECT_STREQ(again["conflicts"][0]["code"].GetString(), "already_invited");
  ASSERT_EQ(again["invitations"].Size(), 1u);  // alice
  const std::string alice_invitation =
      again["invitations"][0]["id"].GetString();

  // "Pending Invites": the administrator sees them.
  rapidjson::Document pending = Ok(
      "GET", "/v1/groups/project/invitations?state=pending&actor=user:olivia");
  EXPECT_EQ(pending["invitations"].Size(), 5u);
  // Revoking one (alice's).
  rapidjson::Document revoked = Ok(
      "DELETE", "/v1/invitations/" + alice_invitation + "?actor=user:olivia");
  EXPECT_STREQ(revoked["invitation"]["state"].GetString(), "revoked");
  EXPECT_EQ(D().Call("POST", "/v1/invitations/" + alice_invitation + "/accept",
                     R"({"subject":"user:alice"})")
                .status,
            409);

  // While pending, invitees have no access.
  EXPECT_FALSE(Allowed("user:dave", "view", "file:plan"));
  EXPECT_EQ(Reason("user:dave", "view", "file:plan"), "binding_pending");
  EXPECT_FALSE(Allowed("user:bob", "edit", "file:plan"));

  // "A person already using Clinked ... an invitation notification
  // displayed on the main dashboard."
  rapidjson::Document dashboard =
      Ok("GET", "/v1/subjects/user/dave/invitations?state=pending");
  ASSERT_EQ(dashboard["invitations"].Size(), 1u);
  const std::string dave_invitation =
      dashboard["invitations"][0]["id"].GetString();
  // Only the invitee can accept an invitation addressed to them.
  EXPECT_EQ(D().Call("POST", "/v1/invitations/" + dave_invitation + "/accept",
                     R"({"subject":"user:erin"})")
                .status,
            403);
  Ok("POST", "/v1/invitations/" + dave_invitation + "/accept",
     R"({"subject":"user:dave"})");
  rapidjson::Document erin_list =
      Ok("GET", "/v1/subjects/user/erin/invitations?state=pending");
  ASSERT_EQ(erin_list["invitations"].Size(), 1u);
  Ok("POST",
     "/v1/invitations/" +
         std::string(erin_list["invitations"][0]["id"].GetString()) + "/accept",
     R"({"subject":"user:erin"})");
  Ok("POST", "/v1/invitations/" + bob_invitation + "/accept",
     R"({"subject":"user:bob"})");
  // "A completely new member ... will receive an email which includes an
  // invitation confirmation link" and signs up: the account that accepts is
  // bound.
  rapidjson::Document frank_list = Ok(
      "GET", "/v1/subjects/email/frank@example.com/invitations?state=pending");
  ASSERT_EQ(frank_list["invitations"].Size(), 1u);
  Ok("PUT", "/v1/subjects/user/frank");
  rapidjson::Document frank_accept =
      Ok("POST",
         "/v1/invitations/" +
             std::string(frank_list["invitations"][0]["id"].GetString()) +
             "/accept",
         R"({"subject":"user:frank"})");
  EXPECT_STREQ(frank_accept["member"].GetString(), "user:frank");

  // After accepting: exactly the invited permission set.
  // Members ("None of the above"): view and download, not contribute.
  for (const char* m : {"user:dave", "user:erin", "user:frank"}) {
    EXPECT_TRUE(Allowed(m, "view", "file:plan")) << m;
    EXPECT_TRUE(Allowed(m, "download", "file:plan")) << m;
    EXPECT_FALSE(Allowed(m, "edit", "file:plan")) << m;
    EXPECT_FALSE(Allowed(m, "invite_members", "group:project")) << m;
  }
  // Content creator: create and edit content, upload files; not invite.
  EXPECT_TRUE(Allowed("user:bob", "edit", "file:plan"));
  EXPECT_TRUE(Allowed("user:bob", "upload", "folder:docs"));
  EXPECT_TRUE(Allowed("user:bob", "create_content", "group:project"));
  EXPECT_FALSE(Allowed("user:bob", "invite_members", "group:project"));

  // "You need to be an Administrator to invite others."
  Response refused = D().Call(
      "POST", "/v1/groups/project/invitations",
      R"({"actor":"user:bob","invitees":["user:alice"],"roles":["member"]})");
  EXPECT_EQ(refused.status, 403) << refused.body;
  rapidjson::Document refused_body = Json(refused);
  EXPECT_STREQ(refused_body["error"]["code"].GetString(), "PERMISSION_DENIED");
  EXPECT_NE(std::string(refused_body["error"]["message"].GetString())
                .find("invite_members on group:project"),
            std::string::npos)
      << refused.body;

  // "A person who has been invited as a 'Not admin, nor able to create
  // content' can be a 'Content creator' for a specific file."
  Ok("PUT", "/v1/permissions",
     R"({"actor":"user:olivia","subject":"user:dave","resource":"file:plan",
         "roles":["content_creator"]})");
  EXPECT_TRUE(Allowed("user:dave", "edit", "file:plan"));
  EXPECT_FALSE(Allowed("user:dave", "edit", "file:notes"));
  // Only those allowed to manage that file's permissions may do so.
  EXPECT_EQ(D().Call("PUT", "/v1/permissions",
                     R"({"actor":"user:bob","subject":"user:erin",
                         "resource":"file:plan","roles":["content_creator"]})")
                .status,
            403);

  // A restriction hides one file from one member, not from an
  // Administrator.
  Ok("PUT", "/v1/permissions",
     R"({"actor":"user:olivia","subject":"user:erin","resource":"file:notes",
         "restrict":["*"]})");
  EXPECT_FALSE(Allowed("user:erin", "view", "file:notes"));
  EXPECT_TRUE(Allowed("user:erin", "view", "file:plan"));
  EXPECT_TRUE(Allowed("user:olivia", "view", "file:notes"));
  Ok("PUT", "/v1/permissions",
     R"({"actor":"user:olivia","subject":"user:olivia","resource":"file:notes",
         "restrict":["*"]})");
  EXPECT_TRUE(Allowed("user:olivia", "view", "file:notes"));

  // Change a member's permission set.
  Ok("PUT", "/v1/groups/project/members/user:erin",
     R"({"actor":"user:olivia","roles":["administrator","content_creator"]})");
  EXPECT_TRUE(Allowed("user:erin", "invite_members", "group:project"));

  // The last Administrator cannot be removed or demoted: with two, one may
  // go; the last one stays.
  Ok("PUT", "/v1/groups/project/members/user:erin",
     R"({"actor":"user:olivia","roles":["content_creator"]})");
  Response last = D().Call(
      "DELETE", "/v1/groups/project/members/user:olivia?actor=user:olivia");
  EXPECT_EQ(last.status, 409) << last.body;
  EXPECT_NE(last.body.find("manage_members"), std::string::npos) << last.body;
  Response demote = D().Call("PUT", "/v1/groups/project/members/user:olivia",
                             R"({"actor":"user:olivia","roles":["member"]})");
  EXPECT_EQ(demote.status, 409) << demote.body;
  EXPECT_TRUE(Allowed("user:olivia", "manage_members", "group:project"));
  // Removing a member takes their per-file raise with them.
  Ok("DELETE", "/v1/groups/project/members/user:dave?actor=user:olivia");
  EXPECT_FALSE(Allowed("user:dave", "edit", "file:plan"));
  EXPECT_FALSE(Allowed("user:dave", "view", "file:plan"));

  // "Your network": the people in the account's groups.
  rapidjson::Document people =
      Ok("GET", "/v1/accounts/acme/people?actor=user:olivia");
  EXPECT_EQ(people["people"].Size(), 4u);  // olivia, bob, erin, frank

  // Account administrators: "They can create additional groups and delete
  // the account etc."
  Ok("PUT", "/v1/accounts/acme/administrators/user:alice",
     R"({"actor":"user:olivia"})");
  Ok("POST", "/v1/groups",
     R"({"actor":"user:alice","account":"acme","id":"board"})");
  Ok("DELETE", "/v1/accounts/acme/administrators/user:alice?actor=user:olivia");
  EXPECT_FALSE(Allowed("user:alice", "create_group", "account:acme"));
  EXPECT_EQ(D().Call("DELETE", "/v1/accounts/acme?actor=user:bob").status, 403);

  // Deleting the account leaves nothing behind.
  Ok("DELETE", "/v1/accounts/acme?actor=user:olivia");
  Response exported = D().Call("GET", "/v1/export");
  ASSERT_EQ(exported.status, 200);
  std::istringstream lines(exported.body);
  std::string line;
  size_t subjects = 0;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    rapidjson::Document d;
    d.Parse(line.data(), line.size());
    ASSERT_FALSE(d.HasParseError()) << line;
    // People are not part of the account; everything else was.
    EXPECT_STREQ(d["kind"].GetString(), "subject") << line;
    ++subjects;
  }
  EXPECT_GT(subjects, 0u);
  for (const char* who : {"user:dave", "user:erin", "user:bob", "user:frank"}) {
    EXPECT_FALSE(Allowed(who, "view", "file:plan"));
  }
  EXPECT_EQ(Json(D().Call("GET",
                          "/v1/subjects/user/alice/invitations"))["invitations"]
                .Size(),
            0u);
  EXPECT_EQ(
      Json(D().Call(
          "GET",
          "/v1/subjects/email/frank@example.com/invitations"))["invitations"]
          .Size(),
      0u);
}

TEST_F(WorkflowsE2E, InviteCommandReadsAnOutlookExport) {
  SeedAccount();
  Ok("POST", "/v1/groups",
     R"({"actor":"user:olivia","account":"acme","id":"project"})");
  const std::string out_file = D().dir() + "/invite.out";
  const std::string command =
      std::string(PORTCULLIS_BINARY) +
      " invite --group project --roles member --actor user:olivia --from " +
      PORTCULLIS_CLI_TESTDATA +
      "/contacts_outlook.csv --server http://127.0.0.1:" +
      std::to_string(D().port()) + " --token " + Daemon::kAdminToken + " > " +
      out_file + " 2>&1";
  const int rc = std::system(command.c_str());
  const std::string out = ReadFile(out_file);
  EXPECT_EQ(WEXITSTATUS(rc), 0) << out;
  EXPECT_NE(out.find("email:yan.li@example.com"), std::string::npos) << out;
  EXPECT_NE(out.find("3 invited, 0 not invited"), std::string::npos) << out;
  rapidjson::Document pending = Ok(
      "GET", "/v1/groups/project/invitations?state=pending&actor=user:olivia");
  EXPECT_EQ(pending["invitations"].Size(), 3u);
  // Again: each one is a per-invitee conflict, exit code 2.
  const int rc2 = std::system(command.c_str());
  EXPECT_EQ(WEXITSTATUS(rc2), 2) << ReadFile(out_file);
  EXPECT_NE(ReadFile(out_file).find("0 invited, 3 not invited"),
            std::string::npos);
  // A non-administrator is refused with the policy's reason, exit code 1.
  const std::string as_bob =
      std::string(PORTCULLIS_BINARY) +
      " invite --group project --roles member --actor user:bob --from " +
      PORTCULLIS_CLI_TESTDATA +
      "/contacts_google.csv --server http://127.0.0.1:" +
      std::to_string(D().port()) + " --token " + Daemon::kAdminToken + " > " +
      out_file + " 2>&1";
  EXPECT_EQ(WEXITSTATUS(std::system(as_bob.c_str())), 1);
  EXPECT_NE(ReadFile(out_file).find("HTTP 403"), std::string::npos)
      << ReadFile(out_file);
}

// One curl command of the README walkthrough and the answer it documents.
struct ReadmeCommand {
  int line = 0;
  std::string command;
  int status = 0;
  std::string expect;  // a substring of the body
};

std::vector<ReadmeCommand> ReadmeCommands(const std::string& readme) {
  std::vector<ReadmeCommand> out;
  const size_t start = readme.find("## Walkthrough: the demo portal over HTTP");
  EXPECT_NE(start, std::string::npos);
  if (start == std::string::npos) return out;
  std::istringstream in(readme.substr(start));
  const int first_line =
      1 + static_cast<int>(std::count(
              readme.begin(), readme.begin() + static_cast<long>(start), '\n'));
  std::string line;
  int n = first_line - 1;
  ReadmeCommand* open = nullptr;
  bool continued = false;
  while (std::getline(in, line)) {
    ++n;
    if (continued) {
      open->command += "\n" + line;
      continued = !line.empty() && line.back() == '\\';
      continue;
    }
    if (line.rfind("curl ", 0) == 0) {
      out.push_back({n, line, 0, ""});
      open = &out.back();
      continued = line.back() == '\\';
    } else if (line.rfind("# \u2192 ", 0) == 0 && open != nullptr) {
      const std::string rest = line.substr(std::string("# \u2192 ").size());
      open->status = std::atoi(rest.c_str());
      const size_t space = rest.find(' ');
      if (space != std::string::npos) open->expect = rest.substr(space + 1);
      open = nullptr;
    }
  }
  return out;
}

// The README walkthrough, command by command, against a daemon holding the
// demo data (imported as `portcullis import` does, from
// policies/demo-data.jsonl).
TEST_F(WorkflowsE2E, ReadmeWalkthroughAnswersAsDocumented) {
  {
    policies::PolicyResult policy =
        policies::CompilePolicyFile(kPolicies + "/workspace.yaml");
    ASSERT_TRUE(policy.has_value());
    auto store = storage::Store::Open(D().dir() + "/data");
    ASSERT_TRUE(store.has_value()) << store.error().message();
    storage::ImportOptions o;
    o.policy = policy->get();
    auto imported =
        storage::ImportJsonlFile(**store, kPolicies + "/demo-data.jsonl", o);
    ASSERT_TRUE(imported.has_value()) << imported.error().message();
  }
  const std::vector<ReadmeCommand> commands =
      ReadmeCommands(ReadFile(kPolicies + "/../README.md"));
  ASSERT_GE(commands.size(), 25u);
  setenv("PORTCULLIS",
         ("http://127.0.0.1:" + std::to_string(D().port())).c_str(), 1);
  setenv("TOKEN", Daemon::kAdminToken, 1);
  const std::string body_file = D().dir() + "/curl.body";
  const std::string status_file = D().dir() + "/curl.status";
  for (const ReadmeCommand& c : commands) {
    SCOPED_TRACE("README.md:" + std::to_string(c.line) + ": " + c.command);
    ASSERT_NE(c.status, 0) << "no documented answer";
    const std::string run =
        c.command + " -o " + body_file + " -w '%{http_code}' > " + status_file;
    ASSERT_EQ(std::system(run.c_str()), 0);
    const std::string body = ReadFile(body_file);
    EXPECT_EQ(std::atoi(ReadFile(status_file).c_str()), c.status) << body;
    EXPECT_NE(body.find(c.expect), std::string::npos) << body;
  }
}

}  // namespace
}  // namespace portcullis::e2e
