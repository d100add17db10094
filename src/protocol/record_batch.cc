#include "protocol/record_batch.h"

#include <algorithm>
#include <cassert>
#include <limits>

#include "common/crc32c.h"
#include "protocol/varint.h"

namespace ks::protocol {
namespace {

// Header field offsets (see the layout in record_batch.h).
constexpr size_t kLengthOffset = 8;
constexpr size_t kEpochOffset = 12;
constexpr size_t kMagicOffset = 16;
constexpr size_t kAttributesOffset = 21;
constexpr size_t kMaxTimestampOffset = 35;
// Smallest batchLength that still reaches the magic byte (Kafka's own check
// before it looks at the magic).
constexpr int32_t kMinLengthToMagic = static_cast<int32_t>(kMagicOffset + 1 - kBatchLogOverhead);

uint64_t load_be(const char* p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

void store_be(char* p, uint64_t v, int n) {
  for (int i = n - 1; i >= 0; --i) {
    p[i] = static_cast<char>(v & 0xFF);
    v >>= 8;
  }
}

void append_be(std::string& out, uint64_t v, int n) {
  char b[8];
  store_be(b, v, n);
  out.append(b, n);
}

// Bounds-checked reader over untrusted record bytes. After the first failure
// every read fails and ok() stays false.
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}

  bool ok() const { return ok_; }
  size_t remaining() const { return in_.size() - pos_; }
  size_t position() const { return pos_; }

  bool byte(int8_t* out) {
    if (!ok_ || remaining() < 1) return fail();
    *out = static_cast<int8_t>(in_[pos_++]);
    return true;
  }

  // Signed zigzag varint that fits 32 bits.
  bool varint(int32_t* out) {
    uint64_t z;
    if (!uvarint(32, &z)) return false;
    *out = zigzag_decode(static_cast<uint32_t>(z));
    return true;
  }

  // Signed zigzag varlong that fits 64 bits.
  bool varlong(int64_t* out) {
    uint64_t z;
    if (!uvarint(64, &z)) return false;
    *out = zigzag_decode(z);
    return true;
  }

  // Takes the next n bytes; n is checked against what is left before use, so
  // hostile lengths never cause allocation or overreads.
  bool take(size_t n, std::string_view* out = nullptr) {
    if (!ok_ || remaining() < n) return fail();
    if (out) *out = in_.substr(pos_, n);
    pos_ += n;
    return true;
  }

 private:
  bool uvarint(unsigned bits, uint64_t* out) {
    if (!ok_) return false;
    if (decode_uvarint(in_, pos_, bits, *out) != VarintResult::ok) return fail();
    return true;
  }

  bool fail() {
    ok_ = false;
    return false;
  }

  std::string_view in_;
  size_t pos_ = 0;
  bool ok_ = true;
};

BatchError corrupt(std::string msg) { return {BatchError::kCorruptMessage, std::move(msg)}; }
BatchError invalid(std::string msg) { return {BatchError::kInvalidRecord, std::move(msg)}; }

std::string at(size_t batch_pos) { return " (batch at byte " + std::to_string(batch_pos) + ")"; }

// Kafka's client-append checks on a CRC-valid v2 header.
std::optional<BatchError> check_header(const BatchHeader& h, size_t pos) {
  if (h.base_offset != 0) {
    return invalid("batch baseOffset must be 0, got " + std::to_string(h.base_offset) + at(pos));
  }
  if (h.records_count <= 0) {
    return invalid("invalid records count " + std::to_string(h.records_count) + at(pos));
  }
  if (h.last_offset_delta != h.records_count - 1) {
    return invalid("lastOffsetDelta " + std::to_string(h.last_offset_delta) +
                   " does not match records count " + std::to_string(h.records_count) + at(pos));
  }
  if (h.is_control()) return invalid("clients may not write control batches" + at(pos));
  if (h.is_transactional()) return invalid("transactional batches are not supported" + at(pos));
  if (h.compression() > kCompressionZstd) {
    return invalid("unknown compression codec " + std::to_string(h.compression()) + at(pos));
  }
  if (h.producer_id >= 0 && h.base_sequence < 0) {
    return invalid("invalid base sequence " + std::to_string(h.base_sequence) + " with producerId" + at(pos));
  }
  return std::nullopt;
}

// Parses every record of an uncompressed batch payload (the bytes after the
// header). The loop consumes at least one byte per record, so a hostile count
// is bounded by the payload size.
std::optional<BatchError> check_records(std::string_view payload, int32_t count, size_t pos) {
  Reader r(payload);
  for (int32_t i = 0; i < count; ++i) {
    // Built only on failure: formatting per record would dominate the cost.
    auto rec = [&] { return "record " + std::to_string(i) + at(pos); };
    if (r.remaining() == 0) {
      return invalid("batch declares " + std::to_string(count) + " records but holds " + std::to_string(i) +
                     at(pos));
    }
    int32_t len;
    std::string_view body_bytes;
    if (!r.varint(&len) || len < 0 || !r.take(static_cast<size_t>(len), &body_bytes)) {
      return invalid("bad length of " + rec());
    }
    Reader body(body_bytes);
    int8_t attributes;
    int64_t timestamp_delta;
    int32_t offset_delta, key_len, value_len, header_count;
    body.byte(&attributes);
    body.varlong(&timestamp_delta);
    if (!body.varint(&offset_delta)) return invalid("malformed " + rec());
    if (offset_delta != i) {
      return invalid("offsetDelta " + std::to_string(offset_delta) + " out of sequence in " + rec());
    }
    // -1 means null; anything below is malformed.
    if (!body.varint(&key_len) || key_len < -1 || (key_len > 0 && !body.take(key_len))) {
      return invalid("bad key in " + rec());
    }
    if (!body.varint(&value_len) || value_len < -1 || (value_len > 0 && !body.take(value_len))) {
      return invalid("bad value in " + rec());
    }
    // Each header needs at least two bytes (two length varints), so a count
    // beyond half the remaining bytes cannot be real.
    if (!body.varint(&header_count) || header_count < 0 ||
        static_cast<size_t>(header_count) > body.remaining() / 2) {
      return invalid("bad header count in " + rec());
    }
    for (int32_t h = 0; h < header_count; ++h) {
      int32_t hkey_len, hvalue_len;
      // Header keys are non-null strings; values are nullable bytes.
      if (!body.varint(&hkey_len) || hkey_len < 0 || !body.take(hkey_len) || !body.varint(&hvalue_len) ||
          hvalue_len < -1 || (hvalue_len > 0 && !body.take(hvalue_len))) {
        return invalid("bad header " + std::to_string(h) + " in " + rec());
      }
    }
    if (body.remaining() != 0) {
      return invalid("declared length " + std::to_string(len) + " but parsed " +
                     std::to_string(body.position()) + " bytes in " + rec());
    }
  }
  if (r.remaining() != 0) {
    return invalid(std::to_string(r.remaining()) + " bytes left after the declared " + std::to_string(count) +
                   " records" + at(pos));
  }
  return std::nullopt;
}

}  // namespace

BatchHeader parse_batch_header(std::string_view b) {
  assert(b.size() >= kBatchHeaderSize);
  const char* p = b.data();
  BatchHeader h;
  h.base_offset = static_cast<int64_t>(load_be(p + 0, 8));
  h.batch_length = static_cast<int32_t>(load_be(p + 8, 4));
  h.partition_leader_epoch = static_cast<int32_t>(load_be(p + 12, 4));
  h.magic = static_cast<int8_t>(p[16]);
  h.crc = static_cast<uint32_t>(load_be(p + 17, 4));
  h.attributes = static_cast<int16_t>(load_be(p + 21, 2));
  h.last_offset_delta = static_cast<int32_t>(load_be(p + 23, 4));
  h.base_timestamp = static_cast<int64_t>(load_be(p + 27, 8));
  h.max_timestamp = static_cast<int64_t>(load_be(p + 35, 8));
  h.producer_id = static_cast<int64_t>(load_be(p + 43, 8));
  h.producer_epoch = static_cast<int16_t>(load_be(p + 51, 2));
  h.base_sequence = static_cast<int32_t>(load_be(p + 53, 4));
  h.records_count = static_cast<int32_t>(load_be(p + 57, 4));
  return h;
}

ValidateResult validate_record_set(std::string_view records) {
  if (records.empty()) return invalid("record set holds no record batch");
  // Every batch is at least kBatchHeaderSize bytes, so this vector is bounded
  // by the record set size, which the network layer already limits.
  std::vector<BatchInfo> out;
  size_t pos = 0;
  while (pos < records.size()) {
    size_t left = records.size() - pos;
    const char* p = records.data() + pos;
    if (left < kBatchLogOverhead) return corrupt("truncated batch framing" + at(pos));
    int32_t length = static_cast<int32_t>(load_be(p + kLengthOffset, 4));
    if (length < kMinLengthToMagic) {
      return corrupt("batch length " + std::to_string(length) + " too small" + at(pos));
    }
    if (static_cast<size_t>(length) > left - kBatchLogOverhead) {
      return corrupt("batch length " + std::to_string(length) + " exceeds the " +
                     std::to_string(left - kBatchLogOverhead) + " bytes left" + at(pos));
    }
    if (static_cast<int8_t>(p[kMagicOffset]) != kBatchMagic) {
      return invalid("unsupported record batch magic " +
                     std::to_string(static_cast<int8_t>(p[kMagicOffset])) + at(pos));
    }
    if (length < kMinBatchLength) {
      return corrupt("batch length " + std::to_string(length) + " too small" + at(pos));
    }
    std::string_view batch(p, kBatchLogOverhead + static_cast<size_t>(length));
    BatchHeader h = parse_batch_header(batch);
    uint32_t actual = compute_batch_crc(batch);
    if (actual != h.crc) {
      return corrupt("batch CRC mismatch: stored " + std::to_string(h.crc) + ", computed " +
                     std::to_string(actual) + at(pos));
    }
    if (auto err = check_header(h, pos)) return std::move(*err);
    if (h.compression() == kCompressionNone) {
      if (auto err = check_records(batch.substr(kBatchHeaderSize), h.records_count, pos)) {
        return std::move(*err);
      }
    }
    out.push_back(BatchInfo{h, pos, batch.size()});
    pos += batch.size();
  }
  return out;
}

void stamp_batch(char* batch, int64_t base_offset, int32_t partition_leader_epoch) {
  store_be(batch, static_cast<uint64_t>(base_offset), 8);
  store_be(batch + kEpochOffset, static_cast<uint32_t>(partition_leader_epoch), 4);
}

void set_log_append_time(char* batch, size_t size, int64_t ts) {
  assert(size >= kBatchHeaderSize);
  auto attrs = static_cast<uint16_t>(load_be(batch + kAttributesOffset, 2));
  attrs |= static_cast<uint16_t>(kAttrLogAppendTime);
  store_be(batch + kAttributesOffset, attrs, 2);
  store_be(batch + kMaxTimestampOffset, static_cast<uint64_t>(ts), 8);
  update_batch_crc(batch, size);
}

uint32_t compute_batch_crc(std::string_view batch) {
  assert(batch.size() >= kBatchHeaderSize);
  return crc32c(batch.substr(kBatchCrcStart));
}

void update_batch_crc(char* batch, size_t size) {
  store_be(batch + kBatchCrcOffset, compute_batch_crc(std::string_view(batch, size)), 4);
}

std::vector<BatchInfo> scan_batches(std::string_view stored) {
  // Bounded by stored.size() / kBatchHeaderSize entries.
  std::vector<BatchInfo> out;
  size_t pos = 0;
  while (stored.size() - pos >= kBatchHeaderSize) {
    const char* p = stored.data() + pos;
    int32_t length = static_cast<int32_t>(load_be(p + kLengthOffset, 4));
    if (length < kMinBatchLength || static_cast<size_t>(length) > stored.size() - pos - kBatchLogOverhead)
      break;
    size_t size = kBatchLogOverhead + static_cast<size_t>(length);
    out.push_back(BatchInfo{parse_batch_header(stored.substr(pos, kBatchHeaderSize)), pos, size});
    pos += size;
  }
  return out;
}

std::string build_batch(const std::vector<TestRecord>& recs, int64_t base_offset, int64_t base_timestamp,
                        int16_t attributes, int64_t producer_id, int16_t producer_epoch,
                        int32_t base_sequence) {
  std::string payload;
  int64_t max_delta = 0;
  std::string body;
  for (size_t i = 0; i < recs.size(); ++i) {
    const TestRecord& r = recs[i];
    max_delta = i == 0 ? r.timestamp_delta : std::max(max_delta, r.timestamp_delta);
    body.clear();
    body.push_back(0);  // record attributes: unused
    append_varlong(body, r.timestamp_delta);
    append_varint(body, static_cast<int32_t>(i));
    for (const auto* field : {&r.key, &r.value}) {
      append_varint(body, field->has_value() ? static_cast<int32_t>((*field)->size()) : -1);
      if (field->has_value()) body += **field;
    }
    append_varint(body, static_cast<int32_t>(r.headers.size()));
    for (const auto& [hkey, hvalue] : r.headers) {
      append_varint(body, static_cast<int32_t>(hkey.size()));
      body += hkey;
      append_varint(body, hvalue ? static_cast<int32_t>(hvalue->size()) : -1);
      if (hvalue) body += *hvalue;
    }
    append_varint(payload, static_cast<int32_t>(body.size()));
    payload += body;
  }
  assert(payload.size() <= static_cast<size_t>(std::numeric_limits<int32_t>::max()) - kMinBatchLength);

  std::string out;
  out.reserve(kBatchHeaderSize + payload.size());
  append_be(out, static_cast<uint64_t>(base_offset), 8);
  append_be(out, static_cast<uint64_t>(kMinBatchLength + payload.size()), 4);
  append_be(out, static_cast<uint32_t>(-1), 4);  // partitionLeaderEpoch: unknown, as clients send
  out.push_back(static_cast<char>(kBatchMagic));
  append_be(out, 0, 4);  // CRC, filled below
  append_be(out, static_cast<uint16_t>(attributes), 2);
  append_be(out, static_cast<uint32_t>(static_cast<int32_t>(recs.size()) - 1), 4);
  append_be(out, static_cast<uint64_t>(base_timestamp), 8);
  append_be(out, static_cast<uint64_t>(base_timestamp + max_delta), 8);
  append_be(out, static_cast<uint64_t>(producer_id), 8);
  append_be(out, static_cast<uint16_t>(producer_epoch), 2);
  append_be(out, static_cast<uint32_t>(base_sequence), 4);
  append_be(out, static_cast<uint32_t>(recs.size()), 4);
  assert(out.size() == kBatchHeaderSize);
  out += payload;
  update_batch_crc(out.data(), out.size());
  return out;
}

}  // namespace ks::protocol
