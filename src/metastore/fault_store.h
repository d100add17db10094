// FaultMetadataStore: wraps a MetadataStore and injects failures, for tests of
// the code above it (retries, fencing, unknown outcomes, re-watching).
//
// Faults are checked in this order when a call starts: unavailable, fail_next,
// timeout_before_apply_next, the random failure rate, timeout_after_apply_next
// (decided now, applied after the inner call). Then the injected latency is
// waited out, then the inner store is called. Injected failures never reach
// the inner store, except "timeout after apply", which does and then reports
// timeout, like a client deadline that fires after the server committed.
#pragma once

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <random>
#include <string_view>

#include "metastore/forwarding_store.h"

namespace ks::metastore {

enum class StoreMethod : unsigned char {
  range,
  put,
  delete_range,
  txn,
  lease_grant,
  lease_keepalive,
  lease_revoke,
  watch,
  compact,
};
inline constexpr std::size_t kStoreMethodCount = 9;
std::string_view method_name(StoreMethod m);

class FaultMetadataStore final : public ForwardingMetadataStore {
 public:
  explicit FaultMetadataStore(std::shared_ptr<MetadataStore> inner, std::uint64_t seed = 1);
  ~FaultMetadataStore() override;
  FaultMetadataStore(const FaultMetadataStore&) = delete;
  FaultMetadataStore& operator=(const FaultMetadataStore&) = delete;

  // The next `count` calls of `m` fail with `code` without being applied.
  void fail_next(StoreMethod m, int count, Errc code);
  // The next `count` calls of `m` return timeout without being applied.
  void timeout_before_apply_next(StoreMethod m, int count);
  // The next `count` calls of `m` are applied, then return timeout.
  void timeout_after_apply_next(StoreMethod m, int count);
  // Every call fails with `code` with probability `p` (seeded; 0 disables).
  void set_failure_rate(double p, Errc code = Errc::unavailable);
  // Every call waits this long before reaching the inner store.
  void set_latency(std::chrono::milliseconds latency);
  // While true, every call fails with unavailable.
  void set_unavailable(bool unavailable);
  // Simulated backend crash: calls waiting in the injected latency (started,
  // not yet applied, not acknowledged) are dropped and return timeout; they
  // never reach the inner store. Later calls run normally. Returns how many
  // calls were dropped.
  std::size_t crash();
  // Ends every live watch with `unavailable`, as when the connection to etcd
  // drops; the owner has to reload and watch again.
  void break_watches();
  // Removes every fault (counters are kept).
  void clear_faults();

  std::uint64_t calls(StoreMethod m) const;     // calls started
  std::uint64_t injected(StoreMethod m) const;  // calls that got an injected fault
  const std::shared_ptr<MetadataStore>& inner() const { return inner_; }

  Result<RangeResponse> range(const RangeRequest& req) override;
  Result<std::int64_t> put(const std::string& key, const std::string& value, LeaseId lease = 0) override;
  Result<std::int64_t> delete_range(const std::string& key, const std::string& range_end = {}) override;
  Result<TxnResponse> txn(const TxnRequest& req) override;
  Result<LeaseId> lease_grant(std::int64_t ttl_seconds) override;
  Status lease_keepalive(LeaseId id) override;
  Status lease_revoke(LeaseId id) override;
  Result<std::unique_ptr<Watch>> watch(const std::string& key, const std::string& range_end,
                                       std::int64_t start_revision, WatchCallback cb) override;
  Status compact(std::int64_t revision) override;
  std::string describe() const override;  // "fault(<inner>)"

  struct WatchRegistry;

 private:
  struct PerMethod {
    std::uint64_t calls = 0;
    std::uint64_t injected = 0;
    int fail_count = 0;
    Errc fail_code = Errc::unavailable;
    int timeout_before = 0;
    int timeout_after = 0;
  };

  // Ok(true) = proceed and report timeout afterwards; Ok(false) = proceed.
  Result<bool> before(StoreMethod m);
  template <class R>
  R after(StoreMethod m, bool timeout_after, R result);

  const std::shared_ptr<WatchRegistry> watches_;

  mutable std::mutex mu_;
  std::condition_variable crash_cv_;
  std::array<PerMethod, kStoreMethodCount> methods_;
  std::mt19937_64 rng_;
  double failure_rate_ = 0;
  Errc failure_code_ = Errc::unavailable;
  std::chrono::milliseconds latency_{0};
  bool unavailable_ = false;
  std::uint64_t crash_epoch_ = 0;
  std::size_t waiting_ = 0;  // calls inside the injected latency
};

}  // namespace ks::metastore
