#include "cluster/topic_config.h"

#include <gtest/gtest.h>

namespace ks::cluster {
namespace {

TEST(TopicConfigTest, CompressionTypeTakesKafkasValues) {
  EXPECT_EQ(compression_codec("producer"), -1);
  EXPECT_EQ(compression_codec("uncompressed"), 0);
  EXPECT_EQ(compression_codec("gzip"), 1);
  EXPECT_EQ(compression_codec("snappy"), 2);
  EXPECT_EQ(compression_codec("lz4"), 3);
  EXPECT_EQ(compression_codec("zstd"), 4);
  EXPECT_EQ(compression_codec("none"), kUnknownCompression);  // Kafka's name is "uncompressed"
  EXPECT_EQ(compression_codec("ZSTD"), kUnknownCompression);
  for (const char* v : {"producer", "uncompressed", "gzip", "snappy", "lz4", "zstd"}) {
    EXPECT_EQ(validate_topic_config("compression.type", v), std::nullopt) << v;
  }
  auto err = validate_topic_config("compression.type", "brotli");
  ASSERT_TRUE(err);
  EXPECT_EQ(
      *err,
      "Invalid value brotli for configuration compression.type: String must be one of: uncompressed, zstd, "
      "lz4, snappy, gzip, producer");
}

TEST(TopicConfigTest, EffectiveCompression) {
  EXPECT_EQ(effective_settings({}).compression, -1);
  EXPECT_EQ(effective_settings({{"compression.type", "producer"}}).compression, -1);
  EXPECT_EQ(effective_settings({{"compression.type", "zstd"}}).compression, 4);
  EXPECT_EQ(effective_settings({{"compression.type", "uncompressed"}}).compression, 0);
}

}  // namespace
}  // namespace ks::cluster
