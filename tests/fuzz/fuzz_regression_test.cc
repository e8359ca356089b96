// Replays every committed fuzz input (seed corpora and the inputs of crashes
// found by the fuzzers) through the same functions the fuzz targets call, in
// the ordinary and sanitizer builds. A crash input fixed once stays fixed.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "tests/fuzz/fuzz_daemon.h"

namespace portcullis::fuzz {
namespace {

namespace fs = std::filesystem;

std::string ReadAll(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs every file under corpus/<target> and regressions/<target>; returns
// how many ran.
template <typename Fn>
int ReplayAll(const std::string& target, Fn run) {
  int n = 0;
  for (const char* kind : {"corpus", "regressions"}) {
    const fs::path dir = fs::path(PORTCULLIS_FUZZ_DIR) / kind / target;
    if (!fs::exists(dir)) continue;
    for (const auto& entry : fs::directory_iterator(dir)) {
      if (!entry.is_regular_file()) continue;
      const std::string problem = run(ReadAll(entry.path()));
      EXPECT_EQ(problem, "") << entry.path();
      ++n;
    }
  }
  return n;
}

TEST(FuzzRegression, Api) { EXPECT_GT(ReplayAll("api", RunApiInput), 0); }
TEST(FuzzRegression, Http) { EXPECT_GT(ReplayAll("http", RunHttpInput), 0); }
TEST(FuzzRegression, ChangeSet) {
  EXPECT_GT(ReplayAll("changeset", RunChangeSetInput), 0);
}
TEST(FuzzRegression, Jsonl) { EXPECT_GT(ReplayAll("jsonl", RunJsonlInput), 0); }

}  // namespace
}  // namespace portcullis::fuzz
