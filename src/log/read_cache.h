// Bounded LRU cache of committed partition chunks, keyed by (object, position).
// Chunks of one flushed object share that object's buffer, which is freed when
// its last chunk is evicted.
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

namespace ks::log {

struct Slice {
  std::shared_ptr<const std::string> owner;
  std::string_view data;
};

class ReadCache {
 public:
  explicit ReadCache(std::size_t capacity_bytes) : capacity_(capacity_bytes) {}

  void insert(const std::string& object, std::uint64_t position, Slice slice);
  // Returns an empty owner when absent.
  Slice find(const std::string& object, std::uint64_t position);

  std::size_t bytes() const { return bytes_; }
  std::size_t capacity() const { return capacity_; }
  std::uint64_t hits() const { return hits_; }
  std::uint64_t misses() const { return misses_; }

 private:
  struct Item {
    std::string key;
    Slice slice;
  };
  void evict();
  static std::string make_key(const std::string& object, std::uint64_t position);

  std::size_t capacity_;
  std::size_t bytes_ = 0;
  std::uint64_t hits_ = 0, misses_ = 0;
  std::list<Item> lru_;  // front = most recently used
  std::unordered_map<std::string, std::list<Item>::iterator> map_;
};

}  // namespace ks::log
