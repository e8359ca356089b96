// The decision index under concurrency: readers check through IndexViews
// while a writer commits random transactions and the index applies their
// change sets (and, once, rebuilds itself after a commit made by another
// store on the same folder). Every decision made through the index must
// equal the decision made over the very LMDB snapshot the view is at.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "engine/evaluator.h"
#include "index/decision_index.h"
#include "index/index_view.h"
#include "storage/store.h"
#include "tests/support/random_writes.h"
#include "tests/support/temp_store.h"

namespace portcullis {
namespace {

constexpr TimestampMicros kNow = 1'800'000'000'000'000;

TEST(Concurrent, IndexedChecksDuringWritesEqualTheirSnapshot) {
  testing::TempStore tmp("index_concurrent");
  testing::RandomWrites gen(21, kNow);
  ASSERT_TRUE(gen.Seed(tmp.get()));
  for (int i = 0; i < 200; ++i) gen.Step(tmp.get());
  index::DecisionIndex idx;
  idx.Follow(tmp.get());
  ASSERT_TRUE(idx.WaitUntilBuilt());

  std::atomic<bool> stop{false};
  std::atomic<int> mismatches{0}, indexed_checks{0};
  const std::vector<std::string> resources = gen.ResourcePool();
  const std::vector<std::string> users = gen.UserPool();
  auto reader = [&](unsigned seed) {
    const engine::Evaluator evaluator(gen.policy());
    unsigned n = seed;
    while (!stop.load()) {
      auto view = tmp->Read();
      if (!view) continue;
      index::IndexView data(&idx, &*view);
      for (int i = 0; i < 50; ++i) {
        n = n * 1103515245 + 12345;
        engine::CheckRequest req;
        req.subject = *engine::ParseEntityRef(users[n % users.size()]);
        req.resource =
            *engine::ParseEntityRef(resources[(n >> 8) % resources.size()]);
        req.action = gen.policy().actions[(n >> 16) % 3].name;
        req.now = kNow;
        const engine::Decision a = evaluator.Check(req, data);
        const engine::Decision b = evaluator.Check(req, data.store_view());
        if (a.allowed != b.allowed || a.reason.code != b.reason.code) {
          ++mismatches;
        }
        if (data.indexed()) ++indexed_checks;
      }
    }
  };
  std::vector<std::thread> readers;
  for (unsigned t = 0; t < 2; ++t) readers.emplace_back(reader, t + 1);
  for (int i = 0; i < 400; ++i) gen.Step(tmp.get());
  // Another process commits to the same store (as `portcullis import`
  // into a running daemon's folder would): the index notices the gap at the
  // next commit of its own store and rebuilds.
  const std::string outside = std::string(OUTSIDE_WRITER) + " " +
                              tmp.dir().string() + " 20 22";
  ASSERT_EQ(std::system(outside.c_str()), 0);
  for (int i = 0; i < 400; ++i) gen.Step(tmp.get());
  stop.store(true);
  for (std::thread& t : readers) t.join();
  EXPECT_EQ(mismatches.load(), 0);
  EXPECT_GT(indexed_checks.load(), 0);
  EXPECT_GE(idx.rebuilds(), 1u);
  ASSERT_TRUE(idx.WaitUntilBuilt());
  EXPECT_EQ(idx.revision(), tmp->revision());
  // Another commit from outside and none of our own: the index sees LMDB
  // stay ahead of it and rebuilds within a few seconds.
  const uint64_t rebuilds = idx.rebuilds();
  ASSERT_EQ(std::system(outside.c_str()), 0);
  for (int i = 0; i < 100 && idx.revision() != tmp->revision(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(idx.revision(), tmp->revision());
  EXPECT_GT(idx.rebuilds(), rebuilds);
}

}  // namespace
}  // namespace portcullis
