// LogManager: the partition log of every partition this broker leads, made
// of three parts over one shared state (log_shared.h, partition_table.h):
//
//   LogWriter     (writer.h)     append -> seal -> object PUT -> fenced commit
//   LogReader     (reader.h)     index -> read cache -> read-ahead GETs
//   LogLifecycle  (lifecycle.h)  recovery, checkpoints, retention, GC
//
// Topics, ownership and fencing belong to the cluster state
// (cluster/cluster_state.h): the log listens to it for partitions created
// and topics deleted, and fences every commit with its compare.
//
// Everything here runs on the loop thread; backend calls are offloaded.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "cluster/cluster_state.h"
#include "common/async.h"
#include "common/status.h"
#include "log/lifecycle.h"
#include "log/log_shared.h"
#include "log/reader.h"
#include "log/records.h"
#include "log/writer.h"
#include "metastore/metadata_store.h"
#include "objstore/object_store.h"
#include "protocol/record_batch.h"

namespace ks::log {

class LogManager final : public cluster::TopicListener {
 public:
  // With the broker's cluster state (started by the caller before start()).
  LogManager(asio::io_context& io, asio::thread_pool& pool, std::shared_ptr<objstore::ObjectStore> objects,
             std::shared_ptr<metastore::MetadataStore> meta, cluster::ClusterState& cluster,
             LogOptions options);
  // With a cluster state of its own, started by start() (tests and tools).
  LogManager(asio::io_context& io, asio::thread_pool& pool, std::shared_ptr<objstore::ObjectStore> objects,
             std::shared_ptr<metastore::MetadataStore> meta, LogOptions options);
  ~LogManager() override;

  // Finds where this node's commit sequence stands, starts the committer and
  // the checkpointer and, with take_all_streams (a single broker), takes
  // every stream of the cluster (acquire_streams).
  awaitable<Status> start(bool take_all_streams = true);
  // ---- streams (cluster/streams.h) ----
  using Grant = LogLifecycle::Grant;
  // Takes streams over: their partitions are rebuilt from each stream's
  // checkpoint plus the commit records after it, then served.
  awaitable<Status> acquire_streams(const std::vector<Grant>& grants);
  // Hands streams over: appends to them stop (NOT_LEADER_OR_FOLLOWER), what
  // is pending commits (one wait for all), one checkpoint transaction writes
  // them and marks them released for their next owners; then their
  // partitions are dropped here.
  awaitable<Status> release_streams(const std::vector<std::int32_t>& streams);
  bool owns_stream(std::int32_t stream) const { return s_.streams.count(stream) > 0; }
  // The fence of an owned stream (what the group coordinator's writes for its
  // slot carry); nullopt when not owned.
  std::optional<cluster::Fence> stream_fence(std::int32_t stream) const;
  // A broker whose lease may have expired stops serving (NOT_LEADER_OR_FOLLOWER)
  // until resume(); appends and reads are refused meanwhile.
  void suspend() { suspended_ = true; }
  void resume() { suspended_ = false; }
  bool suspended() const { return suspended_; }
  std::vector<std::int32_t> owned_streams() const;
  // Flushes and commits what is pending, writes a checkpoint, stops tasks.
  awaitable<void> stop();

  cluster::ClusterState& cluster() { return cluster_; }
  const std::string& cluster_id() const { return cluster_.cluster_id(); }
  std::uint64_t broker_epoch() const { return cluster_.broker_epoch(); }
  bool fenced() const { return cluster_.fenced(); }
  const LogStats& stats() const { return s_.stats; }
  const ReadCache& cache() const { return s_.cache; }
  std::size_t buffered_bytes() const { return writer_.buffered_bytes(); }
  const LogOptions& options() const { return s_.opt; }

  // ---- topics (the cluster state's registry) ----
  const TopicInfo* topic(const std::string& name) const { return cluster_.topic(name); }
  const TopicInfo* topic_by_id(const TopicId& id) const { return cluster_.topic_by_id(id); }
  std::vector<const TopicInfo*> topics() const { return cluster_.topics(); }
  awaitable<Result<const TopicInfo*>> create_topic(std::string name, std::int32_t partitions,
                                                   std::map<std::string, std::string> configs);
  // Its objects are removed once no live range refers to them and a
  // checkpoint no longer lists them.
  awaitable<Status> delete_topic(const std::string& name);
  awaitable<Status> set_topic_configs(const std::string& name,
                                      const std::map<std::string, std::string>& configs);
  awaitable<Status> add_topic_partitions(const std::string& name, std::int32_t count);

  // ---- partitions ----
  // nullptr unless the partition is in a stream this broker owns and has
  // rebuilt.
  PartitionState* partition(const PartitionKey& key);

  // ---- write path (writer.h) ----
  using Completion = LogWriter::Completion;
  using Ticket = LogWriter::Ticket;
  using ProducerCheck = LogWriter::ProducerCheck;
  using AppendResult = LogWriter::AppendResult;
  // Appends validated batches (`batches` index into `records`). Fails with
  // fenced when another owner took over. With log_append_time_ms >= 0
  // (message.timestamp.type=LogAppendTime) each batch's max timestamp and
  // timestamp type are rewritten (and its CRC).
  Result<Ticket> append(const PartitionKey& key, std::string_view records,
                        std::span<const protocol::BatchInfo> batches, std::int64_t log_append_time_ms = -1);
  // To wait until the ticket's flush is committed (ok) or failed:
  //   if (co_await t.done->event.wait_until(deadline)) status = t.done->result;
  //   else status = timeout (the outcome is then unknown to the caller).
  static Status timed_out() { return Status(Errc::timeout, "timed out waiting for the flush to commit"); }
  // Appending with idempotent-producer checks. Batches with a producer id are
  // checked against the partition's producer state (one such batch per
  // call): kOk appends; kDuplicate returns the original batch's ticket; the
  // other outcomes append nothing and say why in `message`.
  Result<AppendResult> append_batches(const PartitionKey& key, std::string_view records,
                                      std::span<const protocol::BatchInfo> batches,
                                      std::int64_t log_append_time_ms = -1) {
    if (suspended_) return Status(Errc::fenced, "this broker's lease may have expired");
    return writer_.append_batches(key, records, batches, log_append_time_ms);
  }
  // Back-pressure: waits while buffered bytes exceed the limit.
  awaitable<bool> wait_buffer_space(Clock::time_point deadline) {
    return writer_.wait_buffer_space(deadline);
  }

  // ---- idempotent producers ----
  awaitable<Result<std::int64_t>> allocate_producer_id() { return cluster_.allocate_producer_id(); }
  const std::map<std::string, std::string>& dynamic_broker_configs() const {
    return cluster_.dynamic_broker_configs();
  }
  awaitable<Status> set_dynamic_broker_configs(const std::map<std::string, std::string>& configs) {
    return cluster_.set_dynamic_broker_configs(configs);
  }
  // nullptr when the partition has no producer state.
  const ProducerStates* producer_states(const PartitionKey& key) const { return s_.table.producers(key); }

  // ---- retention (lifecycle.h) ----
  // Moves the partition's log start to `offset` (-1: the high watermark) and
  // drops the ranges wholly below it. Returns the new log start;
  // invalid_argument when offset is beyond the high watermark. Call
  // persist() before acknowledging.
  Result<std::int64_t> delete_records(const PartitionKey& key, std::int64_t offset) {
    return lifecycle_.delete_records(key, offset);
  }
  std::size_t enforce_retention() { return lifecycle_.enforce_retention(); }
  awaitable<Status> persist() { return lifecycle_.persist(); }
  // Log objects referenced by at least one live range.
  std::size_t live_objects() const { return s_.table.live_objects(); }

  // ---- read path (reader.h) ----
  using ReadResult = LogReader::ReadResult;
  awaitable<Result<ReadResult>> read(const PartitionKey& key, std::int64_t offset, std::size_t max_bytes) {
    return reader_.read(key, offset, max_bytes);
  }
  awaitable<Result<OffsetAndTimestamp>> offset_for_timestamp(const PartitionKey& key, std::int64_t ts) {
    return reader_.offset_for_timestamp(key, ts);
  }
  awaitable<Result<OffsetAndTimestamp>> max_timestamp(const PartitionKey& key) {
    return reader_.max_timestamp(key);
  }
  // Notified after every commit (wakes long-polling fetches).
  Notifier& commit_notifier() { return s_.commit_notifier; }

  // cluster::TopicListener
  void partitions_added(const TopicInfo& t, std::int32_t from, std::int32_t to) override;
  void topic_removed(const TopicInfo& t) override;

 private:
  std::unique_ptr<cluster::ClusterState> own_cluster_;  // only with the second constructor
  cluster::ClusterState& cluster_;
  LogShared s_;
  LogWriter writer_;
  LogReader reader_;
  LogLifecycle lifecycle_;
  bool suspended_ = false;
};

}  // namespace ks::log
