#include "cluster/key_watch.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <optional>
#include <utility>
#include <vector>

#include "common/assert.h"
#include "common/metrics.h"
#include "common/task.h"

namespace ks::cluster {

using namespace std::chrono_literals;

namespace {

// Pause before re-creating a watch that failed for another reason than a compaction.
constexpr auto kRetryDelay = 200ms;

constexpr const char* kUpGauge = "kafscale_watch_up";
constexpr const char* kDownGauge = "kafscale_watch_down_seconds";

std::int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

// Written on the loop thread, read by the /metrics thread.
struct KeyWatch::Health {
  std::atomic<bool> up{false};
  std::atomic<std::int64_t> down_since_ns{steady_ns()};

  void set_up(bool now_up) {
    if (up.exchange(now_up) && !now_up) down_since_ns = steady_ns();
  }
  double down_seconds() const {
    if (up) return 0.0;
    return static_cast<double>(steady_ns() - down_since_ns.load()) / 1e9;
  }
};

// Loop-thread state, shared with the watch callbacks through a weak_ptr so a
// callback posted after the KeyWatch died touches nothing.
struct KeyWatch::Shared {
  std::map<std::string, metastore::KeyValue> kvs;
  std::int64_t revision = 0;
  std::uint64_t generation = 0;  // of the live watch; older callbacks are ignored
  std::optional<Status> broken;  // the live watch ended with this
  std::uint64_t reloads = 0;
  std::function<void()> on_change;
  Notifier changed;
  Notifier wake;  // the loop: the watch broke or stop was asked

  void apply(std::uint64_t gen, const std::vector<metastore::WatchEvent>& events, const Status& status) {
    if (gen != generation) return;
    bool any = false;
    for (const auto& e : events) {
      if (e.kv.mod_revision <= revision) continue;
      if (e.type == metastore::WatchEvent::Type::put) {
        kvs[e.kv.key] = e.kv;
      } else {
        kvs.erase(e.kv.key);
      }
      any = true;
    }
    for (const auto& e : events) revision = std::max(revision, e.kv.mod_revision);
    if (!status.ok() && !broken) {
      broken = status;
      wake.notify_all();
    }
    if (any) fire();
  }

  void fire() {
    if (on_change) on_change();
    changed.notify_all();
  }
};

namespace {

metastore::WatchCallback make_callback(asio::io_context& io, std::weak_ptr<KeyWatch::Shared> weak,
                                       std::uint64_t gen) {
  auto ex = io.get_executor();
  return
      [ex, weak = std::move(weak), gen](const std::vector<metastore::WatchEvent>& events, const Status& st) {
        asio::post(ex, [weak, gen, events, st] {
          if (auto s = weak.lock()) s->apply(gen, events, st);
        });
      };
}

// Plain functions (not coroutines) returning the pool's awaitables: no
// lambda is written inside a co_await expression.
awaitable<Result<std::unique_ptr<metastore::Watch>>> open_watch(metastore::AsyncMetadataStore& meta,
                                                                std::string key, std::string end,
                                                                std::int64_t start,
                                                                metastore::WatchCallback cb) {
  return offload(meta.pool(),
                 [m = meta.store(), key = std::move(key), end = std::move(end), start,
                  cb = std::move(cb)]() mutable { return m->watch(key, end, start, std::move(cb)); });
}

// Cancelling a watch may wait for a delivery in progress: done on the pool.
awaitable<int> close_watch(asio::thread_pool& pool, std::unique_ptr<metastore::Watch> w) {
  return offload(pool, [w = std::move(w)]() mutable {
    w.reset();
    return 0;
  });
}

}  // namespace

KeyWatch::KeyWatch(asio::io_context& io, metastore::AsyncMetadataStore meta, std::string key,
                   std::string range_end, std::string what)
    : io_(io),
      meta_(std::move(meta)),
      key_(std::move(key)),
      range_end_(std::move(range_end)),
      what_(std::move(what)),
      task_name_("watch " + what_),
      s_(std::make_shared<Shared>()),
      health_(std::make_shared<Health>()) {}

KeyWatch::~KeyWatch() {
  if (!started_) return;
  metrics::registry().remove_gauge_fn(kUpGauge, {{"watch", what_}});
  metrics::registry().remove_gauge_fn(kDownGauge, {{"watch", what_}});
}

void KeyWatch::on_change(std::function<void()> cb) { s_->on_change = std::move(cb); }

const std::map<std::string, metastore::KeyValue>& KeyWatch::kvs() const { return s_->kvs; }

const metastore::KeyValue* KeyWatch::find(const std::string& key) const {
  auto it = s_->kvs.find(key);
  return it == s_->kvs.end() ? nullptr : &it->second;
}

std::int64_t KeyWatch::revision() const { return s_->revision; }
std::uint64_t KeyWatch::reloads() const { return s_->reloads; }
bool KeyWatch::up() const { return health_->up; }
Notifier& KeyWatch::changed() { return s_->changed; }

awaitable<Status> KeyWatch::load() {
  metastore::RangeRequest rq;
  rq.key = key_;
  rq.range_end = range_end_;
  auto r = co_await meta_.range(std::move(rq));
  if (!r.ok()) co_return Status(r.code(), what_ + ": " + r.status().message());
  // The ranges watched here are small (members, one key): one read, no pages.
  auto& s = *s_;
  s.kvs.clear();
  for (auto& kv : r->kvs) {
    std::string k = kv.key;
    s.kvs.emplace(std::move(k), std::move(kv));
  }
  s.revision = r->revision;
  s.fire();
  co_return Status{};
}

awaitable<Status> KeyWatch::reload() {
  Status st = co_await load();
  if (st.ok()) ++s_->reloads;
  co_return st;
}

void KeyWatch::start() {
  KS_ASSERT(!started_, "{}: started twice", what_);
  started_ = true;
  // The callbacks hold the Health, not this: a render racing the destructor reads live memory.
  auto& reg = metrics::registry();
  reg.gauge_fn(kUpGauge, "1 while this metadata watch's stream is open; 0 while it is re-established",
               {{"watch", what_}}, [h = health_] { return h->up ? 1.0 : 0.0; });
  reg.gauge_fn(kDownGauge,
               "Seconds this metadata watch has been without a stream (its mirror, e.g. the ACLs in force, "
               "may be this stale); 0 while up",
               {{"watch", what_}}, [h = health_] { return h->down_seconds(); });
  spawn_critical(io_, task_name_.c_str(), [this] { return loop(); });
}

awaitable<Status> KeyWatch::loop() {
  bool need_reload = false;
  std::unique_ptr<metastore::Watch> watch;
  while (!stopping_) {
    if (need_reload) {
      Status st = co_await reload();
      if (!st.ok()) {
        spdlog::warn("{}: reload failed: {}", what_, st.to_string());
        co_await s_->wake.wait_until(Clock::now() + kRetryDelay);
        continue;
      }
      need_reload = false;
      if (stopping_) break;
    }
    const std::uint64_t gen = ++s_->generation;
    s_->broken.reset();
    auto w = co_await open_watch(meta_, key_, range_end_, s_->revision + 1,
                                 make_callback(io_, std::weak_ptr<Shared>(s_), gen));
    if (!w.ok()) {
      if (w.code() == Errc::compacted) {
        spdlog::info("{}: revision {} compacted, reading the range again", what_, s_->revision + 1);
        need_reload = true;
      } else {
        spdlog::warn("{}: watch failed: {}", what_, w.status().to_string());
        co_await s_->wake.wait_until(Clock::now() + kRetryDelay);
      }
      continue;
    }
    watch = std::move(w).value();
    health_->set_up(true);
    while (!stopping_ && !s_->broken) co_await s_->wake.wait_until(Clock::now() + std::chrono::hours(1));
    std::optional<Status> why = s_->broken;
    health_->set_up(false);
    ++s_->generation;  // late callbacks of this watch are dropped
    co_await close_watch(meta_.pool(), std::move(watch));
    if (!why || stopping_) break;
    if (why->code() == Errc::compacted) {
      spdlog::info("{}: history compacted, reading the range again", what_);
      need_reload = true;
    } else if (why->code() != Errc::cancelled) {
      spdlog::warn("{}: watch ended: {}; resuming from revision {}", what_, why->to_string(),
                   s_->revision + 1);
      co_await s_->wake.wait_until(Clock::now() + kRetryDelay);
    } else {
      // The store is shutting down: nothing more will come.
      break;
    }
  }
  done_.set();
  co_return Status{};
}

awaitable<void> KeyWatch::stop() {
  if (!started_ || stopping_) co_return;
  stopping_ = true;
  s_->wake.notify_all();
  co_await done_.wait();
}

}  // namespace ks::cluster
