// Reading a versioned JSON record ({"v": 1, ...}) from a store without
// throwing: malformed text, another version or a field of the wrong type all
// become Errc::corrupt naming the record (bytes from a store are never trusted).
#pragma once

#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <string_view>

#include "common/status.h"

namespace ks {

// Calls f(json) -> Result<T> for a version-1 record; a json exception thrown
// by f (missing field, wrong type) is reported as corruption.
template <class F>
auto parse_versioned(std::string_view text, const char* what, F f) -> decltype(f(nlohmann::json{})) {
  using nlohmann::json;
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Status(Errc::corrupt, fmt::format("{}: not JSON", what));
  auto v = j.find("v");
  if (v == j.end() || !v->is_number_integer() || v->get<int>() != 1) {
    return Status(Errc::corrupt, fmt::format("{}: unsupported format version", what));
  }
  try {
    return f(j);
  } catch (const json::exception& e) {
    return Status(Errc::corrupt, fmt::format("{}: {}", what, e.what()));
  }
}

}  // namespace ks
