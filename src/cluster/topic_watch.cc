// ClusterState's topic registry kept in step with /ks/topics/: how a record
// (or its deletion) at a store revision is applied, and the watch that brings
// other brokers' changes (cluster_state.h, watch_topics()).
//
// Every change to the registry goes through apply_topic() /
// apply_topic_removal() with the store revision it was read or written at,
// whether it comes from a local write, the watch or a reload. A change is
// applied once: the revision applied per name is kept (for deleted names too,
// until the watch has passed their deletion), and anything not newer is
// ignored, so our own writes coming back through the watch are no-ops, and so
// is a local write whose revision the watch applied first.
//
// The watch loop is a critical task. Its state (TopicWatch) is shared with
// the store's callback and the handlers that callback posts to the loop; it
// reaches the ClusterState only through `self`, which stop_watch() clears, and
// it checks `self` after every co_await. No pointer into the registry is kept
// across a co_await or a posted handler: events travel by value.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <optional>
#include <set>

#include "cluster/cluster_state.h"
#include "cluster/keys.h"
#include "common/assert.h"
#include "common/task.h"

namespace ks::cluster {

namespace {

// Backoff between attempts while the store is unreachable (doubling). A watch
// that lived at least kMaxBackoff resets it.
constexpr std::chrono::milliseconds kMinBackoff{20};
constexpr std::chrono::milliseconds kMaxBackoff{1000};

bool same_record(const TopicRecord& a, const TopicRecord& b) {
  return a.name == b.name && a.id == b.id && a.partitions == b.partitions && a.configs == b.configs &&
         a.created_ms == b.created_ms && a.stream_base == b.stream_base;
}

metastore::RangeRequest topics_range() {
  metastore::RangeRequest rq;
  rq.key = keys::topics_prefix();
  rq.range_end = metastore::prefix_end(rq.key);
  return rq;
}

// Errors that no retry can mend: our request is malformed (a bug).
bool unrecoverable(Errc code) { return code == Errc::invalid_argument; }

}  // namespace

struct ClusterState::TopicWatch : std::enable_shared_from_this<TopicWatch> {
  TopicWatch(ClusterState* s, asio::io_context& ctx) : self(s), io(ctx) {}

  // The store's callback for the watch of generation `gen`: runs on a backend
  // thread and only posts to the loop (events by value).
  metastore::WatchCallback callback(std::uint64_t gen) {
    std::weak_ptr<TopicWatch> weak = weak_from_this();
    asio::io_context* ctx = &io;
    return [weak, ctx, gen](const std::vector<metastore::WatchEvent>& events, const Status& status) {
      asio::post(*ctx, [weak, gen, events, status] {
        auto w = weak.lock();
        if (!w || w->self == nullptr || w->generation != gen || w->ended) return;
        if (!events.empty()) w->self->on_topic_events(events);
        if (!status.ok()) {
          w->ended = status;
          w->wake.notify_all();
        }
      });
    };
  }

  // Waits `backoff` (or until stopped) and doubles it.
  awaitable<void> back_off(std::chrono::milliseconds& backoff) {
    const auto deadline = Clock::now() + backoff;
    while (self != nullptr && Clock::now() < deadline) co_await wake.wait_until(deadline);
    backoff = std::min(backoff * 2, kMaxBackoff);
  }

  ClusterState* self;  // null once stopped (loop thread)
  asio::io_context& io;
  std::unique_ptr<metastore::Watch> handle;  // the live watch, if any
  std::uint64_t generation = 0;              // of `handle`: events of older watches are dropped
  std::optional<Status> ended;               // how the watch of this generation ended
  bool loop_alive = false;                   // the loop's frame exists (it owns timers in `wake`)
  Notifier wake;
};

namespace {

// Marks the loop's frame gone, however it ends (returned, or destroyed with
// its io_context), so that stop_watch() no longer touches its timers.
template <class W>
class LoopAlive {
 public:
  explicit LoopAlive(W* w) : w_(w) { w_->loop_alive = true; }
  ~LoopAlive() { w_->loop_alive = false; }
  LoopAlive(const LoopAlive&) = delete;
  LoopAlive& operator=(const LoopAlive&) = delete;

 private:
  W* w_;
};

}  // namespace

ClusterState::~ClusterState() { stop_watch(); }

void ClusterState::watch_topics(asio::io_context& io) {
  KS_ASSERT(started(), "watch_topics before start");
  KS_ASSERT(watch_ == nullptr, "watch_topics called twice");
  watch_ = std::make_shared<TopicWatch>(this, io);
  spawn_critical(io, "topic watch", [w = watch_] { return topic_watch_loop(w); });
}

void ClusterState::stop_watch() {
  if (watch_ == nullptr) return;
  std::shared_ptr<TopicWatch> w = std::move(watch_);
  w->self = nullptr;
  w->handle.reset();  // cancels it: no callback of it runs after this
  if (w->loop_alive) w->wake.notify_all();
}

awaitable<Status> ClusterState::topic_watch_loop(std::shared_ptr<TopicWatch> w) {
  LoopAlive<TopicWatch> alive(w.get());
  std::chrono::milliseconds backoff = kMinBackoff;
  bool reload = false;
  while (w->self != nullptr) {
    if (reload) {
      auto r = co_await w->self->meta_.range(topics_range());
      if (w->self == nullptr) break;
      if (!r.ok()) {
        if (unrecoverable(r.code())) co_return Status(r.code(), "reloading topics: " + r.status().message());
        spdlog::warn("node {}: reloading topics: {}; retrying", w->self->opt_.node_id,
                     r.status().to_string());
        co_await w->back_off(backoff);
        continue;
      }
      w->self->diff_topics(*r);
      reload = false;
    }
    const std::int64_t from = w->self->topics_revision_ + 1;
    const std::uint64_t gen = ++w->generation;
    w->ended.reset();
    auto start = [store = w->self->meta_.store(), from, cb = w->callback(gen)] {
      metastore::RangeRequest rq = topics_range();
      return store->watch(rq.key, rq.range_end, from, cb);
    };
    auto h = co_await offload(w->self->meta_.pool(), std::move(start));
    if (w->self == nullptr) break;  // `h`, if any, is cancelled on the way out
    if (!h.ok()) {
      if (h.code() == Errc::compacted) {
        spdlog::info("node {}: topics: history from revision {} is compacted; reloading",
                     w->self->opt_.node_id, from);
        reload = true;
        continue;
      }
      if (unrecoverable(h.code())) co_return Status(h.code(), "watching topics: " + h.status().message());
      spdlog::warn("node {}: watching topics from revision {}: {}; retrying", w->self->opt_.node_id, from,
                   h.status().to_string());
      co_await w->back_off(backoff);
      continue;
    }
    w->handle = std::move(*h);
    const auto since = Clock::now();
    while (w->self != nullptr && !w->ended) co_await w->wake.wait_until(Clock::now() + std::chrono::hours(1));
    if (w->self == nullptr) break;
    w->handle.reset();
    if (Clock::now() - since >= kMaxBackoff) backoff = kMinBackoff;
    const Status end = *w->ended;
    if (end.code() == Errc::compacted) {
      spdlog::info("node {}: topic watch: {}; reloading", w->self->opt_.node_id, end.to_string());
      reload = true;
      continue;
    }
    if (unrecoverable(end.code())) co_return Status(end.code(), "topic watch: " + end.message());
    spdlog::warn("node {}: topic watch ended: {}; resuming after revision {}", w->self->opt_.node_id,
                 end.to_string(), w->self->topics_revision_);
    co_await w->back_off(backoff);
  }
  co_return Status{};
}

void ClusterState::on_topic_events(const std::vector<metastore::WatchEvent>& events) {
  for (const auto& ev : events) {
    const bool deleted = ev.type == metastore::WatchEvent::Type::del;
    // Our own writes were applied when they were made: whatever changes here
    // came from another broker.
    if (apply_topic_kv(ev.kv, deleted)) {
      spdlog::info("node {}: {} {} elsewhere (revision {})", opt_.node_id, ev.kv.key,
                   deleted ? "deleted" : "written", ev.kv.mod_revision);
    }
    topics_revision_ = std::max(topics_revision_, ev.kv.mod_revision);
  }
  prune_topic_revisions();
}

void ClusterState::diff_topics(const metastore::RangeResponse& r) {
  const std::string prefix = keys::topics_prefix();
  std::set<std::string> present;
  for (const auto& kv : r.kvs) {
    if (kv.key.starts_with(prefix)) present.insert(kv.key.substr(prefix.size()));
    if (apply_topic_kv(kv, false)) {
      spdlog::info("node {}: {} written elsewhere (revision {}, reloaded)", opt_.node_id, kv.key,
                   kv.mod_revision);
    }
  }
  for (auto it = topics_.begin(); it != topics_.end();) {
    auto next = std::next(it);
    if (!present.contains(it->first)) {
      std::int64_t& applied = topic_revs_[it->first];
      // Not removed if we applied something newer than this read.
      if (applied < r.revision) {
        applied = r.revision;
        spdlog::info("node {}: topic {} was deleted elsewhere", opt_.node_id, it->first);
        remove_installed(it);
      }
    }
    it = next;
  }
  topics_revision_ = std::max(topics_revision_, r.revision);
  ++topic_reloads_;
  prune_topic_revisions();
}

bool ClusterState::apply_topic_kv(const metastore::KeyValue& kv, bool deleted) {
  const std::string prefix = keys::topics_prefix();
  if (!kv.key.starts_with(prefix) || kv.key.size() == prefix.size()) {
    spdlog::error("node {}: topic watch: unexpected key {} (ignored)", opt_.node_id, kv.key);
    return false;
  }
  const std::string name = kv.key.substr(prefix.size());
  if (deleted) return apply_topic_removal(name, kv.mod_revision);
  auto rec = decode_topic(kv.value);
  if (!rec.ok()) {
    spdlog::error("node {}: {} at revision {}: {} (record ignored)", opt_.node_id, kv.key, kv.mod_revision,
                  rec.status().to_string());
    return false;
  }
  if (rec->name != name) {
    spdlog::error("node {}: {} at revision {} names topic {} (record ignored)", opt_.node_id, kv.key,
                  kv.mod_revision, rec->name);
    return false;
  }
  return apply_topic(std::move(*rec), kv.mod_revision);
}

bool ClusterState::apply_topic(TopicRecord rec, std::int64_t revision) {
  std::int64_t& applied = topic_revs_[rec.name];
  if (revision <= applied) return false;
  auto it = topics_.find(rec.name);
  if (it != topics_.end() && it->second.record.id == rec.id &&
      rec.partitions < it->second.record.partitions) {
    spdlog::error("node {}: topic {} at revision {}: {} partitions, fewer than {} (record ignored)",
                  opt_.node_id, rec.name, revision, rec.partitions, it->second.record.partitions);
    return false;
  }
  applied = revision;
  if (it != topics_.end() && it->second.record.id != rec.id) {
    spdlog::info("node {}: topic {} was re-created (id {} -> {})", opt_.node_id, rec.name,
                 to_hex(it->second.record.id), to_hex(rec.id));
    remove_installed(it);
    it = topics_.end();
  }
  if (it == topics_.end()) {
    install_topic(std::move(rec));
    return true;
  }
  TopicInfo& t = it->second;
  if (same_record(t.record, rec)) return false;
  const std::int32_t old = t.record.partitions;
  if (t.record.configs != rec.configs) t.settings = settings_of(rec.configs);
  t.record = std::move(rec);
  if (t.record.partitions > old) {
    for (auto* l : listeners_) l->partitions_added(t, old, t.record.partitions);
  }
  return true;
}

bool ClusterState::apply_topic_removal(const std::string& name, std::int64_t revision) {
  std::int64_t& applied = topic_revs_[name];
  if (revision <= applied) return false;
  applied = revision;
  auto it = topics_.find(name);
  if (it == topics_.end()) return false;
  remove_installed(it);
  return true;
}

void ClusterState::install_topic(TopicRecord rec) {
  const std::string name = rec.name;
  TopicInfo& info = topics_[name];
  info.settings = settings_of(rec.configs);
  info.record = std::move(rec);
  for (auto* l : listeners_) l->partitions_added(info, 0, info.record.partitions);
}

void ClusterState::remove_installed(std::map<std::string, TopicInfo>::iterator it) {
  for (auto* l : listeners_) l->topic_removed(it->second);
  topics_.erase(it);
}

void ClusterState::prune_topic_revisions() {
  if (topic_revs_.size() <= topics_.size()) return;  // no deleted names kept
  std::erase_if(topic_revs_,
                [&](const auto& e) { return e.second <= topics_revision_ && !topics_.contains(e.first); });
}

}  // namespace ks::cluster
