#include "cli/data_commands.h"

#include <gtest/gtest.h>
#include <lmdb.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "storage/layout.h"
#include "storage/store.h"
#include "storage/store_internal.h"
#include "tests/support/test_policies.h"

// In the store's namespace: the test corrupts an index through the store's
// internals (storage/store_internal.h) to see verify report it.
namespace portcullis::storage {
namespace {

using cli::RunExportCommand;
using cli::RunImportCommand;
using cli::RunVerifyCommand;

TEST(CliCommands, ImportExportVerify) {
  const std::string base = std::filesystem::temp_directory_path() /
                           ("portcullis_cli_" + std::to_string(::getpid()));
  std::filesystem::remove_all(base);
  std::filesystem::create_directories(base);
  const std::string file = base + "/in.jsonl";
  {
    std::ofstream f(file);
    f << R"({"kind":"resource","type":"account","id":"acme"})" << "\n"
      << R"({"kind":"resource","type":"group","id":"g1","parent":"account:acme"})"
      << "\n"
      << R"({"kind":"binding","subject":"user:alice","resource":"group:g1","roles":["member"],"state":"active"})"
      << "\n";
  }
  auto policy = testing::WorkspacePolicy();
  std::ostringstream out, err;
  ASSERT_EQ(RunImportCommand(file, base + "/data", policy.get(), out, err), 0)
      << err.str();
  EXPECT_NE(out.str().find("imported 3 records"), std::string::npos);

  std::ostringstream exported;
  ASSERT_EQ(RunExportCommand(base + "/data", exported, err), 0) << err.str();
  EXPECT_NE(exported.str().find(R"("id":"g1","parent":"account:acme")"),
            std::string::npos);

  std::ostringstream vout;
  EXPECT_EQ(RunVerifyCommand(base + "/data", vout, err), 0) << vout.str();
  EXPECT_NE(vout.str().find("ok: revision 1"), std::string::npos);

  // A missing store and a bad file fail with a message.
  std::ostringstream e2;
  EXPECT_EQ(RunExportCommand(base + "/nope", exported, e2), 1);
  EXPECT_NE(e2.str().find("no store"), std::string::npos);
  EXPECT_EQ(RunImportCommand(base + "/missing.jsonl", base + "/data",
                             policy.get(), out, e2),
            1);

  // Corrupt an index: verify reports it and exits 2.
  {
    auto store = Store::Open(base + "/data");
    ASSERT_TRUE(store);
    MDB_txn* txn;
    ASSERT_EQ(mdb_txn_begin(internal::Handles::Env(**store), nullptr, 0, &txn),
              0);
    MDB_val k{8, const_cast<char*>("group:g1")};
    MDB_val v{10, const_cast<char*>("file:ghost")};
    ASSERT_EQ(
        mdb_put(txn, internal::Handles::Dbis(**store).children, &k, &v, 0), 0);
    ASSERT_EQ(mdb_txn_commit(txn), 0);
  }
  std::ostringstream bad;
  EXPECT_EQ(RunVerifyCommand(base + "/data", bad, err), 2);
  EXPECT_NE(bad.str().find("file:ghost"), std::string::npos) << bad.str();
  std::filesystem::remove_all(base);
}

}  // namespace
}  // namespace portcullis::storage
