// Little-endian fixed-width encoding for our own storage formats (objects,
// checkpoints, metadata records). The Kafka wire format lives in protocol/.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace ks {

class BinWriter {
 public:
  explicit BinWriter(std::string& out) : out_(out) {}
  template <class T>
  void put(T v) {
    static_assert(std::is_trivially_copyable_v<T>);
    char b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));  // x86-64 and aarch64 are little-endian
    out_.append(b, sizeof(T));
  }
  void bytes(std::string_view s) { out_.append(s); }
  void str(std::string_view s) {
    put<std::uint32_t>(static_cast<std::uint32_t>(s.size()));
    out_.append(s);
  }
  std::size_t size() const { return out_.size(); }

 private:
  std::string& out_;
};

// Bounds-checked reader: after the first failure every read returns zero and
// ok() stays false, so callers check once at the end.
class BinReader {
 public:
  explicit BinReader(std::string_view in) : in_(in) {}
  template <class T>
  T get() {
    T v{};
    if (!need(sizeof(T))) return v;
    std::memcpy(&v, in_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  std::string_view bytes(std::size_t n) {
    if (!need(n)) return {};
    std::string_view s = in_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  std::string str() { return std::string(bytes(get<std::uint32_t>())); }
  bool ok() const { return ok_; }
  std::size_t position() const { return pos_; }
  std::size_t remaining() const { return in_.size() - pos_; }

 private:
  bool need(std::size_t n) {
    if (!ok_ || in_.size() - pos_ < n) {
      ok_ = false;
      return false;
    }
    return true;
  }
  std::string_view in_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace ks
