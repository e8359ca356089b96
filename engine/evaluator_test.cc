#include "engine/evaluator.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "engine/memory_data.h"
#include "explain/reason_text.h"

namespace portcullis::engine {
namespace {

using explain::ReasonText;

// Builds a compiled Policy by hand, the way policies/policy_compiler.cc does:
// one ActionDef per distinct action name, includes flattened into
// RoleDef::grants, then Finalize().
class PolicyBuilder {
 public:
  PolicyBuilder() : p_(std::make_unique<Policy>()) { p_->name = "test"; }

  TypeId Subject(const std::string& name) {
    TypeDef t;
    t.name = name;
    t.is_subject = true;
    p_->types.push_back(std::move(t));
    return static_cast<TypeId>(p_->types.size() - 1);
  }
  TypeId Resource(const std::string& name,
                  const std::vector<std::string>& parents,
                  const std::vector<std::string>& actions,
                  bool restrictable = false) {
    TypeDef t;
    t.name = name;
    t.restrictable = restrictable;
    const TypeId id = static_cast<TypeId>(p_->types.size());
    for (const std::string& parent : parents) {
      t.parents.push_back(parent == name ? id : Type(parent));
    }
    for (const std::string& a : actions) {
      const ActionId aid = Action(a);
      t.actions.Add(aid);
      p_->actions[aid].types.Add(id);
    }
    p_->types.push_back(std::move(t));
    return id;
  }
  RoleId Role(const std::string& name, const std::vector<std::string>& on,
              bool exempt = false) {
    RoleDef r;
    r.name = name;
    r.exempt_from_restrictions = exempt;
    r.location = {"test.yaml", static_cast<uint32_t>(p_->roles.size() + 1), 3};
    for (const std::string& t : on) r.bindable_on.Add(Type(t));
    p_->roles.push_back(std::move(r));
    return static_cast<RoleId>(p_->roles.size() - 1);
  }
  void Include(const std::string& role, const std::string& included) {
    p_->roles[FindRole(role)].includes.push_back(FindRole(included));
  }
  Grant* AddGrant(const std::string& role, const std::string& type,
                  const std::vector<std::string>& actions,
                  std::unique_ptr<Condition> when = nullptr) {
    auto g = std::make_unique<Grant>();
    g->role = FindRole(role);
    g->type = Type(type);
    for (const std::string& a : actions) g->actions.Add(Action(a));
    g->when = std::move(when);
    g->location = {"test.yaml", static_cast<uint32_t>(100 + p_->grants.size()),
                   7};
    p_->grants.push_back(std::move(g));
    return p_->grants.back().get();
  }
  void AddRule(const std::string& name, Effect effect,
               const std::vector<std::string>& actions,
               const std::vector<std::string>& types,
               std::unique_ptr<Condition> when = nullptr) {
    Rule r;
    r.name = name;
    r.effect = effect;
    for (const std::string& a : actions) r.actions.Add(Action(a));
    for (const std::string& t : types) r.types.Add(Type(t));
    r.when = std::move(when);
    r.location = {"test.yaml", static_cast<uint32_t>(200 + p_->rules.size()),
                  5};
    p_->rules.push_back(std::move(r));
  }
  void SetPrecedence(Precedence p) { p_->precedence = p; }

  std::unique_ptr<Policy> Build() {
    // Flatten includes: a role's grants are its own plus those of every role
    // it includes, transitively.
    for (size_t r = 0; r < p_->roles.size(); ++r) {
      std::vector<bool> seen(p_->roles.size());
      std::vector<RoleId> stack = {static_cast<RoleId>(r)};
      while (!stack.empty()) {
        RoleId x = stack.back();
        stack.pop_back();
        if (seen[x]) continue;
        seen[x] = true;
        for (RoleId inc : p_->roles[x].includes) stack.push_back(inc);
      }
      for (const auto& g : p_->grants) {
        if (seen[g->role]) p_->roles[r].grants.push_back(g.get());
      }
    }
    p_->Finalize();
    return std::move(p_);
  }

  TypeId Type(const std::string& name) const {
    for (size_t i = 0; i < p_->types.size(); ++i) {
      if (p_->types[i].name == name) return static_cast<TypeId>(i);
    }
    ADD_FAILURE() << "no type " << name;
    return 0;
  }
  ActionId Action(const std::string& name) {
    for (size_t i = 0; i < p_->actions.size(); ++i) {
      if (p_->actions[i].name == name) return static_cast<ActionId>(i);
    }
    ActionDef a;
    a.name = name;
    p_->actions.push_back(std::move(a));
    return static_cast<ActionId>(p_->actions.size() - 1);
  }
  RoleId FindRole(const std::string& name) const {
    for (size_t i = 0; i < p_->roles.size(); ++i) {
      if (p_->roles[i].name == name) return static_cast<RoleId>(i);
    }
    ADD_FAILURE() << "no role " << name;
    return 0;
  }

 private:
  std::unique_ptr<Policy> p_;
};

// `root.key == <subject id>`-style conditions, built as the parser would.
std::unique_ptr<Condition> AttrEqualsAttr(AttrRoot lr, std::string_view lk,
                                          AttrRoot rr, std::string_view rk,
                                          std::string text) {
  auto c = std::make_unique<Condition>();
  ExprNode l;
  l.op = ExprOp::kAttr;
  l.root = lr;
  l.key = c->InternString(lk);
  l.location = {"test.yaml", 50, 20};
  ExprNode r;
  r.op = ExprOp::kAttr;
  r.root = rr;
  r.key = c->InternString(rk);
  const uint32_t a = c->AddNode(std::move(l));
  const uint32_t b = c->AddNode(std::move(r));
  ExprNode eq;
  eq.op = ExprOp::kEq;
  eq.child[0] = a;
  eq.child[1] = b;
  c->set_root(c->AddNode(std::move(eq)));
  c->set_text(std::move(text));
  c->set_location({"test.yaml", 50, 13});
  return c;
}

std::unique_ptr<Condition> AttrEqualsBool(AttrRoot root, std::string_view key,
                                          bool value, std::string text) {
  auto c = std::make_unique<Condition>();
  ExprNode l;
  l.op = ExprOp::kAttr;
  l.root = root;
  l.key = c->InternString(key);
  ExprNode r;
  r.op = ExprOp::kLiteral;
  r.literal = Value::Bool(value);
  const uint32_t a = c->AddNode(std::move(l));
  const uint32_t b = c->AddNode(std::move(r));
  ExprNode eq;
  eq.op = ExprOp::kEq;
  eq.child[0] = a;
  eq.child[1] = b;
  c->set_root(c->AddNode(std::move(eq)));
  c->set_text(std::move(text));
  return c;
}

// A small portal: account > group > folder (nested) > file, restrictions on
// folders and files, administrators exempt.
std::unique_ptr<Policy> PortalPolicy(
    Precedence precedence = Precedence::kRestrictionWins) {
  PolicyBuilder b;
  b.Subject("user");
  b.Resource("account", {}, {"view_account", "create_group"});
  b.Resource("group", {"account"}, {"view_group", "invite_members"});
  b.Resource("folder", {"group", "folder"},
             {"view", "download", "edit", "delete"}, /*restrictable=*/true);
  b.Resource("file", {"group", "folder"},
             {"view", "download", "edit", "delete"}, /*restrictable=*/true);
  b.Role("account_administrator", {"account"});
  b.Role("member", {"group"});
  b.Role("content_creator", {"group", "folder", "file"});
  b.Role("administrator", {"group"}, /*exempt=*/true);
  b.Include("content_creator", "member");
  b.AddGrant("account_administrator", "account",
             {"view_account", "create_group"});
  b.AddGrant("member", "group", {"view_group"});
  b.AddGrant("member", "folder", {"view", "download"});
  b.AddGrant("member", "file", {"view", "download"});
  b.AddGrant("content_creator", "folder", {"edit"});
  b.AddGrant("content_creator", "file", {"edit"});
  b.AddGrant("content_creator", "file", {"delete"},
             AttrEqualsAttr(AttrRoot::kResource, "owner", AttrRoot::kSubject,
                            "id", "resource.owner == subject.id"));
  b.AddGrant("administrator", "group", {"view_group", "invite_members"});
  b.AddGrant("administrator", "folder", {"view", "download"});
  b.AddGrant("administrator", "file", {"view", "download"});
  b.SetPrecedence(precedence);
  return b.Build();
}

constexpr TimestampMicros kNow = 1'700'000'000'000'000;

class EvaluatorTest : public ::testing::Test {
 protected:
  EvaluatorTest() : policy_(PortalPolicy()) {
    data_.PutResource("account", "acme");
    data_.PutResource("group", "g1", "account", "acme");
    data_.PutResource("folder", "f1", "group", "g1");
    data_.PutResource("folder", "f2", "folder", "f1");
    data_.PutResource("file", "x", "folder", "f2");
    data_.PutResource("file", "y", "group", "g1");
    for (const char* u : {"alice", "bob", "carol", "dave", "erin"}) {
      data_.PutSubject("user", u);
    }
  }

  void Bind(const std::string& user, EntityRef on,
            const std::vector<std::string>& roles,
            BindingState state = BindingState::kActive,
            TimestampMicros expires_at = kNoExpiry) {
    data_.SetBinding({"user", user}, on, roles, state, expires_at);
  }
  void Restrict(const std::string& user, EntityRef on,
                const std::vector<std::string>& actions) {
    data_.SetRestriction({"user", user}, on, actions);
  }

  Decision Check(std::string_view user, std::string_view action,
                 EntityRef resource, const Policy* policy = nullptr) {
    CheckRequest req;
    req.subject = {"user", user};
    req.action = action;
    req.resource = resource;
    req.now = kNow;
    return Evaluator(policy ? *policy : *policy_).Check(req, data_);
  }
  std::string Describe(const Decision& d, std::string_view action) {
    return ReasonText(*policy_, d.reason, action);
  }
  std::string RoleName(RoleId r) { return policy_->roles[r].name; }

  static constexpr EntityRef kAcme{"account", "acme"};
  static constexpr EntityRef kG1{"group", "g1"};
  static constexpr EntityRef kF1{"folder", "f1"};
  static constexpr EntityRef kF2{"folder", "f2"};
  static constexpr EntityRef kX{"file", "x"};
  static constexpr EntityRef kY{"file", "y"};

  std::unique_ptr<Policy> policy_;
  MemoryData data_;
};

TEST_F(EvaluatorTest, GroupBindingIsInheritedDownTheTree) {
  Bind("alice", kG1, {"member"});
  for (EntityRef r : {kF1, kF2, kX, kY}) {
    Decision d = Check("alice", "view", r);
    EXPECT_TRUE(d.allowed) << r.ToString();
    EXPECT_EQ(d.reason.code, ReasonCode::kGrantedByRole);
    EXPECT_EQ(RoleName(d.reason.role), "member");
    EXPECT_EQ(d.reason.at, kG1);
  }
  EXPECT_TRUE(Check("alice", "view_group", kG1).allowed);
}

TEST_F(EvaluatorTest, BindingDoesNotGrantUpTheTree) {
  Bind("alice", kX, {"content_creator"});
  EXPECT_TRUE(Check("alice", "edit", kX).allowed);
  Decision d = Check("alice", "edit", kF2);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.reason.code, ReasonCode::kNoBinding);
  EXPECT_FALSE(Check("alice", "view_group", kG1).allowed);
  EXPECT_FALSE(Check("alice", "view", kY).allowed);
}

TEST_F(EvaluatorTest, NoBindingAnywhereDenies) {
  Bind("alice", kG1, {"member"});
  Decision d = Check("bob", "view", kX);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.reason.code, ReasonCode::kNoBinding);
  EXPECT_EQ(Describe(d, "view"),
            "no binding on file:x or its ancestors grants view");
}

TEST_F(EvaluatorTest, BindingThatDoesNotGrantTheActionIsNotGranted) {
  Bind("alice", kG1, {"member"});
  Decision d = Check("alice", "edit", kX);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.reason.code, ReasonCode::kNotGranted);
  EXPECT_EQ(d.reason.at, kG1);
  EXPECT_EQ(Describe(d, "edit"),
            "no role bound on the resource or its ancestors grants edit "
            "(nearest binding: group:g1)");
}

TEST_F(EvaluatorTest, RoleSetGrantsTheUnion) {
  Bind("alice", kG1, {"administrator"});
  Bind("bob", kG1, {"content_creator"});
  Bind("carol", kG1, {"administrator", "content_creator"});
  EXPECT_TRUE(Check("alice", "invite_members", kG1).allowed);
  EXPECT_FALSE(Check("alice", "edit", kX).allowed);
  EXPECT_FALSE(Check("bob", "invite_members", kG1).allowed);
  EXPECT_TRUE(Check("bob", "edit", kX).allowed);
  EXPECT_TRUE(Check("carol", "invite_members", kG1).allowed);
  Decision d = Check("carol", "edit", kX);
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(RoleName(d.reason.role), "content_creator");
}

TEST_F(EvaluatorTest, IncludedRoleGrantsAreTheIncludingRoles) {
  Bind("bob", kG1, {"content_creator"});
  Decision d = Check("bob", "download", kX);
  EXPECT_TRUE(d.allowed);
  // The reason names the role held; the grant is the one member wrote.
  EXPECT_EQ(RoleName(d.reason.role), "content_creator");
  ASSERT_NE(d.reason.grant, nullptr);
  EXPECT_EQ(RoleName(d.reason.grant->role), "member");
}

TEST_F(EvaluatorTest, PendingBindingGrantsNothing) {
  Bind("alice", kG1, {"administrator", "content_creator"},
       BindingState::kPending);
  for (const char* a : {"view", "edit", "download"}) {
    Decision d = Check("alice", a, kX);
    EXPECT_FALSE(d.allowed) << a;
    EXPECT_EQ(d.reason.code, ReasonCode::kBindingPending);
    EXPECT_EQ(d.reason.at, kG1);
  }
  EXPECT_FALSE(Check("alice", "invite_members", kG1).allowed);
  EXPECT_EQ(Describe(Check("alice", "view", kX), "view"),
            "the binding on group:g1 is pending (invitation not accepted)");
}

TEST_F(EvaluatorTest, PendingBindingDoesNotHideAnActiveOne) {
  Bind("alice", kG1, {"member"});
  Bind("alice", kX, {"content_creator"}, BindingState::kPending);
  EXPECT_TRUE(Check("alice", "view", kX).allowed);
  Decision d = Check("alice", "edit", kX);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.reason.code, ReasonCode::kBindingPending);
}

TEST_F(EvaluatorTest, ExpiredBindingGrantsNothingFromItsExpiryOn) {
  Bind("alice", kG1, {"member"}, BindingState::kActive, kNow);
  Decision d = Check("alice", "view", kX);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.reason.code, ReasonCode::kBindingExpired);
  EXPECT_EQ(d.reason.at, kG1);
  EXPECT_EQ(Describe(d, "view"), "the binding on group:g1 has expired");
  Bind("alice", kG1, {"member"}, BindingState::kActive, kNow + 1);
  EXPECT_TRUE(Check("alice", "view", kX).allowed);
}

TEST_F(EvaluatorTest, UnknownRoleInABindingIsIgnored) {
  Bind("alice", kG1, {"ghost", "member"});
  EXPECT_TRUE(Check("alice", "view", kX).allowed);
  Bind("bob", kG1, {"ghost"});
  EXPECT_EQ(Check("bob", "view", kX).reason.code, ReasonCode::kNotGranted);
}

TEST_F(EvaluatorTest, RestrictionRemovesInheritedAction) {
  Bind("alice", kG1, {"member"});
  Restrict("alice", kF1, {"download"});
  Decision d = Check("alice", "download", kX);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.reason.code, ReasonCode::kRestricted);
  EXPECT_EQ(d.reason.at, kF1);
  EXPECT_EQ(RoleName(d.reason.role), "member");
  EXPECT_EQ(Describe(d, "download"),
            "restricted by override on folder:f1 (role member would grant "
            "download)");
  // Other actions, and resources outside the restricted subtree, are kept.
  EXPECT_TRUE(Check("alice", "view", kX).allowed);
  EXPECT_TRUE(Check("alice", "download", kY).allowed);
  // Another subject is not affected.
  Bind("bob", kG1, {"member"});
  EXPECT_TRUE(Check("bob", "download", kX).allowed);
}

TEST_F(EvaluatorTest, StarRestrictsEveryAction) {
  Bind("alice", kG1, {"content_creator"});
  Restrict("alice", kX, {"*"});
  for (const char* a : {"view", "download", "edit"}) {
    EXPECT_FALSE(Check("alice", a, kX).allowed) << a;
  }
  EXPECT_TRUE(Check("alice", "edit", kF2).allowed);
}

TEST_F(EvaluatorTest, RestrictionOnANonRestrictableTypeIsIgnored) {
  Bind("alice", kG1, {"member"});
  Restrict("alice", kG1, {"*"});
  EXPECT_TRUE(Check("alice", "view", kX).allowed);
  EXPECT_TRUE(Check("alice", "view_group", kG1).allowed);
}

TEST_F(EvaluatorTest, RestrictionWinsOverARaiseBelowIt) {
  Bind("alice", kG1, {"member"});
  Bind("alice", kX, {"content_creator"});
  Restrict("alice", kF1, {"edit", "view"});
  Decision d = Check("alice", "edit", kX);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.reason.code, ReasonCode::kRestricted);
  EXPECT_EQ(d.reason.at, kF1);
  EXPECT_FALSE(Check("alice", "view", kX).allowed);
  EXPECT_TRUE(Check("alice", "download", kX).allowed);
}

TEST_F(EvaluatorTest, NearestWinsLetsARaiseBelowTheRestrictionSurvive) {
  auto nearest = PortalPolicy(Precedence::kNearestWins);
  Bind("alice", kG1, {"member"});
  Bind("alice", kX, {"content_creator"});
  Restrict("alice", kF1, {"edit", "view"});
  // The raise on the file is below the restriction on f1: it survives.
  Decision d = Check("alice", "view", kX, nearest.get());
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.reason.at, kX);
  EXPECT_TRUE(Check("alice", "edit", kX, nearest.get()).allowed);
  // The group binding is above the restriction: removed.
  d = Check("alice", "view", kF2, nearest.get());
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.reason.code, ReasonCode::kRestricted);
  // At the same resource the restriction wins.
  Restrict("alice", kX, {"edit"});
  d = Check("alice", "edit", kX, nearest.get());
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.reason.code, ReasonCode::kRestricted);
  EXPECT_EQ(d.reason.at, kX);
}

TEST_F(EvaluatorTest, ExemptRoleCannotBeRestricted) {
  Bind("alice", kG1, {"administrator"});
  Restrict("alice", kX, {"*"});
  Restrict("alice", kF1, {"*"});
  EXPECT_TRUE(Check("alice", "view", kX).allowed);
  EXPECT_TRUE(Check("alice", "download", kX).allowed);
  // Administrator + member: the member grant is restricted, the
  // administrator grant is not; the union allows.
  Bind("bob", kG1, {"member", "administrator"});
  Restrict("bob", kX, {"view"});
  Decision d = Check("bob", "view", kX);
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(RoleName(d.reason.role), "administrator");
}

TEST_F(EvaluatorTest, ConditionalGrantAppliesOnlyWhenTheConditionHolds) {
  Bind("alice", kG1, {"content_creator"});
  data_.SetAttribute(EntityKind::kResource, "file", "x", "owner",
                     OwnedValue::FromValue(Value::String("alice")));
  data_.SetAttribute(EntityKind::kResource, "file", "y", "owner",
                     OwnedValue::FromValue(Value::String("bob")));
  Decision d = Check("alice", "delete", kX);
  EXPECT_TRUE(d.allowed);
  ASSERT_NE(d.reason.grant, nullptr);
  ASSERT_NE(d.reason.grant->when, nullptr);
  EXPECT_EQ(d.reason.grant->when->text(), "resource.owner == subject.id");
  d = Check("alice", "delete", kY);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.reason.code, ReasonCode::kConditionFalse);
  EXPECT_EQ(Describe(d, "delete"),
            "condition of role content_creator is false: resource.owner == "
            "subject.id (test.yaml:106:7)");
}

TEST_F(EvaluatorTest, ConditionErrorDeniesAndSaysWhy) {
  Bind("alice", kG1, {"content_creator"});
  // file:x has no owner attribute: the condition cannot be evaluated.
  Decision d = Check("alice", "delete", kX);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.reason.code, ReasonCode::kEvaluationError);
  EXPECT_EQ(d.reason.error.kind, EvalErrorKind::kMissingAttribute);
  EXPECT_EQ(Describe(d, "delete"),
            "evaluation error (denied): missing attribute resource.owner in "
            "`resource.owner == subject.id` (test.yaml:50:20)");
}

TEST_F(EvaluatorTest, RequestPropertiesFeedConditions) {
  Bind("alice", kG1, {"content_creator"});
  Attribute props[] = {{"owner", Value::String("alice")}};
  CheckRequest req;
  req.subject = {"user", "alice"};
  req.action = "delete";
  req.resource = kX;
  req.resource_properties = props;
  EXPECT_TRUE(Evaluator(*policy_).Check(req, data_).allowed);
}

// A policy with rules: public files may be viewed by anyone; files on legal
// hold may not be deleted; soft deletes only.
std::unique_ptr<Policy> RulesPolicy() {
  PolicyBuilder b;
  b.Subject("user");
  b.Resource("group", {}, {"view_group"});
  b.Resource("file", {"group"}, {"view", "delete"}, /*restrictable=*/true);
  b.Role("administrator", {"group"}, /*exempt=*/true);
  b.AddGrant("administrator", "file", {"view", "delete"});
  b.AddRule("public_files", Effect::kAllow, {"view"}, {"file"},
            AttrEqualsBool(AttrRoot::kResource, "public", true,
                           "resource.public == true"));
  b.AddRule("legal_hold", Effect::kDeny, {"delete"}, {"file"},
            AttrEqualsBool(AttrRoot::kResource, "legal_hold", true,
                           "resource.legal_hold == true"));
  return b.Build();
}

class RulesTest : public EvaluatorTest {
 protected:
  RulesTest() {
    rules_ = RulesPolicy();
    data_.PutResource("group", "g");
    data_.PutResource("file", "pub", "group", "g");
    data_.PutResource("file", "priv", "group", "g");
    Set("pub", "public", true);
    Set("pub", "legal_hold", false);
    Set("priv", "public", false);
    Set("priv", "legal_hold", true);
    Bind("alice", {"group", "g"}, {"administrator"});
  }
  void Set(std::string_view file, std::string_view key, bool v) {
    data_.SetAttribute(EntityKind::kResource, "file", file, key,
                       OwnedValue::FromValue(Value::Bool(v)));
  }
  Decision RCheck(std::string_view user, std::string_view action,
                  std::string_view file) {
    return Check(user, action, {"file", file}, rules_.get());
  }
  std::unique_ptr<Policy> rules_;
};

TEST_F(RulesTest, AllowRuleGrantsWithoutABinding) {
  Decision d = RCheck("bob", "view", "pub");
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.reason.code, ReasonCode::kAllowedByRule);
  EXPECT_EQ(d.reason.rule->name, "public_files");
  EXPECT_EQ(ReasonText(*rules_, d.reason, "view"),
            "allow rule public_files (test.yaml:200:5)");
  d = RCheck("bob", "view", "priv");
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.reason.code, ReasonCode::kConditionFalse);
  EXPECT_EQ(d.reason.rule->name, "public_files");
}

TEST_F(RulesTest, AllowRuleIsTakenAwayByARestriction) {
  Restrict("bob", {"file", "pub"}, {"view"});
  Decision d = RCheck("bob", "view", "pub");
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.reason.code, ReasonCode::kRestricted);
  EXPECT_EQ(ReasonText(*rules_, d.reason, "view"),
            "restricted by override on file:pub (would be allowed by rule "
            "public_files)");
}

TEST_F(RulesTest, DenyRuleOverridesEvenAnExemptRole) {
  EXPECT_TRUE(RCheck("alice", "delete", "pub").allowed);
  Decision d = RCheck("alice", "delete", "priv");
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.reason.code, ReasonCode::kDeniedByRule);
  EXPECT_EQ(ReasonText(*rules_, d.reason, "delete"),
            "denied by rule legal_hold (test.yaml:201:5)");
}

TEST_F(RulesTest, DenyRuleThatCannotBeEvaluatedDenies) {
  data_.PutResource("file", "bare", "group", "g");  // no legal_hold attribute
  Decision d = RCheck("alice", "delete", "bare");
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.reason.code, ReasonCode::kEvaluationError);
  ASSERT_NE(d.reason.rule, nullptr);
  EXPECT_EQ(d.reason.rule->name, "legal_hold");
  // The allow rule's error on view is a deny too, never an allow.
  d = RCheck("bob", "view", "bare");
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.reason.code, ReasonCode::kEvaluationError);
}

TEST_F(RulesTest, AllowRuleStillNeedsAKnownSubject) {
  Decision d = RCheck("nobody", "view", "pub");
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.reason.code, ReasonCode::kUnknownSubject);
}

TEST_F(EvaluatorTest, UnknownSubjectResourceTypeAndActionDeny) {
  Bind("alice", kG1, {"member"});
  Decision d = Check("mallory", "view", kX);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.reason.code, ReasonCode::kUnknownSubject);
  EXPECT_EQ(Describe(d, "view"), "unknown subject user:mallory");

  d = Check("alice", "view", {"file", "nope"});
  EXPECT_EQ(d.reason.code, ReasonCode::kUnknownResource);
  EXPECT_EQ(Describe(d, "view"), "unknown resource file:nope");

  d = Check("alice", "view", {"spaceship", "x"});
  EXPECT_EQ(d.reason.code, ReasonCode::kUnknownResourceType);
  EXPECT_EQ(Describe(d, "view"), "unknown resource type spaceship");
  // A subject type is not a resource type.
  d = Check("alice", "view", {"user", "alice"});
  EXPECT_EQ(d.reason.code, ReasonCode::kUnknownResourceType);

  d = Check("alice", "fly", kX);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.reason.code, ReasonCode::kUnknownAction);
  // An action of another type is unknown for this one.
  d = Check("alice", "invite_members", kX);
  EXPECT_EQ(d.reason.code, ReasonCode::kUnknownAction);
  EXPECT_EQ(Describe(d, "invite_members"),
            "unknown action invite_members for this resource type");
}

TEST_F(EvaluatorTest, ChainOfMaxDepthIsWalkedDeeperIsDenied) {
  // g1 > f1 > f2 already is depth 3 for files in f2; build a folder chain
  // under the account so that the deepest file sits exactly kMaxDepth deep.
  std::string parent = "f2";
  // Path of file:deep: deep, c(n)...c(1), f2, f1, g1, acme.
  const int chain = kMaxDepth - 5;
  for (int i = 1; i <= chain; ++i) {
    const std::string id = "c" + std::to_string(i);
    data_.PutResource("folder", id, "folder", parent);
    parent = id;
  }
  data_.PutResource("file", "deep", "folder", parent);
  Bind("alice", kAcme, {"account_administrator"});
  Bind("bob", kG1, {"member"});
  EXPECT_TRUE(Check("bob", "view", {"file", "deep"}).allowed);
  data_.PutResource("file", "deeper", "folder", "deep_parent");
  data_.PutResource("folder", "deep_parent", "folder", parent);
  Decision d = Check("bob", "view", {"file", "deeper"});
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.reason.code, ReasonCode::kDepthExceeded);
}

TEST_F(EvaluatorTest, UnknownSubjectOnATooDeepPathIsUnknownSubject) {
  // The evaluator checks the subject after the walk (when it found nothing
  // the subject holds); the outcome must stay that of checking it first.
  data_.PutResource("folder", "a", "folder", "b");
  data_.PutResource("folder", "b", "folder", "a");
  data_.PutResource("file", "in_cycle", "folder", "a");
  Decision d = Check("mallory", "view", {"file", "in_cycle"});
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.reason.code, ReasonCode::kUnknownSubject);
}

// Counts SubjectExists calls on a MemoryData.
class CountingView : public DataView {
 public:
  explicit CountingView(const MemoryData& inner) : inner_(inner) {}
  std::optional<ResourceInfo> GetResource(EntityRef r) const override {
    return inner_.GetResource(r);
  }
  bool SubjectExists(EntityRef s) const override {
    ++subject_lookups;
    return inner_.SubjectExists(s);
  }
  SubjectAccess GetAccess(EntityRef s, EntityRef r) const override {
    return inner_.GetAccess(s, r);
  }
  std::optional<Value> GetAttribute(EntityKind k, EntityRef e,
                                    std::string_view key) const override {
    return inner_.GetAttribute(k, e, key);
  }
  void ForEachChild(EntityRef,
                    const std::function<bool(EntityRef)>&) const override {}
  void ForEachBindingOn(
      EntityRef, const std::function<bool(EntityRef, const StoredBinding&)>&)
      const override {}
  void ForEachBindingOf(
      EntityRef, const std::function<bool(EntityRef, const StoredBinding&)>&)
      const override {}
  void ForEachResourceOfType(
      std::string_view, const std::function<bool(EntityRef)>&) const override {}
  void ForEachSubjectOfType(
      std::string_view, const std::function<bool(EntityRef)>&) const override {}

  mutable int subject_lookups = 0;

 private:
  const MemoryData& inner_;
};

TEST_F(EvaluatorTest, SubjectLookupIsSkippedOnlyWhenTheWalkFindsAccess) {
  Bind("alice", kG1, {"member"});
  CheckRequest req;
  req.subject = {"user", "alice"};
  req.action = "view";
  req.resource = kX;
  req.now = kNow;
  CountingView v(data_);
  EXPECT_TRUE(Evaluator(*policy_).Check(req, v).allowed);
  EXPECT_EQ(v.subject_lookups, 0);
  // bob holds nothing: his existence must be looked up, and he is known.
  req.subject = {"user", "bob"};
  Decision d = Evaluator(*policy_).Check(req, v);
  EXPECT_EQ(v.subject_lookups, 1);
  EXPECT_EQ(d.reason.code, ReasonCode::kNoBinding);
  req.subject = {"user", "mallory"};
  d = Evaluator(*policy_).Check(req, v);
  EXPECT_EQ(d.reason.code, ReasonCode::kUnknownSubject);
}

TEST_F(EvaluatorTest, CyclicParentsAreDeniedNotLooped) {
  data_.PutResource("folder", "a", "folder", "b");
  data_.PutResource("folder", "b", "folder", "a");
  data_.PutResource("file", "in_cycle", "folder", "a");
  Bind("alice", {"folder", "b"}, {"content_creator"});
  Decision d = Check("alice", "view", {"file", "in_cycle"});
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.reason.code, ReasonCode::kDepthExceeded);
  EXPECT_NE(Describe(d, "view").find("cyclic"), std::string::npos);
}

TEST_F(EvaluatorTest, AllowedActionsListsExactlyTheGrantedActions) {
  Bind("alice", kG1, {"member"});
  Bind("alice", kX, {"content_creator"});
  Restrict("alice", kX, {"download"});
  Evaluator ev(*policy_);
  CheckRequest req;
  req.subject = {"user", "alice"};
  req.resource = kX;
  req.now = kNow;
  ActionSet got = ev.AllowedActions(req, data_);
  ActionSet want;
  want.Add(policy_->FindAction("view"));
  want.Add(policy_->FindAction("edit"));
  EXPECT_EQ(got, want);

  req.resource = kG1;
  ActionSet group;
  group.Add(policy_->FindAction("view_group"));
  EXPECT_EQ(ev.AllowedActions(req, data_), group);

  Reason why;
  req.resource = {"file", "nope"};
  EXPECT_TRUE(ev.AllowedActions(req, data_, &why).empty());
  EXPECT_EQ(why.code, ReasonCode::kUnknownResource);
}

TEST_F(EvaluatorTest, TraceListsEverythingConsidered) {
  Bind("alice", kG1, {"member"});
  Bind("alice", kX, {"content_creator"}, BindingState::kPending);
  Restrict("alice", kF1, {"download"});
  CheckRequest req;
  req.subject = {"user", "alice"};
  req.action = "download";
  req.resource = kX;
  req.now = kNow;
  Trace trace;
  Decision d = Evaluator(*policy_).Check(req, data_, &trace);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.reason.code, ReasonCode::kRestricted);
  std::string all;
  for (const TraceStep& s : trace.steps) {
    all += s.what + " => " + s.outcome + "\n";
  }
  EXPECT_NE(all.find("restriction on folder:f1: [download] => covers download"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("binding on file:x: [content_creator] => pending"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("binding on group:g1: role member => grants download but "
                     "a restriction on folder:f1 takes it away"),
            std::string::npos)
      << all;
  // The granting step points at the grant's YAML.
  bool located = false;
  for (const TraceStep& s : trace.steps) {
    if (s.location.file == "test.yaml" && s.location.line > 0) located = true;
  }
  EXPECT_TRUE(located) << all;
}

TEST_F(EvaluatorTest, TraceDoesNotChangeTheDecision) {
  Bind("alice", kG1, {"member", "content_creator"});
  Restrict("alice", kY, {"edit"});
  Evaluator ev(*policy_);
  for (EntityRef r : {kG1, kF1, kF2, kX, kY}) {
    for (const char* a : {"view", "edit", "delete", "view_group"}) {
      CheckRequest req;
      req.subject = {"user", "alice"};
      req.action = a;
      req.resource = r;
      req.now = kNow;
      Trace trace;
      Decision plain = ev.Check(req, data_);
      Decision traced = ev.Check(req, data_, &trace);
      EXPECT_EQ(plain.allowed, traced.allowed) << a << " " << r.ToString();
      EXPECT_EQ(plain.reason.code, traced.reason.code)
          << a << " " << r.ToString();
    }
  }
}

TEST_F(EvaluatorTest, GrantedReasonNamesRoleResourceAndLine) {
  Bind("alice", kX, {"content_creator"});
  Decision d = Check("alice", "edit", kX);
  ASSERT_TRUE(d.allowed);
  EXPECT_EQ(Describe(d, "edit"),
            "role content_creator on file:x grants edit (test.yaml:105:7)");
}

TEST_F(EvaluatorTest, RestrictedOutranksAConditionThatIsFalse) {
  // The doc's order of "most telling" deny reasons: restricted, evaluation
  // error, condition false, expired, pending, not granted, no binding.
  Bind("alice", kG1, {"content_creator"});
  Restrict("alice", kX, {"edit"});
  data_.SetAttribute(EntityKind::kResource, "file", "x", "owner",
                     OwnedValue::FromValue(Value::String("bob")));
  Decision d = Check("alice", "edit", kX);
  EXPECT_EQ(d.reason.code, ReasonCode::kRestricted);
  Bind("bob", kG1, {"member"}, BindingState::kPending);
  Bind("bob", kF1, {"member"}, BindingState::kActive, kNow - 1);
  EXPECT_EQ(Check("bob", "view", kX).reason.code, ReasonCode::kBindingExpired);
}

TEST_F(EvaluatorTest, RestrictedOutranksAnEvaluationError) {
  // Regression: the evaluator ranked an evaluation error above a
  // restriction, against the order docs/policy-language.md states.
  // Role a grants delete but is restricted; role b's conditional grant
  // cannot be evaluated (no owner). The restriction is the telling reason.
  PolicyBuilder b;
  b.Subject("user");
  b.Resource("file", {}, {"delete"}, /*restrictable=*/true);
  b.Role("a", {"file"});
  b.Role("b", {"file"});
  b.AddGrant("a", "file", {"delete"});
  b.AddGrant("b", "file", {"delete"},
             AttrEqualsAttr(AttrRoot::kResource, "owner", AttrRoot::kSubject,
                            "id", "resource.owner == subject.id"));
  auto p = b.Build();
  data_.PutResource("file", "solo");
  Bind("carol", {"file", "solo"}, {"a", "b"});
  Restrict("carol", {"file", "solo"}, {"delete"});
  Decision d = Check("carol", "delete", {"file", "solo"}, p.get());
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.reason.code, ReasonCode::kRestricted);
}

// Wraps a MemoryData and fails after a given number of attribute reads.
class FailingView : public DataView {
 public:
  FailingView(const MemoryData& inner, int attribute_reads_before_failure)
      : inner_(inner), left_(attribute_reads_before_failure) {}
  std::optional<ResourceInfo> GetResource(EntityRef r) const override {
    if (failed_) return std::nullopt;
    return inner_.GetResource(r);
  }
  bool SubjectExists(EntityRef s) const override {
    return !failed_ && inner_.SubjectExists(s);
  }
  SubjectAccess GetAccess(EntityRef s, EntityRef r) const override {
    if (failed_) return {};
    return inner_.GetAccess(s, r);
  }
  std::optional<Value> GetAttribute(EntityKind k, EntityRef e,
                                    std::string_view key) const override {
    if (left_-- <= 0) failed_ = true;
    if (failed_) return std::nullopt;
    return inner_.GetAttribute(k, e, key);
  }
  void ForEachChild(EntityRef,
                    const std::function<bool(EntityRef)>&) const override {}
  void ForEachBindingOn(
      EntityRef, const std::function<bool(EntityRef, const StoredBinding&)>&)
      const override {}
  void ForEachBindingOf(
      EntityRef, const std::function<bool(EntityRef, const StoredBinding&)>&)
      const override {}
  void ForEachResourceOfType(
      std::string_view, const std::function<bool(EntityRef)>&) const override {}
  void ForEachSubjectOfType(
      std::string_view, const std::function<bool(EntityRef)>&) const override {}
  bool failed() const override { return failed_; }
  std::string_view failure() const override { return "read failed"; }

 private:
  const MemoryData& inner_;
  mutable int left_;
  mutable bool failed_ = false;
};

TEST_F(EvaluatorTest, FailedStorageNeverAllows) {
  Bind("alice", kG1, {"member"});
  FailingView v(data_, 0);
  v.GetAttribute(EntityKind::kResource, kX, "any");  // the view fails now
  CheckRequest req;
  req.subject = {"user", "alice"};
  req.action = "view";
  req.resource = kX;
  Decision d = Evaluator(*policy_).Check(req, v);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.reason.code, ReasonCode::kStorageError);
}

TEST_F(EvaluatorTest, StorageFailureDuringAConditionDeniesTheWholeCheck) {
  // Regression: a storage failure while evaluating one grant's condition was
  // recorded, but a later unconditional grant still allowed, although the
  // DataView contract says every decision made through a failed view denies.
  PolicyBuilder b;
  b.Subject("user");
  b.Resource("file", {}, {"view"});
  b.Role("conditional", {"file"});
  b.Role("plain", {"file"});
  b.AddGrant("conditional", "file", {"view"},
             AttrEqualsAttr(AttrRoot::kResource, "owner", AttrRoot::kSubject,
                            "id", "resource.owner == subject.id"));
  b.AddGrant("plain", "file", {"view"});
  auto p = b.Build();
  data_.PutResource("file", "solo");
  Bind("alice", {"file", "solo"}, {"conditional", "plain"});
  FailingView v(data_, 0);
  CheckRequest req;
  req.subject = {"user", "alice"};
  req.action = "view";
  req.resource = {"file", "solo"};
  Decision d = Evaluator(*p).Check(req, v);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.reason.code, ReasonCode::kStorageError);
  ActionSet allowed = Evaluator(*p).AllowedActions(req, FailingView(data_, 0));
  EXPECT_TRUE(allowed.empty());
}

TEST(ReasonCodeName, IsSnakeCase) {
  EXPECT_EQ(ReasonCodeName(ReasonCode::kGrantedByRole), "granted_by_role");
  EXPECT_EQ(ReasonCodeName(ReasonCode::kBindingPending), "binding_pending");
  EXPECT_EQ(ReasonCodeName(ReasonCode::kDepthExceeded), "depth_exceeded");
  EXPECT_EQ(ReasonCodeName(ReasonCode::kUnknownAction), "unknown_action");
}

}  // namespace
}  // namespace portcullis::engine
