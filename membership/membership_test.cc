// The membership rules over a real store holding the demo portal
// (policies/demo-data.jsonl) and the workspace policy, without HTTP.
#include "membership/membership.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "engine/evaluator.h"
#include "policies/policy_compiler.h"
#include "policies/test_file.h"
#include "storage/jsonl.h"

namespace portcullis::membership {
namespace {

const std::string kPolicies = PORTCULLIS_POLICIES_DIR;

class WorkflowsTest : public ::testing::Test {
 protected:
  WorkflowsTest() {
    dir_ = std::filesystem::temp_directory_path() /
           ("portcullis_workflows_" + std::to_string(getpid()) + "_" +
            std::to_string(counter_++));
    std::filesystem::remove_all(dir_);
    policies::PolicyResult p =
        policies::CompilePolicyFile(kPolicies + "/workspace.yaml");
    EXPECT_TRUE(p.has_value());
    policy_ = *p;
    auto store = storage::Store::Open(dir_.string());
    EXPECT_TRUE(store.has_value());
    store_ = std::move(*store);
    storage::ImportOptions o;
    o.policy = policy_.get();
    auto imported =
        storage::ImportJsonlFile(*store_, kPolicies + "/demo-data.jsonl", o);
    EXPECT_TRUE(imported.has_value()) << imported.error().message();
    ctx_ = WorkflowContext{store_.get(), policy_.get(), NowMicros()};
  }
  ~WorkflowsTest() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  bool Allowed(std::string_view subject, std::string_view action,
               std::string_view resource) {
    auto view = store_->Read();
    EXPECT_TRUE(view.has_value());
    engine::CheckRequest req;
    req.subject = *engine::ParseEntityRef(subject);
    req.action = action;
    req.resource = *engine::ParseEntityRef(resource);
    req.now = ctx_.now;
    return engine::Evaluator(*policy_).Check(req, *view).allowed;
  }

  std::optional<storage::AccessRecord> Access(std::string_view subject,
                                              std::string_view resource) {
    auto view = store_->Read();
    return view->GetAccessRecord(*engine::ParseEntityRef(subject),
                                 *engine::ParseEntityRef(resource));
  }

  void AddUser(const std::string& id) {
    ASSERT_TRUE(store_->Write(policy_.get(), "", [&](storage::WriteTxn& t) {
      return t.PutSubject({"user", id, {}});
    }));
  }

  InviteResult MustInvite(const std::string& actor,
                          std::vector<std::string> invitees,
                          std::vector<std::string> roles) {
    InviteRequest r;
    r.actor = actor;
    r.group = "project_x";
    r.invitees = std::move(invitees);
    r.roles = std::move(roles);
    auto out = Invite(ctx_, r);
    EXPECT_TRUE(out.has_value()) << out.error().message();
    return out ? *out : InviteResult{};
  }

  static inline int counter_ = 0;
  std::filesystem::path dir_;
  std::shared_ptr<const engine::Policy> policy_;
  std::unique_ptr<storage::Store> store_;
  WorkflowContext ctx_;
};

TEST_F(WorkflowsTest,
       AccountAdministratorCreatesAGroupAndBecomesItsAdministrator) {
  auto r = CreateGroup(ctx_, {"user:olivia", "acme", "launch", {}});
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(r->group, "group:launch");
  EXPECT_EQ(r->roles, std::vector<std::string>{"administrator"});
  auto a = Access("user:olivia", "group:launch");
  ASSERT_TRUE(a && a->binding);
  EXPECT_EQ(a->binding->roles, std::vector<std::string>{"administrator"});
  EXPECT_TRUE(Allowed("user:olivia", "invite_members", "group:launch"));
  // The changelog names the actor.
  auto view = store_->Read();
  auto changes = view->Changes(r->revision - 1, 10);
  ASSERT_TRUE(changes.has_value());
  ASSERT_EQ(changes->size(), 1u);
  EXPECT_EQ((*changes)[0].actor, "user:olivia");
  // Again: it exists.
  auto again = CreateGroup(ctx_, {"user:olivia", "acme", "launch", {}});
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().code(), StatusCode::kAlreadyExists);
}

TEST_F(WorkflowsTest, OnlyWhoThePolicyAllowsCreatesGroups) {
  auto r = CreateGroup(ctx_, {"user:alice", "account:acme", "group:side", {}});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(r.error().message().find("may not create_group on account:acme"),
            std::string::npos)
      << r.error().message();
  EXPECT_NE(r.error().message().find("workspace.yaml:"), std::string::npos);
  // An account that does not exist answers as one where the actor holds
  // nothing: the answer does not say which accounts exist.
  auto missing = CreateGroup(ctx_, {"user:olivia", "nope", "x", {}});
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code(), StatusCode::kPermissionDenied);
}

TEST_F(WorkflowsTest, InviteReportsConflictsBesideSuccesses) {
  AddUser("zoe");
  InviteResult r = MustInvite(
      "user:alice",
      {"user:zoe", "email:yan@example.com", "user:dave", "user:heidi",
       "email:grace@example.com", "user:zoe", "user:ghost", "nonsense"},
      {"member"});
  ASSERT_EQ(r.invitations.size(), 2u);
  EXPECT_EQ(r.invitations[0].invitee, "user:zoe");
  EXPECT_EQ(r.invitations[0].id.size(), 32u);
  EXPECT_NE(r.invitations[0].id, r.invitations[1].id);
  EXPECT_EQ(r.invitations[0].inviter, "user:alice");
  EXPECT_GT(r.invitations[0].expires_at, ctx_.now);
  std::vector<std::string> codes;
  for (const InviteConflict& c : r.conflicts)
    codes.push_back(c.invitee + " " + c.code);
  EXPECT_EQ(codes,
            (std::vector<std::string>{
                "user:dave already_member", "user:heidi already_invited",
                "email:grace@example.com already_invited", "user:zoe duplicate",
                "user:ghost unknown_subject", "nonsense invalid_invitee"}));
  // Pending: a pending binding that grants nothing.
  auto a = Access("user:zoe", "group:project_x");
  ASSERT_TRUE(a && a->binding);
  EXPECT_EQ(a->binding->state, engine::BindingState::kPending);
  EXPECT_FALSE(Allowed("user:zoe", "view", "file:readme"));
}

TEST_F(WorkflowsTest,
       InviteIsRefusedToNonAdministratorsAndForRolesThePolicyDoesNotOffer) {
  AddUser("zoe");
  InviteRequest r;
  r.actor = "user:bob";
  r.group = "project_x";
  r.invitees = {"user:zoe"};
  r.roles = {"member"};
  auto denied = Invite(ctx_, r);
  ASSERT_FALSE(denied.has_value());
  EXPECT_EQ(denied.error().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(denied.error().message().find("invite_members"), std::string::npos);
  r.actor = "user:alice";
  r.roles = {"account_administrator"};
  auto bad = Invite(ctx_, r);
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.error().field(), "roles");
  EXPECT_FALSE(Access("user:zoe", "group:project_x").has_value());
}

TEST_F(WorkflowsTest, AcceptingGivesExactlyTheInvitedRoles) {
  AddUser("zoe");
  InviteResult r = MustInvite("user:alice", {"user:zoe"},
                              {"administrator", "content_creator"});
  ASSERT_EQ(r.invitations.size(), 1u);
  const std::string id = r.invitations[0].id;
  // Only the invitee accepts.
  auto wrong = AcceptInvitation(ctx_, id, "user:dave");
  ASSERT_FALSE(wrong.has_value());
  EXPECT_EQ(wrong.error().code(), StatusCode::kPermissionDenied);
  auto ok = AcceptInvitation(ctx_, id, "user:zoe");
  ASSERT_TRUE(ok.has_value()) << ok.error().message();
  EXPECT_EQ(ok->invitation.state, storage::InvitationState::kAccepted);
  auto a = Access("user:zoe", "group:project_x");
  ASSERT_TRUE(a && a->binding);
  EXPECT_EQ(a->binding->state, engine::BindingState::kActive);
  EXPECT_EQ(a->binding->roles,
            (std::vector<std::string>{"administrator", "content_creator"}));
  EXPECT_TRUE(Allowed("user:zoe", "edit", "file:readme"));
  EXPECT_TRUE(Allowed("user:zoe", "invite_members", "group:project_x"));
  // Twice: no longer pending.
  auto twice = AcceptInvitation(ctx_, id, "user:zoe");
  ASSERT_FALSE(twice.has_value());
  EXPECT_EQ(twice.error().code(), StatusCode::kFailedPrecondition);
}

TEST_F(WorkflowsTest, AnEmailInvitationBindsTheAccountThatAccepts) {
  auto list = ListInvitationsFor(ctx_, "email:grace@example.com",
                                 storage::InvitationState::kPending);
  ASSERT_TRUE(list.has_value());
  ASSERT_EQ(list->invitations.size(), 1u);
  AddUser("grace");
  auto ok = AcceptInvitation(ctx_, list->invitations[0].id, "user:grace");
  ASSERT_TRUE(ok.has_value()) << ok.error().message();
  EXPECT_EQ(ok->subject, "user:grace");
  EXPECT_FALSE(
      Access("email:grace@example.com", "group:project_x").has_value());
  EXPECT_TRUE(Allowed("user:grace", "download", "file:logo"));
  EXPECT_FALSE(Allowed("user:grace", "edit", "file:logo"));
  // An address cannot accept for itself.
  auto self = AcceptInvitation(ctx_, list->invitations[0].id,
                               "email:grace@example.com");
  ASSERT_FALSE(self.has_value());
  EXPECT_EQ(self.error().code(), StatusCode::kInvalidArgument);
}

TEST_F(WorkflowsTest, DeclineRevokeAndExpiry) {
  AddUser("zoe");
  AddUser("yan");
  InviteResult r =
      MustInvite("user:alice", {"user:zoe", "user:yan"}, {"member"});
  ASSERT_EQ(r.invitations.size(), 2u);
  auto declined = DeclineInvitation(ctx_, r.invitations[0].id, "user:zoe");
  ASSERT_TRUE(declined.has_value()) << declined.error().message();
  EXPECT_FALSE(Access("user:zoe", "group:project_x").has_value());
  // Revoking needs the policy's permission.
  // Revoking needs the policy's permission; without it an invitation that
  // exists answers as one that does not.
  auto denied = RevokeInvitation(ctx_, "user:dave", r.invitations[1].id);
  ASSERT_FALSE(denied.has_value());
  EXPECT_EQ(denied.error().code(), StatusCode::kNotFound);
  auto nothing = RevokeInvitation(ctx_, "user:dave", "0123456789abcdef");
  ASSERT_FALSE(nothing.has_value());
  EXPECT_EQ(nothing.error().code(), StatusCode::kNotFound);
  EXPECT_EQ(denied.error().message(),
            "no invitation " + r.invitations[1].id +
                " in a group where user:dave may revoke invitations");
  auto revoked = RevokeInvitation(ctx_, "user:carol", r.invitations[1].id);
  ASSERT_TRUE(revoked.has_value()) << revoked.error().message();
  EXPECT_FALSE(Access("user:yan", "group:project_x").has_value());
  auto late = AcceptInvitation(ctx_, r.invitations[1].id, "user:yan");
  ASSERT_FALSE(late.has_value());
  EXPECT_EQ(late.error().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(late.error().message().find("revoked"), std::string::npos);
  // Expired.
  InviteRequest req;
  req.actor = "user:alice";
  req.group = "project_x";
  req.invitees = {"user:zoe"};
  req.roles = {"member"};
  req.expires_in_seconds = 60;
  auto fresh = Invite(ctx_, req);
  ASSERT_TRUE(fresh.has_value());
  WorkflowContext later = ctx_;
  later.now += 120 * 1000000LL;
  auto expired = AcceptInvitation(later, fresh->invitations[0].id, "user:zoe");
  ASSERT_FALSE(expired.has_value());
  EXPECT_EQ(expired.error().code(), StatusCode::kGone);
  auto pending = ListGroupInvitations(later, "user:alice", "project_x",
                                      storage::InvitationState::kPending);
  ASSERT_TRUE(pending.has_value());
  for (const auto& inv : pending->invitations)
    EXPECT_NE(inv.invitee, "user:zoe");
  EXPECT_FALSE(AcceptInvitation(ctx_, "0123", "user:zoe").has_value());
}

TEST_F(WorkflowsTest, PendingInvitationsAreListedOnlyForThoseAllowed) {
  auto list = ListGroupInvitations(ctx_, "user:alice", "project_x",
                                   storage::InvitationState::kPending);
  ASSERT_TRUE(list.has_value()) << list.error().message();
  ASSERT_EQ(list->invitations.size(), 2u);
  auto denied =
      ListGroupInvitations(ctx_, "user:dave", "project_x", std::nullopt);
  ASSERT_FALSE(denied.has_value());
  EXPECT_EQ(denied.error().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(denied.error().message().find("view_pending_invitations"),
            std::string::npos);
}

TEST_F(WorkflowsTest, TheLastAdministratorCannotBeRemovedOrDemoted) {
  // group:board has one administrator, ivan.
  auto remove = RemoveMember(ctx_, "user:ivan", "board", "user:ivan");
  ASSERT_FALSE(remove.has_value());
  EXPECT_EQ(remove.error().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(remove.error().message().find("manage_members"), std::string::npos);
  auto demote =
      SetMemberRoles(ctx_, "user:ivan", "board", "user:ivan", {"member"});
  ASSERT_FALSE(demote.has_value());
  EXPECT_EQ(demote.error().code(), StatusCode::kFailedPrecondition);
  // project_x has two (alice, carol): one may go, not both.
  ASSERT_TRUE(SetMemberRoles(ctx_, "user:alice", "project_x", "user:carol",
                             {"content_creator"}));
  EXPECT_FALSE(Allowed("user:carol", "manage_members", "group:project_x"));
  auto last = RemoveMember(ctx_, "user:alice", "project_x", "user:alice");
  ASSERT_FALSE(last.has_value());
  EXPECT_EQ(last.error().code(), StatusCode::kFailedPrecondition);
}

TEST_F(WorkflowsTest, ChangingAndRemovingMembers) {
  auto denied = SetMemberRoles(ctx_, "user:bob", "project_x", "user:dave",
                               {"content_creator"});
  ASSERT_FALSE(denied.has_value());
  EXPECT_EQ(denied.error().code(), StatusCode::kPermissionDenied);
  ASSERT_TRUE(SetMemberRoles(ctx_, "user:alice", "project_x", "user:dave",
                             {"content_creator"}));
  EXPECT_TRUE(Allowed("user:dave", "edit", "file:readme"));
  auto not_member =
      SetMemberRoles(ctx_, "user:alice", "project_x", "user:heidi", {"member"});
  ASSERT_FALSE(not_member.has_value());
  EXPECT_EQ(not_member.error().code(), StatusCode::kNotFound);
  // Removing erin removes her raise on file:budget too.
  ASSERT_TRUE(Allowed("user:erin", "edit", "file:budget"));
  ASSERT_TRUE(RemoveMember(ctx_, "user:alice", "project_x", "user:erin"));
  EXPECT_FALSE(Access("user:erin", "file:budget").has_value());
  EXPECT_FALSE(Allowed("user:erin", "edit", "file:budget"));
  EXPECT_FALSE(Allowed("user:erin", "view", "file:readme"));
  // Removing frank removes his restriction.
  ASSERT_TRUE(RemoveMember(ctx_, "user:alice", "project_x", "user:frank"));
  EXPECT_FALSE(Access("user:frank", "file:salaries").has_value());
}

TEST_F(WorkflowsTest, PerFileRaisesAndRestrictions) {
  FilePermissionRequest raise{"user:alice", "user:dave", "file:logo",
                              std::vector<std::string>{"content_creator"},
                              std::nullopt};
  ASSERT_TRUE(SetFilePermissions(ctx_, raise));
  EXPECT_TRUE(Allowed("user:dave", "edit", "file:logo"));
  EXPECT_FALSE(Allowed("user:dave", "edit", "file:readme"));
  FilePermissionRequest hide{"user:alice", "user:dave", "file:readme",
                             std::nullopt, std::vector<std::string>{"*"}};
  ASSERT_TRUE(SetFilePermissions(ctx_, hide));
  EXPECT_FALSE(Allowed("user:dave", "view", "file:readme"));
  EXPECT_TRUE(Allowed("user:alice", "view", "file:readme"));
  // Clearing both.
  FilePermissionRequest clear{"user:alice", "user:dave", "file:logo",
                              std::vector<std::string>{}, std::nullopt};
  ASSERT_TRUE(SetFilePermissions(ctx_, clear));
  EXPECT_FALSE(Allowed("user:dave", "edit", "file:logo"));
  clear.resource = "file:readme";
  clear.roles.reset();
  clear.restrict = std::vector<std::string>{};
  ASSERT_TRUE(SetFilePermissions(ctx_, clear));
  EXPECT_TRUE(Allowed("user:dave", "view", "file:readme"));
  // Refusals.
  FilePermissionRequest by_bob = raise;
  by_bob.actor = "user:bob";
  auto denied = SetFilePermissions(ctx_, by_bob);
  ASSERT_FALSE(denied.has_value());
  EXPECT_EQ(denied.error().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(denied.error().message().find("manage_permissions"),
            std::string::npos);
  FilePermissionRequest outsider = raise;
  outsider.subject = "user:ivan";
  auto not_member = SetFilePermissions(ctx_, outsider);
  ASSERT_FALSE(not_member.has_value());
  EXPECT_EQ(not_member.error().code(), StatusCode::kFailedPrecondition);
  FilePermissionRequest on_group = raise;
  on_group.resource = "group:project_x";
  auto wrong_type = SetFilePermissions(ctx_, on_group);
  ASSERT_FALSE(wrong_type.has_value());
  EXPECT_EQ(wrong_type.error().code(), StatusCode::kInvalidArgument);
  FilePermissionRequest admin_role = raise;
  admin_role.roles = std::vector<std::string>{"administrator"};
  auto bad_role = SetFilePermissions(ctx_, admin_role);
  ASSERT_FALSE(bad_role.has_value());
  EXPECT_EQ(bad_role.error().field(), "roles");
}

TEST_F(WorkflowsTest, AccountAdministrators) {
  auto denied =
      AddAccountAdministrator(ctx_, "user:alice", "acme", "user:alice");
  ASSERT_FALSE(denied.has_value());
  EXPECT_EQ(denied.error().code(), StatusCode::kPermissionDenied);
  ASSERT_TRUE(
      AddAccountAdministrator(ctx_, "user:olivia", "acme", "user:alice"));
  EXPECT_TRUE(Allowed("user:alice", "create_group", "account:acme"));
  ASSERT_TRUE(
      RemoveAccountAdministrator(ctx_, "user:alice", "acme", "user:olivia"));
  EXPECT_FALSE(Allowed("user:olivia", "create_group", "account:acme"));
  auto last =
      RemoveAccountAdministrator(ctx_, "user:alice", "acme", "user:alice");
  ASSERT_FALSE(last.has_value());
  EXPECT_EQ(last.error().code(), StatusCode::kFailedPrecondition);
  auto none =
      RemoveAccountAdministrator(ctx_, "user:alice", "acme", "user:bob");
  ASSERT_FALSE(none.has_value());
  EXPECT_EQ(none.error().code(), StatusCode::kNotFound);
}

TEST_F(WorkflowsTest, PeopleOfTheAccount) {
  auto people = ListPeople(ctx_, "user:olivia", "acme");
  ASSERT_TRUE(people.has_value()) << people.error().message();
  std::vector<std::string> subjects;
  for (const Person& p : people->people) subjects.push_back(p.subject);
  // Everyone who holds anything in the account: the account administrator,
  // the members, and heidi and grace, who are invited (pending).
  EXPECT_EQ(subjects, (std::vector<std::string>{
                          "email:grace@example.com", "user:alice", "user:bob",
                          "user:carol", "user:dave", "user:erin", "user:frank",
                          "user:heidi", "user:ivan", "user:olivia"}));
  for (const Person& p : people->people) {
    if (p.subject == "user:heidi") {
      EXPECT_TRUE(p.memberships.empty());
      ASSERT_EQ(p.holdings.size(), 1u);
      EXPECT_EQ(p.holdings[0].resource, "group:project_x");
      EXPECT_TRUE(p.holdings[0].pending);
    }
    if (p.subject == "user:olivia") {
      ASSERT_EQ(p.holdings.size(), 1u);
      EXPECT_EQ(p.holdings[0].resource, "account:acme");
      EXPECT_EQ(p.holdings[0].roles,
                std::vector<std::string>{"account_administrator"});
    }
    if (p.subject == "user:frank") {  // restricted from file:salaries
      ASSERT_EQ(p.memberships.size(), 1u);
      ASSERT_EQ(p.holdings.size(), 1u);
      EXPECT_EQ(p.holdings[0].resource, "file:salaries");
      EXPECT_FALSE(p.holdings[0].restrict.empty());
    }
  }
  auto denied = ListPeople(ctx_, "user:bob", "acme");
  ASSERT_FALSE(denied.has_value());
  EXPECT_EQ(denied.error().code(), StatusCode::kPermissionDenied);
}

TEST_F(WorkflowsTest, DeletingTheAccountLeavesNothingUnderIt) {
  auto denied = DeleteAccount(ctx_, "user:alice", "acme");
  ASSERT_FALSE(denied.has_value());
  EXPECT_EQ(denied.error().code(), StatusCode::kPermissionDenied);
  ASSERT_TRUE(DeleteAccount(ctx_, "user:olivia", "acme"));
  auto view = store_->Read();
  size_t resources = 0, access = 0, invitations = 0;
  (void)view->ForEachResourceRecord(
      [&](const auto&) { return ++resources, true; });
  (void)view->ForEachAccessRecord([&](const auto&) { return ++access, true; });
  (void)view->ForEachInvitation(
      [&](const auto&) { return ++invitations, true; });
  EXPECT_EQ(resources, 0u);
  EXPECT_EQ(access, 0u);
  EXPECT_EQ(invitations, 0u);
}

TEST_F(WorkflowsTest, APolicyWithoutWorkflowsRefusesClearly) {
  policies::PolicyResult p = policies::CompilePolicyText(
      "name: bare\nsubjects: {user: {}}\nresources:\n  account: {actions: "
      "[create_group]}\n  group: {parents: [account], actions: [view]}\n",
      "bare.yaml");
  ASSERT_TRUE(p.has_value());
  WorkflowContext bare{store_.get(), p->get(), ctx_.now, {}};
  auto r = CreateGroup(bare, {"user:olivia", "acme", "x", {}});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(r.error().message().find("workflows.create_group"),
            std::string::npos);
}

// Everything one data view holds, as sorted text lines, through the engine's
// DataView interface (so that MemoryData and the store compare alike).
std::vector<std::string> Describe(const engine::Policy& policy,
                                  const engine::DataView& view) {
  std::vector<std::string> out;
  std::vector<std::string> resources, subjects;
  for (const engine::TypeDef& t : policy.types) {
    auto collect = [&](engine::EntityRef e) {
      (t.is_subject ? subjects : resources).push_back(e.ToString());
      return true;
    };
    if (t.is_subject) {
      view.ForEachSubjectOfType(t.name, collect);
    } else {
      view.ForEachResourceOfType(t.name, collect);
    }
  }
  for (const std::string& r : resources) {
    const engine::EntityRef ref = *engine::ParseEntityRef(r);
    auto info = view.GetResource(ref);
    std::string line =
        "resource " + r + " parent " + (info ? info->parent.ToString() : "?");
    if (auto owner =
            view.GetAttribute(engine::EntityKind::kResource, ref, "owner")) {
      line += " owner " + std::string(owner->s);
    }
    out.push_back(line);
    for (const std::string& s : subjects) {
      engine::SubjectAccess a = view.GetAccess(*engine::ParseEntityRef(s), ref);
      if (a.binding) {
        std::string roles;
        a.binding->roles.ForEach(
            [&](std::string_view n) { roles += std::string(n) + ","; });
        out.push_back("binding " + s + " " + r + " " + roles +
                      (a.binding->state == engine::BindingState::kPending
                           ? " pending"
                           : " active"));
      }
      if (a.restriction) {
        std::string actions;
        a.restriction->actions.ForEach(
            [&](std::string_view n) { actions += std::string(n) + ","; });
        out.push_back("restriction " + s + " " + r + " " + actions);
      }
    }
  }
  for (const std::string& s : subjects) out.push_back("subject " + s);
  std::sort(out.begin(), out.end());
  return out;
}

TEST_F(WorkflowsTest, DemoDataYamlAndJsonLinesAgree) {
  auto yaml = policies::LoadDataFile(kPolicies + "/demo-data.yaml", *policy_);
  ASSERT_TRUE(yaml.has_value());
  auto view = store_->Read();
  ASSERT_TRUE(view.has_value());
  const std::vector<std::string> from_yaml = Describe(*policy_, **yaml);
  EXPECT_GT(from_yaml.size(), 30u);
  EXPECT_EQ(from_yaml, Describe(*policy_, *view));
  // The JSON Lines add the invitation records behind the pending bindings.
  size_t invitations = 0;
  (void)view->ForEachInvitation([&](const storage::Invitation& inv) {
    auto a = view->GetAccess(*engine::ParseEntityRef(inv.invitee),
                             *engine::ParseEntityRef(inv.resource));
    EXPECT_TRUE(a.binding && a.binding->state == engine::BindingState::kPending)
        << inv.invitee;
    ++invitations;
    return true;
  });
  EXPECT_EQ(invitations, 2u);
}

}  // namespace
}  // namespace portcullis::membership
