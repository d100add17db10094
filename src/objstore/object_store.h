// ObjectStore: immutable objects addressed by key (S3 semantics we rely on).
//
// Implementations are thread-safe and blocking; the broker calls them from its
// I/O worker pool, never from the network loop.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace ks::objstore {

struct ByteRange {
  std::uint64_t offset = 0;
  std::uint64_t length = 0;  // must be > 0
};

struct ObjectInfo {
  std::string key;
  std::uint64_t size = 0;
};

class ObjectStore {
 public:
  virtual ~ObjectStore() = default;

  // Stores `data` under `key`. Durable when it returns ok. Keys are written
  // once by design (unique names); a second put of a key replaces it.
  virtual Status put(std::string_view key, std::string_view data) = 0;

  // Whole object, or the bytes in `range` (clamped at the object's end; a
  // range starting at or past the end is invalid_argument).
  // not_found when the key does not exist.
  virtual Result<std::string> get(std::string_view key, std::optional<ByteRange> range = std::nullopt) = 0;

  // All objects whose key starts with `prefix`, sorted by key.
  virtual Result<std::vector<ObjectInfo>> list(std::string_view prefix) = 0;

  // Deletes `key`; deleting a missing key is ok.
  virtual Status remove(std::string_view key) = 0;

  // Short backend description for logs ("file:///x", "s3://b/p").
  virtual std::string describe() const = 0;
};

// Valid keys: non-empty, <= 1024 bytes, characters [A-Za-z0-9._/-], no "//",
// no leading '/', no "." or ".." path segment. Backends reject others with
// invalid_argument.
// Also rejected: a trailing '/' (an empty last segment; it cannot be a file in
// the local backend).
bool valid_key(std::string_view key);

}  // namespace ks::objstore
