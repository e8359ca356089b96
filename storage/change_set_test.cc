// Change sets: what a commit hands its listener and its gate, its binary
// form, and Store::Apply, which must turn a replica into an exact copy of
// its source.
#include "storage/change_set.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include "storage/jsonl.h"
#include "storage/layout.h"
#include "storage/store.h"
#include "tests/support/random_writes.h"
#include "tests/support/temp_store.h"

namespace portcullis::storage {
namespace {

constexpr TimestampMicros kNow = 1'800'000'000'000'000;

std::string Export(Store* store) {
  auto view = store->Read();
  EXPECT_TRUE(view);
  std::ostringstream out;
  EXPECT_TRUE(ExportJsonl(*view, out));
  return out.str();
}

std::vector<ChangelogEntry> Changelog(Store* store) {
  auto view = store->Read();
  EXPECT_TRUE(view);
  auto changes = view->Changes(0, 1'000'000);
  EXPECT_TRUE(changes);
  return changes ? *changes : std::vector<ChangelogEntry>{};
}

TEST(ChangeSetTest, EncodesAndDecodesEveryField) {
  ChangeSet cs;
  cs.revision = 42;
  cs.entry.revision = 42;
  cs.entry.time = 7;
  cs.entry.actor = "user:a";
  cs.entry.changes = {{"resource.put", "file:f", "group:g"}};
  cs.entry.change_count = 1;
  cs.records = {{Table::kResources, "file:f", std::string("\0\0\0\0", 4)},
                {Table::kAccess, std::string("user:a\0file:f", 13),
                 std::nullopt}};
  std::string bytes;
  EncodeChangeSet(cs, &bytes);
  auto back = DecodeChangeSet(bytes);
  ASSERT_TRUE(back) << back.error().ToString();
  EXPECT_EQ(*back, cs);
}

TEST(ChangeSetTest, RefusesEveryTruncationAndCorruption) {
  ChangeSet cs;
  cs.revision = 3;
  cs.entry.revision = 3;
  cs.records = {{Table::kSubjects, "user:a", std::string(2, '\0')},
                {Table::kSubjects, "user:b", std::nullopt}};
  std::string bytes;
  EncodeChangeSet(cs, &bytes);
  for (size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_FALSE(DecodeChangeSet(bytes.substr(0, n))) << "prefix " << n;
  }
  std::string trailing = bytes + "x";
  EXPECT_FALSE(DecodeChangeSet(trailing));
  ChangeSet unordered = cs;
  std::swap(unordered.records[0], unordered.records[1]);
  std::string swapped;
  EncodeChangeSet(unordered, &swapped);
  auto refused = DecodeChangeSet(swapped);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), StatusCode::kInvalidArgument);
}

TEST(ChangeSetTest, ListenerSeesFinalImagesOfEveryTouchedRecord) {
  testing::TempStore tmp("cs_listener");
  std::vector<ChangeSet> seen;
  tmp.get()->SetCommitListener(
      [&](const ChangeSet& cs) { seen.push_back(cs); });
  testing::RandomWrites gen(1, kNow);
  ASSERT_TRUE(gen.Seed(tmp.get()));
  auto rev = tmp.get()->Write(&gen.policy(), "", [](WriteTxn& w) {
    if (Status s = w.PutResource({"group", "g", "account:acme", {}}); !s.ok()) {
      return s;
    }
    if (Status s = w.PutResource({"file", "f", "group:g", {}}); !s.ok()) {
      return s;
    }
    BindingRecord b;
    b.subject = "user:u";
    b.resource = "file:f";
    b.roles = {"content_creator"};
    if (Status s = w.SetBinding(b); !s.ok()) return s;
    return w.DeleteResource({"file", "f"});  // takes the binding with it
  });
  ASSERT_TRUE(rev) << rev.error().ToString();
  ASSERT_EQ(seen.size(), 2u);
  const ChangeSet& cs = seen[1];
  EXPECT_EQ(cs.revision, *rev);
  EXPECT_EQ(cs.entry.revision, *rev);
  std::vector<std::pair<Table, std::string>> keys;
  for (const RecordChange& r : cs.records) {
    keys.emplace_back(r.table, r.key);
    const bool deleted = r.key == "file:f" || r.table == Table::kAccess;
    EXPECT_EQ(r.value.has_value(), !deleted) << r.key;
  }
  const std::vector<std::pair<Table, std::string>> want = {
      {Table::kResources, "file:f"},
      {Table::kResources, "group:g"},
      {Table::kSubjects, "user:u"},
      {Table::kAccess, std::string("user:u\0file:f", 13)}};
  EXPECT_EQ(keys, want);
  // A refused write calls nobody.
  auto refused = tmp.get()->Write(&gen.policy(), "", [](WriteTxn& w) {
    return w.PutResource({"file", "x", "group:missing", {}});
  });
  EXPECT_FALSE(refused);
  EXPECT_EQ(seen.size(), 2u);
}

// The heart of replication: every change set of a source, applied in order
// to an empty store, gives the same records, the same changelog and a store
// that verifies; and shipping them through their binary form changes
// nothing.
TEST(ChangeSetTest, ApplyingEveryChangeSetMakesAnExactReplica) {
  testing::TempStore source("cs_source"), replica("cs_replica");
  std::vector<std::string> shipped;
  source.get()->SetCommitListener([&](const ChangeSet& cs) {
    shipped.emplace_back();
    EncodeChangeSet(cs, &shipped.back());
  });
  testing::RandomWrites gen(11, kNow);
  ASSERT_TRUE(gen.Seed(source.get()));
  int refused = 0;
  for (int step = 0; step < 1500; ++step) {
    if (!gen.Step(source.get())) ++refused;
    for (const std::string& bytes : shipped) {
      auto cs = DecodeChangeSet(bytes);
      ASSERT_TRUE(cs) << cs.error().ToString();
      auto applied = replica.get()->Apply(*cs);
      ASSERT_TRUE(applied) << applied.error().ToString();
    }
    shipped.clear();
    if (step % 100 == 99) {
      ASSERT_EQ(Export(replica.get()), Export(source.get()))
          << "step " << step;
    }
  }
  EXPECT_GT(refused, 100);  // the mix exercises refusals too
  EXPECT_LT(refused, 1300);
  EXPECT_GT(Export(source.get()).size(), 2000u);  // the trees grew
  EXPECT_EQ(replica.get()->revision(), source.get()->revision());
  EXPECT_EQ(Export(replica.get()), Export(source.get()));
  EXPECT_EQ(Changelog(replica.get()), Changelog(source.get()));
  auto problems = replica.get()->Verify();
  ASSERT_TRUE(problems);
  EXPECT_TRUE(problems->empty()) << (*problems)[0];
}

TEST(ChangeSetTest, ApplyRefusesARevisionThatDoesNotFollow) {
  testing::TempStore tmp("cs_order");
  ChangeSet first;
  first.revision = 10;  // an empty store takes any revision: a bootstrap
  first.entry.revision = 10;
  first.records = {{Table::kSubjects, "user:a", std::nullopt}};
  std::string blob;
  layout::EncodeAttributes({}, &blob);
  first.records[0].value = blob;
  ASSERT_TRUE(tmp.get()->Apply(first));
  // A further part of revision 10 (no changelog changes): accepted.
  ChangeSet part;
  part.revision = 10;
  part.records = {{Table::kSubjects, "user:b", blob}};
  ASSERT_TRUE(tmp.get()->Apply(part));
  EXPECT_EQ(tmp.get()->revision(), 10u);
  for (Revision r : {Revision{9}, Revision{12}}) {
    ChangeSet bad = part;
    bad.revision = r;
    bad.entry.revision = r;
    bad.entry.changes = {{"subject.put", "user:c", ""}};
    auto refused = tmp.get()->Apply(bad);
    ASSERT_FALSE(refused) << r;
    EXPECT_EQ(refused.error().code(), StatusCode::kFailedPrecondition);
  }
  ChangeSet malformed;
  malformed.revision = 11;
  malformed.entry.revision = 11;
  malformed.records = {{Table::kResources, "file:x", std::string("\x05", 1)}};
  auto refused = tmp.get()->Apply(malformed);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(tmp.get()->revision(), 10u);
  auto view = tmp.get()->Read();
  ASSERT_TRUE(view);
  EXPECT_TRUE(view->SubjectExists({"user", "b"}));
  EXPECT_FALSE(view->GetResource({"file", "x"}));
}

// A gate that records what it was given and can refuse.
class RecordingGate : public WriteGate {
 public:
  explicit RecordingGate(Store* store) : store_(store) {}
  Result<Revision> Begin() override {
    ++begun;
    return store_->revision() + skew;
  }
  Status Commit(std::span<const ChangeSet> group) override {
    if (delay.count() > 0) std::this_thread::sleep_for(delay);
    group_sizes.push_back(group.size());
    committed.insert(committed.end(), group.begin(), group.end());
    return refuse_commit ? Status(StatusCode::kUnavailable, "source down")
                         : Status::Ok();
  }
  void Abort() override { ++aborted; }

  Store* store_;
  int begun = 0, aborted = 0;
  Revision skew = 0;
  bool refuse_commit = false;
  std::chrono::milliseconds delay{0};  // each Commit takes this long
  std::vector<ChangeSet> committed;
  std::vector<size_t> group_sizes;
};

TEST(ChangeSetTest, EveryWriteGoesThroughTheGate) {
  testing::TempStore tmp("cs_gate");
  RecordingGate gate(tmp.get());
  tmp.get()->SetWriteGate(&gate);
  testing::RandomWrites gen(3, kNow);
  auto seeded = gen.Seed(tmp.get());
  ASSERT_TRUE(seeded);
  ASSERT_EQ(gate.committed.size(), 1u);
  EXPECT_EQ(gate.committed[0].revision, *seeded);
  EXPECT_EQ(gate.aborted, 0);

  // A refused write: begun, aborted, nothing committed anywhere.
  auto refused = tmp.get()->Write(&gen.policy(), "", [](WriteTxn& w) {
    return w.PutResource({"file", "x", "group:missing", {}});
  });
  EXPECT_FALSE(refused);
  EXPECT_EQ(gate.begun, 2);
  EXPECT_EQ(gate.aborted, 1);

  // The source refuses: the local store keeps nothing of it.
  const std::string before = Export(tmp.get());
  gate.refuse_commit = true;
  auto down = tmp.get()->Write(&gen.policy(), "", [](WriteTxn& w) {
    return w.PutResource({"group", "g", "account:acme", {}});
  });
  ASSERT_FALSE(down);
  EXPECT_EQ(down.error().code(), StatusCode::kUnavailable);
  EXPECT_EQ(Export(tmp.get()), before);
  EXPECT_EQ(tmp.get()->revision(), *seeded);

  // The replica is behind the source: refused before anything is shipped.
  gate.refuse_commit = false;
  gate.skew = 1;
  const size_t shipped = gate.committed.size();
  auto behind = tmp.get()->Write(&gen.policy(), "", [](WriteTxn& w) {
    return w.PutResource({"group", "g", "account:acme", {}});
  });
  ASSERT_FALSE(behind);
  EXPECT_EQ(behind.error().code(), StatusCode::kUnavailable);
  EXPECT_EQ(gate.committed.size(), shipped);
  EXPECT_EQ(Export(tmp.get()), before);
  tmp.get()->SetWriteGate(nullptr);
}

// Writes that arrive while a group is being committed go together in the
// next one; each keeps its own revision, and a write that fails its rules
// fails alone.
TEST(ChangeSetTest, ConcurrentWritesThroughTheGateAreCommittedInGroups) {
  testing::TempStore tmp("cs_group");
  RecordingGate gate(tmp.get());
  tmp.get()->SetWriteGate(&gate);
  testing::RandomWrites gen(3, kNow);
  auto seeded = gen.Seed(tmp.get());
  ASSERT_TRUE(seeded);
  gate.delay = std::chrono::milliseconds(5);
  constexpr int kThreads = 8, kWrites = 12;
  std::vector<std::vector<Result<Revision>>> results(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kWrites; ++i) {
        const std::string id = "t" + std::to_string(t) + "_" + std::to_string(i);
        // Thread 0 writes under a parent that does not exist: refused.
        const std::string parent = t == 0 ? "group:missing" : "";
        results[t].push_back(tmp.get()->Write(
            &gen.policy(), "", [&](WriteTxn& w) {
              return t == 0 ? w.PutResource({"file", id, parent, {}})
                            : w.PutSubject({"user", id, {}});
            }));
      }
    });
  }
  for (std::thread& th : threads) th.join();
  std::set<Revision> revisions;
  for (int t = 0; t < kThreads; ++t) {
    for (const Result<Revision>& r : results[t]) {
      if (t == 0) {
        EXPECT_FALSE(r);
      } else {
        ASSERT_TRUE(r) << r.error().message();
        EXPECT_TRUE(revisions.insert(*r).second);
      }
    }
  }
  // Gap-free, one revision per write that succeeded.
  ASSERT_EQ(revisions.size(), size_t{(kThreads - 1) * kWrites});
  EXPECT_EQ(*revisions.begin(), *seeded + 1);
  EXPECT_EQ(*revisions.rbegin(), *seeded + revisions.size());
  EXPECT_EQ(tmp.get()->revision(), *revisions.rbegin());
  // Fewer groups than writes; the gate saw each revision once, in order.
  EXPECT_GT(*std::max_element(gate.group_sizes.begin(), gate.group_sizes.end()),
            1u);
  ASSERT_EQ(gate.committed.size(), revisions.size() + 1);
  for (size_t i = 1; i < gate.committed.size(); ++i) {
    EXPECT_EQ(gate.committed[i].revision, gate.committed[i - 1].revision + 1);
  }
  auto view = tmp.get()->Read();
  ASSERT_TRUE(view);
  for (int t = 1; t < kThreads; ++t) {
    EXPECT_TRUE(view->SubjectExists({"user", "t" + std::to_string(t) + "_0"}));
  }
  EXPECT_FALSE(view->GetResource({"file", "t0_0"}));
  tmp.get()->SetWriteGate(nullptr);
}

}  // namespace
}  // namespace portcullis::storage
