// Record batch compression codecs (attributes & 7) and recompression of a
// produced batch to a topic's compression.type.
//
// Formats, as Kafka writes and reads them for RecordBatch v2:
//   gzip    RFC 1952 (zlib; any gzip or zlib stream is read)
//   snappy  xerial framing ("\x82SNAPPY\0", version 1, compatible 1, then
//           [int32 length][raw snappy block] ...), which Kafka's Java client
//           writes; a raw snappy block (what librdkafka writes) is read too
//   lz4     the LZ4 frame format (liblz4's LZ4F)
//   zstd    a zstd frame (libzstd)
// Decompression is bounded: a payload that would inflate beyond `max_out`
// bytes is refused (a "decompression bomb" never allocates more than that).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "protocol/record_batch.h"

namespace ks::protocol {

const char* codec_name(int codec);  // "none", "gzip", "snappy", "lz4", "zstd", "unknown"

// Decompresses one batch payload. On failure returns nullopt and says why in `error`.
std::optional<std::string> decompress(int codec, std::string_view in, std::size_t max_out,
                                      std::string& error);

// Compresses `in` with `codec` (1..4). Returns nullopt only if the library
// fails (out of memory), with the reason in `error`.
std::optional<std::string> compress(int codec, std::string_view in, std::string& error);

// Rewrites one validated batch (as validate_record_set returned it) with
// `codec`: the payload is decompressed (at most `max_decompressed` bytes),
// every record is parsed as for an uncompressed batch, and the records are
// compressed again. Producer id/epoch/sequence, offsets, timestamps and counts
// are kept; the CRC is recomputed. A corrupt payload is CORRUPT_MESSAGE, a
// malformed record INVALID_RECORD, a payload beyond the limit RECORD_TOO_LARGE.
std::variant<std::string, BatchError> recompress_batch(std::string_view batch, int codec,
                                                       std::size_t max_decompressed);

}  // namespace ks::protocol
