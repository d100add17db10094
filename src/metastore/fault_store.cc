#include "metastore/fault_store.h"

#include <atomic>
#include <map>
#include <utility>
#include <vector>

namespace ks::metastore {

namespace {

struct WatchState {
  std::mutex mu;  // guards inner
  std::unique_ptr<Watch> inner;
  // Set when the wrapper stops forwarding (destroyed or broken).
  std::atomic<bool> dropping{false};
  // Serialises user callbacks; recursive so a callback may destroy its watch.
  std::recursive_mutex cb_mu;
  bool terminated = false;  // a final status was delivered (under cb_mu)
  WatchCallback cb;
};

}  // namespace

struct FaultMetadataStore::WatchRegistry {
  std::mutex mu;
  std::uint64_t next_id = 1;
  std::map<std::uint64_t, std::weak_ptr<WatchState>> live;
};

namespace {

class FaultWatch final : public Watch {
 public:
  FaultWatch(std::shared_ptr<FaultMetadataStore::WatchRegistry> reg, std::uint64_t id,
             std::shared_ptr<WatchState> st)
      : reg_(std::move(reg)), id_(id), st_(std::move(st)) {}

  ~FaultWatch() override {
    st_->dropping = true;
    std::unique_ptr<Watch> inner;
    {
      std::lock_guard l(st_->mu);
      inner = std::move(st_->inner);
    }
    inner.reset();                      // no inner callback runs after this
    { std::lock_guard g(st_->cb_mu); }  // nor a break_watches() delivery
    std::lock_guard l(reg_->mu);
    reg_->live.erase(id_);
  }

 private:
  std::shared_ptr<FaultMetadataStore::WatchRegistry> reg_;
  std::uint64_t id_;
  std::shared_ptr<WatchState> st_;
};

}  // namespace

std::string_view method_name(StoreMethod m) {
  switch (m) {
    case StoreMethod::range:
      return "range";
    case StoreMethod::put:
      return "put";
    case StoreMethod::delete_range:
      return "delete_range";
    case StoreMethod::txn:
      return "txn";
    case StoreMethod::lease_grant:
      return "lease_grant";
    case StoreMethod::lease_keepalive:
      return "lease_keepalive";
    case StoreMethod::lease_revoke:
      return "lease_revoke";
    case StoreMethod::watch:
      return "watch";
    case StoreMethod::compact:
      return "compact";
  }
  return "unknown";
}

FaultMetadataStore::FaultMetadataStore(std::shared_ptr<MetadataStore> inner, std::uint64_t seed)
    : ForwardingMetadataStore(std::move(inner)), watches_(std::make_shared<WatchRegistry>()), rng_(seed) {}

FaultMetadataStore::~FaultMetadataStore() = default;

void FaultMetadataStore::fail_next(StoreMethod m, int count, Errc code) {
  std::lock_guard l(mu_);
  auto& pm = methods_[static_cast<std::size_t>(m)];
  pm.fail_count = count;
  pm.fail_code = code;
}

void FaultMetadataStore::timeout_before_apply_next(StoreMethod m, int count) {
  std::lock_guard l(mu_);
  methods_[static_cast<std::size_t>(m)].timeout_before = count;
}

void FaultMetadataStore::timeout_after_apply_next(StoreMethod m, int count) {
  std::lock_guard l(mu_);
  methods_[static_cast<std::size_t>(m)].timeout_after = count;
}

void FaultMetadataStore::set_failure_rate(double p, Errc code) {
  std::lock_guard l(mu_);
  failure_rate_ = p;
  failure_code_ = code;
}

void FaultMetadataStore::set_latency(std::chrono::milliseconds latency) {
  std::lock_guard l(mu_);
  latency_ = latency;
}

void FaultMetadataStore::set_unavailable(bool unavailable) {
  std::lock_guard l(mu_);
  unavailable_ = unavailable;
}

std::size_t FaultMetadataStore::crash() {
  std::size_t dropped;
  {
    std::lock_guard l(mu_);
    ++crash_epoch_;
    dropped = waiting_;
  }
  crash_cv_.notify_all();
  return dropped;
}

void FaultMetadataStore::clear_faults() {
  std::lock_guard l(mu_);
  for (auto& pm : methods_) {
    pm.fail_count = 0;
    pm.timeout_before = 0;
    pm.timeout_after = 0;
  }
  failure_rate_ = 0;
  latency_ = std::chrono::milliseconds(0);
  unavailable_ = false;
}

void FaultMetadataStore::break_watches() {
  std::vector<std::shared_ptr<WatchState>> states;
  {
    std::lock_guard l(watches_->mu);
    for (auto& [id, weak] : watches_->live) {
      if (auto st = weak.lock()) states.push_back(std::move(st));
    }
  }
  for (auto& st : states) {
    st->dropping = true;
    std::unique_ptr<Watch> inner;
    {
      std::lock_guard l(st->mu);
      inner = std::move(st->inner);
    }
    if (!inner) continue;  // already broken or being destroyed
    inner.reset();
    std::lock_guard g(st->cb_mu);
    if (st->terminated) continue;
    st->terminated = true;
    st->cb({}, Status(Errc::unavailable, "injected: watch stream broken"));
  }
}

std::uint64_t FaultMetadataStore::calls(StoreMethod m) const {
  std::lock_guard l(mu_);
  return methods_[static_cast<std::size_t>(m)].calls;
}

std::uint64_t FaultMetadataStore::injected(StoreMethod m) const {
  std::lock_guard l(mu_);
  return methods_[static_cast<std::size_t>(m)].injected;
}

Result<bool> FaultMetadataStore::before(StoreMethod m) {
  std::unique_lock l(mu_);
  auto& pm = methods_[static_cast<std::size_t>(m)];
  ++pm.calls;
  const std::string what = "injected: " + std::string(method_name(m));
  if (unavailable_) {
    ++pm.injected;
    return Status(Errc::unavailable, what + ": store unavailable");
  }
  if (pm.fail_count > 0) {
    --pm.fail_count;
    ++pm.injected;
    return Status(pm.fail_code, what + ": failure");
  }
  if (pm.timeout_before > 0) {
    --pm.timeout_before;
    ++pm.injected;
    return Status(Errc::timeout, what + ": timed out before apply");
  }
  if (failure_rate_ > 0 && std::uniform_real_distribution<double>(0, 1)(rng_) < failure_rate_) {
    ++pm.injected;
    return Status(failure_code_, what + ": random failure");
  }
  bool timeout_after = false;
  if (pm.timeout_after > 0) {
    --pm.timeout_after;
    ++pm.injected;
    timeout_after = true;
  }
  if (latency_.count() > 0) {
    const std::uint64_t epoch = crash_epoch_;
    ++waiting_;
    bool crashed = crash_cv_.wait_for(l, latency_, [&] { return crash_epoch_ != epoch; });
    --waiting_;
    if (crashed) {
      ++pm.injected;
      return Status(Errc::timeout, what + ": backend crashed before acknowledging");
    }
  }
  return timeout_after;
}

template <class R>
R FaultMetadataStore::after(StoreMethod m, bool timeout_after, R result) {
  if (!timeout_after) return result;
  return R(Status(Errc::timeout, "injected: " + std::string(method_name(m)) + ": timed out after apply"));
}

Result<RangeResponse> FaultMetadataStore::range(const RangeRequest& req) {
  auto b = before(StoreMethod::range);
  if (!b.ok()) return b.status();
  return after(StoreMethod::range, *b, inner_->range(req));
}

Result<std::int64_t> FaultMetadataStore::put(const std::string& key, const std::string& value,
                                             LeaseId lease) {
  auto b = before(StoreMethod::put);
  if (!b.ok()) return b.status();
  return after(StoreMethod::put, *b, inner_->put(key, value, lease));
}

Result<std::int64_t> FaultMetadataStore::delete_range(const std::string& key, const std::string& range_end) {
  auto b = before(StoreMethod::delete_range);
  if (!b.ok()) return b.status();
  return after(StoreMethod::delete_range, *b, inner_->delete_range(key, range_end));
}

Result<TxnResponse> FaultMetadataStore::txn(const TxnRequest& req) {
  auto b = before(StoreMethod::txn);
  if (!b.ok()) return b.status();
  return after(StoreMethod::txn, *b, inner_->txn(req));
}

Result<LeaseId> FaultMetadataStore::lease_grant(std::int64_t ttl_seconds) {
  auto b = before(StoreMethod::lease_grant);
  if (!b.ok()) return b.status();
  return after(StoreMethod::lease_grant, *b, inner_->lease_grant(ttl_seconds));
}

Status FaultMetadataStore::lease_keepalive(LeaseId id) {
  auto b = before(StoreMethod::lease_keepalive);
  if (!b.ok()) return b.status();
  Status s = inner_->lease_keepalive(id);
  if (*b) return Status(Errc::timeout, "injected: lease_keepalive: timed out after apply");
  return s;
}

Status FaultMetadataStore::lease_revoke(LeaseId id) {
  auto b = before(StoreMethod::lease_revoke);
  if (!b.ok()) return b.status();
  Status s = inner_->lease_revoke(id);
  if (*b) return Status(Errc::timeout, "injected: lease_revoke: timed out after apply");
  return s;
}

Status FaultMetadataStore::compact(std::int64_t revision) {
  auto b = before(StoreMethod::compact);
  if (!b.ok()) return b.status();
  Status s = inner_->compact(revision);
  if (*b) return Status(Errc::timeout, "injected: compact: timed out after apply");
  return s;
}

Result<std::unique_ptr<Watch>> FaultMetadataStore::watch(const std::string& key, const std::string& range_end,
                                                         std::int64_t start_revision, WatchCallback cb) {
  auto b = before(StoreMethod::watch);
  if (!b.ok()) return b.status();
  auto st = std::make_shared<WatchState>();
  st->cb = std::move(cb);
  // The inner watch is destroyed before `st`, so a raw pointer is safe.
  WatchState* raw = st.get();
  auto inner = inner_->watch(key, range_end, start_revision,
                             [raw](const std::vector<WatchEvent>& events, const Status& status) {
                               std::lock_guard g(raw->cb_mu);
                               if (raw->dropping || raw->terminated) return;
                               if (!status.ok()) raw->terminated = true;
                               raw->cb(events, status);
                             });
  if (!inner.ok()) return inner.status();
  {
    std::lock_guard l(st->mu);
    st->inner = std::move(inner).value();
  }
  std::uint64_t id;
  {
    std::lock_guard l(watches_->mu);
    id = watches_->next_id++;
    watches_->live[id] = st;
  }
  std::unique_ptr<Watch> w(new FaultWatch(watches_, id, std::move(st)));
  if (*b) return Status(Errc::timeout, "injected: watch: timed out after apply");  // w cancels it
  return w;
}

std::string FaultMetadataStore::describe() const { return "fault(" + inner_->describe() + ")"; }

}  // namespace ks::metastore
