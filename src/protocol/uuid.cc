#include "protocol/uuid.h"

#include <cstring>
#include <random>

#include "common/base64.h"

namespace ks::protocol {

bool Uuid::is_zero() const {
  for (uint8_t b : bytes) {
    if (b != 0) return false;
  }
  return true;
}

std::string Uuid::to_string() const {
  return base64_encode(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()),
                       Base64::url);
}

std::optional<Uuid> Uuid::parse(std::string_view text) {
  if (text.size() != 22) return std::nullopt;
  auto raw = base64_decode(text, Base64::url);
  // Only the canonical form: the last character's unused low bits are zero.
  if (!raw || raw->size() != 16 || base64_encode(*raw, Base64::url) != text) return std::nullopt;
  Uuid u;
  std::memcpy(u.bytes.data(), raw->data(), 16);
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
