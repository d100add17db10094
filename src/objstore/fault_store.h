// FaultObjectStore: wraps another ObjectStore and injects failures, latency,
// ambiguous outcomes and crashes, for tests of everything built on top.
//
// All knobs are thread-safe and may be changed while calls are in flight.
// Order of checks per call: crashed -> unavailable -> fail_next -> failure
// rate -> latency -> inner call -> (put only) timeout-after-apply. Injected
// failures other than timeout-after-apply are never applied to the inner store.
#pragma once

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <random>
#include <string>

#include "objstore/forwarding_store.h"

namespace ks::objstore {

class FaultObjectStore final : public ForwardingObjectStore {
 public:
  enum class Op : int { put = 0, get, list, remove };

  // What crash() does to puts (see crash()).
  enum class CrashMode {
    // In-flight puts that already reached the inner store complete there;
    // those still waiting in injected latency are dropped.
    none,
    // Every put started but not yet acknowledged vanishes, also one already
    // inside the inner store (it is removed again). Acknowledged puts survive:
    // a backend that honours fsync.
    lose_unsynced,
    // Deliberately broken: like lose_unsynced, and additionally every put
    // acknowledged since this mode was set (or since the last crash) is lost
    // too: ok returned before the data was durable. Tests use it to prove
    // they detect data loss. Lost keys are removed from the inner store, so an
    // overwritten key loses its old content as well.
    ack_before_durable,
  };

  explicit FaultObjectStore(std::shared_ptr<ObjectStore> inner, std::uint64_t seed = 1);

  // (a) The next `count` calls of `op` fail with `code` (not applied).
  void fail_next(Op op, int count, Errc code = Errc::io_error);
  // (b) Each call fails with probability p (not applied). The RNG is seeded, so
  // a single-threaded sequence of calls is reproducible.
  void set_failure_rate(double p, Errc code = Errc::io_error);  // all ops
  void set_failure_rate(Op op, double p, Errc code = Errc::io_error);
  void set_seed(std::uint64_t seed);
  // (c) Added before each call (interrupted by crash()).
  void set_latency(std::chrono::microseconds d);  // all ops
  void set_latency(Op op, std::chrono::microseconds d);
  // (d) Applied but timed out: the put is stored in the inner store, then
  // returns Errc::timeout. For the next `count` puts, or with probability p.
  void timeout_after_apply_next(int count);
  void set_timeout_after_apply_rate(double p);
  // Store down: every call fails with Errc::unavailable (not applied).
  void set_unavailable(bool down);
  // (e) Crash simulation.
  void set_crash_mode(CrashMode mode);
  // Simulates a process crash / power loss now. Blocks until every in-flight
  // put has settled per the crash mode, so the inner store holds exactly the
  // post-crash state when it returns. In-flight and later calls return
  // Errc::cancelled until restart().
  void crash();
  // The "restarted process": calls work again (knobs and counters are kept).
  void restart();
  bool crashed() const;

  // Clears every fault knob (failures, latency, timeouts, unavailable, crash
  // mode); counters and the crashed state are kept.
  void clear_faults();

  // Calls made per op, including failed ones (for tests).
  std::uint64_t calls(Op op) const;
  void reset_counters();
  // Puts started and not yet returned (lets tests wait for a put to be in flight).
  int puts_in_flight() const;

  ObjectStore& inner() { return *inner_; }

  Status put(std::string_view key, std::string_view data) override;
  Result<std::string> get(std::string_view key, std::optional<ByteRange> range = std::nullopt) override;
  Result<std::vector<ObjectInfo>> list(std::string_view prefix) override;
  Status remove(std::string_view key) override;
  std::string describe() const override;  // "fault+<inner>"

  // Bound on keys remembered for ack_before_durable; beyond it the oldest are
  // treated as durable (the mode still loses the most recent writes).
  static constexpr std::size_t kMaxVolatileKeys = 100'000;

 private:
  static constexpr int kOps = 4;
  struct OpKnobs {
    int fail_next = 0;
    Errc fail_next_code = Errc::io_error;
    double fail_rate = 0;
    Errc fail_rate_code = Errc::io_error;
    std::chrono::microseconds latency{0};
    std::uint64_t calls = 0;
  };

  // Counts the call and decides its injected failure (ok = none). Requires mu_.
  Status admit(Op op, std::unique_lock<std::mutex>& lock);
  // Sleeps the op's latency; false if crash() happened meanwhile. Requires mu_.
  bool wait_latency(Op op, std::uint64_t epoch, std::unique_lock<std::mutex>& lock);
  double draw();  // uniform [0,1); requires mu_
  static Status crashed_status();

  mutable std::mutex mu_;
  std::condition_variable cv_;  // crash epoch changes and in-flight puts settling
  std::array<OpKnobs, kOps> ops_;
  std::mt19937_64 rng_;
  int timeout_next_ = 0;
  double timeout_rate_ = 0;
  bool unavailable_ = false;
  CrashMode crash_mode_ = CrashMode::none;
  bool crashed_ = false;
  std::uint64_t epoch_ = 0;  // incremented by crash()
  int puts_in_flight_ = 0;
  std::deque<std::string> volatile_keys_;  // acked but "not durable" (ack_before_durable)
};

}  // namespace ks::objstore
