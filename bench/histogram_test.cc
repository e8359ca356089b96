#include "bench/histogram.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include <gtest/gtest.h>

namespace portcullis::bench {
namespace {

// The exact percentile of sorted samples, with the same rank rule as the
// histogram: the smallest value with at least p% of the samples at or below.
uint64_t ExactPercentile(const std::vector<uint64_t>& sorted, double p) {
  uint64_t rank = static_cast<uint64_t>(
      std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
  rank = std::clamp<uint64_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

void ExpectWithinOnePercentAbove(uint64_t got, uint64_t exact) {
  EXPECT_GE(got, exact);
  EXPECT_LE(static_cast<double>(got),
            static_cast<double>(exact) * 1.01 + 1.0)
      << "exact " << exact;
}

TEST(LatencyHistogram, EmptyReportsZeros) {
  LatencyHistogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.min(), 0u);
  EXPECT_EQ(h.max(), 0u);
  EXPECT_EQ(h.mean(), 0.0);
  EXPECT_EQ(h.ValueAtPercentile(50), 0u);
  EXPECT_EQ(h.ValueAtPercentile(100), 0u);
}

TEST(LatencyHistogram, SmallValuesAreExact) {
  LatencyHistogram h;
  for (uint64_t v = 0; v < 256; ++v) h.Record(v);
  EXPECT_EQ(h.count(), 256u);
  EXPECT_EQ(h.min(), 0u);
  EXPECT_EQ(h.max(), 255u);
  EXPECT_EQ(h.ValueAtPercentile(50), 127u);  // rank 128 -> value 127
  EXPECT_EQ(h.ValueAtPercentile(100), 255u);
  EXPECT_DOUBLE_EQ(h.mean(), 127.5);
}

TEST(LatencyHistogram, BucketsAreContiguousAndNarrow) {
  for (size_t i = 0; i + 1 < LatencyHistogram::BucketCount(); ++i) {
    const uint64_t lo = LatencyHistogram::BucketLowerBound(i);
    const uint64_t hi = LatencyHistogram::BucketUpperBound(i);
    ASSERT_EQ(LatencyHistogram::BucketLowerBound(i + 1), hi + 1) << i;
    ASSERT_EQ(LatencyHistogram::BucketIndex(lo), i);
    ASSERT_EQ(LatencyHistogram::BucketIndex(hi), i);
    // Relative width below 1/128 of the lower bound.
    if (lo > 0) {
      ASSERT_LE((hi - lo + 1) * 128, std::max<uint64_t>(lo, 128)) << i;
    }
  }
  const size_t last = LatencyHistogram::BucketCount() - 1;
  EXPECT_EQ(LatencyHistogram::BucketUpperBound(last),
            LatencyHistogram::kMaxValue);
  EXPECT_EQ(LatencyHistogram::BucketIndex(LatencyHistogram::kMaxValue), last);
}

TEST(LatencyHistogram, SingleValueIsReportedExactlyAtEveryPercentile) {
  LatencyHistogram h;
  h.Record(123456789);  // inside a wide bucket: clamping to max keeps it exact
  for (double p : {0.0, 1.0, 50.0, 99.9, 100.0}) {
    EXPECT_EQ(h.ValueAtPercentile(p), 123456789u) << p;
  }
}

TEST(LatencyHistogram, UniformDistributionWithinOnePercent) {
  std::mt19937_64 rng(42);
  std::uniform_int_distribution<uint64_t> dist(100, 10'000'000);
  LatencyHistogram h;
  std::vector<uint64_t> samples;
  for (int i = 0; i < 200000; ++i) {
    const uint64_t v = dist(rng);
    samples.push_back(v);
    h.Record(v);
  }
  std::sort(samples.begin(), samples.end());
  for (double p : {50.0, 90.0, 99.0, 99.9}) {
    ExpectWithinOnePercentAbove(h.ValueAtPercentile(p),
                                ExactPercentile(samples, p));
  }
  EXPECT_EQ(h.max(), samples.back());
  EXPECT_EQ(h.min(), samples.front());
}

TEST(LatencyHistogram, LogNormalDistributionWithinOnePercent) {
  // Latencies are roughly log-normal: a body around 20 us, a long tail.
  std::mt19937_64 rng(7);
  std::lognormal_distribution<double> dist(std::log(20000.0), 1.0);
  LatencyHistogram h;
  std::vector<uint64_t> samples;
  for (int i = 0; i < 200000; ++i) {
    const uint64_t v = static_cast<uint64_t>(dist(rng));
    samples.push_back(v);
    h.Record(v);
  }
  std::sort(samples.begin(), samples.end());
  for (double p : {50.0, 90.0, 99.0, 99.9}) {
    ExpectWithinOnePercentAbove(h.ValueAtPercentile(p),
                                ExactPercentile(samples, p));
  }
  double sum = 0;
  for (uint64_t v : samples) sum += static_cast<double>(v);
  EXPECT_NEAR(h.mean(), sum / samples.size(), 1e-6 * sum / samples.size());
}

TEST(LatencyHistogram, BimodalPercentilesLandInTheRightMode) {
  LatencyHistogram h;
  h.RecordN(1000, 990);     // 99% fast
  h.RecordN(5'000'000, 10);  // 1% slow
  ExpectWithinOnePercentAbove(h.ValueAtPercentile(50), 1000);
  ExpectWithinOnePercentAbove(h.ValueAtPercentile(99), 1000);
  EXPECT_LT(h.ValueAtPercentile(99), 1100u);
  ExpectWithinOnePercentAbove(h.ValueAtPercentile(99.9), 5'000'000);
  EXPECT_EQ(h.max(), 5'000'000u);
}

TEST(LatencyHistogram, MergeEqualsRecordingEverythingInOne) {
  std::mt19937_64 rng(1);
  std::exponential_distribution<double> dist(1.0 / 50000.0);
  LatencyHistogram a, b, all;
  for (int i = 0; i < 50000; ++i) {
    const uint64_t v = static_cast<uint64_t>(dist(rng));
    (i % 3 == 0 ? a : b).Record(v);
    all.Record(v);
  }
  LatencyHistogram merged;
  merged.Merge(a);
  merged.Merge(b);
  merged.Merge(LatencyHistogram());  // merging an empty one changes nothing
  EXPECT_EQ(merged.count(), all.count());
  EXPECT_EQ(merged.min(), all.min());
  EXPECT_EQ(merged.max(), all.max());
  EXPECT_DOUBLE_EQ(merged.mean(), all.mean());
  for (double p : {0.0, 50.0, 90.0, 99.0, 99.9, 100.0}) {
    EXPECT_EQ(merged.ValueAtPercentile(p), all.ValueAtPercentile(p)) << p;
  }
}

TEST(LatencyHistogram, ValuesAboveTheRangeAreClampedAndCounted) {
  LatencyHistogram h;
  h.Record(10);
  h.Record(UINT64_MAX);
  h.Record(LatencyHistogram::kMaxValue + 1);
  EXPECT_EQ(h.count(), 3u);
  EXPECT_EQ(h.saturated_count(), 2u);
  EXPECT_EQ(h.max(), LatencyHistogram::kMaxValue);
  EXPECT_EQ(h.ValueAtPercentile(100), LatencyHistogram::kMaxValue);
  EXPECT_EQ(h.ValueAtPercentile(10), 10u);
}

TEST(LatencyHistogram, SixtySecondsFitsWithoutSaturating) {
  LatencyHistogram h;
  h.Record(60'000'000'000ULL);
  EXPECT_EQ(h.saturated_count(), 0u);
  EXPECT_EQ(h.max(), 60'000'000'000ULL);
}

TEST(LatencyHistogram, ResetForgetsEverything) {
  LatencyHistogram h;
  h.Record(5);
  h.Record(500000);
  h.Reset();
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.max(), 0u);
  EXPECT_EQ(h.ValueAtPercentile(50), 0u);
  h.Record(7);
  EXPECT_EQ(h.min(), 7u);
  EXPECT_EQ(h.ValueAtPercentile(50), 7u);
}

TEST(LatencyHistogram, OutOfRangePercentilesAreClamped) {
  LatencyHistogram h;
  h.Record(100);
  h.Record(200);
  EXPECT_EQ(h.ValueAtPercentile(-5), 100u);
  EXPECT_EQ(h.ValueAtPercentile(150), 200u);
  EXPECT_EQ(h.ValueAtPercentile(std::nan("")), 100u);
}

}  // namespace
}  // namespace portcullis::bench
