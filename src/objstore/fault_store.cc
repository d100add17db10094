#include "objstore/fault_store.h"

#include <cassert>
#include <utility>

namespace ks::objstore {

namespace {

constexpr std::size_t idx(FaultObjectStore::Op op) { return static_cast<std::size_t>(op); }

}  // namespace

FaultObjectStore::FaultObjectStore(std::shared_ptr<ObjectStore> inner, std::uint64_t seed)
    : ForwardingObjectStore(std::move(inner)), rng_(seed) {
  assert(inner_ != nullptr);
}

void FaultObjectStore::fail_next(Op op, int count, Errc code) {
  assert(code != Errc::ok && count >= 0);
  std::lock_guard<std::mutex> lock(mu_);
  ops_[idx(op)].fail_next = count;
  ops_[idx(op)].fail_next_code = code;
}

void FaultObjectStore::set_failure_rate(double p, Errc code) {
  for (Op op : {Op::put, Op::get, Op::list, Op::remove}) set_failure_rate(op, p, code);
}

void FaultObjectStore::set_failure_rate(Op op, double p, Errc code) {
  assert(code != Errc::ok && p >= 0 && p <= 1);
  std::lock_guard<std::mutex> lock(mu_);
  ops_[idx(op)].fail_rate = p;
  ops_[idx(op)].fail_rate_code = code;
}

void FaultObjectStore::set_seed(std::uint64_t seed) {
  std::lock_guard<std::mutex> lock(mu_);
  rng_.seed(seed);
}

void FaultObjectStore::set_latency(std::chrono::microseconds d) {
  for (Op op : {Op::put, Op::get, Op::list, Op::remove}) set_latency(op, d);
}

void FaultObjectStore::set_latency(Op op, std::chrono::microseconds d) {
  std::lock_guard<std::mutex> lock(mu_);
  ops_[idx(op)].latency = d;
}

void FaultObjectStore::timeout_after_apply_next(int count) {
  assert(count >= 0);
  std::lock_guard<std::mutex> lock(mu_);
  timeout_next_ = count;
}

void FaultObjectStore::set_timeout_after_apply_rate(double p) {
  assert(p >= 0 && p <= 1);
  std::lock_guard<std::mutex> lock(mu_);
  timeout_rate_ = p;
}

void FaultObjectStore::set_unavailable(bool down) {
  std::lock_guard<std::mutex> lock(mu_);
  unavailable_ = down;
}

void FaultObjectStore::set_crash_mode(CrashMode mode) {
  std::lock_guard<std::mutex> lock(mu_);
  crash_mode_ = mode;
  volatile_keys_.clear();  // whatever was written before counts as durable
}

void FaultObjectStore::crash() {
  std::unique_lock<std::mutex> lock(mu_);
  crashed_ = true;
  ++epoch_;
  cv_.notify_all();  // wake calls sleeping in injected latency
  cv_.wait(lock, [&] { return puts_in_flight_ == 0; });
  if (crash_mode_ != CrashMode::ack_before_durable) return;
  std::deque<std::string> lost = std::move(volatile_keys_);
  volatile_keys_.clear();
  lock.unlock();
  // Best effort: the inner store is a healthy backend in these tests.
  for (const std::string& key : lost) (void)inner_->remove(key);
}

void FaultObjectStore::restart() {
  std::lock_guard<std::mutex> lock(mu_);
  crashed_ = false;
}

bool FaultObjectStore::crashed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return crashed_;
}

void FaultObjectStore::clear_faults() {
  std::lock_guard<std::mutex> lock(mu_);
  for (OpKnobs& k : ops_) {
    std::uint64_t calls = k.calls;
    k = OpKnobs{};
    k.calls = calls;
  }
  timeout_next_ = 0;
  timeout_rate_ = 0;
  unavailable_ = false;
  crash_mode_ = CrashMode::none;
  volatile_keys_.clear();
}

std::uint64_t FaultObjectStore::calls(Op op) const {
  std::lock_guard<std::mutex> lock(mu_);
  return ops_[idx(op)].calls;
}

void FaultObjectStore::reset_counters() {
  std::lock_guard<std::mutex> lock(mu_);
  for (OpKnobs& k : ops_) k.calls = 0;
}

int FaultObjectStore::puts_in_flight() const {
  std::lock_guard<std::mutex> lock(mu_);
  return puts_in_flight_;
}

std::string FaultObjectStore::describe() const { return "fault+" + inner_->describe(); }

Status FaultObjectStore::crashed_status() { return Status(Errc::cancelled, "injected crash"); }

double FaultObjectStore::draw() {
  // 53 random bits -> [0,1); independent of the standard library's distributions.
  return static_cast<double>(rng_() >> 11) * 0x1.0p-53;
}

Status FaultObjectStore::admit(Op op, std::unique_lock<std::mutex>& lock) {
  assert(lock.owns_lock());
  OpKnobs& k = ops_[idx(op)];
  ++k.calls;
  if (crashed_) return crashed_status();
  if (unavailable_) return Status(Errc::unavailable, "injected: store unavailable");
  if (k.fail_next > 0) {
    --k.fail_next;
    return Status(k.fail_next_code, "injected failure (fail_next)");
  }
  if (k.fail_rate > 0 && draw() < k.fail_rate) return Status(k.fail_rate_code, "injected failure (rate)");
  return {};
}

bool FaultObjectStore::wait_latency(Op op, std::uint64_t epoch, std::unique_lock<std::mutex>& lock) {
  std::chrono::microseconds latency = ops_[idx(op)].latency;
  if (latency.count() > 0) {
    auto deadline = std::chrono::steady_clock::now() + latency;
    cv_.wait_until(lock, deadline, [&] { return epoch_ != epoch; });
  }
  return epoch_ == epoch;
}

Status FaultObjectStore::put(std::string_view key, std::string_view data) {
  std::unique_lock<std::mutex> lock(mu_);
  Status injected = admit(Op::put, lock);
  if (crashed_) return injected;
  bool timeout_after_apply = false;
  if (injected.ok()) {
    if (timeout_next_ > 0) {
      --timeout_next_;
      timeout_after_apply = true;
    } else if (timeout_rate_ > 0 && draw() < timeout_rate_) {
      timeout_after_apply = true;
    }
  }
  const std::uint64_t epoch = epoch_;
  ++puts_in_flight_;
  auto settle = [&](Status st) {
    --puts_in_flight_;
    cv_.notify_all();
    return st;
  };
  if (!wait_latency(Op::put, epoch, lock)) return settle(crashed_status());
  if (!injected.ok()) return settle(std::move(injected));

  lock.unlock();
  Status st = inner_->put(key, data);
  lock.lock();
  if (epoch_ != epoch) {
    // Crashed before this put was acknowledged.
    if (crash_mode_ != CrashMode::none) {
      lock.unlock();
      (void)inner_->remove(key);
      lock.lock();
    }
    return settle(crashed_status());
  }
  // This is the acknowledgement point: a crash() from now on keeps the put
  // (unless the mode is ack_before_durable).
  if (st.ok() && crash_mode_ == CrashMode::ack_before_durable) {
    if (volatile_keys_.size() >= kMaxVolatileKeys) volatile_keys_.pop_front();
    volatile_keys_.emplace_back(key);
  }
  if (st.ok() && timeout_after_apply)
    st = Status(Errc::timeout, "injected timeout after the put was applied");
  return settle(std::move(st));
}

Result<std::string> FaultObjectStore::get(std::string_view key, std::optional<ByteRange> range) {
  std::unique_lock<std::mutex> lock(mu_);
  Status injected = admit(Op::get, lock);
  if (crashed_) return injected;
  if (!wait_latency(Op::get, epoch_, lock)) return crashed_status();
  if (!injected.ok()) return injected;
  lock.unlock();
  return inner_->get(key, range);
}

Result<std::vector<ObjectInfo>> FaultObjectStore::list(std::string_view prefix) {
  std::unique_lock<std::mutex> lock(mu_);
  Status injected = admit(Op::list, lock);
  if (crashed_) return injected;
  if (!wait_latency(Op::list, epoch_, lock)) return crashed_status();
  if (!injected.ok()) return injected;
  lock.unlock();
  return inner_->list(prefix);
}

Status FaultObjectStore::remove(std::string_view key) {
  std::unique_lock<std::mutex> lock(mu_);
  Status injected = admit(Op::remove, lock);
  if (crashed_) return injected;
  if (!wait_latency(Op::remove, epoch_, lock)) return crashed_status();
  if (!injected.ok()) return injected;
  lock.unlock();
  return inner_->remove(key);
}

}  // namespace ks::objstore
