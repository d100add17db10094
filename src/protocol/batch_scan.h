// Scans stored (already validated) record batches without decompressing:
// timestamp look-ups for ListOffsets, reading record headers in place.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace ks::protocol {

struct OffsetAndTimestamp {
  std::int64_t offset = -1;
  std::int64_t timestamp = -1;
};

// The first record whose timestamp is >= ts and whose offset is >=
// min_offset (the log start) in a chunk of stored batches. Uncompressed
// batches are scanned record by record; for a compressed (or LogAppendTime)
// batch whose max timestamp is >= ts, its base offset (at least min_offset)
// and max timestamp are returned (the exact record would need decompression).
std::optional<OffsetAndTimestamp> first_offset_with_timestamp(std::string_view chunk, std::int64_t ts,
                                                              std::int64_t min_offset = 0);

// The record with the largest timestamp in the chunk (the first such record);
// for a compressed batch, its last offset.
std::optional<OffsetAndTimestamp> max_timestamp_record(std::string_view chunk);

}  // namespace ks::protocol
