// Attacks on the membership workflows through the real daemon on the demo
// portal (policies/demo-data.jsonl): every test here is the regression test
// of a hole found by attacking it (docs/reliability.md, "The membership
// workflows"). The random, model-checked version of the same rules is
// membership_model_test.cc.
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/e2e/daemon.h"

namespace portcullis::hostile {
namespace {

using e2e::Daemon;
using e2e::Response;

const std::string kPolicies = PORTCULLIS_POLICIES_DIR;
constexpr const char* kHeidi = "5d41402abc4b2a76b9719d911017c592";
constexpr const char* kGrace = "7d793037a0760186574b0282f2f435e7";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

rapidjson::Document Json(const Response& r) {
  rapidjson::Document d;
  d.Parse(r.body.data(), r.body.size());
  return d;
}

// Replaces every `from` in `s` with `to`.
std::string Replace(std::string s, const std::string& from,
                    const std::string& to) {
  for (size_t at = s.find(from); at != std::string::npos;
       at = s.find(from, at + to.size())) {
    s.replace(at, from.size(), to);
  }
  return s;
}

class MembershipSecurity : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/portcullis_membership_XXXXXX";
    logs_ = mkdtemp(tmpl);
    config_ = logs_ + "/config.yaml";
    e2e::WriteFile(config_, "log:\n  access: " + logs_ +
                                "/access.log\n  decisions: " + logs_ +
                                "/decisions.log\ntimeouts:\n"
                                "  invitation_sweep_ms: 100\n");
    daemon_ = std::make_unique<Daemon>(
        ReadFile(kPolicies + "/workspace.yaml"),
        std::vector<std::string>{"--config", config_});
    ASSERT_TRUE(daemon_->started()) << daemon_->Stderr();
    Ok("POST", "/v1/import", ReadFile(kPolicies + "/demo-data.jsonl"));
  }
  void TearDown() override {
    daemon_.reset();
    std::error_code ec;
    std::filesystem::remove_all(logs_, ec);
  }

  Response Call(const std::string& method, const std::string& target,
                const std::string& body = "",
                const std::string& token = Daemon::kAdminToken) {
    return daemon_->Call(method, target, body, token);
  }
  rapidjson::Document Ok(const std::string& method, const std::string& target,
                         const std::string& body = "") {
    Response r = Call(method, target, body);
    EXPECT_EQ(r.status, 200) << method << " " << target << " " << body
                             << " -> " << r.body;
    return Json(r);
  }
  std::string Revision() {
    return Json(Call("GET", "/v1/changes?since=0&limit=1"))["revision"]
        .GetString();
  }
  // The roles `subject` holds on `resource` ("" when none; "pending:" and
  // the roles for a pending binding).
  std::string Roles(const std::string& subject, const std::string& resource) {
    rapidjson::Document d =
        Json(Call("GET", "/v1/bindings?subject=" + subject));
    if (!d.IsObject() || !d.HasMember("bindings")) return "<error>";
    for (const auto& b : d["bindings"].GetArray()) {
      if (std::string(b["resource"].GetString()) != resource) continue;
      std::string out =
          std::string(b["state"].GetString()) == "pending" ? "pending:" : "";
      for (const auto& r : b["roles"].GetArray()) {
        out += std::string(out.empty() || out.back() == ':' ? "" : ",") +
               r.GetString();
      }
      return out;
    }
    return "";
  }
  bool Allowed(const std::string& subject, const std::string& action,
               const std::string& resource) {
    rapidjson::Document d =
        Ok("POST", "/v1/check",
           R"({"subject":")" + subject + R"(","action":")" + action +
               R"(","resource":")" + resource + R"("})");
    return d["allowed"].GetBool();
  }
  std::string ReasonCode(const std::string& subject, const std::string& action,
                         const std::string& resource) {
    rapidjson::Document d =
        Ok("POST", "/v1/check",
           R"({"subject":")" + subject + R"(","action":")" + action +
               R"(","resource":")" + resource + R"("})");
    return d["reason"]["code"].GetString();
  }
  // Invites one invitee; returns the new invitation's id ("" if none).
  std::string Invite(const std::string& actor, const std::string& group,
                     const std::string& invitee, const std::string& roles) {
    rapidjson::Document d =
        Ok("POST", "/v1/groups/" + group + "/invitations",
           R"({"actor":")" + actor + R"(","invitees":[")" + invitee +
               R"("],"roles":)" + roles + "}");
    if (!d.IsObject() || d["invitations"].Empty()) return "";
    return d["invitations"][0]["id"].GetString();
  }
  Response Accept(const std::string& id, const std::string& subject) {
    return Call("POST", "/v1/invitations/" + id + "/accept",
                R"({"subject":")" + subject + R"("})");
  }
  static std::string ErrorReason(const Response& r) {
    rapidjson::Document d = Json(r);
    if (!d.IsObject() || !d.HasMember("error") ||
        !d["error"].HasMember("reason")) {
      return "<none in " + r.body + ">";
    }
    return d["error"]["reason"].GetString();
  }
  std::vector<std::string> LogLines(const std::string& name) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    std::vector<std::string> lines;
    std::istringstream in(ReadFile(logs_ + "/" + name));
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
  }
  void AddUser(const std::string& id, const std::string& email = "") {
    Ok("PUT", "/v1/subjects/user/" + id,
       email.empty() ? "" : R"({"attributes":{"email":")" + email + R"("}})");
  }

  std::string logs_, config_;
  std::unique_ptr<Daemon> daemon_;
};

// A member removed from a group does not get back in by accepting an
// invitation received before the removal (here one to an address the member
// owns), nor by one to the member itself.
TEST_F(MembershipSecurity, ARemovedMemberCannotReturnThroughAnOlderInvitation) {
  AddUser("zoe", "zoe@example.com");
  const std::string to_user =
      Invite("user:alice", "project_x", "user:zoe", R"(["member"])");
  const std::string to_address = Invite("user:alice", "project_x",
                                        "email:zoe@example.com",
                                        R"(["administrator"])");
  ASSERT_FALSE(to_user.empty());
  ASSERT_FALSE(to_address.empty());
  ASSERT_EQ(Accept(to_user, "user:zoe").status, 200);
  Ok("DELETE", "/v1/groups/project_x/members/user:zoe?actor=user:alice");
  EXPECT_EQ(Roles("user:zoe", "group:project_x"), "");
  const std::string before = Revision();
  Response back = Accept(to_address, "user:zoe");
  EXPECT_EQ(back.status, 409) << back.body;  // revoked with the removal
  EXPECT_EQ(Roles("user:zoe", "group:project_x"), "");
  EXPECT_EQ(Revision(), before);
}

// An active member accepting another invitation gets 409 already_member and
// nothing changes (it used to take the invitation's roles).
TEST_F(MembershipSecurity, AnActiveMemberCannotAcceptAnotherInvitation) {
  AddUser("zoe", "zoe@example.com");
  const std::string to_address = Invite("user:alice", "project_x",
                                        "email:zoe@example.com",
                                        R"(["administrator"])");
  const std::string to_user =
      Invite("user:alice", "project_x", "user:zoe", R"(["member"])");
  ASSERT_EQ(Accept(to_user, "user:zoe").status, 200);
  const std::string before = Revision();
  Response again = Accept(to_address, "user:zoe");
  EXPECT_EQ(again.status, 409) << again.body;
  EXPECT_EQ(ErrorReason(again), "already_member");
  EXPECT_EQ(Roles("user:zoe", "group:project_x"), "member");
  EXPECT_EQ(Revision(), before);
}

// An administrator removed by another administrator does not regain the
// role through an invitation they had sent to an address of their own; a
// demoted one's invitations are void.
TEST_F(MembershipSecurity, AnInvitationNeedsAnInviterWhoIsStillEntitled) {
  Ok("PUT", "/v1/subjects/user/carol",
     R"({"attributes":{"email":"carol@example.com"}})");
  const std::string backdoor = Invite("user:carol", "project_x",
                                      "email:carol.alt@example.com",
                                      R"(["administrator"])");
  ASSERT_FALSE(backdoor.empty());
  Ok("DELETE", "/v1/groups/project_x/members/user:carol?actor=user:alice");
  std::string before = Revision();
  Response r = Accept(backdoor, "user:carol");
  EXPECT_EQ(r.status, 409) << r.body;  // revoked when carol was removed
  EXPECT_EQ(Roles("user:carol", "group:project_x"), "");
  EXPECT_EQ(Revision(), before);

  // Demoted rather than removed: the invitation stays pending but is void
  // while its inviter may not invite.
  AddUser("yan");
  AddUser("xia");
  const std::string from_alice =
      Invite("user:alice", "project_x", "user:yan", R"(["member"])");
  Ok("PUT", "/v1/groups/project_x/members/user:bob",
     R"({"actor":"user:alice","roles":["administrator"]})");
  const std::string from_bob =
      Invite("user:bob", "project_x", "email:xia@example.com",
             R"(["administrator"])");
  ASSERT_FALSE(from_bob.empty());
  Ok("PUT", "/v1/groups/project_x/members/user:bob",
     R"({"actor":"user:alice","roles":["member"]})");
  before = Revision();
  r = Accept(from_bob, "user:xia");
  EXPECT_EQ(r.status, 410) << r.body;
  EXPECT_EQ(ErrorReason(r), "inviter_not_entitled");
  EXPECT_EQ(Roles("user:xia", "group:project_x"), "");
  EXPECT_EQ(Revision(), before);
  // alice's invitations are unaffected.
  EXPECT_EQ(Accept(from_alice, "user:yan").status, 200);
}

// The last administrator accepting an older member invitation of their own
// used to be demoted by it, leaving nobody to manage the group's members.
TEST_F(MembershipSecurity, AcceptingCannotDemoteTheLastAdministrator) {
  AddUser("zed", "zed@example.com");
  const std::string as_member =
      Invite("user:alice", "project_x", "user:zed", R"(["member"])");
  const std::string as_admin = Invite("user:alice", "project_x",
                                      "email:zed@example.com",
                                      R"(["administrator"])");
  ASSERT_EQ(Accept(as_admin, "user:zed").status, 200);
  Ok("DELETE", "/v1/groups/project_x/members/user:carol?actor=user:zed");
  Ok("DELETE", "/v1/groups/project_x/members/user:alice?actor=user:zed");
  ASSERT_EQ(Roles("user:zed", "group:project_x"), "administrator");
  const std::string before = Revision();
  // Refused twice over now: alice's invitations went with her, and an
  // active member cannot accept (AnActiveMemberCannotAcceptAnotherInvitation).
  Response r = Accept(as_member, "user:zed");
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_EQ(Roles("user:zed", "group:project_x"), "administrator");
  EXPECT_TRUE(Allowed("user:zed", "manage_members", "group:project_x"));
  EXPECT_EQ(Revision(), before);
}

// Per-file raises and restrictions are for active members of the file's
// group; an account-level role is not membership. What is held anyway (by
// a write through the data API) shows in /people and can be cleared.
TEST_F(MembershipSecurity, FilePermissionsAreForMembersOfTheFilesGroup) {
  const std::string before = Revision();
  for (const char* body :
       {R"({"actor":"user:alice","subject":"user:olivia","resource":"file:logo","roles":["content_creator"]})",
        R"({"actor":"user:alice","subject":"user:olivia","resource":"file:logo","restrict":["view"]})",
        R"({"actor":"user:alice","subject":"user:ivan","resource":"file:logo","roles":["content_creator"]})",
        R"({"actor":"user:alice","subject":"user:heidi","resource":"file:logo","roles":["content_creator"]})"}) {
    Response r = Call("PUT", "/v1/permissions", body);
    EXPECT_EQ(r.status, 409) << body << " -> " << r.body;
    EXPECT_EQ(ErrorReason(r), "not_a_member");
  }
  EXPECT_EQ(Revision(), before);
  EXPECT_FALSE(Allowed("user:olivia", "edit", "file:logo"));

  Ok("PUT", "/v1/bindings",
     R"({"subject":"user:olivia","resource":"file:readme","roles":["content_creator"]})");
  rapidjson::Document people =
      Ok("GET", "/v1/accounts/acme/people?actor=user:olivia");
  bool shown = false;
  for (const auto& p : people["people"].GetArray()) {
    if (std::string(p["subject"].GetString()) != "user:olivia") continue;
    for (const auto& h : p["holdings"].GetArray()) {
      shown |= std::string(h["resource"].GetString()) == "file:readme";
    }
  }
  EXPECT_TRUE(shown) << "olivia's raise on file:readme is not listed";
  Ok("PUT", "/v1/permissions",
     R"({"actor":"user:alice","subject":"user:olivia","resource":"file:readme","roles":[]})");
  EXPECT_EQ(Roles("user:olivia", "file:readme"), "");
}

// Only the invitee accepts or declines: a subject that is not a user, an
// address that is not the invitee, a user that does not exist.
TEST_F(MembershipSecurity, OnlyTheInviteeAnswersAnInvitation) {
  const std::string before = Revision();
  struct Case {
    std::string verb, id, subject;
    int status;
  };
  for (const Case& c : std::vector<Case>{
           {"decline", kGrace, "account:acme", 400},
           {"decline", kGrace, "group:project_x", 400},
           {"decline", kGrace, "email:mallory@example.com", 400},
           {"decline", kGrace, "user:nobody", 403},
           {"decline", kHeidi, "user:dave", 403},
           {"decline", kHeidi, "account:acme", 400},
           {"accept", kGrace, "account:acme", 400},
           {"accept", kGrace, "email:grace@example.com", 400},
           {"accept", kGrace, "user:nobody", 403},
           {"accept", kHeidi, "user:dave", 403},
           {"accept", kHeidi, "account:acme", 400}}) {
    Response r = Call("POST", "/v1/invitations/" + c.id + "/" + c.verb,
                      R"({"subject":")" + c.subject + R"("})");
    EXPECT_EQ(r.status, c.status) << c.verb << " by " << c.subject << ": "
                                  << r.body;
  }
  EXPECT_EQ(Revision(), before);
  EXPECT_EQ(Roles("email:grace@example.com", "group:project_x"),
            "pending:member");
  // The address itself may decline its own invitation, however its case is
  // written.
  EXPECT_EQ(Call("POST", std::string("/v1/invitations/") + kGrace + "/decline",
                 R"({"subject":"email:Grace@Example.com"})")
                .status,
            200);
}

// "No expiry" is distinct from every instant: an expiry at the epoch, or
// any instant at or before now, has passed; on disk too (export reads the
// store back).
TEST_F(MembershipSecurity, AnExpiryAtTheEpochIsAnExpiry) {
  struct Case {
    std::string expires_at;
    bool allowed;
  };
  const std::vector<Case> cases = {
      {"1970-01-01T00:00:00Z", false},
      {"1969-12-31T23:59:59Z", false},
      {"1970-01-01T00:00:01Z", false},
      {"1970-01-01T01:00:00+01:00", false},  // the epoch, with an offset
      {"1969-12-31T19:00:00-05:00", false},
      {"9999-12-31T23:59:59Z", true},
      {"2999-01-01T00:00:00+14:00", true}};
  for (size_t i = 0; i < cases.size(); ++i) {
    const std::string user = "t" + std::to_string(i);
    AddUser(user);
    Ok("PUT", "/v1/bindings",
       R"({"subject":"user:)" + user +
           R"(","resource":"group:project_x","roles":["member"],"expires_at":")" +
           cases[i].expires_at + R"("})");
    EXPECT_EQ(Allowed("user:" + user, "view", "file:readme"), cases[i].allowed)
        << cases[i].expires_at;
    if (!cases[i].allowed) {
      EXPECT_EQ(ReasonCode("user:" + user, "view", "file:readme"),
                "binding_expired")
          << cases[i].expires_at;
    }
  }
  // Written back as the instant it is, from the store on disk.
  const std::string exported = Call("GET", "/v1/export").body;
  EXPECT_NE(exported.find(R"("subject":"user:t0","resource":"group:project_x","roles":["member"],"state":"active","expires_at":"1970-01-01T00:00:00Z")"),
            std::string::npos)
      << exported;
  rapidjson::Document b = Ok("GET", "/v1/bindings?subject=user:t0");
  ASSERT_EQ(b["bindings"].Size(), 1u);
  EXPECT_STREQ(b["bindings"][0]["expires_at"].GetString(),
               "1970-01-01T00:00:00Z");
  // No expiry stays no expiry.
  EXPECT_TRUE(Allowed("user:dave", "view", "file:readme"));
}

// Invitation ids accept invitations: the check scope never sees them.
TEST_F(MembershipSecurity, InvitationIdsAreOnlyForTheAdminScope) {
  Invite("user:alice", "project_x", "email:kim@example.com", R"(["member"])");
  for (const std::string& target :
       {std::string("/v1/changes?since=0&limit=1000"),
        std::string("/v1/subjects/email/grace@example.com/invitations"),
        std::string("/v1/subjects/user/heidi/invitations"),
        std::string("/v1/groups/project_x/invitations?actor=user:alice")}) {
    Response check = Call("GET", target, "", Daemon::kCheckToken);
    ASSERT_EQ(check.status, 200) << target << ": " << check.body;
    EXPECT_EQ(check.body.find(kGrace), std::string::npos) << target;
    EXPECT_EQ(check.body.find(kHeidi), std::string::npos) << target;
    EXPECT_EQ(check.body.find("\"id\""), std::string::npos) << target;
    Response admin = Call("GET", target);
    ASSERT_EQ(admin.status, 200) << target;
    EXPECT_TRUE(admin.body.find(kGrace) != std::string::npos ||
                admin.body.find(kHeidi) != std::string::npos ||
                admin.body.find("invitation.create") != std::string::npos)
        << target << ": " << admin.body;
  }
  // In the changelog the entity of an invitation change is null for the
  // check scope, and the id for the admin scope.
  rapidjson::Document d = Json(Call("GET", "/v1/changes?since=0&limit=1000",
                                    "", Daemon::kCheckToken));
  bool saw = false;
  for (const auto& e : d["changes"].GetArray()) {
    for (const auto& c : e["changes"].GetArray()) {
      if (std::string(c["op"].GetString()).rfind("invitation.", 0) == 0) {
        saw = true;
        EXPECT_TRUE(c["entity"].IsNull());
      }
    }
  }
  EXPECT_TRUE(saw);
}

// An actor who may not act somewhere gets the same answer whether or not
// the target exists.
TEST_F(MembershipSecurity, AnActorWithoutRightsLearnsNothingOfWhatExists) {
  struct Pair {
    std::string method, existing, missing, body_existing, body_missing;
    std::string name_existing, name_missing;
  };
  const std::vector<Pair> pairs = {
      {"PUT", "/v1/permissions", "/v1/permissions",
       R"({"actor":"user:ivan","subject":"user:dave","resource":"file:budget","roles":["content_creator"]})",
       R"({"actor":"user:ivan","subject":"user:dave","resource":"file:nope","roles":["content_creator"]})",
       "budget", "nope"},
      {"GET", "/v1/groups/project_x/invitations?actor=user:ivan",
       "/v1/groups/nope/invitations?actor=user:ivan", "", "", "project_x",
       "nope"},
      {"POST", "/v1/groups/project_x/invitations",
       "/v1/groups/nope/invitations",
       R"({"actor":"user:ivan","invitees":["user:dave"],"roles":["member"]})",
       R"({"actor":"user:ivan","invitees":["user:dave"],"roles":["member"]})",
       "project_x", "nope"},
      {"PUT", "/v1/groups/project_x/members/user:dave",
       "/v1/groups/nope/members/user:dave",
       R"({"actor":"user:ivan","roles":["member"]})",
       R"({"actor":"user:ivan","roles":["member"]})", "project_x", "nope"},
      {"DELETE", "/v1/groups/project_x/members/user:dave?actor=user:ivan",
       "/v1/groups/nope/members/user:dave?actor=user:ivan", "", "",
       "project_x", "nope"},
      {"DELETE", std::string("/v1/invitations/") + kHeidi + "?actor=user:ivan",
       "/v1/invitations/00000000000000000000000000000000?actor=user:ivan", "",
       "", kHeidi, "00000000000000000000000000000000"},
      {"GET", "/v1/accounts/acme/people?actor=user:ivan",
       "/v1/accounts/nope/people?actor=user:ivan", "", "", "acme", "nope"},
      {"DELETE", "/v1/accounts/acme?actor=user:dave",
       "/v1/accounts/nope?actor=user:dave", "", "", "acme", "nope"},
      {"POST", "/v1/groups", "/v1/groups",
       R"({"actor":"user:dave","account":"acme","id":"x"})",
       R"({"actor":"user:dave","account":"nope","id":"x"})", "acme", "nope"},
      // An actor that does not exist at all.
      {"PUT", "/v1/permissions", "/v1/permissions",
       R"({"actor":"user:ghost","subject":"user:dave","resource":"file:budget","restrict":["*"]})",
       R"({"actor":"user:ghost","subject":"user:dave","resource":"file:nope","restrict":["*"]})",
       "budget", "nope"}};
  const std::string before = Revision();
  for (const Pair& p : pairs) {
    Response a = Call(p.method, p.existing, p.body_existing);
    Response b = Call(p.method, p.missing, p.body_missing);
    EXPECT_TRUE(a.status == 403 || a.status == 404) << p.existing << a.body;
    EXPECT_EQ(a.status, b.status) << p.existing << " vs " << p.missing;
    EXPECT_EQ(Replace(a.body, p.name_existing, "X"),
              Replace(b.body, p.name_missing, "X"))
        << p.existing << " vs " << p.missing;
  }
  EXPECT_EQ(Revision(), before);
}

// One address, one invitation: case and surrounding white space do not make
// another address.
TEST_F(MembershipSecurity, AnAddressIsInvitedOnceWhateverItsCase) {
  rapidjson::Document d =
      Ok("POST", "/v1/groups/project_x/invitations",
         R"({"actor":"user:alice","invitees":["Kim@Example.com","email:Kim@Example.com","email:kim@example.com","email:kim@example.com "],"roles":["member"]})");
  ASSERT_EQ(d["invitations"].Size(), 1u);
  EXPECT_STREQ(d["invitations"][0]["invitee"].GetString(),
               "email:kim@example.com");
  d = Ok("POST", "/v1/groups/project_x/invitations",
         R"({"actor":"user:alice","invitees":["email:KIM@example.COM"],"roles":["member"]})");
  EXPECT_EQ(d["invitations"].Size(), 0u);
  ASSERT_EQ(d["conflicts"].Size(), 1u);
  EXPECT_STREQ(d["conflicts"][0]["code"].GetString(), "already_invited");
  d = Ok("GET", "/v1/subjects/email/KIM@Example.com/invitations?state=pending");
  EXPECT_EQ(d["invitations"].Size(), 1u);
}

// An invitation to an address that a user owns shows on that user's
// dashboard.
TEST_F(MembershipSecurity, AnAddressInvitationIsListedForTheUserWhoOwnsIt) {
  AddUser("grace", "Grace@Example.com");
  rapidjson::Document d =
      Ok("GET", "/v1/subjects/user/grace/invitations?state=pending");
  ASSERT_EQ(d["invitations"].Size(), 1u);
  EXPECT_STREQ(d["invitations"][0]["id"].GetString(), kGrace);
  EXPECT_STREQ(d["invitations"][0]["invitee"].GetString(),
               "email:grace@example.com");
}

// An invitation past its expiry is written as expired (and its pending
// binding removed) by the daemon's sweep, not only shown so.
TEST_F(MembershipSecurity, ExpiredInvitationsAreStoredAsExpired) {
  AddUser("zoe");
  rapidjson::Document d =
      Ok("POST", "/v1/groups/project_x/invitations",
         R"({"actor":"user:alice","invitees":["user:zoe"],"roles":["member"],"expires_in":1})");
  ASSERT_EQ(d["invitations"].Size(), 1u);
  const std::string id = d["invitations"][0]["id"].GetString();
  EXPECT_EQ(Roles("user:zoe", "group:project_x"), "pending:member");
  bool stored = false;
  for (int i = 0; i < 50 && !stored; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    stored = Call("GET", "/v1/export").body.find(
                 R"("id":")" + id) != std::string::npos &&
             Call("GET", "/v1/export").body.find(R"("state":"expired")") !=
                 std::string::npos;
  }
  EXPECT_TRUE(stored) << Call("GET", "/v1/export").body;
  EXPECT_EQ(Roles("user:zoe", "group:project_x"), "");
  d = Ok("GET", "/v1/subjects/user/zoe/invitations");
  ASSERT_EQ(d["invitations"].Size(), 1u);
  EXPECT_STREQ(d["invitations"][0]["state"].GetString(), "expired");
  Response late = Accept(id, "user:zoe");
  EXPECT_TRUE(late.status == 409 || late.status == 410) << late.body;
  // The changelog says so.
  const std::string changes = Call("GET", "/v1/changes?since=0&limit=1000").body;
  EXPECT_NE(changes.find(R"("op":"invitation.state","entity":")" + id +
                         R"(","related":"expired")"),
            std::string::npos)
      << changes;
}

// Workflow decisions, allowed and refused, are in the decision log; the
// access log ties a refused DELETE to its actor through the query.
TEST_F(MembershipSecurity, WorkflowDecisionsAreLogged) {
  EXPECT_EQ(
      Call("DELETE", "/v1/groups/project_x/members/user:dave?actor=user:bob")
          .status,
      403);
  Invite("user:alice", "project_x", "email:lee@example.com", R"(["member"])");
  bool denied = false, allowed = false;
  for (const std::string& line : LogLines("decisions.log")) {
    rapidjson::Document d;
    d.Parse(line.data(), line.size());
    ASSERT_TRUE(d.IsObject()) << line;
    const std::string subject = d["subject"].GetString();
    const std::string action = d["action"].GetString();
    const std::string decision = d["decision"].GetString();
    if (subject == "user:bob" && action == "manage_members" &&
        std::string(d["resource"].GetString()) == "group:project_x") {
      denied |= decision == "deny";
    }
    if (subject == "user:alice" && action == "invite_members") {
      allowed |= decision == "allow";
    }
  }
  EXPECT_TRUE(denied);
  EXPECT_TRUE(allowed);
  bool tied = false;
  for (const std::string& line : LogLines("access.log")) {
    tied |= line.find("\"method\":\"DELETE\"") != std::string::npos &&
            line.find("actor=user:bob") != std::string::npos &&
            line.find("\"status\":403") != std::string::npos;
  }
  EXPECT_TRUE(tied);
}

}  // namespace
}  // namespace portcullis::hostile
