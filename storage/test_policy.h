// A workspace-shaped engine::Policy built in code, for storage tests and
// benchmarks (the YAML compiler lives in policies/, which storage must not
// depend on).
//
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
#ifndef PORTCULLIS_STORAGE_TEST_POLICY_H_
#define PORTCULLIS_STORAGE_TEST_POLICY_H_

#include <initializer_list>
#include <memory>
#include <string>

#include "engine/policy.h"

namespace portcullis::storage::testing {

inline std::shared_ptr<const engine::Policy> WorkspacePolicy() {
  using namespace engine;
  auto p = std::make_shared<Policy>();
  p->name = "workspace-test";
  p->version = "test";
  const char* action_names[] = {"view",   "manage", "create_group",
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
  type("file", {kGroup, kFolder}, set({"view", "edit", "delete"}), true,
       false);
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

}  // namespace portcullis::storage::testing

#endif  // PORTCULLIS_STORAGE_TEST_POLICY_H_
