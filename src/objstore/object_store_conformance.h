// Conformance suite for ObjectStore: everything the interface promises.
//
// Several backends' tests can share one test binary, so each test file picks
// its own suite name before including this header (default:
// ObjectStoreConformance), then instantiates it:
//
//   #define KS_OBJSTORE_CONFORMANCE_SUITE LocalStoreConformance
//   #include "objstore/object_store_conformance.h"
//   namespace ks::objstore {  // the suite class lives here (file-local)
//   INSTANTIATE_TEST_SUITE_P(Local, LocalStoreConformance,
//                            ::testing::Values(StoreFactory{"local", make_store}), StoreFactoryName);
//   }
//
// Include it at most once per test file. The factory must return a fresh,
// empty store on every call (one per test); an S3 backend can use a unique
// key prefix per call.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "objstore/object_store.h"

namespace ks::objstore {

struct StoreFactory {
  std::string name;  // test-name suffix: [A-Za-z0-9_] only
  std::function<std::shared_ptr<ObjectStore>()> make;
};

inline void PrintTo(const StoreFactory& f, std::ostream* os) { *os << f.name; }

inline std::string StoreFactoryName(const ::testing::TestParamInfo<StoreFactory>& info) {
  return info.param.name;
}

namespace conformance {

// Deterministic pseudo-random bytes (all 256 values occur, NULs included).
inline std::string pattern(std::size_t size, std::uint64_t seed) {
  std::string out(size, '\0');
  std::uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (std::size_t i = 0; i < size; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    out[i] = static_cast<char>(x >> 24);
  }
  return out;
}

inline std::vector<std::string> keys_of(const std::vector<ObjectInfo>& infos) {
  std::vector<std::string> keys;
  for (const ObjectInfo& i : infos) keys.push_back(i.key);
  return keys;
}

class Fixture : public ::testing::TestWithParam<StoreFactory> {
 protected:
  void SetUp() override {
    store_ = GetParam().make();
    ASSERT_NE(store_, nullptr);
  }
  void TearDown() override { store_.reset(); }

  // Puts and asserts ok.
  void must_put(std::string_view key, std::string_view data) {
    Status st = store_->put(key, data);
    ASSERT_TRUE(st.ok()) << key << ": " << st.to_string();
  }
  std::string must_get(std::string_view key, std::optional<ByteRange> range = std::nullopt) {
    Result<std::string> r = store_->get(key, range);
    EXPECT_TRUE(r.ok()) << key << ": " << (r.ok() ? "" : r.status().to_string());
    return r.ok() ? *r : std::string();
  }
  std::vector<ObjectInfo> must_list(std::string_view prefix) {
    Result<std::vector<ObjectInfo>> r = store_->list(prefix);
    EXPECT_TRUE(r.ok()) << prefix << ": " << (r.ok() ? "" : r.status().to_string());
    return r.ok() ? *r : std::vector<ObjectInfo>{};
  }

  std::shared_ptr<ObjectStore> store_;
};

}  // namespace conformance

#ifndef KS_OBJSTORE_CONFORMANCE_SUITE
#define KS_OBJSTORE_CONFORMANCE_SUITE ObjectStoreConformance
#endif

// File-local on purpose: each including test file gets its own copy of the
// tests under its own suite name.
namespace {

class KS_OBJSTORE_CONFORMANCE_SUITE : public conformance::Fixture {};

using conformance::keys_of;
using conformance::pattern;

TEST_P(KS_OBJSTORE_CONFORMANCE_SUITE, DescribeIsNotEmpty) { EXPECT_FALSE(store_->describe().empty()); }

TEST_P(KS_OBJSTORE_CONFORMANCE_SUITE, RoundTripEmptyObject) {
  must_put("e/empty", "");
  EXPECT_EQ(must_get("e/empty"), "");
  std::vector<ObjectInfo> infos = must_list("e/");
  ASSERT_EQ(infos.size(), 1u);
  EXPECT_EQ(infos[0].size, 0u);
}

TEST_P(KS_OBJSTORE_CONFORMANCE_SUITE, RoundTripOneByte) {
  must_put("one", "x");
  EXPECT_EQ(must_get("one"), "x");
}

TEST_P(KS_OBJSTORE_CONFORMANCE_SUITE, RoundTripFiveMiB) {
  std::string big = pattern(5 << 20, 7);
  must_put("big/object", big);
  std::string got = must_get("big/object");
  ASSERT_EQ(got.size(), big.size());
  EXPECT_TRUE(got == big);  // not EXPECT_EQ: a 5 MiB diff is unreadable
}

TEST_P(KS_OBJSTORE_CONFORMANCE_SUITE, BinaryDataWithNulBytes) {
  std::string data;
  for (int rep = 0; rep < 3; ++rep) {
    for (int c = 0; c < 256; ++c) data.push_back(static_cast<char>(c));
  }
  data += std::string(10, '\0');
  must_put("bin", data);
  EXPECT_EQ(must_get("bin"), data);
  EXPECT_EQ(must_get("bin", ByteRange{1, 3}), std::string("\x01\x02\x03", 3));
}

TEST_P(KS_OBJSTORE_CONFORMANCE_SUITE, RangedGets) {
  std::string data = pattern(1000, 3);
  must_put("r/obj", data);
  EXPECT_EQ(must_get("r/obj", ByteRange{0, 10}), data.substr(0, 10));                  // start
  EXPECT_EQ(must_get("r/obj", ByteRange{400, 123}), data.substr(400, 123));            // middle
  EXPECT_EQ(must_get("r/obj", ByteRange{999, 1}), data.substr(999, 1));                // last byte
  EXPECT_EQ(must_get("r/obj", ByteRange{990, 10}), data.substr(990));                  // exactly to end
  EXPECT_EQ(must_get("r/obj", ByteRange{0, 1000}), data);                              // whole
  EXPECT_EQ(must_get("r/obj", ByteRange{900, 500}), data.substr(900));                 // clamped
  EXPECT_EQ(must_get("r/obj", ByteRange{5, UINT64_MAX}), data.substr(5));              // clamped, no overflow
  EXPECT_EQ(store_->get("r/obj", ByteRange{1000, 1}).code(), Errc::invalid_argument);  // at end
  EXPECT_EQ(store_->get("r/obj", ByteRange{5000, 10}).code(), Errc::invalid_argument);  // past end
  EXPECT_EQ(store_->get("r/obj", ByteRange{UINT64_MAX, 1}).code(), Errc::invalid_argument);
  EXPECT_EQ(store_->get("r/obj", ByteRange{0, 0}).code(), Errc::invalid_argument);  // empty range
}

TEST_P(KS_OBJSTORE_CONFORMANCE_SUITE, RangedGetOfEmptyObjectIsInvalid) {
  must_put("r/empty", "");
  EXPECT_EQ(store_->get("r/empty", ByteRange{0, 1}).code(), Errc::invalid_argument);
}

TEST_P(KS_OBJSTORE_CONFORMANCE_SUITE, MissingKeyIsNotFound) {
  EXPECT_EQ(store_->get("nope").code(), Errc::not_found);
  EXPECT_EQ(store_->get("nope", ByteRange{0, 1}).code(), Errc::not_found);
  must_put("dir/child", "c");
  // A prefix of an existing key is not an object.
  EXPECT_EQ(store_->get("dir").code(), Errc::not_found);
  EXPECT_EQ(store_->get("dir/chil").code(), Errc::not_found);
  EXPECT_EQ(store_->get("dir/child/more").code(), Errc::not_found);
}

TEST_P(KS_OBJSTORE_CONFORMANCE_SUITE, OverwriteReplaces) {
  must_put("ow", "first version, longer");
  must_put("ow", "second");
  EXPECT_EQ(must_get("ow"), "second");
  std::vector<ObjectInfo> infos = must_list("ow");
  ASSERT_EQ(infos.size(), 1u);
  EXPECT_EQ(infos[0].size, 6u);
}

TEST_P(KS_OBJSTORE_CONFORMANCE_SUITE, ListByPrefix) {
  // Inserted out of order; list must sort.
  const std::vector<std::pair<std::string, std::size_t>> objects = {
      {"objects/01/b", 3},   {"objects/00/a", 1}, {"objects/000", 4}, {"objects/00/c/d", 5},
      {"objects/1", 2},      {"objects0", 6},     {"other/x", 7},     {"objects/00-z", 8},
      {"objects/00/a.b", 9}, {"objects/00.x", 0},
  };
  for (const auto& [key, size] : objects) must_put(key, pattern(size, size));

  EXPECT_EQ(keys_of(must_list("objects/00")),
            (std::vector<std::string>{"objects/00-z", "objects/00.x", "objects/00/a", "objects/00/a.b",
                                      "objects/00/c/d", "objects/000"}));  // mid-name + nested
  EXPECT_EQ(keys_of(must_list("objects/00/")),
            (std::vector<std::string>{"objects/00/a", "objects/00/a.b", "objects/00/c/d"}));
  EXPECT_EQ(keys_of(must_list("objects/00/a")), (std::vector<std::string>{"objects/00/a", "objects/00/a.b"}));
  EXPECT_EQ(keys_of(must_list("objects/00/c/d")), (std::vector<std::string>{"objects/00/c/d"}));  // exact
  EXPECT_EQ(keys_of(must_list("obj")).size(), 9u);
  EXPECT_EQ(keys_of(must_list("objects")).size(), 9u);
  EXPECT_EQ(keys_of(must_list("objects/")).size(), 8u);
  EXPECT_TRUE(must_list("zzz").empty());
  EXPECT_TRUE(must_list("objects/2").empty());
  EXPECT_TRUE(must_list("objects/00/a.b/").empty());
  EXPECT_TRUE(must_list("nothing/here/").empty());

  std::vector<ObjectInfo> all = must_list("");
  ASSERT_EQ(all.size(), objects.size());
  EXPECT_TRUE(std::is_sorted(all.begin(), all.end(),
                             [](const ObjectInfo& a, const ObjectInfo& b) { return a.key < b.key; }));
  for (const auto& [key, size] : objects) {
    auto it = std::find_if(all.begin(), all.end(), [&](const ObjectInfo& i) { return i.key == key; });
    ASSERT_NE(it, all.end()) << key;
    EXPECT_EQ(it->size, size) << key;
  }
}

TEST_P(KS_OBJSTORE_CONFORMANCE_SUITE, ListWithOddPrefixesIsEmptyNotAnError) {
  must_put("a/b", "1");
  for (std::string_view prefix : {"/", "/a", "a//", "a/../a", "../", "a b", "x/./"}) {
    EXPECT_TRUE(must_list(prefix).empty()) << prefix;
  }
}

TEST_P(KS_OBJSTORE_CONFORMANCE_SUITE, Remove) {
  must_put("rm/a", "1");
  must_put("rm/b", "2");
  ASSERT_TRUE(store_->remove("rm/a").ok());
  EXPECT_EQ(store_->get("rm/a").code(), Errc::not_found);
  EXPECT_EQ(keys_of(must_list("rm/")), (std::vector<std::string>{"rm/b"}));
  EXPECT_TRUE(store_->remove("rm/a").ok());           // already gone
  EXPECT_TRUE(store_->remove("never/existed").ok());  // never there
  must_put("rm/a", "again");                          // a removed key can be written again
  EXPECT_EQ(must_get("rm/a"), "again");
}

TEST_P(KS_OBJSTORE_CONFORMANCE_SUITE, InvalidKeysRejected) {
  const std::vector<std::string> bad = {
      "",         "/a",
      "a//b",     "a/",
      "/",        ".",
      "..",       "a/./b",
      "a/../b",   "../a",
      "a/..",     "a b",
      "a\\b",     std::string("a\0b", 3),
      "a*b",      "a\nb",
      "\xc3\xa9", std::string(1025, 'k'),
  };
  for (const std::string& key : bad) {
    EXPECT_FALSE(valid_key(key)) << key;
    EXPECT_EQ(store_->put(key, "x").code(), Errc::invalid_argument) << key;
    EXPECT_EQ(store_->get(key).code(), Errc::invalid_argument) << key;
    EXPECT_EQ(store_->get(key, ByteRange{0, 1}).code(), Errc::invalid_argument) << key;
    EXPECT_EQ(store_->remove(key).code(), Errc::invalid_argument) << key;
  }
  EXPECT_TRUE(must_list("").empty());  // nothing was written

  // The longest valid key works (segments kept short enough for file systems),
  // and so does a deeply nested one.
  std::string longest = std::string(200, 'a') + "/" + std::string(200, 'b') + "/" + std::string(200, 'c') +
                        "/" + std::string(200, 'd') + "/" + std::string(220, 'e');
  ASSERT_EQ(longest.size(), 1024u);
  std::string deep = "d";
  for (int i = 0; i < 40; ++i) deep += "/" + std::to_string(i);
  for (const std::string& key : {longest, deep}) {
    ASSERT_TRUE(valid_key(key));
    must_put(key, "long");
    EXPECT_EQ(must_get(key), "long");
  }
}

TEST_P(KS_OBJSTORE_CONFORMANCE_SUITE, ConcurrentPutsAndGets) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 25;
  const std::string shared = pattern(64 << 10, 99);
  must_put("c/shared", shared);

  std::vector<std::thread> threads;
  std::vector<int> failures(kThreads, 0);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        std::string key = "c/t" + std::to_string(t) + "/" + std::to_string(i);
        std::string data = pattern(static_cast<std::size_t>((t * 7919 + i * 104729) % 20000), t * 1000 + i);
        if (!store_->put(key, data).ok()) ++failures[t];
        Result<std::string> mine = store_->get(key);
        if (!mine.ok() || *mine != data) ++failures[t];
        Result<std::string> other = store_->get("c/shared", ByteRange{static_cast<std::uint64_t>(i), 4096});
        if (!other.ok() || *other != shared.substr(i, 4096)) ++failures[t];
      }
    });
  }
  for (std::thread& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(failures[t], 0) << "thread " << t;

  std::vector<ObjectInfo> all = must_list("c/");
  EXPECT_EQ(all.size(), static_cast<std::size_t>(kThreads * kPerThread + 1));
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kPerThread; ++i) {
      std::string key = "c/t" + std::to_string(t) + "/" + std::to_string(i);
      std::string data = pattern(static_cast<std::size_t>((t * 7919 + i * 104729) % 20000), t * 1000 + i);
      EXPECT_TRUE(must_get(key) == data) << key;
    }
  }
}

}  // namespace

}  // namespace ks::objstore
