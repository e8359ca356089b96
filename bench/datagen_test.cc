// The generator's sampled requests mean what their kinds say: imported
// through the real import path into LMDB and decided under the workspace
// policy, hits are allowed, misses denied, raises allow and restrictions
// deny, and the owner condition decides deletes.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <sstream>

#include "bench/datagen_lib.h"
#include "engine/evaluator.h"
#include "engine/lookup.h"
#include "policies/policy_compiler.h"
#include "storage/jsonl.h"
#include "storage/store.h"

namespace portcullis::bench {
namespace {

class DatagenTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto policy = policies::CompilePolicyFile(PORTCULLIS_SOURCE_DIR
                                              "/policies/workspace.yaml");
    ASSERT_TRUE(policy);
    policy_ = *policy;
    dir_ = std::filesystem::temp_directory_path() /
           ("portcullis_datagen_test_" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    std::string text;
    Generate(*ScaleOptions("small"),
             [&](const storage::JsonlRecord& r) {
               text += storage::FormatJsonlRecord(r) + "\n";
               ++records_;
               if (auto* res = std::get_if<storage::ResourceRecord>(&r)) {
                 auto owner = res->attributes.find("owner");
                 if (owner != res->attributes.end()) {
                   owners_[res->type + ":" + res->id] = "user:" + owner->second.s;
                 }
               }
             },
             &refs_);
    auto store = storage::Store::Open(dir_);
    ASSERT_TRUE(store);
    store_ = std::move(*store);
    std::istringstream in(text);
    storage::ImportOptions io;
    io.policy = policy_.get();
    auto st = storage::ImportJsonl(*store_, in, io);
    ASSERT_TRUE(st) << st.error().ToString();
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  bool Allowed(const DatagenRequest& r) {
    engine::Evaluator eval(*policy_);
    engine::CheckRequest req;
    req.subject = *engine::ParseEntityRef(r.subject);
    req.resource = *engine::ParseEntityRef(r.resource);
    req.action = r.action;
    auto view = store_->Read();
    return eval.Check(req, *view).allowed;
  }

  std::shared_ptr<const engine::Policy> policy_;
  std::string dir_;
  std::unique_ptr<storage::Store> store_;
  DatagenRefs refs_;
  std::map<std::string, std::string> owners_;
  uint64_t records_ = 0;
};

TEST_F(DatagenTest, SmallScaleHasTheDocumentedShape) {
  EXPECT_GT(records_, 10000u);
  for (const auto* kind : {&refs_.hit, &refs_.miss, &refs_.deep,
                           &refs_.override_, &refs_.condition, &refs_.actions,
                           &refs_.lookup_large, &refs_.lookup_small}) {
    EXPECT_FALSE(kind->empty());
  }
}

TEST_F(DatagenTest, SampledRequestsDecideAsTheirKindSays) {
  for (const auto& r : refs_.hit) EXPECT_TRUE(Allowed(r)) << r.subject << " " << r.resource;
  for (const auto& r : refs_.deep) EXPECT_TRUE(Allowed(r)) << r.subject << " " << r.resource;
  for (const auto& r : refs_.miss) EXPECT_FALSE(Allowed(r)) << r.subject << " " << r.resource;
  for (const auto& r : refs_.override_) {
    // A raise (a binding on the file) allows; a restriction denies.
    auto view = store_->Read();
    const auto access = view->GetAccess(*engine::ParseEntityRef(r.subject),
                                        *engine::ParseEntityRef(r.resource));
    ASSERT_NE(access.binding.has_value(), access.restriction.has_value());
    EXPECT_EQ(Allowed(r), access.binding.has_value())
        << r.subject << " " << r.action << " " << r.resource;
  }
  int allowed = 0, denied = 0;
  for (const auto& r : refs_.condition) {
    const bool ok = Allowed(r);
    (ok ? allowed : denied)++;
    if (ok) {
      EXPECT_EQ(owners_[r.resource], r.subject) << r.resource;
    }
  }
  EXPECT_GT(allowed, 0);
  EXPECT_GT(denied, 0);
}

TEST_F(DatagenTest, DeepRequestsAreSixToEightFoldersDown) {
  auto view = store_->Read();
  for (const auto& r : refs_.deep) {
    int folders = 0;
    std::string at = r.resource;
    for (;;) {
      auto info = view->GetResource(*engine::ParseEntityRef(at));
      ASSERT_TRUE(info) << at;
      if (info->parent.type != "folder") break;
      ++folders;
      at = std::string(info->parent.type) + ":" + std::string(info->parent.id);
    }
    EXPECT_GE(folders, 6) << r.resource;
    EXPECT_LE(folders, 8) << r.resource;
  }
}

TEST_F(DatagenTest, LargeLookupsFindMoreThanSmallOnes) {
  engine::Evaluator eval(*policy_);
  auto view = store_->Read();
  auto count = [&](const DatagenRequest& r) {
    engine::LookupResourcesRequest req;
    req.subject = *engine::ParseEntityRef(r.subject);
    req.action = r.action;
    req.type = r.resource;
    req.limit = engine::kMaxPageSize;
    auto page = engine::LookupResources(eval, *view, req);
    EXPECT_TRUE(page);
    return page ? page->refs.size() : 0;
  };
  EXPECT_GT(count(refs_.lookup_large[0]), 1000u);
  EXPECT_LT(count(refs_.lookup_small[0]), 1000u);
  EXPECT_GT(count(refs_.lookup_small[0]), 0u);
}

TEST(DatagenRefsJson, NamesEveryMixKind) {
  DatagenRefs refs;
  Generate(*ScaleOptions("small"), [](const storage::JsonlRecord&) {}, &refs);
  const std::string json = FormatRefsJson(refs);
  for (const char* kind : {"check_hit", "check_miss", "check_deep",
                           "check_override", "check_condition", "actions",
                           "lookup_small", "lookup_large"}) {
    EXPECT_NE(json.find(std::string("\"") + kind + "\""), std::string::npos)
        << kind;
  }
}

}  // namespace
}  // namespace portcullis::bench
