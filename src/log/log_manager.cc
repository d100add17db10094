#include "log/log_manager.h"

#include <spdlog/spdlog.h>

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

awaitable<Status> LogManager::start() {
  if (own_cluster_ && !cluster_.started()) {
    if (auto st = co_await cluster_.start(); !st.ok()) co_return st;
  }
  if (!cluster_.started())
    co_return Status(Errc::invalid_argument, "the cluster state must be started first");
  // Partitions of the topics known now; recovery fills in their state.
  for (const TopicInfo* t : cluster_.topics()) s_.table.add(t->record.id, 0, t->record.partitions, false);
  cluster_.add_listener(this);
  if (auto st = co_await lifecycle_.recover(); !st.ok()) co_return st;
  s_.started = true;
  writer_.start();
  lifecycle_.start();
  spdlog::info("log ready: node {} epoch {} cluster {}", s_.node(), s_.epoch(), cluster_.cluster_id());
  co_return Status{};
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
  // New partitions start in leader epoch 0 at offset 0.
  s_.table.add(t.record.id, from, to, true);
}

void LogManager::topic_removed(const TopicInfo& t) {
  s_.table.remove_topic(t.record.id, t.record.partitions);
  ++s_.state_gen;  // the next checkpoint drops the topic's ranges
}

}  // namespace ks::log
