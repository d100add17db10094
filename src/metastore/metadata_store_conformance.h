// The MetadataStore conformance suite: every backend must pass it.
//
// Usage, in exactly one test file per backend (the suite name must be unique
// in the test binary):
//
//   #define KS_METASTORE_CONFORMANCE_SUITE EmbeddedConformance
//   #include "metastore/metadata_store_conformance.h"
//   INSTANTIATE_TEST_SUITE_P(Embedded, EmbeddedConformance,
//                            ::testing::Values(MetadataStoreBackend{"embedded", make_fn}));
//
// Tests use a unique key prefix each and relative revisions, so they also run
// against a shared etcd (set starts_empty = false there). They must not run
// concurrently against the same store.
#pragma once

#ifndef KS_METASTORE_CONFORMANCE_SUITE
#error "define KS_METASTORE_CONFORMANCE_SUITE to a unique test suite name first"
#endif

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <ostream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "metastore/metadata_store.h"
#include "metastore/metastore_test_util.h"

namespace ks::metastore::testing {

struct MetadataStoreBackend {
  std::string name;  // test-name suffix: letters, digits, '_'
  // Returns a usable store; called once per test.
  std::function<std::shared_ptr<MetadataStore>()> make;
  // make() returns an empty store at revision 1 (false for a shared etcd).
  bool starts_empty = true;
};

inline void PrintTo(const MetadataStoreBackend& b, std::ostream* os) { *os << b.name; }

inline std::string backend_name(const ::testing::TestParamInfo<MetadataStoreBackend>& info) {
  return info.param.name;
}

class ConformanceBase : public ::testing::TestWithParam<MetadataStoreBackend> {
 protected:
  void SetUp() override {
    store_ = GetParam().make();
    ASSERT_NE(store_, nullptr);
    std::random_device rd;
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    p_ = "/conformance/" + std::string(info->name()) + "/" + std::to_string(rd()) + "/";
  }
  void TearDown() override { store_.reset(); }

  std::string k(const std::string& s) const { return p_ + s; }

  std::int64_t put(const std::string& key, const std::string& value, LeaseId lease = 0) {
    auto r = store_->put(key, value, lease);
    EXPECT_TRUE(r.ok()) << key << ": " << (r.ok() ? "" : r.status().to_string());
    return r.ok() ? *r : -1;
  }

  RangeResponse get(const std::string& key, const std::string& end = {}, std::int64_t rev = 0) {
    RangeRequest req;
    req.key = key;
    req.range_end = end;
    req.revision = rev;
    auto r = store_->range(req);
    EXPECT_TRUE(r.ok()) << key << ": " << (r.ok() ? "" : r.status().to_string());
    return r.ok() ? *r : RangeResponse{};
  }

  std::int64_t revision() { return get(k("__probe")).revision; }

  std::shared_ptr<MetadataStore> store_;
  std::string p_;
};

inline Compare cmp(std::string key, Compare::Target t, Compare::Result r, std::int64_t n,
                   std::string value = {}) {
  Compare c;
  c.key = std::move(key);
  c.target = t;
  c.result = r;
  c.number = n;
  c.value = std::move(value);
  return c;
}

inline std::vector<std::string> keys_of(const std::vector<KeyValue>& kvs) {
  std::vector<std::string> out;
  for (const auto& kv : kvs) out.push_back(kv.key);
  return out;
}

}  // namespace ks::metastore::testing

namespace {

using namespace std::chrono_literals;
using ks::Errc;
using ks::metastore::Compare;
using ks::metastore::KeyValue;
using ks::metastore::kMaxTxnOps;
using ks::metastore::LeaseId;
using ks::metastore::Op;
using ks::metastore::prefix_end;
using ks::metastore::RangeRequest;
using ks::metastore::TxnRequest;
using ks::metastore::WatchEvent;
using ks::metastore::testing::cmp;
using ks::metastore::testing::keys_of;
using ks::metastore::testing::WatchRecorder;
using T = Compare::Target;
using R = Compare::Result;

class KS_METASTORE_CONFORMANCE_SUITE : public ks::metastore::testing::ConformanceBase {};

TEST_P(KS_METASTORE_CONFORMANCE_SUITE, EmptyStoreStartsAtRevisionOne) {
  if (!GetParam().starts_empty) GTEST_SKIP() << "shared store";
  auto r = get(k("a"));
  EXPECT_EQ(r.revision, 1);
  EXPECT_EQ(r.count, 0);
  EXPECT_EQ(put(k("a"), "1"), 2);
}

TEST_P(KS_METASTORE_CONFORMANCE_SUITE, PutRangeDeleteRevisions) {
  const std::int64_t r0 = revision();
  const std::int64_t r1 = put(k("a"), "1");
  EXPECT_EQ(r1, r0 + 1);
  const std::int64_t r2 = put(k("a"), "2");
  EXPECT_EQ(r2, r1 + 1);
  auto r = get(k("a"));
  ASSERT_EQ(r.kvs.size(), 1u);
  EXPECT_EQ(r.kvs[0].key, k("a"));
  EXPECT_EQ(r.kvs[0].value, "2");
  EXPECT_EQ(r.kvs[0].create_revision, r1);
  EXPECT_EQ(r.kvs[0].mod_revision, r2);
  EXPECT_EQ(r.kvs[0].version, 2);
  EXPECT_EQ(r.kvs[0].lease, 0);
  EXPECT_EQ(r.count, 1);
  EXPECT_FALSE(r.more);
  EXPECT_EQ(r.revision, r2);

  // Same value again still creates a revision.
  EXPECT_EQ(put(k("a"), "2"), r2 + 1);

  auto del = store_->delete_range(k("a"));
  ASSERT_TRUE(del.ok());
  EXPECT_EQ(*del, 1);
  EXPECT_EQ(revision(), r2 + 2);
  EXPECT_EQ(get(k("a")).count, 0);

  // Deleting a missing key deletes nothing and creates no revision.
  del = store_->delete_range(k("a"));
  ASSERT_TRUE(del.ok());
  EXPECT_EQ(*del, 0);
  EXPECT_EQ(revision(), r2 + 2);

  // Re-creating starts a new generation.
  const std::int64_t r5 = put(k("a"), "3");
  EXPECT_EQ(r5, r2 + 3);
  r = get(k("a"));
  ASSERT_EQ(r.kvs.size(), 1u);
  EXPECT_EQ(r.kvs[0].create_revision, r5);
  EXPECT_EQ(r.kvs[0].version, 1);

  // Empty values are values.
  put(k("empty"), "");
  r = get(k("empty"));
  ASSERT_EQ(r.kvs.size(), 1u);
  EXPECT_EQ(r.kvs[0].value, "");
}

TEST_P(KS_METASTORE_CONFORMANCE_SUITE, BinaryKeysAndValues) {
  const std::string key = k(std::string("bin\0\xff\x01", 6));
  const std::string value("\0\x80\xff\n", 4);
  put(key, value);
  auto r = get(key);
  ASSERT_EQ(r.kvs.size(), 1u);
  EXPECT_EQ(r.kvs[0].key, key);
  EXPECT_EQ(r.kvs[0].value, value);
}

TEST_P(KS_METASTORE_CONFORMANCE_SUITE, PrefixEnd) {
  EXPECT_EQ(prefix_end("a"), "b");
  EXPECT_EQ(prefix_end("/x/"), "/x0");
  EXPECT_EQ(prefix_end(std::string("a\xff")), "b");
  EXPECT_EQ(prefix_end(std::string("a\xfe\xff\xff")), std::string("a\xff"));
  EXPECT_EQ(prefix_end(std::string("\xff\xff")), std::string(1, '\0'));
  EXPECT_EQ(prefix_end(""), std::string(1, '\0'));
}

TEST_P(KS_METASTORE_CONFORMANCE_SUITE, PrefixAndIntervalRanges) {
  for (const char* s : {"dir/b/c", "dir/a", "dir0", "dia", "dir/b"}) put(k(s), s);
  auto r = get(k("dir/"), prefix_end(k("dir/")));
  EXPECT_EQ(keys_of(r.kvs), (std::vector<std::string>{k("dir/a"), k("dir/b"), k("dir/b/c")}));
  EXPECT_EQ(r.count, 3);

  // [key, range_end) excludes range_end.
  r = get(k("dir/a"), k("dir/b"));
  EXPECT_EQ(keys_of(r.kvs), (std::vector<std::string>{k("dir/a")}));

  // range_end <= key: nothing.
  EXPECT_EQ(get(k("dir/b"), k("dir/a")).count, 0);

  // "\0": every key >= key (other tests' keys may follow ours on a shared store).
  r = get(k("dir/b"), std::string(1, '\0'));
  ASSERT_GE(r.kvs.size(), 3u);
  EXPECT_EQ(r.kvs[0].key, k("dir/b"));
  EXPECT_EQ(r.kvs[1].key, k("dir/b/c"));
  EXPECT_EQ(r.kvs[2].key, k("dir0"));
  if (GetParam().starts_empty) {
    EXPECT_EQ(r.count, 3);
  }

  // Whole prefix deleted in one revision.
  const std::int64_t before = revision();
  auto del = store_->delete_range(k("dir/"), prefix_end(k("dir/")));
  ASSERT_TRUE(del.ok());
  EXPECT_EQ(*del, 3);
  EXPECT_EQ(revision(), before + 1);
  EXPECT_EQ(get(k("dir/"), prefix_end(k("dir/"))).count, 0);
  EXPECT_EQ(get(k("dir0")).count, 1);
}

TEST_P(KS_METASTORE_CONFORMANCE_SUITE, LimitMoreCount) {
  for (const char* s : {"e", "c", "a", "d", "b"}) put(k(s), s);
  const std::string end = prefix_end(p_);
  RangeRequest req;
  req.key = p_;
  req.range_end = end;
  req.limit = 2;
  auto r = store_->range(req);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(keys_of(r->kvs), (std::vector<std::string>{k("a"), k("b")}));
  EXPECT_TRUE(r->more);
  EXPECT_EQ(r->count, 5);

  req.limit = 5;
  r = store_->range(req);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->kvs.size(), 5u);
  EXPECT_FALSE(r->more);
  EXPECT_EQ(r->count, 5);

  req.limit = 100;
  r = store_->range(req);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->kvs.size(), 5u);
  EXPECT_FALSE(r->more);

  req.limit = 0;  // no limit
  r = store_->range(req);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->kvs.size(), 5u);
}

TEST_P(KS_METASTORE_CONFORMANCE_SUITE, KeysOnlyAndCountOnly) {
  const std::int64_t r1 = put(k("a"), "value-a");
  put(k("b"), "value-b");
  RangeRequest req;
  req.key = p_;
  req.range_end = prefix_end(p_);
  req.keys_only = true;
  auto r = store_->range(req);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->kvs.size(), 2u);
  EXPECT_EQ(r->kvs[0].key, k("a"));
  EXPECT_EQ(r->kvs[0].value, "");
  EXPECT_EQ(r->kvs[0].mod_revision, r1);
  EXPECT_EQ(r->kvs[0].version, 1);

  req.keys_only = false;
  req.count_only = true;
  r = store_->range(req);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->kvs.empty());
  EXPECT_EQ(r->count, 2);
}

TEST_P(KS_METASTORE_CONFORMANCE_SUITE, RangeAtRevision) {
  const std::int64_t r1 = put(k("a"), "1");
  const std::int64_t r2 = put(k("a"), "2");
  const std::int64_t r3 = put(k("b"), "b");
  auto del = store_->delete_range(k("a"));
  ASSERT_TRUE(del.ok());
  const std::int64_t r4 = revision();
  const std::string end = prefix_end(p_);

  auto r = get(k("a"), {}, r1);
  ASSERT_EQ(r.kvs.size(), 1u);
  EXPECT_EQ(r.kvs[0].value, "1");
  EXPECT_EQ(r.kvs[0].version, 1);
  EXPECT_EQ(r.kvs[0].mod_revision, r1);
  EXPECT_EQ(r.revision, r4);  // the header carries the current revision

  r = get(k("a"), {}, r2);
  ASSERT_EQ(r.kvs.size(), 1u);
  EXPECT_EQ(r.kvs[0].value, "2");
  EXPECT_EQ(r.kvs[0].version, 2);
  EXPECT_EQ(r.kvs[0].create_revision, r1);

  EXPECT_EQ(keys_of(get(p_, end, r1).kvs), (std::vector<std::string>{k("a")}));
  EXPECT_EQ(keys_of(get(p_, end, r3).kvs), (std::vector<std::string>{k("a"), k("b")}));
  EXPECT_EQ(keys_of(get(p_, end, r4).kvs), (std::vector<std::string>{k("b")}));
  EXPECT_EQ(get(k("a"), {}, r1 - 1).count, 0);

  // Count and limit apply at the old revision too.
  RangeRequest req;
  req.key = p_;
  req.range_end = end;
  req.revision = r3;
  req.limit = 1;
  auto lim = store_->range(req);
  ASSERT_TRUE(lim.ok());
  EXPECT_EQ(lim->count, 2);
  EXPECT_TRUE(lim->more);
  EXPECT_EQ(keys_of(lim->kvs), (std::vector<std::string>{k("a")}));

  // A future revision is refused.
  req.revision = r4 + 1000;
  auto fut = store_->range(req);
  ASSERT_FALSE(fut.ok());
  EXPECT_EQ(fut.code(), Errc::invalid_argument);
}

TEST_P(KS_METASTORE_CONFORMANCE_SUITE, TxnCompareTargets) {
  const std::int64_t c = put(k("x"), "m");
  const std::int64_t m = put(k("x"), "m");  // version 2
  auto lease = store_->lease_grant(60);
  ASSERT_TRUE(lease.ok());
  const std::int64_t lm = put(k("l"), "v", *lease);
  struct Case {
    Compare compare;
    bool want;
  };
  const std::string x = k("x");
  const std::vector<Case> cases = {
      {cmp(x, T::version, R::equal, 2), true},
      {cmp(x, T::version, R::equal, 1), false},
      {cmp(x, T::version, R::greater, 1), true},
      {cmp(x, T::version, R::greater, 2), false},
      {cmp(x, T::version, R::less, 3), true},
      {cmp(x, T::version, R::less, 2), false},
      {cmp(x, T::version, R::not_equal, 1), true},
      {cmp(x, T::version, R::not_equal, 2), false},
      {cmp(x, T::create_revision, R::equal, c), true},
      {cmp(x, T::create_revision, R::equal, m), false},
      {cmp(x, T::create_revision, R::less, m), true},
      {cmp(x, T::mod_revision, R::equal, m), true},
      {cmp(x, T::mod_revision, R::equal, c), false},
      {cmp(x, T::mod_revision, R::greater, c), true},
      {cmp(x, T::mod_revision, R::not_equal, c), true},
      {cmp(x, T::value, R::equal, 0, "m"), true},
      {cmp(x, T::value, R::equal, 0, "n"), false},
      {cmp(x, T::value, R::greater, 0, "l"), true},
      {cmp(x, T::value, R::greater, 0, "m"), false},
      {cmp(x, T::value, R::less, 0, "ma"), true},
      {cmp(x, T::value, R::less, 0, "m"), false},
      {cmp(x, T::value, R::not_equal, 0, "n"), true},
      {cmp(x, T::value, R::not_equal, 0, "m"), false},
      {cmp(x, T::lease, R::equal, 0), true},
      {cmp(k("l"), T::lease, R::equal, *lease), true},
      {cmp(k("l"), T::lease, R::not_equal, *lease), false},
      {cmp(k("l"), T::mod_revision, R::equal, lm), true},
      // Bytes compare unsigned: 0xff > 'z'.
      {cmp(x, T::value, R::less, 0, std::string("\xff")), true},
  };
  for (std::size_t i = 0; i < cases.size(); ++i) {
    TxnRequest req;
    req.compare.push_back(cases[i].compare);
    auto r = store_->txn(req);
    ASSERT_TRUE(r.ok()) << i;
    EXPECT_EQ(r->succeeded, cases[i].want) << "case " << i;
  }
  // All compares must hold.
  TxnRequest both;
  both.compare = {cases[0].compare, cases[1].compare};
  auto r = store_->txn(both);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->succeeded);
  ASSERT_TRUE(store_->lease_revoke(*lease).ok());
}

TEST_P(KS_METASTORE_CONFORMANCE_SUITE, TxnCompareMissingKey) {
  const std::string nope = k("nope");
  struct Case {
    Compare compare;
    bool want;
  };
  const std::vector<Case> cases = {
      {cmp(nope, T::version, R::equal, 0), true},
      {cmp(nope, T::create_revision, R::equal, 0), true},
      {cmp(nope, T::mod_revision, R::equal, 0), true},
      {cmp(nope, T::lease, R::equal, 0), true},
      {cmp(nope, T::version, R::greater, 0), false},
      // A value compare on a missing key always fails, even "not equal".
      {cmp(nope, T::value, R::equal, 0, ""), false},
      {cmp(nope, T::value, R::not_equal, 0, "x"), false},
  };
  for (std::size_t i = 0; i < cases.size(); ++i) {
    TxnRequest req;
    req.compare.push_back(cases[i].compare);
    auto r = store_->txn(req);
    ASSERT_TRUE(r.ok()) << i;
    EXPECT_EQ(r->succeeded, cases[i].want) << "case " << i;
  }
}

TEST_P(KS_METASTORE_CONFORMANCE_SUITE, CreateIfAbsent) {
  auto create = [&](const std::string& value) {
    TxnRequest req;
    req.compare.push_back(cmp(k("lock"), T::create_revision, R::equal, 0));
    req.success.push_back(Op::put(k("lock"), value));
    req.failure.push_back(Op::get(k("lock")));
    return store_->txn(req);
  };
  auto first = create("owner-1");
  ASSERT_TRUE(first.ok());
  EXPECT_TRUE(first->succeeded);
  ASSERT_EQ(first->results.size(), 1u);
  EXPECT_EQ(first->results[0].type, Op::Type::put);

  auto second = create("owner-2");
  ASSERT_TRUE(second.ok());
  EXPECT_FALSE(second->succeeded);
  EXPECT_EQ(second->revision, first->revision);
  ASSERT_EQ(second->results.size(), 1u);
  ASSERT_EQ(second->results[0].type, Op::Type::range);
  ASSERT_EQ(second->results[0].range.kvs.size(), 1u);
  EXPECT_EQ(second->results[0].range.kvs[0].value, "owner-1");
  EXPECT_EQ(second->results[0].range.kvs[0].create_revision, first->revision);
}

TEST_P(KS_METASTORE_CONFORMANCE_SUITE, MultiOpTxnIsOneRevision) {
  put(k("old"), "o");
  put(k("gone1"), "g");
  put(k("gone2"), "g");
  const std::int64_t before = revision();
  TxnRequest req;
  Op p1 = Op::put(k("a"), "1");
  Op p2 = Op::put(k("old"), "n");
  p2.prev_kv = true;
  Op d = Op::del(k("gone"), prefix_end(k("gone")));
  d.prev_kv = true;
  req.success = {p1, p2, d, Op::get(k("a")), Op::get(p_, prefix_end(p_))};
  auto r = store_->txn(req);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_TRUE(r->succeeded);
  EXPECT_EQ(r->revision, before + 1);
  EXPECT_EQ(revision(), before + 1);
  ASSERT_EQ(r->results.size(), 5u);
  EXPECT_EQ(r->results[0].type, Op::Type::put);
  ASSERT_EQ(r->results[1].prev_kvs.size(), 1u);
  EXPECT_EQ(r->results[1].prev_kvs[0].value, "o");
  EXPECT_EQ(r->results[2].type, Op::Type::delete_range);
  EXPECT_EQ(r->results[2].deleted, 2);
  EXPECT_EQ(keys_of(r->results[2].prev_kvs), (std::vector<std::string>{k("gone1"), k("gone2")}));
  // Reads later in the txn see its earlier writes.
  ASSERT_EQ(r->results[3].range.kvs.size(), 1u);
  EXPECT_EQ(r->results[3].range.kvs[0].value, "1");
  EXPECT_EQ(r->results[3].range.kvs[0].mod_revision, before + 1);
  EXPECT_EQ(keys_of(r->results[4].range.kvs), (std::vector<std::string>{k("a"), k("old")}));

  auto all = get(p_, prefix_end(p_));
  ASSERT_EQ(all.kvs.size(), 2u);
  for (const KeyValue& kv : all.kvs) EXPECT_EQ(kv.mod_revision, before + 1);
  EXPECT_EQ(all.kvs[1].version, 2);
}

TEST_P(KS_METASTORE_CONFORMANCE_SUITE, ReadOnlyAndFailedTxnsKeepRevision) {
  put(k("a"), "1");
  const std::int64_t before = revision();
  TxnRequest ro;
  ro.success.push_back(Op::get(k("a")));
  auto r = store_->txn(ro);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->succeeded);  // no compares: success
  EXPECT_EQ(r->revision, before);
  ASSERT_EQ(r->results.size(), 1u);
  ASSERT_EQ(r->results[0].range.kvs.size(), 1u);

  TxnRequest failed;
  failed.compare.push_back(cmp(k("a"), T::value, R::equal, 0, "other"));
  failed.success.push_back(Op::put(k("a"), "2"));
  r = store_->txn(failed);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->succeeded);
  EXPECT_TRUE(r->results.empty());
  EXPECT_EQ(r->revision, before);
  EXPECT_EQ(revision(), before);
  EXPECT_EQ(get(k("a")).kvs.at(0).value, "1");

  // A txn whose only write deletes nothing creates no revision either.
  TxnRequest noop;
  noop.success.push_back(Op::del(k("missing")));
  r = store_->txn(noop);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->results.at(0).deleted, 0);
  EXPECT_EQ(revision(), before);

  // Failure-branch writes do create one.
  failed.failure.push_back(Op::put(k("a"), "3"));
  r = store_->txn(failed);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->succeeded);
  EXPECT_EQ(r->revision, before + 1);
  EXPECT_EQ(get(k("a")).kvs.at(0).value, "3");
}

TEST_P(KS_METASTORE_CONFORMANCE_SUITE, FailureBranchRangeResults) {
  put(k("t/1"), "a");
  put(k("t/2"), "b");
  TxnRequest req;
  req.compare.push_back(cmp(k("t/1"), T::version, R::equal, 0));
  req.success.push_back(Op::put(k("t/1"), "x"));
  req.failure.push_back(Op::get(k("t/"), prefix_end(k("t/"))));
  req.failure.push_back(Op::get(k("t/2")));
  auto r = store_->txn(req);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->succeeded);
  ASSERT_EQ(r->results.size(), 2u);
  EXPECT_EQ(keys_of(r->results[0].range.kvs), (std::vector<std::string>{k("t/1"), k("t/2")}));
  EXPECT_EQ(r->results[0].range.count, 2);
  EXPECT_EQ(r->results[1].range.kvs.at(0).value, "b");
}

TEST_P(KS_METASTORE_CONFORMANCE_SUITE, TxnDuplicateKeysRejected) {
  TxnRequest twice;
  twice.success = {Op::put(k("a"), "1"), Op::put(k("a"), "2")};
  auto r = store_->txn(twice);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.code(), Errc::invalid_argument);

  TxnRequest put_and_delete;
  put_and_delete.success = {Op::del(k("a"), prefix_end(k("a"))), Op::put(k("ab"), "1")};
  r = store_->txn(put_and_delete);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.code(), Errc::invalid_argument);

  // The same key in different branches is fine.
  TxnRequest branches;
  branches.success = {Op::put(k("a"), "1")};
  branches.failure = {Op::put(k("a"), "2")};
  r = store_->txn(branches);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
}

TEST_P(KS_METASTORE_CONFORMANCE_SUITE, TxnOpLimits) {
  auto puts = [&](std::size_t n) {
    std::vector<Op> ops;
    for (std::size_t i = 0; i < n; ++i) ops.push_back(Op::put(k("op/" + std::to_string(i)), "v"));
    return ops;
  };
  const std::int64_t before = revision();
  TxnRequest ok;
  ok.success = puts(kMaxTxnOps);
  auto r = store_->txn(ok);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->revision, before + 1);

  TxnRequest too_many;
  too_many.success = puts(kMaxTxnOps + 1);
  r = store_->txn(too_many);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.code(), Errc::limit_exceeded);

  TxnRequest too_many_failure;
  too_many_failure.failure = puts(kMaxTxnOps + 1);
  r = store_->txn(too_many_failure);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.code(), Errc::limit_exceeded);

  TxnRequest too_many_compares;
  for (std::size_t i = 0; i <= kMaxTxnOps; ++i) {
    too_many_compares.compare.push_back(cmp(k("c"), T::version, R::equal, 0));
  }
  r = store_->txn(too_many_compares);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.code(), Errc::limit_exceeded);

  // The limit is per list, not their sum.
  TxnRequest per_list;
  per_list.success = puts(kMaxTxnOps);
  per_list.failure = puts(kMaxTxnOps);
  r = store_->txn(per_list);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(revision(), before + 2);
}

TEST_P(KS_METASTORE_CONFORMANCE_SUITE, RequestSizeLimit) {
  const std::int64_t before = revision();
  auto big = store_->put(k("big"), std::string(1600 * 1024, 'x'));
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.code(), Errc::limit_exceeded);

  TxnRequest two;
  two.success = {Op::put(k("h1"), std::string(800 * 1024, 'x')),
                 Op::put(k("h2"), std::string(800 * 1024, 'y'))};
  auto r = store_->txn(two);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.code(), Errc::limit_exceeded);
  EXPECT_EQ(revision(), before);

  auto fits = store_->put(k("mib"), std::string(1024 * 1024, 'z'));
  ASSERT_TRUE(fits.ok()) << fits.status().to_string();
  EXPECT_EQ(get(k("mib")).kvs.at(0).value.size(), 1024u * 1024u);
}

TEST_P(KS_METASTORE_CONFORMANCE_SUITE, EmptyKeyRejected) {
  auto p = store_->put("", "v");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.code(), Errc::invalid_argument);
  RangeRequest req;
  auto r = store_->range(req);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.code(), Errc::invalid_argument);
  auto d = store_->delete_range("");
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.code(), Errc::invalid_argument);
  TxnRequest t;
  t.success.push_back(Op::put("", "v"));
  auto tr = store_->txn(t);
  ASSERT_FALSE(tr.ok());
  EXPECT_EQ(tr.code(), Errc::invalid_argument);
}

TEST_P(KS_METASTORE_CONFORMANCE_SUITE, LeaseRevokeDeletesKeysInOneRevision) {
  auto lease = store_->lease_grant(60);
  ASSERT_TRUE(lease.ok());
  EXPECT_NE(*lease, 0);
  put(k("l/1"), "a", *lease);
  put(k("l/2"), "b", *lease);
  put(k("keep"), "c");
  auto r = get(k("l/1"));
  ASSERT_EQ(r.kvs.size(), 1u);
  EXPECT_EQ(r.kvs[0].lease, *lease);
  ASSERT_TRUE(store_->lease_keepalive(*lease).ok());

  const std::int64_t before = revision();
  ASSERT_TRUE(store_->lease_revoke(*lease).ok());
  EXPECT_EQ(revision(), before + 1);
  EXPECT_EQ(get(k("l/"), prefix_end(k("l/"))).count, 0);
  EXPECT_EQ(get(k("keep")).count, 1);

  EXPECT_EQ(store_->lease_keepalive(*lease).code(), Errc::not_found);
  EXPECT_EQ(store_->lease_revoke(*lease).code(), Errc::not_found);
  auto p = store_->put(k("late"), "x", *lease);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.code(), Errc::not_found);
}

TEST_P(KS_METASTORE_CONFORMANCE_SUITE, LeaseDetachOnReput) {
  auto lease = store_->lease_grant(60);
  ASSERT_TRUE(lease.ok());
  put(k("a"), "1", *lease);
  put(k("a"), "2");  // re-put without the lease detaches the key
  ASSERT_TRUE(store_->lease_revoke(*lease).ok());
  auto r = get(k("a"));
  ASSERT_EQ(r.kvs.size(), 1u);
  EXPECT_EQ(r.kvs[0].lease, 0);
  EXPECT_EQ(r.kvs[0].value, "2");
}

TEST_P(KS_METASTORE_CONFORMANCE_SUITE, LeaseUnknown) {
  const LeaseId bogus = 0x7eadbeef1234;
  auto p = store_->put(k("a"), "v", bogus);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.code(), Errc::not_found);
  TxnRequest t;
  t.success.push_back(Op::put(k("a"), "v", bogus));
  EXPECT_EQ(store_->txn(t).code(), Errc::not_found);
  EXPECT_EQ(store_->lease_keepalive(bogus).code(), Errc::not_found);
  EXPECT_EQ(store_->lease_revoke(bogus).code(), Errc::not_found);
  EXPECT_EQ(get(k("a")).count, 0);
}

TEST_P(KS_METASTORE_CONFORMANCE_SUITE, LeaseExpiryDeletesKeys) {
  WatchRecorder rec;
  auto w = store_->watch(k("e/"), prefix_end(k("e/")), 0, rec.callback());
  ASSERT_TRUE(w.ok());
  auto lease = store_->lease_grant(1);
  ASSERT_TRUE(lease.ok());
  const auto granted = std::chrono::steady_clock::now();
  put(k("e/1"), "a", *lease);
  put(k("e/2"), "b", *lease);
  // TTL 1 s (etcd may round it up to its minimum) plus generous grace.
  ASSERT_TRUE(rec.wait_events(4, 15s)) << "lease did not expire";
  EXPECT_GE(std::chrono::steady_clock::now() - granted, 900ms);
  auto events = rec.events();
  EXPECT_EQ(events[2].type, WatchEvent::Type::del);
  EXPECT_EQ(events[3].type, WatchEvent::Type::del);
  EXPECT_EQ(events[2].kv.mod_revision, events[3].kv.mod_revision);  // one revision
  EXPECT_EQ(get(k("e/"), prefix_end(k("e/"))).count, 0);
  EXPECT_EQ(store_->lease_keepalive(*lease).code(), Errc::not_found);
}

TEST_P(KS_METASTORE_CONFORMANCE_SUITE, LeaseKeepaliveKeepsKeys) {
  auto lease = store_->lease_grant(1);
  ASSERT_TRUE(lease.ok());
  put(k("alive"), "v", *lease);
  // Keep it alive well past its TTL (and past etcd's minimum TTL).
  const auto until = std::chrono::steady_clock::now() + 3s;
  while (std::chrono::steady_clock::now() < until) {
    ASSERT_TRUE(store_->lease_keepalive(*lease).ok());
    std::this_thread::sleep_for(200ms);  // keepalive pacing, not synchronisation
  }
  EXPECT_EQ(get(k("alive")).count, 1);
  ASSERT_TRUE(store_->lease_revoke(*lease).ok());
  EXPECT_EQ(get(k("alive")).count, 0);
}

TEST_P(KS_METASTORE_CONFORMANCE_SUITE, WatchFromNow) {
  put(k("w/before"), "x");
  WatchRecorder rec;
  auto w = store_->watch(k("w/"), prefix_end(k("w/")), 0, rec.callback());
  ASSERT_TRUE(w.ok()) << w.status().to_string();
  const std::int64_t r1 = put(k("w/a"), "1");
  put(k("other"), "not watched");
  const std::int64_t r2 = put(k("w/a"), "2");
  auto del = store_->delete_range(k("w/a"));
  ASSERT_TRUE(del.ok());
  const std::int64_t r3 = revision();
  TxnRequest t;
  t.success = {Op::put(k("w/x"), "x"), Op::put(k("w/y"), "y")};
  auto tr = store_->txn(t);
  ASSERT_TRUE(tr.ok());
  ASSERT_TRUE(rec.wait_events(5));
  auto ev = rec.events();
  ASSERT_EQ(ev.size(), 5u);
  EXPECT_EQ(ev[0].type, WatchEvent::Type::put);
  EXPECT_EQ(ev[0].kv.key, k("w/a"));
  EXPECT_EQ(ev[0].kv.value, "1");
  EXPECT_EQ(ev[0].kv.mod_revision, r1);
  EXPECT_EQ(ev[0].kv.create_revision, r1);
  EXPECT_EQ(ev[0].kv.version, 1);
  EXPECT_EQ(ev[1].kv.mod_revision, r2);
  EXPECT_EQ(ev[1].kv.version, 2);
  EXPECT_EQ(ev[2].type, WatchEvent::Type::del);
  EXPECT_EQ(ev[2].kv.key, k("w/a"));
  EXPECT_EQ(ev[2].kv.mod_revision, r3);
  EXPECT_EQ(ev[3].kv.key, k("w/x"));
  EXPECT_EQ(ev[4].kv.key, k("w/y"));
  EXPECT_EQ(ev[3].kv.mod_revision, tr->revision);
  EXPECT_EQ(ev[4].kv.mod_revision, tr->revision);
  for (std::size_t i = 1; i < ev.size(); ++i) EXPECT_LE(ev[i - 1].kv.mod_revision, ev[i].kv.mod_revision);
  EXPECT_FALSE(rec.wait_end(0ms).has_value());
}

TEST_P(KS_METASTORE_CONFORMANCE_SUITE, WatchFromOlderRevision) {
  const std::int64_t r1 = put(k("a"), "1");
  put(k("b"), "2");
  ASSERT_TRUE(store_->delete_range(k("a")).ok());
  WatchRecorder rec;
  auto w = store_->watch(p_, prefix_end(p_), r1, rec.callback());
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE(rec.wait_events(3));
  const std::int64_t r4 = put(k("c"), "3");
  ASSERT_TRUE(rec.wait_events(4));
  auto ev = rec.events();
  ASSERT_EQ(ev.size(), 4u);
  EXPECT_EQ(ev[0].kv.key, k("a"));
  EXPECT_EQ(ev[0].kv.mod_revision, r1);
  EXPECT_EQ(ev[1].kv.key, k("b"));
  EXPECT_EQ(ev[2].type, WatchEvent::Type::del);
  EXPECT_EQ(ev[3].kv.key, k("c"));
  EXPECT_EQ(ev[3].kv.mod_revision, r4);

  // Starting exactly at a later revision skips the earlier ones.
  WatchRecorder rec2;
  auto w2 = store_->watch(p_, prefix_end(p_), r4, rec2.callback());
  ASSERT_TRUE(w2.ok());
  ASSERT_TRUE(rec2.wait_events(1));
  EXPECT_EQ(rec2.events()[0].kv.key, k("c"));
}

TEST_P(KS_METASTORE_CONFORMANCE_SUITE, WatchSingleKey) {
  WatchRecorder rec;
  auto w = store_->watch(k("a"), {}, 0, rec.callback());
  ASSERT_TRUE(w.ok());
  put(k("ab"), "no");
  put(k("a"), "yes");
  put(k("b"), "no");
  put(k("a"), "yes2");
  ASSERT_TRUE(rec.wait_events(2));
  // A sync point: an event after everything above, on another watch.
  WatchRecorder sync;
  auto ws = store_->watch(k("z"), {}, 0, sync.callback());
  ASSERT_TRUE(ws.ok());
  put(k("z"), "sync");
  ASSERT_TRUE(sync.wait_events(1));
  auto ev = rec.events();
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].kv.value, "yes");
  EXPECT_EQ(ev[1].kv.value, "yes2");
}

TEST_P(KS_METASTORE_CONFORMANCE_SUITE, WatchCancel) {
  WatchRecorder cancelled;
  WatchRecorder live;
  auto w1 = store_->watch(p_, prefix_end(p_), 0, cancelled.callback());
  auto w2 = store_->watch(p_, prefix_end(p_), 0, live.callback());
  ASSERT_TRUE(w1.ok());
  ASSERT_TRUE(w2.ok());
  put(k("a"), "1");
  ASSERT_TRUE(cancelled.wait_events(1));
  ASSERT_TRUE(live.wait_events(1));
  w1->reset();  // cancel
  const std::size_t calls = cancelled.calls();
  put(k("b"), "2");
  put(k("c"), "3");
  ASSERT_TRUE(live.wait_events(3));
  EXPECT_EQ(cancelled.calls(), calls);
  EXPECT_EQ(cancelled.events().size(), 1u);
}

TEST_P(KS_METASTORE_CONFORMANCE_SUITE, Compaction) {
  const std::int64_t r1 = put(k("a"), "1");
  const std::int64_t r2 = put(k("a"), "2");
  const std::int64_t r3 = put(k("b"), "3");
  const std::int64_t r4 = put(k("a"), "4");
  ASSERT_TRUE(store_->compact(r3).ok());

  RangeRequest req;
  req.key = k("a");
  req.revision = r2;
  auto old = store_->range(req);
  ASSERT_FALSE(old.ok());
  EXPECT_EQ(old.code(), Errc::compacted);

  req.revision = r3;  // the compaction revision itself is still readable
  auto at = store_->range(req);
  ASSERT_TRUE(at.ok()) << at.status().to_string();
  ASSERT_EQ(at->kvs.size(), 1u);
  EXPECT_EQ(at->kvs[0].value, "2");
  EXPECT_EQ(at->kvs[0].create_revision, r1);

  WatchRecorder never;
  auto w = store_->watch(p_, prefix_end(p_), r1, never.callback());
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.code(), Errc::compacted);

  WatchRecorder rec;
  auto w2 = store_->watch(p_, prefix_end(p_), r3, rec.callback());
  ASSERT_TRUE(w2.ok()) << w2.status().to_string();
  ASSERT_TRUE(rec.wait_events(2));
  auto ev = rec.events();
  EXPECT_EQ(ev[0].kv.mod_revision, r3);
  EXPECT_EQ(ev[1].kv.mod_revision, r4);

  // Latest data is untouched.
  EXPECT_EQ(get(k("a")).kvs.at(0).value, "4");
  EXPECT_EQ(get(k("a")).kvs.at(0).version, 3);

  EXPECT_EQ(store_->compact(r2).code(), Errc::compacted);
  EXPECT_EQ(store_->compact(r3).code(), Errc::compacted);
  EXPECT_EQ(store_->compact(r4 + 1000).code(), Errc::invalid_argument);
  ASSERT_TRUE(store_->compact(r4).ok());
}

TEST_P(KS_METASTORE_CONFORMANCE_SUITE, ConcurrentCompareAndSwap) {
  constexpr int kThreads = 4;
  constexpr int kIncrements = 20;
  const std::string counter = k("counter");
  put(counter, "0");
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kIncrements;) {
        RangeRequest req;
        req.key = counter;
        auto cur = store_->range(req);
        if (!cur.ok() || cur->kvs.size() != 1) {
          ++errors;
          return;
        }
        const KeyValue& kv = cur->kvs[0];
        TxnRequest txn;
        txn.compare.push_back(cmp(counter, T::mod_revision, R::equal, kv.mod_revision));
        txn.success.push_back(Op::put(counter, std::to_string(std::stoi(kv.value) + 1)));
        auto r = store_->txn(txn);
        if (!r.ok()) {
          ++errors;
          return;
        }
        if (r->succeeded) ++i;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  auto r = get(counter);
  ASSERT_EQ(r.kvs.size(), 1u);
  EXPECT_EQ(r.kvs[0].value, std::to_string(kThreads * kIncrements));
  EXPECT_EQ(r.kvs[0].version, kThreads * kIncrements + 1);
}

}  // namespace
