#include "metastore/fault_store.h"

#include <thread>

#include "metastore/embedded_store.h"

#define KS_METASTORE_CONFORMANCE_SUITE FaultWrapperConformance
#include "metastore/metadata_store_conformance.h"

namespace ks::metastore {
namespace {

using testing::MetadataStoreBackend;
using testing::TempDir;
using testing::WatchRecorder;

std::shared_ptr<EmbeddedMetadataStore> make_inner() { return testing::temp_embedded_store(); }

std::shared_ptr<MetadataStore> make_wrapped() {
  auto inner = make_inner();
  if (!inner) return nullptr;
  return std::make_shared<FaultMetadataStore>(inner);
}

INSTANTIATE_TEST_SUITE_P(Fault, FaultWrapperConformance,
                         ::testing::Values(MetadataStoreBackend{"fault_no_faults", make_wrapped, true}),
                         testing::backend_name);

class FaultStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    inner_ = make_inner();
    ASSERT_NE(inner_, nullptr);
    fault_ = std::make_unique<FaultMetadataStore>(inner_, 42);
  }
  bool present(const std::string& key) {
    RangeRequest req;
    req.key = key;
    auto r = inner_->range(req);
    return r.ok() && r->count == 1;
  }
  std::shared_ptr<EmbeddedMetadataStore> inner_;
  std::unique_ptr<FaultMetadataStore> fault_;
};

TEST_F(FaultStoreTest, FailNextIsNotApplied) {
  fault_->fail_next(StoreMethod::put, 2, Errc::io_error);
  EXPECT_EQ(fault_->put("a", "1").code(), Errc::io_error);
  EXPECT_EQ(fault_->put("a", "1").code(), Errc::io_error);
  EXPECT_FALSE(present("a"));
  // Other methods are unaffected.
  EXPECT_TRUE(fault_->txn(TxnRequest{}).ok());
  EXPECT_TRUE(fault_->put("a", "1").ok());
  EXPECT_TRUE(present("a"));
  EXPECT_EQ(fault_->calls(StoreMethod::put), 3u);
  EXPECT_EQ(fault_->injected(StoreMethod::put), 2u);
  EXPECT_EQ(fault_->calls(StoreMethod::txn), 1u);
  EXPECT_EQ(fault_->injected(StoreMethod::txn), 0u);
}

TEST_F(FaultStoreTest, TimeoutAfterApplyIsApplied) {
  fault_->timeout_after_apply_next(StoreMethod::txn, 1);
  TxnRequest t;
  t.compare.push_back(testing::cmp("a", Compare::Target::create_revision, Compare::Result::equal, 0));
  t.success.push_back(Op::put("a", "1"));
  auto r = fault_->txn(t);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.code(), Errc::timeout);
  EXPECT_TRUE(present("a"));
  // A retry of the same create-if-absent now fails its compare: the caller
  // has to read back to learn its first attempt won.
  r = fault_->txn(t);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->succeeded);
}

TEST_F(FaultStoreTest, TimeoutBeforeApplyIsNotApplied) {
  fault_->timeout_before_apply_next(StoreMethod::put, 1);
  auto r = fault_->put("a", "1");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.code(), Errc::timeout);
  EXPECT_FALSE(present("a"));
  EXPECT_TRUE(fault_->put("a", "1").ok());
}

TEST_F(FaultStoreTest, LeaseAndCompactFaults) {
  fault_->timeout_after_apply_next(StoreMethod::lease_grant, 1);
  EXPECT_EQ(fault_->lease_grant(10).code(), Errc::timeout);
  EXPECT_EQ(inner_->stats().leases, 1u);  // leaked, as with a real timeout
  fault_->fail_next(StoreMethod::lease_keepalive, 1, Errc::unavailable);
  auto l = fault_->lease_grant(10);
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(fault_->lease_keepalive(*l).code(), Errc::unavailable);
  EXPECT_TRUE(fault_->lease_keepalive(*l).ok());
  fault_->fail_next(StoreMethod::compact, 1, Errc::unavailable);
  EXPECT_EQ(fault_->compact(1).code(), Errc::unavailable);
  EXPECT_EQ(inner_->stats().compact_revision, 0);
}

TEST_F(FaultStoreTest, Unavailable) {
  fault_->set_unavailable(true);
  EXPECT_EQ(fault_->put("a", "1").code(), Errc::unavailable);
  RangeRequest req;
  req.key = "a";
  EXPECT_EQ(fault_->range(req).code(), Errc::unavailable);
  EXPECT_EQ(fault_->watch("a", {}, 0, [](auto&, auto&) {}).code(), Errc::unavailable);
  EXPECT_FALSE(present("a"));
  fault_->set_unavailable(false);
  EXPECT_TRUE(fault_->put("a", "1").ok());
}

TEST_F(FaultStoreTest, RandomFailuresAreSeeded) {
  auto pattern = [&](std::uint64_t seed) {
    FaultMetadataStore f(inner_, seed);
    f.set_failure_rate(0.5, Errc::unavailable);
    std::string out;
    RangeRequest req;
    req.key = "x";
    for (int i = 0; i < 200; ++i) out += f.range(req).ok() ? '.' : 'X';
    return out;
  };
  const std::string a = pattern(7);
  EXPECT_EQ(a, pattern(7));
  EXPECT_NE(a, pattern(8));
  const auto failures = std::count(a.begin(), a.end(), 'X');
  EXPECT_GT(failures, 50);
  EXPECT_LT(failures, 150);
}

TEST_F(FaultStoreTest, LatencyDelaysCalls) {
  fault_->set_latency(std::chrono::milliseconds(50));
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(fault_->put("a", "1").ok());
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(50));
  fault_->clear_faults();
  EXPECT_TRUE(fault_->put("a", "2").ok());
}

TEST_F(FaultStoreTest, CrashDropsUnacknowledgedWrites) {
  fault_->set_latency(std::chrono::seconds(30));
  Result<std::int64_t> r1 = std::int64_t{0};
  Result<std::int64_t> r2 = std::int64_t{0};
  std::thread t1([&] { r1 = fault_->put("lost1", "v"); });
  std::thread t2([&] { r2 = fault_->put("lost2", "v"); });
  // Wait (with a deadline) until both calls are inside the latency.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (fault_->calls(StoreMethod::put) < 2 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));  // polling with a deadline
  }
  ASSERT_EQ(fault_->calls(StoreMethod::put), 2u);
  EXPECT_EQ(fault_->crash(), 2u);
  t1.join();
  t2.join();
  EXPECT_EQ(r1.code(), Errc::timeout);
  EXPECT_EQ(r2.code(), Errc::timeout);
  EXPECT_FALSE(present("lost1"));
  EXPECT_FALSE(present("lost2"));
  // Calls after the crash run normally.
  fault_->set_latency(std::chrono::milliseconds(0));
  EXPECT_TRUE(fault_->put("after", "v").ok());
  EXPECT_TRUE(present("after"));
}

TEST_F(FaultStoreTest, BreakWatchesEndsThemWithUnavailable) {
  WatchRecorder rec;
  auto w = fault_->watch("k", {}, 0, rec.callback());
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE(fault_->put("k", "1").ok());
  ASSERT_TRUE(rec.wait_events(1));
  fault_->break_watches();
  auto end = rec.wait_end(std::chrono::milliseconds(0));
  ASSERT_TRUE(end.has_value());
  EXPECT_EQ(end->code(), Errc::unavailable);
  const std::size_t calls = rec.calls();
  // Nothing more arrives; sync on a fresh watch.
  WatchRecorder sync;
  auto w2 = fault_->watch("k", {}, 0, sync.callback());
  ASSERT_TRUE(w2.ok());
  ASSERT_TRUE(fault_->put("k", "2").ok());
  ASSERT_TRUE(sync.wait_events(1));
  EXPECT_EQ(rec.calls(), calls);
  fault_->break_watches();
  fault_->break_watches();  // idempotent
  EXPECT_EQ(sync.calls(), 2u);
}

TEST_F(FaultStoreTest, DescribeWrapsInner) {
  EXPECT_EQ(fault_->describe(), "fault(" + inner_->describe() + ")");
}

}  // namespace
}  // namespace ks::metastore
