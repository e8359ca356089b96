// A small programmatic policy and data set for the server's tests (not
// compiled into the library).
//
// Types: user (subject), group, file (parent group). Actions: view, edit on
// both. Roles: member (view), editor (view, edit). Allow rule: public files
// (resource.public == true) may be viewed by anyone; the condition is built
// by hand.
#ifndef PORTCULLIS_SERVER_TEST_POLICY_H_
#define PORTCULLIS_SERVER_TEST_POLICY_H_

#include <memory>

#include "engine/memory_data.h"
#include "engine/policy.h"

namespace portcullis::server::testing {

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

// group g1 with files f1, f2; group g2 with file f3; f4 public in g2.
// alice: member of g1; bob: editor of f2; carol: pending member of g1.
inline void FillTestData(engine::MemoryData* d) {
  using engine::EntityKind;
  using engine::OwnedValue;
  d->PutResource("group", "g1");
  d->PutResource("group", "g2");
  d->PutResource("file", "f1", "group", "g1");
  d->PutResource("file", "f2", "group", "g1");
  d->PutResource("file", "f3", "group", "g2");
  d->PutResource("file", "f4", "group", "g2");
  OwnedValue yes;
  yes.kind = engine::ValueKind::kBool;
  yes.b = true;
  d->SetAttribute(EntityKind::kResource, "file", "f4", "public", yes);
  OwnedValue no = yes;
  no.b = false;
  for (const char* f : {"f1", "f2", "f3"}) {
    d->SetAttribute(EntityKind::kResource, "file", f, "public", no);
  }
  d->PutSubject("user", "alice");
  d->PutSubject("user", "bob");
  d->PutSubject("user", "carol");
  d->SetBinding({"user", "alice"}, {"group", "g1"}, {"member"});
  d->SetBinding({"user", "bob"}, {"file", "f2"}, {"editor"});
  d->SetBinding({"user", "carol"}, {"group", "g1"}, {"member"},
                engine::BindingState::kPending);
}

}  // namespace portcullis::server::testing

#endif  // PORTCULLIS_SERVER_TEST_POLICY_H_
