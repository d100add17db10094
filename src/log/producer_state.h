// Idempotent-producer state of one partition: per producer id its epoch and
// the sequence ranges (with offsets) of its last batches, as Kafka keeps it.
//
// A batch is checked before it is appended: a batch equal to a remembered
// one is a duplicate (answered with the original offsets), a gap or overlap
// is out of order, an older epoch is stale, a newer epoch must start at
// sequence 0 (KIP-360: librdkafka bumps its epoch that way), and a producer
// with no state (never seen, expired or evicted) is accepted at any sequence.
//
// Batches appended but not yet committed carry the id of their flush; a
// failed flush rolls them back. Checkpoints hold only committed batches.
//
// Persistence (never per-producer keys in the metadata store):
//  - a checkpoint's producer_state blob holds every partition's committed
//    state (encode_producer_snapshot);
//  - every object whose flush held idempotent batches has one extra chunk,
//    the producer digest, listed in the footer under the reserved topic id
//    kProducerDigestTopic (all 0xff) and partition -1. Recovery reads it with
//    one ranged GET per object committed after the checkpoint, instead of
//    walking every batch header of every chunk. Readers that do not know it
//    skip it as a partition they do not lead.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/status.h"
#include "log/types.h"

namespace ks::log {

// Kafka remembers the last 5 batches per producer: the most a client keeps
// in flight with idempotence on.
inline constexpr std::size_t kProducerBatchesKept = 5;

// Footer key of the producer digest chunk.
inline constexpr TopicId kProducerDigestTopic = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                                 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
inline constexpr std::int32_t kProducerDigestPartition = -1;

struct ProducerBatch {
  std::int32_t first_seq = 0;
  std::int32_t last_seq = 0;
  std::int64_t first_offset = 0;
  std::int64_t last_offset = 0;
  std::uint64_t pending_flush = 0;  // id of the flush holding it; 0 once committed
};

struct ProducerEntry {
  std::int16_t epoch = -1;
  std::int64_t last_update_ms = 0;
  std::deque<ProducerBatch> batches;  // ascending, at most kProducerBatchesKept
};

// The last sequence of a batch: first + delta, wrapping after INT32_MAX to 0
// as Kafka's sequences do.
std::int32_t last_sequence(std::int32_t first_seq, std::int32_t last_offset_delta);

enum class SeqVerdict { kAppend, kDuplicate, kOutOfOrder, kStaleEpoch };

struct SeqCheck {
  SeqVerdict verdict = SeqVerdict::kAppend;
  ProducerBatch duplicate;  // for kDuplicate: the remembered batch
  std::string message;      // for rejections
};

class ProducerStates {
 public:
  // What to do with a batch; does not change state. Entries not updated for
  // expiration_ms (and with nothing pending) count as unknown.
  SeqCheck check(std::int64_t pid, std::int16_t epoch, std::int32_t first_seq, std::int32_t last_seq,
                 std::int64_t now_ms, std::int64_t expiration_ms) const;
  // Remembers an appended batch (check() said kAppend). A new producer beyond
  // max_producers evicts the least recently updated one without pending data.
  void record(std::int64_t pid, std::int16_t epoch, const ProducerBatch& batch, std::int64_t now_ms,
              std::int64_t expiration_ms, std::size_t max_producers);
  // The batches of flush `flush_id` are committed.
  void commit(std::int64_t pid, std::uint64_t flush_id);
  // Every pending batch is dropped (their flush failed); producers left with
  // no batch are forgotten.
  void rollback();
  // Forgets producers idle for expiration_ms (with nothing pending).
  std::size_t expire(std::int64_t now_ms, std::int64_t expiration_ms);

  std::size_t size() const { return producers_.size(); }
  bool has_pending() const { return pending_ > 0; }
  const ProducerEntry* find(std::int64_t pid) const;

  // Committed state only.
  void encode(std::string& out) const;
  // Appends decoded producers (from encode()); false on malformed input.
  bool decode(std::string_view& in);

 private:
  bool expired(const ProducerEntry& e, std::int64_t now_ms, std::int64_t expiration_ms) const;
  void evict_one();

  std::unordered_map<std::int64_t, ProducerEntry> producers_;
  std::size_t pending_ = 0;  // pending batches across producers
};

// ---- checkpoint blob: every partition's committed producer state ----
std::string encode_producer_snapshot(
    const std::vector<std::pair<PartitionKey, const ProducerStates*>>& parts);
// Empty input decodes to no partitions (checkpoints written before producers existed).
Result<std::vector<std::pair<PartitionKey, ProducerStates>>> decode_producer_snapshot(std::string_view blob);

// ---- per-object digest of the idempotent batches of one flush ----
struct DigestRecord {
  PartitionKey key;
  std::int64_t pid = -1;
  std::int16_t epoch = -1;
  std::int32_t first_seq = 0;
  std::int32_t last_seq = 0;
  std::int64_t first_offset = 0;
  std::int64_t last_offset = 0;
};
struct ProducerDigest {
  std::int64_t created_ms = 0;
  std::vector<DigestRecord> records;
};
std::string encode_producer_digest(const ProducerDigest& d);
Result<ProducerDigest> decode_producer_digest(std::string_view bytes);

}  // namespace ks::log
