#include "protocol/batch_scan.h"

#include <algorithm>

#include "protocol/record_batch.h"
#include "protocol/varint.h"

namespace ks::protocol {
namespace {

// A record's varlong; false on malformed input.
bool read_varlong(std::string_view d, std::size_t& pos, std::int64_t& out) {
  std::uint64_t z = 0;
  if (decode_uvarint(d, pos, 64, z) != VarintResult::ok) return false;
  out = zigzag_decode(z);
  return true;
}

bool opaque(const BatchHeader& h) { return h.compression() != 0 || (h.attributes & kAttrLogAppendTime) != 0; }

// Calls f(offset, timestamp) for each record of an uncompressed batch until f returns true.
template <class F>
bool for_each_record(std::string_view batch, const BatchHeader& h, F f) {
  std::string_view recs = batch.substr(kBatchHeaderSize);
  std::size_t rp = 0;
  for (std::int32_t i = 0; i < h.records_count; ++i) {
    std::int64_t len = 0, ts_delta = 0, off_delta = 0;
    if (!read_varlong(recs, rp, len) || len < 0 || static_cast<std::size_t>(len) > recs.size() - rp)
      return false;
    std::size_t next = rp + static_cast<std::size_t>(len);
    std::size_t q = rp + 1;  // skip attributes
    if (!read_varlong(recs, q, ts_delta) || !read_varlong(recs, q, off_delta)) return false;
    if (f(h.base_offset + off_delta, h.base_timestamp + ts_delta)) return true;
    rp = next;
  }
  return false;
}

}  // namespace

std::optional<OffsetAndTimestamp> first_offset_with_timestamp(std::string_view chunk, std::int64_t ts,
                                                              std::int64_t min_offset) {
  for (const auto& b : scan_batches(chunk)) {
    const auto& h = b.header;
    if (h.max_timestamp < ts || h.last_offset() < min_offset) continue;
    if (opaque(h)) return OffsetAndTimestamp{std::max(h.base_offset, min_offset), h.max_timestamp};
    OffsetAndTimestamp found;
    if (for_each_record(chunk.substr(b.position, b.size), h, [&](std::int64_t o, std::int64_t t) {
          if (t < ts || o < min_offset) return false;
          found = {o, t};
          return true;
        })) {
      return found;
    }
    // The max timestamp says a record qualifies, unless it is one below min_offset.
    if (h.base_offset >= min_offset) return OffsetAndTimestamp{h.base_offset, h.max_timestamp};
  }
  return std::nullopt;
}

std::optional<OffsetAndTimestamp> max_timestamp_record(std::string_view chunk) {
  std::optional<OffsetAndTimestamp> best;
  for (const auto& b : scan_batches(chunk)) {
    const auto& h = b.header;
    if (best && h.max_timestamp <= best->timestamp) continue;
    if (opaque(h)) {
      best = OffsetAndTimestamp{h.last_offset(), h.max_timestamp};
      continue;
    }
    OffsetAndTimestamp m{h.last_offset(), h.max_timestamp};
    for_each_record(chunk.substr(b.position, b.size), h, [&](std::int64_t o, std::int64_t t) {
      if (t == h.max_timestamp) {
        m = {o, t};
        return true;
      }
      return false;
    });
    best = m;
  }
  return best;
}

}  // namespace ks::protocol
