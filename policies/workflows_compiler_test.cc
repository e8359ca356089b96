// The `workflows:` section of the policy language: compiled form and every
// validation error with its line:column.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "policies/policy_compiler.h"

namespace portcullis::policies {
namespace {

const char* kBase =
    "name: t\n"                                                      // 1
    "subjects:\n"                                                    // 2
    "  user: {}\n"                                                   // 3
    "  email: {}\n"                                                  // 4
    "resources:\n"                                                   // 5
    "  account:\n"                                                   // 6
    "    actions: [create_group, view_account]\n"                    // 7
    "  group:\n"                                                     // 8
    "    parents: [account]\n"                                       // 9
    "    actions: [invite_members, manage_members]\n"                // 10
    "  file:\n"                                                      // 11
    "    parents: [group]\n"                                         // 12
    "    actions: [view, manage_permissions, manage_members]\n"      // 13
    "roles:\n"                                                       // 14
    "  owner: {on: [account], grants: {account: [create_group]}}\n"  // 15
    "  admin: {on: [group], grants: {group: [invite_members]}}\n"    // 16
    "  editor: {on: [group, file], grants: {file: [view]}}\n"        // 17
    "workflows:\n";                                                  // 18

std::vector<std::string> Errors(const std::string& text) {
  PolicyResult r = CompilePolicyText(text, "p.yaml");
  std::vector<std::string> out;
  if (r) return out;
  for (const PolicyError& e : r.error()) {
    out.push_back(std::to_string(e.line) + ":" + std::to_string(e.column) +
                  ": " + e.message);
  }
  return out;
}

void ExpectError(const std::string& workflows, const std::string& position,
                 const std::string& text) {
  std::vector<std::string> errors = Errors(std::string(kBase) + workflows);
  ASSERT_EQ(errors.size(), 1u) << ::testing::PrintToString(errors);
  EXPECT_EQ(errors[0].substr(0, position.size() + 2), position + ": ")
      << errors[0];
  EXPECT_NE(errors[0].find(text), std::string::npos) << errors[0];
}

TEST(WorkflowsCompiler, CompilesSteps) {
  PolicyResult r = CompilePolicyText(
      std::string(kBase) +
          "  create_group:\n"  // 19
          "    {action: create_group, on: account, creates: group,\n"
          "     creator_roles: [admin]}\n"
          "  invite: {action: invite_members, on: group, roles: [admin, "
          "editor], address_types: [email]}\n"
          "  manage_permissions: {action: manage_permissions, on: [file], "
          "roles: [editor]}\n",
      "p.yaml");
  ASSERT_TRUE(r) << FormatErrors(r.error());
  const engine::Policy& p = **r;
  const engine::Workflows& wf = p.workflows;
  EXPECT_TRUE(wf.defined);
  ASSERT_TRUE(wf.create_group.defined);
  EXPECT_EQ(wf.create_group.action, p.FindAction("create_group"));
  EXPECT_EQ(wf.create_group.type, p.FindType("account"));
  EXPECT_EQ(wf.creates, p.FindType("group"));
  ASSERT_EQ(wf.create_group.roles.size(), 1u);
  EXPECT_EQ(wf.create_group.roles[0], p.FindRole("admin"));
  EXPECT_EQ(wf.create_group.location.line, 19u);
  ASSERT_TRUE(wf.invite.defined);
  EXPECT_EQ(wf.invite.roles.size(), 2u);
  EXPECT_TRUE(wf.address_types.Contains(p.FindType("email")));
  EXPECT_FALSE(wf.address_types.Contains(p.FindType("user")));
  EXPECT_TRUE(wf.manage_permissions.on.Contains(p.FindType("file")));
  EXPECT_FALSE(wf.manage_members.defined);
  EXPECT_FALSE(wf.delete_account.defined);
}

TEST(WorkflowsCompiler, PolicyWithoutWorkflowsCompiles) {
  std::string text = kBase;
  text.resize(text.size() - std::string("workflows:\n").size());
  PolicyResult r = CompilePolicyText(text, "p.yaml");
  ASSERT_TRUE(r) << FormatErrors(r.error());
  EXPECT_FALSE((*r)->workflows.defined);
  EXPECT_FALSE((*r)->workflows.invite.defined);
}

TEST(WorkflowsCompiler, TheWorkspacePolicyDefinesEveryStep) {
  PolicyResult r = CompilePolicyFile(std::string(PORTCULLIS_POLICIES_DIR) +
                                     "/workspace.yaml");
  ASSERT_TRUE(r) << FormatErrors(r.error());
  const engine::Workflows& wf = (*r)->workflows;
  for (const engine::WorkflowStep* s :
       {&wf.create_group, &wf.invite, &wf.view_invitations,
        &wf.revoke_invitation, &wf.manage_members, &wf.manage_permissions,
        &wf.manage_account_administrators, &wf.delete_account,
        &wf.list_people}) {
    EXPECT_TRUE(s->defined) << s->location.ToString();
  }
}

// The example policy of docs/policy-language.md, "Workflows", compiles and
// defines every step.
TEST(WorkflowsCompiler, TheDocumentedExampleCompiles) {
  std::ifstream in(std::string(PORTCULLIS_POLICIES_DIR) +
                   "/../docs/policy-language.md");
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string doc = ss.str();
  const std::string marker =
      "<!-- example: policy workflows_portal -->\n```yaml\n";
  const size_t start = doc.find(marker);
  ASSERT_NE(start, std::string::npos);
  const size_t body = start + marker.size();
  const std::string yaml = doc.substr(body, doc.find("```", body) - body);
  PolicyResult r = CompilePolicyText(yaml, "policy-language.md");
  ASSERT_TRUE(r) << FormatErrors(r.error());
  const engine::Workflows& wf = (*r)->workflows;
  for (const engine::WorkflowStep* s :
       {&wf.create_group, &wf.invite, &wf.view_invitations,
        &wf.revoke_invitation, &wf.manage_members, &wf.manage_permissions,
        &wf.manage_account_administrators, &wf.delete_account,
        &wf.list_people}) {
    EXPECT_TRUE(s->defined) << s->location.ToString();
  }
}

TEST(WorkflowsCompilerErrors, UnknownStep) {
  ExpectError("  invit: {action: invite_members, on: group, roles: [admin]}\n",
              "19:3", "did you mean 'invite'");
}

TEST(WorkflowsCompilerErrors, MissingRequiredKey) {
  ExpectError("  invite: {action: invite_members, on: group}\n", "19:11",
              "roles");
}

TEST(WorkflowsCompilerErrors, UnknownAction) {
  ExpectError("  delete_account: {action: delete_acount, on: account}\n",
              "19:28", "unknown action 'delete_acount'");
}

TEST(WorkflowsCompilerErrors, ActionNotOnType) {
  ExpectError("  view_invitations: {action: view, on: group}\n", "19:30",
              "not defined on type group");
}

TEST(WorkflowsCompilerErrors, UnknownType) {
  ExpectError("  delete_account: {action: view_account, on: acount}\n", "19:46",
              "unknown type 'acount'");
}

TEST(WorkflowsCompilerErrors, UnknownRole) {
  ExpectError(
      "  manage_members: {action: manage_members, on: group, roles: [admn]}\n",
      "19:63", "unknown role 'admn'");
}

TEST(WorkflowsCompilerErrors, RoleNotBindableWhereTheStepBindsIt) {
  ExpectError(
      "  manage_permissions: {action: manage_permissions, on: file, roles: "
      "[admin]}\n",
      "19:70", "role admin cannot be bound on file");
}

TEST(WorkflowsCompilerErrors, CreatesMustBeAChildOfTheContainer) {
  ExpectError(
      "  create_group: {action: create_group, on: account, creates: file}\n",
      "19:62", "type file cannot be created under account");
}

TEST(WorkflowsCompilerErrors, OneTypeOnly) {
  ExpectError(
      "  manage_members: {action: manage_members, on: [group, file], roles: "
      "[editor]}\n",
      "19:56", "acts on one type");
}

TEST(WorkflowsCompilerErrors, AddressTypeMustBeASubjectType) {
  ExpectError(
      "  invite: {action: invite_members, on: group, roles: [admin], "
      "address_types: [group]}\n",
      "19:79", "unknown subject type 'group'");
}

}  // namespace
}  // namespace portcullis::policies
