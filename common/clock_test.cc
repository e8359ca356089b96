#include "common/clock.h"

#include <gtest/gtest.h>

namespace portcullis {
namespace {

TEST(Clock, ParsesUtcTimestamp) {
  auto t = ParseRfc3339("2026-11-26T17:00:00Z");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(*t, int64_t{1795712400} * 1000000);
}

TEST(Clock, ParsesOffsetAndFraction) {
  auto a = ParseRfc3339("2026-11-26T18:00:00.25+01:00");
  auto b = ParseRfc3339("2026-11-26T17:00:00.250Z");
  ASSERT_TRUE(a && b);
  EXPECT_EQ(*a, *b);
}

TEST(Clock, RejectsMalformed) {
  EXPECT_FALSE(ParseRfc3339(""));
  EXPECT_FALSE(ParseRfc3339("2026-13-01T00:00:00Z"));
  EXPECT_FALSE(ParseRfc3339("2026-02-29T00:00:00Z"));
  EXPECT_FALSE(ParseRfc3339("2026-01-01T00:00:00"));
  EXPECT_FALSE(ParseRfc3339("2026-01-01T00:00:00Zjunk"));
  EXPECT_FALSE(ParseRfc3339("2026-01-01 00:00:00Z"));
}

TEST(Clock, FormatRoundTrips) {
  for (const char* s : {"1970-01-01T00:00:00Z", "2024-02-29T23:59:59Z",
                        "2026-11-26T17:00:00.000250Z", "1969-12-31T23:59:59Z"}) {
    auto t = ParseRfc3339(s);
    ASSERT_TRUE(t.has_value()) << s;
    EXPECT_EQ(FormatRfc3339(*t), s);
  }
}

}  // namespace
}  // namespace portcullis
