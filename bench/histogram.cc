#include "bench/histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace portcullis::bench {

namespace {
constexpr int kSubBits = LatencyHistogram::kSubBucketBits - 1;  // 7
constexpr uint64_t kExact = LatencyHistogram::kSubBucketCount;  // 256
constexpr uint64_t kHalf = LatencyHistogram::kHalfSubBucketCount;  // 128
}  // namespace

size_t LatencyHistogram::BucketCount() {
  return kExact + (kMaxExponent - kSubBucketBits) * kHalf;
}

size_t LatencyHistogram::BucketIndex(uint64_t v) {
  if (v > kMaxValue) v = kMaxValue;
  if (v < kExact) return static_cast<size_t>(v);
  const int e = std::bit_width(v) - 1;  // >= kSubBucketBits
  const uint64_t sub = (v >> (e - kSubBits)) - kHalf;  // 0 .. kHalf-1
  return kExact + static_cast<size_t>(e - kSubBucketBits) * kHalf + sub;
}

uint64_t LatencyHistogram::BucketLowerBound(size_t index) {
  if (index < kExact) return index;
  const size_t k = index - kExact;
  const int e = kSubBucketBits + static_cast<int>(k / kHalf);
  const uint64_t sub = k % kHalf;
  return (kHalf + sub) << (e - kSubBits);
}

uint64_t LatencyHistogram::BucketUpperBound(size_t index) {
  if (index < kExact) return index;
  const size_t k = index - kExact;
  const int e = kSubBucketBits + static_cast<int>(k / kHalf);
  return BucketLowerBound(index) + (uint64_t{1} << (e - kSubBits)) - 1;
}

LatencyHistogram::LatencyHistogram() : counts_(BucketCount(), 0) {}

void LatencyHistogram::RecordN(uint64_t v, uint64_t n) {
  if (n == 0) return;
  if (v > kMaxValue) {
    saturated_ += n;
    v = kMaxValue;
  }
  counts_[BucketIndex(v)] += n;
  count_ += n;
  sum_ += static_cast<unsigned __int128>(v) * n;
  min_ = std::min(min_, v);
  max_ = std::max(max_, v);
}

void LatencyHistogram::Merge(const LatencyHistogram& other) {
  if (other.count_ == 0) return;
  for (size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  sum_ += other.sum_;
  saturated_ += other.saturated_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
}

void LatencyHistogram::Reset() {
  std::fill(counts_.begin(), counts_.end(), 0);
  count_ = 0;
  min_ = UINT64_MAX;
  max_ = 0;
  sum_ = 0;
  saturated_ = 0;
}

double LatencyHistogram::mean() const {
  if (count_ == 0) return 0.0;
  return static_cast<double>(sum_) / static_cast<double>(count_);
}

uint64_t LatencyHistogram::ValueAtPercentile(double percentile) const {
  if (count_ == 0) return 0;
  if (!(percentile > 0.0)) return min();  // also catches NaN
  if (percentile >= 100.0) return max_;
  // The rank of the value sought, 1-based: at least that many values are at
  // or below it.
  uint64_t rank = static_cast<uint64_t>(
      std::ceil(percentile / 100.0 * static_cast<double>(count_)));
  rank = std::clamp<uint64_t>(rank, 1, count_);
  uint64_t seen = 0;
  for (size_t i = 0; i < counts_.size(); ++i) {
    seen += counts_[i];
    if (seen >= rank) {
      return std::clamp(BucketUpperBound(i), min(), max_);
    }
  }
  return max_;  // unreachable: the counts add up to count_
}

}  // namespace portcullis::bench
