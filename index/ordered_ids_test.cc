// OrderedIds against std::set: random inserts and erases of keys that share
// long prefixes, with every chunk split and merge on the way, keep the same
// order, the same size and the same answers to UpperBound.
#include "index/ordered_ids.h"

#include <gtest/gtest.h>

#include <random>
#include <set>
#include <string>
#include <vector>

namespace portcullis::index {
namespace {

TEST(OrderedIdsTest, KeepsTheOrderOfASetThroughInsertsAndErases) {
  std::vector<std::string> keys;
  for (int i = 0; i < 5000; ++i) {
    keys.push_back("file:g" + std::to_string(i % 7) + "f" + std::to_string(i));
  }
  auto key_of = [&](uint32_t id) { return std::string_view(keys[id]); };
  std::mt19937 rng(7);
  OrderedIds ids;
  std::set<std::string> model;
  std::vector<bool> in(keys.size(), false);
  for (int step = 0; step < 40000; ++step) {
    const uint32_t id = rng() % keys.size();
    // Inserts win early, erases late: the set grows past many chunks, then
    // empties again.
    const bool insert = (rng() % 100) < (step < 20000 ? 70 : 25);
    if (insert && !in[id]) {
      ids.Insert(id, key_of);
      model.insert(keys[id]);
      in[id] = true;
    } else if (!insert) {
      EXPECT_EQ(ids.Erase(id, key_of), in[id]);
      model.erase(keys[id]);
      in[id] = false;
    }
    ASSERT_EQ(ids.size(), model.size());
    if (step % 997 == 0) {
      std::vector<std::string> got;
      ids.ForEach([&](uint32_t x) { got.push_back(keys[x]); });
      ASSERT_EQ(got, std::vector<std::string>(model.begin(), model.end()));
      // UpperBound of a present key, of an absent one, of "" and past all.
      for (const std::string probe :
           {keys[rng() % keys.size()], std::string(""), std::string("file:g3"),
            std::string("zzz")}) {
        auto expected = model.upper_bound(probe);
        OrderedIds::Position p = ids.UpperBound(probe, key_of);
        if (expected == model.end()) {
          EXPECT_EQ(p.chunk, ids.chunk_count());
        } else {
          ASSERT_LT(p.chunk, ids.chunk_count());
          EXPECT_EQ(keys[ids.At(p)], *expected);
        }
      }
    }
  }
  EXPECT_GT(ids.chunk_count(), 0u);
}

TEST(OrderedIdsTest, ReadsARangeChunkAfterChunk) {
  std::vector<std::string> keys;
  for (int i = 0; i < 2000; ++i) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "f:%05d", i);
    keys.push_back(buf);
  }
  auto key_of = [&](uint32_t id) { return std::string_view(keys[id]); };
  OrderedIds ids;
  for (uint32_t i = 0; i < keys.size(); ++i) ids.Insert(i, key_of);  // appends
  EXPECT_GE(ids.chunk_count(), keys.size() / OrderedIds::kChunk);
  OrderedIds::Position p = ids.UpperBound("f:00999", key_of);
  for (uint32_t want = 1000; want < keys.size(); ++want) {
    ASSERT_LT(p.chunk, ids.chunk_count());
    ASSERT_EQ(ids.At(p), want);
    p = ids.Advance(p);
  }
  EXPECT_EQ(p.chunk, ids.chunk_count());
  EXPECT_TRUE(ids.Erase(1500, key_of));
  EXPECT_FALSE(ids.Erase(1500, key_of));  // no longer held
  EXPECT_EQ(ids.size(), keys.size() - 1);
}

}  // namespace
}  // namespace portcullis::index
