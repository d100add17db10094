// LogLifecycle: what keeps the log bounded and restartable.
// - Checkpoints: every checkpoint interval (or after checkpoint_max_commits
//   commit records) a snapshot of every partition (checkpoint.h) is PUT and
//   ONE fenced transaction points /ks/brokers/<n>/checkpoint at it and deletes
//   the commit records it covers, so metadata keys stay bounded.
// - Retention (retention.ms / retention.bytes), DeleteRecords and DeleteTopics
//   move log starts; objects whose last live range is gone are deleted once a
//   durable checkpoint no longer lists them.
// - The orphan sweep deletes objects and checkpoints nothing refers to
//   (failed flushes, crashes) after a grace period.
// - Recovery (recovery.cc): checkpoint + the commit records after it.
#pragma once

#include <chrono>
#include <string>
#include <unordered_map>

#include "common/async.h"
#include "common/status.h"
#include "log/log_shared.h"

namespace ks::log {

class LogLifecycle {
 public:
  explicit LogLifecycle(LogShared& s) : s_(s) {}

  // Rebuilds every partition from the checkpoint plus later commit records
  // (before start()), then starts a new leader epoch for each.
  awaitable<Status> recover();
  // Starts the checkpointer (a critical task: see common/task.h).
  void start();
  // Lets the checkpointer finish, then writes a final checkpoint when
  // anything is not covered yet (not when fenced).
  awaitable<void> stop();

  // Moves the partition's log start to `offset` (-1: the high watermark).
  Result<std::int64_t> delete_records(const PartitionKey& key, std::int64_t offset);
  // Applies retention.ms / retention.bytes to every partition now; returns
  // the number of partitions whose log start moved.
  std::size_t enforce_retention();
  // Writes a checkpoint covering every log start / topic change made so far
  // (several callers share one checkpoint).
  awaitable<Status> persist();

 private:
  awaitable<Status> checkpointer();
  awaitable<Status> write_checkpoint();
  awaitable<void> sweep_orphans();
  void expire_producers();
  std::chrono::milliseconds orphan_grace() const;
  std::function<Status()> checkpoint_fn(std::string key);
  metastore::TxnRequest checkpoint_txn(const std::string& object, std::uint64_t covers) const;
  bool needs_checkpoint() const;
  // Recovery steps (recovery.cc).
  awaitable<Status> load_checkpoint();
  awaitable<Status> replay_commits(std::size_t& replayed);
  Status apply_entries(const std::shared_ptr<const ObjectRef>& obj, const std::vector<ObjectEntry>& entries);
  void apply_digest(const ProducerDigest& d);

  LogShared& s_;
  std::string checkpoint_object_;   // the durable checkpoint
  std::string checkpoint_writing_;  // being written
  bool checkpoint_running_ = false;
  Notifier checkpoint_done_;
  Event checkpointer_done_;
  bool running_ = false;
  // Unknown keys seen by the orphan sweep, with when they were first seen.
  std::unordered_map<std::string, Clock::time_point> orphan_candidates_;
  Clock::time_point next_sweep_{};
};

}  // namespace ks::log
