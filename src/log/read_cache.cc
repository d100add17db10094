#include "log/read_cache.h"

#include <fmt/format.h>

#include <algorithm>

namespace ks::log {

std::string ReadCache::make_key(const std::string& object, std::uint64_t position) {
  return fmt::format("{}@{}", object, position);
}

void ReadCache::push(Item item) {
  bytes_ += item.slice.data.size();
  lru_.push_front(std::move(item));
}

void ReadCache::insert(const std::string& object, std::uint64_t position, Slice slice) {
  if (slice.data.size() > capacity_) return;  // never cache what cannot fit
  std::string key = make_key(object, position);
  if (map_.count(key)) return;
  push(Item{key, object, position, std::move(slice)});
  map_.emplace(std::move(key), lru_.begin());
  evict();
}

void ReadCache::insert_span(const std::string& object, std::uint64_t start, Slice slice) {
  if (slice.data.size() > capacity_ || slice.data.empty()) return;
  auto& list = spans_[object];
  for (auto it : list) {
    // Already covered by an equal or larger span.
    if (it->start <= start && it->start + it->slice.data.size() >= start + slice.data.size()) return;
  }
  push(Item{std::string(), object, start, std::move(slice)});
  list.push_back(lru_.begin());
  ++span_count_;
  evict();
}

void ReadCache::erase(Iter it) {
  bytes_ -= it->slice.data.size();
  if (it->key.empty()) {
    auto s = spans_.find(it->object);
    if (s != spans_.end()) {
      auto& v = s->second;
      v.erase(std::remove(v.begin(), v.end(), it), v.end());
      if (v.empty()) spans_.erase(s);
    }
    --span_count_;
  } else {
    map_.erase(it->key);
  }
  lru_.erase(it);
}

Slice ReadCache::find_exact(const std::string& object, std::uint64_t position) {
  auto it = map_.find(make_key(object, position));
  if (it == map_.end()) return {};
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->slice;
}

Slice ReadCache::find(const std::string& object, std::uint64_t position) {
  Slice s = find_exact(object, position);
  ++(s.owner ? hits_ : misses_);
  return s;
}

Slice ReadCache::find(const std::string& object, std::uint64_t position, std::uint64_t length) {
  Slice s = find_exact(object, position);
  if (s.owner && s.data.size() == length) {
    ++hits_;
    return s;
  }
  auto sp = spans_.find(object);
  if (sp != spans_.end()) {
    for (auto it : sp->second) {
      const std::uint64_t start = it->start, size = it->slice.data.size();
      if (position >= start && length <= size && position - start <= size - length) {
        lru_.splice(lru_.begin(), lru_, it);
        ++hits_;
        return Slice{it->slice.owner, it->slice.data.substr(position - start, length)};
      }
    }
  }
  ++misses_;
  return {};
}

void ReadCache::evict() {
  while (bytes_ > capacity_ && !lru_.empty()) erase(std::prev(lru_.end()));
}

}  // namespace ks::log
