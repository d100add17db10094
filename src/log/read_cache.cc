#include "log/read_cache.h"

#include <fmt/format.h>

namespace ks::log {

std::string ReadCache::make_key(const std::string& object, std::uint64_t position) {
  return fmt::format("{}@{}", object, position);
}

void ReadCache::insert(const std::string& object, std::uint64_t position, Slice slice) {
  if (slice.data.size() > capacity_) return;  // never cache what cannot fit
  std::string key = make_key(object, position);
  if (map_.count(key)) return;
  bytes_ += slice.data.size();
  lru_.push_front(Item{key, std::move(slice)});
  map_.emplace(std::move(key), lru_.begin());
  evict();
}

Slice ReadCache::find(const std::string& object, std::uint64_t position) {
  auto it = map_.find(make_key(object, position));
  if (it == map_.end()) {
    ++misses_;
    return {};
  }
  ++hits_;
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->slice;
}

void ReadCache::evict() {
  while (bytes_ > capacity_ && !lru_.empty()) {
    auto& last = lru_.back();
    bytes_ -= last.slice.data.size();
    map_.erase(last.key);
    lru_.pop_back();
  }
}

}  // namespace ks::log
