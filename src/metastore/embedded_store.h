// EmbeddedMetadataStore: an in-process MetadataStore with etcd v3 semantics,
// persisted in a directory. Used for `make run`, tests and single-node setups.
//
// Durability: every write is appended to a log (frames with CRC32C, see wal.h)
// and fdatasync'ed before the call returns, and only then becomes visible to
// readers and watchers. When the log passes a size threshold the whole state
// is written to a snapshot (temp file, fsync, rename, fsync dir) and a new log
// is started. open() loads the snapshot, replays the log and truncates a torn
// tail, so a crash at any instant loses nothing that was acknowledged.
//
// Files in dir: LOCK (flock'ed by the owning process), snapshot,
// wal-<generation>.log; snapshot.tmp and stale logs are removed by open().
//
// Threads: writers are serialised (one fsync per write, no group commit);
// reads run concurrently with each other and with a writer's fsync. A lease
// expiry thread revokes expired leases; a notifier thread runs watch
// callbacks in revision order, never while holding the store lock.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>

#include "metastore/metadata_store.h"
#include "metastore/mvcc_state.h"

namespace ks::metastore {

struct EmbeddedOptions {
  // The log is folded into a new snapshot once it grows past this.
  std::size_t snapshot_threshold_bytes = 64u << 20;
  // Space for current keys plus history, like etcd's --quota-backend-bytes
  // (whose default is 2 GiB on disk; this one lives in memory). Puts fail with
  // nospace beyond it until the caller compacts or deletes.
  std::size_t quota_bytes = 512u << 20;
  // Upper bound on how late the expiry thread notices an expired lease.
  std::chrono::milliseconds lease_check_interval{100};
};

class WatchHub;

class EmbeddedMetadataStore final : public MetadataStore {
 public:
  // Creates `dir` if missing. unavailable if another open instance (in this or
  // another process) holds the directory; corrupt if the snapshot is damaged
  // or the log is damaged anywhere but its tail.
  static Result<std::unique_ptr<EmbeddedMetadataStore>> open(std::string dir, EmbeddedOptions opts = {});

  ~EmbeddedMetadataStore() override;
  EmbeddedMetadataStore(const EmbeddedMetadataStore&) = delete;
  EmbeddedMetadataStore& operator=(const EmbeddedMetadataStore&) = delete;

  Result<RangeResponse> range(const RangeRequest& req) override;
  Result<std::int64_t> put(const std::string& key, const std::string& value, LeaseId lease = 0) override;
  Result<std::int64_t> delete_range(const std::string& key, const std::string& range_end = {}) override;
  Result<TxnResponse> txn(const TxnRequest& req) override;

  // TTLs below 1 s are raised to 1 s; above kMaxLeaseTtlSeconds -> invalid_argument.
  Result<LeaseId> lease_grant(std::int64_t ttl_seconds) override;
  Status lease_keepalive(LeaseId id) override;
  Status lease_revoke(LeaseId id) override;

  // Destroying the returned Watch cancels it; once the destructor returns no
  // callback of it runs (when destroyed from inside its own callback, only
  // that running call finishes). Callbacks must not destroy the store. When
  // the store is destroyed, live watches receive a final `cancelled` status.
  Result<std::unique_ptr<Watch>> watch(const std::string& key, const std::string& range_end,
                                       std::int64_t start_revision, WatchCallback cb) override;
  Status compact(std::int64_t revision) override;
  std::string describe() const override;  // "embedded:<dir>"

  // Writes a snapshot and starts a new log now (normally done by size).
  Status snapshot_now();

  struct Stats {
    std::int64_t revision = 0;
    std::int64_t compact_revision = 0;
    std::size_t log_bytes = 0;
    std::uint64_t log_generation = 0;
    std::uint64_t snapshots_written = 0;
    std::size_t history_events = 0;
    std::size_t bytes_used = 0;
    std::size_t leases = 0;
    std::size_t watches = 0;
  };
  Stats stats() const;
  const std::string& dir() const { return dir_; }

  // etcd's MaxLeaseTTL.
  static constexpr std::int64_t kMaxLeaseTtlSeconds = 9'000'000'000;
  // Live watches per store; more -> limit_exceeded.
  static constexpr std::size_t kMaxWatches = 10'000;
  // Events handed to one callback call (whole revisions; a revision larger
  // than this is still delivered in one call).
  static constexpr std::size_t kMaxEventsPerCallback = 1000;

 private:
  using Clock = std::chrono::steady_clock;
  struct LeaseTimer {
    std::int64_t ttl = 0;
    Clock::time_point deadline;
  };

  EmbeddedMetadataStore(std::string dir, EmbeddedOptions opts, int lock_fd);
  Status recover();
  Status replay_log(const std::string& path);
  void start_threads();

  Result<TxnResponse> write_txn(const TxnRequest& req);
  // Appends one record to the log and fsyncs it. Requires writer_mu_.
  Status persist(std::string_view payload);
  Status revoke_locked(LeaseId id, bool only_if_expired);
  void maybe_snapshot();
  Status snapshot_locked();
  void notify_watchers();

  void expiry_loop();
  void notifier_loop();

  const std::string dir_;
  const EmbeddedOptions opts_;
  const int lock_fd_;

  // Lock order: writer_mu_ -> state_mu_ -> hub mutex; writer_mu_ -> lease_mu_.
  mutable std::mutex writer_mu_;  // one writer at a time, held across the fsync
  int log_fd_ = -1;
  std::uint64_t log_gen_ = 1;
  std::size_t log_bytes_ = 0;
  std::size_t snapshot_at_bytes_ = 0;  // next size that triggers a snapshot
  std::uint64_t snapshots_written_ = 0;
  // Set after an fsync failure: the log's durable state is unknown, so all
  // further writes are refused (reads keep working).
  bool failed_ = false;
  std::string failure_;

  mutable std::shared_mutex state_mu_;  // exclusive only to apply a persisted write
  internal::MvccState state_;

  mutable std::mutex lease_mu_;
  std::condition_variable expiry_cv_;
  std::map<LeaseId, LeaseTimer> timers_;
  bool stopping_ = false;

  std::shared_ptr<WatchHub> hub_;
  std::thread expiry_thread_;
  std::thread notifier_thread_;
};

}  // namespace ks::metastore
