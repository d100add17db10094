// Kafka wire primitives: a bounds-checked Reader (no exceptions) and a Writer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/records.h"
#include "protocol/uuid.h"

namespace ks::protocol {

// Reads big-endian Kafka primitives from a byte view. Every read is bounds-checked; the first
// failure puts the reader into a failed state that remembers the byte position and a reason, and
// every later read returns a zero value. Lengths are validated against the remaining bytes before
// anything is allocated, so a hostile 4-byte length cannot cause a huge allocation.
class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}

  bool ok() const { return !failed_; }
  // Current offset, or the offset where the first failure happened.
  size_t position() const { return failed_ ? error_pos_ : pos_; }
  size_t remaining() const { return failed_ ? 0 : data_.size() - pos_; }
  // "<context>: field <path>: <reason> at byte <position>" (empty when ok()).
  std::string error() const;
  const std::string& reason() const { return reason_; }

  int8_t read_i8();
  int16_t read_i16();
  int32_t read_i32();
  int64_t read_i64();
  uint16_t read_u16();
  uint32_t read_u32();
  double read_f64();
  bool read_bool();
  Uuid read_uuid();
  int32_t read_varint();    // zigzag
  int64_t read_varlong();   // zigzag
  uint32_t read_uvarint();  // unsigned, at most 5 bytes

  // compact = flexible-version encoding (unsigned varint length + 1; 0 = null).
  // Non-nullable reads fail on a null value.
  std::string read_string(bool compact);
  std::optional<std::string> read_nullable_string(bool compact);
  std::string read_bytes(bool compact);
  std::optional<std::string> read_nullable_bytes(bool compact);
  // A records field: a view into the input (zero copy), or a null Records.
  Records read_records(bool compact);
  // Array element count, -1 for null. Fails when count * min_element_size exceeds what is left.
  int32_t read_array_length(bool compact, size_t min_element_size = 1);
  // Raw view of the next n bytes.
  std::string_view read_raw(size_t n);
  void skip(size_t n);
  // Reads a whole tagged-field section and ignores every tag.
  void skip_tagged_fields();

  // Enters the failed state at the current position (first failure wins).
  void fail(std::string_view reason) { fail_at(pos_, reason); }
  void fail_at(size_t pos, std::string_view reason);
  // Prepends a path element ("name", "topics[3]") to the failing field's path; returns false so
  // generated code can write `return r.field_error("x");`.
  bool field_error(std::string_view field);
  // Message-level prefix of error(), e.g. "Produce v9 request".
  void set_context(std::string context) { context_ = std::move(context); }

 private:
  bool need(size_t n);
  // An unsigned varint of at most `bits` bits (protocol/varint.h); 0 after a failure.
  uint64_t read_leb128(unsigned bits, std::string_view too_long);
  // Reads a length prefix: compact (uvarint-1) or a fixed int16/int32. Returns -1 for null, and
  // fails on negative lengths below -1 or lengths beyond the remaining bytes.
  int64_t read_length(bool compact, bool wide);

  std::string_view data_;
  size_t pos_ = 0;
  bool failed_ = false;
  size_t error_pos_ = 0;
  std::string reason_;
  std::string field_path_;
  std::string context_;
};

// Appends Kafka primitives to an owned buffer. Records slices are copied by default; with
// reference_records=true they are kept as external segments (zero copy) and the output must be
// read with segments() instead of buffer().
class Writer {
 public:
  Writer() = default;
  explicit Writer(bool reference_records) : reference_records_(reference_records) {}
  bool references_records() const { return reference_records_; }

  void write_i8(int8_t v);
  void write_i16(int16_t v);
  void write_i32(int32_t v);
  void write_i64(int64_t v);
  void write_u16(uint16_t v);
  void write_u32(uint32_t v);
  void write_f64(double v);
  void write_bool(bool v) { write_i8(v ? 1 : 0); }
  void write_uuid(const Uuid& v);
  void write_varint(int32_t v);
  void write_varlong(int64_t v);
  void write_uvarint(uint32_t v);

  // Strings longer than the int16 limit of non-flexible versions are the caller's bug.
  void write_string(std::string_view v, bool compact);
  void write_nullable_string(const std::optional<std::string>& v, bool compact);
  void write_bytes(std::string_view v, bool compact);
  void write_nullable_bytes(const std::optional<std::string>& v, bool compact);
  // Writes the total length then every slice; a null Records is written as null, or as empty
  // when `nullable` is false.
  void write_records(const Records& v, bool compact, bool nullable = true);
  void write_array_length(size_t n, bool compact);
  void write_null_array(bool compact);
  void write_raw(std::string_view v) { buf_.append(v); }
  // Appends everything another writer produced (used for tagged fields).
  void append(Writer&& other);

  // Placeholder for a big-endian int32 filled in later (frame sizes).
  size_t reserve_i32();
  void patch_i32(size_t at, int32_t v);

  // Total bytes written, including external segments.
  size_t size() const { return buf_.size() + external_bytes_; }
  bool has_external() const { return !external_.empty(); }
  // The owned bytes: the whole output when !has_external().
  const std::string& buffer() const { return buf_; }
  std::string release() { return std::move(buf_); }
  // Every byte in order, copied (tests, small messages).
  std::string flatten() const;
  // The output in order as views valid while this writer (and the owners) live.
  std::vector<std::string_view> segments() const;
  // Owners of external segments; move them next to segments() to keep the bytes alive.
  std::vector<std::shared_ptr<const void>> take_owners() { return std::move(owners_); }

 private:
  struct External {
    size_t at;  // offset in buf_ where the segment is inserted
    std::string_view data;
  };
  bool reference_records_ = false;
  std::string buf_;
  std::vector<External> external_;
  std::vector<std::shared_ptr<const void>> owners_;
  size_t external_bytes_ = 0;
};

}  // namespace ks::protocol
