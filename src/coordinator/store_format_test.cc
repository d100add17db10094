#include "coordinator/store_format.h"

#include <gtest/gtest.h>

namespace ks::coordinator {
namespace {

std::string subscription(const std::vector<std::string>& topics) {
  std::string b;
  auto u16 = [&](int v) {
    b.push_back(static_cast<char>((v >> 8) & 0xFF));
    b.push_back(static_cast<char>(v & 0xFF));
  };
  auto u32 = [&](std::int32_t v) {
    for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<char>((v >> s) & 0xFF));
  };
  u16(1);
  u32(static_cast<std::int32_t>(topics.size()));
  for (const auto& t : topics) {
    u16(static_cast<int>(t.size()));
    b += t;
  }
  u32(-1);  // null user data
  u32(0);   // no owned partitions
  return b;
}

TEST(StoreFormat, KeysRoundTripAndStayInsideTheGroup) {
  for (std::string g :
       std::vector<std::string>{"plain.group-1_x", "", "a/b", "%", "..", std::string("n\0ul", 4), "über"}) {
    std::string enc = encode_group_id(g);
    EXPECT_EQ(enc.find('/'), std::string::npos) << g;
    EXPECT_EQ(decode_group_id(enc), g);
    auto k = parse_key(meta_key(13, g));
    ASSERT_TRUE(k) << g;
    EXPECT_EQ(k->kind, ParsedKey::Kind::kMeta);
    EXPECT_EQ(k->slot, 13);
    EXPECT_EQ(k->group, g);
    auto o = parse_key(offsets_key(55, g, "topic.a", 7));
    ASSERT_TRUE(o);
    EXPECT_EQ(o->kind, ParsedKey::Kind::kOffsets);
    EXPECT_EQ(o->slot, 55);
    EXPECT_EQ(o->group, g);
    EXPECT_EQ(o->topic, "topic.a");
    EXPECT_EQ(o->chunk, 7);
    EXPECT_TRUE(offsets_key(3, g, "t", 0).starts_with(group_prefix(3, g)));
    EXPECT_TRUE(group_prefix(3, g).starts_with(group_slot_prefix(3)));
  }
  EXPECT_EQ(meta_key(7, "g"), "/ks/groups/0007/g/meta");
  EXPECT_EQ(offsets_key(0, "g", "t", 2), "/ks/groups/0000/g/offsets/t/000002");
  // A group id that looks like a path cannot reach another group's keys.
  EXPECT_FALSE(meta_key(0, "a/meta").starts_with(group_prefix(0, "a")));
  EXPECT_FALSE(parse_key("/ks/groups/0000/a/other"));
  EXPECT_FALSE(parse_key("/ks/groups/0000/a/offsets/t/x1"));
  EXPECT_FALSE(parse_key("/ks/groups/0000/%zz/meta"));
  // The single-node layout (no slot) and malformed slots are not group keys.
  EXPECT_FALSE(parse_key("/ks/groups/a/meta"));
  EXPECT_FALSE(parse_key("/ks/groups/12/a/meta"));
  EXPECT_FALSE(parse_key("/ks/groups/00x1/a/meta"));
  EXPECT_FALSE(parse_key("/ks/groups/00001/a/meta"));
  EXPECT_FALSE(parse_key("/ks/topics/a"));
  EXPECT_EQ(chunk_of(0), 0);
  EXPECT_EQ(chunk_of(127), 0);
  EXPECT_EQ(chunk_of(128), 1);
}

TEST(StoreFormat, ChunkRoundTrip) {
  Chunk c;
  c.topic_id[0] = 0xAB;
  c.topic_id[15] = 0x01;
  c.parts[0] = OffsetValue{42, 3, "", 1000};
  c.parts[5] = OffsetValue{7, -1, std::string("meta\0\xff\"x", 8), 2000};
  auto d = decode_chunk(encode_chunk("t", c));
  ASSERT_TRUE(d.ok()) << d.status().to_string();
  EXPECT_EQ(*d, c);
  EXPECT_FALSE(decode_chunk("{").ok());
  EXPECT_FALSE(decode_chunk(R"({"v":2,"id":"00","p":[]})").ok());
  EXPECT_FALSE(decode_chunk(R"({"v":1,"id":"zz","p":[]})").ok());
  // Wrong types anywhere are errors, never exceptions.
  EXPECT_FALSE(decode_chunk(R"({"v":"1"})").ok());
  const std::string id(32, '0');
  EXPECT_FALSE(decode_chunk(R"({"v":1,"id":")" + id + R"(","p":[{"p":-1,"o":1}]})").ok());
  EXPECT_TRUE(decode_chunk(R"({"v":1,"id":")" + id + R"(","p":[{"p":1,"o":1,"e":"x","t":[]}]})").ok());
  EXPECT_FALSE(decode_group(R"({"v":1,"members":[{"id":5}]})").ok());
}

TEST(StoreFormat, LargestChunkFitsEtcdLimits) {
  Chunk c;
  for (int p = 0; p < kPartitionsPerKey; ++p)
    c.parts[p] = OffsetValue{1LL << 60, 1 << 30, std::string(4096, '\x01'), 1LL << 50};
  const std::string v = encode_chunk(std::string(249, 't'), c);
  EXPECT_LT(v.size(), 1u << 20);
}

TEST(StoreFormat, GroupRoundTrip) {
  StoredGroup g;
  g.protocol_type = "consumer";
  g.protocol = "range";
  g.generation = 12;
  g.leader = "m1";
  g.state_ms = 1234;
  g.members.push_back(StoredMember{"m1", "inst-1", "client", "/127.0.0.1", 10000, 30000, "sub\x01", "asg\0"});
  g.members.push_back(StoredMember{"m2", std::nullopt, "c2", "/::1", 6000, 6000, "", ""});
  auto d = decode_group(encode_group(g));
  ASSERT_TRUE(d.ok()) << d.status().to_string();
  EXPECT_EQ(*d, g);
  StoredGroup empty;
  empty.generation = 3;
  auto e = decode_group(encode_group(empty));
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(*e, empty);
  EXPECT_FALSE(decode_group("[]").ok());
}

TEST(StoreFormat, SubscribedTopics) {
  auto t = subscribed_topics(subscription({"a", "bb"}));
  ASSERT_TRUE(t);
  EXPECT_EQ(*t, (std::vector<std::string>{"a", "bb"}));
  EXPECT_FALSE(subscribed_topics(""));
  EXPECT_FALSE(subscribed_topics(std::string("\xff\xff\0\0\0\0", 6)));      // negative version
  EXPECT_FALSE(subscribed_topics(std::string("\0\0\x7f\xff\xff\xff", 6)));  // absurd count
  EXPECT_FALSE(
      subscribed_topics(std::string("\0\0\0\0\0\x01\0\x09"
                                    "ab",
                                    10)));  // string past the end
}

}  // namespace
}  // namespace ks::coordinator
