// Generated codecs: round trips for every API/direction/version, truncation, hostile input,
// tagged fields and byte-exact layouts from the protocol guide.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>

#include "protocol/generated/api_table.h"
#include "protocol/generated/samples.h"
#include "protocol/wire.h"

// Tracks the largest single allocation so tests can prove hostile lengths allocate nothing big.
namespace {
std::atomic<size_t> g_largest_alloc{0};
}  // namespace

void* operator new(size_t n) {
  size_t cur = g_largest_alloc.load(std::memory_order_relaxed);
  while (n > cur && !g_largest_alloc.compare_exchange_weak(cur, n, std::memory_order_relaxed)) {
  }
  void* p = std::malloc(n == 0 ? 1 : n);
  if (p == nullptr) std::abort();
  return p;
}
// g++ pairs these frees with the allocation functions above only by name and
// warns; they are the matching pair.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
#pragma GCC diagnostic pop

namespace ks::protocol {
namespace {

using samples::fill_sample;

std::string bytes(std::initializer_list<int> v) {
  std::string s;
  for (int b : v) s.push_back(static_cast<char>(b));
  return s;
}

template <class Msg>
std::string encode(const Msg& m, int16_t v) {
  Writer w;
  m.encode(w, v);
  return w.flatten();
}

template <class Msg>
std::string kind_of() {
  if constexpr (requires { typename Msg::ResponseType; }) {
    return "request";
  } else {
    return "response";
  }
}

// Encode -> decode -> re-encode must be byte-identical and value-identical.
template <class Msg>
void check_round_trip(int16_t v) {
  SCOPED_TRACE(std::string(Msg::kApiName) + " v" + std::to_string(v) + " " + kind_of<Msg>());
  Msg m;
  fill_sample(m, v, 1);
  const std::string wire = encode(m, v);
  // Only a body without fields (ApiVersions v0-2 request; ListGroups v3 request: just the tag
  // buffer) may equal the defaults.
  EXPECT_TRUE(!(m == Msg{}) || wire == encode(Msg{}, v)) << "sample must differ from the defaults";
  Msg d;
  Reader r(wire);
  ASSERT_TRUE(d.decode(r, v)) << r.error();
  EXPECT_EQ(r.remaining(), 0u);
  EXPECT_TRUE(d == m);
  EXPECT_EQ(encode(d, v), wire);

  // Every field set, encoded at v: fields absent in v must come back as their defaults.
  Msg all;
  fill_sample(all, -1, 1);
  const std::string wire_all = encode(all, v);
  Msg d2;
  Reader r2(wire_all);
  ASSERT_TRUE(d2.decode(r2, v)) << r2.error();
  EXPECT_TRUE(d2 == m);

  // Defaults round-trip too (null strings, null records, default tagged fields omitted).
  const Msg def;
  const std::string wire_def = encode(def, v);
  Msg d3;
  Reader r3(wire_def);
  ASSERT_TRUE(d3.decode(r3, v)) << r3.error();
  EXPECT_TRUE(d3 == def);
  // A sample that differs from the defaults encodes differently (fixed-width bodies such as
  // Heartbeat's error code keep their size).
  if (!(m == Msg{})) {
    EXPECT_NE(wire_def, wire);
    EXPECT_LE(wire_def.size(), wire.size());
  }
}

// Every proper prefix of a valid encoding must fail cleanly with a position inside the prefix.
template <class Msg>
void check_truncations(int16_t v) {
  Msg m;
  fill_sample(m, v, 2);
  const std::string wire = encode(m, v);
  const std::string ctx = std::string(Msg::kApiName) + " v" + std::to_string(v) + " " + kind_of<Msg>() + ": ";
  for (size_t len = 0; len < wire.size(); ++len) {
    Reader r(std::string_view(wire).substr(0, len));
    Msg d;
    ASSERT_FALSE(d.decode(r, v)) << ctx << "prefix " << len << " of " << wire.size() << " decoded";
    EXPECT_FALSE(r.ok());
    EXPECT_LE(r.position(), len);
    const std::string err = r.error();
    EXPECT_EQ(err.rfind(ctx, 0), 0u) << err;
    EXPECT_NE(err.find("at byte " + std::to_string(r.position())), std::string::npos) << err;
  }
}

template <class F>
void for_every_api_version(F&& f) {
  for (const ApiSpec& a : kApis) {
    for (int16_t v = a.min_version; v <= a.max_version; ++v) {
      bool known = visit_api(a.key, [&]<class Req, class Resp>() { f.template operator()<Req, Resp>(v); });
      ASSERT_TRUE(known);
    }
  }
}

TEST(Codec, RoundTripEveryApiEveryVersionBothDirections) {
  int checked = 0;
  for_every_api_version([&]<class Req, class Resp>(int16_t v) {
    check_round_trip<Req>(v);
    check_round_trip<Resp>(v);
    checked += 2;
  });
  // Every advertised version of every declared API, two directions each.
  int versions = 0;
  for (const ApiSpec& a : kApis) versions += a.max_version - a.min_version + 1;
  EXPECT_GE(versions, 5 + 13 + 12 + 13 + 8 + 8 + 7);
  EXPECT_EQ(checked, 2 * versions);
}

TEST(Codec, EveryTruncationFailsCleanly) {
  for_every_api_version([&]<class Req, class Resp>(int16_t v) {
    check_truncations<Req>(v);
    check_truncations<Resp>(v);
  });
}

TEST(Codec, ErrorNamesApiVersionFieldAndPosition) {
  ProduceRequest req;
  req.acks = -1;
  req.timeout_ms = 1000;
  auto& topic = req.topic_data.emplace_back();
  topic.name = "abc";
  auto& part = topic.partition_data.emplace_back();
  part.index = 7;
  part.records = Records::view("RECORDS");
  const std::string wire = encode(req, 9);
  // v9: txn id (1) acks (2) timeout (4) topics len (1) name (1+3) partitions len (1) index (4)
  // records (1+7) ...: the records length sits at byte 17.
  Reader r(std::string_view(wire).substr(0, 20));
  ProduceRequest d;
  ASSERT_FALSE(d.decode(r, 9));
  EXPECT_EQ(r.error(),
            "Produce v9 request: field topic_data[0].partition_data[0].records: length 7 exceeds the 2 "
            "remaining bytes at byte 17");
  EXPECT_EQ(r.position(), 17u);
  Reader r2(std::string_view(wire).substr(0, 2));
  ASSERT_FALSE(d.decode(r2, 9));
  EXPECT_EQ(r2.error(), "Produce v9 request: field acks: truncated at byte 1");
  // Array lengths are checked against the smallest possible element (6 bytes here) up front.
  Reader r3(std::string_view(wire).substr(0, 15));
  ASSERT_FALSE(d.decode(r3, 9));
  EXPECT_EQ(r3.error(),
            "Produce v9 request: field topic_data[0].partition_data: array length 1 exceeds the 2 remaining "
            "bytes at byte 12");
}

TEST(Codec, UnsupportedVersionIsRejected) {
  ProduceRequest d;
  Reader r("");
  EXPECT_FALSE(d.decode(r, 14));
  EXPECT_EQ(r.error(), "Produce v14 request: unsupported version at byte 0");
  FetchRequest f;
  Reader r2("");
  EXPECT_FALSE(f.decode(r2, 3));
}

TEST(Codec, HostileArrayLengthFailsWithoutAllocation) {
  // Metadata v1 request: topics array claims 2^31-1 entries.
  const std::string wire = bytes({0x7f, 0xff, 0xff, 0xff, 0, 3, 'a', 'b', 'c'});
  MetadataRequest m;
  Reader r(wire);
  g_largest_alloc = 0;
  EXPECT_FALSE(m.decode(r, 1));
  const size_t largest = g_largest_alloc.load();
  EXPECT_LT(largest, 4096u);
  EXPECT_NE(r.error().find("field topics: array length 2147483647 exceeds"), std::string::npos) << r.error();

  // Compact (flexible) lengths: uvarint 0xffffffff -> 2^32-2 elements.
  const std::string flex = bytes({0xff, 0xff, 0xff, 0xff, 0x0f, 0});
  Reader r2(flex);
  g_largest_alloc = 0;
  EXPECT_FALSE(m.decode(r2, 9));
  EXPECT_LT(g_largest_alloc.load(), 4096u);

  // Produce v3 records claiming 2 GiB.
  const std::string rec = bytes(
      {0xff, 0xff, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 'x', 0, 0, 0, 1, 0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff});
  ProduceRequest p;
  Reader r3(rec);
  g_largest_alloc = 0;
  EXPECT_FALSE(p.decode(r3, 3));
  EXPECT_LT(g_largest_alloc.load(), 4096u);
  EXPECT_NE(r3.error().find("topic_data[0].partition_data[0].records"), std::string::npos) << r3.error();
}

TEST(Codec, NullWhereTheVersionForbidsItFails) {
  // Metadata v9 request: one topic whose name is null (nullable only from v10).
  const std::string wire = bytes({0x02, 0x00, 0x00, 0x01, 0x00, 0x00});
  MetadataRequest m;
  Reader r(wire);
  ASSERT_FALSE(m.decode(r, 9));
  EXPECT_EQ(r.error(),
            "Metadata v9 request: field topics[0].name: null string in a non-nullable version at byte 1");
  // The same bytes are fine in v10 after a topic id.
  // name null, topic tags, allow_auto_topic_creation, include_cluster/topic_authorized_operations, tags.
  std::string v10 = bytes({0x02}) + std::string(16, '\x01') + bytes({0x00, 0x00, 0x01, 0x00, 0x00, 0x00});
  Reader r10(v10);
  ASSERT_TRUE(m.decode(r10, 10)) << r10.error();
  ASSERT_EQ(m.topics->size(), 1u);
  EXPECT_EQ((*m.topics)[0].name, std::nullopt);
}

TEST(Codec, NullableArraysAndStrings) {
  MetadataRequest all_topics;
  all_topics.topics.reset();
  for (int16_t v = 1; v <= 12; ++v) {
    MetadataRequest d;
    const std::string wire = encode(all_topics, v);
    Reader r(wire);
    ASSERT_TRUE(d.decode(r, v)) << r.error();
    EXPECT_FALSE(d.topics.has_value()) << "v" << v;
  }
  // v0 cannot carry null: written as an empty array (which v0 reads as "all topics").
  EXPECT_EQ(encode(all_topics, 0), bytes({0, 0, 0, 0}));

  FetchResponse f;
  auto& p = f.responses.emplace_back().partitions.emplace_back();
  p.records = Records{};  // null
  p.aborted_transactions.reset();
  const std::string wire = encode(f, 4);
  FetchResponse d;
  Reader r(wire);
  ASSERT_TRUE(d.decode(r, 4)) << r.error();
  EXPECT_TRUE(d.responses[0].partitions[0].records.is_null);
  EXPECT_FALSE(d.responses[0].partitions[0].aborted_transactions.has_value());
}

TEST(Codec, NullableArrayOfStrings) {
  // DescribeConfigs configuration_keys: nullable []string (null = all configs).
  for (int16_t v = 0; v <= DescribeConfigsRequest::kMaxVersion; ++v) {
    SCOPED_TRACE("v" + std::to_string(v));
    for (int kind = 0; kind < 3; ++kind) {  // null, empty, two keys
      DescribeConfigsRequest m;
      auto& res = m.resources.emplace_back();
      res.resource_type = 2;
      res.resource_name = "t";
      if (kind == 1) res.configuration_keys.emplace();
      if (kind == 2) res.configuration_keys = std::vector<std::string>{"retention.ms", ""};
      const std::string wire = encode(m, v);
      DescribeConfigsRequest d;
      Reader r(wire);
      ASSERT_TRUE(d.decode(r, v)) << r.error();
      EXPECT_EQ(r.remaining(), 0u);
      ASSERT_EQ(d.resources.size(), 1u);
      EXPECT_EQ(d.resources[0].configuration_keys, res.configuration_keys) << "kind " << kind;
      EXPECT_EQ(encode(d, v), wire);
    }
  }
  // Byte-exact v4 (flexible): null is compact length 0, empty is 1; the strings carry no tags.
  DescribeConfigsRequest m;
  auto& res = m.resources.emplace_back();
  res.resource_type = 2;
  res.resource_name = "t";
  EXPECT_EQ(encode(m, 4), bytes({0x02, 0x02, 0x02, 't', 0x00, 0x00, 0x00, 0x00, 0x00}));
  res.configuration_keys = std::vector<std::string>{"ab"};
  EXPECT_EQ(encode(m, 4), bytes({0x02, 0x02, 0x02, 't', 0x02, 0x03, 'a', 'b', 0x00, 0x00, 0x00, 0x00}));
  // v3 (classic): null is length -1.
  res.configuration_keys.reset();
  EXPECT_EQ(encode(m, 3), bytes({0, 0, 0, 1, 0x02, 0, 1, 't', 0xff, 0xff, 0xff, 0xff, 0x00, 0x00}));
}

TEST(Codec, FieldsFollowTheirVersions) {
  FetchRequest f;
  f.topics.emplace_back().topic = "t";
  f.topics[0].topic_id = samples::sample_uuid(3);
  f.topics[0].partitions.emplace_back().partition = 4;
  // v12 carries the name, v13 the id.
  FetchRequest d12;
  {
    std::string w = encode(f, 12);
    Reader r(w);
    ASSERT_TRUE(d12.decode(r, 12));
  }
  EXPECT_EQ(d12.topics[0].topic, "t");
  EXPECT_TRUE(d12.topics[0].topic_id.is_zero());
  FetchRequest d13;
  {
    std::string w = encode(f, 13);
    Reader r(w);
    ASSERT_TRUE(d13.decode(r, 13));
  }
  EXPECT_EQ(d13.topics[0].topic, "");
  EXPECT_EQ(d13.topics[0].topic_id, samples::sample_uuid(3));
  // Kafka's documented defaults.
  FetchRequest def;
  EXPECT_EQ(def.replica_id, -1);
  EXPECT_EQ(def.max_bytes, 0x7fffffff);
  EXPECT_EQ(def.session_epoch, -1);
  MetadataResponse md;
  EXPECT_EQ(md.cluster_authorized_operations, INT32_MIN);
  EXPECT_EQ(md.controller_id, -1);
  MetadataRequest mr;
  EXPECT_TRUE(mr.allow_auto_topic_creation);
}

TEST(Codec, TaggedFieldsWrittenOnlyWhenNotDefault) {
  ProduceResponse resp;
  auto& part = resp.responses.emplace_back().partition_responses.emplace_back();
  part.index = 1;
  const std::string plain = encode(resp, 10);
  part.current_leader.leader_id = 5;
  part.current_leader.leader_epoch = 9;
  const std::string tagged = encode(resp, 10);
  // Tag section grows from {0} to {1, tag 0, size 9, leader_id, leader_epoch, inner tags 0}.
  EXPECT_EQ(tagged.size(), plain.size() + 11);
  EXPECT_NE(tagged.find(bytes({1, 0, 9, 0, 0, 0, 5, 0, 0, 0, 9, 0})), std::string::npos);
  ProduceResponse d;
  Reader r(tagged);
  ASSERT_TRUE(d.decode(r, 10)) << r.error();
  EXPECT_EQ(d.responses[0].partition_responses[0].current_leader.leader_id, 5);
  EXPECT_EQ(d.responses[0].partition_responses[0].current_leader.leader_epoch, 9);
  // v9 is flexible but has no current_leader: it is neither written nor read back.
  ProduceResponse d9;
  std::string w9 = encode(resp, 9);
  Reader r9(w9);
  ASSERT_TRUE(d9.decode(r9, 9));
  EXPECT_EQ(d9.responses[0].partition_responses[0].current_leader.leader_id, -1);
}

TEST(Codec, TaggedFieldsByteExact) {
  // CreateTopics v5 response topic with topic_config_error_code (tag 0) = 5.
  CreateTopicsResponse resp;
  auto& t = resp.topics.emplace_back();
  t.name = "a";
  t.error_code = 0;
  t.topic_config_error_code = 5;
  t.configs.reset();
  const std::string expected = bytes({0,    0,    0,    0,        // throttle_time_ms
                                      2,                          // topics: 1 entry
                                      2,    'a',                  // name
                                      0,    0,                    // error_code
                                      0,                          // error_message: null
                                      0xff, 0xff, 0xff, 0xff,     // num_partitions -1
                                      0xff, 0xff,                 // replication_factor -1
                                      0,                          // configs: null
                                      1,    0,    2,    0,    5,  // tagged: 1 field, tag 0, 2 bytes, int16 5
                                      0});                        // top-level tagged fields
  EXPECT_EQ(encode(resp, 5), expected);
}

TEST(Codec, UnknownTagsAreSkippedAndSizesChecked) {
  // ApiVersions v3 request: two compact strings, then tags 7 (3 bytes) and 100 (0 bytes).
  const std::string wire = bytes({4, 'l', 'i', 'b', 2, '1', 2, 7, 3, 'x', 'y', 'z', 100, 0});
  ApiVersionsRequest req;
  Reader r(wire);
  ASSERT_TRUE(req.decode(r, 3)) << r.error();
  EXPECT_EQ(req.client_software_name, "lib");
  EXPECT_EQ(req.client_software_version, "1");
  EXPECT_EQ(r.remaining(), 0u);

  // Known tag whose declared size does not match its content.
  CreateTopicsResponse resp;
  const std::string bad =
      bytes({0, 0, 0, 0, 2, 2, 'a', 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 1, 0, 3, 0, 5, 0, 0});
  Reader r2(bad);
  ASSERT_FALSE(resp.decode(r2, 5));
  EXPECT_NE(r2.error().find("tagged field size mismatch"), std::string::npos) << r2.error();

  // Unknown tag claiming more bytes than remain.
  const std::string huge = bytes({4, 'l', 'i', 'b', 2, '1', 1, 7, 0x7f});
  Reader r3(huge);
  ASSERT_FALSE(req.decode(r3, 3));
  EXPECT_EQ(r3.error(), "ApiVersions v3 request: field <tagged fields>: truncated at byte 9");
  // Same in a struct that declares tags.
  const std::string huge2 =
      bytes({0, 0, 0, 0, 2, 2, 'a', 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 1, 0, 0x7f, 0, 5, 0, 0});
  Reader r4(huge2);
  ASSERT_FALSE(resp.decode(r4, 5));
  EXPECT_EQ(
      r4.error(),
      "CreateTopics v5 response: field topics[0].<tagged fields>: tagged field size exceeds the remaining "
      "bytes at byte 20");
}

TEST(Codec, ApiVersionsByteExact) {
  // v0 request has an empty body; v0 response per the guide:
  // error_code int16, [api_key int16 min_version int16 max_version int16] (int32 count).
  EXPECT_EQ(encode(ApiVersionsRequest{}, 0), "");
  ApiVersionsResponse resp;
  resp.api_keys.push_back({18, 0, 4});
  resp.api_keys.push_back({3, 0, 12});
  EXPECT_EQ(encode(resp, 0), bytes({0, 0, 0, 0, 0, 2, 0, 18, 0, 0, 0, 4, 0, 3, 0, 0, 0, 12}));
  // v1 adds throttle_time_ms; v3 is compact with tagged fields.
  resp.throttle_time_ms = 1;
  EXPECT_EQ(encode(resp, 3), bytes({0, 0, 3, 0, 18, 0, 0, 0, 4, 0, 0, 3, 0, 0, 0, 12, 0, 0, 0, 0, 1, 0}));
  ApiVersionsRequest req;
  req.client_software_name = "ks";
  req.client_software_version = "0.1";
  EXPECT_EQ(encode(req, 3), bytes({3, 'k', 's', 4, '0', '.', '1', 0}));
}

TEST(Codec, ProduceV3RequestByteExact) {
  // transactional_id (nullable int16 string) acks timeout_ms [name [index records(int32 bytes)]]
  ProduceRequest req;
  req.acks = -1;
  req.timeout_ms = 30000;
  auto& t = req.topic_data.emplace_back();
  t.name = "t";
  auto& p = t.partition_data.emplace_back();
  p.index = 2;
  p.records = Records::view("RB");
  Writer w;
  w.write_i16(-1);
  w.write_i16(-1);
  w.write_i32(30000);
  w.write_i32(1);
  w.write_i16(1);
  w.write_raw("t");
  w.write_i32(1);
  w.write_i32(2);
  w.write_i32(2);
  w.write_raw("RB");
  EXPECT_EQ(encode(req, 3), w.buffer());
}

TEST(Codec, FetchV13RequestByteExact) {
  // Hand-built from the guide's Fetch Request (Version: 13) layout.
  FetchRequest req;
  req.max_wait_ms = 500;
  req.min_bytes = 1;
  req.max_bytes = 1024;
  req.isolation_level = 1;
  req.session_id = 0;
  req.session_epoch = -1;
  req.cluster_id = "c";
  auto& t = req.topics.emplace_back();
  t.topic_id = samples::sample_uuid(1);
  auto& p = t.partitions.emplace_back();
  p.partition = 3;
  p.fetch_offset = 42;
  p.partition_max_bytes = 100;
  auto& f = req.forgotten_topics_data.emplace_back();
  f.topic_id = samples::sample_uuid(2);
  f.partitions = {5};
  req.rack_id = "r";
  Writer w;
  w.write_i32(-1);   // replica_id
  w.write_i32(500);  // max_wait_ms
  w.write_i32(1);    // min_bytes
  w.write_i32(1024);
  w.write_i8(1);   // isolation_level
  w.write_i32(0);  // session_id
  w.write_i32(-1);
  w.write_uvarint(2);  // topics
  w.write_uuid(samples::sample_uuid(1));
  w.write_uvarint(2);  // partitions
  w.write_i32(3);
  w.write_i32(-1);  // current_leader_epoch
  w.write_i64(42);
  w.write_i32(-1);  // last_fetched_epoch
  w.write_i64(-1);  // log_start_offset
  w.write_i32(100);
  w.write_uvarint(0);  // partition tags
  w.write_uvarint(0);  // topic tags
  w.write_uvarint(2);  // forgotten_topics_data
  w.write_uuid(samples::sample_uuid(2));
  w.write_uvarint(2);
  w.write_i32(5);
  w.write_uvarint(0);
  w.write_string("r", true);  // rack_id
  w.write_uvarint(1);         // one tagged field: cluster_id (tag 0)
  w.write_uvarint(0);
  w.write_uvarint(2);
  w.write_string("c", true);
  EXPECT_EQ(encode(req, 13), w.buffer());
}

// ---- Layouts added by the newest versions clients send (Kafka 3.9 - 4.1).

TEST(Codec, MetadataV13ResponseEndsWithTopLevelErrorCode) {
  MetadataResponse resp;
  resp.cluster_id = "c";
  resp.controller_id = 1;
  resp.error_code = 129;                   // REBOOTSTRAP_REQUIRED (KIP-1102)
  resp.cluster_authorized_operations = 7;  // v8-10 only: absent in v13
  Writer w;
  w.write_i32(0);      // throttle_time_ms
  w.write_uvarint(1);  // brokers: none
  w.write_string("c", true);
  w.write_i32(1);      // controller_id
  w.write_uvarint(1);  // topics: none
  w.write_i16(129);    // error_code
  w.write_uvarint(0);  // tags
  EXPECT_EQ(encode(resp, 13), w.buffer());
  // v12 has no top-level error code.
  Writer w12;
  w12.write_i32(0);
  w12.write_uvarint(1);
  w12.write_string("c", true);
  w12.write_i32(1);
  w12.write_uvarint(1);
  w12.write_uvarint(0);
  EXPECT_EQ(encode(resp, 12), w12.buffer());
}

TEST(Codec, FetchV17V18PartitionTags) {
  FetchRequest req;
  req.max_wait_ms = 500;
  req.min_bytes = 1;
  auto& t = req.topics.emplace_back();
  t.topic_id = samples::sample_uuid(1);
  auto& p = t.partitions.emplace_back();
  p.partition = 3;
  p.fetch_offset = 42;
  p.partition_max_bytes = 100;
  p.replica_directory_id = samples::sample_uuid(7);
  p.high_watermark = 40;
  auto body = [&](int tags) {
    Writer w;
    w.write_i32(500);
    w.write_i32(1);
    w.write_i32(2147483647);  // max_bytes
    w.write_i8(0);
    w.write_i32(0);
    w.write_i32(-1);
    w.write_uvarint(2);
    w.write_uuid(samples::sample_uuid(1));
    w.write_uvarint(2);
    w.write_i32(3);
    w.write_i32(-1);
    w.write_i64(42);
    w.write_i32(-1);
    w.write_i64(-1);
    w.write_i32(100);
    w.write_uvarint(tags);
    if (tags >= 1) {  // tag 0: replica directory id (v17+)
      w.write_uvarint(0);
      w.write_uvarint(16);
      w.write_uuid(samples::sample_uuid(7));
    }
    if (tags >= 2) {  // tag 1: follower high watermark (v18+)
      w.write_uvarint(1);
      w.write_uvarint(8);
      w.write_i64(40);
    }
    w.write_uvarint(0);  // topic tags
    w.write_uvarint(1);  // forgotten topics: none
    w.write_string("", true);
    w.write_uvarint(0);
    return w.flatten();
  };
  EXPECT_EQ(encode(req, 16), body(0));
  EXPECT_EQ(encode(req, 17), body(1));
  EXPECT_EQ(encode(req, 18), body(2));
  // A v18 consumer leaves the high watermark at "not supported", which is not sent.
  FetchRequest d;
  const std::string v17 = body(1);
  Reader r(v17);
  ASSERT_TRUE(d.decode(r, 18)) << r.error();
  EXPECT_EQ(d.topics[0].partitions[0].high_watermark, std::numeric_limits<int64_t>::max());
  EXPECT_EQ(d.topics[0].partitions[0].replica_directory_id, samples::sample_uuid(7));
}

TEST(Codec, ListOffsetsV10RequestEndsWithTimeout) {
  ListOffsetsRequest req;
  req.replica_id = -1;
  auto& t = req.topics.emplace_back();
  t.name = "t";
  auto& p = t.partitions.emplace_back();
  p.partition_index = 0;
  p.timestamp = -5;
  req.timeout_ms = 30000;
  auto body = [&](bool timeout) {
    Writer w;
    w.write_i32(-1);
    w.write_i8(0);
    w.write_uvarint(2);
    w.write_string("t", true);
    w.write_uvarint(2);
    w.write_i32(0);
    w.write_i32(-1);
    w.write_i64(-5);
    w.write_uvarint(0);
    w.write_uvarint(0);
    if (timeout) w.write_i32(30000);
    w.write_uvarint(0);
    return w.flatten();
  };
  EXPECT_EQ(encode(req, 9), body(false));
  EXPECT_EQ(encode(req, 10), body(true));
}

TEST(Codec, DescribeGroupsV6ErrorMessageFollowsErrorCode) {
  DescribeGroupsResponse resp;
  auto& g = resp.groups.emplace_back();
  g.error_code = 69;
  g.error_message = "Group g not found.";
  g.group_id = "g";
  g.group_state = "Dead";
  Writer w;
  w.write_i32(0);
  w.write_uvarint(2);
  w.write_i16(69);
  w.write_string("Group g not found.", true);
  w.write_string("g", true);
  w.write_string("Dead", true);
  w.write_string("", true);
  w.write_string("", true);
  w.write_uvarint(1);  // members: none
  w.write_i32(std::numeric_limits<int32_t>::min());
  w.write_uvarint(0);
  w.write_uvarint(0);
  EXPECT_EQ(encode(resp, 6), w.buffer());
}

TEST(Codec, DescribeClusterV2FencedFlags) {
  DescribeClusterRequest req;
  req.include_fenced_brokers = true;
  EXPECT_EQ(encode(req, 2), bytes({0, 1, 1, 0}));
  EXPECT_EQ(encode(req, 1), bytes({0, 1, 0}));
  DescribeClusterResponse resp;
  resp.cluster_id = "c";
  auto& b = resp.brokers.emplace_back();
  b.broker_id = 1;
  b.host = "h";
  b.port = 9092;
  b.is_fenced = true;
  Writer w;
  w.write_i32(0);
  w.write_i16(0);
  w.write_uvarint(0);  // null error message
  w.write_i8(1);
  w.write_string("c", true);
  w.write_i32(-1);
  w.write_uvarint(2);
  w.write_i32(1);
  w.write_string("h", true);
  w.write_i32(9092);
  w.write_uvarint(0);  // null rack
  w.write_i8(1);       // is_fenced
  w.write_uvarint(0);
  w.write_i32(std::numeric_limits<int32_t>::min());
  w.write_uvarint(0);
  EXPECT_EQ(encode(resp, 2), w.buffer());
}

TEST(Codec, ProduceV13UsesTopicIds) {
  ProduceRequest req;
  req.acks = -1;
  req.timeout_ms = 1000;
  auto& t = req.topic_data.emplace_back();
  t.name = "ignored-in-v13";
  t.topic_id = samples::sample_uuid(4);
  auto& p = t.partition_data.emplace_back();
  p.index = 0;
  p.records = Records::view("RB");
  Writer w;
  w.write_uvarint(0);  // null transactional id
  w.write_i16(-1);
  w.write_i32(1000);
  w.write_uvarint(2);
  w.write_uuid(samples::sample_uuid(4));
  w.write_uvarint(2);
  w.write_i32(0);
  w.write_uvarint(3);
  w.write_raw("RB");
  w.write_uvarint(0);
  w.write_uvarint(0);
  w.write_uvarint(0);
  EXPECT_EQ(encode(req, 13), w.flatten());
  ProduceResponse resp;
  auto& tr = resp.responses.emplace_back();
  tr.topic_id = samples::sample_uuid(4);
  ProduceResponse d;
  const std::string wire = encode(resp, 13);
  Reader r(wire);
  ASSERT_TRUE(d.decode(r, 13)) << r.error();
  EXPECT_EQ(d.responses[0].topic_id, samples::sample_uuid(4));
  EXPECT_EQ(wire.size(), 1 + 16 + 1 + 1 + 4 + 1);  // topics, id, partitions, tags, throttle, tags
}

TEST(Codec, RecordsDecodeIsZeroCopy) {
  ProduceRequest req;
  req.acks = 1;
  auto& part = req.topic_data.emplace_back().partition_data.emplace_back();
  part.records = Records::view("batch-bytes");
  const std::string wire = encode(req, 9);
  ProduceRequest d;
  Reader r(wire);
  ASSERT_TRUE(d.decode(r, 9));
  const Records& rec = d.topic_data[0].partition_data[0].records;
  ASSERT_EQ(rec.slices.size(), 1u);
  EXPECT_GE(rec.slices[0].data(), wire.data());
  EXPECT_LE(rec.slices[0].data() + rec.slices[0].size(), wire.data() + wire.size());
  EXPECT_EQ(rec.flatten(), "batch-bytes");
}

TEST(Codec, FetchResponseCanReferenceCachedBuffers) {
  auto cached = std::make_shared<std::string>(5000, 'r');
  FetchResponse resp;
  auto& p = resp.responses.emplace_back().partitions.emplace_back();
  p.records.append(std::string_view(*cached).substr(0, 3000), cached);
  p.records.append(std::string_view(*cached).substr(3000), cached);
  Writer w(/*reference_records=*/true);
  resp.encode(w, 16);
  EXPECT_LT(w.buffer().size(), 100u);  // the 5000 record bytes were not copied
  EXPECT_EQ(w.size(), encode(resp, 16).size());
  FetchResponse d;
  const std::string flat = w.flatten();
  Reader r(flat);
  ASSERT_TRUE(d.decode(r, 16)) << r.error();
  EXPECT_EQ(d.responses[0].partitions[0].records.flatten(), *cached);
}

TEST(ApiTable, MatchesDeclarations) {
  const ApiSpec* produce = find_api(0);
  ASSERT_NE(produce, nullptr);
  EXPECT_EQ(produce->name, "Produce");
  EXPECT_EQ(produce->min_version, 0);
  EXPECT_EQ(produce->max_version, 13);
  EXPECT_EQ(produce->min_accepted, 3);
  EXPECT_EQ(produce->max_accepted, 13);
  EXPECT_EQ(produce->first_flexible, 9);
  EXPECT_FALSE(produce->accepted(2));
  EXPECT_TRUE(produce->advertised(2));
  const ApiSpec* fetch = find_api(1);
  ASSERT_NE(fetch, nullptr);
  EXPECT_EQ(fetch->min_version, 4);
  EXPECT_EQ(fetch->max_version, 18);
  EXPECT_TRUE(fetch->flexible(12));
  EXPECT_FALSE(fetch->flexible(11));
  EXPECT_EQ(find_api(9999), nullptr);
  EXPECT_GE(kApis.size(), 7u);
  for (const ApiSpec& a : kApis) {
    visit_api(a.key, [&]<class Req, class Resp>() {
      EXPECT_EQ(Req::kApiKey, a.key);
      EXPECT_EQ(Resp::kApiKey, a.key);
      EXPECT_EQ(Req::kMaxVersion, a.max_version);
      static_assert(std::is_same_v<typename Req::ResponseType, Resp>);
    });
  }
  bool called = false;
  EXPECT_FALSE(visit_api(9999, [&]<class, class>() { called = true; }));
  EXPECT_FALSE(called);
}

}  // namespace
}  // namespace ks::protocol
