#include "objstore/health_store.h"

#include <algorithm>
#include <vector>

namespace ks::objstore {

std::string_view health_name(Health h) {
  switch (h) {
    case Health::healthy:
      return "healthy";
    case Health::degraded:
      return "degraded";
    case Health::unavailable:
      return "unavailable";
  }
  return "unknown";
}

namespace {

// Errors that mean the store did not do its job. The others (not_found,
// invalid_argument, corrupt, limit_exceeded...) are answers about the request.
bool is_failure(Errc e) { return e == Errc::unavailable || e == Errc::timeout || e == Errc::io_error; }

std::string ratio_text(std::size_t n, std::size_t of) { return std::to_string(n) + "/" + std::to_string(of); }

}  // namespace

HealthObjectStore::HealthObjectStore(std::shared_ptr<ObjectStore> inner, HealthOptions options,
                                     TimeSource now)
    : ForwardingObjectStore(std::move(inner)),
      opts_(std::move(options)),
      now_(now ? std::move(now) : TimeSource([] { return std::chrono::steady_clock::now(); })) {
  state_since_ = now_();
}

template <class R>
R HealthObjectStore::timed(const std::function<R()>& call) {
  const TimePoint start = now_();
  R r = call();
  Status st;
  if constexpr (std::is_same_v<R, Status>) {
    st = r;
  } else {
    if (!r.ok()) st = r.status();
  }
  record(start, now_(), st);
  return r;
}

Status HealthObjectStore::put(std::string_view key, std::string_view data) {
  return timed<Status>([&] { return inner_->put(key, data); });
}

Result<std::string> HealthObjectStore::get(std::string_view key, std::optional<ByteRange> range) {
  return timed<Result<std::string>>([&] { return inner_->get(key, range); });
}

Result<std::vector<ObjectInfo>> HealthObjectStore::list(std::string_view prefix) {
  return timed<Result<std::vector<ObjectInfo>>>([&] { return inner_->list(prefix); });
}

Status HealthObjectStore::remove(std::string_view key) {
  return timed<Status>([&] { return inner_->remove(key); });
}

Status HealthObjectStore::probe() { return put(opts_.probe_key, "probe"); }

void HealthObjectStore::set_listener(Listener listener) {
  std::lock_guard l(mu_);
  listener_ = std::move(listener);
}

void HealthObjectStore::record(TimePoint start, TimePoint end, const Status& st) {
  const bool failed = !st.ok() && is_failure(st.code());
  const auto latency = std::chrono::duration_cast<std::chrono::microseconds>(end - start);
  Health from{}, to{};
  std::string reason;
  {
    std::lock_guard l(mu_);
    window_.push_back(Sample{end, latency, failed});
    if (failed) ++failures_;
    if (latency > opts_.slow_threshold) ++slow_;
    if (window_.size() > opts_.max_samples) {
      const Sample& old = window_.front();
      if (old.failed) --failures_;
      if (old.latency > opts_.slow_threshold) --slow_;
      window_.pop_front();
    }
    if (failed) {
      ++consecutive_failures_;
      consecutive_successes_ = 0;
      last_failure_ = st.to_string();
    } else {
      ++consecutive_successes_;
      consecutive_failures_ = 0;
    }
    reason = evaluate_locked(end, from, to);
  }
  if (!reason.empty()) notify(from, to, reason);
}

Health HealthObjectStore::refresh() {
  Health from{}, to{};
  std::string reason;
  {
    std::lock_guard l(mu_);
    reason = evaluate_locked(now_(), from, to);
  }
  if (!reason.empty()) notify(from, to, reason);
  return health();
}

std::string HealthObjectStore::evaluate_locked(TimePoint now, Health& from, Health& to) {
  while (!window_.empty() && now - window_.front().at > opts_.window) {
    const Sample& old = window_.front();
    if (old.failed) --failures_;
    if (old.latency > opts_.slow_threshold) --slow_;
    window_.pop_front();
  }
  const std::size_t n = window_.size();
  const double failure_ratio = n == 0 ? 0.0 : static_cast<double>(failures_) / static_cast<double>(n);
  const double slow_ratio = n == 0 ? 0.0 : static_cast<double>(slow_) / static_cast<double>(n);
  const Health cur = health_.load(std::memory_order_relaxed);
  Health next = cur;
  std::string reason;
  if (cur != Health::unavailable && consecutive_failures_ >= opts_.unavailable_after_failures) {
    next = Health::unavailable;
    reason = std::to_string(consecutive_failures_) + " calls failed in a row; last: " + last_failure_;
  } else if (cur == Health::unavailable) {
    if (consecutive_successes_ >= opts_.recover_after_successes) {
      next = Health::degraded;
      reason = std::to_string(consecutive_successes_) + " calls succeeded in a row";
    }
  } else if (cur == Health::healthy) {
    if (n >= opts_.min_samples && failure_ratio >= opts_.degraded_failure_ratio) {
      next = Health::degraded;
      reason = ratio_text(failures_, n) + " recent calls failed; last: " + last_failure_;
    } else if (n >= opts_.min_samples && slow_ratio >= opts_.degraded_slow_ratio) {
      next = Health::degraded;
      reason = ratio_text(slow_, n) + " recent calls took longer than " +
               std::to_string(opts_.slow_threshold.count()) + " ms";
    }
  } else {  // degraded
    if (now - state_since_ >= opts_.min_dwell && failure_ratio <= opts_.healthy_failure_ratio &&
        slow_ratio <= opts_.healthy_slow_ratio) {
      next = Health::healthy;
      reason = n == 0 ? std::string("no failed or slow calls recently")
                      : ratio_text(failures_, n) + " recent calls failed, " + ratio_text(slow_, n) + " slow";
    }
  }
  if (next == cur) return {};
  health_.store(next, std::memory_order_relaxed);
  state_since_ = now;
  ++transitions_;
  from = cur;
  to = next;
  return reason;
}

void HealthObjectStore::notify(Health from, Health to, const std::string& reason) {
  Listener l;
  {
    std::lock_guard g(mu_);
    l = listener_;
  }
  if (l) l(from, to, reason);
}

HealthSnapshot HealthObjectStore::snapshot() const {
  HealthSnapshot s;
  std::vector<std::chrono::microseconds> lat;
  {
    std::lock_guard l(mu_);
    s.health = health();
    s.samples = window_.size();
    s.failures = failures_;
    s.slow = slow_;
    s.consecutive_failures = consecutive_failures_;
    s.consecutive_successes = consecutive_successes_;
    s.transitions = transitions_;
    s.last_failure = last_failure_;
    lat.reserve(window_.size());
    for (const Sample& x : window_) lat.push_back(x.latency);
  }
  if (!lat.empty()) {
    auto at = [&](double q) {
      std::size_t i = std::min(lat.size() - 1, static_cast<std::size_t>(q * static_cast<double>(lat.size())));
      std::nth_element(lat.begin(), lat.begin() + static_cast<std::ptrdiff_t>(i), lat.end());
      return lat[i];
    };
    s.latency_p50 = at(0.50);
    s.latency_p99 = at(0.99);
  }
  return s;
}

}  // namespace ks::objstore
