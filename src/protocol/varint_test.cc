#include "protocol/varint.h"

#include <gtest/gtest.h>

#include <limits>

namespace ks::protocol {
namespace {

TEST(Varint, ZigzagRoundTrips) {
  EXPECT_EQ(zigzag_encode(std::int32_t{0}), 0u);
  EXPECT_EQ(zigzag_encode(std::int32_t{-1}), 1u);
  EXPECT_EQ(zigzag_encode(std::int32_t{1}), 2u);
  EXPECT_EQ(zigzag_encode(std::numeric_limits<std::int32_t>::min()), 0xffffffffu);
  for (std::int64_t v :
       {std::int64_t{0}, std::int64_t{-1}, std::int64_t{300}, std::numeric_limits<std::int64_t>::min(),
        std::numeric_limits<std::int64_t>::max()}) {
    EXPECT_EQ(zigzag_decode(zigzag_encode(v)), v);
  }
}

TEST(Varint, DecodesWhatItAppends) {
  for (std::uint64_t v : {std::uint64_t{0}, std::uint64_t{127}, std::uint64_t{128}, std::uint64_t{0xffffffff},
                          std::numeric_limits<std::uint64_t>::max()}) {
    std::string s;
    append_uvarint(s, v);
    std::size_t pos = 0;
    std::uint64_t out = 0;
    ASSERT_EQ(decode_uvarint(s, pos, 64, out), VarintResult::ok) << v;
    EXPECT_EQ(out, v);
    EXPECT_EQ(pos, s.size());
  }
}

TEST(Varint, RejectsTooLongAndTruncated) {
  std::size_t pos = 0;
  std::uint64_t out = 0;
  EXPECT_EQ(decode_uvarint("\xff\xff\xff\xff\x0f", pos, 32, out), VarintResult::ok);
  EXPECT_EQ(out, 0xffffffffu);
  pos = 0;
  EXPECT_EQ(decode_uvarint("\xff\xff\xff\xff\x1f", pos, 32, out), VarintResult::too_long);
  pos = 0;
  EXPECT_EQ(decode_uvarint("\xff\xff\xff\xff\x8f\x00", pos, 32, out), VarintResult::too_long);
  pos = 0;
  EXPECT_EQ(decode_uvarint("\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02", pos, 64, out), VarintResult::too_long);
  pos = 0;
  EXPECT_EQ(decode_uvarint("\xff\xff", pos, 64, out), VarintResult::truncated);
}

}  // namespace
}  // namespace ks::protocol
