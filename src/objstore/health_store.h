// HealthObjectStore: an ObjectStore decorator that judges the inner store
// healthy, degraded or unavailable from the outcomes and latencies of the
// calls going through it, so the broker can refuse produce quickly (instead
// of buffering data it cannot persist) and report the state on /readyz and
// /metrics.
//
// Rules (thresholds in HealthOptions):
//   * a call fails when it returns unavailable, timeout or io_error (the
//     store did not do its job); not_found, invalid_argument, corrupt... mean
//     the store answered, and count as successes here;
//   * a call is slow when it took longer than slow_threshold;
//   * any state -> unavailable after `unavailable_after_failures` failed calls
//     in a row;
//   * unavailable -> degraded after `recover_after_successes` successes in a
//     row (never straight to healthy);
//   * healthy -> degraded when the window (last `window`, at most
//     `max_samples` calls) holds at least `min_samples` calls and its failure
//     or slow ratio reaches the degraded threshold;
//   * degraded -> healthy only after `min_dwell` in degraded and when the
//     window's ratios are at or below the (lower) healthy thresholds.
// The gap between the entering and leaving thresholds, the dwell time and
// the consecutive-call rules are the hysteresis: one odd call does not flip
// the state back and forth.
//
// While the broker refuses writes nothing would show that the store came
// back, so the owner calls probe() periodically when the state is not
// healthy (one tiny PUT). refresh() re-evaluates time-based rules (samples
// ageing out of the window) without a call.
//
// Thread-safe; health() is a lock-free read for the network loop.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "objstore/forwarding_store.h"

namespace ks::objstore {

enum class Health : int { healthy = 0, degraded = 1, unavailable = 2 };
std::string_view health_name(Health h);  // "healthy", "degraded", "unavailable"

struct HealthOptions {
  std::chrono::milliseconds window{30000};
  // Bounds the window's memory whatever the call rate.
  std::size_t max_samples = 512;
  std::chrono::milliseconds slow_threshold{2000};
  int unavailable_after_failures = 3;
  int recover_after_successes = 2;
  std::size_t min_samples = 5;
  double degraded_failure_ratio = 0.10;
  double degraded_slow_ratio = 0.50;
  double healthy_failure_ratio = 0.02;
  double healthy_slow_ratio = 0.20;
  std::chrono::milliseconds min_dwell{5000};
  // Written (overwritten) by probe(); a valid object key.
  std::string probe_key = "health/probe";
};

// What the window holds now (for /metrics and tests).
struct HealthSnapshot {
  Health health = Health::healthy;
  std::size_t samples = 0;
  std::size_t failures = 0;
  std::size_t slow = 0;
  int consecutive_failures = 0;
  int consecutive_successes = 0;
  std::chrono::microseconds latency_p50{0};
  std::chrono::microseconds latency_p99{0};
  std::uint64_t transitions = 0;  // since construction
  std::string last_failure;       // message of the latest failed call
};

class HealthObjectStore final : public ForwardingObjectStore {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  using TimeSource = std::function<TimePoint()>;
  // Called after a transition, on the thread whose call caused it, without
  // locks held. Calls from different threads may race; each carries the new
  // state, so the latest call wins.
  using Listener = std::function<void(Health from, Health to, const std::string& reason)>;

  // `now` defaults to steady_clock::now (tests pass a fake clock).
  explicit HealthObjectStore(std::shared_ptr<ObjectStore> inner, HealthOptions options = {},
                             TimeSource now = nullptr);

  Status put(std::string_view key, std::string_view data) override;
  Result<std::string> get(std::string_view key, std::optional<ByteRange> range = std::nullopt) override;
  Result<std::vector<ObjectInfo>> list(std::string_view prefix) override;
  Status remove(std::string_view key) override;

  Health health() const { return health_.load(std::memory_order_relaxed); }
  void set_listener(Listener listener);
  // One PUT of a few bytes at options.probe_key, recorded like any call.
  Status probe();
  // Applies the time-based rules now; returns the resulting state.
  Health refresh();
  HealthSnapshot snapshot() const;

 private:
  struct Sample {
    TimePoint at;
    std::chrono::microseconds latency;
    bool failed;
  };
  template <class R>
  R timed(const std::function<R()>& call);
  void record(TimePoint start, TimePoint end, const Status& st);
  // With mu_ held: drops old samples, applies the rules; returns the reason
  // when the state changed (empty otherwise).
  std::string evaluate_locked(TimePoint now, Health& from, Health& to);
  void notify(Health from, Health to, const std::string& reason);

  const HealthOptions opts_;
  const TimeSource now_;
  std::atomic<Health> health_{Health::healthy};

  mutable std::mutex mu_;
  std::deque<Sample> window_;  // oldest first; at most opts_.max_samples
  std::size_t failures_ = 0;   // in window_
  std::size_t slow_ = 0;       // in window_
  int consecutive_failures_ = 0;
  int consecutive_successes_ = 0;
  TimePoint state_since_{};
  std::uint64_t transitions_ = 0;
  std::string last_failure_;
  Listener listener_;
};

}  // namespace ks::objstore
