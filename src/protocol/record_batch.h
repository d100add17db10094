// Kafka RecordBatch v2 (magic 2): header parsing, validation of produced
// record sets, in-place offset stamping, and a small builder for tests/tools.
//
// Layout (all integers big-endian; KIP-98 / Kafka protocol guide):
//   0 baseOffset int64        12 partitionLeaderEpoch int32   21 attributes int16
//   8 batchLength int32       16 magic int8                    23 lastOffsetDelta int32
//                             17 crc uint32 (CRC32C of [21, end))
//   27 baseTimestamp int64    35 maxTimestamp int64            43 producerId int64
//   51 producerEpoch int16    53 baseSequence int32            57 recordsCount int32
//   61 records (compressed as one blob when attributes & 7 != 0)
// batchLength counts the bytes after itself, so a batch occupies 12 + batchLength.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "protocol/errors.h"

namespace ks::protocol {

inline constexpr size_t kBatchHeaderSize = 61;
inline constexpr size_t kBatchLogOverhead = 12;  // baseOffset + batchLength
inline constexpr int32_t kMinBatchLength = static_cast<int32_t>(kBatchHeaderSize - kBatchLogOverhead);  // 49
inline constexpr size_t kBatchCrcOffset = 17;
inline constexpr size_t kBatchCrcStart = 21;  // the CRC covers attributes..end
inline constexpr int8_t kBatchMagic = 2;

// Attribute bits.
inline constexpr int16_t kAttrCompressionMask = 0x07;  // 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd
inline constexpr int16_t kAttrLogAppendTime = 0x08;    // timestamp type bit
inline constexpr int16_t kAttrTransactional = 0x10;
inline constexpr int16_t kAttrControl = 0x20;

inline constexpr int kCompressionNone = 0;
inline constexpr int kCompressionGzip = 1;
inline constexpr int kCompressionSnappy = 2;
inline constexpr int kCompressionLz4 = 3;
inline constexpr int kCompressionZstd = 4;

struct BatchHeader {
  int64_t base_offset;
  int32_t batch_length;
  int32_t partition_leader_epoch;
  int8_t magic;
  uint32_t crc;
  int16_t attributes;
  int32_t last_offset_delta;
  int64_t base_timestamp;
  int64_t max_timestamp;
  int64_t producer_id;
  int16_t producer_epoch;
  int32_t base_sequence;
  int32_t records_count;

  int compression() const { return attributes & kAttrCompressionMask; }
  int timestamp_type() const { return (attributes & kAttrLogAppendTime) ? 1 : 0; }  // 0 create, 1 append
  bool is_transactional() const { return (attributes & kAttrTransactional) != 0; }
  bool is_control() const { return (attributes & kAttrControl) != 0; }
  // Whole batch size on the wire. Meaningful for validated headers only; a
  // negative batch_length counts as 0.
  size_t total_size() const {
    return kBatchLogOverhead + (batch_length > 0 ? static_cast<size_t>(batch_length) : 0);
  }
  int64_t last_offset() const { return base_offset + last_offset_delta; }
};

// Decodes the 61 header bytes without validating anything. The caller must
// pass at least kBatchHeaderSize bytes (asserted: programmer error).
BatchHeader parse_batch_header(std::string_view at_least_61_bytes);

// One batch inside a record set: its header and where it sits.
struct BatchInfo {
  BatchHeader header;
  size_t position;  // byte offset of the batch in the record set
  size_t size;      // total bytes (== header.total_size())
};

// Why a produced record set was refused, as the Kafka error code a Produce
// partition response carries.
struct BatchError {
  // CORRUPT_MESSAGE (2): CRC mismatch, bad or truncated framing.
  static constexpr int16_t kCorruptMessage = static_cast<int16_t>(ErrorCode::kCorruptMessage);
  // INVALID_RECORD (87): magic != 2, baseOffset != 0, bad counts/offsets,
  // malformed record, forbidden attribute, no batch at all.
  static constexpr int16_t kInvalidRecord = static_cast<int16_t>(ErrorCode::kInvalidRecord);
  int16_t error_code;
  std::string message;
};

using ValidateResult = std::variant<std::vector<BatchInfo>, BatchError>;

// Validates the records field of one Produce partition (untrusted input) and
// splits it into batches. Checks for every batch, as Kafka's broker does for
// client appends: complete framing, magic 2, CRC32C, baseOffset == 0,
// recordsCount >= 1 and lastOffsetDelta == recordsCount - 1, no control or
// transactional bit (we do not support transactions), a known compression
// codec, and a baseSequence >= 0 when a producerId is set. Uncompressed batches
// additionally have every record parsed (lengths, offset deltas 0..n-1 in
// order, keys, values, headers). Compressed payloads are passed through
// untouched. Never allocates based on declared sizes.
// Note: Kafka additionally requires exactly one batch per partition for
// Produce v3+; that policy is left to the caller (check the vector's size).
ValidateResult validate_record_set(std::string_view records);

// Rewrites baseOffset and partitionLeaderEpoch in place (big-endian). Both lie
// before the CRC-covered range, so the CRC stays valid. `batch` must point at
// least kBatchLogOverhead + 4 writable bytes.
void stamp_batch(char* batch, int64_t base_offset, int32_t partition_leader_epoch);

// Marks a stored batch as LogAppendTime with max timestamp `ts`
// (message.timestamp.type=LogAppendTime) and recomputes its CRC.
void set_log_append_time(char* batch, size_t size, int64_t ts);

// CRC32C of a batch's CRC-covered range (bytes [21, size)); `batch` must hold
// at least kBatchHeaderSize bytes.
uint32_t compute_batch_crc(std::string_view batch);

// Recomputes and stores the CRC of a whole batch of `size` bytes, after its
// covered bytes were rewritten.
void update_batch_crc(char* batch, size_t size);

// Splits stored, already-validated data into batches by their headers only.
// Stops at the first incomplete or implausible batch (e.g. a truncated tail).
std::vector<BatchInfo> scan_batches(std::string_view stored);

// Builder for tests and our own tools.
struct TestRecord {
  std::optional<std::string> key, value;
  std::vector<std::pair<std::string, std::optional<std::string>>> headers;
  int64_t timestamp_delta = 0;
};

// Encodes `recs` as one uncompressed v2 batch with a correct CRC,
// partitionLeaderEpoch -1, lastOffsetDelta = n - 1 and maxTimestamp =
// base_timestamp + max(timestamp_delta). Compression bits in `attributes` are
// written as given (the payload is still the plain records), which lets tests
// simulate compressed batches.
std::string build_batch(const std::vector<TestRecord>& recs, int64_t base_offset, int64_t base_timestamp,
                        int16_t attributes = 0, int64_t producer_id = -1, int16_t producer_epoch = -1,
                        int32_t base_sequence = -1);

}  // namespace ks::protocol
