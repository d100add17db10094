// What the parts of the log (writer, reader, lifecycle) share: settings,
// backends, the cluster state, the partition table, the read cache, the
// commit position and the stop flags. Owned by LogManager; loop thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>

#include "cluster/cluster_state.h"
#include "cluster/streams.h"
#include "common/async.h"
#include "log/object_buffer.h"
#include "log/object_format.h"
#include "log/partition_table.h"
#include "log/read_cache.h"
#include "metastore/async.h"
#include "objstore/async.h"

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
  // (Kafka's producer.id.expiration.ms, default one day; a dynamic broker
  // config overrides it, see ClusterState::producer_expiration()).
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

// A log stream this broker owns (cluster/streams.h).
struct OwnedStream {
  std::int32_t id = 0;
  cluster::Fence fence;           // its owner key at the revision we wrote
  std::int32_t leader_epoch = 0;  // placement epoch it was granted with
  bool loaded = false;            // its partitions are rebuilt: readable
  bool closed = true;             // no appends (being rebuilt or handed over)
  std::string checkpoint_object;  // its durable checkpoint ("" when none)
};

// Where the commit stream of this broker stands.
struct CommitPosition {
  std::uint64_t next_seq = 1;           // next flush sequence (never reused)
  std::uint64_t last_committed = 0;     // highest committed flush sequence
  std::uint64_t checkpoint_covers = 0;  // commits <= this are in the durable checkpoint
  std::size_t since_checkpoint = 0;     // commit records the checkpoint does not cover yet
};

struct LogShared {
  LogShared(asio::io_context& io, asio::thread_pool& pool,
            std::shared_ptr<objstore::ObjectStore> object_store,
            std::shared_ptr<metastore::MetadataStore> meta_store, cluster::ClusterState& cluster_state,
            const LogOptions& options)
      : io(io),
        pool(pool),
        objects(pool, std::move(object_store)),
        meta(pool, std::move(meta_store)),
        cluster(cluster_state),
        opt(options),
        cache(options.cache_bytes) {}

  asio::io_context& io;
  asio::thread_pool& pool;
  objstore::AsyncObjectStore objects;
  metastore::AsyncMetadataStore meta;
  cluster::ClusterState& cluster;
  LogOptions opt;

  PartitionTable table;
  ReadCache cache;
  LogStats stats;
  CommitPosition position;
  // Log start / topic changes: made (state_gen) and in a durable checkpoint.
  std::uint64_t state_gen = 0;
  std::uint64_t durable_gen = 0;
  // Streams this broker owns, and those with commits or state changes their
  // durable checkpoint does not hold yet (a mask).
  std::map<std::int32_t, OwnedStream> streams;
  std::uint64_t dirty_streams = 0;
  // Per stream, the last of our commits that carried it (a checkpoint taken
  // before it does not make the stream clean).
  std::map<std::int32_t, std::uint64_t> last_commit_of;

  bool started = false;
  bool stopping = false;
  Clock::time_point stop_deadline{};

  Notifier commit_notifier;    // after every commit (long-polling fetches)
  Notifier checkpoint_wakeup;  // enough commit records for an early checkpoint, or stop

  std::int32_t node() const { return opt.node_id; }
  OwnedStream* stream(std::int32_t id) {
    auto it = streams.find(id);
    return it == streams.end() ? nullptr : &it->second;
  }
  std::uint64_t owned_mask() const {
    std::uint64_t m = 0;
    for (const auto& [id, s] : streams) m |= stream_bit(id);
    return m;
  }
  // Every stream of the cluster is ours: nobody else can refer to our objects.
  bool owns_all_streams() const { return static_cast<std::int32_t>(streams.size()) == cluster.streams(); }
  std::uint64_t epoch() const { return cluster.broker_epoch(); }
  bool fenced() const { return cluster.fenced(); }
};

}  // namespace ks::log
