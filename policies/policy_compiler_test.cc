#include "policies/policy_compiler.h"

#include <gtest/gtest.h>

namespace portcullis::policies {
namespace {

const std::string kTestdata = PORTCULLIS_POLICIES_TESTDATA;

// Compiles `text` and returns its errors as "line:column: message".
std::vector<std::string> Errors(const std::string& text) {
  PolicyResult r = CompilePolicyText(text, "p.yaml");
  std::vector<std::string> out;
  if (r) return out;
  for (const PolicyError& e : r.error()) {
    EXPECT_EQ(e.file, "p.yaml");
    out.push_back(std::to_string(e.line) + ":" + std::to_string(e.column) +
                  ": " + e.message);
  }
  return out;
}

// Expects exactly one error, at `position` ("line:column"), whose message
// contains `text`.
void ExpectError(const std::string& policy, const std::string& position,
                 const std::string& text) {
  std::vector<std::string> errors = Errors(policy);
  ASSERT_EQ(errors.size(), 1u) << ::testing::PrintToString(errors);
  EXPECT_EQ(errors[0].substr(0, position.size() + 2), position + ": ")
      << errors[0];
  EXPECT_NE(errors[0].find(text), std::string::npos) << errors[0];
}

const char* kHeader =
    "name: t\n"                          // 1
    "subjects:\n"                        // 2
    "  user:\n"                          // 3
    "    attributes: {department: string}\n"  // 4
    "resources:\n"                       // 5
    "  group:\n"                         // 6
    "    actions: [view_group]\n"        // 7
    "  file:\n"                          // 8
    "    parents: [group]\n"             // 9
    "    actions: [view, edit]\n"        // 10
    "    attributes: {owner: string}\n"; // 11

TEST(PolicyCompiler, CompilesTheSmallPolicy) {
  PolicyResult r = CompilePolicyFile(kTestdata + "/small_policy.yaml");
  ASSERT_TRUE(r) << FormatErrors(r.error());
  const engine::Policy& p = **r;
  EXPECT_EQ(p.name, "small");
  EXPECT_EQ(p.version.size(), 16u);
  ASSERT_EQ(p.source_files.size(), 1u);
  EXPECT_EQ(p.types.size(), 6u);
  const engine::TypeId file = p.FindType("file");
  const engine::TypeId folder = p.FindType("folder");
  ASSERT_NE(file, engine::kNoType);
  EXPECT_TRUE(p.types[file].restrictable);
  EXPECT_FALSE(p.types[p.FindType("group")].restrictable);
  EXPECT_EQ(p.types[folder].parents.size(), 2u);  // group and itself
  EXPECT_TRUE(p.types[p.FindType("user")].is_subject);
  EXPECT_EQ(p.types[file].location.line, 18u);
  EXPECT_EQ(p.types[file].location.column, 3u);

  const engine::RoleId cc = p.FindRole("content_creator");
  const engine::RoleId member = p.FindRole("member");
  const engine::RoleId admin = p.FindRole("administrator");
  ASSERT_NE(cc, engine::kNoRole);
  EXPECT_TRUE(p.roles[admin].exempt_from_restrictions);
  EXPECT_FALSE(p.roles[cc].exempt_from_restrictions);
  EXPECT_TRUE(p.roles[cc].bindable_on.Contains(file));
  EXPECT_FALSE(p.roles[member].bindable_on.Contains(file));
  // content_creator includes member: view (from member) and edit (own) are
  // unconditional on files; delete is conditional.
  const engine::ActionId view = p.FindAction("view");
  const engine::ActionId edit = p.FindAction("edit");
  const engine::ActionId del = p.FindAction("delete");
  EXPECT_TRUE(p.UnconditionalGrants(cc, file).Contains(view));
  EXPECT_TRUE(p.UnconditionalGrants(cc, file).Contains(edit));
  EXPECT_FALSE(p.UnconditionalGrants(cc, file).Contains(del));
  EXPECT_TRUE(p.PossibleGrants(cc, file).Contains(del));
  ASSERT_EQ(p.ConditionalGrants(cc, file).size(), 1u);
  const engine::Grant* g = p.ConditionalGrants(cc, file)[0];
  EXPECT_EQ(g->when->text(), "resource.owner == subject.id");
  EXPECT_EQ(g->location.line, 40u);
  EXPECT_EQ(g->location.column, 11u);
  EXPECT_EQ(g->when->location().line, 41u);
  EXPECT_EQ(g->when->location().column, 17u);
  EXPECT_FALSE(p.UnconditionalGrants(member, file).Contains(edit));

  ASSERT_EQ(p.rules.size(), 2u);
  EXPECT_EQ(p.rules[1].name, "no_hard_delete");
  EXPECT_EQ(p.rules[1].effect, engine::Effect::kDeny);
  EXPECT_TRUE(p.rules[1].types.Contains(folder));
  EXPECT_EQ(p.rules[1].location.line, 57u);
  EXPECT_TRUE(p.HasAllowRuleFor(view, file));
  EXPECT_EQ(p.precedence, engine::Precedence::kRestrictionWins);
}

TEST(PolicyCompiler, VersionIsAHashOfTheSource) {
  const std::string a = std::string(kHeader);
  PolicyResult r1 = CompilePolicyText(a, "x");
  PolicyResult r2 = CompilePolicyText(a + "# comment\n", "x");
  ASSERT_TRUE(r1 && r2);
  EXPECT_NE((*r1)->version, (*r2)->version);
  EXPECT_EQ((*r1)->version, (*CompilePolicyText(a, "y"))->version);
}

TEST(PolicyCompiler, NearestWinsAndQuotedConditions) {
  PolicyResult r = CompilePolicyText(
      std::string(kHeader) +
          "roles:\n"
          "  owner:\n"
          "    on: [group]\n"
          "    grants:\n"
          "      file:\n"
          "        - {actions: [edit], when: \"resource.owner == subject.id\"}\n"
          "restrictions:\n"
          "  on: [file]\n"
          "  precedence: nearest-wins\n",
      "p.yaml");
  ASSERT_TRUE(r) << FormatErrors(r.error());
  EXPECT_EQ((*r)->precedence, engine::Precedence::kNearestWins);
  EXPECT_EQ((*r)->precedence_location.line, 20u);
  const engine::Grant& g = *(*r)->grants[0];
  // The condition starts after the quote.
  EXPECT_EQ(g.when->location().column, 36u);
}

// ---- negative tests: one per validation error, with line and column.

TEST(PolicyCompilerErrors, YamlSyntaxError) {
  ExpectError("name: [unclosed\n", "2:1", "YAML syntax error");
}

TEST(PolicyCompilerErrors, TopLevelMustBeAMapping) {
  ExpectError("- a\n- b\n", "1:1", "the policy must be a mapping, got a list");
}

TEST(PolicyCompilerErrors, MissingRequiredKeys) {
  std::vector<std::string> e = Errors("name: t\n");
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[0], "1:1: the policy is missing the required key 'subjects'");
  EXPECT_EQ(e[1], "1:1: the policy is missing the required key 'resources'");
}

TEST(PolicyCompilerErrors, UnknownKeyWithSuggestion) {
  ExpectError(std::string(kHeader) + "rolse: {}\n", "12:1",
              "unknown key 'rolse' in the policy (did you mean 'roles'?)");
  ExpectError(std::string(kHeader) +
                  "roles:\n  r:\n    on: [group]\n    grant: {}\n",
              "15:5", "unknown key 'grant' in role 'r' (did you mean 'grants'?)");
}

TEST(PolicyCompilerErrors, DuplicateKeys) {
  ExpectError(std::string(kHeader) + "name: again\n", "12:1",
              "duplicate key 'name' in the policy");
  ExpectError(std::string(kHeader) +
                  "roles:\n  r:\n    on: [group]\n    on: [file]\n",
              "15:5", "duplicate key 'on' in role 'r'");
  // A duplicate role name is a duplicate key of `roles`.
  ExpectError(std::string(kHeader) +
                  "roles:\n  r: {on: [group]}\n  r: {on: [group]}\n",
              "14:3", "duplicate key 'r' in roles");
}

TEST(PolicyCompilerErrors, DuplicateTypeAcrossSubjectsAndResources) {
  ExpectError(
      "name: t\nsubjects:\n  file: {}\nresources:\n  file: {actions: [view]}\n",
      "5:3", "duplicate type name 'file' (first defined at line 3)");
}

TEST(PolicyCompilerErrors, DuplicateRuleName) {
  ExpectError(std::string(kHeader) +
                  "rules:\n"
                  "  - {name: r, effect: allow, actions: [view], on: [file]}\n"
                  "  - {name: r, effect: deny, actions: [edit], on: [file]}\n",
              "14:12", "duplicate rule name 'r' (first defined at line 13)");
}

TEST(PolicyCompilerErrors, DuplicateNameInAList) {
  ExpectError(std::string(kHeader) + "roles:\n  r: {on: [group, group]}\n",
              "13:19", "duplicate type 'group' in the list");
}

TEST(PolicyCompilerErrors, WrongValueKinds) {
  ExpectError("name: [a]\nsubjects: {}\nresources: {}\n", "1:7",
              "name must be a string, got a list");
  ExpectError("name: true\nsubjects: {}\nresources: {}\n", "1:7",
              "name must be a string, got a bool (quote it");
  ExpectError("name: t\nsubjects: []\nresources: {}\n", "2:11",
              "subjects must be a mapping, got a list");
  ExpectError(std::string(kHeader) + "roles:\n  r: {on: 5}\n", "13:11",
              "unknown type '5' in 'on' of role r");
  ExpectError(std::string(kHeader) + "rules: {a: 1}\n", "12:8",
              "rules must be a list of rules, got a mapping");
  ExpectError(std::string(kHeader) +
                  "roles:\n  r:\n    on: [group]\n    grants:\n      file: [[view]]\n",
              "16:14", "a grant must be an action name or a mapping");
  ExpectError(std::string(kHeader) +
                  "roles:\n  r:\n    on: [group]\n    grants:\n"
                  "      file: [{actions: [view], when: [x]}]\n",
              "16:38", "'when' must be a condition (a string), got a list");
}

TEST(PolicyCompilerErrors, InvalidNames) {
  // Types are what a "type:id" reference can hold.
  ExpectError("name: t\nsubjects:\n  \"a:b\": {}\nresources: {}\n", "3:3",
              "subject type 'a:b' is not a valid name: it contains ':'");
  ExpectError("name: t\nsubjects:\n  \"a b\": {}\nresources: {}\n", "3:3",
              "subject type 'a b' is not a valid name: it contains a space");
  ExpectError("name: t\nsubjects: {}\nresources:\n  \"a/b\": {}\n", "4:3",
              "resource type 'a/b' is not a valid name: it contains '/'");
  // Other names: anything but empty text or control characters; '*' is
  // every action.
  ExpectError("name: t\nsubjects: {}\nresources:\n  doc: {actions: [\"\"]}\n",
              "4:19", "action '' is not a valid name: it is empty");
  ExpectError("name: t\nsubjects: {}\nresources:\n  doc: {actions: [\"a\\tb\"]}\n",
              "4:19", "contains a control character");
  ExpectError("name: t\nsubjects: {}\nresources:\n  doc: {actions: [\"*\"]}\n",
              "4:19", "action '*' is not a valid name");
  ExpectError("name: t\nsubjects:\n  user: {attributes: {\"a..b\": string}}\n"
              "resources: {}\n",
              "3:23", "attribute name 'a..b' is not valid: it has an empty "
                      "segment between dots");
}

TEST(PolicyCompiler, NamesAsApplicationsSpellThem) {
  // HTTP methods, dots and colons in actions, capitals in types, spaces in
  // roles, camelCase attributes in the schema and in conditions.
  EXPECT_TRUE(Errors("name: t\nsubjects:\n  User: {attributes: {ownerID: string}}\n"
                     "resources:\n"
                     "  Route:\n"
                     "    actions: [GET, POST, documents.read, \"repo:push\"]\n"
                     "    attributes: {ownerID: string, content-type: string}\n"
                     "roles:\n"
                     "  \"Team Admin\":\n"
                     "    on: [Route]\n"
                     "    grants:\n"
                     "      Route:\n"
                     "        - GET\n"
                     "        - actions: [\"repo:push\"]\n"
                     "          when: resource.ownerID == subject.id && "
                     "resource.\"content-type\" == 'x'\n")
                  .empty());
  // Typos are still caught, with the nearest name as written.
  ExpectError("name: t\nsubjects: {}\nresources:\n"
              "  Route: {actions: [GET, POST]}\n"
              "roles:\n  r:\n    on: [Route]\n    grants:\n      Route: [Get]\n",
              "9:15", "did you mean 'GET'?");
  ExpectError("name: t\nsubjects:\n  user: {attributes: {ownerID: string}}\n"
              "resources:\n  doc: {actions: [v], attributes: {ownerID: string}}\n"
              "rules:\n  - {name: r, effect: allow, actions: [v], on: [doc],"
              " when: resource.ownerId == subject.id}\n",
              "7:61", "did you mean 'ownerID'?");
}

TEST(PolicyCompiler, ASubjectTypeWithActionsIsAResourceTypeToo) {
  EXPECT_TRUE(Errors("name: t\nsubjects:\n"
                     "  user:\n"
                     "    actions: [read_profile]\n"
                     "    attributes: {department: string}\n"
                     "resources: {}\n"
                     "roles:\n  hr: {on: [user], grants: {user: [read_profile]}}\n"
                     "rules:\n  - {name: r, effect: allow, actions: [read_profile],"
                     " on: [user], when: resource.department == subject.department}\n")
                  .empty());
  // Declared twice, it is still a duplicate, with the way to write it.
  ExpectError("name: t\nsubjects: {user: {}}\nresources:\n  user: {}\n", "4:3",
              "declare it once under subjects with its actions");
  // A subject type without actions is no resource type.
  ExpectError("name: t\nsubjects: {user: {}}\nresources: {}\n"
              "roles:\n  r: {on: [user]}\n",
              "5:12", "role r cannot be bound on subject type 'user'");
}

TEST(PolicyCompiler, EntitiesFromTheRequest) {
  EXPECT_TRUE(Errors("name: t\nsubjects:\n  caller: {entities: request}\n"
                     "resources:\n  route: {entities: stored, actions: [GET]}\n")
                  .empty());
  ExpectError("name: t\nsubjects:\n  caller: {entities: requests}\n"
              "resources: {}\n",
              "3:22", "entities of subject type 'caller' must be stored or "
                      "request, got 'requests' (did you mean 'request'?)");
}

TEST(PolicyCompilerErrors, UnknownAttributeType) {
  ExpectError("name: t\nsubjects:\n  user:\n    attributes: {age: integer}\n"
              "resources: {}\n",
              "4:23", "unknown attribute type 'integer'");
}

TEST(PolicyCompilerErrors, UnknownParentType) {
  ExpectError("name: t\nsubjects: {}\nresources:\n  file: {parents: [grup]}\n"
              "  group: {}\n",
              "4:20", "unknown type 'grup' in the parents of file (did you "
                      "mean 'group'?)");
}

TEST(PolicyCompilerErrors, SubjectTypeAsParent) {
  ExpectError("name: t\nsubjects: {user: {}}\nresources:\n"
              "  file: {parents: [user]}\n",
              "4:20", "'user' is a subject type");
}

TEST(PolicyCompilerErrors, CycleInParents) {
  ExpectError("name: t\nsubjects: {}\nresources:\n"
              "  a: {parents: [b]}\n"
              "  b: {parents: [c]}\n"
              "  c: {parents: [a, c]}\n",
              "6:17", "cycle in parents: a -> b -> c -> a");
}

TEST(PolicyCompilerErrors, SelfNestingIsNotACycle) {
  EXPECT_TRUE(Errors("name: t\nsubjects: {}\nresources:\n"
                     "  folder: {parents: [folder]}\n")
                  .empty());
}

TEST(PolicyCompilerErrors, CycleInIncludes) {
  ExpectError(std::string(kHeader) +
                  "roles:\n"
                  "  a: {on: [group], includes: [b]}\n"
                  "  b: {on: [group], includes: [a]}\n",
              "14:31", "cycle in role includes: a -> b -> a");
  ExpectError(std::string(kHeader) +
                  "roles:\n  a: {on: [group], includes: [a]}\n",
              "13:31", "cycle in role includes: a -> a");
}

TEST(PolicyCompilerErrors, UnknownRoleInIncludes) {
  ExpectError(std::string(kHeader) +
                  "roles:\n  member: {on: [group]}\n"
                  "  a: {on: [group], includes: [membr]}\n",
              "14:31", "unknown role 'membr' (did you mean 'member'?)");
}

TEST(PolicyCompilerErrors, UnknownActionInGrant) {
  ExpectError(std::string(kHeader) +
                  "roles:\n  r:\n    on: [group]\n    grants:\n"
                  "      file: [veiw]\n",
              "16:14", "unknown action 'veiw' (did you mean 'view'?); actions "
                       "of file: view, edit");
}

TEST(PolicyCompilerErrors, ActionNotDefinedOnThatType) {
  ExpectError(std::string(kHeader) +
                  "roles:\n  r:\n    on: [group]\n    grants:\n"
                  "      group: [view_group, edit]\n",
              "16:27", "action 'edit' is not defined on type group");
}

TEST(PolicyCompilerErrors, UnknownTypeInGrants) {
  ExpectError(std::string(kHeader) +
                  "roles:\n  r:\n    on: [group]\n    grants:\n"
                  "      fiel: [view]\n",
              "16:7", "unknown type 'fiel' in the grants of role r (did you "
                      "mean 'file'?)");
}

TEST(PolicyCompilerErrors, RoleBoundOnASubjectOrUnknownType) {
  ExpectError(std::string(kHeader) + "roles:\n  r: {on: [user]}\n", "13:12",
              "role r cannot be bound on subject type 'user'");
  ExpectError(std::string(kHeader) + "roles:\n  r: {on: [grop]}\n", "13:12",
              "unknown type 'grop' in 'on' of role r (did you mean 'group'?)");
}

TEST(PolicyCompilerErrors, GrantUnreachableFromBindableTypes) {
  ExpectError(std::string(kHeader) +
                  "roles:\n  r:\n    on: [file]\n    grants:\n"
                  "      group: [view_group]\n",
              "16:7", "role r grants on type group, which is not at or below "
                      "any type the role can be bound on (file)");
  // Through an include, reported once.
  ExpectError(std::string(kHeader) +
                  "roles:\n"
                  "  base:\n    grants:\n      group: [view_group]\n"
                  "  r: {on: [file], includes: [base]}\n",
              "15:7", "(included from role base)");
}

TEST(PolicyCompilerErrors, BadConditionSyntaxMapsToTheFile) {
  ExpectError(std::string(kHeader) +
                  "roles:\n  r:\n    on: [group]\n    grants:\n"
                  "      file:\n"
                  "        - actions: [edit]\n"
                  "          when: resource.owner = subject.id\n",
              "18:32", "unexpected '=' (use '==' to compare)");
  // In a quoted scalar the column skips the quote.
  ExpectError(std::string(kHeader) +
                  "roles:\n  r:\n    on: [group]\n    grants:\n"
                  "      file:\n"
                  "        - actions: [edit]\n"
                  "          when: \"resource.owner = subject.id\"\n",
              "18:33", "unexpected '='");
  // In a block scalar the text starts on the next line.
  ExpectError(std::string(kHeader) +
                  "rules:\n"
                  "  - name: r\n    effect: deny\n    actions: [edit]\n"
                  "    on: [file]\n"
                  "    when: |\n"
                  "      context.a == 1 &&\n"
                  "        context.b = 2\n",
              "19:19", "unexpected '='");
}

TEST(PolicyCompilerErrors, IncompatibleComparisonTypes) {
  ExpectError(std::string(kHeader) +
                  "rules:\n"
                  "  - name: r\n    effect: allow\n    actions: [view]\n"
                  "    on: [file]\n"
                  "    when: resource.owner == 42\n",
              "17:26", "cannot compare string with int using '=='");
}

TEST(PolicyCompilerErrors, UndeclaredAttribute) {
  ExpectError(std::string(kHeader) +
                  "rules:\n"
                  "  - name: r\n    effect: allow\n    actions: [view]\n"
                  "    on: [file]\n"
                  "    when: subject.dept == \"x\"\n",
              "17:11", "type user declares no attribute 'dept'");
}

TEST(PolicyCompilerErrors, RuleErrors) {
  ExpectError(std::string(kHeader) +
                  "rules:\n  - {name: r, effect: permit, actions: [view], on: "
                  "[file]}\n",
              "13:23", "unknown effect 'permit'; expected allow or deny");
  ExpectError(std::string(kHeader) +
                  "rules:\n  - {name: r, effect: allow, actions: [view], on: "
                  "[file, group]}\n",
              "13:40", "action 'view' is not defined on type group");
  ExpectError(std::string(kHeader) +
                  "rules:\n  - {name: r, effect: allow, actions: [view], on: "
                  "[user]}\n",
              "13:52", "'user' is a subject type");
  ExpectError(std::string(kHeader) + "rules:\n  - {name: r, effect: allow, on: [file]}\n",
              "13:5", "a rule is missing the required key 'actions'");
}

TEST(PolicyCompilerErrors, RestrictionErrors) {
  ExpectError(std::string(kHeader) + "restrictions:\n  on: [fil]\n", "13:8",
              "unknown type 'fil' in 'on' of restrictions (did you mean "
              "'file'?)");
  ExpectError(std::string(kHeader) +
                  "restrictions:\n  on: [file]\n  exempt_roles: [admin]\n",
              "14:18", "unknown role 'admin'");
  ExpectError(std::string(kHeader) +
                  "restrictions:\n  on: [file]\n  precedence: nearest\n",
              "14:15", "unknown precedence 'nearest'");
  ExpectError(std::string(kHeader) +
                  "restrictions:\n  on: [file]\n  precedence: 3\n",
              "14:15", "precedence must be a string, got an integer");
}

TEST(PolicyCompilerErrors, Limits) {
  std::string types = "name: t\nsubjects: {}\nresources:\n";
  for (size_t i = 0; i <= engine::kMaxTypes; ++i) {
    types += "  t" + std::to_string(i) + ": {}\n";
  }
  ExpectError(types, std::to_string(4 + engine::kMaxTypes) + ":3",
              "too many types: at most 64");

  std::string actions = "name: t\nsubjects: {}\nresources:\n  a:\n    actions:\n";
  for (size_t i = 0; i <= engine::kMaxActions; ++i) {
    actions += "      - a" + std::to_string(i) + "\n";
  }
  ExpectError(actions, std::to_string(6 + engine::kMaxActions) + ":9",
              "too many actions: at most 128");

  std::string roles = std::string(kHeader) + "roles:\n";
  for (size_t i = 0; i <= engine::kMaxRoles; ++i) {
    roles += "  r" + std::to_string(i) + ": {on: [group]}\n";
  }
  ExpectError(roles, std::to_string(13 + engine::kMaxRoles) + ":3",
              "too many roles: at most 64");
}

TEST(PolicyCompilerErrors, ReportsAllErrorsSortedByPosition) {
  std::vector<std::string> e = Errors(
      std::string(kHeader) +
      "roles:\n"
      "  r:\n"
      "    on: [grop]\n"                  // 14: unknown type
      "    grants:\n"
      "      file: [veiw]\n"              // 16: unknown action
      "rules:\n"
      "  - {name: x, effect: allow, actions: [view], on: [file], when: \"1 ==\"}\n"
      "bogus: 1\n");                      // 19: unknown key
  ASSERT_EQ(e.size(), 4u) << ::testing::PrintToString(e);
  EXPECT_EQ(e[0].substr(0, 5), "14:10");
  EXPECT_EQ(e[1].substr(0, 5), "16:14");
  EXPECT_EQ(e[2].substr(0, 3), "18:");
  EXPECT_EQ(e[3].substr(0, 4), "19:1");
}

TEST(PolicyCompilerErrors, MissingFile) {
  PolicyResult r = CompilePolicyFile("/nonexistent/policy.yaml");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error()[0].ToString(),
            "/nonexistent/policy.yaml: cannot open the file");
}

}  // namespace
}  // namespace portcullis::policies

namespace portcullis::policies {
namespace {

// Regression (found by policy_fuzz under ASan): keys were held by reference
// to yaml-cpp's temporary iterator proxy (`const Node& key = it->first`).
TEST(PolicyCompiler, FlowStyleNestedMappings) {
  PolicyResult r = CompilePolicyText(
      "name: x\nsubjects: {u: {}}\nresources:\n"
      "  a: {parents: [a], actions: [r]}\nroles:\n"
      "  o: {on: [a], grants: {a: [{actions: [r], when: \"has(resource.x) && "
      "resource.x in [1, 2]\"}]}}\n",
      "p.yaml");
  ASSERT_TRUE(r) << FormatErrors(r.error());
  EXPECT_EQ((*r)->grants.size(), 1u);
}

}  // namespace
}  // namespace portcullis::policies
