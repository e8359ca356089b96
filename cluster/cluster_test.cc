// The PostgreSQL source and the replicas fed from it, in one process: a
// real PostgreSQL (tests/support/pg_server.h) and stores in temporary
// folders. The daemon-level tests are tests/cluster/.
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "cluster/pg.h"
#include "cluster/replica.h"
#include "cluster/revision_waiters.h"
#include "cluster/schema.h"
#include "storage/jsonl.h"
#include "tests/support/pg_server.h"
#include "tests/support/temp_store.h"
#include "tests/support/test_policies.h"

namespace portcullis::cluster {
namespace {

using storage::Revision;
using testing::PgServer;

// One server for the program; each test makes its own database.
PgServer* server = nullptr;

class ClusterEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    server = new PgServer();
    const std::string error = server->Start();
    // No PostgreSQL is a failure, not a skip: the install script installs it.
    ASSERT_EQ(error, "");
  }
  void TearDown() override {
    delete server;
    server = nullptr;
  }
};
const auto* const kEnvironment =
    ::testing::AddGlobalTestEnvironment(new ClusterEnvironment());

// A fresh folder under the temporary directory, removed at the end.
class TempDir {
 public:
  TempDir() {
    static std::atomic<int> n{0};
    path_ = (std::filesystem::temp_directory_path() /
             ("portcullis_cluster_" + std::to_string(::getpid()) + "_" +
              std::to_string(n++)))
                .string();
    std::filesystem::remove_all(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

class ClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(server, nullptr);
    url_ = server->CreateDatabase();
    ASSERT_NE(url_, "");
    database_ = url_.substr(url_.rfind('/') + 1);
  }

  std::unique_ptr<Replica> OpenReplica(const std::string& dir) {
    ReplicaOptions o;
    o.source_url = url_;
    o.data_dir = dir;
    o.store_options.no_sync = true;
    o.follower.poll_interval = std::chrono::milliseconds(200);
    o.follower.retry_interval = std::chrono::milliseconds(100);
    o.follower.bootstrap_chunk = 3;  // several chunks even for small data
    o.follower.log = [](std::string_view line) {
      fprintf(stderr, "%.*s\n", static_cast<int>(line.size()), line.data());
    };
    auto r = Replica::Open(std::move(o));
    EXPECT_TRUE(r) << r.error().message();
    return r ? std::move(*r) : nullptr;
  }

  // Writes resource file:<id> in group:g1 (which LoadTestData makes).
  Result<Revision> PutFile(Replica& r, const std::string& id) {
    return r.store()->Write(policy_.get(), "user:test",
                            [&](storage::WriteTxn& txn) {
                              return txn.PutResource(
                                  {"file", id, "group:g1", {}});
                            });
  }

  static std::string Export(storage::Store* store) {
    auto view = store->Read();
    std::ostringstream out;
    if (!view || !storage::ExportJsonl(*view, out)) return "<failed>";
    return out.str();
  }

  std::string Sql(const std::string& sql) {
    return server->Sql(database_, sql);
  }

  std::string url_;
  std::string database_;
  std::shared_ptr<const engine::Policy> policy_ = testing::MakeTestPolicy();
};

TEST(RevisionWaitersTest, WakesOnAdvanceBoundedAndCancellable) {
  auto waiters = std::make_shared<RevisionWaiters>(2);
  waiters->Advance(3);
  int woke = 0;
  // Already there: called at once.
  EXPECT_TRUE(waiters->Add(3, [&] { ++woke; }));
  EXPECT_EQ(woke, 1);
  std::shared_ptr<void> five = waiters->Add(5, [&] { woke += 10; });
  std::shared_ptr<void> six = waiters->Add(6, [&] { woke += 100; });
  ASSERT_TRUE(five && six);
  EXPECT_FALSE(waiters->Add(7, [&] { woke += 1000; }));  // two wait already
  six.reset();  // cancelled
  EXPECT_EQ(waiters->waiting(), 1u);
  waiters->Advance(4);
  EXPECT_EQ(woke, 1);
  waiters->Advance(9);
  EXPECT_EQ(woke, 11);
  EXPECT_EQ(waiters->revision(), 9u);
  waiters->Advance(8);  // never back
  EXPECT_EQ(waiters->revision(), 9u);
  EXPECT_EQ(waiters->waiting(), 0u);
}

TEST_F(ClusterTest, SchemaIsCreatedOnceByConcurrentDaemons) {
  std::vector<std::string> ids(4);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < ids.size(); ++i) {
    threads.emplace_back([&, i] {
      auto conn = PgConnection::Connect(url_, std::chrono::seconds(5));
      ASSERT_TRUE(conn) << conn.error().message();
      auto info = EnsureSchema(**conn);
      ASSERT_TRUE(info) << info.error().message();
      EXPECT_EQ(info->version, kSchemaVersion);
      ids[i] = info->cluster_id;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), 1u);
  EXPECT_NE(ids[0], "");
  EXPECT_EQ(Sql("SELECT count(*) FROM portcullis_schema"), "1");
  EXPECT_EQ(Sql("SELECT revision FROM portcullis_head"), "0");
}

TEST_F(ClusterTest, NewerSchemaIsRefused) {
  auto conn = PgConnection::Connect(url_, std::chrono::seconds(5));
  ASSERT_TRUE(conn);
  ASSERT_TRUE(EnsureSchema(**conn));
  Sql("UPDATE portcullis_schema SET version = 99");
  auto info = EnsureSchema(**conn);
  ASSERT_FALSE(info);
  EXPECT_EQ(info.error().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(info.error().message().find("version 99, newer"),
            std::string::npos)
      << info.error().message();
  TempDir dir;
  ReplicaOptions o;
  o.source_url = url_;
  o.data_dir = dir.path();
  auto r = Replica::Open(o);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("newer"), std::string::npos);
}

TEST_F(ClusterTest, WriteAtOneReplicaIsReadAtTheOther) {
  TempDir da, db;
  auto a = OpenReplica(da.path());
  auto b = OpenReplica(db.path());
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(testing::LoadTestData(a->store(), *policy_).ok());
  EXPECT_EQ(a->store()->revision(), 1u);  // acknowledged: applied locally
  auto r = PutFile(*a, "new");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(*r, 2u);
  ASSERT_TRUE(b->WaitForRevision(*r, std::chrono::seconds(10)));
  auto view = b->store()->Read();
  ASSERT_TRUE(view);
  auto got = view->GetResourceRecord({"file", "new"});
  ASSERT_TRUE(got);
  EXPECT_EQ(got->parent, "group:g1");
  // The other way round, and the source holds what both hold.
  r = PutFile(*b, "other");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(*r, 3u);
  ASSERT_TRUE(a->WaitForRevision(3, std::chrono::seconds(10)));
  EXPECT_EQ(Export(a->store()), Export(b->store()));
  EXPECT_EQ(Sql("SELECT revision FROM portcullis_head"), "3");
  EXPECT_EQ(Sql("SELECT string_agg(revision::text, ',' ORDER BY revision) "
                "FROM portcullis_changes"),
            "1,2,3");
  // 6 resources, 3 subjects and 3 bindings, plus two files.
  EXPECT_EQ(Sql("SELECT count(*) FROM portcullis_records"), "14");
  auto va = a->store()->Verify();
  ASSERT_TRUE(va);
  EXPECT_TRUE(va->empty());
}

TEST_F(ClusterTest, ARefusedWriteTakesNoRevision) {
  TempDir da;
  auto a = OpenReplica(da.path());
  ASSERT_TRUE(a);
  ASSERT_TRUE(testing::LoadTestData(a->store(), *policy_).ok());
  // No such parent: the store's rules refuse it after Begin().
  auto r = a->store()->Write(policy_.get(), "", [](storage::WriteTxn& txn) {
    return txn.PutResource({"file", "x", "group:nope", {}});
  });
  ASSERT_FALSE(r);
  EXPECT_EQ(Sql("SELECT revision FROM portcullis_head"), "1");
  r = PutFile(*a, "ok");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(*r, 2u);
}

// PostgreSQL refuses one statement of the write's pipeline (here: the
// change log already holds the revision): nothing of it is committed, at
// the source or locally, and the next write takes the same revision.
TEST_F(ClusterTest, AWriteRefusedByPostgresIsMadeNowhere) {
  TempDir da;
  auto a = OpenReplica(da.path());
  ASSERT_TRUE(a);
  ASSERT_TRUE(testing::LoadTestData(a->store(), *policy_).ok());
  Sql("INSERT INTO portcullis_changes (revision, change_set) VALUES (2, '')");
  auto r = PutFile(*a, "refused");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), StatusCode::kUnavailable);
  EXPECT_NE(r.error().message().find("duplicate key"), std::string::npos)
      << r.error().message();
  EXPECT_EQ(Sql("SELECT revision FROM portcullis_head"), "1");
  EXPECT_EQ(Sql("SELECT count(*) FROM portcullis_records WHERE tbl = 0 AND "
                "key = 'file:refused'::bytea"),
            "0");
  EXPECT_EQ(a->store()->revision(), 1u);
  Sql("DELETE FROM portcullis_changes WHERE revision = 2");
  r = PutFile(*a, "accepted");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(*r, 2u);
}

TEST_F(ClusterTest, ConcurrentWritersAtTwoNodesTakeGapFreeRevisions) {
  TempDir da, db;
  auto a = OpenReplica(da.path());
  auto b = OpenReplica(db.path());
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(testing::LoadTestData(a->store(), *policy_).ok());
  constexpr int kPerThread = 15;
  std::vector<std::vector<Revision>> got(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      Replica& node = t % 2 == 0 ? *a : *b;
      for (int i = 0; i < kPerThread; ++i) {
        auto r = PutFile(node, "c" + std::to_string(t) + "_" +
                                   std::to_string(i));
        ASSERT_TRUE(r) << r.error().message();
        got[t].push_back(*r);
      }
    });
  }
  for (auto& t : threads) t.join();
  std::set<Revision> all;
  for (const auto& v : got) all.insert(v.begin(), v.end());
  const Revision last = 1 + 4 * kPerThread;
  ASSERT_EQ(all.size(), static_cast<size_t>(4 * kPerThread));
  EXPECT_EQ(*all.begin(), 2u);
  EXPECT_EQ(*all.rbegin(), last);
  ASSERT_TRUE(a->WaitForRevision(last, std::chrono::seconds(10)));
  ASSERT_TRUE(b->WaitForRevision(last, std::chrono::seconds(10)));
  EXPECT_EQ(Export(a->store()), Export(b->store()));
  EXPECT_EQ(Sql("SELECT count(*) = max(revision) FROM portcullis_changes"),
            "t");
}

// Group commit: concurrent writers at one node share PostgreSQL
// transactions, each write with its own revision and change-log row; one
// writer's refused writes fail alone.
TEST_F(ClusterTest, ConcurrentWritesAtOneNodeShareSourceTransactions) {
  TempDir da, db;
  auto a = OpenReplica(da.path());
  auto b = OpenReplica(db.path());
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(testing::LoadTestData(a->store(), *policy_).ok());
  constexpr int kThreads = 8, kPerThread = 25;
  std::vector<std::vector<Result<Revision>>> got(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const std::string id = "g" + std::to_string(t) + "_" + std::to_string(i);
        if (t == 0) {  // no such parent: refused by the store's rules
          got[t].push_back(a->store()->Write(
              policy_.get(), "", [&](storage::WriteTxn& txn) {
                return txn.PutResource({"file", id, "group:nope", {}});
              }));
        } else {
          got[t].push_back(PutFile(*a, id));
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  std::set<Revision> all;
  for (int t = 0; t < kThreads; ++t) {
    for (const auto& r : got[t]) {
      if (t == 0) {
        ASSERT_FALSE(r);
        EXPECT_EQ(r.error().code(), StatusCode::kNotFound);
      } else {
        ASSERT_TRUE(r) << r.error().message();
        all.insert(*r);
      }
    }
  }
  constexpr int kMade = (kThreads - 1) * kPerThread;
  ASSERT_EQ(all.size(), size_t{kMade});
  EXPECT_EQ(*all.begin(), 2u);
  EXPECT_EQ(*all.rbegin(), Revision{1 + kMade});
  EXPECT_EQ(Sql("SELECT revision FROM portcullis_head"),
            std::to_string(1 + kMade));
  EXPECT_EQ(Sql("SELECT count(*) = max(revision) FROM portcullis_changes"),
            "t");
  // Fewer PostgreSQL transactions than writes (each row's xmin is the
  // transaction that wrote it).
  const int transactions = std::stoi(Sql(
      "SELECT count(DISTINCT xmin::text) FROM portcullis_changes WHERE "
      "revision > 1"));
  EXPECT_LT(transactions, kMade);
  fprintf(stderr, "%d writes in %d transactions\n", kMade, transactions);
  ASSERT_TRUE(b->WaitForRevision(1 + kMade, std::chrono::seconds(10)));
  EXPECT_EQ(Export(a->store()), Export(b->store()));
  auto va = a->store()->Verify();
  ASSERT_TRUE(va);
  EXPECT_TRUE(va->empty());
}

// A replica's LMDB commits do not wait for the disk: a store left open by a
// previous boot of the machine may be torn, and is bootstrapped again; one
// left by a process of this boot (SIGKILL) is resumed.
TEST_F(ClusterTest, AReplicaLeftOpenByAnotherBootIsBootstrappedAgain) {
  TempDir da, db;
  {
    auto a = OpenReplica(da.path());
    ASSERT_TRUE(a);
    ASSERT_TRUE(testing::LoadTestData(a->store(), *policy_).ok());
    ASSERT_TRUE(PutFile(*a, "before"));
    EXPECT_TRUE(std::filesystem::exists(
        std::filesystem::path(da.path()) / kUnflushedFile));
  }
  // Closed cleanly: flushed, no marker.
  EXPECT_FALSE(std::filesystem::exists(std::filesystem::path(da.path()) /
                                       kUnflushedFile));
  {
    // As after SIGKILL: the marker holds this boot's id.
    std::ifstream boot("/proc/sys/kernel/random/boot_id");
    std::string id;
    std::getline(boot, id);
    std::ofstream(std::filesystem::path(da.path()) / kUnflushedFile)
        << id << "\n";
    auto a = OpenReplica(da.path());
    ASSERT_TRUE(a);
    EXPECT_EQ(a->State().bootstraps, 0u);
    EXPECT_EQ(a->store()->revision(), 2u);
  }
  std::ofstream(std::filesystem::path(da.path()) / kUnflushedFile)
      << "00000000-0000-0000-0000-000000000000\n";
  auto a = OpenReplica(da.path());
  ASSERT_TRUE(a);
  EXPECT_EQ(a->State().bootstraps, 1u);
  EXPECT_EQ(a->State().rebootstraps, 1u);
  EXPECT_EQ(a->store()->revision(), 2u);
  auto b = OpenReplica(db.path());
  ASSERT_TRUE(b);
  EXPECT_EQ(Export(a->store()), Export(b->store()));
}

TEST_F(ClusterTest, RestartResumesFromTheLocalRevision) {
  TempDir da, db;
  auto a = OpenReplica(da.path());
  ASSERT_TRUE(a);
  ASSERT_TRUE(testing::LoadTestData(a->store(), *policy_).ok());
  auto b = OpenReplica(db.path());
  ASSERT_TRUE(b);
  EXPECT_EQ(b->State().bootstraps, 1u);
  b.reset();
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(PutFile(*a, "r" + std::to_string(i)));
  b = OpenReplica(db.path());
  ASSERT_TRUE(b);
  EXPECT_EQ(b->store()->revision(), 6u);  // caught up before serving
  EXPECT_EQ(b->State().bootstraps, 0u);   // by the change log
  EXPECT_EQ(b->State().applied_changes, 5u);
  EXPECT_EQ(Export(a->store()), Export(b->store()));
}

TEST_F(ClusterTest, ChangeLogPastTheReplicaMeansANewBootstrap) {
  TempDir da, db;
  auto a = OpenReplica(da.path());
  ASSERT_TRUE(a);
  ASSERT_TRUE(testing::LoadTestData(a->store(), *policy_).ok());
  auto b = OpenReplica(db.path());
  ASSERT_TRUE(b);
  b.reset();
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(PutFile(*a, "t" + std::to_string(i)));
  Sql("DELETE FROM portcullis_changes WHERE revision <= 3");
  b = OpenReplica(db.path());
  ASSERT_TRUE(b);
  EXPECT_EQ(b->State().rebootstraps, 1u);
  EXPECT_EQ(b->State().bootstraps, 1u);
  EXPECT_EQ(b->store()->revision(), 5u);
  EXPECT_EQ(Export(a->store()), Export(b->store()));
  auto v = b->store()->Verify();
  ASSERT_TRUE(v);
  EXPECT_TRUE(v->empty());
  // And it follows on from there.
  auto r = PutFile(*a, "after");
  ASSERT_TRUE(r);
  ASSERT_TRUE(b->WaitForRevision(*r, std::chrono::seconds(10)));
}

// A running replica that the change log no longer reaches (a commit it was
// not told of, then the log pruned past it) replaces its store with a
// snapshot in one transaction, and follows on from there.
TEST_F(ClusterTest, ARunningReplicaPastTheChangeLogBootstrapsAgainInPlace) {
  TempDir da, db;
  auto a = OpenReplica(da.path());
  auto b = OpenReplica(db.path());
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(testing::LoadTestData(a->store(), *policy_).ok());
  ASSERT_TRUE(b->WaitForRevision(1, std::chrono::seconds(10)));
  Sql("BEGIN; UPDATE portcullis_head SET revision = 3; "
      "INSERT INTO portcullis_records (tbl, key, value) SELECT tbl, "
      "'file:behind'::bytea, value FROM portcullis_records WHERE tbl = 0 "
      "AND key = 'file:f1'::bytea; "
      "INSERT INTO portcullis_changes (revision, change_set) "
      "SELECT 3, change_set FROM portcullis_changes WHERE revision = 1; "
      "DELETE FROM portcullis_changes WHERE revision < 3; COMMIT; "
      "NOTIFY portcullis_changes");
  ASSERT_TRUE(b->WaitForRevision(3, std::chrono::seconds(10)));
  const ReplicaState st = b->State();
  EXPECT_FALSE(st.stuck);
  EXPECT_EQ(st.rebootstraps, 1u);
  auto view = b->store()->Read();
  ASSERT_TRUE(view);
  EXPECT_EQ(view->revision(), 3u);
  EXPECT_TRUE(view->GetResourceRecord({"file", "behind"}));
  auto changes = view->Changes(2, 10);  // the changelog starts at 3
  ASSERT_TRUE(changes);
  ASSERT_EQ(changes->size(), 1u);
  EXPECT_EQ((*changes)[0].changes[0].op, "replica.bootstrap");
  // And it follows on from there.
  ASSERT_TRUE(a->WaitForRevision(3, std::chrono::seconds(10)));
  auto r = PutFile(*a, "after");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(*r, 4u);
  ASSERT_TRUE(b->WaitForRevision(4, std::chrono::seconds(10)));
  EXPECT_EQ(Export(a->store()), Export(b->store()));
  auto vb = b->store()->Verify();
  ASSERT_TRUE(vb);
  EXPECT_TRUE(vb->empty());
}

TEST_F(ClusterTest, AServingEmptyReplicaPastTheChangeLogBootstrapsInPlace) {
  TempDir db;
  auto b = OpenReplica(db.path());
  ASSERT_TRUE(b);
  EXPECT_EQ(b->store()->revision(), 0u);
  Sql("BEGIN; UPDATE portcullis_head SET revision = 2; "
      "INSERT INTO portcullis_changes (revision, change_set) "
      "VALUES (2, '\\x00'::bytea); COMMIT; NOTIFY portcullis_changes");
  ASSERT_TRUE(b->WaitForRevision(2, std::chrono::seconds(10)));
  EXPECT_FALSE(b->State().stuck);
  EXPECT_EQ(b->State().rebootstraps, 1u);
}

// The writer dies after PostgreSQL's COMMIT and before its own LMDB commit
// and its answer: the write is made (at the source, at every other node, and
// at the writer once it restarts) but was never acknowledged.
TEST_F(ClusterTest, AWriterKilledAfterTheSourceCommitLeavesTheWriteEverywhere) {
  TempDir da, db;
  {
    auto a = OpenReplica(da.path());
    ASSERT_TRUE(a);
    ASSERT_TRUE(testing::LoadTestData(a->store(), *policy_).ok());
  }
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ReplicaOptions o;
    o.source_url = url_;
    o.data_dir = da.path();
    o.store_options.no_sync = true;
    o.after_source_commit = [] { ::_exit(42); };
    auto a = Replica::Open(std::move(o));
    if (!a) ::_exit(1);
    auto r = PutFile(**a, "unacknowledged");
    ::_exit(r ? 2 : 3);  // not reached: the hook ends the process first
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 42);
  EXPECT_EQ(Sql("SELECT revision FROM portcullis_head"), "2");
  auto b = OpenReplica(db.path());
  ASSERT_TRUE(b);
  EXPECT_EQ(b->store()->revision(), 2u);
  auto a = OpenReplica(da.path());
  ASSERT_TRUE(a);
  EXPECT_EQ(a->store()->revision(), 2u);  // from the change log
  auto view = a->store()->Read();
  ASSERT_TRUE(view);
  EXPECT_TRUE(view->GetResourceRecord({"file", "unacknowledged"}));
  EXPECT_EQ(Export(a->store()), Export(b->store()));
}

TEST_F(ClusterTest, UnreachableSourceWithoutAReplicaFailsToOpen) {
  TempDir d;
  ReplicaOptions o;
  o.source_url = "postgresql://postgres@127.0.0.1:1/nowhere";
  o.data_dir = d.path();
  auto r = Replica::Open(o);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), StatusCode::kUnavailable);
  EXPECT_NE(r.error().message().find("no local replica"), std::string::npos)
      << r.error().message();
}

TEST_F(ClusterTest, UnreachableSourceServesTheLocalReplicaReadOnly) {
  TempDir d;
  {
    auto a = OpenReplica(d.path());
    ASSERT_TRUE(a);
    ASSERT_TRUE(testing::LoadTestData(a->store(), *policy_).ok());
  }
  ReplicaOptions o;
  o.source_url = "postgresql://postgres@127.0.0.1:1/nowhere";
  o.data_dir = d.path();
  o.store_options.no_sync = true;
  auto r = Replica::Open(o);
  ASSERT_TRUE(r) << r.error().message();
  Replica& node = **r;
  EXPECT_EQ(node.store()->revision(), 1u);
  EXPECT_FALSE(node.State().source_reachable);
  auto view = node.store()->Read();
  ASSERT_TRUE(view);
  EXPECT_TRUE(view->GetResourceRecord({"file", "f1"}));
  auto w = PutFile(node, "refused");
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error().code(), StatusCode::kUnavailable);
  EXPECT_NE(w.error().message().find("writes are refused"),
            std::string::npos)
      << w.error().message();
}

TEST_F(ClusterTest, AnEmbeddedStoreIsNotTakenForAReplica) {
  testing::TempStore embedded("embedded");
  ASSERT_TRUE(testing::LoadTestData(embedded.get(), *policy_).ok());
  const std::string dir = embedded.dir().string();
  ReplicaOptions o;
  o.source_url = url_;
  o.data_dir = dir;
  auto r = Replica::Open(o);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(r.error().message().find("not a replica"), std::string::npos);
}

TEST_F(ClusterTest, ACutShortBootstrapIsDiscarded) {
  TempDir da, db;
  auto a = OpenReplica(da.path());
  ASSERT_TRUE(a);
  ASSERT_TRUE(testing::LoadTestData(a->store(), *policy_).ok());
  {
    auto b = OpenReplica(db.path());
    ASSERT_TRUE(b);
  }
  // As if the process had died in the middle of its bootstrap.
  std::ofstream(std::filesystem::path(db.path()) / kBootstrapMarker) << "1\n";
  auto b = OpenReplica(db.path());
  ASSERT_TRUE(b);
  EXPECT_EQ(b->State().bootstraps, 1u);
  EXPECT_FALSE(std::filesystem::exists(std::filesystem::path(db.path()) /
                                       kBootstrapMarker));
  EXPECT_EQ(Export(a->store()), Export(b->store()));
}

}  // namespace
}  // namespace portcullis::cluster
