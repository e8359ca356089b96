#include "storage/store.h"

#include <gtest/gtest.h>

#include <filesystem>

namespace portcullis::storage {
namespace {

std::string TempDir(const char* name) {
  std::string dir = std::filesystem::temp_directory_path() /
                    ("portcullis_storage_" + std::string(name) + "_" +
                     std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  return dir;
}

TEST(Store, OpensEmptyAtRevisionZero) {
  auto store = Store::Open(TempDir("open"));
  ASSERT_TRUE(store) << store.error().ToString();
  EXPECT_EQ((*store)->revision(), 0u);
}

}  // namespace
}  // namespace portcullis::storage
