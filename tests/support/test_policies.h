// The test policies and data sets of the unit tests, built in code (the
// YAML compiler lives in policies/, which storage's tests must not depend
// on). Header-only; linked by tests as portcullis_test_support.
//
// MakeTestPolicy(): types user (subject), group, file (parent group).
// Actions: view, edit on both. Roles: member (view), editor (view, edit).
// Allow rule: public files (resource.public == true) may be viewed by
// anyone; the condition is built by hand. LoadTestData() writes its data.
//
// WorkspacePolicy(): a workspace-shaped policy:
//   account (root)        actions: view, manage, create_group
//   group   (in account)  actions: view, invite, manage_members
//   folder  (in group or folder)          actions: view, edit
//   file    (in group or folder), restrictable   actions: view, edit, delete
//   user    subject
// Roles: account_administrator (on account: everything below),
// administrator (on group: everything below; exempt from restrictions),
// content_creator (on group, folder, file: view and edit below; on files
// edit only when subject.department is in resource.departments),
// member (on group: view below). Allow rule "public": view on a file whose
// resource.public == true.
//
// Thread safety: plain functions; each returns a new immutable policy.
#ifndef PORTCULLIS_TESTS_SUPPORT_TEST_POLICIES_H_
#define PORTCULLIS_TESTS_SUPPORT_TEST_POLICIES_H_

#include <initializer_list>
#include <memory>
#include <string>

#include "engine/policy.h"
#include "storage/store.h"

namespace portcullis::testing {

inline std::shared_ptr<const engine::Policy> MakeTestPolicy(
    std::string version = "v1") {
  using namespace engine;
  auto p = std::make_shared<Policy>();
  p->name = "test";
  p->version = std::move(version);
  p->source_files = {"test.yaml"};
  p->actions.push_back({"view", {}, {}});
  p->actions.push_back({"edit", {}, {}});
  TypeDef user;
  user.name = "user";
  user.is_subject = true;
  TypeDef group;
  group.name = "group";
  group.actions.Add(0);
  group.actions.Add(1);
  TypeDef file = group;
  file.name = "file";
  file.parents = {1};
  file.restrictable = true;
  p->types = {user, group, file};
  p->actions[0].types.Add(1);
  p->actions[0].types.Add(2);
  p->actions[1].types.Add(1);
  p->actions[1].types.Add(2);
  for (RoleId r = 0; r < 2; ++r) {
    RoleDef role;
    role.name = r == 0 ? "member" : "editor";
    role.bindable_on.Add(1);
    role.bindable_on.Add(2);
    for (TypeId t = 1; t <= 2; ++t) {
      auto g = std::make_unique<Grant>();
      g->role = r;
      g->type = t;
      g->actions.Add(0);
      if (r == 1) g->actions.Add(1);
      g->location = {"test.yaml", 10u + r, 5};
      role.grants.push_back(g.get());
      p->grants.push_back(std::move(g));
    }
    p->roles.push_back(std::move(role));
  }
  Rule rule;
  rule.name = "public_files";
  rule.effect = Effect::kAllow;
  rule.actions.Add(0);
  rule.types.Add(2);
  auto cond = std::make_unique<Condition>();
  ExprNode attr;
  attr.op = ExprOp::kAttr;
  attr.root = AttrRoot::kResource;
  attr.key = cond->InternString("public");
  ExprNode lit;
  lit.op = ExprOp::kLiteral;
  lit.literal = Value::Bool(true);
  const uint32_t a = cond->AddNode(attr);
  const uint32_t l = cond->AddNode(lit);
  ExprNode eq;
  eq.op = ExprOp::kEq;
  eq.child[0] = a;
  eq.child[1] = l;
  cond->set_root(cond->AddNode(eq));
  cond->set_text("resource.public == true");
  rule.when = std::move(cond);
  rule.location = {"test.yaml", 20, 3};
  p->rules.push_back(std::move(rule));
  p->Finalize();
  return p;
}

// MakeTestPolicy's data, written in one transaction (revision 1):
// group g1 with files f1, f2; group g2 with files f3, f4 (f4 public).
// alice: member of g1; bob: editor of f2; carol: pending member of g1.
inline Status LoadTestData(storage::Store* store,
                           const engine::Policy& policy) {
  auto written = store->Write(&policy, "", [](storage::WriteTxn& txn) {
    engine::OwnedValue yes;
    yes.kind = engine::ValueKind::kBool;
    yes.b = true;
    engine::OwnedValue no = yes;
    no.b = false;
    for (const char* g : {"g1", "g2"}) {
      if (Status s = txn.PutResource({"group", g, "", {}}); !s.ok()) return s;
    }
    const char* files[][2] = {
        {"f1", "g1"}, {"f2", "g1"}, {"f3", "g2"}, {"f4", "g2"}};
    for (const auto& [file, group] : files) {
      storage::ResourceRecord r{
          "file", file, std::string("group:") + group, {}};
      r.attributes["public"] = std::string(file) == "f4" ? yes : no;
      if (Status s = txn.PutResource(r); !s.ok()) return s;
    }
    for (const char* u : {"alice", "bob", "carol"}) {
      if (Status s = txn.PutSubject({"user", u, {}}); !s.ok()) return s;
    }
    storage::BindingRecord alice, bob, carol;
    alice.subject = "user:alice";
    alice.resource = "group:g1";
    alice.roles = {"member"};
    bob.subject = "user:bob";
    bob.resource = "file:f2";
    bob.roles = {"editor"};
    carol = alice;
    carol.subject = "user:carol";
    carol.state = engine::BindingState::kPending;
    for (const auto* b : {&alice, &bob, &carol}) {
      if (Status s = txn.SetBinding(*b); !s.ok()) return s;
    }
    return Status::Ok();
  });
  return written ? Status::Ok() : written.error();
}

inline std::shared_ptr<const engine::Policy> WorkspacePolicy() {
  using namespace engine;
  auto p = std::make_shared<Policy>();
  p->name = "workspace-test";
  p->version = "test";
  const char* action_names[] = {"view",   "manage",         "create_group",
                                "invite", "manage_members", "edit",
                                "delete"};
  for (const char* a : action_names) p->actions.push_back(ActionDef{a, {}, {}});
  auto action = [&](const std::string& n) -> ActionId {
    for (size_t i = 0; i < p->actions.size(); ++i) {
      if (p->actions[i].name == n) return static_cast<ActionId>(i);
    }
    return kNoAction;
  };
  auto set = [&](std::initializer_list<const char*> names) {
    ActionSet s;
    for (const char* n : names) s.Add(action(n));
    return s;
  };
  enum : TypeId { kAccount, kGroup, kFolder, kFile, kUser };
  auto type = [&](const char* name, std::initializer_list<TypeId> parents,
                  ActionSet actions, bool restrictable, bool subject) {
    TypeDef t;
    t.name = name;
    t.parents = parents;
    t.actions = actions;
    t.restrictable = restrictable;
    t.is_subject = subject;
    p->types.push_back(std::move(t));
  };
  type("account", {}, set({"view", "manage", "create_group"}), false, false);
  type("group", {kAccount}, set({"view", "invite", "manage_members"}), false,
       false);
  type("folder", {kGroup, kFolder}, set({"view", "edit"}), false, false);
  type("file", {kGroup, kFolder}, set({"view", "edit", "delete"}), true, false);
  type("user", {}, ActionSet(), false, true);
  for (size_t t = 0; t < p->types.size(); ++t) {
    p->types[t].actions.ForEach(
        [&](ActionId a) { p->actions[a].types.Add(static_cast<TypeId>(t)); });
  }

  auto role = [&](const char* name, std::initializer_list<TypeId> on,
                  bool exempt) {
    RoleDef r;
    r.name = name;
    for (TypeId t : on) r.bindable_on.Add(t);
    r.exempt_from_restrictions = exempt;
    p->roles.push_back(std::move(r));
    return static_cast<RoleId>(p->roles.size() - 1);
  };
  auto grant = [&](RoleId r, TypeId t, ActionSet actions,
                   std::unique_ptr<Condition> when = nullptr) {
    auto g = std::make_unique<Grant>();
    g->role = r;
    g->type = t;
    g->actions = actions;
    g->when = std::move(when);
    p->roles[r].grants.push_back(g.get());
    p->grants.push_back(std::move(g));
  };
  const RoleId account_admin = role("account_administrator", {kAccount}, true);
  grant(account_admin, kAccount, set({"view", "manage", "create_group"}));
  grant(account_admin, kGroup, set({"view", "invite", "manage_members"}));
  grant(account_admin, kFolder, set({"view", "edit"}));
  grant(account_admin, kFile, set({"view", "edit", "delete"}));
  const RoleId admin = role("administrator", {kGroup}, true);
  grant(admin, kGroup, set({"view", "invite", "manage_members"}));
  grant(admin, kFolder, set({"view", "edit"}));
  grant(admin, kFile, set({"view", "edit", "delete"}));
  const RoleId creator =
      role("content_creator", {kGroup, kFolder, kFile}, false);
  grant(creator, kGroup, set({"view"}));
  grant(creator, kFolder, set({"view", "edit"}));
  grant(creator, kFile, set({"view"}));
  {
    // subject.department in resource.departments
    auto c = std::make_unique<Condition>();
    ExprNode lhs;
    lhs.op = ExprOp::kAttr;
    lhs.root = AttrRoot::kSubject;
    lhs.key = c->InternString("department");
    ExprNode rhs;
    rhs.op = ExprOp::kAttr;
    rhs.root = AttrRoot::kResource;
    rhs.key = c->InternString("departments");
    const uint32_t l = c->AddNode(std::move(lhs));
    const uint32_t r = c->AddNode(std::move(rhs));
    ExprNode in;
    in.op = ExprOp::kIn;
    in.child[0] = l;
    in.child[1] = r;
    c->set_root(c->AddNode(std::move(in)));
    c->set_text("subject.department in resource.departments");
    grant(creator, kFile, set({"edit"}), std::move(c));
  }
  const RoleId member = role("member", {kGroup}, false);
  grant(member, kGroup, set({"view"}));
  grant(member, kFolder, set({"view"}));
  grant(member, kFile, set({"view"}));

  {
    Rule rule;
    rule.name = "public";
    rule.effect = Effect::kAllow;
    rule.actions = set({"view"});
    rule.types.Add(kFile);
    auto c = std::make_unique<Condition>();
    ExprNode attr;
    attr.op = ExprOp::kAttr;
    attr.root = AttrRoot::kResource;
    attr.key = c->InternString("public");
    ExprNode lit;
    lit.op = ExprOp::kLiteral;
    lit.literal = Value::Bool(true);
    const uint32_t a = c->AddNode(std::move(attr));
    const uint32_t b = c->AddNode(std::move(lit));
    ExprNode eq;
    eq.op = ExprOp::kEq;
    eq.child[0] = a;
    eq.child[1] = b;
    c->set_root(c->AddNode(std::move(eq)));
    c->set_text("resource.public == true");
    rule.when = std::move(c);
    p->rules.push_back(std::move(rule));
  }
  p->Finalize();
  return p;
}

}  // namespace portcullis::testing

#endif  // PORTCULLIS_TESTS_SUPPORT_TEST_POLICIES_H_
