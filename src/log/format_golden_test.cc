// Golden files of the v1 storage formats, and corruption of them.
//
// tests/fixtures/formats/ holds a log object (object_format.h, with a producer
// digest chunk) and a checkpoint (checkpoint.h, with a producer-state section)
// written by this file's generator (DISABLED_GenerateFixtures) when format v1
// was current. Every later version must still read them:
//  - FormatGoldenTest: each fixture decodes to exactly the values below, and
//    encoding the decoded values again gives the same bytes (pins the
//    encoders too);
//  - FormatCorruptTest: every truncation and every single-bit flip is an
//    error, except flips in the bytes no check covers, which must decode to
//    the original values (the object's header fields other than magic and
//    version, its flags, its data and the trailer's reserved word: see
//    ObjectBitFlips). The checkpoint has no such bytes.
// The fixtures are never regenerated: a new format version gets new fixtures
// next to these (see tests/fixtures/formats/README.md).
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "common/crc32c.h"
#include "log/checkpoint.h"
#include "log/object_format.h"
#include "log/producer_state.h"
#include "protocol/record_batch.h"

namespace ks::log {
namespace {

namespace fs = std::filesystem;

const fs::path kFixtureDir = fs::path(KS_SOURCE_DIR) / "tests" / "fixtures" / "formats";
constexpr const char* kObjectFile = "log-object-v1.kso";
constexpr const char* kCheckpointFile = "checkpoint-v1.ksc";
constexpr std::size_t kMaxFixtureBytes = 64 * 1024;

// ------------------------------------------------------------ what they hold

constexpr std::int64_t kT = 1'700'000'000'000;  // 2023-11-14T22:13:20Z
constexpr TopicId kTopicA = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
                             0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10};
constexpr TopicId kTopicB = {0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8,
                             0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf, 0xb0};
const PartitionKey kA0{kTopicA, 0};
const PartitionKey kA2{kTopicA, 2};
const PartitionKey kB1{kTopicB, 1};

ObjectHeader object_header() {
  ObjectHeader h;
  h.version = 1;
  h.broker_epoch = 7;
  h.flush_seq = 42;
  h.created_ms = kT + 123;
  return h;
}

// One stored batch. Record i has key "key-<offset>" (none if no_key), value
// "value-<offset>" and timestamp base_timestamp + deltas[i].
struct BatchSpec {
  std::int64_t base_offset;
  std::int64_t base_timestamp;
  std::vector<std::int64_t> deltas;
  std::int64_t producer_id = -1;
  std::int16_t producer_epoch = -1;
  std::int32_t base_sequence = -1;
  std::int64_t log_append_time = -1;  // >= 0: stamped as LogAppendTime
  bool no_key_with_headers = false;
};

struct ChunkSpec {
  ObjectEntry entry;  // as the footer holds it
  std::vector<BatchSpec> batches;
};

ObjectEntry entry(TopicId topic, std::int32_t partition, std::int64_t base, std::int64_t last,
                  std::int64_t max_ts, std::int32_t leader_epoch, std::uint32_t batches,
                  std::uint64_t position, std::uint32_t length) {
  ObjectEntry e;
  e.topic = topic;
  e.partition = partition;
  e.base_offset = base;
  e.last_offset = last;
  e.max_timestamp = max_ts;
  e.leader_epoch = leader_epoch;
  e.batch_count = batches;
  e.position = position;
  e.length = length;
  return e;
}

// The object's partitions, in object order; then the producer digest chunk.
std::vector<ChunkSpec> object_chunks() {
  return {
      {entry(kTopicA, 0, 100, 105, kT + 100, 3, 3, 32, 331),
       {{100, kT, {0, 5, 2}},
        {103, kT + 10, {0}, -1, -1, -1, -1, /*no_key_with_headers=*/true},
        {104, kT + 20, {0, 1}, -1, -1, -1, /*log_append_time=*/kT + 100}}},
      {entry(kTopicA, 2, 7, 11, kT + 42, 1, 2, 363, 221),
       {{7, kT + 30, {0, 1}, 1001, 0, 0}, {9, kT + 40, {0, 1, 2}, 1001, 0, 2}}},
      {entry(kTopicB, 1, 500, 503, kT + 70, 5, 3, 584, 275),
       {{500, kT + 50, {0}, 2001, 2, 10}, {501, kT + 60, {0, 1}}, {503, kT + 70, {0}, 2002, 0, 0}}},
  };
}
const ObjectEntry kDigestEntry =
    entry(kProducerDigestTopic, kProducerDigestPartition, 0, 0, -1, 0, 4, 859, 238);
constexpr std::uint64_t kObjectFooterPos = 1097;
constexpr std::uint32_t kObjectFooterLen = 4 + 4 * 64;
constexpr std::uint32_t kObjectFooterCrc = 0x6a670788;
constexpr std::size_t kObjectSize = kObjectFooterPos + kObjectFooterLen + kObjectTrailerSize;

ProducerDigest object_digest() {
  ProducerDigest d;
  d.created_ms = kT + 123;
  auto rec = [](PartitionKey k, std::int64_t pid, std::int16_t epoch, std::int32_t fs, std::int32_t ls,
                std::int64_t fo, std::int64_t lo) { return DigestRecord{k, pid, epoch, fs, ls, fo, lo}; };
  d.records = {rec(kA2, 1001, 0, 0, 1, 7, 8), rec(kA2, 1001, 0, 2, 4, 9, 11),
               rec(kB1, 2001, 2, 10, 10, 500, 500), rec(kB1, 2002, 0, 0, 0, 503, 503)};
  return d;
}

struct ProducerSpec {
  std::int64_t pid;
  std::int16_t epoch;
  std::int64_t last_update_ms;
  std::vector<ProducerBatch> batches;  // committed
};
struct PartitionProducers {
  PartitionKey key;
  std::vector<ProducerSpec> producers;  // in the order the generator records them (not pid order)
};

std::vector<PartitionProducers> checkpoint_producers() {
  return {
      {kA2,
       {{1003, 3, kT + 150, {{0, 0, 2, 2}}},  //
        {1001, 0, kT + 200, {{0, 1, 7, 8}, {2, 4, 9, 11}}}}},
      {kB1,
       {{2002, 0, kT + 310, {{0, 0, 503, 503}}},
        {2001,
         2,
         kT + 300,
         {{6, 6, 496, 496}, {7, 7, 497, 497}, {8, 8, 498, 498}, {9, 9, 499, 499}, {10, 10, 500, 500}}}}},
  };
}

IndexEntry index_entry(std::int64_t base, std::int64_t last, std::int64_t max_ts,
                       std::shared_ptr<const ObjectRef> object, std::uint64_t pos, std::uint32_t len,
                       std::int32_t epoch, std::uint32_t batches) {
  IndexEntry e;
  e.base_offset = base;
  e.last_offset = last;
  e.max_timestamp = max_ts;
  e.object = std::move(object);
  e.position = pos;
  e.length = len;
  e.leader_epoch = epoch;
  e.batch_count = batches;
  return e;
}

// Without producer_state (see checkpoint_producers).
Checkpoint checkpoint_values() {
  auto o1 = std::make_shared<ObjectRef>(ObjectRef{"objects/1/0000000000000007-0000000000000028.kso", 4096});
  auto o2 = std::make_shared<ObjectRef>(ObjectRef{"objects/1/0000000000000007-000000000000002a.kso", 1500});
  Checkpoint c;
  c.version = 1;
  c.broker_epoch = 7;
  c.covers_seq = 42;
  c.created_ms = kT + 456;
  PartitionSnapshot a0;
  a0.key = kA0;
  a0.log_start = 90;
  a0.hwm = 106;
  a0.leader_epoch = 3;
  a0.epochs = {{1, 0}, {3, 80}};
  a0.index = {index_entry(80, 99, kT - 500, o1, 32, 2000, 1, 4),
              index_entry(100, 105, kT + 100, o2, 32, 400, 3, 3)};
  PartitionSnapshot a2;
  a2.key = kA2;
  a2.log_start = 0;
  a2.hwm = 12;
  a2.leader_epoch = 1;
  a2.epochs = {{0, 0}, {1, 7}};
  a2.index = {index_entry(0, 6, kT - 400, o1, 2032, 900, 0, 2),
              index_entry(7, 11, kT + 42, o2, 432, 300, 1, 2)};
  PartitionSnapshot b1;  // everything deleted by retention
  b1.key = kB1;
  b1.log_start = 504;
  b1.hwm = 504;
  b1.leader_epoch = 5;
  b1.epochs = {{2, 0}, {5, 496}};
  c.partitions = {a0, a2, b1};
  return c;
}

// ------------------------------------------------------------ helpers

std::string read_bytes(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  EXPECT_TRUE(f.good()) << "cannot open " << p;
  return std::string(std::istreambuf_iterator<char>(f), {});
}

std::string describe(const ObjectHeader& h) {
  return fmt::format("header v{} broker_epoch {} flush_seq {} created_ms {}", h.version, h.broker_epoch,
                     h.flush_seq, h.created_ms);
}

std::string describe(const ObjectEntry& e) {
  return fmt::format("{}/{} {}..{} max_ts {} leader_epoch {} batches {} at {}+{}", to_hex(e.topic),
                     e.partition, e.base_offset, e.last_offset, e.max_timestamp, e.leader_epoch,
                     e.batch_count, e.position, e.length);
}

std::string describe(const std::vector<ObjectEntry>& entries) {
  std::string s;
  for (const auto& e : entries) s += describe(e) + "\n";
  return s;
}

std::string describe(const ParsedObject& o) {
  return fmt::format("{}\nfooter {}+{} crc {:08x}\n{}", describe(o.header), o.footer.position,
                     o.footer.length, o.footer_crc, describe(o.entries));
}

std::string describe(const ProducerDigest& d) {
  std::string s = fmt::format("digest created_ms {}\n", d.created_ms);
  for (const auto& r : d.records) {
    s += fmt::format("  {}/{} pid {} epoch {} seq {}..{} offsets {}..{}\n", to_hex(r.key.topic),
                     r.key.partition, r.pid, r.epoch, r.first_seq, r.last_seq, r.first_offset, r.last_offset);
  }
  return s;
}

// Everything but producer_state, which is compared decoded.
std::string describe(const Checkpoint& c) {
  std::string s = fmt::format("checkpoint broker_epoch {} covers_seq {} created_ms {}\n", c.broker_epoch,
                              c.covers_seq, c.created_ms);
  for (const auto& p : c.partitions) {
    s += fmt::format("{}/{} log_start {} hwm {} leader_epoch {}\n", to_hex(p.key.topic), p.key.partition,
                     p.log_start, p.hwm, p.leader_epoch);
    for (const auto& e : p.epochs) s += fmt::format("  epoch {} from {}\n", e.epoch, e.start_offset);
    for (const auto& e : p.index) {
      s += fmt::format("  {}..{} max_ts {} in {} ({} B) at {}+{} leader_epoch {} batches {}\n", e.base_offset,
                       e.last_offset, e.max_timestamp, e.object->key, e.object->size, e.position, e.length,
                       e.leader_epoch, e.batch_count);
    }
  }
  return s;
}

std::string describe(const ProducerEntry& e) {
  std::string s = fmt::format("epoch {} last_update_ms {}", e.epoch, e.last_update_ms);
  for (const auto& b : e.batches) {
    s += fmt::format(" [{}..{} at {}..{} pending {}]", b.first_seq, b.last_seq, b.first_offset, b.last_offset,
                     b.pending_flush);
  }
  return s;
}

ProducerStates producer_states(const PartitionProducers& spec) {
  ProducerStates s;
  for (const auto& p : spec.producers) {
    for (const auto& b : p.batches) {
      s.record(p.pid, p.epoch, b, p.last_update_ms, /*expiration_ms=*/-1, /*max_producers=*/0);
    }
  }
  return s;
}

void expect_producers(const std::vector<std::pair<PartitionKey, ProducerStates>>& got,
                      const std::vector<PartitionProducers>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(got[i].first, want[i].key) << i;
    EXPECT_EQ(got[i].second.size(), want[i].producers.size()) << i;
    EXPECT_FALSE(got[i].second.has_pending());
    for (const auto& p : want[i].producers) {
      const ProducerEntry* e = got[i].second.find(p.pid);
      ASSERT_NE(e, nullptr) << "producer " << p.pid;
      ProducerEntry expected;
      expected.epoch = p.epoch;
      expected.last_update_ms = p.last_update_ms;
      expected.batches.assign(p.batches.begin(), p.batches.end());
      EXPECT_EQ(describe(*e), describe(expected)) << "producer " << p.pid;
    }
  }
}

std::string build_stored_batch(const BatchSpec& b, std::int32_t leader_epoch) {
  std::vector<protocol::TestRecord> recs;
  for (std::size_t i = 0; i < b.deltas.size(); ++i) {
    protocol::TestRecord r;
    const std::int64_t offset = b.base_offset + static_cast<std::int64_t>(i);
    if (b.no_key_with_headers) {
      r.headers = {{"trace", std::string("t-1")}, {"empty", std::nullopt}};
    } else {
      r.key = fmt::format("key-{}", offset);
    }
    r.value = fmt::format("value-{}", offset);
    r.timestamp_delta = b.deltas[i];
    recs.push_back(std::move(r));
  }
  // As produced by a client (offset 0), then stored the way the writer does.
  std::string batch =
      protocol::build_batch(recs, 0, b.base_timestamp, 0, b.producer_id, b.producer_epoch, b.base_sequence);
  protocol::stamp_batch(batch.data(), b.base_offset, leader_epoch);
  if (b.log_append_time >= 0) protocol::set_log_append_time(batch.data(), batch.size(), b.log_append_time);
  return batch;
}

// What the stored batches of a chunk must be: their headers as expected from
// the spec, CRCs valid, filling the chunk exactly.
void expect_batches(std::string_view chunk, const ChunkSpec& spec) {
  auto batches = protocol::scan_batches(chunk);
  ASSERT_EQ(batches.size(), spec.batches.size()) << describe(spec.entry);
  std::size_t end = 0;
  for (std::size_t i = 0; i < batches.size(); ++i) {
    const auto& h = batches[i].header;
    const BatchSpec& b = spec.batches[i];
    SCOPED_TRACE(fmt::format("{} batch {}", describe(spec.entry), i));
    EXPECT_EQ(batches[i].position, end);
    end = batches[i].position + batches[i].size;
    std::int64_t max_delta = 0;
    for (auto d : b.deltas) max_delta = std::max(max_delta, d);
    EXPECT_EQ(h.base_offset, b.base_offset);
    EXPECT_EQ(h.partition_leader_epoch, spec.entry.leader_epoch);
    EXPECT_EQ(h.magic, 2);
    EXPECT_EQ(h.crc, protocol::compute_batch_crc(chunk.substr(batches[i].position, batches[i].size)));
    EXPECT_EQ(h.attributes, b.log_append_time >= 0 ? protocol::kAttrLogAppendTime : 0);
    EXPECT_EQ(h.records_count, static_cast<std::int32_t>(b.deltas.size()));
    EXPECT_EQ(h.last_offset_delta, static_cast<std::int32_t>(b.deltas.size()) - 1);
    EXPECT_EQ(h.base_timestamp, b.base_timestamp);
    EXPECT_EQ(h.max_timestamp, b.log_append_time >= 0 ? b.log_append_time : b.base_timestamp + max_delta);
    EXPECT_EQ(h.producer_id, b.producer_id);
    EXPECT_EQ(h.producer_epoch, b.producer_epoch);
    EXPECT_EQ(h.base_sequence, b.base_sequence);
  }
  EXPECT_EQ(end, chunk.size());
}

std::string object_fixture() { return read_bytes(kFixtureDir / kObjectFile); }
std::string checkpoint_fixture() { return read_bytes(kFixtureDir / kCheckpointFile); }

ParsedObject expected_object() {
  ParsedObject o;
  o.header = object_header();
  o.footer = FooterLocation{kObjectFooterPos, kObjectFooterLen};
  o.footer_crc = kObjectFooterCrc;
  for (const auto& c : object_chunks()) o.entries.push_back(c.entry);
  o.entries.push_back(kDigestEntry);
  return o;
}

// The object built from the decoded object: its header and each entry's chunk.
BuiltObject rebuild(const ParsedObject& o, std::string_view bytes) {
  std::vector<ChunkRef> refs;
  for (const auto& e : o.entries) refs.push_back(ChunkRef{e, bytes.substr(e.position, e.length)});
  return build_object(o.header, refs);
}

std::string flip(std::string s, std::size_t bit) {
  s[bit / 8] = static_cast<char>(s[bit / 8] ^ (1 << (bit % 8)));
  return s;
}

// ------------------------------------------------------------ generator

// Writes the fixtures. Run once, by hand, when a format version is new:
//   KS_GOLDEN_OUT=/tmp/golden ks_log_tests --gtest_also_run_disabled_tests --gtest_filter='*GenerateFixtures'
// (without KS_GOLDEN_OUT into tests/fixtures/formats/, only if no fixture is there yet).
TEST(FormatGoldenTest, DISABLED_GenerateFixtures) {
  const char* out_env = std::getenv("KS_GOLDEN_OUT");
  const fs::path out = out_env != nullptr ? fs::path(out_env) : kFixtureDir;
  fs::create_directories(out);
  for (const char* name : {kObjectFile, kCheckpointFile}) {
    ASSERT_FALSE(fs::exists(out / name)) << out / name << " exists: committed fixtures are never regenerated";
  }

  // The object, built as LogWriter::build_fn does.
  std::vector<std::string> data;
  std::vector<ChunkRef> refs;
  for (const auto& c : object_chunks()) {
    std::string chunk;
    for (const auto& b : c.batches) chunk += build_stored_batch(b, c.entry.leader_epoch);
    data.push_back(std::move(chunk));
  }
  const std::string digest = encode_producer_digest(object_digest());
  auto chunks = object_chunks();
  for (std::size_t i = 0; i < chunks.size(); ++i) refs.push_back(ChunkRef{chunks[i].entry, data[i]});
  refs.push_back(ChunkRef{kDigestEntry, digest});
  BuiltObject obj = build_object(object_header(), refs);
  fmt::print("object: {} bytes, footer {}+{}\n{}", obj.bytes.size(), obj.footer.position, obj.footer.length,
             describe(obj.entries));

  // The checkpoint, built as LogLifecycle does.
  Checkpoint c = checkpoint_values();
  std::vector<ProducerStates> states;
  for (const auto& p : checkpoint_producers()) states.push_back(producer_states(p));
  std::vector<std::pair<PartitionKey, const ProducerStates*>> parts;
  auto specs = checkpoint_producers();
  for (std::size_t i = 0; i < specs.size(); ++i) parts.emplace_back(specs[i].key, &states[i]);
  c.producer_state = encode_producer_snapshot(parts);
  std::string ckpt = encode_checkpoint(c);
  fmt::print("checkpoint: {} bytes, producer state {} bytes\n", ckpt.size(), c.producer_state.size());

  for (const auto& [name, bytes] : {std::pair{kObjectFile, &obj.bytes}, std::pair{kCheckpointFile, &ckpt}}) {
    ASSERT_LT(bytes->size(), kMaxFixtureBytes);
    std::ofstream f(out / name, std::ios::binary);
    f.write(bytes->data(), static_cast<std::streamsize>(bytes->size()));
    ASSERT_TRUE(f.good()) << out / name;
  }
}

// ------------------------------------------------------------ golden

TEST(FormatGoldenTest, ObjectV1DecodesToItsValues) {
  const std::string bytes = object_fixture();
  ASSERT_EQ(bytes.size(), kObjectSize);
  ASSERT_LT(bytes.size(), kMaxFixtureBytes);
  auto o = parse_object(bytes);
  ASSERT_TRUE(o.ok()) << o.status().to_string();
  ParsedObject want = expected_object();
  EXPECT_EQ(crc32c(std::string_view(bytes).substr(kObjectFooterPos, kObjectFooterLen)), kObjectFooterCrc);
  EXPECT_EQ(describe(*o), describe(want));

  // The trailer alone and the footer alone (as recovery reads them).
  auto t = parse_trailer(std::string_view(bytes).substr(bytes.size() - kObjectTrailerSize));
  ASSERT_TRUE(t.ok()) << t.status().to_string();
  EXPECT_EQ(t->footer.position, kObjectFooterPos);
  EXPECT_EQ(t->footer.length, kObjectFooterLen);
  EXPECT_EQ(t->footer_crc, o->footer_crc);
  auto f = decode_footer(std::string_view(bytes).substr(kObjectFooterPos, kObjectFooterLen), o->footer_crc);
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  EXPECT_EQ(describe(*f), describe(want.entries));

  // Each partition's batches, and the producer digest.
  const auto chunks = object_chunks();
  for (std::size_t i = 0; i < chunks.size(); ++i) {
    expect_batches(std::string_view(bytes).substr(o->entries[i].position, o->entries[i].length), chunks[i]);
  }
  auto d = decode_producer_digest(std::string_view(bytes).substr(kDigestEntry.position, kDigestEntry.length));
  ASSERT_TRUE(d.ok()) << d.status().to_string();
  EXPECT_EQ(describe(*d), describe(object_digest()));
}

TEST(FormatGoldenTest, ObjectV1ReencodesToTheSameBytes) {
  const std::string bytes = object_fixture();
  auto o = parse_object(bytes);
  ASSERT_TRUE(o.ok()) << o.status().to_string();
  BuiltObject again = rebuild(*o, bytes);
  EXPECT_TRUE(again.bytes == bytes) << "the v1 object encoder changed";
  EXPECT_EQ(describe(again.entries), describe(o->entries));
  EXPECT_EQ(again.footer.position, o->footer.position);
  EXPECT_EQ(again.footer.length, o->footer.length);
  // build_object_into (the writer's path) gives the same bytes.
  std::vector<ChunkRef> refs;
  for (const auto& e : o->entries)
    refs.push_back(ChunkRef{e, std::string_view(bytes).substr(e.position, e.length)});
  std::string into(object_size(refs), '\0');
  build_object_into(o->header, refs, into.data(), into.size());
  EXPECT_TRUE(into == bytes);

  const std::string_view digest = std::string_view(bytes).substr(kDigestEntry.position, kDigestEntry.length);
  auto d = decode_producer_digest(digest);
  ASSERT_TRUE(d.ok()) << d.status().to_string();
  EXPECT_TRUE(encode_producer_digest(*d) == digest) << "the v1 producer digest encoder changed";
}

TEST(FormatGoldenTest, CheckpointV1DecodesToItsValues) {
  const std::string bytes = checkpoint_fixture();
  ASSERT_FALSE(bytes.empty());
  ASSERT_LT(bytes.size(), kMaxFixtureBytes);
  auto c = decode_checkpoint(bytes);
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_EQ(describe(*c), describe(checkpoint_values()));
  // Entries of one object share its ObjectRef (the encoder writes each key once).
  EXPECT_EQ(c->partitions[0].index[0].object, c->partitions[1].index[0].object);
  EXPECT_EQ(c->partitions[0].index[1].object, c->partitions[1].index[1].object);
  ASSERT_FALSE(c->producer_state.empty());
  auto p = decode_producer_snapshot(c->producer_state);
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  expect_producers(*p, checkpoint_producers());
}

TEST(FormatGoldenTest, CheckpointV1ReencodesToTheSameBytes) {
  const std::string bytes = checkpoint_fixture();
  auto c = decode_checkpoint(bytes);
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_TRUE(encode_checkpoint(*c) == bytes) << "the v1 checkpoint encoder changed";
  auto p = decode_producer_snapshot(c->producer_state);
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  std::vector<std::pair<PartitionKey, const ProducerStates*>> parts;
  for (const auto& [k, s] : *p) parts.emplace_back(k, &s);
  EXPECT_TRUE(encode_producer_snapshot(parts) == c->producer_state)
      << "the v1 producer state encoder changed";

  // So do the values themselves, with the producers recorded in another order.
  Checkpoint want = checkpoint_values();
  std::vector<ProducerStates> states;
  auto specs = checkpoint_producers();
  for (const auto& s : specs) states.push_back(producer_states(s));
  parts.clear();
  for (std::size_t i = 0; i < specs.size(); ++i) parts.emplace_back(specs[i].key, &states[i]);
  want.producer_state = encode_producer_snapshot(parts);
  EXPECT_TRUE(encode_checkpoint(want) == bytes);
}

// ------------------------------------------------------------ corruption

TEST(FormatCorruptTest, ObjectTruncatedAtEveryLength) {
  const std::string bytes = object_fixture();
  ASSERT_EQ(bytes.size(), kObjectSize);
  const std::string_view v(bytes);
  const std::string_view trailer = v.substr(v.size() - kObjectTrailerSize);
  for (std::size_t n = 0; n < v.size(); ++n) {
    EXPECT_FALSE(parse_object(v.substr(0, n)).ok()) << n;
    // Cut short but ending in the real trailer (a torn or mis-ranged read):
    // found by the footer location, not just by the missing magic.
    if (n + kObjectTrailerSize < v.size()) {
      EXPECT_FALSE(parse_object(std::string(v.substr(0, n)) + std::string(trailer)).ok()) << n;
    }
  }
  EXPECT_FALSE(parse_object(bytes + '\0').ok());
  // The footer alone: every prefix fails its CRC; one byte more too.
  const std::string_view footer = v.substr(kObjectFooterPos, kObjectFooterLen);
  const std::uint32_t crc = crc32c(footer);
  for (std::size_t n = 0; n < footer.size(); ++n) {
    EXPECT_FALSE(decode_footer(footer.substr(0, n), crc).ok()) << n;
    // Even with a CRC that matches the cut footer, the entry count does not.
    EXPECT_FALSE(decode_footer(footer.substr(0, n), crc32c(footer.substr(0, n))).ok()) << n;
  }
  // Longer than its entry count says, CRC matching: by a byte, by an entry.
  std::string longer = std::string(footer) + '\0';
  EXPECT_FALSE(decode_footer(longer, crc32c(longer)).ok());
  longer = std::string(footer) + std::string(footer.substr(4, kObjectEntrySize));
  EXPECT_FALSE(decode_footer(longer, crc32c(longer)).ok());
  for (std::size_t n = 0; n < kObjectTrailerSize; ++n)
    EXPECT_FALSE(parse_trailer(trailer.substr(0, n)).ok()) << n;
}

// Flips every bit of the object. What each byte is covered by:
//   [0, 4)          magic                          checked
//   [4, 6)          version                        checked (must be 1)
//   [6, 8)          flags                          NOT covered: reserved, always 0, ignored by v1 readers
//   [8, 32)         broker_epoch, flush_seq,       NOT covered: the header has no checksum; informational
//                   created_ms                     (kafscale inspect); recovery takes epoch and sequence from
//                                                  the object key and commit record, never from the header
//   [32, footer)    partition data                 NOT covered by the object format: Kafka's batch CRC32C
//                                                  covers each batch from its attributes on; its baseOffset,
//                                                  batchLength, partitionLeaderEpoch and magic are not
//                                                  (Kafka's own layout). The digest chunk has its own CRC.
//   footer          entry count, entries           checked (CRC32C in the trailer and the commit record)
//   trailer +0..12  footer position and length     checked (must end where the trailer starts)
//   trailer +12     footer CRC                     checked
//   trailer +16     reserved                       NOT covered: always 0, ignored by v1 readers
//   trailer +20     magic                          checked
// A flip in a not-covered byte must decode to the original values (a header
// field: to the original with that bit flipped); any other flip is an error.
TEST(FormatCorruptTest, ObjectBitFlips) {
  const std::string bytes = object_fixture();
  ASSERT_EQ(bytes.size(), kObjectSize);
  auto original = parse_object(bytes);
  ASSERT_TRUE(original.ok());
  const std::string want = describe(*original);
  const std::size_t size = bytes.size();
  const std::size_t trailer = size - kObjectTrailerSize;
  std::size_t errors = 0, same = 0, header_field = 0;
  std::string s = bytes;
  for (std::size_t bit = 0; bit < size * 8; ++bit) {
    const std::size_t i = bit / 8;
    s[i] = static_cast<char>(s[i] ^ (1 << (bit % 8)));
    auto o = parse_object(s);
    const bool uncovered = (i >= 6 && i < 8) || (i >= kObjectHeaderSize && i < kObjectFooterPos) ||
                           (i >= trailer + 16 && i < trailer + 20);
    if (i >= 8 && i < kObjectHeaderSize) {
      ASSERT_TRUE(o.ok()) << "byte " << i << ": " << o.status().to_string();
      ParsedObject expected = *original;
      std::uint64_t* field[] = {&expected.header.broker_epoch, &expected.header.flush_seq,
                                &expected.header.created_ms};
      *field[(i - 8) / 8] ^= std::uint64_t{1} << ((i - 8) % 8 * 8 + bit % 8);
      EXPECT_EQ(describe(*o), describe(expected)) << "byte " << i;
      ++header_field;
    } else if (uncovered) {
      ASSERT_TRUE(o.ok()) << "byte " << i << ": " << o.status().to_string();
      EXPECT_EQ(describe(*o), want) << "byte " << i;
      ++same;
    } else {
      EXPECT_FALSE(o.ok()) << "byte " << i << " bit " << bit % 8 << " decoded:\n" << describe(*o);
      ++errors;
    }
    s[i] = bytes[i];
  }
  EXPECT_EQ(header_field, 24u * 8);
  EXPECT_EQ(same, (2 + (kObjectFooterPos - kObjectHeaderSize) + 4) * 8);
  EXPECT_EQ(errors, (4 + 2 + kObjectFooterLen + 20) * 8);
}

// Where a flip in the partition data is caught instead: by the batch CRC,
// except in the 17 leading bytes of a batch (baseOffset, batchLength,
// partitionLeaderEpoch, magic), which Kafka's CRC leaves out.
TEST(FormatCorruptTest, ObjectDataFlipsAndTheBatchCrc) {
  const std::string bytes = object_fixture();
  auto o = parse_object(bytes);
  ASSERT_TRUE(o.ok());
  std::size_t batches = 0;
  for (std::size_t c = 0; c < object_chunks().size(); ++c) {
    const ObjectEntry& e = o->entries[c];
    for (const auto& b : protocol::scan_batches(std::string_view(bytes).substr(e.position, e.length))) {
      ++batches;
      std::string batch = bytes.substr(e.position + b.position, b.size);
      for (std::size_t bit = 0; bit < batch.size() * 8; ++bit) {
        std::string bad = flip(batch, bit);
        const bool crc_ok = protocol::parse_batch_header(bad).crc == protocol::compute_batch_crc(bad);
        EXPECT_EQ(crc_ok, bit / 8 < protocol::kBatchCrcOffset) << describe(e) << " byte " << bit / 8;
      }
    }
  }
  EXPECT_EQ(batches, 8u);
}

// Data cut out of the middle of the object, footer and trailer moved to match
// (a consistent trailer, as a buggy or hostile writer could make): the entries
// then point past the data.
TEST(FormatCorruptTest, ObjectDataCutWithConsistentTrailer) {
  const std::string bytes = object_fixture();
  const std::string tail = bytes.substr(kObjectFooterPos);
  for (std::size_t cut = 1; cut <= kObjectFooterPos - kObjectHeaderSize; ++cut) {
    std::string s = bytes.substr(0, kObjectFooterPos - cut) + tail;
    const std::uint64_t pos = kObjectFooterPos - cut;
    std::memcpy(s.data() + s.size() - kObjectTrailerSize, &pos, 8);
    EXPECT_FALSE(parse_object(s).ok()) << cut;
  }
}

// A trailer or footer with a valid CRC but hostile values: the bounds checks
// must hold without overflowing.
TEST(FormatCorruptTest, ObjectHostileLocationsDoNotWrap) {
  const std::string bytes = object_fixture();
  const std::size_t size = bytes.size();
  // Footer location whose end wraps around to the trailer's position.
  for (std::uint32_t len :
       {std::uint32_t{kObjectFooterLen + 1}, std::uint32_t{0x80000000}, std::uint32_t{0xffffffff}}) {
    std::string s = bytes;
    const std::uint64_t pos = std::uint64_t{size - kObjectTrailerSize} - len;  // wraps for len > size - 24
    std::memcpy(s.data() + size - kObjectTrailerSize, &pos, 8);
    std::memcpy(s.data() + size - kObjectTrailerSize + 8, &len, 4);
    Result<ParsedObject> o = Status(Errc::corrupt, "");
    EXPECT_NO_THROW(o = parse_object(s)) << len;
    EXPECT_FALSE(o.ok()) << len;
  }
  // An entry whose position + length wraps below the footer.
  for (std::size_t i = 0; i < 4; ++i) {
    std::string s = bytes;
    char* e = s.data() + kObjectFooterPos + 4 + i * kObjectEntrySize;
    const std::uint64_t pos = ~std::uint64_t{0} - 15;
    const std::uint32_t len = 64;  // pos + len == 48: inside the data, had it not wrapped
    std::memcpy(e + 52, &pos, 8);  // ObjectEntry.position
    std::memcpy(e + 60, &len, 4);  // ObjectEntry.length
    const std::uint32_t crc = crc32c(std::string_view(s).substr(kObjectFooterPos, kObjectFooterLen));
    std::memcpy(s.data() + size - 12, &crc, 4);
    Result<ParsedObject> o = Status(Errc::corrupt, "");
    EXPECT_NO_THROW(o = parse_object(s)) << i;
    EXPECT_FALSE(o.ok()) << i;
  }
}

// The digest chunk on its own (recovery reads it with a ranged GET): all its
// bytes are covered by its CRC, and every cut fails, even one whose CRC was
// recomputed.
TEST(FormatCorruptTest, ProducerDigestTruncatedAndBitFlips) {
  const std::string bytes = object_fixture();
  const std::string digest = bytes.substr(kDigestEntry.position, kDigestEntry.length);
  ASSERT_TRUE(decode_producer_digest(digest).ok());
  for (std::size_t n = 0; n < digest.size(); ++n) {
    EXPECT_FALSE(decode_producer_digest(digest.substr(0, n)).ok()) << n;
    if (n >= 4) {
      std::string body = digest.substr(0, n - 4);
      const std::uint32_t crc = crc32c(body);
      EXPECT_FALSE(decode_producer_digest(body + std::string(reinterpret_cast<const char*>(&crc), 4)).ok())
          << n;
    }
  }
  // One record more than its count says, CRC matching.
  std::string body = digest.substr(0, digest.size() - 4);
  body += body.substr(body.size() - 54);  // the last record again
  const std::uint32_t crc = crc32c(body);
  EXPECT_FALSE(decode_producer_digest(body + std::string(reinterpret_cast<const char*>(&crc), 4)).ok());
  for (std::size_t bit = 0; bit < digest.size() * 8; ++bit) {
    EXPECT_FALSE(decode_producer_digest(flip(digest, bit)).ok()) << "byte " << bit / 8;
  }
}

TEST(FormatCorruptTest, CheckpointTruncatedAtEveryLength) {
  const std::string bytes = checkpoint_fixture();
  ASSERT_TRUE(decode_checkpoint(bytes).ok());
  const std::string_view v(bytes);
  const std::string_view end = v.substr(v.size() - 8);  // crc, end magic
  for (std::size_t n = 0; n < v.size(); ++n) {
    EXPECT_FALSE(decode_checkpoint(v.substr(0, n)).ok()) << n;
    if (n + 8 < v.size()) {
      // Cut short but ending in the real CRC and end magic.
      EXPECT_FALSE(decode_checkpoint(std::string(v.substr(0, n)) + std::string(end)).ok()) << n;
      // ... or in a CRC recomputed for the cut body: found by the structure.
      std::string s(v.substr(0, n));
      const std::uint32_t crc = crc32c(s);
      s.append(reinterpret_cast<const char*>(&crc), 4);
      s += "KSCE";
      EXPECT_FALSE(decode_checkpoint(s).ok()) << n;
    }
  }
  EXPECT_FALSE(decode_checkpoint(bytes + '\0').ok());
  // A byte more in the body, CRC recomputed: trailing bytes are refused.
  std::string longer = bytes.substr(0, bytes.size() - 8) + '\0';
  const std::uint32_t crc = crc32c(longer);
  longer.append(reinterpret_cast<const char*>(&crc), 4);
  longer += "KSCE";
  EXPECT_FALSE(decode_checkpoint(longer).ok());
}

// Every byte of a checkpoint is covered: magic, version, flags and the body by
// the CRC32C, the CRC by itself, the end magic by comparison. So every flip is
// an error.
TEST(FormatCorruptTest, CheckpointBitFlips) {
  const std::string bytes = checkpoint_fixture();
  ASSERT_TRUE(decode_checkpoint(bytes).ok());
  std::string s = bytes;
  for (std::size_t bit = 0; bit < bytes.size() * 8; ++bit) {
    const std::size_t i = bit / 8;
    s[i] = static_cast<char>(s[i] ^ (1 << (bit % 8)));
    auto c = decode_checkpoint(s);
    EXPECT_FALSE(c.ok()) << "byte " << i << " bit " << bit % 8 << " decoded:\n" << describe(*c);
    s[i] = bytes[i];
  }
}

// Flips with the CRC recomputed (as a buggy or hostile writer could make):
// the decoder may accept other values (nothing checks offsets or timestamps
// against each other), but must not crash or allocate without bound.
TEST(FormatCorruptTest, CheckpointHostileBitFlipsDoNotCrash) {
  const std::string bytes = checkpoint_fixture();
  const std::size_t body = bytes.size() - 8;
  std::size_t accepted = 0;
  for (std::size_t bit = 0; bit < body * 8; ++bit) {
    std::string s = flip(bytes, bit);
    const std::uint32_t crc = crc32c(std::string_view(s).substr(0, body));
    std::memcpy(s.data() + body, &crc, 4);
    Result<Checkpoint> c = Status(Errc::corrupt, "");
    ASSERT_NO_THROW(c = decode_checkpoint(s)) << "byte " << bit / 8;
    if (c.ok()) {
      ++accepted;
      (void)decode_producer_snapshot(c->producer_state);
    }
  }
  EXPECT_GT(accepted, 0u);  // values without a semantic check (offsets, timestamps, ...)
}

// The producer-state section on its own: covered by its own CRC too.
TEST(FormatCorruptTest, ProducerSnapshotTruncatedAndBitFlips) {
  auto c = decode_checkpoint(checkpoint_fixture());
  ASSERT_TRUE(c.ok());
  const std::string blob = c->producer_state;
  ASSERT_TRUE(decode_producer_snapshot(blob).ok());
  // Empty is "no producers" (checkpoints written before producer state
  // existed); every other cut is an error, even with its CRC recomputed.
  auto empty = decode_producer_snapshot("");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
  for (std::size_t n = 1; n < blob.size(); ++n) {
    EXPECT_FALSE(decode_producer_snapshot(blob.substr(0, n)).ok()) << n;
    if (n >= 4) {
      std::string body = blob.substr(0, n - 4);
      const std::uint32_t crc = crc32c(body);
      EXPECT_FALSE(decode_producer_snapshot(body + std::string(reinterpret_cast<const char*>(&crc), 4)).ok())
          << n;
    }
  }
  // Bytes after the last partition, CRC matching.
  std::string longer = blob.substr(0, blob.size() - 4) + std::string(4, '\0');
  const std::uint32_t crc = crc32c(longer);
  EXPECT_FALSE(decode_producer_snapshot(longer + std::string(reinterpret_cast<const char*>(&crc), 4)).ok());
  for (std::size_t bit = 0; bit < blob.size() * 8; ++bit) {
    EXPECT_FALSE(decode_producer_snapshot(flip(blob, bit)).ok()) << "byte " << bit / 8;
    // With the CRC recomputed: no crash.
    std::string s = flip(blob, bit);
    if (bit / 8 < s.size() - 4) {
      const std::uint32_t crc = crc32c(std::string_view(s).substr(0, s.size() - 4));
      std::memcpy(s.data() + s.size() - 4, &crc, 4);
      EXPECT_NO_THROW((void)decode_producer_snapshot(s));
    }
  }
}

}  // namespace
}  // namespace ks::log
