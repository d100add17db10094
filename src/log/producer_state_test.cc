// ProducerStates: Kafka's sequence rules, pending batches, bounds, encoding.
#include "log/producer_state.h"

#include <gtest/gtest.h>

#include <limits>

namespace ks::log {
namespace {

constexpr std::int64_t kNow = 1'000'000;
constexpr std::int64_t kDay = 86'400'000;

ProducerBatch batch(std::int32_t first, std::int32_t last, std::int64_t off, std::uint64_t flush = 0) {
  return ProducerBatch{first, last, off, off + (last - first), flush};
}

TEST(ProducerStateTest, UnknownProducerIsAcceptedAtAnySequence) {
  ProducerStates s;
  EXPECT_EQ(s.check(7, 0, 42, 50, kNow, kDay).verdict, SeqVerdict::kAppend);
}

TEST(ProducerStateTest, InSequenceDuplicateOutOfOrderAndStaleEpoch) {
  ProducerStates s;
  s.record(7, 3, batch(0, 9, 100), kNow, kDay, 10);
  EXPECT_EQ(s.check(7, 3, 10, 19, kNow, kDay).verdict, SeqVerdict::kAppend);
  auto dup = s.check(7, 3, 0, 9, kNow, kDay);
  EXPECT_EQ(dup.verdict, SeqVerdict::kDuplicate);
  EXPECT_EQ(dup.duplicate.first_offset, 100);
  EXPECT_EQ(dup.duplicate.last_offset, 109);
  EXPECT_EQ(s.check(7, 3, 11, 19, kNow, kDay).verdict, SeqVerdict::kOutOfOrder);  // gap
  EXPECT_EQ(s.check(7, 3, 5, 14, kNow, kDay).verdict, SeqVerdict::kOutOfOrder);   // overlap
  EXPECT_EQ(s.check(7, 2, 10, 19, kNow, kDay).verdict, SeqVerdict::kStaleEpoch);
  // A higher epoch must start at 0 (KIP-360 bump without InitProducerId).
  EXPECT_EQ(s.check(7, 4, 10, 19, kNow, kDay).verdict, SeqVerdict::kOutOfOrder);
  EXPECT_EQ(s.check(7, 4, 0, 4, kNow, kDay).verdict, SeqVerdict::kAppend);
  s.record(7, 4, batch(0, 4, 110), kNow, kDay, 10);
  EXPECT_EQ(s.check(7, 3, 10, 19, kNow, kDay).verdict, SeqVerdict::kStaleEpoch);
  EXPECT_EQ(s.check(7, 4, 5, 5, kNow, kDay).verdict, SeqVerdict::kAppend);
}

TEST(ProducerStateTest, KeepsOnlyTheLastFiveBatches) {
  ProducerStates s;
  for (int i = 0; i < 7; ++i) s.record(1, 0, batch(i * 10, i * 10 + 9, i * 10), kNow, kDay, 10);
  EXPECT_EQ(s.find(1)->batches.size(), kProducerBatchesKept);
  EXPECT_EQ(s.check(1, 0, 20, 29, kNow, kDay).verdict, SeqVerdict::kDuplicate);
  // Older than the window: no longer recognisable, so out of order (as Kafka).
  EXPECT_EQ(s.check(1, 0, 10, 19, kNow, kDay).verdict, SeqVerdict::kOutOfOrder);
}

TEST(ProducerStateTest, SequenceWrapsAfterIntMax) {
  constexpr std::int32_t kMax = std::numeric_limits<std::int32_t>::max();
  EXPECT_EQ(last_sequence(kMax - 1, 3), 1);
  EXPECT_EQ(last_sequence(5, 4), 9);
  ProducerStates s;
  s.record(1, 0, ProducerBatch{kMax - 4, kMax, 0, 4, 0}, kNow, kDay, 10);
  EXPECT_EQ(s.check(1, 0, 0, 3, kNow, kDay).verdict, SeqVerdict::kAppend);
}

TEST(ProducerStateTest, ExpiredProducersAreUnknown) {
  ProducerStates s;
  s.record(1, 0, batch(0, 9, 0), kNow, 1000, 10);
  EXPECT_EQ(s.check(1, 0, 50, 59, kNow + 500, 1000).verdict, SeqVerdict::kOutOfOrder);
  EXPECT_EQ(s.check(1, 0, 50, 59, kNow + 1001, 1000).verdict, SeqVerdict::kAppend);
  EXPECT_EQ(s.expire(kNow + 500, 1000), 0u);
  EXPECT_EQ(s.expire(kNow + 1001, 1000), 1u);
  EXPECT_EQ(s.size(), 0u);
  // Pending data never expires.
  s.record(2, 0, batch(0, 0, 0, /*flush=*/9), kNow, 1000, 10);
  EXPECT_EQ(s.expire(kNow + 5000, 1000), 0u);
}

TEST(ProducerStateTest, CapEvictsTheLeastRecentlyUsed) {
  ProducerStates s;
  s.record(1, 0, batch(0, 0, 0), kNow, kDay, 2);
  s.record(2, 0, batch(0, 0, 1), kNow + 1, kDay, 2);
  s.record(3, 0, batch(0, 0, 2), kNow + 2, kDay, 2);
  EXPECT_EQ(s.size(), 2u);
  EXPECT_EQ(s.find(1), nullptr);
  EXPECT_NE(s.find(3), nullptr);
}

TEST(ProducerStateTest, PendingBatchesCommitOrRollBack) {
  ProducerStates s;
  s.record(1, 0, batch(0, 9, 0), kNow, kDay, 10);
  s.record(1, 0, batch(10, 19, 10, /*flush=*/5), kNow, kDay, 10);
  s.record(2, 0, batch(0, 4, 20, /*flush=*/5), kNow, kDay, 10);
  EXPECT_TRUE(s.has_pending());
  auto dup = s.check(1, 0, 10, 19, kNow, kDay);
  EXPECT_EQ(dup.verdict, SeqVerdict::kDuplicate);
  EXPECT_EQ(dup.duplicate.pending_flush, 5u);
  s.rollback();
  EXPECT_FALSE(s.has_pending());
  EXPECT_EQ(s.check(1, 0, 10, 19, kNow, kDay).verdict, SeqVerdict::kAppend);  // retried anew
  EXPECT_EQ(s.find(2), nullptr);                                              // only had the failed batch
  s.record(1, 0, batch(10, 19, 10, 6), kNow, kDay, 10);
  s.commit(1, 6);
  EXPECT_FALSE(s.has_pending());
  EXPECT_EQ(s.check(1, 0, 10, 19, kNow, kDay).duplicate.pending_flush, 0u);
}

TEST(ProducerStateTest, SnapshotHoldsCommittedStateOnly) {
  ProducerStates a, b;
  a.record(1, 2, batch(0, 9, 0), kNow, kDay, 10);
  a.record(1, 2, batch(10, 19, 10, /*flush=*/3), kNow, kDay, 10);
  a.record(2, 0, batch(0, 0, 20, /*flush=*/3), kNow, kDay, 10);
  b.record(9, 1, batch(5, 5, 7), kNow, kDay, 10);
  PartitionKey ka, kb;
  ka.topic[0] = 1;
  kb.topic[0] = 2;
  kb.partition = 3;
  std::string blob = encode_producer_snapshot({{ka, &a}, {kb, &b}});
  auto d = decode_producer_snapshot(blob);
  ASSERT_TRUE(d.ok()) << d.status().to_string();
  ASSERT_EQ(d->size(), 2u);
  EXPECT_EQ((*d)[0].first, ka);
  const ProducerStates& ra = (*d)[0].second;
  EXPECT_EQ(ra.size(), 1u);  // producer 2 had nothing committed
  EXPECT_EQ(ra.check(1, 2, 0, 9, kNow, kDay).verdict, SeqVerdict::kDuplicate);
  EXPECT_EQ(ra.check(1, 2, 10, 19, kNow, kDay).verdict, SeqVerdict::kAppend);
  EXPECT_EQ((*d)[1].first, kb);
  EXPECT_EQ((*d)[1].second.find(9)->epoch, 1);

  EXPECT_TRUE(decode_producer_snapshot("").ok());
  for (std::size_t cut = 1; cut < blob.size(); cut += 7) {
    EXPECT_FALSE(decode_producer_snapshot(std::string_view(blob).substr(0, cut)).ok()) << cut;
  }
  blob[12] ^= 1;
  EXPECT_FALSE(decode_producer_snapshot(blob).ok());
}

// The same state always encodes to the same bytes, whatever the order the
// producers were recorded in (a checkpoint re-encoded after decoding is
// byte-identical; the golden checkpoint in format_golden_test.cc relies on it).
TEST(ProducerStateTest, SnapshotEncodingIsCanonical) {
  ProducerStates up, down;
  for (std::int64_t pid = 1; pid <= 40; ++pid) up.record(pid * 7, 0, batch(0, 0, pid), kNow, kDay, 100);
  for (std::int64_t pid = 40; pid >= 1; --pid) down.record(pid * 7, 0, batch(0, 0, pid), kNow, kDay, 100);
  PartitionKey k;
  std::string blob = encode_producer_snapshot({{k, &up}});
  EXPECT_TRUE(encode_producer_snapshot({{k, &down}}) == blob);  // (not EXPECT_EQ: no binary dumps)
  auto d = decode_producer_snapshot(blob);
  ASSERT_TRUE(d.ok()) << d.status().to_string();
  ASSERT_EQ(d->size(), 1u);
  EXPECT_TRUE(encode_producer_snapshot({{k, &(*d)[0].second}}) == blob);
}

TEST(ProducerStateTest, DigestRoundTripAndCorruption) {
  ProducerDigest d;
  d.created_ms = 1234;
  DigestRecord r;
  r.key.topic[3] = 7;
  r.key.partition = 2;
  r.pid = 77;
  r.epoch = 1;
  r.first_seq = 10;
  r.last_seq = 14;
  r.first_offset = 500;
  r.last_offset = 504;
  d.records.push_back(r);
  d.records.push_back(r);
  std::string bytes = encode_producer_digest(d);
  auto back = decode_producer_digest(bytes);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->created_ms, 1234);
  ASSERT_EQ(back->records.size(), 2u);
  EXPECT_EQ(back->records[1].key, r.key);
  EXPECT_EQ(back->records[1].last_offset, 504);
  EXPECT_FALSE(decode_producer_digest(bytes.substr(0, bytes.size() - 1)).ok());
  bytes[20] ^= 0x40;
  EXPECT_FALSE(decode_producer_digest(bytes).ok());
}

}  // namespace
}  // namespace ks::log
