#include "storage/store.h"

#include <gtest/gtest.h>
#include <lmdb.h>
#include <unistd.h>

#include <filesystem>

#include "storage/layout.h"
#include "storage/store_internal.h"
#include "tests/support/test_policies.h"

namespace portcullis::storage {
namespace {

using engine::EntityRef;
using engine::OwnedValue;

std::string TempDir(const std::string& name) {
  std::string dir = std::filesystem::temp_directory_path() /
                    ("portcullis_storage_" + name + "_" +
                     std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  return dir;
}

EntityRef R(std::string_view ref) { return *engine::ParseEntityRef(ref); }

OwnedValue Str(std::string s) {
  OwnedValue v;
  v.kind = engine::ValueKind::kString;
  v.s = std::move(s);
  return v;
}

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TempDir(::testing::UnitTest::GetInstance()
                       ->current_test_info()
                       ->name());
    auto s = Store::Open(dir_);
    ASSERT_TRUE(s) << s.error().ToString();
    store_ = std::move(*s);
    policy_ = testing::WorkspacePolicy();
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  // Runs one write with the workspace policy; returns its status.
  Status Do(const std::function<Status(WriteTxn&)>& fn,
            std::string_view actor = "user:admin") {
    auto r = store_->Write(policy_.get(), actor, fn);
    return r ? Status::Ok() : r.error();
  }
  Status PutResource(std::string type, std::string id, std::string parent) {
    return Do([&](WriteTxn& w) {
      return w.PutResource(ResourceRecord{type, id, parent, {}});
    });
  }
  Status Bind(std::string subject, std::string resource,
              std::vector<std::string> roles) {
    return Do([&](WriteTxn& w) {
      BindingRecord b;
      b.subject = subject;
      b.resource = resource;
      b.roles = roles;
      return w.SetBinding(b);
    });
  }
  void Seed() {
    ASSERT_TRUE(PutResource("account", "acme", "").ok());
    ASSERT_TRUE(PutResource("group", "g1", "account:acme").ok());
    ASSERT_TRUE(PutResource("folder", "f1", "group:g1").ok());
    ASSERT_TRUE(PutResource("folder", "f2", "folder:f1").ok());
    ASSERT_TRUE(PutResource("file", "x", "folder:f2").ok());
    ASSERT_TRUE(PutResource("file", "y", "group:g1").ok());
  }
  std::vector<std::string> Problems() {
    auto p = store_->Verify();
    EXPECT_TRUE(p) << p.error().ToString();
    return p ? *p : std::vector<std::string>{"verify failed"};
  }

  std::string dir_;
  std::unique_ptr<Store> store_;
  std::shared_ptr<const engine::Policy> policy_;
};

TEST_F(StoreTest, ResourceRecordsAndIndexes) {
  Seed();
  ResourceRecord rec{"file", "z", "folder:f1", {}};
  rec.attributes["owner"] = Str("alice");
  OwnedValue list;
  list.kind = engine::ValueKind::kList;
  list.list = {Str("eng"), Str("ops")};
  rec.attributes["departments"] = list;
  ASSERT_TRUE(Do([&](WriteTxn& w) { return w.PutResource(rec); }).ok());

  auto view = store_->Read();
  ASSERT_TRUE(view);
  auto got = view->GetResourceRecord(R("file:z"));
  ASSERT_TRUE(got);
  EXPECT_EQ(got->parent, "folder:f1");
  EXPECT_EQ(got->attributes.at("owner").s, "alice");
  auto info = view->GetResource(R("file:z"));
  ASSERT_TRUE(info);
  EXPECT_EQ(info->parent.ToString(), "folder:f1");
  EXPECT_FALSE(view->GetResource(R("file:nope")));
  EXPECT_TRUE(view->GetResource(R("account:acme"))->parent.empty());

  auto owner = view->GetAttribute(engine::EntityKind::kResource, R("file:z"),
                                  "owner");
  ASSERT_TRUE(owner);
  EXPECT_EQ(owner->s, "alice");
  auto depts = view->GetAttribute(engine::EntityKind::kResource, R("file:z"),
                                  "departments");
  ASSERT_TRUE(depts);
  ASSERT_EQ(depts->list.size(), 2u);
  EXPECT_EQ(depts->list[1].s, "ops");
  EXPECT_FALSE(view->GetAttribute(engine::EntityKind::kResource, R("file:z"),
                                  "missing"));

  std::vector<std::string> children;
  view->ForEachChild(R("folder:f1"), [&](EntityRef c) {
    children.push_back(c.ToString());
    return true;
  });
  EXPECT_EQ(children, (std::vector<std::string>{"file:z", "folder:f2"}));
  std::vector<std::string> files;
  view->ForEachResourceOfType("file", [&](EntityRef c) {
    files.push_back(c.ToString());
    return true;
  });
  EXPECT_EQ(files, (std::vector<std::string>{"file:x", "file:y", "file:z"}));
  EXPECT_FALSE(view->failed());
  EXPECT_TRUE(Problems().empty());
}

TEST_F(StoreTest, ReferentialRules) {
  Seed();
  // Unknown type, subject type as resource, root type with a parent,
  // missing parent, wrong parent type.
  EXPECT_EQ(PutResource("drive", "d", "").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(PutResource("user", "u", "").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(PutResource("account", "b", "account:acme").code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(PutResource("folder", "n", "").code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(PutResource("folder", "n", "folder:nope").code(),
            StatusCode::kNotFound);
  Status s = PutResource("folder", "n", "account:acme");
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("allowed parents: group, folder"),
            std::string::npos)
      << s.message();
  EXPECT_EQ(PutResource("file", "bad", "not-a-ref").code(),
            StatusCode::kInvalidArgument);

  // Roles: unknown, not bindable on the type; subject type not a subject.
  EXPECT_EQ(Bind("user:a", "group:g1", {"owner"}).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(Bind("user:a", "file:x", {"member"}).code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(Bind("group:g1", "group:g1", {"member"}).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(Bind("user:a", "group:nope", {"member"}).code(),
            StatusCode::kNotFound);
  EXPECT_EQ(Bind("user:a", "group:g1", {"member", "member"}).code(),
            StatusCode::kInvalidArgument);

  // Restrictions: only on restrictable types, only the type's actions or *.
  auto restrict = [&](std::string res, std::vector<std::string> actions) {
    return Do([&](WriteTxn& w) {
      return w.SetRestriction(RestrictionRecord{"user:a", res, actions});
    });
  };
  EXPECT_EQ(restrict("folder:f1", {"view"}).code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(restrict("file:x", {"invite"}).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(restrict("file:x", {"*", "view"}).code(),
            StatusCode::kInvalidArgument);
  EXPECT_TRUE(restrict("file:x", {"*"}).ok());
  EXPECT_TRUE(restrict("file:x", {"edit", "view"}).ok());
  EXPECT_TRUE(Problems().empty());
}

TEST_F(StoreTest, RejectedWriteChangesNothing) {
  Seed();
  const Revision before = store_->revision();
  Status s = Do([&](WriteTxn& w) {
    Status a = w.PutResource(ResourceRecord{"folder", "ok", "group:g1", {}});
    if (!a.ok()) return a;
    BindingRecord b;
    b.subject = "user:a";
    b.resource = "folder:ok";
    b.roles = {"member"};  // not bindable on folder: the write fails
    return w.SetBinding(b);
  });
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(store_->revision(), before);
  auto view = store_->Read();
  EXPECT_FALSE(view->GetResource(R("folder:ok")));
}

TEST_F(StoreTest, BindingsAndRestrictionsZeroCopy) {
  Seed();
  ASSERT_TRUE(Do([&](WriteTxn& w) {
                BindingRecord b;
                b.subject = "user:alice";
                b.resource = "group:g1";
                b.roles = {"member", "content_creator"};
                b.state = engine::BindingState::kPending;
                b.expires_at = 5000000;
                b.created_by = "user:admin";
                b.created_at = 1000000;
                Status s = w.SetBinding(b);
                if (!s.ok()) return s;
                return w.SetRestriction(
                    RestrictionRecord{"user:alice", "file:x", {"edit"}});
              }).ok());
  auto view = store_->Read();
  EXPECT_TRUE(view->SubjectExists(R("user:alice")));
  EXPECT_FALSE(view->SubjectExists(R("user:nobody")));
  auto a = view->GetAccess(R("user:alice"), R("group:g1"));
  ASSERT_TRUE(a.binding);
  EXPECT_FALSE(a.restriction);
  EXPECT_EQ(a.binding->roles.packed(),
            std::string_view("member\0content_creator", 22));
  EXPECT_EQ(a.binding->state, engine::BindingState::kPending);
  EXPECT_EQ(a.binding->expires_at, 5000000);
  auto r = view->GetAccess(R("user:alice"), R("file:x"));
  EXPECT_FALSE(r.binding);
  ASSERT_TRUE(r.restriction);
  EXPECT_EQ(r.restriction->actions.packed(), "edit");
  auto rec = view->GetAccessRecord(R("user:alice"), R("group:g1"));
  ASSERT_TRUE(rec && rec->binding);
  EXPECT_EQ(rec->binding->created_by, "user:admin");
  EXPECT_EQ(rec->binding->created_at, 1000000);

  int on = 0, of = 0;
  view->ForEachBindingOn(R("group:g1"), [&](EntityRef s,
                                            const engine::StoredBinding&) {
    EXPECT_EQ(s.ToString(), "user:alice");
    ++on;
    return true;
  });
  view->ForEachBindingOf(R("user:alice"), [&](EntityRef res,
                                              const engine::StoredBinding&) {
    EXPECT_EQ(res.ToString(), "group:g1");  // the restriction is not listed
    ++of;
    return true;
  });
  EXPECT_EQ(on, 1);
  EXPECT_EQ(of, 1);
  view = store_->Read();

  // Removing the binding keeps the restriction, and vice versa.
  ASSERT_TRUE(Bind("user:alice", "group:g1", {}).ok());
  view = store_->Read();
  EXPECT_FALSE(view->GetAccess(R("user:alice"), R("group:g1")).binding);
  EXPECT_FALSE(view->GetAccessRecord(R("user:alice"), R("group:g1")));
  EXPECT_TRUE(view->GetAccess(R("user:alice"), R("file:x")).restriction);
  EXPECT_TRUE(Problems().empty());
}

// A read view answers GetAccess from the subject's records read in one
// cursor range (up to 32 of them) and record by record beyond that; the
// answers are the same either way, follow the subject asked about, and
// never outlive the snapshot: a reused or refreshed view sees later writes.
TEST_F(StoreTest, SubjectAccessIsReadOnceAndFollowsSnapshots) {
  Seed();
  auto bind = [](std::string subject, std::string resource, std::string role) {
    BindingRecord b;
    b.subject = std::move(subject);
    b.resource = std::move(resource);
    b.roles = {std::move(role)};
    return b;
  };
  ASSERT_TRUE(Do([&](WriteTxn& w) {
                for (int i = 0; i < 40; ++i) {
                  const std::string id = "m" + std::to_string(i);
                  Status s = w.PutResource({"file", id, "group:g1", {}});
                  if (!s.ok()) return s;
                  s = i % 2 == 0 ? w.SetBinding(bind("user:alice",
                                                     "file:" + id,
                                                     "content_creator"))
                                 : w.SetRestriction(RestrictionRecord{
                                       "user:alice", "file:" + id, {"edit"}});
                  if (!s.ok()) return s;
                }
                return w.SetBinding(bind("user:bob", "group:g1", "member"));
              }).ok());
  {
    auto view = store_->Read();
    ASSERT_TRUE(view);
    for (int round = 0; round < 2; ++round) {
      for (int i = 0; i < 40; ++i) {
        const std::string file = "file:m" + std::to_string(i);
        auto a = view->GetAccess(R("user:alice"), R(file));
        EXPECT_EQ(a.binding.has_value(), i % 2 == 0) << file;
        EXPECT_EQ(a.restriction.has_value(), i % 2 == 1) << file;
        // Another subject in between: the cache follows the subject.
        auto b = view->GetAccess(R("user:bob"), R(file));
        EXPECT_FALSE(b.binding || b.restriction) << file;
      }
      auto g = view->GetAccess(R("user:bob"), R("group:g1"));
      ASSERT_TRUE(g.binding);
      EXPECT_EQ(g.binding->roles.packed(), "member");
      EXPECT_FALSE(view->GetAccess(R("user:alice"), R("group:g1")).binding);
    }
  }
  // Nested children listings (the inner one cannot use the view's kept
  // cursor) list the same children.
  {
    auto view = store_->Read();
    std::vector<std::string> outer, inner;
    view->ForEachChild(R("group:g1"), [&](EntityRef c) {
      outer.push_back(c.ToString());
      view->ForEachChild(R("folder:f1"), [&](EntityRef d) {
        inner.push_back(d.ToString());
        return true;
      });
      return true;
    });
    EXPECT_EQ(outer.size(), 42u);  // f1, y, m0..m39
    EXPECT_EQ(inner.size(), 42u * 1);  // f2, once per outer child
  }
  auto held = store_->Read();  // a snapshot from before the next write
  EXPECT_FALSE(held->GetAccess(R("user:bob"), R("file:y")).binding);
  ASSERT_TRUE(Do([&](WriteTxn& w) {
                return w.SetBinding(
                    bind("user:bob", "file:y", "content_creator"));
              }).ok());
  EXPECT_FALSE(held->GetAccess(R("user:bob"), R("file:y")).binding);
  ASSERT_TRUE(held->Refresh().ok());
  EXPECT_TRUE(held->GetAccess(R("user:bob"), R("file:y")).binding);
  { storage::ReadView done = std::move(*held); }
  for (int i = 0; i < 3; ++i) {  // views reusing released transactions
    auto view = store_->Read();
    EXPECT_TRUE(view->GetAccess(R("user:bob"), R("file:y")).binding);
    EXPECT_TRUE(view->GetAccess(R("user:bob"), R("group:g1")).binding);
  }
}

TEST_F(StoreTest, PaginationWithStableCursor) {
  Seed();
  for (int i = 0; i < 25; ++i) {
    char id[8];
    std::snprintf(id, sizeof id, "u%02d", i);
    ASSERT_TRUE(Bind(std::string("user:") + id, "group:g1", {"member"}).ok());
  }
  auto view = store_->Read();
  std::vector<std::string> seen;
  std::string cursor;
  int pages = 0;
  do {
    auto page = view->ListAccessOn(R("group:g1"), cursor, 10);
    ASSERT_TRUE(page) << page.error().ToString();
    for (const AccessRecord& a : page->items) seen.push_back(a.subject);
    cursor = page->next_cursor;
    ++pages;
  } while (!cursor.empty());
  EXPECT_EQ(pages, 3);
  ASSERT_EQ(seen.size(), 25u);
  EXPECT_EQ(seen.front(), "user:u00");
  EXPECT_EQ(seen.back(), "user:u24");

  // A cursor stays valid when the record it names is deleted meanwhile.
  auto first = view->ListSubjectsOfType("user", "", 5);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->items.back(), "u04");
  ASSERT_TRUE(Do([&](WriteTxn& w) {
                return w.DeleteSubject(R("user:u04"));
              }).ok());
  view = store_->Read();
  auto next = view->ListSubjectsOfType("user", first->next_cursor, 5);
  ASSERT_TRUE(next);
  EXPECT_EQ(next->items.front(), "u05");

  auto of = view->ListAccessOf(R("user:u07"), "", 10);
  ASSERT_TRUE(of);
  ASSERT_EQ(of->items.size(), 1u);
  EXPECT_EQ(of->items[0].resource, "group:g1");
  EXPECT_TRUE(of->next_cursor.empty());
  auto kids = view->ListChildren(R("group:g1"), "", 1);
  ASSERT_TRUE(kids);
  EXPECT_EQ(kids->items, std::vector<std::string>{"file:y"});
  auto kids2 = view->ListChildren(R("group:g1"), kids->next_cursor, 1);
  EXPECT_EQ(kids2->items, std::vector<std::string>{"folder:f1"});
  EXPECT_TRUE(kids2->next_cursor.empty());
  EXPECT_EQ(view->ListChildren(R("group:g1"), "", 0).error().code(),
            StatusCode::kInvalidArgument);
  EXPECT_TRUE(Problems().empty());
}

TEST_F(StoreTest, SubtreeDeleteRemovesEverythingAttached) {
  Seed();
  ASSERT_TRUE(Bind("user:a", "group:g1", {"member"}).ok());
  ASSERT_TRUE(Bind("user:b", "folder:f2", {"content_creator"}).ok());
  ASSERT_TRUE(Bind("user:b", "file:x", {"content_creator"}).ok());
  ASSERT_TRUE(Do([&](WriteTxn& w) {
                Invitation inv;
                inv.resource = "group:g1";
                inv.invitee = "email:c@example.com";
                inv.roles = {"member"};
                Status s = w.CreateInvitation(&inv);
                if (!s.ok()) return s;
                return w.SetRestriction(
                    RestrictionRecord{"user:a", "file:x", {"*"}});
              }).ok());
  ASSERT_TRUE(PutResource("group", "g2", "account:acme").ok());
  ASSERT_TRUE(Bind("user:a", "group:g2", {"member"}).ok());

  ASSERT_TRUE(Do([&](WriteTxn& w) {
                return w.DeleteResource(R("group:g1"));
              }).ok());
  auto view = store_->Read();
  for (const char* r : {"group:g1", "folder:f1", "folder:f2", "file:x",
                        "file:y"}) {
    EXPECT_FALSE(view->GetResource(R(r))) << r;
  }
  EXPECT_TRUE(view->GetResource(R("group:g2")));
  EXPECT_TRUE(view->GetAccess(R("user:a"), R("group:g2")).binding);
  auto of_a = view->ListAccessOf(R("user:a"), "", 100);
  ASSERT_EQ(of_a->items.size(), 1u);
  EXPECT_TRUE(view->ListAccessOf(R("user:b"), "", 100)->items.empty());
  EXPECT_TRUE(view->ListInvitationsFor(R("email:c@example.com"), std::nullopt,
                                       "", 100)
                  ->items.empty());
  auto kids = view->ListChildren(R("account:acme"), "", 100);
  EXPECT_EQ(kids->items, std::vector<std::string>{"group:g2"});
  EXPECT_TRUE(view->ListResourcesOfType("file", "", 100)->items.empty());
  EXPECT_EQ(Do([&](WriteTxn& w) {
              return w.DeleteResource(R("group:g1"));
            }).code(),
            StatusCode::kNotFound);
  EXPECT_TRUE(Problems().empty());
}

TEST_F(StoreTest, MoveIsOneWriteAndRefusesCycles) {
  Seed();
  ASSERT_TRUE(PutResource("group", "g2", "account:acme").ok());
  const Revision before = store_->revision();
  ASSERT_TRUE(Do([&](WriteTxn& w) {
                return w.MoveResource(R("folder:f2"), R("group:g2"));
              }).ok());
  EXPECT_EQ(store_->revision(), before + 1);
  auto view = store_->Read();
  EXPECT_EQ(view->GetResource(R("folder:f2"))->parent.ToString(), "group:g2");
  EXPECT_EQ(view->ListChildren(R("folder:f1"), "", 10)->items.size(), 0u);
  // Moving f1 under its own descendant f3 is a cycle.
  ASSERT_TRUE(PutResource("folder", "f3", "folder:f1").ok());
  Status s = Do([&](WriteTxn& w) {
    return w.MoveResource(R("folder:f1"), R("folder:f3"));
  });
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("cycle"), std::string::npos);
  EXPECT_EQ(Do([&](WriteTxn& w) {
              return w.MoveResource(R("folder:f1"), R("folder:f1"));
            }).code(),
            StatusCode::kFailedPrecondition);
  // PutResource with a new parent is a move too, and refuses cycles.
  EXPECT_EQ(PutResource("folder", "f1", "folder:f3").code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(Do([&](WriteTxn& w) {
              return w.MoveResource(R("folder:f1"), R("account:acme"));
            }).code(),
            StatusCode::kFailedPrecondition);
  EXPECT_TRUE(Problems().empty());
}

TEST_F(StoreTest, SubjectsWithAttributes) {
  SubjectRecord s{"user", "alice", {}};
  s.attributes["email"] = Str("alice@example.com");
  OwnedValue n;
  n.kind = engine::ValueKind::kInt;
  n.i = -42;
  s.attributes["level"] = n;
  ASSERT_TRUE(Do([&](WriteTxn& w) { return w.PutSubject(s); }).ok());
  EXPECT_EQ(Do([&](WriteTxn& w) {
              return w.PutSubject(SubjectRecord{"file", "x", {}});
            }).code(),
            StatusCode::kInvalidArgument);
  auto view = store_->Read();
  auto got = view->GetSubjectRecord(R("user:alice"));
  ASSERT_TRUE(got);
  EXPECT_EQ(got->attributes.size(), 2u);
  auto level = view->GetAttribute(engine::EntityKind::kSubject,
                                  R("user:alice"), "level");
  ASSERT_TRUE(level);
  EXPECT_EQ(level->i, -42);
  EXPECT_EQ(Do([&](WriteTxn& w) {
              return w.DeleteSubject(R("user:nobody"));
            }).code(),
            StatusCode::kNotFound);
}

TEST_F(StoreTest, Invitations) {
  Seed();
  std::vector<std::string> ids;
  for (const char* invitee : {"email:a@x.io", "user:bob", "email:c@x.io"}) {
    ASSERT_TRUE(Do([&](WriteTxn& w) {
                  Invitation inv;
                  inv.resource = "group:g1";
                  inv.invitee = invitee;
                  inv.roles = {"member", "content_creator"};
                  inv.inviter = "user:admin";
                  inv.message = "join us";
                  inv.created_at = 1;
                  inv.expires_at = 2;
                  Status s = w.CreateInvitation(&inv);
                  ids.push_back(inv.id);
                  return s;
                }).ok());
  }
  EXPECT_EQ(ids[0].size(), 32u);
  EXPECT_NE(ids[0], ids[1]);
  // Duplicate id, unknown role, missing resource.
  EXPECT_EQ(Do([&](WriteTxn& w) {
              Invitation inv;
              inv.id = ids[0];
              inv.resource = "group:g1";
              inv.invitee = "user:z";
              inv.roles = {"member"};
              return w.CreateInvitation(&inv);
            }).code(),
            StatusCode::kAlreadyExists);
  EXPECT_EQ(Do([&](WriteTxn& w) {
              Invitation inv;
              inv.resource = "group:g1";
              inv.invitee = "user:z";
              inv.roles = {"boss"};
              return w.CreateInvitation(&inv);
            }).code(),
            StatusCode::kInvalidArgument);
  ASSERT_TRUE(Do([&](WriteTxn& w) {
                return w.SetInvitationState(ids[1], InvitationState::kAccepted);
              }).ok());
  EXPECT_EQ(Do([&](WriteTxn& w) {
              return w.SetInvitationState("nope", InvitationState::kRevoked);
            }).code(),
            StatusCode::kNotFound);

  auto view = store_->Read();
  auto inv = view->GetInvitation(ids[1]);
  ASSERT_TRUE(inv);
  EXPECT_EQ(inv->state, InvitationState::kAccepted);
  EXPECT_EQ(inv->message, "join us");
  EXPECT_EQ(inv->roles, (std::vector<std::string>{"member", "content_creator"}));
  auto pending = view->ListInvitationsOn(R("group:g1"),
                                         InvitationState::kPending, "", 100);
  ASSERT_TRUE(pending);
  EXPECT_EQ(pending->items.size(), 2u);
  auto all = view->ListInvitationsOn(R("group:g1"), std::nullopt, "", 2);
  EXPECT_EQ(all->items.size(), 2u);
  EXPECT_FALSE(all->next_cursor.empty());
  auto rest = view->ListInvitationsOn(R("group:g1"), std::nullopt,
                                      all->next_cursor, 2);
  EXPECT_EQ(rest->items.size(), 1u);
  EXPECT_TRUE(rest->next_cursor.empty());
  auto bob = view->ListInvitationsFor(R("user:bob"), std::nullopt, "", 10);
  ASSERT_EQ(bob->items.size(), 1u);
  EXPECT_EQ(bob->items[0].id, ids[1]);
  EXPECT_TRUE(view->SubjectExists(R("email:a@x.io")));
  EXPECT_EQ(ParseInvitationState("revoked"), InvitationState::kRevoked);
  EXPECT_FALSE(ParseInvitationState("bogus"));
  EXPECT_TRUE(Problems().empty());
}

TEST_F(StoreTest, RevisionsIncreaseAndChangelogNamesTheActor) {
  Revision last = store_->revision();
  EXPECT_EQ(last, 0u);
  for (int i = 0; i < 5; ++i) {
    auto rev = store_->Write(policy_.get(), "user:alice", [&](WriteTxn& w) {
      return w.PutResource(
          ResourceRecord{"account", "a" + std::to_string(i), "", {}});
    });
    ASSERT_TRUE(rev);
    EXPECT_EQ(*rev, last + 1);
    last = *rev;
  }
  auto view = store_->Read();
  EXPECT_EQ(view->revision(), 5u);
  auto changes = view->Changes(2, 100);
  ASSERT_TRUE(changes);
  ASSERT_EQ(changes->size(), 3u);
  EXPECT_EQ((*changes)[0].revision, 3u);
  EXPECT_EQ((*changes)[0].actor, "user:alice");
  ASSERT_EQ((*changes)[0].changes.size(), 1u);
  EXPECT_EQ((*changes)[0].changes[0].op, "resource.put");
  EXPECT_EQ((*changes)[0].changes[0].entity, "account:a2");
  EXPECT_GT((*changes)[0].time, 0);
  EXPECT_EQ(view->Changes(5, 10)->size(), 0u);
  EXPECT_EQ(view->Changes(0, 2)->size(), 2u);
  EXPECT_EQ(store_->Write(policy_.get(), "not an actor",
                          [](WriteTxn&) { return Status::Ok(); })
                .error()
                .code(),
            StatusCode::kInvalidArgument);
}

TEST(StoreRetention, OldChangesAreCompacted) {
  const std::string dir = TempDir("retention");
  StoreOptions opts;
  opts.changelog_retention = 3;
  opts.max_changes_per_entry = 2;
  auto store = Store::Open(dir, opts);
  ASSERT_TRUE(store);
  for (int i = 0; i < 6; ++i) {
    ASSERT_TRUE((*store)->Write(nullptr, {}, [&](WriteTxn& w) {
      return w.PutResource(
          ResourceRecord{"account", "a" + std::to_string(i), "", {}});
    }));
  }
  // Retention 3 after revision 6 keeps 4, 5, 6.
  {
    auto view = (*store)->Read();
    EXPECT_EQ(view->OldestChange(), 4u);
    EXPECT_EQ(view->Changes(3, 10)->size(), 3u);
    auto gone = view->Changes(1, 10);
    ASSERT_FALSE(gone);
    EXPECT_EQ(gone.error().code(), StatusCode::kGone);
  }
  // A large transaction is recorded truncated with its full count.
  auto rev = (*store)->Write(nullptr, "user:x", [&](WriteTxn& w) {
    for (int i = 0; i < 5; ++i) {
      Status s = w.PutResource(
          ResourceRecord{"account", "b" + std::to_string(i), "", {}});
      if (!s.ok()) return s;
    }
    return Status::Ok();
  });
  ASSERT_TRUE(rev);
  auto view = (*store)->Read();
  auto entries = view->Changes(*rev - 1, 10);
  ASSERT_TRUE(entries);
  ASSERT_EQ(entries->size(), 1u);
  EXPECT_TRUE((*entries)[0].truncated);
  EXPECT_EQ((*entries)[0].change_count, 5u);
  EXPECT_EQ((*entries)[0].changes.size(), 2u);
  { ReadView done = std::move(*view); }  // ends the snapshot
  auto oldest = (*store)->CompactChangelog(*rev);
  ASSERT_TRUE(oldest);
  EXPECT_EQ(*oldest, *rev + 1);  // only the compaction's own entry remains
  store->reset();
  std::filesystem::remove_all(dir);
}

TEST(StoreMap, GrowsWhenFull) {
  const std::string dir = TempDir("grow");
  StoreOptions opts;
  opts.map_size = 256 << 10;  // 256 KiB: full after a few hundred records
  auto store = Store::Open(dir, opts);
  ASSERT_TRUE(store) << store.error().ToString();
  const uint64_t initial = (*store)->GetStats()->map_size;
  const std::string big(2000, 'x');
  for (int batch = 0; batch < 10; ++batch) {
    auto rev = (*store)->Write(nullptr, {}, [&](WriteTxn& w) {
      for (int i = 0; i < 100; ++i) {
        ResourceRecord r{"account", std::to_string(batch * 100 + i), "", {}};
        r.attributes["blob"] = Str(big);
        Status s = w.PutResource(r);
        if (!s.ok()) return s;
      }
      return Status::Ok();
    });
    ASSERT_TRUE(rev) << rev.error().ToString();
  }
  auto stats = (*store)->GetStats();
  EXPECT_GT(stats->map_size, initial);
  EXPECT_EQ(stats->resources, 1000u);
  EXPECT_EQ((*store)->revision(), 10u);
  store->reset();
  // Reopening with the small configured size adopts the larger file.
  auto again = Store::Open(dir, opts);
  ASSERT_TRUE(again);
  EXPECT_EQ((*again)->GetStats()->resources, 1000u);
  again->reset();
  std::filesystem::remove_all(dir);
}

TEST_F(StoreTest, ReadRenewsAReleasedTransactionAndSeesNewWrites) {
  Seed();
  MDB_txn* first = nullptr;
  {
    auto view = store_->Read();
    ASSERT_TRUE(view);
    first = internal::Handles::Txn(*view);
    EXPECT_TRUE(view->GetResource(R("file:x")).has_value());
  }
  // A write between two reads: the renewed transaction is a new snapshot.
  ASSERT_TRUE(PutResource("file", "z", "group:g1").ok());
  auto view = store_->Read();
  ASSERT_TRUE(view);
  EXPECT_EQ(internal::Handles::Txn(*view), first);  // renewed, not begun anew
  EXPECT_TRUE(view->GetResource(R("file:z")).has_value());
  // Two views at once use two transactions.
  auto other = store_->Read();
  ASSERT_TRUE(other);
  EXPECT_NE(internal::Handles::Txn(*other), internal::Handles::Txn(*view));
  EXPECT_TRUE(other->GetResource(R("file:z")).has_value());
}

TEST(StoreMap, ReadsAfterGrowthSeeTheGrownMap) {
  // Released read transactions are kept for reuse; growing the map (which
  // needs no active transaction) must not break them.
  const std::string dir = TempDir("grow_reads");
  StoreOptions opts;
  opts.map_size = 256 << 10;
  auto store = Store::Open(dir, opts);
  ASSERT_TRUE(store);
  const std::string big(2000, 'x');
  for (int batch = 0; batch < 5; ++batch) {
    { auto view = (*store)->Read(); ASSERT_TRUE(view); }
    auto rev = (*store)->Write(nullptr, {}, [&](WriteTxn& w) {
      for (int i = 0; i < 100; ++i) {
        ResourceRecord r{"account", std::to_string(batch * 100 + i), "", {}};
        r.attributes["blob"] = Str(big);
        Status s = w.PutResource(r);
        if (!s.ok()) return s;
      }
      return Status::Ok();
    });
    ASSERT_TRUE(rev) << rev.error().ToString();
    auto view = (*store)->Read();
    ASSERT_TRUE(view);
    EXPECT_TRUE(view->GetResource({"account", std::to_string(batch * 100 + 99)})
                    .has_value());
    EXPECT_FALSE(view->failed()) << view->failure();
  }
  store->reset();
  std::filesystem::remove_all(dir);
}

TEST(StoreFormat, UnknownVersionFailsClearly) {
  const std::string dir = TempDir("format");
  {
    auto store = Store::Open(dir);
    ASSERT_TRUE(store);
    // Rewrite the version record as a future build would.
    MDB_txn* txn;
    ASSERT_EQ(mdb_txn_begin(internal::Handles::Env(**store), nullptr, 0, &txn),
              0);
    uint32_t v = 99;
    MDB_val k{14, const_cast<char*>("format_version")}, val{4, &v};
    ASSERT_EQ(mdb_put(txn, internal::Handles::Dbis(**store).meta, &k, &val, 0),
              0);
    ASSERT_EQ(mdb_txn_commit(txn), 0);
  }
  auto store = Store::Open(dir);
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(store.error().message().find("format version 99"),
            std::string::npos)
      << store.error().message();
  std::filesystem::remove_all(dir);
  StoreOptions must;
  must.must_exist = true;
  EXPECT_EQ(Store::Open(dir, must).error().code(), StatusCode::kNotFound);
}

TEST_F(StoreTest, VerifyFindsACorruptedIndex) {
  Seed();
  ASSERT_TRUE(Bind("user:a", "group:g1", {"member"}).ok());
  EXPECT_TRUE(Problems().empty());
  MDB_txn* txn;
  ASSERT_EQ(mdb_txn_begin(internal::Handles::Env(*store_), nullptr, 0, &txn),
            0);
  const Store::Dbis& d = internal::Handles::Dbis(*store_);
  auto put = [&](MDB_dbi dbi, std::string_view k, std::string_view v) {
    MDB_val kk{k.size(), const_cast<char*>(k.data())};
    MDB_val vv{v.size(), const_cast<char*>(v.data())};
    ASSERT_EQ(mdb_put(txn, dbi, &kk, &vv, 0), 0);
  };
  put(d.children, "group:g1", "file:ghost");         // dangling child
  put(d.access_by_resource, "file:x", "user:ghost");  // dangling access
  MDB_val v{1, const_cast<char*>("y")};
  MDB_val tk{4, const_cast<char*>("file")};
  ASSERT_EQ(mdb_del(txn, d.resources_by_type, &tk, &v), 0);  // missing index
  ASSERT_EQ(mdb_txn_commit(txn), 0);
  auto problems = Problems();
  ASSERT_EQ(problems.size(), 3u);
  std::string all;
  for (const auto& p : problems) all += p + "\n";
  EXPECT_NE(all.find("file:ghost"), std::string::npos) << all;
  EXPECT_NE(all.find("user:ghost"), std::string::npos) << all;
  EXPECT_NE(all.find("file:y is missing from resources_by_type"),
            std::string::npos)
      << all;
}

TEST_F(StoreTest, RefreshSeesNewWritesAndKeepsArena) {
  Seed();
  auto view = store_->Read();
  ASSERT_TRUE(view);
  const Revision r0 = view->revision();
  ASSERT_TRUE(PutResource("group", "g9", "account:acme").ok());
  EXPECT_FALSE(view->GetResource(R("group:g9")));  // snapshot isolation
  ASSERT_TRUE(view->Refresh().ok());
  EXPECT_EQ(view->revision(), r0 + 1);
  EXPECT_TRUE(view->GetResource(R("group:g9")));
}

// Regression: the full scans once stopped early by returning kAlreadyExists
// as a sentinel, so a callback's real kAlreadyExists was swallowed as "stop"
// and the scan reported success. Stopping is now a ScanStep, not a Status.
TEST_F(StoreTest, ScanAllSurfacesAnAlreadyExistsFromItsCallback) {
  Seed();
  auto view = store_->Read();
  ASSERT_TRUE(view);
  int calls = 0;
  Status s = internal::ScanAll(
      internal::Handles::Txn(*view), internal::Handles::Dbis(*store_).resources,
      [&](std::string_view, std::string_view) -> Result<internal::ScanStep> {
        ++calls;
        return Fail(Status::AlreadyExists("a real conflict"));
      });
  EXPECT_EQ(s.code(), StatusCode::kAlreadyExists) << s.ToString();
  EXPECT_EQ(s.message(), "a real conflict");
  EXPECT_EQ(calls, 1);

  // Stopping ends the scan early, with OK.
  calls = 0;
  s = internal::ScanAll(
      internal::Handles::Txn(*view), internal::Handles::Dbis(*store_).resources,
      [&](std::string_view, std::string_view) -> Result<internal::ScanStep> {
        ++calls;
        return internal::ScanStep::kStop;
      });
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(calls, 1);

  // Through the public API: a callback that stops gets OK.
  calls = 0;
  EXPECT_TRUE(view->ForEachResourceRecord([&](const ResourceRecord&) {
                    ++calls;
                    return false;
                  })
                  .ok());
  EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace portcullis::storage
