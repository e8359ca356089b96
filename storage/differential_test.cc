// The evaluator over the LMDB ReadView and over engine::MemoryData, on the
// same generated data, must reach identical decisions for every subject,
// action and resource.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <random>

#include "engine/evaluator.h"
#include "engine/memory_data.h"
#include "storage/store.h"
#include "tests/support/test_policies.h"

namespace portcullis::storage {
namespace {

using engine::EntityRef;
using engine::OwnedValue;
using engine::ValueKind;

OwnedValue Str(std::string s) {
  OwnedValue v;
  v.kind = ValueKind::kString;
  v.s = std::move(s);
  return v;
}

TEST(Differential, LmdbAndMemoryDecideAlike) {
  const std::string dir = std::filesystem::temp_directory_path() /
                          ("portcullis_diff_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  auto store_or = Store::Open(dir);
  ASSERT_TRUE(store_or);
  Store& store = **store_or;
  auto policy = testing::WorkspacePolicy();
  engine::MemoryData mem;
  std::mt19937 rng(7);
  auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
  const TimestampMicros now = 1'800'000'000'000'000;

  std::vector<std::string> resources;  // "type:id"
  std::vector<std::string> users;
  const char* departments[] = {"eng", "ops", "sales"};
  auto write = [&](const std::function<Status(WriteTxn&)>& fn) {
    auto r = store.Write(policy.get(), "user:gen", fn);
    ASSERT_TRUE(r) << r.error().ToString();
  };

  write([&](WriteTxn& w) {
    Status s = w.PutResource(ResourceRecord{"account", "acme", "", {}});
    mem.PutResource("account", "acme");
    resources.push_back("account:acme");
    std::vector<std::string> containers;
    for (int g = 0; g < 3 && s.ok(); ++g) {
      const std::string id = "g" + std::to_string(g);
      s = w.PutResource(ResourceRecord{"group", id, "account:acme", {}});
      mem.PutResource("group", id, "account", "acme");
      resources.push_back("group:" + id);
      containers.push_back("group:" + id);
    }
    for (int f = 0; f < 12 && s.ok(); ++f) {
      const std::string id = "d" + std::to_string(f);
      const std::string parent = containers[pick(containers.size())];
      s = w.PutResource(ResourceRecord{"folder", id, parent, {}});
      const auto p = *engine::ParseEntityRef(parent);
      mem.PutResource("folder", id, p.type, p.id);
      resources.push_back("folder:" + id);
      containers.push_back("folder:" + id);
    }
    for (int f = 0; f < 40 && s.ok(); ++f) {
      const std::string id = "f" + std::to_string(f);
      const std::string parent = containers[pick(containers.size())];
      ResourceRecord r{"file", id, parent, {}};
      const auto p = *engine::ParseEntityRef(parent);
      mem.PutResource("file", id, p.type, p.id);
      if (pick(3) == 0) {
        OwnedValue b;
        b.kind = ValueKind::kBool;
        b.b = pick(2) == 0;
        r.attributes["public"] = b;
        mem.SetAttribute(engine::EntityKind::kResource, "file", id, "public",
                         b);
      }
      if (pick(2) == 0) {
        OwnedValue list;
        list.kind = ValueKind::kList;
        for (const char* d : departments) {
          if (pick(2) == 0) list.list.push_back(Str(d));
        }
        r.attributes["departments"] = list;
        mem.SetAttribute(engine::EntityKind::kResource, "file", id,
                         "departments", list);
      }
      s = w.PutResource(r);
      resources.push_back("file:" + id);
    }
    for (int u = 0; u < 12 && s.ok(); ++u) {
      const std::string id = "u" + std::to_string(u);
      SubjectRecord subj{"user", id, {}};
      mem.PutSubject("user", id);
      if (pick(4) != 0) {
        subj.attributes["department"] = Str(departments[pick(3)]);
        mem.SetAttribute(engine::EntityKind::kSubject, "user", id,
                         "department", subj.attributes["department"]);
      }
      s = w.PutSubject(subj);
      users.push_back("user:" + id);
    }
    return s;
  });

  // Bindings and restrictions, each valid for its resource type.
  for (int i = 0; i < 80; ++i) {
    const std::string user = users[pick(users.size())];
    const std::string res = resources[pick(resources.size())];
    const auto r = *engine::ParseEntityRef(res);
    std::vector<std::string> candidates;
    const engine::TypeId t = policy->FindType(r.type);
    for (const auto& role : policy->roles) {
      if (role.bindable_on.Contains(t)) candidates.push_back(role.name);
    }
    std::vector<std::string> roles;
    for (const auto& c : candidates) {
      if (pick(3) == 0) roles.push_back(c);
    }
    if (roles.empty()) roles.push_back(candidates[pick(candidates.size())]);
    const auto state = pick(6) == 0 ? engine::BindingState::kPending
                                    : engine::BindingState::kActive;
    const TimestampMicros expires =
        pick(6) == 0 ? (pick(2) ? now - 1 : now + 1000) : kNoExpiry;
    write([&](WriteTxn& w) {
      BindingRecord b;
      b.subject = user;
      b.resource = res;
      b.roles = roles;
      b.state = state;
      b.expires_at = expires;
      return w.SetBinding(b);
    });
    mem.SetBinding(*engine::ParseEntityRef(user), r, roles, state, expires);
  }
  for (int i = 0; i < 15; ++i) {
    const std::string user = users[pick(users.size())];
    const std::string res = "file:f" + std::to_string(pick(40));
    std::vector<std::string> actions;
    if (pick(2) == 0) {
      actions = {"*"};
    } else {
      actions = {pick(2) ? "view" : "edit"};
    }
    write([&](WriteTxn& w) {
      return w.SetRestriction(RestrictionRecord{user, res, actions});
    });
    mem.SetRestriction(*engine::ParseEntityRef(user),
                       *engine::ParseEntityRef(res), actions);
  }

  engine::Evaluator eval(*policy);
  auto view = store.Read();
  ASSERT_TRUE(view);
  users.push_back("user:ghost");      // unknown subject
  resources.push_back("file:ghost");  // unknown resource
  int compared = 0, allowed = 0;
  for (const std::string& u : users) {
    for (const std::string& res : resources) {
      for (const auto& action : policy->actions) {
        engine::CheckRequest req;
        req.subject = *engine::ParseEntityRef(u);
        req.resource = *engine::ParseEntityRef(res);
        req.action = action.name;
        req.now = now;
        const engine::Decision a = eval.Check(req, *view);
        const engine::Decision b = eval.Check(req, mem);
        ASSERT_EQ(a.allowed, b.allowed) << u << " " << action.name << " "
                                        << res;
        ASSERT_EQ(a.reason.code, b.reason.code)
            << u << " " << action.name << " " << res << ": "
            << engine::ReasonCodeName(a.reason.code) << " vs "
            << engine::ReasonCodeName(b.reason.code);
        ASSERT_EQ(a.reason.at.ToString(), b.reason.at.ToString());
        ++compared;
        allowed += a.allowed;
      }
      engine::CheckRequest req;
      req.subject = *engine::ParseEntityRef(u);
      req.resource = *engine::ParseEntityRef(res);
      req.now = now;
      ASSERT_TRUE(eval.AllowedActions(req, *view) ==
                  eval.AllowedActions(req, mem))
          << u << " " << res;
    }
  }
  EXPECT_FALSE(view->failed());
  EXPECT_GT(allowed, 0);
  EXPECT_LT(allowed, compared);
  { ReadView done = std::move(*view); }
  store_or->reset();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace portcullis::storage
