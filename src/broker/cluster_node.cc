#include "broker/cluster_node.h"

#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <set>

#include "cluster/keys.h"
#include "common/metrics.h"
#include "common/task.h"
#include "log/records.h"

namespace ks::broker {

namespace keys = cluster::keys;

namespace {

// How often the placement is looked at again without a change (waits for a
// previous owner, the lease deadline).
constexpr auto kFollowInterval = std::chrono::milliseconds(100);

metrics::Counter& streams_acquired() {
  static auto& c = metrics::registry().counter("kafscale_cluster_streams_acquired_total",
                                               "Streams this broker took over (moves and failovers)");
  return c;
}
metrics::Counter& streams_released() {
  static auto& c = metrics::registry().counter("kafscale_cluster_streams_released_total",
                                               "Streams this broker handed over");
  return c;
}
metrics::Histogram& takeover_seconds() {
  static auto& h = metrics::registry().histogram(
      "kafscale_cluster_takeover_seconds",
      "Time to take streams over: owner keys, checkpoints and commit records read, checkpoint written");
  return h;
}
metrics::Histogram& release_seconds() {
  static auto& h =
      metrics::registry().histogram("kafscale_cluster_release_seconds",
                                    "Time to hand a stream over: pending data committed, checkpoint written");
  return h;
}

metrics::Counter& sweep_passes() {
  static auto& c = metrics::registry().counter("kafscale_cluster_sweep_passes_total",
                                               "Cluster-wide object liveness passes run as controller");
  return c;
}
metrics::Counter& sweep_deleted(const char* what) {
  return metrics::registry().counter("kafscale_cluster_sweep_deleted_total",
                                     "Unreferenced log objects, stream checkpoints and dead nodes' commit "
                                     "records deleted by the cluster sweep",
                                     {{"kind", what}});
}

std::function<Result<log::ClusterSweepStats>()> sweep_pass(log::ClusterSweep* sweep) {
  return [sweep] { return sweep->run_once(Clock::now()); };
}

void lost_registration(const Status& why) {
  // Another process took our node id, or our lease is gone: what we believe we
  // own may be stale, and a restart is the one safe way back.
  task_died("cluster membership", why.to_string());
}

}  // namespace

ClusterNode::ClusterNode(asio::io_context& io, asio::thread_pool& pool,
                         std::shared_ptr<metastore::MetadataStore> meta, cluster::Membership& membership,
                         cluster::ClusterState& cluster, log::LogManager& log,
                         coordinator::GroupCoordinator& groups, ClusterNodeOptions options)
    : io_(io),
      cluster_(cluster),
      log_(log),
      groups_(groups),
      opt_(std::move(options)),
      membership_(membership),
      view_(io, pool, meta),
      controller_(io, pool, meta, membership_, view_, cluster.streams()),
      owners_(io, metastore::AsyncMetadataStore(pool, meta), keys::streams_prefix(),
              metastore::prefix_end(keys::streams_prefix()), "stream owners"),
      pool_(pool) {}

ClusterNode::~ClusterNode() = default;

awaitable<Status> ClusterNode::start() {
  membership_.on_lost(lost_registration);
  if (membership_.lost()) co_return Status(Errc::fenced, "cluster membership lost while starting");
  if (auto st = co_await view_.start(); !st.ok()) co_return st;
  owners_.on_change([this] { owners_changed(); });
  if (auto st = co_await owners_.load(); !st.ok()) co_return st;
  owners_.start();
  controller_.start();
  auto& r = metrics::registry();
  r.gauge_fn("kafscale_cluster_live_brokers", "Live brokers as this broker sees them", {},
             [this] { return static_cast<double>(membership_.members().size()); });
  r.gauge_fn("kafscale_cluster_streams_owned", "Streams this broker serves", {},
             [this] { return static_cast<double>(log_.owned_streams().size()); });
  r.gauge_fn("kafscale_cluster_controller", "1 while this broker is the controller", {},
             [this] { return controller_.is_controller() ? 1.0 : 0.0; });
  r.gauge_fn("kafscale_cluster_lease_alive", "1 while the membership lease deadline has not passed", {},
             [this] { return membership_.alive() ? 1.0 : 0.0; });
  streams_acquired();
  streams_released();
  takeover_seconds();
  release_seconds();
  spawn_critical(io_, "cluster follower", [this] { return follow(); });
  if (opt_.sweep != nullptr) {
    sweep_passes();
    for (const char* k : {"object", "checkpoint", "commit_record"}) sweep_deleted(k);
    spawn_critical(io_, "cluster sweep", [this] { return sweeper(); });
  } else {
    sweeper_done_.set();
  }
  spdlog::info("cluster member {} (lease {} ms), {} streams", membership_.node_id(),
               membership_.lease_ttl().count(), cluster_.streams());
  co_return Status{};
}

void ClusterNode::owners_changed() {
  owner_records_.clear();
  for (std::int32_t s = 0; s < cluster_.streams(); ++s) {
    const metastore::KeyValue* kv = owners_.find(keys::stream_owner(s));
    if (kv == nullptr) continue;
    auto o = log::decode_stream_owner(kv->value);
    if (!o.ok()) {
      spdlog::warn("{}: {}", kv->key, o.status().to_string());
      continue;
    }
    owner_records_[s] = Owner{o->node, o->released, o->leader_epoch};
  }
}

std::optional<ClusterNode::Owner> ClusterNode::owner_of(std::int32_t stream) const {
  auto it = owner_records_.find(stream);
  if (it == owner_records_.end()) return std::nullopt;
  return it->second;
}

awaitable<Status> ClusterNode::follow() {
  while (!stopping_) {
    co_await reconcile();
    if (stopping_) break;
    co_await view_.changed().wait_until(Clock::now() + kFollowInterval);
  }
  follow_done_.set();
  co_return Status{};
}

awaitable<Status> ClusterNode::sweeper() {
  auto next = Clock::now() + opt_.sweep_interval;
  while (!stopping_) {
    co_await view_.changed().wait_until(next);
    if (stopping_) break;
    if (Clock::now() < next) continue;
    next = Clock::now() + opt_.sweep_interval;
    // Only the controller sweeps, and only while it knows it is one.
    if (!controller_.is_controller() || !membership_.alive()) continue;
    auto r = co_await offload(pool_, sweep_pass(opt_.sweep));
    if (!r.ok()) {
      spdlog::warn("cluster sweep: {} (nothing deleted; next pass in {} ms)", r.status().to_string(),
                   opt_.sweep_interval.count());
      continue;
    }
    sweep_passes().inc();
    sweep_deleted("object").add(r->objects_deleted);
    sweep_deleted("checkpoint").add(r->checkpoints_deleted);
    sweep_deleted("commit_record").add(r->commits_deleted);
    if (r->objects_deleted + r->checkpoints_deleted + r->commits_deleted > 0) {
      spdlog::info(
          "cluster sweep: deleted {} objects, {} checkpoints ({} bytes), {} commit records of gone "
          "brokers; {} referenced, {} waiting out the grace",
          r->objects_deleted, r->checkpoints_deleted, r->bytes_deleted, r->commits_deleted, r->referenced,
          r->candidates);
    }
  }
  sweeper_done_.set();
  co_return Status{};
}

awaitable<Status> ClusterNode::release(const std::vector<std::int32_t>& streams) {
  if (streams.empty()) co_return Status{};
  const auto t0 = Clock::now();
  for (std::size_t i = 0; i < streams.size(); ++i) co_await groups_.release_slot(streams[i]);
  Status st = co_await log_.release_streams(streams);
  if (!st.ok()) {
    spdlog::warn("releasing streams {}: {}", fmt::join(streams, ","), st.to_string());
  } else {
    streams_released().add(streams.size());
    release_seconds().observe(Clock::now() - t0);
  }
  co_return st;
}

awaitable<void> ClusterNode::reconcile() {
  if (cluster_.fenced()) {
    task_died("cluster follower", "a stream of ours was taken without being released (a commit was fenced)");
  }
  if (!membership_.alive()) {
    // Our lease may be gone: others may take our streams at any moment.
    if (!log_.suspended()) {
      spdlog::warn("membership lease not renewed in time: serving nothing until it is");
      log_.suspend();
      groups_.set_suspended(true);
    }
    settled_ = false;
    co_return;
  }
  if (log_.suspended()) {
    spdlog::info("membership lease renewed: serving again");
    log_.resume();
    groups_.set_suspended(false);
    // Group timers stopped while suspended: reload the slots from the store.
    const std::vector<std::int32_t> slots = log_.owned_streams();
    for (std::size_t i = 0; i < slots.size(); ++i) {
      co_await groups_.release_slot(slots[i]);
      std::optional<cluster::Fence> fence = log_.stream_fence(slots[i]);
      if (!fence) continue;
      Status gs = co_await groups_.acquire_slot(slots[i], *fence);
      if (!gs.ok()) spdlog::warn("serving the groups of slot {} again: {}", slots[i], gs.to_string());
    }
  }
  const cluster::Placement placement = view_.current();
  if (static_cast<std::int32_t>(placement.streams.size()) != cluster_.streams()) {
    settled_ = false;
    co_return;
  }
  const std::int32_t me = membership_.node_id();
  std::set<std::int32_t> desired;
  for (std::int32_t s = 0; s < cluster_.streams(); ++s) {
    if (placement.streams[static_cast<std::size_t>(s)].node == me) desired.insert(s);
  }
  // Everything placed elsewhere is handed over at once (one commit wait, one
  // checkpoint transaction): the next owners wait for all of it.
  std::vector<std::int32_t> moving;
  for (std::int32_t s : log_.owned_streams()) {
    if (desired.count(s) == 0) moving.push_back(s);
  }
  co_await release(moving);
  if (draining_) co_return;
  std::vector<log::LogManager::Grant> grants;
  const auto now = Clock::now();
  for (std::int32_t s : desired) {
    if (log_.owns_stream(s)) continue;
    std::optional<Owner> o = owner_of(s);
    bool ready = !o || o->released || o->node == me || membership_.members().count(o->node) == 0;
    if (!ready) {
      auto [it, fresh] = waiting_.try_emplace(s, now);
      ready = now - it->second >= opt_.release_timeout;
      if (ready) spdlog::warn("stream {}: node {} did not release it in time; taking it", s, o->node);
    }
    if (!ready) continue;
    waiting_.erase(s);
    log::LogManager::Grant g;
    g.stream = s;
    g.leader_epoch = placement.streams[static_cast<std::size_t>(s)].epoch;
    // Decided on what the mirror showed: an owner written since (a broker
    // that took the stream a moment ago) makes the take fail, not fence it.
    const metastore::KeyValue* kv = owners_.find(keys::stream_owner(s));
    g.expect_owner_revision = kv == nullptr ? 0 : kv->mod_revision;
    grants.push_back(g);
  }
  if (!grants.empty()) {
    const auto t0 = Clock::now();
    Status st = co_await log_.acquire_streams(grants);
    if (!st.ok()) {
      if (st.code() != Errc::already_exists)
        spdlog::warn("taking {} streams failed (retried): {}", grants.size(), st.to_string());
      co_return;
    }
    streams_acquired().add(grants.size());
    takeover_seconds().observe(Clock::now() - t0);
    for (std::size_t i = 0; i < grants.size(); ++i) {
      std::optional<cluster::Fence> fence = log_.stream_fence(grants[i].stream);
      if (!fence) continue;
      Status gs = co_await groups_.acquire_slot(grants[i].stream, *fence);
      if (!gs.ok()) spdlog::warn("serving the groups of slot {}: {}", grants[i].stream, gs.to_string());
    }
  }
  bool all = true;
  for (std::int32_t s : desired) all = all && log_.owns_stream(s);
  settled_ = all;
}

awaitable<void> ClusterNode::drain(Clock::time_point deadline) {
  draining_ = true;
  const std::int32_t me = membership_.node_id();
  bool others = false;
  for (const auto& [node, m] : membership_.members()) others = others || (node != me && !m.draining);
  if (others && membership_.alive()) {
    if (auto st = co_await membership_.set_draining(); !st.ok())
      spdlog::warn("announcing the drain failed: {}", st.to_string());
    // The controller moves our streams; the follower releases each as it goes.
    while (!log_.owned_streams().empty() && Clock::now() < deadline)
      co_await view_.changed().wait_until(std::min(deadline, Clock::now() + kFollowInterval));
  }
  // What is left (no other broker, or the controller was slow): released by
  // us, so that the next owner takes it at once.
  // Past our lease deadline nothing can be released (others take it once
  // the lease is gone); the log's stop then bounds the wait for commits.
  if (!membership_.alive()) co_return;
  const std::vector<std::int32_t> left = log_.owned_streams();
  co_await release(left);
}

awaitable<void> ClusterNode::stop() {
  stopping_ = true;
  for (const char* name : {"kafscale_cluster_live_brokers", "kafscale_cluster_streams_owned",
                           "kafscale_cluster_controller", "kafscale_cluster_lease_alive"}) {
    metrics::registry().remove_gauge_fn(name, {});
  }
  view_.changed().notify_all();
  co_await follow_done_.wait();
  co_await sweeper_done_.wait();
  co_await controller_.stop();
  co_await owners_.stop();
  co_await view_.stop();
  co_await membership_.stop();
}

std::int32_t ClusterNode::controller() const {
  const std::int32_t c = view_.controller_node();
  if (c >= 0 && membership_.members().count(c) > 0) return c;
  return membership_.node_id();
}

namespace {

handlers::NodeEndpoint to_endpoint(std::int32_t node, const cluster::MemberInfo& m) {
  handlers::NodeEndpoint e;
  e.node = node;
  e.host = m.host;
  e.port = m.port;
  for (const auto& l : m.listeners) {
    handlers::ListenerAddress a;
    a.name = l.name;
    a.host = l.host;
    a.port = l.port;
    e.listeners.push_back(std::move(a));
  }
  return e;
}

}  // namespace

std::vector<handlers::NodeEndpoint> ClusterNode::brokers() const {
  std::vector<handlers::NodeEndpoint> out;
  for (const auto& [node, m] : membership_.members()) {
    out.push_back(to_endpoint(node, m));
  }
  return out;
}

handlers::PartitionLeader ClusterNode::leader(std::int32_t stream) const {
  handlers::PartitionLeader l;
  std::optional<Owner> o = owner_of(stream);
  if (!o) return l;
  l.epoch = o->epoch;
  if (o->released || membership_.members().count(o->node) == 0) return l;
  if (o->node == membership_.node_id() && (!membership_.alive() || !log_.owns_stream(stream))) return l;
  l.node = o->node;
  return l;
}

std::optional<handlers::NodeEndpoint> ClusterNode::endpoint(std::int32_t node) const {
  auto it = membership_.members().find(node);
  if (it == membership_.members().end()) return std::nullopt;
  return to_endpoint(node, it->second);
}

}  // namespace ks::broker
