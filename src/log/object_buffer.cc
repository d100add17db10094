#include "log/object_buffer.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdint>

namespace ks::log {

ObjectBufferPool::ObjectBufferPool(std::size_t max_spare_bytes) : max_spare_bytes_(max_spare_bytes) {}

ObjectBufferPool::~ObjectBufferPool() {
  for (const Block& b : spare_) unmap(b);
}

void ObjectBufferPool::unmap(Block b) { ::munmap(b.p, b.capacity); }

// Plain 4 KiB pages: transparent huge pages (MADV_HUGEPAGE) made the
// produce path 1.5-3x slower here (direct compaction on fault).
void* ObjectBufferPool::map(std::size_t cap) {
  void* p = ::mmap(nullptr, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? nullptr : p;
}

std::shared_ptr<ObjectBuffer> ObjectBufferPool::take(const std::shared_ptr<ObjectBufferPool>& pool,
                                                     std::size_t size) {
  size = std::max<std::size_t>(size, 1);
  Block b;
  bool reused = false;
  {
    std::lock_guard lock(pool->mu_);
    // The smallest spare that fits, but not one more than twice the need
    // (a small object would otherwise pin a large buffer in the cache).
    std::size_t best = pool->spare_.size();
    for (std::size_t i = 0; i < pool->spare_.size(); ++i) {
      const std::size_t c = pool->spare_[i].capacity;
      if (c >= size && c <= 2 * size + kGranule &&
          (best == pool->spare_.size() || c < pool->spare_[best].capacity)) {
        best = i;
      }
    }
    if (best != pool->spare_.size()) {
      b = pool->spare_[best];
      pool->spare_[best] = pool->spare_.back();
      pool->spare_.pop_back();
      pool->spare_bytes_ -= b.capacity;
      ++pool->reused_;
      reused = true;
    }
  }
  if (b.p == nullptr) {
    // Headroom (a quarter) so that the next, slightly larger, object fits
    // too: flush sizes vary by up to one produce request. Pages past `size`
    // are only touched when a larger object reuses the buffer.
    const std::size_t cap = (size + size / 4 + kGranule - 1) / kGranule * kGranule;
    void* p = map(cap);
    if (p == nullptr) return nullptr;
    b = Block{static_cast<char*>(p), cap};
    // One call faults in the pages the object needs, instead of one fault
    // per 4 KiB while it is filled. Advice only: failure changes nothing.
    ::madvise(p, (size + kPage - 1) / kPage * kPage, MADV_POPULATE_WRITE);
  }
  // Pages past the object (touched by a larger earlier object) go back to
  // the kernel, so resident memory stays what the read cache accounts for.
  const std::size_t used = (size + kPage - 1) / kPage * kPage;
  if (reused && used < b.capacity) ::madvise(b.p + used, b.capacity - used, MADV_DONTNEED);
  auto* ob = new ObjectBuffer{b.p, size, b.capacity};
  return std::shared_ptr<ObjectBuffer>(ob, [pool](ObjectBuffer* o) {
    pool->give_back(Block{o->data, o->capacity});
    delete o;
  });
}

void ObjectBufferPool::give_back(Block b) {
  std::vector<Block> drop;
  {
    std::lock_guard lock(mu_);
    if (b.capacity > max_spare_bytes_) {
      drop.push_back(b);
    } else {
      spare_.push_back(b);
      spare_bytes_ += b.capacity;
      // Over the bounds: the smallest spares go first (larger ones fit more;
      // small ones left from a ramp-up would otherwise clog the list).
      while (spare_.size() > kMaxSpare || spare_bytes_ > max_spare_bytes_) {
        auto smallest = std::min_element(spare_.begin(), spare_.end(), [](const Block& x, const Block& y) {
          return x.capacity < y.capacity;
        });
        spare_bytes_ -= smallest->capacity;
        drop.push_back(*smallest);
        *smallest = spare_.back();
        spare_.pop_back();
      }
    }
  }
  for (const Block& d : drop) unmap(d);  // outside the lock
}

std::size_t ObjectBufferPool::spare_bytes() const {
  std::lock_guard lock(mu_);
  return spare_bytes_;
}

std::size_t ObjectBufferPool::spare_count() const {
  std::lock_guard lock(mu_);
  return spare_.size();
}

std::uint64_t ObjectBufferPool::reused() const {
  std::lock_guard lock(mu_);
  return reused_;
}

}  // namespace ks::log
