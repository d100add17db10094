// LogManager: the partition log of every partition this broker leads.
//
// Write path: append() assigns offsets at once (so a connection can pipeline),
// copies the batches into the pending flush, and returns a ticket. A flush
// (timer from its first byte, or flush_bytes) becomes ONE object holding every
// partition's new data; after the object PUT succeeds, ONE metadata
// transaction (a commit record, fenced by this broker's ownership key) makes
// it visible. Commits apply strictly in flush order; only then do the high
// watermarks move and the tickets complete. A failed flush rolls every log end
// offset back to its high watermark and fails all later flushes too.
//
// Read path: read() serves committed data from the cache or by ranged GETs of
// the objects. Checkpoints snapshot all partition state into an object and
// remove the commit records they cover, so metadata does not grow.
//
// Idempotent producers: append_batches() checks each producer's epoch and
// sequence against the partition's ProducerStates (producer_state.h); the
// state is saved in checkpoints and, between checkpoints, in a digest chunk
// of each object, so recovery rebuilds it without per-producer metadata keys.
//
// Retention and GC: retention (every checkpoint interval), DeleteRecords and
// DeleteTopics drop index ranges; an object whose last live range is gone is
// deleted after the next durable checkpoint (which no longer lists it and
// covers its commit record). Objects and checkpoints nothing refers to
// (failed flushes, crashes) are swept after a grace period.
//
// Everything here runs on the loop thread; backend calls are offloaded.
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/async.h"
#include "common/status.h"
#include "log/batch_scan.h"
#include "log/meta_keys.h"
#include "log/object_buffer.h"
#include "log/object_format.h"
#include "log/partition.h"
#include "log/producer_state.h"
#include "log/read_cache.h"
#include "log/topic_config.h"
#include "metastore/metadata_store.h"
#include "objstore/object_store.h"
#include "protocol/record_batch.h"

namespace ks::log {

struct LogOptions {
  std::int32_t node_id = 0;
  std::chrono::milliseconds flush_interval{10};
  std::size_t flush_bytes = 4 << 20;
  std::size_t cache_bytes = 256 << 20;
  std::chrono::milliseconds checkpoint_interval{60'000};
  // Checkpoint early once this many commit records exist, which bounds the
  // number of keys a broker keeps in the metadata store.
  std::size_t checkpoint_max_commits = 1000;
  // Produce data accepted but not yet durable, across all connections.
  std::size_t max_buffered_bytes = std::size_t{512} << 20;
  // Object PUTs in flight at once (commits still apply in order).
  std::size_t max_inflight_puts = 4;
  // Idempotent producers: state of a producer idle this long is forgotten
  // (Kafka's producer.id.expiration.ms, default one day).
  std::chrono::milliseconds producer_expiration{86'400'000};
  // Producers remembered per partition; the least recently used is evicted
  // first. Bounds the state (and checkpoint size) a partition can hold.
  std::size_t max_producers_per_partition = 1000;
  // Objects that nothing refers to (never committed, superseded checkpoints)
  // are deleted once seen unreferenced for this long; 0 = ten checkpoint
  // intervals.
  std::chrono::milliseconds orphan_grace{0};
  // Cold reads fetch a whole object of up to this size with one GET (and
  // larger objects in windows of this size), so a consumer of many
  // partitions costs one GET per object rather than one per chunk. Capped at
  // a quarter of cache_bytes; 0 = one ranged GET per chunk.
  std::size_t read_ahead_bytes = std::size_t{16} << 20;
};

struct TopicInfo {
  TopicRecord record;
  TopicSettings settings;
};

struct LogStats {
  std::uint64_t flushes = 0;
  std::uint64_t flush_failures = 0;
  std::uint64_t commits = 0;
  std::uint64_t checkpoints = 0;
  std::uint64_t bytes_appended = 0;
  std::uint64_t objects_deleted = 0;  // log objects and checkpoints removed by GC
  std::uint64_t bytes_deleted = 0;
  std::uint64_t orphans_deleted = 0;  // of objects_deleted: never committed / superseded
  std::uint64_t duplicates = 0;       // idempotent batches answered from producer state
};

class LogManager {
 public:
  LogManager(asio::io_context& io, asio::thread_pool& pool, std::shared_ptr<objstore::ObjectStore> objects,
             std::shared_ptr<metastore::MetadataStore> meta, LogOptions options);
  ~LogManager();

  // Takes ownership (fencing older owners of this node id), loads topics and
  // recovers every partition from the checkpoint plus later commit records.
  awaitable<Status> start();
  // Flushes and commits what is pending, writes a checkpoint, stops timers.
  awaitable<void> stop();

  const std::string& cluster_id() const { return cluster_id_; }
  std::uint64_t broker_epoch() const { return epoch_; }
  bool fenced() const { return fenced_; }
  const LogStats& stats() const { return stats_; }
  const ReadCache& cache() const { return cache_; }
  std::size_t buffered_bytes() const { return buffered_bytes_; }
  const LogOptions& options() const { return opt_; }

  // ---- topics ----
  const TopicInfo* topic(const std::string& name) const;
  const TopicInfo* topic_by_id(const TopicId& id) const;
  std::vector<const TopicInfo*> topics() const;
  // Creates a topic (the caller has validated name, count and configs).
  // already_exists if the name is taken.
  awaitable<Result<const TopicInfo*>> create_topic(std::string name, std::int32_t partitions,
                                                   std::map<std::string, std::string> configs);
  // Deletes the topic; its objects are removed once no live range of another
  // partition refers to them and a checkpoint no longer lists them.
  awaitable<Status> delete_topic(const std::string& name);
  // Replaces a topic's explicit configs (the caller has validated them);
  // retention and the other settings apply from then on.
  awaitable<Status> set_topic_configs(const std::string& name,
                                      const std::map<std::string, std::string>& configs);
  // Grows a topic to `count` partitions (the caller has checked count > current).
  awaitable<Status> add_topic_partitions(const std::string& name, std::int32_t count);

  // ---- partitions ----
  PartitionState* partition(const PartitionKey& key);

  // ---- write path ----
  struct Flush;
  // Completion of one flush: set once it is committed (ok) or failed.
  struct Completion {
    Event event;
    Status result;
  };
  struct Ticket {
    std::int64_t base_offset = -1;
    std::shared_ptr<Completion> done;
  };
  // Appends validated batches (`batches` index into `records`). Fails with
  // fenced when another owner took over.
  // With log_append_time_ms >= 0 (message.timestamp.type=LogAppendTime) each
  // batch's max timestamp and timestamp type are rewritten (and its CRC).
  Result<Ticket> append(const PartitionKey& key, std::string_view records,
                        std::span<const protocol::BatchInfo> batches, std::int64_t log_append_time_ms = -1);
  // To wait until the ticket's flush is committed (ok) or failed:
  //   if (co_await t.done->event.wait_until(deadline)) status = t.done->result;
  //   else status = timeout (the outcome is then unknown to the caller).
  static Status timed_out() { return Status(Errc::timeout, "timed out waiting for the flush to commit"); }

  // Appending with idempotent-producer checks. Batches with a producer id are
  // checked against the partition's producer state (one such batch per
  // call): kOk appends; kDuplicate returns the original batch's ticket (its
  // base offset, and its flush's completion when still pending); the other
  // outcomes append nothing and say why in `message`.
  enum class ProducerCheck { kOk, kDuplicate, kOutOfOrder, kInvalidEpoch, kInvalidRecord };
  struct AppendResult {
    Ticket ticket;
    ProducerCheck check = ProducerCheck::kOk;
    std::string message;
  };
  Result<AppendResult> append_batches(const PartitionKey& key, std::string_view records,
                                      std::span<const protocol::BatchInfo> batches,
                                      std::int64_t log_append_time_ms = -1);

  // ---- idempotent producers ----
  // A new producer id, never handed out before by any broker of the cluster:
  // ids come in blocks reserved in the metadata store before use.
  awaitable<Result<std::int64_t>> allocate_producer_id();
  void set_producer_expiration(std::chrono::milliseconds ms) { opt_.producer_expiration = ms; }

  // Dynamic broker configs (Kafka names, e.g. producer.id.expiration.ms) set
  // through AlterConfigs: replaced as a whole, persisted under this broker's
  // keys in the metadata store and applied at once (and at start-up).
  const std::map<std::string, std::string>& dynamic_broker_configs() const { return dynamic_configs_; }
  awaitable<Status> set_dynamic_broker_configs(const std::map<std::string, std::string>& configs);
  // nullptr when the partition has no producer state.
  const ProducerStates* producer_states(const PartitionKey& key) const;

  // ---- retention ----
  // Moves the partition's log start to `offset` (-1: the high watermark) and
  // drops the ranges wholly below it. Returns the new log start;
  // invalid_argument when offset is beyond the high watermark. Call
  // persist() before acknowledging.
  Result<std::int64_t> delete_records(const PartitionKey& key, std::int64_t offset);
  // Applies retention.ms / retention.bytes to every partition now (the
  // checkpointer also does it every checkpoint interval). Returns the number
  // of partitions whose log start moved.
  std::size_t enforce_retention();
  // Writes a checkpoint covering every log start / topic change made so far
  // (several callers share one checkpoint). Objects no longer referenced are
  // deleted after it.
  awaitable<Status> persist();
  // Log objects referenced by at least one live range.
  std::size_t live_objects() const { return object_uses_.size(); }
  // Back-pressure: waits while buffered bytes exceed the limit.
  awaitable<bool> wait_buffer_space(Clock::time_point deadline);

  // ---- read path ----
  struct ReadResult {
    std::vector<Slice> slices;
    std::size_t bytes = 0;
  };
  // Committed batches from `offset` (which must be in [log_start, hwm)), at
  // most max_bytes except that the first batch is always whole (KIP-74).
  awaitable<Result<ReadResult>> read(const PartitionKey& key, std::int64_t offset, std::size_t max_bytes);
  // Earliest record whose timestamp is >= ts (offset -1 when none).
  awaitable<Result<OffsetAndTimestamp>> offset_for_timestamp(const PartitionKey& key, std::int64_t ts);
  // The record with the largest timestamp (offset -1 when the log is empty).
  awaitable<Result<OffsetAndTimestamp>> max_timestamp(const PartitionKey& key);
  // Notified after every commit (wakes long-polling fetches).
  Notifier& commit_notifier() { return commit_notifier_; }

 private:
  struct ObjectUse {
    std::uint64_t size = 0;
    std::size_t ranges = 0;  // live index entries referring to it
  };
  struct PendingChunk {
    std::int64_t base_offset = 0;
    std::int64_t last_offset = 0;
    std::int64_t max_timestamp = -1;
    std::int32_t leader_epoch = 0;
    std::uint32_t batch_count = 0;
    std::string data;
  };

  awaitable<Status> acquire_ownership();
  awaitable<Status> load_topics();
  awaitable<Status> recover();
  Status apply_entries(const std::shared_ptr<const ObjectRef>& obj, const std::vector<ObjectEntry>& entries);
  void add_partitions(const TopicInfo& t);

  template <class F>
  void spawn(F make, const char* what);
  void seal();
  awaitable<void> flush_timer(std::shared_ptr<Flush> flush);
  awaitable<void> put_object(std::shared_ptr<Flush> flush);
  awaitable<void> committer();
  enum class CommitOutcome { applied, rejected, fenced, unknown_then_stopped };
  awaitable<CommitOutcome> commit(Flush& f, Status& error);
  void apply_commit(Flush& f);
  void fail_all(const Status& status);

  awaitable<void> checkpointer();
  awaitable<Status> write_checkpoint();
  awaitable<void> sweep_orphans();
  std::chrono::milliseconds orphan_grace() const;

  // Object reference counting (loop thread).
  void index_push(PartitionState& p, IndexEntry e);
  void unref_object(const std::string& key);
  void trim_index(PartitionState& p);
  bool object_known(const std::string& key) const;
  Status apply_digest(const ProducerDigest& d);
  Flush* find_flush(std::uint64_t id);
  std::int64_t now_wall_ms() const;

  awaitable<Result<Slice>> chunk_data(const IndexEntry& e);
  // One GET of bytes [start, start + length) of an object, awaited by every
  // chunk read that needs bytes inside it (in-flight dedupe).
  struct ObjectFetch {
    Event done;
    Status status;
    std::uint64_t start = 0;
    std::uint64_t length = 0;
    std::shared_ptr<const std::string> bytes;
  };
  std::shared_ptr<ObjectFetch> find_fetch(const std::string& key, std::uint64_t pos, std::uint64_t len) const;
  std::shared_ptr<ObjectFetch> start_fetch(const IndexEntry& e);
  static std::optional<objstore::ByteRange> fetch_range(const ObjectFetch& f, std::uint64_t object_size);
  static Slice fetched_slice(const ObjectFetch& f, std::uint64_t pos, std::uint64_t len);
  void finish_fetch(const std::string& key, const std::shared_ptr<ObjectFetch>& f, Result<std::string> r);

  // Backend calls on the worker pool. Plain functions returning awaitables
  // (not coroutines), and requests are built by plain functions too: g++ 12
  // mishandles some temporaries that live across a co_await.
  awaitable<Result<metastore::TxnResponse>> meta_txn(metastore::TxnRequest t);
  awaitable<Result<std::int64_t>> meta_put(std::string key, std::string value);
  awaitable<Result<std::int64_t>> meta_delete(std::string key);
  awaitable<Result<metastore::RangeResponse>> meta_range(metastore::RangeRequest rq);
  awaitable<Result<std::string>> object_get(std::string key, std::optional<objstore::ByteRange> range);
  awaitable<Status> object_put(std::string key, std::shared_ptr<const ObjectBuffer> bytes);
  std::function<BuiltObject()> build_fn(std::shared_ptr<Flush> f);
  std::function<Status()> checkpoint_fn(std::string key);
  CommitRecord commit_record(const Flush& f) const;
  metastore::TxnRequest commit_txn(std::uint64_t seq, const std::string& value) const;
  metastore::TxnRequest checkpoint_txn(const std::string& object, std::uint64_t covers) const;
  Status fenced_status(std::int64_t new_revision) const;
  TopicInfo& install_topic(TopicRecord rec);
  void remove_topic(std::map<std::string, TopicInfo>::iterator it);

  asio::io_context& io_;
  asio::thread_pool& pool_;
  std::shared_ptr<objstore::ObjectStore> objects_;
  std::shared_ptr<metastore::MetadataStore> meta_;
  LogOptions opt_;

  std::string cluster_id_;
  std::uint64_t epoch_ = 0;     // mod_revision of our ownership key
  std::uint64_t next_seq_ = 1;  // next flush sequence (never reused)
  std::uint64_t last_committed_seq_ = 0;
  std::uint64_t checkpoint_seq_ = 0;  // commits <= this are covered by the checkpoint
  std::size_t commits_since_checkpoint_ = 0;
  bool fenced_ = false;
  bool stopping_ = false;
  Clock::time_point stop_deadline_{};
  bool started_ = false;

  std::map<std::string, TopicInfo> topics_;
  std::unordered_map<PartitionKey, PartitionState, PartitionKeyHash> partitions_;
  // Idempotent-producer state per partition (only partitions that saw one).
  std::unordered_map<PartitionKey, ProducerStates, PartitionKeyHash> producers_;
  std::uint64_t next_flush_id_ = 1;
  std::map<std::string, std::string> dynamic_configs_;
  std::chrono::milliseconds static_producer_expiration_{0};
  void apply_dynamic_configs();
  awaitable<Status> load_dynamic_configs();
  // Completion shared by answers that need no wait (committed duplicates).
  std::shared_ptr<Completion> done_ok_;
  // Producer id block reserved in the metadata store: [pid_next_, pid_end_).
  std::int64_t pid_next_ = 0;
  std::int64_t pid_end_ = 0;
  bool pid_fetching_ = false;
  Notifier pid_notifier_;

  // Garbage collection. Every committed object is in object_uses_ while a
  // live range refers to it, then in dead_objects_ until a checkpoint that
  // no longer lists it (and covers its commit record) is durable.
  std::unordered_map<std::string, ObjectUse> object_uses_;
  std::unordered_map<std::string, std::uint64_t> dead_objects_;  // key -> size
  std::string checkpoint_object_;                                // the durable checkpoint
  std::string checkpoint_writing_;                               // being written
  // Log start / topic changes: made (state_gen_) and in a durable checkpoint.
  std::uint64_t state_gen_ = 0;
  std::uint64_t durable_gen_ = 0;
  Notifier checkpoint_done_;
  // Unknown keys seen by the orphan sweep, with when they were first seen.
  std::unordered_map<std::string, Clock::time_point> orphan_candidates_;
  Clock::time_point next_sweep_{};

  std::shared_ptr<Flush> pending_;
  std::deque<std::shared_ptr<Flush>> sealed_;  // in flush order
  // Emptied chunk buffers of built objects, reused by later flushes.
  std::string take_chunk_buffer(std::size_t reserve);
  void recycle_chunk_buffer(std::string&& b);
  std::vector<std::string> spare_chunks_;
  std::size_t spare_chunk_bytes_ = 0;
  std::size_t buffered_bytes_ = 0;
  std::size_t puts_in_flight_ = 0;
  Notifier sealed_notifier_;  // a flush was sealed / a put finished
  Notifier space_notifier_;   // buffered bytes went down / put slot freed
  Notifier commit_notifier_;
  Notifier checkpoint_wakeup_;
  Event committer_done_;
  Event checkpointer_done_;
  bool checkpoint_running_ = false;

  std::shared_ptr<ObjectBufferPool> buffers_;  // built objects' memory, recycled
  ReadCache cache_;
  // GETs in flight per object key (entries removed when they finish).
  std::unordered_map<std::string, std::vector<std::shared_ptr<ObjectFetch>>> fetches_;
  LogStats stats_;
};

}  // namespace ks::log
