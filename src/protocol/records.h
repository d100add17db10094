// A record-set field (Produce/Fetch "records"): a possibly-null byte range held as slices.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace ks::protocol {

// Decoding yields one slice that is a VIEW into the request buffer (zero copy: the caller keeps the
// buffer alive). Encoding writes the total length and then every slice, so a Fetch response can send
// cached buffers without assembling them; `owners` keep those buffers alive.
struct Records {
  bool is_null = true;
  std::vector<std::string_view> slices;
  std::vector<std::shared_ptr<const void>> owners;

  size_t size() const;
  // Appends a slice (and marks the set non-null); `owner` may be null for static/outlived data.
  void append(std::string_view slice, std::shared_ptr<const void> owner = nullptr);
  // A single-slice, non-null view of `data` (not owned).
  static Records view(std::string_view data);
  // All slices concatenated (tests, small payloads).
  std::string flatten() const;
  // Equal when both are null, or both non-null with the same bytes (slicing does not matter).
  bool operator==(const Records& other) const;
};

}  // namespace ks::protocol
