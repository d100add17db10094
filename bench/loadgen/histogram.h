// Latency histogram with log-linear buckets (HDR-style): exact below 256 us, then 128 sub-buckets per
// power of two, so any recorded value is off by less than 1 %. Fixed size, so recording millions of
// messages costs no allocation.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

namespace ks::bench {

class Histogram {
 public:
  // Values are microseconds; anything above ~2^40 us (12 days) lands in the last bucket.
  void record(uint64_t us);
  void merge(const Histogram& other);

  uint64_t count() const { return count_; }
  uint64_t max() const { return max_; }
  double mean() const { return count_ ? static_cast<double>(sum_) / static_cast<double>(count_) : 0.0; }
  // Value at quantile q in [0, 1] (upper edge of the bucket holding it); 0 when empty.
  uint64_t quantile(double q) const;
  // (value_us, cumulative fraction) for every non-empty bucket, in value order: the CDF.
  std::vector<std::pair<uint64_t, double>> cdf() const;

 private:
  static constexpr int kLinear = 256;
  static constexpr int kSubBits = 7;
  static constexpr int kSub = 1 << kSubBits;
  static constexpr int kMaxExp = 40;
  static constexpr int kBuckets = kLinear + (kMaxExp - 8 + 1) * kSub;

  static int index_of(uint64_t v);
  static uint64_t upper_of(int index);

  std::array<uint64_t, kBuckets> counts_{};
  uint64_t count_ = 0;
  uint64_t sum_ = 0;
  uint64_t max_ = 0;
};

}  // namespace ks::bench
