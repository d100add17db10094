// Small helpers for reading the cluster's versioned JSON records
// (membership.h, placement.h): integer fields are checked for type and range
// rather than converted silently.
#pragma once

#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>

namespace ks::cluster::record_json {

// The integer `field` of `j` if present, an integer and within [lo, hi].
inline std::optional<std::int64_t> int_field(const nlohmann::json& j, const char* field,
                                             std::int64_t lo = std::numeric_limits<std::int64_t>::min(),
                                             std::int64_t hi = std::numeric_limits<std::int64_t>::max()) {
  auto it = j.find(field);
  if (it == j.end() || !it->is_number_integer()) return std::nullopt;
  std::int64_t v = 0;
  if (it->is_number_unsigned()) {
    auto u = it->get<std::uint64_t>();
    if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) return std::nullopt;
    v = static_cast<std::int64_t>(u);
  } else {
    v = it->get<std::int64_t>();
  }
  if (v < lo || v > hi) return std::nullopt;
  return v;
}

}  // namespace ks::cluster::record_json
