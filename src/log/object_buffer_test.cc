#include "log/object_buffer.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>

namespace ks::log {
namespace {

TEST(ObjectBufferPool, BuffersArePageAlignedAndRecycled) {
  auto pool = std::make_shared<ObjectBufferPool>(std::size_t{64} << 20);
  char* first = nullptr;
  {
    auto b = ObjectBufferPool::take(pool, (4u << 20) + 100);
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(b->data) % 4096, 0u);
    EXPECT_EQ(b->size, (4u << 20) + 100);
    EXPECT_GE(b->capacity, b->size);
    std::memset(b->data, 'x', b->size);  // writable over its whole size
    first = b->data;
    EXPECT_EQ(pool->spare_count(), 0u);
  }
  EXPECT_EQ(pool->spare_count(), 1u);
  // A similar size reuses the memory; the spare is gone meanwhile.
  auto again = ObjectBufferPool::take(pool, 4u << 20);
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(again->data, first);
  EXPECT_EQ(again->size, 4u << 20);
  // The pages past the new size went back to the kernel (they read as zero).
  EXPECT_EQ(again->data[(4u << 20) + 50], 0);
  EXPECT_EQ(again->data[(4u << 20) - 1], 'x');
  EXPECT_EQ(pool->reused(), 1u);
  EXPECT_EQ(pool->spare_count(), 0u);
  again.reset();
  // Much smaller objects do not pin a big spare: they get their own memory.
  auto small = ObjectBufferPool::take(pool, 1000);
  ASSERT_NE(small, nullptr);
  EXPECT_NE(small->data, first);
  EXPECT_EQ(pool->spare_count(), 1u);
  EXPECT_EQ(pool->reused(), 1u);
}

TEST(ObjectBufferPool, SpareMemoryIsBounded) {
  constexpr std::size_t kMiB = std::size_t{1} << 20;
  auto pool = std::make_shared<ObjectBufferPool>(10 * kMiB);
  {
    std::vector<std::shared_ptr<ObjectBuffer>> held;
    for (int i = 0; i < 5; ++i) held.push_back(ObjectBufferPool::take(pool, 4 * kMiB));
  }
  // Two buffers (4 MiB plus a quarter of headroom) fit in 10 MiB; the
  // other three were unmapped.
  EXPECT_EQ(pool->spare_count(), 2u);
  EXPECT_EQ(pool->spare_bytes(), 10 * kMiB);
  {
    std::vector<std::shared_ptr<ObjectBuffer>> held;
    for (int i = 0; i < 20; ++i) held.push_back(ObjectBufferPool::take(pool, 1000));
  }
  EXPECT_LE(pool->spare_count(), ObjectBufferPool::kMaxSpare);
  EXPECT_LE(pool->spare_bytes(), 10 * kMiB);
}

// A slightly larger object fits a spare (headroom); when the spares are
// full, a larger returned buffer replaces the smallest spare.
TEST(ObjectBufferPool, HeadroomAndLargerSparesWin) {
  constexpr std::size_t kMiB = std::size_t{1} << 20;
  auto pool = std::make_shared<ObjectBufferPool>(12 * kMiB);
  char* first = ObjectBufferPool::take(pool, 4 * kMiB)->data;  // 5 MiB, back as a spare
  auto bigger = ObjectBufferPool::take(pool, 4 * kMiB + 512 * 1024);
  ASSERT_NE(bigger, nullptr);
  EXPECT_EQ(bigger->data, first);
  EXPECT_EQ(pool->reused(), 1u);
  bigger.reset();
  {
    auto a = ObjectBufferPool::take(pool, 5 * kMiB);  // the 5 MiB spare
    auto b = ObjectBufferPool::take(pool, 5 * kMiB);  // fresh: 6.25 MiB
    auto c = ObjectBufferPool::take(pool, 3 * kMiB);  // fresh: 3.75 MiB
    ASSERT_TRUE(a && b && c);
    c.reset();  // spare: 3.75
    a.reset();  // spares: 3.75 + 5
    b.reset();  // full: replaces the 3.75 MiB spare -> 5 + 6.25
  }
  EXPECT_EQ(pool->spare_count(), 2u);
  EXPECT_EQ(pool->spare_bytes(), 5 * kMiB + 6 * kMiB + 256 * 1024);
}

// Buffers may outlive the pool's owner: the deleter keeps the pool alive.
TEST(ObjectBufferPool, BufferOutlivesItsOwnersPointer) {
  auto pool = std::make_shared<ObjectBufferPool>(std::size_t{8} << 20);
  auto b = ObjectBufferPool::take(pool, 5000);
  pool.reset();
  ASSERT_NE(b, nullptr);
  std::memset(b->data, 1, b->size);
  b.reset();  // returns to the pool, which then goes away
}

}  // namespace
}  // namespace ks::log
