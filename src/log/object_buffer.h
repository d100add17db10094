// Page-aligned buffers for built log objects, recycled through a bounded
// free-list. The read cache keeps every flushed object until evicted, so
// without recycling each object is built into fresh memory and the kernel
// zeroes (and faults in) every page of it: that cost more than the copy into
// the object. Page alignment lets the local store write the object with
// O_DIRECT straight from this memory (no bounce copy).
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <string_view>
#include <vector>

namespace ks::log {

// One object's bytes: [data, data + size), inside `capacity` mapped bytes.
struct ObjectBuffer {
  char* data = nullptr;
  std::size_t size = 0;
  std::size_t capacity = 0;
  std::string_view view() const { return {data, size}; }
};

class ObjectBufferPool {
 public:
  // Keeps at most max_spare_bytes of free buffers (and kMaxSpare of them).
  explicit ObjectBufferPool(std::size_t max_spare_bytes);
  ~ObjectBufferPool();
  ObjectBufferPool(const ObjectBufferPool&) = delete;
  ObjectBufferPool& operator=(const ObjectBufferPool&) = delete;

  // A page-aligned buffer of `size` bytes (contents unspecified). When the
  // last reference goes, the memory returns to the free-list (or is
  // unmapped). Thread-safe. nullptr only when memory cannot be mapped.
  static std::shared_ptr<ObjectBuffer> take(const std::shared_ptr<ObjectBufferPool>& pool, std::size_t size);

  std::size_t spare_bytes() const;
  std::size_t spare_count() const;
  std::uint64_t reused() const;

  static constexpr std::size_t kMaxSpare = 8;
  // Capacities are rounded up to this.
  static constexpr std::size_t kGranule = std::size_t{256} << 10;
  static constexpr std::size_t kPage = 4096;

 private:
  struct Block {
    char* p = nullptr;
    std::size_t capacity = 0;
  };
  void give_back(Block b);
  static void unmap(Block b);
  static void* map(std::size_t capacity);

  const std::size_t max_spare_bytes_;
  mutable std::mutex mu_;
  std::vector<Block> spare_;  // guarded by mu_
  std::size_t spare_bytes_ = 0;
  std::uint64_t reused_ = 0;
};

}  // namespace ks::log
