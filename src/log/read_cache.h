// Bounded LRU cache of committed data, keyed by object. Two kinds of entries:
//  - chunks: one partition's chunk at (object, position), inserted at commit;
//    chunks of one flushed object share that object's buffer, which is freed
//    when its last chunk is evicted;
//  - spans: a contiguous byte range of an object (usually all of it) read
//    ahead by one GET on a cold read; any chunk inside it is served from it.
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace ks::log {

struct Slice {
  std::shared_ptr<const void> owner;  // keeps `data` alive
  std::string_view data;
};

class ReadCache {
 public:
  explicit ReadCache(std::size_t capacity_bytes) : capacity_(capacity_bytes) {}

  // A chunk starting at `position` of `object`.
  void insert(const std::string& object, std::uint64_t position, Slice slice);
  // Bytes [start, start + slice.data.size()) of `object`.
  void insert_span(const std::string& object, std::uint64_t start, Slice slice);
  // The chunk at `position` (exact chunk entry only). Empty owner when absent.
  Slice find(const std::string& object, std::uint64_t position);
  // Bytes [position, position + length) of `object`, from a chunk entry at
  // that position of that length or from a span covering them. Empty owner
  // when absent.
  Slice find(const std::string& object, std::uint64_t position, std::uint64_t length);

  std::size_t bytes() const { return bytes_; }
  std::size_t capacity() const { return capacity_; }
  std::uint64_t hits() const { return hits_; }
  std::uint64_t misses() const { return misses_; }
  std::size_t spans() const { return span_count_; }

 private:
  struct Item {
    std::string key;  // chunk key; empty for spans
    std::string object;
    std::uint64_t start = 0;
    Slice slice;
  };
  using Iter = std::list<Item>::iterator;
  void push(Item item);
  void erase(Iter it);
  void evict();
  Slice find_exact(const std::string& object, std::uint64_t position);
  static std::string make_key(const std::string& object, std::uint64_t position);

  std::size_t capacity_;
  std::size_t bytes_ = 0;
  std::size_t span_count_ = 0;
  std::uint64_t hits_ = 0, misses_ = 0;
  std::list<Item> lru_;  // front = most recently used
  std::unordered_map<std::string, Iter> map_;
  // Spans per object: few per object (one when objects are read whole).
  std::unordered_map<std::string, std::vector<Iter>> spans_;
};

}  // namespace ks::log
