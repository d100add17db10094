#include "common/crc32c.h"

#include <gtest/gtest.h>

#include <string>

namespace ks {
namespace {

TEST(Crc32c, KnownVector) { EXPECT_EQ(crc32c("123456789"), 0xE3069283u); }

TEST(Crc32c, EmptyInput) {
  EXPECT_EQ(crc32c(""), 0u);
  // Empty input leaves a running CRC unchanged.
  EXPECT_EQ(crc32c("", 0xE3069283u), 0xE3069283u);
}

TEST(Crc32c, RfcVectors) {
  // RFC 3720 B.4: 32 bytes of zeros and 32 bytes of 0xFF.
  EXPECT_EQ(crc32c(std::string(32, '\0')), 0x8A9136AAu);
  EXPECT_EQ(crc32c(std::string(32, '\xFF')), 0x62A8AB43u);
}

TEST(Crc32c, ChainingEqualsWhole) {
  std::string data;
  for (int i = 0; i < 1000; ++i) data.push_back(static_cast<char>(i * 31 + 7));
  uint32_t whole = crc32c(data);
  for (size_t split = 0; split <= data.size(); split += 37) {
    std::string_view a(data.data(), split);
    std::string_view b(data.data() + split, data.size() - split);
    EXPECT_EQ(crc32c(b, crc32c(a)), whole) << "split at " << split;
  }
}

TEST(Crc32c, DetectsSingleBitFlip) {
  std::string data = "the quick brown fox";
  uint32_t good = crc32c(data);
  data[3] ^= 0x10;
  EXPECT_NE(crc32c(data), good);
}

}  // namespace
}  // namespace ks
