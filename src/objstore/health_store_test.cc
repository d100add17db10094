#include "objstore/health_store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace ks::objstore {
namespace {

using namespace std::chrono_literals;
using TimePoint = HealthObjectStore::TimePoint;

// A fake clock and an inner store whose next outcome and latency the test
// sets; each call advances the clock by the latency.
struct Fake {
  TimePoint now = TimePoint{} + 1h;
  Errc next = Errc::ok;
  std::chrono::milliseconds latency = 10ms;
  int calls = 0;
};

class ScriptedStore final : public ObjectStore {
 public:
  explicit ScriptedStore(Fake* f) : f_(f) {}
  Status put(std::string_view, std::string_view) override { return step(); }
  Result<std::string> get(std::string_view, std::optional<ByteRange>) override {
    Status s = step();
    if (!s.ok()) return s;
    return std::string("data");
  }
  Result<std::vector<ObjectInfo>> list(std::string_view) override {
    Status s = step();
    if (!s.ok()) return s;
    return std::vector<ObjectInfo>{};
  }
  Status remove(std::string_view) override { return step(); }
  std::string describe() const override { return "scripted"; }

 private:
  Status step() {
    ++f_->calls;
    f_->now += f_->latency;
    if (f_->next == Errc::ok) return {};
    return Status(f_->next, "scripted " + std::string(errc_name(f_->next)));
  }
  Fake* f_;
};

struct Transition {
  Health from, to;
  std::string reason;
};

class HealthStoreTest : public ::testing::Test {
 protected:
  void make(HealthOptions o = {}) {
    store = std::make_unique<HealthObjectStore>(std::make_shared<ScriptedStore>(&fake), o,
                                                [this] { return fake.now; });
    store->set_listener([this](Health from, Health to, const std::string& reason) {
      transitions.push_back(Transition{from, to, reason});
    });
  }
  void calls(int n, Errc outcome, std::chrono::milliseconds latency = 10ms) {
    fake.next = outcome;
    fake.latency = latency;
    for (int i = 0; i < n; ++i) (void)store->put("k", "v");
  }

  Fake fake;
  std::unique_ptr<HealthObjectStore> store;
  std::vector<Transition> transitions;
};

TEST_F(HealthStoreTest, StartsHealthyAndStaysSoOnSuccessAndAnswers) {
  make();
  EXPECT_EQ(store->health(), Health::healthy);
  calls(100, Errc::ok);
  // not_found and invalid_argument are answers, not failures of the store.
  calls(20, Errc::not_found);
  calls(20, Errc::invalid_argument);
  EXPECT_EQ(store->health(), Health::healthy);
  EXPECT_TRUE(transitions.empty());
  auto s = store->snapshot();
  EXPECT_EQ(s.failures, 0u);
  EXPECT_EQ(s.latency_p50, 10ms);
}

TEST_F(HealthStoreTest, ConsecutiveFailuresMakeItUnavailableAndSuccessesBringItBackInSteps) {
  make();
  calls(10, Errc::ok);
  calls(2, Errc::unavailable);
  EXPECT_NE(store->health(), Health::unavailable);  // two are not enough
  calls(1, Errc::timeout);
  EXPECT_EQ(store->health(), Health::unavailable);
  ASSERT_FALSE(transitions.empty());
  EXPECT_EQ(transitions.back().to, Health::unavailable);
  EXPECT_NE(transitions.back().reason.find("3 calls failed in a row"), std::string::npos)
      << transitions.back().reason;
  EXPECT_NE(transitions.back().reason.find("scripted timeout"), std::string::npos);

  // One success is not a recovery (hysteresis); a failure in between resets the count.
  calls(1, Errc::ok);
  EXPECT_EQ(store->health(), Health::unavailable);
  calls(1, Errc::io_error);
  calls(1, Errc::ok);
  EXPECT_EQ(store->health(), Health::unavailable);
  // Probes are calls too: two successes in a row leave unavailable, for degraded only.
  fake.next = Errc::ok;
  EXPECT_TRUE(store->probe().ok());
  EXPECT_EQ(store->health(), Health::degraded);
  EXPECT_EQ(transitions.back().from, Health::unavailable);

  // Degraded until the failures leave the window and the dwell time passed.
  calls(20, Errc::ok);
  EXPECT_EQ(store->health(), Health::degraded);
  fake.now += 31s;
  EXPECT_EQ(store->refresh(), Health::healthy);
  EXPECT_EQ(transitions.back().from, Health::degraded);
  EXPECT_EQ(transitions.back().to, Health::healthy);
}

TEST_F(HealthStoreTest, FailureRatioDegradesAndRecoversWithHysteresis) {
  HealthOptions o;
  o.min_dwell = 0ms;
  make(o);
  // 1 failure in 20: 5% < 10%, stays healthy.
  calls(19, Errc::ok);
  calls(1, Errc::io_error);
  EXPECT_EQ(store->health(), Health::healthy);
  // 3 failures in 23 (scattered, never 3 in a row): 13% -> degraded.
  calls(1, Errc::io_error);
  calls(1, Errc::ok);
  calls(1, Errc::io_error);
  EXPECT_EQ(store->health(), Health::degraded);
  EXPECT_NE(transitions.back().reason.find("recent calls failed"), std::string::npos);
  // Diluted to 3/104 = 2.9%: below the degraded threshold but above the healthy one: stays degraded.
  calls(81, Errc::ok);
  EXPECT_EQ(store->health(), Health::degraded);
  // 3/150 = 2%: at the healthy threshold: healthy.
  calls(46, Errc::ok);
  EXPECT_EQ(store->health(), Health::healthy);
  EXPECT_EQ(transitions.size(), 2u);
}

TEST_F(HealthStoreTest, SlowCallsDegrade) {
  HealthOptions o;
  o.min_dwell = 300ms;
  make(o);
  calls(5, Errc::ok, 3000ms);
  EXPECT_EQ(store->health(), Health::degraded);
  EXPECT_NE(transitions.back().reason.find("longer than 2000 ms"), std::string::npos);
  EXPECT_EQ(store->snapshot().latency_p99, 3000ms);
  // 5 slow of 25 calls is 20%, but the dwell time (30 calls of 10 ms) is not over yet.
  calls(20, Errc::ok, 10ms);
  EXPECT_EQ(store->health(), Health::degraded);
  calls(10, Errc::ok, 10ms);
  EXPECT_EQ(store->health(), Health::healthy);
}

TEST_F(HealthStoreTest, FewCallsNeverDegradeButWindowAgesOut) {
  make();
  calls(1, Errc::io_error);
  calls(2, Errc::ok);
  EXPECT_EQ(store->health(), Health::healthy);  // 3 samples < min_samples
  auto s = store->snapshot();
  EXPECT_EQ(s.samples, 3u);
  EXPECT_EQ(s.failures, 1u);
  fake.now += 31s;
  store->refresh();
  EXPECT_EQ(store->snapshot().samples, 0u);
}

TEST_F(HealthStoreTest, WindowIsBounded) {
  HealthOptions o;
  o.max_samples = 16;
  make(o);
  calls(100, Errc::ok);
  EXPECT_EQ(store->snapshot().samples, 16u);
  calls(2, Errc::io_error);
  calls(14, Errc::ok);
  // 2 failures among the last 16 calls.
  EXPECT_EQ(store->snapshot().failures, 2u);
  calls(16, Errc::ok);
  EXPECT_EQ(store->snapshot().failures, 0u);
}

TEST_F(HealthStoreTest, EveryOperationIsRecorded) {
  make();
  fake.next = Errc::unavailable;
  (void)store->get("k");
  (void)store->list("p/");
  (void)store->remove("k");
  EXPECT_EQ(store->health(), Health::unavailable);
  EXPECT_EQ(fake.calls, 3);
  EXPECT_EQ(health_name(store->health()), "unavailable");
}

TEST(HealthStoreThreadsTest, ConcurrentCallsKeepCountsConsistent) {
  // Real clock; only the bookkeeping is under test.
  class Ok final : public ObjectStore {
   public:
    Status put(std::string_view, std::string_view) override { return {}; }
    Result<std::string> get(std::string_view, std::optional<ByteRange>) override {
      return Status(Errc::unavailable, "down");
    }
    Result<std::vector<ObjectInfo>> list(std::string_view) override { return std::vector<ObjectInfo>{}; }
    Status remove(std::string_view) override { return {}; }
    std::string describe() const override { return "ok"; }
  };
  HealthOptions o;
  o.max_samples = 64;
  HealthObjectStore store(std::make_shared<Ok>(), o);
  std::atomic<int> notified{0};
  store.set_listener([&](Health, Health, const std::string&) { ++notified; });
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) {
        if (t == 0) {
          (void)store.get("k");
        } else {
          (void)store.put("k", "v");
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  auto s = store.snapshot();
  EXPECT_EQ(s.samples, 64u);
  EXPECT_LE(s.failures, 64u);
  EXPECT_EQ(static_cast<std::uint64_t>(notified.load()), s.transitions);
}

}  // namespace
}  // namespace ks::objstore
