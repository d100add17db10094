// Kafka's variable-length integers, one implementation for the wire codecs
// (wire.*), record batch validation and building (record_batch.*) and the
// batch scanner (batch_scan.*): unsigned LEB128 ("uvarint": compact lengths,
// tagged fields) and the zigzag-signed varint (32 bits) / varlong (64 bits)
// used inside records.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ks::protocol {

constexpr std::uint32_t zigzag_encode(std::int32_t v) {
  return (static_cast<std::uint32_t>(v) << 1) ^ static_cast<std::uint32_t>(v >> 31);
}
constexpr std::uint64_t zigzag_encode(std::int64_t v) {
  return (static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63);
}
constexpr std::int32_t zigzag_decode(std::uint32_t z) {
  return static_cast<std::int32_t>((z >> 1) ^ (~(z & 1) + 1));
}
constexpr std::int64_t zigzag_decode(std::uint64_t z) {
  return static_cast<std::int64_t>((z >> 1) ^ (~(z & 1) + 1));
}

inline void append_uvarint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}
inline void append_varint(std::string& out, std::int32_t v) { append_uvarint(out, zigzag_encode(v)); }
inline void append_varlong(std::string& out, std::int64_t v) { append_uvarint(out, zigzag_encode(v)); }

enum class VarintResult { ok, truncated, too_long };

// Decodes an unsigned LEB128 value of at most `bits` bits (32 or 64) at `pos`
// and advances `pos` past the bytes read. too_long: more bytes than the width
// needs, or bits set beyond it (the 5th byte of a 32-bit value carries 4
// bits, the 10th of a 64-bit one 1 bit); truncated: the input ends first.
inline VarintResult decode_uvarint(std::string_view in, std::size_t& pos, unsigned bits, std::uint64_t& out) {
  std::uint64_t v = 0;
  for (unsigned shift = 0; shift < bits; shift += 7) {
    if (pos >= in.size()) return VarintResult::truncated;
    const auto b = static_cast<std::uint8_t>(in[pos++]);
    if (bits - shift < 7 && (b >> (bits - shift)) != 0) return VarintResult::too_long;
    v |= std::uint64_t{b & 0x7fu} << shift;
    if ((b & 0x80) == 0) {
      out = v;
      return VarintResult::ok;
    }
  }
  return VarintResult::too_long;
}

}  // namespace ks::protocol
