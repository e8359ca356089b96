#include "engine/lookup.h"

#include <gtest/gtest.h>

#include "engine/memory_data.h"

namespace portcullis::engine {
namespace {

// group > folder (nested) > file; role viewer grants view on files; an
// allow rule on `page` lets anyone view pages.
std::unique_ptr<Policy> MakePolicy() {
  auto p = std::make_unique<Policy>();
  p->name = "lookup";
  p->actions = {{"view", {}, {}}};
  auto add_type = [&](std::string name, std::vector<TypeId> parents,
                      bool subject) {
    TypeDef t;
    t.name = std::move(name);
    t.parents = std::move(parents);
    t.is_subject = subject;
    if (!subject) t.actions.Add(0);
    t.restrictable = !subject;
    p->types.push_back(std::move(t));
    return static_cast<TypeId>(p->types.size() - 1);
  };
  const TypeId user = add_type("user", {}, true);
  const TypeId group = add_type("group", {}, false);
  const TypeId folder = add_type("folder", {group}, false);
  p->types[folder].parents.push_back(folder);
  const TypeId file = add_type("file", {group, folder}, false);
  const TypeId page = add_type("page", {}, false);
  (void)user;
  auto grant = std::make_unique<Grant>();
  grant->role = 0;
  grant->type = file;
  grant->actions.Add(0);
  RoleDef viewer;
  viewer.name = "viewer";
  viewer.bindable_on.Add(group);
  viewer.bindable_on.Add(folder);
  viewer.grants.push_back(grant.get());
  p->grants.push_back(std::move(grant));
  p->roles.push_back(std::move(viewer));
  Rule rule;
  rule.name = "public_pages";
  rule.effect = Effect::kAllow;
  rule.actions.Add(0);
  rule.types.Add(page);
  p->rules.push_back(std::move(rule));
  p->Finalize();
  return p;
}

class LookupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data_.PutResource("group", "g1");
    data_.PutResource("group", "g2");
    data_.PutResource("folder", "a", "group", "g1");
    data_.PutResource("folder", "b", "folder", "a");
    for (int i = 0; i < 5; ++i) {
      data_.PutResource("file", "f" + std::to_string(i), "folder", "b");
    }
    data_.PutResource("file", "top", "group", "g1");
    data_.PutResource("file", "other", "group", "g2");
    data_.PutResource("page", "p1");
    data_.PutResource("page", "p2");
    data_.PutSubject("user", "alice");
    data_.PutSubject("user", "bob");
    data_.PutSubject("user", "carol");
    data_.SetBinding({"user", "alice"}, {"group", "g1"}, {"viewer"});
    data_.SetBinding({"user", "bob"}, {"folder", "b"}, {"viewer"});
    data_.SetBinding({"user", "carol"}, {"group", "g1"}, {"viewer"},
                     BindingState::kPending);
    data_.SetRestriction({"user", "alice"}, {"file", "f3"}, {"view"});
  }

  std::unique_ptr<Policy> policy_ = MakePolicy();
  Evaluator evaluator_{*policy_};
  MemoryData data_;
};

TEST_F(LookupTest, ResourcesFromBindingsExcludeRestricted) {
  LookupResourcesRequest req;
  req.subject = {"user", "alice"};
  req.action = "view";
  req.type = "file";
  auto page = LookupResources(evaluator_, data_, req);
  ASSERT_TRUE(page.has_value()) << page.error().ToString();
  EXPECT_EQ(page->refs,
            (std::vector<std::string>{"file:f0", "file:f1", "file:f2",
                                      "file:f4", "file:top"}));
  EXPECT_EQ(page->next_page_token, "");
}

TEST_F(LookupTest, ResourcesUnderNarrowsToSubtree) {
  LookupResourcesRequest req;
  req.subject = {"user", "alice"};
  req.action = "view";
  req.type = "file";
  req.under = {"folder", "b"};
  auto page = LookupResources(evaluator_, data_, req);
  ASSERT_TRUE(page.has_value());
  EXPECT_EQ(page->refs.size(), 4u);
  // bob's binding is on folder b, under group g1.
  req.subject = {"user", "bob"};
  req.under = {"group", "g1"};
  page = LookupResources(evaluator_, data_, req);
  ASSERT_TRUE(page.has_value());
  EXPECT_EQ(page->refs.size(), 5u);
}

TEST_F(LookupTest, PagesAreCompleteAndDisjoint) {
  LookupResourcesRequest req;
  req.subject = {"user", "alice"};
  req.action = "view";
  req.type = "file";
  req.limit = 2;
  std::vector<std::string> all;
  std::string token;
  int pages = 0;
  do {
    req.page_token = token;
    auto page = LookupResources(evaluator_, data_, req);
    ASSERT_TRUE(page.has_value());
    all.insert(all.end(), page->refs.begin(), page->refs.end());
    token = page->next_page_token;
    ++pages;
  } while (!token.empty() && pages < 10);
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(all, (std::vector<std::string>{"file:f0", "file:f1", "file:f2",
                                           "file:f4", "file:top"}));
}

TEST_F(LookupTest, PendingBindingFindsNothing) {
  LookupResourcesRequest req;
  req.subject = {"user", "carol"};
  req.action = "view";
  req.type = "file";
  auto page = LookupResources(evaluator_, data_, req);
  ASSERT_TRUE(page.has_value());
  EXPECT_TRUE(page->refs.empty());
}

TEST_F(LookupTest, AllowRuleMakesEveryResourceOfTypeACandidate) {
  LookupResourcesRequest req;
  req.subject = {"user", "carol"};
  req.action = "view";
  req.type = "page";
  auto page = LookupResources(evaluator_, data_, req);
  ASSERT_TRUE(page.has_value());
  EXPECT_EQ(page->refs, (std::vector<std::string>{"page:p1", "page:p2"}));
}

TEST_F(LookupTest, SubjectsFromAncestorBindings) {
  LookupSubjectsRequest req;
  req.action = "view";
  req.resource = {"file", "f1"};
  auto page = LookupSubjects(evaluator_, data_, req);
  ASSERT_TRUE(page.has_value());
  EXPECT_EQ(page->refs,
            (std::vector<std::string>{"user:alice", "user:bob"}));
  req.resource = {"file", "f3"};  // alice is restricted there
  page = LookupSubjects(evaluator_, data_, req);
  ASSERT_TRUE(page.has_value());
  EXPECT_EQ(page->refs, (std::vector<std::string>{"user:bob"}));
}

TEST_F(LookupTest, InvalidRequestsNameTheField) {
  LookupResourcesRequest req;
  req.subject = {"user", "alice"};
  req.action = "edit";
  req.type = "file";
  auto page = LookupResources(evaluator_, data_, req);
  ASSERT_FALSE(page.has_value());
  EXPECT_EQ(page.error().field(), "action");
  req.action = "view";
  req.type = "nope";
  page = LookupResources(evaluator_, data_, req);
  ASSERT_FALSE(page.has_value());
  EXPECT_EQ(page.error().field(), "type");
  req.type = "file";
  req.limit = 0;
  page = LookupResources(evaluator_, data_, req);
  ASSERT_FALSE(page.has_value());
  EXPECT_EQ(page.error().field(), "limit");
  req.limit = 10;
  req.under = {"folder", "missing"};
  page = LookupResources(evaluator_, data_, req);
  ASSERT_FALSE(page.has_value());
  EXPECT_EQ(page.error().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace portcullis::engine
