#include "log/read_cache.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace ks::log {
namespace {

// A slice owning its bytes; `alive` tells whether the cache (or anyone) still holds it.
Slice bytes(const std::string& s, std::weak_ptr<const void>* alive = nullptr) {
  auto owner = std::make_shared<const std::string>(s);
  if (alive != nullptr) *alive = owner;
  return Slice{owner, *owner};
}

TEST(ReadCacheTest, ChunksAreFoundAtTheirExactPositionOnly) {
  ReadCache c(100);
  c.insert("o1", 32, bytes("chunk-a"));
  EXPECT_EQ(c.find("o1", 32).data, "chunk-a");
  EXPECT_FALSE(c.find("o1", 33).owner);
  EXPECT_FALSE(c.find("o2", 32).owner);
  EXPECT_EQ(c.find("o1", 32, 7).data, "chunk-a");
  EXPECT_FALSE(c.find("o1", 32, 3).owner) << "a chunk answers only its own length";
  EXPECT_EQ(c.hits(), 2u);
  EXPECT_EQ(c.misses(), 3u);
  EXPECT_EQ(c.bytes(), 7u);
}

TEST(ReadCacheTest, SpansServeEveryRangeInsideThemAndNothingOutside) {
  ReadCache c(100);
  c.insert_span("o", 10, bytes("0123456789"));
  EXPECT_EQ(c.find("o", 10, 10).data, "0123456789");
  EXPECT_EQ(c.find("o", 13, 4).data, "3456");
  EXPECT_EQ(c.find("o", 19, 1).data, "9");
  EXPECT_EQ(c.find("o", 20, 0).data, "");
  EXPECT_FALSE(c.find("o", 9, 2).owner);
  EXPECT_FALSE(c.find("o", 19, 2).owner);
  EXPECT_FALSE(c.find("o", 21, 0).owner);
  // Huge values must not wrap around into a hit.
  EXPECT_FALSE(c.find("o", 12, ~std::uint64_t{0}).owner);
  EXPECT_FALSE(c.find("o", ~std::uint64_t{0}, 1).owner);
  EXPECT_EQ(c.spans(), 1u);
  // A span inside one already cached adds nothing; an empty one is ignored.
  c.insert_span("o", 12, bytes("23"));
  c.insert_span("o", 30, bytes(""));
  EXPECT_EQ(c.spans(), 1u);
  EXPECT_EQ(c.bytes(), 10u);
}

TEST(ReadCacheTest, EvictsTheLeastRecentlyUsedAndFreesItsBytes) {
  ReadCache c(10);
  std::weak_ptr<const void> a, b, d;
  c.insert("o", 0, bytes("aaaa", &a));
  c.insert("o", 4, bytes("bbbb", &b));
  EXPECT_TRUE(c.find("o", 0).owner);    // a is now the most recent
  c.insert("o", 8, bytes("dddd", &d));  // 12 > 10: b goes
  EXPECT_FALSE(c.find("o", 4).owner);
  EXPECT_TRUE(b.expired()) << "an evicted chunk's buffer is released";
  EXPECT_FALSE(a.expired());
  EXPECT_EQ(c.bytes(), 8u);
  // A span takes part in the same order.
  c.insert_span("p", 0, bytes("xyz"));  // 11 > 10: a goes (d was used later)
  EXPECT_TRUE(a.expired());
  EXPECT_EQ(c.find("p", 1, 2).data, "yz");
  c.insert("q", 0, bytes("qqqq"));  // d goes, then the span is the most recent
  EXPECT_TRUE(d.expired());
  EXPECT_EQ(c.spans(), 1u);
  EXPECT_LE(c.bytes(), c.capacity());
}

TEST(ReadCacheTest, WhatCannotFitIsNotCachedAndDuplicatesAreIgnored) {
  ReadCache c(5);
  c.insert("o", 0, bytes("123456"));
  c.insert_span("o", 0, bytes("123456"));
  EXPECT_EQ(c.bytes(), 0u);
  EXPECT_EQ(c.spans(), 0u);
  c.insert("o", 0, bytes("12"));
  c.insert("o", 0, bytes("other"));
  EXPECT_EQ(c.find("o", 0).data, "12");
  EXPECT_EQ(c.bytes(), 2u);
}

TEST(ReadCacheTest, AHitKeepsItsBytesAliveAfterEviction) {
  ReadCache c(4);
  c.insert("o", 0, bytes("abcd"));
  Slice held = c.find("o", 0);
  c.insert("o", 4, bytes("efgh"));
  EXPECT_FALSE(c.find("o", 0).owner);
  EXPECT_EQ(held.data, "abcd") << "the reader's owner keeps the evicted bytes valid";
}

}  // namespace
}  // namespace ks::log
