// Kafka UUID (topic ids): 16 raw bytes, printed as unpadded base64url like Kafka does.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ks::protocol {

struct Uuid {
  std::array<uint8_t, 16> bytes{};

  bool operator==(const Uuid&) const = default;
  bool is_zero() const;
  // 22 characters of base64url without padding (Kafka's Uuid.toString()).
  std::string to_string() const;
  // Parses the to_string() form; nullopt on anything else.
  static std::optional<Uuid> parse(std::string_view text);
  // Random version-4 UUID, never zero. Thread-safe.
  static Uuid random();
};

}  // namespace ks::protocol
