#include "protocol/wire.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace ks::protocol {
namespace {

std::string bytes(std::initializer_list<int> v) {
  std::string s;
  for (int b : v) s.push_back(static_cast<char>(b));
  return s;
}

TEST(Wire, FixedWidthBigEndianRoundTrip) {
  Writer w;
  w.write_i8(-2);
  w.write_i16(0x1234);
  w.write_i32(-5);
  w.write_i64(0x0102030405060708LL);
  w.write_u16(0xfffe);
  w.write_u32(0xdeadbeef);
  w.write_f64(2.5);
  w.write_bool(true);
  EXPECT_EQ(w.buffer().substr(0, 7), bytes({0xfe, 0x12, 0x34, 0xff, 0xff, 0xff, 0xfb}));
  Reader r(w.buffer());
  EXPECT_EQ(r.read_i8(), -2);
  EXPECT_EQ(r.read_i16(), 0x1234);
  EXPECT_EQ(r.read_i32(), -5);
  EXPECT_EQ(r.read_i64(), 0x0102030405060708LL);
  EXPECT_EQ(r.read_u16(), 0xfffe);
  EXPECT_EQ(r.read_u32(), 0xdeadbeefu);
  EXPECT_EQ(r.read_f64(), 2.5);
  EXPECT_TRUE(r.read_bool());
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.remaining(), 0u);
}

TEST(Wire, VarintsMatchKafkaEncoding) {
  Writer w;
  w.write_uvarint(300);
  w.write_varint(-1);
  w.write_varint(1);
  w.write_varint(-64);
  w.write_varlong(-1);
  EXPECT_EQ(w.buffer(), bytes({0xac, 0x02, 0x01, 0x02, 0x7f, 0x01}));
  for (int64_t v :
       std::initializer_list<int64_t>{0, 1, -1, 63, -65, int64_t{1} << 40, INT64_MIN, INT64_MAX}) {
    Writer w2;
    w2.write_varlong(v);
    Reader r(w2.buffer());
    EXPECT_EQ(r.read_varlong(), v);
    EXPECT_TRUE(r.ok());
  }
  for (int32_t v : {0, 1, -1, INT32_MIN, INT32_MAX}) {
    Writer w2;
    w2.write_varint(v);
    Reader r(w2.buffer());
    EXPECT_EQ(r.read_varint(), v);
  }
  Writer w3;
  w3.write_uvarint(UINT32_MAX);
  Reader r3(w3.buffer());
  EXPECT_EQ(r3.read_uvarint(), UINT32_MAX);
}

TEST(Wire, OverlongVarintFails) {
  std::string s = bytes({0xff, 0xff, 0xff, 0xff, 0x7f});  // > 32 bits
  Reader r(s);
  EXPECT_EQ(r.read_uvarint(), 0u);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.position(), 0u);
  EXPECT_NE(r.error().find("varint too long"), std::string::npos);
}

TEST(Wire, FailedReaderReturnsZerosAndKeepsFirstPosition) {
  std::string s = bytes({0x00, 0x01, 0x02});
  Reader r(s);
  EXPECT_EQ(r.read_i16(), 1);
  EXPECT_EQ(r.read_i32(), 0);  // truncated at byte 2
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.read_i8(), 0);  // would have been 0x02 if the reader had not failed
  EXPECT_EQ(r.read_string(false), "");
  EXPECT_EQ(r.position(), 2u);
  EXPECT_EQ(r.remaining(), 0u);
  EXPECT_EQ(r.error(), "truncated at byte 2");
}

TEST(Wire, StringsClassicAndCompact) {
  Writer w;
  w.write_string("abc", false);
  w.write_nullable_string(std::nullopt, false);
  w.write_string("xy", true);
  w.write_nullable_string(std::nullopt, true);
  w.write_bytes("\x01", false);
  w.write_nullable_bytes(std::nullopt, true);
  EXPECT_EQ(w.buffer(), bytes({0, 3, 'a', 'b', 'c', 0xff, 0xff, 3, 'x', 'y', 0, 0, 0, 0, 1, 1, 0}));
  Reader r(w.buffer());
  EXPECT_EQ(r.read_string(false), "abc");
  EXPECT_EQ(r.read_nullable_string(false), std::nullopt);
  EXPECT_EQ(r.read_string(true), "xy");
  EXPECT_EQ(r.read_nullable_string(true), std::nullopt);
  EXPECT_EQ(r.read_bytes(false), "\x01");
  EXPECT_EQ(r.read_nullable_bytes(true), std::nullopt);
  EXPECT_TRUE(r.ok());
}

TEST(Wire, NullInNonNullableStringFails) {
  std::string s = bytes({0xff, 0xff});
  Reader r(s);
  r.read_string(false);
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.error().find("null string"), std::string::npos);
}

TEST(Wire, HostileLengthsFailBeforeAllocating) {
  std::string s = bytes({0x7f, 0xff, 0xff, 0xff, 'a'});
  {
    Reader r(s);
    EXPECT_EQ(r.read_array_length(false), -1);
    EXPECT_FALSE(r.ok());
    EXPECT_NE(r.error().find("array length 2147483647 exceeds the 1 remaining bytes"), std::string::npos)
        << r.error();
  }
  {
    Reader r(s);
    r.read_bytes(false);
    EXPECT_FALSE(r.ok());
    EXPECT_EQ(r.position(), 0u);
  }
  {
    Reader r(s);
    r.read_string(false);  // int16 length 0x7fff
    EXPECT_FALSE(r.ok());
  }
  {
    std::string neg = bytes({0xff, 0xff, 0xff, 0xfe});
    Reader r(neg);
    r.read_array_length(false);
    EXPECT_FALSE(r.ok());
    EXPECT_NE(r.error().find("invalid array length -2"), std::string::npos);
  }
  {
    // Element size bound: 2 int32 elements need 8 bytes, only 5 remain.
    std::string two = bytes({0, 0, 0, 2, 1, 2, 3, 4, 5});
    Reader r(two);
    r.read_array_length(false, 4);
    EXPECT_FALSE(r.ok());
  }
}

TEST(Wire, TaggedFieldsSkipped) {
  std::string s = bytes({2, 5, 3, 'a', 'b', 'c', 9, 0, 0x42});
  Reader r(s);
  r.skip_tagged_fields();
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.read_i8(), 0x42);
  std::string bad = bytes({1, 5, 9, 'a'});
  Reader r2(bad);
  r2.skip_tagged_fields();
  EXPECT_FALSE(r2.ok());
}

TEST(Wire, FieldErrorBuildsPath) {
  Reader r("");
  r.read_i32();
  r.field_error("name");
  r.field_error("topics[0]");
  r.set_context("Produce v9 request");
  EXPECT_EQ(r.error(), "Produce v9 request: field topics[0].name: truncated at byte 0");
}

TEST(Records, DecodeIsAViewIntoTheInput) {
  std::string s = bytes({0, 0, 0, 3, 'x', 'y', 'z', 0xff, 0xff, 0xff, 0xff});
  Reader r(s);
  Records a = r.read_records(false);
  Records b = r.read_records(false);
  ASSERT_TRUE(r.ok());
  ASSERT_FALSE(a.is_null);
  ASSERT_EQ(a.slices.size(), 1u);
  EXPECT_EQ(a.slices[0].data(), s.data() + 4);
  EXPECT_EQ(a.size(), 3u);
  EXPECT_TRUE(b.is_null);
}

TEST(Records, EncodeWritesEverySliceAndCanReferenceThem) {
  auto one = std::make_shared<std::string>("hello ");
  auto two = std::make_shared<std::string>("world");
  Records rec;
  rec.append(*one, one);
  rec.append(*two, two);
  EXPECT_EQ(rec.size(), 11u);
  Writer copy;
  copy.write_i8(7);
  copy.write_records(rec, true);
  copy.write_i8(8);
  EXPECT_EQ(copy.buffer(), bytes({7, 12}) + "hello world" + bytes({8}));

  Writer ref(/*reference_records=*/true);
  ref.write_i8(7);
  ref.write_records(rec, true);
  ref.write_i8(8);
  EXPECT_TRUE(ref.has_external());
  EXPECT_EQ(ref.size(), copy.size());
  EXPECT_EQ(ref.flatten(), copy.buffer());
  auto segs = ref.segments();
  ASSERT_EQ(segs.size(), 4u);
  EXPECT_EQ(segs[1].data(), one->data());  // not copied
  EXPECT_EQ(segs[2].data(), two->data());
  auto owners = ref.take_owners();
  EXPECT_EQ(owners.size(), 2u);
}

TEST(Records, NullWrittenAsEmptyWhenNotNullable) {
  Writer w;
  w.write_records(Records{}, false, /*nullable=*/false);
  w.write_records(Records{}, false, /*nullable=*/true);
  EXPECT_EQ(w.buffer(), bytes({0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff}));
}

TEST(Writer, AppendKeepsExternalOffsetsAndPatch) {
  Writer outer(true);
  size_t at = outer.reserve_i32();
  Writer inner(true);
  inner.write_i8(1);
  inner.write_records(Records::view("abc"), false);
  outer.write_i8(9);
  outer.append(std::move(inner));
  outer.patch_i32(at, static_cast<int32_t>(outer.size() - 4));
  EXPECT_EQ(outer.flatten(), bytes({0, 0, 0, 9, 9, 1, 0, 0, 0, 3, 'a', 'b', 'c'}));
}

TEST(Uuid, Base64UrlLikeKafka) {
  Uuid zero;
  EXPECT_TRUE(zero.is_zero());
  EXPECT_EQ(zero.to_string(), "AAAAAAAAAAAAAAAAAAAAAA");
  Uuid u;
  for (size_t i = 0; i < 16; ++i) u.bytes[i] = static_cast<uint8_t>(0xf0 + i);
  std::string text = u.to_string();
  EXPECT_EQ(text.size(), 22u);
  EXPECT_EQ(text.find_first_of("+/="), std::string::npos);
  EXPECT_EQ(Uuid::parse(text), u);
  EXPECT_EQ(Uuid::parse("not-a-uuid"), std::nullopt);
  // 0xfb 0xff -> "-_" characters of the url-safe alphabet.
  Uuid v;
  v.bytes[0] = 0xfb;
  v.bytes[1] = 0xff;
  v.bytes[2] = 0xbf;
  EXPECT_EQ(v.to_string().substr(0, 4), "-_-_");
}

TEST(Uuid, RandomIsVersion4AndDistinct) {
  Uuid a = Uuid::random();
  Uuid b = Uuid::random();
  EXPECT_FALSE(a.is_zero());
  EXPECT_NE(a, b);
  EXPECT_EQ(a.bytes[6] >> 4, 4);
  EXPECT_EQ(a.bytes[8] >> 6, 2);
}

}  // namespace
}  // namespace ks::protocol
