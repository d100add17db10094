// In-memory state of one partition led by this broker (loop thread only).
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "log/types.h"

namespace ks::log {

// Streams an object may carry data of, as a bit mask (cluster/streams.h:
// at most 56 streams). Unknown (single-node formats): all.
inline constexpr std::uint64_t kAllStreams = ~std::uint64_t{0};
inline constexpr std::uint64_t stream_bit(std::int32_t stream) { return std::uint64_t{1} << stream; }

struct ObjectRef {
  std::string key;
  std::uint64_t size = 0;
  std::uint64_t streams = kAllStreams;
};

// Where a committed range of offsets lives: one partition's chunk in one object.
struct IndexEntry {
  std::int64_t base_offset = 0;
  std::int64_t last_offset = 0;
  std::int64_t max_timestamp = -1;
  std::shared_ptr<const ObjectRef> object;
  std::uint64_t position = 0;
  std::uint32_t length = 0;
  std::int32_t leader_epoch = 0;
  std::uint32_t batch_count = 0;
};

// First offset written under each leader epoch (for OffsetForLeaderEpoch).
struct EpochStart {
  std::int32_t epoch = 0;
  std::int64_t start_offset = 0;
};

struct PartitionState {
  PartitionKey key;
  std::int32_t stream = 0;     // the log stream it lives in (cluster/streams.h)
  std::int64_t log_start = 0;  // first offset still readable
  std::int64_t hwm = 0;        // high watermark: next offset after the last committed one
  std::int64_t leo = 0;        // log end: next offset to assign (>= hwm)
  std::int32_t leader_epoch = 0;
  std::vector<EpochStart> epochs;
  std::deque<IndexEntry> index;  // committed ranges, ascending, contiguous
  // Bytes of its chunk in the last sealed flush: the next chunk reserves about
  // that much at once instead of growing (and copying) step by step.
  std::size_t last_chunk_bytes = 0;
};

}  // namespace ks::log
