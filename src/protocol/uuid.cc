#include "protocol/uuid.h"

#include <random>

namespace ks::protocol {
namespace {

constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int decode_char(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

}  // namespace

bool Uuid::is_zero() const {
  for (uint8_t b : bytes) {
    if (b != 0) return false;
  }
  return true;
}

std::string Uuid::to_string() const {
  std::string out;
  out.reserve(22);
  // 16 bytes = 5 groups of 3 bytes (20 chars) + 1 trailing byte (2 chars).
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    uint32_t v = (uint32_t{bytes[i]} << 16) | (uint32_t{bytes[i + 1]} << 8) | bytes[i + 2];
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  uint32_t v = uint32_t{bytes[i]} << 16;
  out += kAlphabet[(v >> 18) & 63];
  out += kAlphabet[(v >> 12) & 63];
  return out;
}

std::optional<Uuid> Uuid::parse(std::string_view text) {
  if (text.size() != 22) return std::nullopt;
  Uuid u;
  size_t out = 0;
  for (size_t i = 0; i < 20; i += 4) {
    uint32_t v = 0;
    for (size_t k = 0; k < 4; ++k) {
      int d = decode_char(text[i + k]);
      if (d < 0) return std::nullopt;
      v = (v << 6) | static_cast<uint32_t>(d);
    }
    u.bytes[out++] = static_cast<uint8_t>(v >> 16);
    u.bytes[out++] = static_cast<uint8_t>(v >> 8);
    u.bytes[out++] = static_cast<uint8_t>(v);
  }
  int d0 = decode_char(text[20]);
  int d1 = decode_char(text[21]);
  // The last character carries 2 data bits; the low 4 bits must be zero (canonical form).
  if (d0 < 0 || d1 < 0 || (d1 & 15) != 0) return std::nullopt;
  u.bytes[15] = static_cast<uint8_t>((d0 << 2) | (d1 >> 4));
  return u;
}

Uuid Uuid::random() {
  thread_local std::mt19937_64 gen{std::random_device{}()};
  Uuid u;
  do {
    uint64_t hi = gen();
    uint64_t lo = gen();
    for (int i = 0; i < 8; ++i) {
      u.bytes[i] = static_cast<uint8_t>(hi >> (56 - 8 * i));
      u.bytes[8 + i] = static_cast<uint8_t>(lo >> (56 - 8 * i));
    }
    u.bytes[6] = static_cast<uint8_t>((u.bytes[6] & 0x0f) | 0x40);  // version 4
    u.bytes[8] = static_cast<uint8_t>((u.bytes[8] & 0x3f) | 0x80);  // IETF variant
  } while (u.is_zero());
  return u;
}

}  // namespace ks::protocol
