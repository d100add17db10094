#include "loadgen/histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace ks::bench {

int Histogram::index_of(uint64_t v) {
  if (v < kLinear) return static_cast<int>(v);
  int e = 63 - std::countl_zero(v);  // >= 8
  if (e > kMaxExp) return kBuckets - 1;
  int shift = e - kSubBits;
  int sub = static_cast<int>(v >> shift) - kSub;  // in [0, kSub)
  return kLinear + (e - 8) * kSub + sub;
}

uint64_t Histogram::upper_of(int index) {
  if (index == kBuckets - 1) return UINT64_MAX;  // the overflow bucket: capped by max_ by the callers
  if (index < kLinear) return static_cast<uint64_t>(index);
  int k = index - kLinear;
  int e = k / kSub + 8;
  int sub = k % kSub;
  int shift = e - kSubBits;
  uint64_t lower = static_cast<uint64_t>(kSub + sub) << shift;
  return lower + (uint64_t{1} << shift) - 1;
}

void Histogram::record(uint64_t us) {
  ++counts_[index_of(us)];
  ++count_;
  sum_ += us;
  max_ = std::max(max_, us);
}

void Histogram::merge(const Histogram& other) {
  for (int i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  sum_ += other.sum_;
  max_ = std::max(max_, other.max_);
}

uint64_t Histogram::quantile(double q) const {
  if (count_ == 0) return 0;
  // Rank of the value at q (1-based); q=1 is the maximum.
  auto rank = static_cast<uint64_t>(std::ceil(std::clamp(q, 0.0, 1.0) * static_cast<double>(count_)));
  rank = std::max<uint64_t>(rank, 1);
  uint64_t seen = 0;
  for (int i = 0; i < kBuckets; ++i) {
    seen += counts_[i];
    if (seen >= rank) return std::min(upper_of(i), max_);
  }
  return max_;
}

std::vector<std::pair<uint64_t, double>> Histogram::cdf() const {
  std::vector<std::pair<uint64_t, double>> out;
  uint64_t seen = 0;
  for (int i = 0; i < kBuckets; ++i) {
    if (counts_[i] == 0) continue;
    seen += counts_[i];
    out.emplace_back(std::min(upper_of(i), max_), static_cast<double>(seen) / static_cast<double>(count_));
  }
  return out;
}

}  // namespace ks::bench
