// LatencyHistogram: a log-bucketed histogram of durations in nanoseconds.
//
// The same idea as HdrHistogram with two significant decimal digits: values
// below 2^kSubBucketBits (256 ns) are counted exactly; above that, each power
// of two is split into 128 equal sub-buckets, so a bucket is never wider than
// 1/128 of its lower bound. Every reported percentile is the upper
// bound of the bucket that holds it (clamped to the exact recorded maximum),
// so it overstates the true value by less than 0.79% and never understates
// it. The range is 0 ns .. kMaxValue (about 68.7 s); larger values are
// counted as kMaxValue and reported by saturated_count().
//
// Recording is a few instructions and never allocates (the buckets are a
// fixed array allocated at construction). Not thread-safe: give each thread
// its own histogram and Merge() them at the end.
#ifndef PORTCULLIS_BENCH_HISTOGRAM_H_
#define PORTCULLIS_BENCH_HISTOGRAM_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace portcullis::bench {

class LatencyHistogram {
 public:
  // 256 exact values, then 128 sub-buckets per power of two.
  static constexpr int kSubBucketBits = 8;
  static constexpr uint64_t kSubBucketCount = uint64_t{1} << kSubBucketBits;
  static constexpr uint64_t kHalfSubBucketCount = kSubBucketCount / 2;
  // Highest power of two covered: values < 2^36 ns (68.7 s).
  static constexpr int kMaxExponent = 36;
  static constexpr uint64_t kMaxValue = (uint64_t{1} << kMaxExponent) - 1;

  LatencyHistogram();

  // Counts one value (in nanoseconds). Values above kMaxValue are clamped.
  void Record(uint64_t value_ns) { RecordN(value_ns, 1); }
  void RecordN(uint64_t value_ns, uint64_t n);

  // Adds every count of `other` to this one.
  void Merge(const LatencyHistogram& other);

  // Forgets every value.
  void Reset();

  uint64_t count() const { return count_; }
  // Exact minimum and maximum recorded (after clamping); 0 when empty.
  uint64_t min() const { return count_ == 0 ? 0 : min_; }
  uint64_t max() const { return max_; }
  // Exact mean of the recorded (clamped) values; 0 when empty.
  double mean() const;
  // How many recorded values were above kMaxValue.
  uint64_t saturated_count() const { return saturated_; }

  // The value at `percentile` (0..100): the smallest bucket upper bound such
  // that at least that share of values is at or below it, clamped to
  // [min(), max()]. Percentile 100 is max(); 0 is min(). 0 when empty.
  uint64_t ValueAtPercentile(double percentile) const;

  // Bucket arithmetic, exposed for tests.
  static size_t BucketIndex(uint64_t value_ns);
  static uint64_t BucketLowerBound(size_t index);
  static uint64_t BucketUpperBound(size_t index);  // inclusive
  static size_t BucketCount();

 private:
  std::vector<uint64_t> counts_;
  uint64_t count_ = 0;
  uint64_t min_ = UINT64_MAX;
  uint64_t max_ = 0;
  // Sum in long double would be slower; a 128-bit sum cannot overflow.
  unsigned __int128 sum_ = 0;
  uint64_t saturated_ = 0;
};

}  // namespace portcullis::bench

#endif  // PORTCULLIS_BENCH_HISTOGRAM_H_
