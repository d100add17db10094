#include "log/log_manager.h"

#include <spdlog/spdlog.h>

#include "common/assert.h"

namespace ks::log {
namespace {

// How long stop() keeps re-sending a commit whose outcome is unknown.
constexpr auto kStopCommitTimeout = std::chrono::seconds(3);

cluster::ClusterOptions cluster_options(const LogOptions& o) {
  cluster::ClusterOptions c;
  c.node_id = o.node_id;
  c.producer_expiration = o.producer_expiration;
  return c;
}

}  // namespace

LogManager::LogManager(asio::io_context& io, asio::thread_pool& pool,
                       std::shared_ptr<objstore::ObjectStore> objects,
                       std::shared_ptr<metastore::MetadataStore> meta, cluster::ClusterState& cluster,
                       LogOptions options)
    : cluster_(cluster),
      s_(io, pool, std::move(objects), std::move(meta), cluster_, options),
      writer_(s_),
      reader_(s_),
      lifecycle_(s_) {}

LogManager::LogManager(asio::io_context& io, asio::thread_pool& pool,
                       std::shared_ptr<objstore::ObjectStore> objects,
                       std::shared_ptr<metastore::MetadataStore> meta, LogOptions options)
    : own_cluster_(std::make_unique<cluster::ClusterState>(pool, meta, cluster_options(options))),
      cluster_(*own_cluster_),
      s_(io, pool, std::move(objects), std::move(meta), cluster_, options),
      writer_(s_),
      reader_(s_),
      lifecycle_(s_) {}

LogManager::~LogManager() { cluster_.remove_listener(this); }

awaitable<Status> LogManager::start(bool take_all_streams) {
  if (own_cluster_ && !cluster_.started()) {
    if (auto st = co_await cluster_.start(); !st.ok()) co_return st;
  }
  if (!cluster_.started())
    co_return Status(Errc::invalid_argument, "the cluster state must be started first");
  if (auto st = co_await lifecycle_.init_position(); !st.ok()) co_return st;
  cluster_.add_listener(this);
  s_.started = true;
  writer_.start();
  lifecycle_.start();
  if (take_all_streams) {
    std::vector<Grant> all;
    for (std::int32_t s = 0; s < cluster_.streams(); ++s) all.push_back(Grant{s, 0});
    if (auto st = co_await acquire_streams(all); !st.ok()) co_return st;
  }
  spdlog::info("log ready: node {} epoch {} cluster {}, {} of {} streams", s_.node(), s_.epoch(),
               cluster_.cluster_id(), s_.streams.size(), cluster_.streams());
  co_return Status{};
}

awaitable<Status> LogManager::acquire_streams(const std::vector<Grant>& grants) {
  for (const auto& g : grants) {
    KS_ASSERT(g.stream >= 0 && g.stream < cluster_.streams() && !owns_stream(g.stream),
              "acquiring stream {} (owned: {})", g.stream, owns_stream(g.stream));
  }
  // The partitions of the streams as the topics stand now; acquire() fills in their state.
  std::uint64_t mask = 0;
  for (const auto& g : grants) mask |= stream_bit(g.stream);
  for (const TopicInfo* t : cluster_.topics()) {
    for (std::int32_t i = 0; i < t->record.partitions; ++i) {
      const std::int32_t s = cluster_.stream_of(*t, i);
      if ((mask & stream_bit(s)) != 0) s_.table.add(PartitionKey{t->record.id, i}, s, false);
    }
  }
  auto st = co_await lifecycle_.acquire(grants);
  if (!st.ok()) {
    for (const auto& g : grants) {
      s_.table.remove_stream(g.stream);
      s_.streams.erase(g.stream);
    }
    // already_exists: another broker wrote an owner key the caller had not
    // seen (a race the caller resolves on its next round), not a failure.
    if (st.code() == Errc::already_exists) {
      spdlog::info("taking {} streams: {}", grants.size(), st.to_string());
    } else {
      spdlog::error("taking {} streams failed: {}", grants.size(), st.to_string());
    }
  }
  co_return st;
}

awaitable<Status> LogManager::release_streams(const std::vector<std::int32_t>& streams) {
  std::vector<std::int32_t> ids;
  for (std::int32_t s : streams) {
    OwnedStream* st = s_.stream(s);
    if (st == nullptr) continue;
    st->closed = true;
    ids.push_back(s);
  }
  if (ids.empty()) co_return Status{};
  writer_.seal_pending();
  for (std::size_t i = 0; i < ids.size(); ++i) {
    while (writer_.carries(ids[i])) {
      // Past the lease deadline a commit may never resolve (the metadata
      // store unreachable): the streams are then taken, not released.
      if (suspended_ || s_.fenced())
        co_return Status(Errc::unavailable, "not releasing: lease deadline passed");
      co_await s_.commit_notifier.wait_until(Clock::now() + std::chrono::milliseconds(50));
    }
  }
  auto r = co_await lifecycle_.release(ids);
  // Released meanwhile by another caller (the drain and the placement follower
  // may both ask): that caller's release succeeded, whatever ours says.
  std::erase_if(ids, [this](std::int32_t s) { return s_.stream(s) == nullptr; });
  if (ids.empty()) co_return Status{};
  if (!r.ok()) co_return r;
  for (std::int32_t s : ids) {
    s_.table.remove_stream(s);
    s_.streams.erase(s);
    spdlog::info("released stream {}", s);
  }
  co_return Status{};
}

std::vector<std::int32_t> LogManager::owned_streams() const {
  std::vector<std::int32_t> out;
  for (const auto& [id, st] : s_.streams) out.push_back(id);
  return out;
}

std::optional<cluster::Fence> LogManager::stream_fence(std::int32_t stream) const {
  auto it = s_.streams.find(stream);
  if (it == s_.streams.end() || !it->second.loaded) return std::nullopt;
  return it->second.fence;
}

PartitionState* LogManager::partition(const PartitionKey& key) {
  if (suspended_) return nullptr;
  PartitionState* p = s_.table.find(key);
  if (p == nullptr) return nullptr;
  const OwnedStream* st = s_.stream(p->stream);
  return st != nullptr && st->loaded ? p : nullptr;
}

awaitable<void> LogManager::stop() {
  if (!s_.started) co_return;
  s_.stopping = true;
  s_.stop_deadline = Clock::now() + kStopCommitTimeout;
  co_await writer_.stop();
  co_await lifecycle_.stop();
  s_.started = false;
}

Result<LogManager::Ticket> LogManager::append(const PartitionKey& key, std::string_view records,
                                              std::span<const protocol::BatchInfo> batches,
                                              std::int64_t log_append_time_ms) {
  auto r = writer_.append_batches(key, records, batches, log_append_time_ms);
  if (!r.ok()) return r.status();
  if (r->check != ProducerCheck::kOk && r->check != ProducerCheck::kDuplicate) {
    return Status(Errc::invalid_argument, r->message);
  }
  return r->ticket;
}

// ---------------------------------------------------------------- topics

awaitable<Result<const TopicInfo*>> LogManager::create_topic(std::string name, std::int32_t partitions,
                                                             std::map<std::string, std::string> configs) {
  return cluster_.create_topic(std::move(name), partitions, std::move(configs));
}

awaitable<Status> LogManager::delete_topic(const std::string& name) { return cluster_.delete_topic(name); }

awaitable<Status> LogManager::set_topic_configs(const std::string& name,
                                                const std::map<std::string, std::string>& configs) {
  return cluster_.set_topic_configs(name, configs);
}

awaitable<Status> LogManager::add_topic_partitions(const std::string& name, std::int32_t count) {
  return cluster_.add_topic_partitions(name, count);
}

void LogManager::partitions_added(const TopicInfo& t, std::int32_t from, std::int32_t to) {
  // New partitions of our streams start at offset 0 in the stream's term
  // (what Metadata tells clients for every partition of the stream).
  for (std::int32_t i = from; i < to; ++i) {
    const std::int32_t s = cluster_.stream_of(t, i);
    const OwnedStream* st = s_.stream(s);
    if (st == nullptr) continue;
    const PartitionKey key{t.record.id, i};
    s_.table.add(key, s, true);
    PartitionState* p = s_.table.find(key);
    p->leader_epoch = st->leader_epoch;
    p->epochs.assign(1, EpochStart{st->leader_epoch, 0});
    s_.dirty_streams |= stream_bit(s);
  }
}

void LogManager::topic_removed(const TopicInfo& t) {
  s_.table.remove_topic(t.record.id, t.record.partitions);
  ++s_.state_gen;  // the next checkpoint drops the topic's ranges
}

}  // namespace ks::log
