// Format v1/v2 of a checkpoint object: a snapshot of every partition's state
// (log start, high watermark, leader epochs, index of committed ranges) that
// covers all commit records up to covers_seq.
//
//   "KSCP" u16 version u16 flags u64 broker_epoch u64 covers_seq u64 created_ms
//   u32 object_count  { str key, u64 size [v2: u64 stream mask] }
//   u32 partition_count { topic_id[16] i32 partition i64 log_start i64 hwm i32 leader_epoch
//       u32 epoch_count { i32 epoch i64 start }
//       u32 entry_count { u32 object_idx i64 base i64 last i64 max_ts u64 pos u32 len i32 epoch u32 batches }
//       }
//   u32 producer_state_len, bytes (idempotent-producer state: encode_producer_snapshot in
//       producer_state.h; empty when no partition has producer state)
//   u32 crc32c of everything above, "KSCE"
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "log/partition.h"

namespace ks::log {

struct PartitionSnapshot {
  PartitionKey key;
  std::int64_t log_start = 0;
  std::int64_t hwm = 0;
  std::int32_t leader_epoch = 0;
  std::vector<EpochStart> epochs;
  std::vector<IndexEntry> index;
};

struct Checkpoint {
  // 2 (written now): objects carry their stream mask; 1: no masks (read as all streams).
  std::uint16_t version = 2;
  std::uint64_t broker_epoch = 0;
  std::uint64_t covers_seq = 0;
  std::uint64_t created_ms = 0;
  std::vector<PartitionSnapshot> partitions;
  std::string producer_state;
};

std::string encode_checkpoint(const Checkpoint& c);
Result<Checkpoint> decode_checkpoint(std::string_view bytes);

}  // namespace ks::log
