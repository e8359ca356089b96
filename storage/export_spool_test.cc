#include "storage/export_spool.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <sstream>
#include <thread>

#include "storage/jsonl.h"

namespace portcullis::storage {
namespace {

TEST(ExportSpool, PullsExactlyWhatExportJsonlWrites) {
  const std::string dir = std::filesystem::temp_directory_path() /
                          ("portcullis_spool_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  auto store = Store::Open(dir);
  ASSERT_TRUE(store) << store.error().ToString();
  auto rev = (*store)->Write(nullptr, {}, [](WriteTxn &w) {
    for (int i = 0; i < 500; ++i) {
      Status s = w.PutResource({"account", "a" + std::to_string(i), "", {}});
      if (!s.ok())
        return s;
    }
    return Status::Ok();
  });
  ASSERT_TRUE(rev) << rev.error().ToString();
  std::string expected;
  {
    auto view = (*store)->Read();
    ASSERT_TRUE(view);
    std::ostringstream out;
    ASSERT_TRUE(ExportJsonl(*view, out));
    expected = out.str();
  }
  auto view = (*store)->Read();
  ASSERT_TRUE(view);
  auto spool = ExportSpool::Start(std::move(*view),
                                  std::filesystem::temp_directory_path());
  ASSERT_TRUE(spool) << spool.error().ToString();
  std::string got, piece;
  ExportSpool::State state;
  while ((state = (*spool)->Pull(&piece, 1000)) != ExportSpool::State::kEnd) {
    ASSERT_NE(state, ExportSpool::State::kFailed)
        << (*spool)->status().ToString();
    if (state == ExportSpool::State::kWait) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      continue;
    }
    EXPECT_LE(piece.size(), 1000u);
    got += piece;
  }
  EXPECT_TRUE((*spool)->status().ok());
  EXPECT_EQ(got, expected);
  spool->reset();
  store->reset();
  std::filesystem::remove_all(dir);
}

TEST(ExportSpool, FailsWhenTheTemporaryFileCannotBeCreated) {
  const std::string dir =
      std::filesystem::temp_directory_path() /
      ("portcullis_spool_nofile_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  auto store = Store::Open(dir);
  ASSERT_TRUE(store);
  auto view = (*store)->Read();
  ASSERT_TRUE(view);
  auto spool = ExportSpool::Start(std::move(*view), dir + "/no/such/folder");
  ASSERT_FALSE(spool);
  EXPECT_EQ(spool.error().code(), StatusCode::kUnavailable);
  store->reset();
  std::filesystem::remove_all(dir);
}

} // namespace
} // namespace portcullis::storage
