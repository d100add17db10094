#include "cluster/types.h"

#include <random>

#include "common/hex.h"

namespace ks::cluster {

std::string to_hex(const TopicId& id) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s;
  s.reserve(32);
  for (auto b : id) {
    s.push_back(kDigits[b >> 4]);
    s.push_back(kDigits[b & 15]);
  }
  return s;
}

bool from_hex(std::string_view hex, TopicId& out) {
  if (hex.size() != 32) return false;
  for (std::size_t i = 0; i < 16; ++i) {
    int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return true;
}

TopicId random_topic_id() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  TopicId id;
  for (;;) {
    std::uint64_t a = rng(), b = rng();
    for (int i = 0; i < 8; ++i) {
      id[i] = static_cast<std::uint8_t>(a >> (8 * i));
      id[8 + i] = static_cast<std::uint8_t>(b >> (8 * i));
    }
    // Version-4 UUID bits, as Kafka's Uuid.randomUuid().
    id[6] = (id[6] & 0x0f) | 0x40;
    id[8] = (id[8] & 0x3f) | 0x80;
    bool zero = true;
    for (auto x : id) zero = zero && x == 0;
    if (!zero) return id;  // all-zero is Kafka's "no id"
  }
}

}  // namespace ks::cluster
