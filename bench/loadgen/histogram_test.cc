#include "loadgen/histogram.h"

#include <gtest/gtest.h>

namespace ks::bench {
namespace {

TEST(Histogram, EmptyIsZero) {
  Histogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.quantile(0.5), 0u);
  EXPECT_TRUE(h.cdf().empty());
}

TEST(Histogram, ExactBelow256) {
  Histogram h;
  for (uint64_t v = 1; v <= 100; ++v) h.record(v);
  EXPECT_EQ(h.quantile(0.5), 50u);
  EXPECT_EQ(h.quantile(0.99), 99u);
  EXPECT_EQ(h.quantile(1.0), 100u);
  EXPECT_DOUBLE_EQ(h.mean(), 50.5);
}

TEST(Histogram, WithinOnePercentAtLargeValues) {
  Histogram h;
  for (uint64_t v = 1000; v <= 1000000; v += 1000) h.record(v);  // 1,000 values
  for (double q : {0.5, 0.9, 0.99, 0.999}) {
    auto expect = static_cast<double>(static_cast<uint64_t>(q * 1000 + 0.5) * 1000);
    EXPECT_NEAR(static_cast<double>(h.quantile(q)), expect, expect * 0.01) << "q=" << q;
  }
  EXPECT_EQ(h.max(), 1000000u);
  EXPECT_EQ(h.quantile(1.0), 1000000u);
}

TEST(Histogram, HugeValuesClampToLastBucket) {
  Histogram h;
  h.record(uint64_t{1} << 60);
  EXPECT_EQ(h.count(), 1u);
  EXPECT_EQ(h.quantile(0.5), uint64_t{1} << 60);  // capped at the recorded maximum
}

TEST(Histogram, MergeAndCdf) {
  Histogram a, b;
  for (int i = 0; i < 90; ++i) a.record(10);
  for (int i = 0; i < 10; ++i) b.record(5000);
  a.merge(b);
  EXPECT_EQ(a.count(), 100u);
  EXPECT_EQ(a.quantile(0.9), 10u);
  EXPECT_NEAR(static_cast<double>(a.quantile(0.95)), 5000.0, 50.0);
  auto cdf = a.cdf();
  ASSERT_EQ(cdf.size(), 2u);
  EXPECT_EQ(cdf[0].first, 10u);
  EXPECT_DOUBLE_EQ(cdf[0].second, 0.9);
  EXPECT_DOUBLE_EQ(cdf[1].second, 1.0);
}

}  // namespace
}  // namespace ks::bench
