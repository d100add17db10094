#include "broker/backend_monitor.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <mutex>

#include "broker/nospace_store.h"
#include "cluster/keys.h"
#include "common/metrics.h"
#include "metastore/etcd_store.h"

namespace ks::broker {

struct BackendMonitor::State {
  std::atomic<bool> stopping{false};
  std::atomic<bool> started{false};
  std::atomic<std::int64_t> db_size{-1};  // -1: not known (yet, or not etcd)
  std::atomic<std::int64_t> db_size_in_use{-1};
  std::atomic<bool> nospace_alarm{false};
  // Metadata store reachability: written by metadata_loop, read by /readyz and /metrics.
  std::atomic<bool> meta_unreachable{false};
  std::atomic<std::int64_t> meta_probe_started_ms{0};  // steady clock; 0: no probe in flight
  std::mutex meta_mu;
  std::string meta_last_error;  // guarded by meta_mu
};

namespace {

constexpr const char* kHealthGauge = "kafscale_objstore_health_state";
constexpr const char* kWindowCalls = "kafscale_objstore_window_calls";
constexpr const char* kWindowFailures = "kafscale_objstore_window_failures";
constexpr const char* kLatencyP50 = "kafscale_objstore_latency_p50_seconds";
constexpr const char* kLatencyP99 = "kafscale_objstore_latency_p99_seconds";
constexpr const char* kDbSize = "kafscale_metastore_db_size_bytes";
constexpr const char* kDbInUse = "kafscale_metastore_db_size_in_use_bytes";
constexpr const char* kNospace = "kafscale_metastore_nospace_alarm";
constexpr const char* kReachable = "kafscale_metastore_reachable";

std::int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch()).count();
}

void log_transition(const std::string& store, objstore::Health from, objstore::Health to,
                    const std::string& why) {
  using objstore::Health;
  if (to == Health::unavailable) {
    spdlog::error(
        "object store {} is unavailable ({}); produce is refused with a retriable error "
        "(NOT_ENOUGH_REPLICAS) until it recovers; fetches of cached data continue",
        store, why);
  } else if (to == Health::degraded) {
    spdlog::warn("object store {}: {} -> degraded ({})", store, objstore::health_name(from), why);
  } else {
    spdlog::info("object store {}: {} -> healthy ({})", store, objstore::health_name(from), why);
  }
}

}  // namespace

BackendMonitor::BackendMonitor(asio::io_context& io, asio::thread_pool& pool,
                               std::shared_ptr<objstore::ObjectStore> objects,
                               std::shared_ptr<metastore::MetadataStore> metadata, MonitorOptions options)
    : io_(io), pool_(pool), opts_(std::move(options)), state_(std::make_shared<State>()) {
  etcd_ = std::dynamic_pointer_cast<metastore::EtcdMetadataStore>(metadata);
  const std::string name = objects->describe();
  health_ = std::make_shared<objstore::HealthObjectStore>(std::move(objects), opts_.health);
  health_->set_listener([name](objstore::Health from, objstore::Health to, const std::string& why) {
    log_transition(name, from, to, why);
  });
  metadata_ = log_nospace(std::move(metadata));

  // Callbacks hold shared pointers, never `this`: they may outlive the monitor.
  auto& reg = metrics::registry();
  std::weak_ptr<objstore::HealthObjectStore> h = health_;
  reg.gauge_fn(kHealthGauge, "Object store health: 0 healthy, 1 degraded, 2 unavailable", {}, [h] {
    auto s = h.lock();
    return s ? static_cast<double>(s->health()) : 0.0;
  });
  reg.gauge_fn(kWindowCalls, "Object store calls in the health window", {}, [h] {
    auto s = h.lock();
    return s ? static_cast<double>(s->snapshot().samples) : 0.0;
  });
  reg.gauge_fn(kWindowFailures, "Failed object store calls in the health window", {}, [h] {
    auto s = h.lock();
    return s ? static_cast<double>(s->snapshot().failures) : 0.0;
  });
  reg.gauge_fn(kLatencyP50, "Median object store call latency in the health window", {}, [h] {
    auto s = h.lock();
    return s ? static_cast<double>(s->snapshot().latency_p50.count()) / 1e6 : 0.0;
  });
  reg.gauge_fn(kLatencyP99, "99th percentile object store call latency in the health window", {}, [h] {
    auto s = h.lock();
    return s ? static_cast<double>(s->snapshot().latency_p99.count()) / 1e6 : 0.0;
  });
  {
    std::weak_ptr<State> st = state_;
    reg.gauge_fn(kReachable, "1 while the metadata store answers (see /readyz), 0 while unreachable", {},
                 [st] {
                   auto s = st.lock();
                   return s && s->meta_unreachable.load() ? 0.0 : 1.0;
                 });
  }
  if (etcd_) {
    std::weak_ptr<State> st = state_;
    reg.gauge_fn(kDbSize, "Size of etcd's database file (what --quota-backend-bytes limits); -1 unknown", {},
                 [st] {
                   auto s = st.lock();
                   return s ? static_cast<double>(s->db_size.load()) : -1.0;
                 });
    reg.gauge_fn(kDbInUse, "Bytes of etcd's database in use (the rest is reclaimed by defrag); -1 unknown",
                 {}, [st] {
                   auto s = st.lock();
                   return s ? static_cast<double>(s->db_size_in_use.load()) : -1.0;
                 });
    reg.gauge_fn(kNospace, "1 while etcd has a NOSPACE alarm raised (writes refused)", {}, [st] {
      auto s = st.lock();
      return s && s->nospace_alarm.load() ? 1.0 : 0.0;
    });
  }
}

BackendMonitor::~BackendMonitor() {
  state_->stopping = true;
  health_->set_listener(nullptr);
}

bool BackendMonitor::metadata_reachable() const {
  if (state_->meta_unreachable) return false;
  const std::int64_t started = state_->meta_probe_started_ms;
  return started == 0 || steady_ms() - started <= opts_.meta_stall.count();
}

std::string BackendMonitor::not_ready_reason() const {
  std::string reason;
  if (health_->health() == objstore::Health::unavailable) {
    reason = "object store unavailable: " + health_->snapshot().last_failure;
  }
  if (!metadata_reachable()) {
    std::string why;
    const std::int64_t started = state_->meta_probe_started_ms;
    if (started != 0 && steady_ms() - started > opts_.meta_stall.count()) {
      why = fmt::format("no answer for {} ms", steady_ms() - started);
    } else {
      std::lock_guard l(state_->meta_mu);
      why = state_->meta_last_error;
    }
    if (!reason.empty()) reason += "; ";
    reason += "metadata store unreachable: " + why;
  }
  return reason;
}

void BackendMonitor::stop() { state_->stopping = true; }

void BackendMonitor::start() {
  if (state_->started.exchange(true)) return;
  asio::co_spawn(io_, health_loop(), asio::detached);
  if (etcd_) asio::co_spawn(io_, etcd_loop(), asio::detached);
  asio::co_spawn(io_, metadata_loop(), asio::detached);
}

// The loops keep their shared pointers in locals for the whole coroutine and
// hand the pool only raw pointers: g++ 12 can destroy a lambda temporary in a
// co_await expression twice, which with a shared_ptr capture released the
// store early (a crash, reproduced by backend_monitor_test).
namespace {

bool probe_once(objstore::HealthObjectStore* h) { return h->probe().ok(); }

// One maintenance-status poll, entirely off the loop thread.
bool poll_etcd(metastore::EtcdMetadataStore* etcd, BackendMonitor::State* st);

// The cheapest read there is: the count of one key.
Status probe_metadata(metastore::MetadataStore* m) {
  metastore::RangeRequest rq;
  rq.key = cluster::keys::cluster();
  rq.count_only = true;
  auto r = m->range(rq);
  return r.ok() ? Status{} : r.status();
}

}  // namespace

awaitable<void> BackendMonitor::health_loop() {
  std::shared_ptr<State> st = state_;
  std::shared_ptr<objstore::HealthObjectStore> h = health_;
  objstore::HealthObjectStore* raw = h.get();
  while (!st->stopping) {
    asio::steady_timer t(io_, opts_.tick);
    boost::system::error_code ec;
    co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (st->stopping) break;
    // While not healthy, nothing else may call the store (produce is refused): probe it.
    if (raw->refresh() != objstore::Health::healthy) {
      co_await offload(pool_, [raw] { return probe_once(raw); });
    }
  }
}

awaitable<void> BackendMonitor::etcd_loop() {
  std::shared_ptr<State> st = state_;
  std::shared_ptr<metastore::EtcdMetadataStore> etcd = etcd_;
  metastore::EtcdMetadataStore* raw_etcd = etcd.get();
  State* raw_st = st.get();
  bool first = true;
  while (!st->stopping) {
    if (!first) {
      asio::steady_timer t(io_, opts_.etcd_status_every);
      boost::system::error_code ec;
      co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      if (st->stopping) break;
    }
    first = false;
    co_await offload(pool_, [raw_etcd, raw_st] { return poll_etcd(raw_etcd, raw_st); });
  }
}

awaitable<void> BackendMonitor::metadata_loop() {
  std::shared_ptr<State> st = state_;
  std::shared_ptr<metastore::MetadataStore> meta = metadata_;
  metastore::MetadataStore* raw = meta.get();
  int failures = 0, successes = 0;
  while (!st->stopping) {
    asio::steady_timer t(io_, opts_.tick);
    boost::system::error_code ec;
    co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (st->stopping) break;
    const std::int64_t started = steady_ms();
    st->meta_probe_started_ms = started;
    Status result = co_await offload(pool_, [raw] { return probe_metadata(raw); });
    const std::int64_t took = steady_ms() - started;
    st->meta_probe_started_ms = 0;
    if (result.ok() && took <= opts_.meta_stall.count()) {
      failures = 0;
      if (st->meta_unreachable && ++successes >= opts_.meta_successes_to_ready) {
        st->meta_unreachable = false;
        spdlog::info("metadata store is reachable again");
      }
      continue;
    }
    successes = 0;
    std::string why = result.ok() ? fmt::format("a read took {} ms", took) : result.to_string();
    {
      std::lock_guard l(st->meta_mu);
      st->meta_last_error = why;
    }
    // A hung call is decisive at once; failed calls count up (a single blip is not an outage).
    if (!st->meta_unreachable &&
        (++failures >= opts_.meta_failures_to_unready || took > opts_.meta_stall.count())) {
      st->meta_unreachable = true;
      spdlog::error("metadata store is unreachable ({}); /readyz reports not ready until it answers again",
                    why);
    }
  }
}

namespace {

bool poll_etcd(metastore::EtcdMetadataStore* etcd, BackendMonitor::State* st) {
  auto r = etcd->status();
  if (!r.ok()) {
    spdlog::debug("etcd maintenance status: {}", r.status().to_string());
    return false;
  }
  st->db_size = r->db_size;
  st->db_size_in_use = r->db_size_in_use > 0 ? r->db_size_in_use : -1;
  const bool was = st->nospace_alarm.exchange(r->nospace_alarm);
  if (r->nospace_alarm && !was) spdlog::error("{}", nospace_advice(r->db_size));
  if (!r->nospace_alarm && was) spdlog::info("etcd's NOSPACE alarm is cleared");
  return true;
}

}  // namespace

}  // namespace ks::broker
