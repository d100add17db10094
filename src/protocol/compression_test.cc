#include "protocol/compression.h"

#include <gtest/gtest.h>
#include <snappy.h>

#include <string>
#include <vector>

namespace ks::protocol {
namespace {

constexpr std::size_t kLimit = 64 << 20;
const std::vector<int> kCodecs = {kCompressionNone, kCompressionGzip, kCompressionSnappy, kCompressionLz4,
                                  kCompressionZstd};

std::string sample(std::size_t n) {
  std::string s;
  s.reserve(n);
  std::uint32_t x = 12345;
  while (s.size() < n) {
    x = x * 1103515245 + 12345;
    s += "record-" + std::to_string(x % 1000) + ";";  // compressible, not trivial
  }
  s.resize(n);
  return s;
}

std::string plain_batch(int n = 50) {
  std::vector<TestRecord> recs;
  for (int i = 0; i < n; ++i) {
    TestRecord r;
    r.key = "key-" + std::to_string(i);
    r.value = sample(200 + static_cast<std::size_t>(i));
    r.headers.push_back({"h", std::string("v")});
    r.timestamp_delta = i;
    recs.push_back(std::move(r));
  }
  return build_batch(recs, 0, 1'700'000'000'000, 0, /*producer_id=*/7, /*producer_epoch=*/1,
                     /*base_sequence=*/40);
}

TEST(CompressionTest, EveryCodecRoundTrips) {
  for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{100}, std::size_t{200'000}}) {
    const std::string in = sample(n);
    for (int codec : kCodecs) {
      std::string error;
      auto packed = compress(codec, in, error);
      ASSERT_TRUE(packed) << codec_name(codec) << ": " << error;
      auto back = decompress(codec, *packed, kLimit, error);
      ASSERT_TRUE(back) << codec_name(codec) << " n=" << n << ": " << error;
      EXPECT_EQ(*back, in) << codec_name(codec);
    }
  }
}

TEST(CompressionTest, SnappyWritesXerialFramingAndReadsRawBlocks) {
  const std::string in = sample(100'000);
  std::string error;
  auto packed = compress(kCompressionSnappy, in, error);
  ASSERT_TRUE(packed);
  EXPECT_EQ(packed->substr(0, 8), std::string("\x82SNAPPY\0", 8));
  std::string raw;
  snappy::Compress(in.data(), in.size(), &raw);  // what librdkafka sends
  auto back = decompress(kCompressionSnappy, raw, kLimit, error);
  ASSERT_TRUE(back) << error;
  EXPECT_EQ(*back, in);
}

TEST(CompressionTest, DecompressionStopsAtTheLimit) {
  const std::string zeros(8 << 20, '\0');
  for (int codec : kCodecs) {
    std::string error;
    auto packed = compress(codec, zeros, error);
    ASSERT_TRUE(packed);
    auto back = decompress(codec, *packed, 1 << 20, error);
    EXPECT_FALSE(back) << codec_name(codec);
    EXPECT_NE(error.find("exceed 1048576 bytes"), std::string::npos) << codec_name(codec) << ": " << error;
  }
}

TEST(CompressionTest, CorruptAndTruncatedPayloadsAreRefused) {
  const std::string in = sample(50'000);
  for (int codec : {kCompressionGzip, kCompressionSnappy, kCompressionLz4, kCompressionZstd}) {
    std::string error;
    auto packed = compress(codec, in, error);
    ASSERT_TRUE(packed);
    EXPECT_FALSE(decompress(codec, packed->substr(0, packed->size() / 2), kLimit, error))
        << codec_name(codec);
    EXPECT_FALSE(error.empty());
    EXPECT_FALSE(decompress(codec, "not a compressed payload at all", kLimit, error)) << codec_name(codec);
  }
}

TEST(CompressionTest, RecompressKeepsTheBatchAndItsRecords) {
  const std::string plain = plain_batch();
  const BatchHeader ph = parse_batch_header(plain);
  for (int codec : kCodecs) {
    auto out = recompress_batch(plain, codec, kLimit);
    ASSERT_TRUE(std::holds_alternative<std::string>(out)) << codec_name(codec);
    const std::string& b = std::get<std::string>(out);
    auto checked = validate_record_set(b);
    ASSERT_TRUE(std::holds_alternative<std::vector<BatchInfo>>(checked)) << codec_name(codec);
    const BatchHeader h = parse_batch_header(b);
    EXPECT_EQ(h.compression(), codec);
    EXPECT_EQ(h.records_count, ph.records_count);
    EXPECT_EQ(h.last_offset_delta, ph.last_offset_delta);
    EXPECT_EQ(h.producer_id, 7);
    EXPECT_EQ(h.producer_epoch, 1);
    EXPECT_EQ(h.base_sequence, 40);
    EXPECT_EQ(h.base_timestamp, ph.base_timestamp);
    EXPECT_EQ(h.max_timestamp, ph.max_timestamp);
    if (codec != kCompressionNone) {
      EXPECT_LT(b.size(), plain.size()) << codec_name(codec);
    }
    // And back: the uncompressed batch is byte for byte the original.
    auto again = recompress_batch(b, kCompressionNone, kLimit);
    ASSERT_TRUE(std::holds_alternative<std::string>(again));
    EXPECT_EQ(std::get<std::string>(again), plain) << codec_name(codec);
  }
}

TEST(CompressionTest, RecompressRefusesBadPayloadsWithKafkasErrors) {
  const std::string plain = plain_batch(3);
  // A zstd batch whose payload is garbage: CORRUPT_MESSAGE.
  auto zstd_batch = std::get<std::string>(recompress_batch(plain, kCompressionZstd, kLimit));
  std::string garbage = zstd_batch;
  for (std::size_t i = kBatchHeaderSize; i < garbage.size(); ++i) garbage[i] = static_cast<char>(i * 31);
  auto r = recompress_batch(garbage, kCompressionGzip, kLimit);
  ASSERT_TRUE(std::holds_alternative<BatchError>(r));
  EXPECT_EQ(std::get<BatchError>(r).error_code, BatchError::kCorruptMessage);
  // Compressed records that do not parse (a record count the payload does not hold): INVALID_RECORD.
  std::string error;
  auto bad_records = compress(kCompressionLz4, "\x02\x00", error);
  ASSERT_TRUE(bad_records);
  std::string bad = zstd_batch.substr(0, kBatchHeaderSize) + *bad_records;
  auto lz4_attrs = static_cast<char>((zstd_batch[22] & ~kAttrCompressionMask) | kCompressionLz4);
  bad[22] = lz4_attrs;
  const auto len = static_cast<std::uint32_t>(bad.size() - kBatchLogOverhead);
  bad[8] = static_cast<char>(len >> 24);
  bad[9] = static_cast<char>(len >> 16);
  bad[10] = static_cast<char>(len >> 8);
  bad[11] = static_cast<char>(len);
  update_batch_crc(bad.data(), bad.size());
  r = recompress_batch(bad, kCompressionZstd, kLimit);
  ASSERT_TRUE(std::holds_alternative<BatchError>(r));
  EXPECT_EQ(std::get<BatchError>(r).error_code, BatchError::kInvalidRecord)
      << std::get<BatchError>(r).message;
  // Beyond the limit: MESSAGE_TOO_LARGE.
  r = recompress_batch(zstd_batch, kCompressionGzip, 100);
  ASSERT_TRUE(std::holds_alternative<BatchError>(r));
  EXPECT_EQ(std::get<BatchError>(r).error_code, static_cast<int16_t>(ErrorCode::kMessageTooLarge));
}

}  // namespace
}  // namespace ks::protocol
