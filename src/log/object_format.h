// Format v1 of a log object: one object per flush, holding the new record
// batches of every partition the broker appended to in that flush.
//
//   header  (32 B)  "KSOB" u16 version u16 flags u64 broker_epoch u64 flush_seq u64 created_ms
//   data            per partition, its batches back to back (offsets assigned)
//   footer          u32 entry_count, entry_count x ObjectEntry (64 B each)
//   trailer (24 B)  u64 footer_pos u32 footer_len u32 footer_crc32c u32 reserved "KSOF"
//
// The commit record that makes an object visible carries footer_pos/len, so a
// recovering broker reads a footer with one ranged GET. Each partition's data
// is contiguous, so a fetch of one partition is one ranged GET.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "log/types.h"

namespace ks::log {

inline constexpr std::uint16_t kObjectFormatVersion = 1;
inline constexpr std::size_t kObjectHeaderSize = 32;
inline constexpr std::size_t kObjectTrailerSize = 24;
inline constexpr std::size_t kObjectEntrySize = 64;
// Bounds what a corrupt or hostile footer can make us allocate.
inline constexpr std::uint32_t kMaxObjectEntries = 1'000'000;

struct ObjectEntry {
  TopicId topic{};
  std::int32_t partition = 0;
  std::int64_t base_offset = 0;
  std::int64_t last_offset = 0;     // offset of the last record
  std::int64_t max_timestamp = -1;  // max of the batches' max timestamps
  std::int32_t leader_epoch = 0;
  std::uint32_t batch_count = 0;
  std::uint64_t position = 0;  // of the chunk in the object
  std::uint32_t length = 0;
};

struct ObjectHeader {
  std::uint16_t version = kObjectFormatVersion;
  std::uint64_t broker_epoch = 0;
  std::uint64_t flush_seq = 0;
  std::uint64_t created_ms = 0;
};

struct FooterLocation {
  std::uint64_t position = 0;
  std::uint32_t length = 0;
};

// One partition's chunk to put into an object. position/length of `entry`
// are filled by the builder.
struct ChunkRef {
  ObjectEntry entry;
  std::string_view data;
};

struct BuiltObject {
  std::string bytes;
  std::vector<ObjectEntry> entries;  // with positions
  FooterLocation footer;
};

BuiltObject build_object(const ObjectHeader& header, const std::vector<ChunkRef>& chunks);
// The size of the object build_object makes of `chunks`.
std::size_t object_size(const std::vector<ChunkRef>& chunks);
// Builds the object into out[0, size) (size == object_size(chunks)); the
// result's `bytes` stays empty.
BuiltObject build_object_into(const ObjectHeader& header, const std::vector<ChunkRef>& chunks, char* out,
                              std::size_t size);

// Footer bytes (as located by FooterLocation) -> entries; checks the CRC
// given in the trailer or commit record.
Result<std::vector<ObjectEntry>> decode_footer(std::string_view footer, std::uint32_t expected_crc);

struct ParsedObject {
  ObjectHeader header;
  FooterLocation footer;
  std::uint32_t footer_crc = 0;
  std::vector<ObjectEntry> entries;
};

// A whole object (for `kafscale inspect` and recovery checks).
Result<ParsedObject> parse_object(std::string_view bytes);
// Only the trailer (last kObjectTrailerSize bytes).
Result<ParsedObject> parse_trailer(std::string_view trailer);

}  // namespace ks::log
