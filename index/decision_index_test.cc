// The decision index is a cache of a security decision: these tests prove it
// equal to plain LMDB reads. The differential test drives thousands of
// random write transactions (creates, cascade deletes, moves, bindings
// pending, expired and active, restrictions, invitations, subject deletes)
// and after every one compares every read a check makes and every decision,
// with its reason, for every subject, action and resource of the pools, and
// every page of resource lookups (which the index streams from its ordered
// sets, and LMDB answers by traversing subtrees).
#include "index/decision_index.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "engine/evaluator.h"
#include "engine/lookup.h"
#include "index/index_view.h"
#include "index/verify.h"
#include "storage/store.h"
#include "tests/support/random_writes.h"
#include "tests/support/temp_store.h"

namespace portcullis::index {
namespace {

using engine::EntityRef;

constexpr TimestampMicros kNow = 1'800'000'000'000'000;

std::string Describe(const engine::SubjectAccess& a) {
  std::string s;
  if (a.binding) {
    s += "binding[" + std::string(a.binding->roles.packed()) + "," +
         std::to_string(static_cast<int>(a.binding->state)) + "," +
         std::to_string(a.binding->expires_at) + "]";
  }
  if (a.restriction) {
    s += "restriction[" + std::string(a.restriction->actions.packed()) + "]";
  }
  return s;
}

std::string Describe(const std::optional<engine::ResourceInfo>& r) {
  if (!r) return "none";
  return r->parent.empty() ? "root" : r->parent.ToString();
}

// Compares what `indexed` and `plain` answer for every pool entry; returns
// the first difference, or "".
std::string Compare(const engine::Policy& policy,
                    const testing::RandomWrites& gen, const IndexView& indexed,
                    const storage::ReadView& plain) {
  std::vector<std::string> resources = gen.ResourcePool();
  resources.push_back("file:never");
  std::vector<std::string> users = gen.UserPool();
  users.push_back("user:never");
  const engine::Evaluator evaluator(policy);
  auto attribute = [](const engine::DataView& data, engine::EntityKind kind,
                      EntityRef e, std::string_view key) {
    const std::optional<engine::Value> v = data.GetAttribute(kind, e, key);
    return v ? v->ToString() : std::string("none");
  };
  for (const std::string& r : resources) {
    const EntityRef res = *engine::ParseEntityRef(r);
    for (const char* key : {"public", "departments", "missing"}) {
      const std::string a =
          attribute(indexed, engine::EntityKind::kResource, res, key);
      const std::string b =
          attribute(plain, engine::EntityKind::kResource, res, key);
      if (a != b) return "GetAttribute(" + r + ", " + key + "): " + a + " vs " + b;
    }
    if (Describe(indexed.GetResource(res)) != Describe(plain.GetResource(res))) {
      return "GetResource(" + r + "): " + Describe(indexed.GetResource(res)) +
             " vs " + Describe(plain.GetResource(res));
    }
  }
  for (const std::string& u : users) {
    const EntityRef sub = *engine::ParseEntityRef(u);
    if (indexed.SubjectExists(sub) != plain.SubjectExists(sub)) {
      return "SubjectExists(" + u + ")";
    }
    if (attribute(indexed, engine::EntityKind::kSubject, sub, "department") !=
        attribute(plain, engine::EntityKind::kSubject, sub, "department")) {
      return "GetAttribute(" + u + ", department)";
    }
    for (const std::string& r : resources) {
      const EntityRef res = *engine::ParseEntityRef(r);
      const std::string a = Describe(indexed.GetAccess(sub, res));
      const std::string b = Describe(plain.GetAccess(sub, res));
      if (a != b) return "GetAccess(" + u + ", " + r + "): " + a + " vs " + b;
      for (const engine::ActionDef& action : policy.actions) {
        engine::CheckRequest req;
        req.subject = sub;
        req.resource = res;
        req.action = action.name;
        req.now = kNow;
        const engine::Decision x = evaluator.Check(req, indexed);
        const engine::Decision y = evaluator.Check(req, plain);
        if (x.allowed != y.allowed || x.reason.code != y.reason.code ||
            !(x.reason.at == y.reason.at) || x.reason.role != y.reason.role) {
          return "Check(" + u + ", " + action.name + ", " + r + "): " +
                 std::string(engine::ReasonCodeName(x.reason.code)) + " vs " +
                 std::string(engine::ReasonCodeName(y.reason.code));
        }
      }
    }
  }
  return "";
}

// Every page, in order, of "which resources of type T may `user` do A on"
// (under `under` when given), each line a page: its refs and next token.
std::string AllPages(const engine::Evaluator& evaluator,
                     const engine::DataView& data, std::string_view user,
                     std::string_view type, std::string_view action,
                     std::string_view under, size_t limit) {
  std::string out, token;
  for (int pages = 0; pages < 100; ++pages) {
    engine::LookupResourcesRequest req;
    req.subject = *engine::ParseEntityRef(user);
    req.action = action;
    req.type = type;
    if (!under.empty()) req.under = *engine::ParseEntityRef(under);
    req.limit = limit;
    req.page_token = token;
    req.now = kNow;
    Result<engine::LookupPage> page = engine::LookupResources(evaluator, data, req);
    if (!page) return out + "error " + page.error().ToString();
    for (const std::string& r : page->refs) out += r + " ";
    out += "| " + page->next_page_token + "\n";
    if (page->next_page_token.empty()) return out;
    token = page->next_page_token;
  }
  return out + "too many pages";
}

// Compares the lookup pages of two pool users (chosen by `step`) for every
// resource type and action, at every resource and under one of the pool;
// returns the first difference, or "".
std::string CompareLookups(const engine::Policy& policy,
                           const testing::RandomWrites& gen, int step,
                           const IndexView& indexed,
                           const storage::ReadView& plain) {
  const engine::Evaluator evaluator(policy);
  const std::vector<std::string> users = gen.UserPool();
  const std::vector<std::string> resources = gen.ResourcePool();
  const size_t limits[] = {1, 3, 1000};
  for (int k = 0; k < 2; ++k) {
    const std::string& user = users[(step * 2 + k) % users.size()];
    const size_t limit = limits[(step + k) % 3];
    const std::string under =
        step % 3 == 0 ? "" : resources[(step * 7 + k) % resources.size()];
    for (const engine::TypeDef& type : policy.types) {
      if (type.is_subject) continue;
      for (const engine::ActionDef& action : policy.actions) {
        if (!type.actions.Contains(policy.FindAction(action.name))) continue;
        const std::string a = AllPages(evaluator, indexed, user, type.name,
                                       action.name, under, limit);
        const std::string b = AllPages(evaluator, plain, user, type.name,
                                       action.name, under, limit);
        if (a != b) {
          return "LookupResources(" + user + ", " + action.name + ", " +
                 type.name + ", under '" + under + "', limit " +
                 std::to_string(limit) + "):\n" + a + "vs\n" + b;
        }
      }
    }
  }
  return "";
}

class DecisionIndexTest : public ::testing::TestWithParam<uint32_t> {};

TEST_P(DecisionIndexTest, EqualsPlainLmdbAfterEveryWrite) {
  testing::TempStore tmp("index_diff");
  DecisionIndex index;
  tmp->SetCommitListener([&](const storage::ChangeSet& cs) {
    ASSERT_TRUE(index.ApplyChange(cs).ok());
  });
  {
    auto empty = tmp->Read();
    ASSERT_TRUE(empty);
    ASSERT_TRUE(index.Build(*empty).ok());
  }
  testing::RandomWrites gen(GetParam(), kNow);
  ASSERT_TRUE(gen.Seed(tmp.get()));
  int applied = 0;
  for (int step = 0; step < 1500; ++step) {
    if (gen.Step(tmp.get())) ++applied;
    auto a = tmp->Read();
    auto b = tmp->Read();
    ASSERT_TRUE(a && b);
    IndexView indexed(&index, &*a);
    ASSERT_TRUE(indexed.indexed()) << index.stats().failure;
    ASSERT_EQ(indexed.revision(), b->revision());
    const std::string diff = Compare(gen.policy(), gen, indexed, *b);
    ASSERT_EQ(diff, "") << "after step " << step;
    const std::string lookups =
        CompareLookups(gen.policy(), gen, step, indexed, *b);
    ASSERT_EQ(lookups, "") << "after step " << step;
    if (step % 100 == 99) {
      auto c = tmp->Read();
      ASSERT_TRUE(c);
      const std::vector<std::string> problems = VerifyIndex(index, &*c);
      ASSERT_TRUE(problems.empty()) << problems[0];
    }
  }
  EXPECT_GT(applied, 450);
  // Rebuilt from scratch, it holds what the incremental one holds.
  DecisionIndex rebuilt;
  auto view = tmp->Read();
  ASSERT_TRUE(view);
  ASSERT_TRUE(rebuilt.Build(*view).ok());
  const DecisionIndex::Stats x = index.stats(), y = rebuilt.stats();
  EXPECT_EQ(x.resources, y.resources);
  EXPECT_EQ(x.subjects, y.subjects);
  EXPECT_EQ(x.access, y.access);
  EXPECT_EQ(x.revision, y.revision);
  EXPECT_GT(x.ordered_entries, 0u);
  EXPECT_EQ(x.ordered_entries, y.ordered_entries);
  // The memory it reports is kept as it changes: an accounting slip (a
  // string counted on the way in and not out) would wrap or drift.
  EXPECT_GT(x.string_bytes, 0u);
  EXPECT_EQ(x.string_bytes, y.string_bytes);
  tmp->SetCommitListener(nullptr);
}

INSTANTIATE_TEST_SUITE_P(Seeds, DecisionIndexTest,
                         ::testing::Values(1u, 2u, 3u, 4u));

TEST(DecisionIndexFollowTest, CatchesUpWithWritesMadeWhileItBuilds) {
  testing::TempStore tmp("index_follow");
  testing::RandomWrites gen(9, kNow);
  ASSERT_TRUE(gen.Seed(tmp.get()));
  for (int i = 0; i < 300; ++i) gen.Step(tmp.get());
  DecisionIndex index;
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    testing::RandomWrites more(10, kNow);
    while (!stop.load()) more.Step(tmp.get());
  });
  index.Follow(tmp.get());
  ASSERT_TRUE(index.WaitUntilBuilt()) << index.stats().failure;
  for (int i = 0; i < 200; ++i) {
    auto a = tmp->Read();
    ASSERT_TRUE(a);
    IndexView v(&index, &*a);
    (void)v.GetResource({"file", "f1"});
  }
  stop.store(true);
  writer.join();
  auto a = tmp->Read();
  auto b = tmp->Read();
  ASSERT_TRUE(a && b);
  IndexView indexed(&index, &*a);
  ASSERT_TRUE(indexed.indexed());
  EXPECT_EQ(Compare(gen.policy(), gen, indexed, *b), "");
}

TEST(DecisionIndexVerifyTest, FindsWhatDiffers) {
  testing::TempStore a("index_verify_a"), b("index_verify_b");
  testing::RandomWrites gen(8, kNow);
  ASSERT_TRUE(gen.Seed(a.get()));
  ASSERT_TRUE(gen.Seed(b.get()));
  auto write = [&](storage::Store* store, const char* group, const char* role) {
    return store->Write(&gen.policy(), "", [&](storage::WriteTxn& w) {
      if (Status s = w.PutResource({"group", group, "account:acme", {}});
          !s.ok()) {
        return s;
      }
      storage::BindingRecord binding;
      binding.subject = "user:u1";
      binding.resource = std::string("group:") + group;
      binding.roles = {role};
      return w.SetBinding(binding);
    });
  };
  ASSERT_TRUE(write(a.get(), "g1", "member"));
  ASSERT_TRUE(write(b.get(), "g1", "administrator"));
  auto view_a = a->Read();
  auto view_b = b->Read();
  ASSERT_TRUE(view_a && view_b);
  DecisionIndex index;
  ASSERT_TRUE(index.Build(*view_a).ok());
  EXPECT_TRUE(VerifyIndex(index, &*view_a).empty());
  const std::vector<std::string> problems = VerifyIndex(index, &*view_b);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("access of user:u1 on group:g1 differs"),
            std::string::npos)
      << problems[0];
}

TEST(DecisionIndexFollowTest, AGapMakesItUnusableNeverWrong) {
  testing::TempStore tmp("index_gap");
  DecisionIndex index;
  testing::RandomWrites gen(5, kNow);
  ASSERT_TRUE(gen.Seed(tmp.get()));
  auto view = tmp->Read();
  ASSERT_TRUE(view);
  ASSERT_TRUE(index.Build(*view).ok());
  storage::ChangeSet skipped;
  skipped.revision = index.revision() + 2;
  skipped.entry.revision = skipped.revision;
  skipped.entry.changes = {{"subject.put", "user:x", ""}};
  EXPECT_FALSE(index.ApplyChange(skipped).ok());
  EXPECT_FALSE(index.ready());
  EXPECT_NE(index.stats().failure, "");
  IndexView fallback(&index, &*view);
  EXPECT_FALSE(fallback.indexed());
  EXPECT_TRUE(fallback.GetResource({"account", "acme"}).has_value());
}

TEST(DecisionIndexFollowTest, AStaleViewIsMovedToTheIndexRevision) {
  testing::TempStore tmp("index_stale");
  DecisionIndex index;
  index.Follow(tmp.get());
  ASSERT_TRUE(index.WaitUntilBuilt());
  testing::RandomWrites gen(6, kNow);
  auto old = tmp->Read();
  ASSERT_TRUE(old);
  ASSERT_TRUE(gen.Seed(tmp.get()));
  EXPECT_EQ(old->revision(), 0u);
  IndexView v(&index, &*old);
  EXPECT_TRUE(v.indexed());
  EXPECT_EQ(v.revision(), 1u);
  EXPECT_TRUE(v.GetResource({"account", "acme"}).has_value());
}

}  // namespace
}  // namespace portcullis::index
