#include "protocol/wire.h"

#include <bit>
#include <cstring>
#include <limits>

#include "protocol/varint.h"

namespace ks::protocol {

// ---------------------------------------------------------------- Reader

std::string Reader::error() const {
  if (!failed_) return {};
  std::string out = context_;
  if (!field_path_.empty()) {
    if (!out.empty()) out += ": ";
    out += "field " + field_path_;
  }
  if (!out.empty()) out += ": ";
  out += reason_ + " at byte " + std::to_string(error_pos_);
  return out;
}

void Reader::fail_at(size_t pos, std::string_view reason) {
  if (failed_) return;
  failed_ = true;
  error_pos_ = pos;
  reason_ = std::string(reason);
}

bool Reader::field_error(std::string_view field) {
  if (!failed_) fail("decode error");  // defensive: callers only use this after a failure
  if (field_path_.empty()) {
    field_path_ = std::string(field);
  } else if (field_path_.front() == '[') {
    field_path_ = std::string(field) + field_path_;
  } else {
    field_path_ = std::string(field) + "." + field_path_;
  }
  return false;
}

bool Reader::need(size_t n) {
  if (failed_) return false;
  if (data_.size() - pos_ < n) {
    fail("truncated");
    return false;
  }
  return true;
}

namespace {
template <class T>
T load_be(const char* p) {
  using U = std::make_unsigned_t<T>;
  U v = 0;
  for (size_t i = 0; i < sizeof(T); ++i) v = static_cast<U>((v << 8) | static_cast<uint8_t>(p[i]));
  return static_cast<T>(v);
}
}  // namespace

int8_t Reader::read_i8() {
  if (!need(1)) return 0;
  return static_cast<int8_t>(data_[pos_++]);
}

int16_t Reader::read_i16() {
  if (!need(2)) return 0;
  int16_t v = load_be<int16_t>(data_.data() + pos_);
  pos_ += 2;
  return v;
}

int32_t Reader::read_i32() {
  if (!need(4)) return 0;
  int32_t v = load_be<int32_t>(data_.data() + pos_);
  pos_ += 4;
  return v;
}

int64_t Reader::read_i64() {
  if (!need(8)) return 0;
  int64_t v = load_be<int64_t>(data_.data() + pos_);
  pos_ += 8;
  return v;
}

uint16_t Reader::read_u16() { return static_cast<uint16_t>(read_i16()); }
uint32_t Reader::read_u32() { return static_cast<uint32_t>(read_i32()); }
double Reader::read_f64() { return std::bit_cast<double>(read_i64()); }
bool Reader::read_bool() { return read_i8() != 0; }

Uuid Reader::read_uuid() {
  Uuid u;
  if (!need(16)) return u;
  std::memcpy(u.bytes.data(), data_.data() + pos_, 16);
  pos_ += 16;
  return u;
}

uint64_t Reader::read_leb128(unsigned bits, std::string_view too_long) {
  if (failed_) return 0;
  const size_t start = pos_;
  uint64_t v = 0;
  switch (decode_uvarint(data_, pos_, bits, v)) {
    case VarintResult::ok:
      return v;
    case VarintResult::truncated:
      fail("truncated");
      return 0;
    case VarintResult::too_long:
      fail_at(start, too_long);
      return 0;
  }
  return 0;
}

uint32_t Reader::read_uvarint() { return static_cast<uint32_t>(read_leb128(32, "varint too long")); }

int32_t Reader::read_varint() { return zigzag_decode(read_uvarint()); }

int64_t Reader::read_varlong() { return zigzag_decode(read_leb128(64, "varlong too long")); }

int64_t Reader::read_length(bool compact, bool wide) {
  size_t start = pos_;
  int64_t len;
  if (compact) {
    len = static_cast<int64_t>(read_uvarint()) - 1;
  } else {
    len = wide ? read_i32() : read_i16();
  }
  if (failed_) return -1;
  if (len < -1) {
    fail_at(start, "invalid length " + std::to_string(len));
    return -1;
  }
  if (len > static_cast<int64_t>(data_.size() - pos_)) {
    fail_at(start, "length " + std::to_string(len) + " exceeds the " + std::to_string(data_.size() - pos_) +
                       " remaining bytes");
    return -1;
  }
  return len;
}

std::optional<std::string> Reader::read_nullable_string(bool compact) {
  int64_t len = read_length(compact, /*wide=*/false);
  if (failed_ || len < 0) return std::nullopt;
  std::string s(data_.substr(pos_, static_cast<size_t>(len)));
  pos_ += static_cast<size_t>(len);
  return s;
}

std::string Reader::read_string(bool compact) {
  size_t start = pos_;
  std::optional<std::string> s = read_nullable_string(compact);
  if (!failed_ && !s) fail_at(start, "null string in a non-nullable field");
  return s ? std::move(*s) : std::string();
}

std::optional<std::string> Reader::read_nullable_bytes(bool compact) {
  int64_t len = read_length(compact, /*wide=*/true);
  if (failed_ || len < 0) return std::nullopt;
  std::string s(data_.substr(pos_, static_cast<size_t>(len)));
  pos_ += static_cast<size_t>(len);
  return s;
}

std::string Reader::read_bytes(bool compact) {
  size_t start = pos_;
  std::optional<std::string> s = read_nullable_bytes(compact);
  if (!failed_ && !s) fail_at(start, "null bytes in a non-nullable field");
  return s ? std::move(*s) : std::string();
}

Records Reader::read_records(bool compact) {
  Records r;
  int64_t len = read_length(compact, /*wide=*/true);
  if (failed_ || len < 0) return r;
  r.is_null = false;
  if (len > 0) r.slices.push_back(data_.substr(pos_, static_cast<size_t>(len)));
  pos_ += static_cast<size_t>(len);
  return r;
}

int32_t Reader::read_array_length(bool compact, size_t min_element_size) {
  size_t start = pos_;
  int64_t n = compact ? static_cast<int64_t>(read_uvarint()) - 1 : read_i32();
  if (failed_) return -1;
  if (n < -1) {
    fail_at(start, "invalid array length " + std::to_string(n));
    return -1;
  }
  if (min_element_size == 0) min_element_size = 1;
  if (n > 0 && static_cast<uint64_t>(n) > (data_.size() - pos_) / min_element_size) {
    fail_at(start, "array length " + std::to_string(n) + " exceeds the " +
                       std::to_string(data_.size() - pos_) + " remaining bytes");
    return -1;
  }
  return static_cast<int32_t>(n);
}

std::string_view Reader::read_raw(size_t n) {
  if (!need(n)) return {};
  std::string_view v = data_.substr(pos_, n);
  pos_ += n;
  return v;
}

void Reader::skip(size_t n) {
  if (need(n)) pos_ += n;
}

void Reader::skip_tagged_fields() {
  uint32_t count = read_uvarint();
  for (uint32_t i = 0; i < count && !failed_; ++i) {
    read_uvarint();  // tag
    uint32_t size = read_uvarint();
    skip(size);
  }
}

// ---------------------------------------------------------------- Writer

namespace {
template <class T>
void store_be(std::string& out, T v) {
  using U = std::make_unsigned_t<T>;
  U u = static_cast<U>(v);
  char b[sizeof(T)];
  for (size_t i = 0; i < sizeof(T); ++i) b[i] = static_cast<char>(u >> (8 * (sizeof(T) - 1 - i)));
  out.append(b, sizeof(T));
}
}  // namespace

void Writer::write_i8(int8_t v) { buf_.push_back(static_cast<char>(v)); }
void Writer::write_i16(int16_t v) { store_be(buf_, v); }
void Writer::write_i32(int32_t v) { store_be(buf_, v); }
void Writer::write_i64(int64_t v) { store_be(buf_, v); }
void Writer::write_u16(uint16_t v) { store_be(buf_, v); }
void Writer::write_u32(uint32_t v) { store_be(buf_, v); }
void Writer::write_f64(double v) { store_be(buf_, std::bit_cast<int64_t>(v)); }

void Writer::write_uuid(const Uuid& v) {
  buf_.append(reinterpret_cast<const char*>(v.bytes.data()), v.bytes.size());
}

void Writer::write_uvarint(uint32_t v) { append_uvarint(buf_, v); }

void Writer::write_varint(int32_t v) { append_varint(buf_, v); }

void Writer::write_varlong(int64_t v) { append_varlong(buf_, v); }

void Writer::write_string(std::string_view v, bool compact) {
  if (compact) {
    write_uvarint(static_cast<uint32_t>(v.size() + 1));
  } else {
    write_i16(static_cast<int16_t>(v.size()));
  }
  buf_.append(v);
}

void Writer::write_nullable_string(const std::optional<std::string>& v, bool compact) {
  if (v) {
    write_string(*v, compact);
  } else if (compact) {
    write_uvarint(0);
  } else {
    write_i16(-1);
  }
}

void Writer::write_bytes(std::string_view v, bool compact) {
  if (compact) {
    write_uvarint(static_cast<uint32_t>(v.size() + 1));
  } else {
    write_i32(static_cast<int32_t>(v.size()));
  }
  buf_.append(v);
}

void Writer::write_nullable_bytes(const std::optional<std::string>& v, bool compact) {
  if (v) {
    write_bytes(*v, compact);
  } else if (compact) {
    write_uvarint(0);
  } else {
    write_i32(-1);
  }
}

void Writer::write_records(const Records& v, bool compact, bool nullable) {
  if (v.is_null && nullable) {
    if (compact) {
      write_uvarint(0);
    } else {
      write_i32(-1);
    }
    return;
  }
  size_t total = v.size();
  if (compact) {
    write_uvarint(static_cast<uint32_t>(total + 1));
  } else {
    write_i32(static_cast<int32_t>(total));
  }
  if (!reference_records_) {
    for (std::string_view s : v.slices) buf_.append(s);
    return;
  }
  for (std::string_view s : v.slices) {
    if (s.empty()) continue;
    external_.push_back({buf_.size(), s});
    external_bytes_ += s.size();
  }
  for (const auto& o : v.owners) owners_.push_back(o);
}

void Writer::write_array_length(size_t n, bool compact) {
  if (compact) {
    write_uvarint(static_cast<uint32_t>(n + 1));
  } else {
    write_i32(static_cast<int32_t>(n));
  }
}

void Writer::write_null_array(bool compact) {
  if (compact) {
    write_uvarint(0);
  } else {
    write_i32(-1);
  }
}

void Writer::append(Writer&& other) {
  size_t base = buf_.size();
  for (const External& e : other.external_) external_.push_back({base + e.at, e.data});
  external_bytes_ += other.external_bytes_;
  for (auto& o : other.owners_) owners_.push_back(std::move(o));
  buf_.append(other.buf_);
  other = Writer(other.reference_records_);
}

size_t Writer::reserve_i32() {
  size_t at = buf_.size();
  write_i32(0);
  return at;
}

void Writer::patch_i32(size_t at, int32_t v) {
  uint32_t u = static_cast<uint32_t>(v);
  for (size_t i = 0; i < 4; ++i) buf_[at + i] = static_cast<char>(u >> (8 * (3 - i)));
}

std::string Writer::flatten() const {
  std::string out;
  out.reserve(size());
  for (std::string_view s : segments()) out.append(s);
  return out;
}

std::vector<std::string_view> Writer::segments() const {
  std::vector<std::string_view> out;
  std::string_view all(buf_);
  size_t from = 0;
  for (const External& e : external_) {
    if (e.at > from) out.push_back(all.substr(from, e.at - from));
    out.push_back(e.data);
    from = e.at;
  }
  if (from < all.size()) out.push_back(all.substr(from));
  return out;
}

}  // namespace ks::protocol
