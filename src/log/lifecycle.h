// LogLifecycle: what keeps the log bounded and restartable.
// - Streams: acquire() takes streams over (owner keys), rebuilds their
//   partitions from each stream's checkpoint plus the commit records after
//   it, and checkpoints them before the first append; release() checkpoints
//   a stream and marks it released for its next owner (recovery.cc).
// - Checkpoints: every checkpoint interval (or after checkpoint_max_commits
//   commit records) a snapshot of each changed stream (checkpoint.h) is PUT
//   and ONE fenced transaction points /ks/streams/<s>/checkpoint at them and
//   deletes the commit records they cover (not those a stream that moved
//   away still needs), so metadata keys stay bounded.
// - Retention (retention.ms / retention.bytes), DeleteRecords and DeleteTopics
//   move log starts; objects whose last live range is gone are deleted once a
//   durable checkpoint no longer lists them.
// - The orphan sweep deletes objects and checkpoints nothing refers to
//   (failed flushes, crashes) after a grace period.
// - Recovery (recovery.cc): checkpoint + the commit records after it.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/async.h"
#include "common/status.h"
#include "log/checkpoint.h"
#include "log/log_shared.h"
#include "log/records.h"

namespace ks::log {

class LogLifecycle {
 public:
  explicit LogLifecycle(LogShared& s) : s_(s) {}

  // Where this node's commit sequence stands (before anything else): after
  // its last commit record or the highest sequence a checkpoint covers.
  awaitable<Status> init_position();
  struct Grant {
    std::int32_t stream = 0;
    std::int32_t leader_epoch = 0;  // the placement epoch (0: one more than before)
    // The owner key's mod revision the caller decided on (0: absent). The
    // key is taken only if it is still that, so an owner the caller had not
    // seen yet is never fenced. -1: taken whatever it is (a single broker).
    std::int64_t expect_owner_revision = -1;
  };
  // Takes the streams over (writing their owner keys fences every earlier
  // owner), rebuilds their partitions (the caller added them to the table),
  // starts a new leader epoch in each and checkpoints them.
  awaitable<Status> acquire(const std::vector<Grant>& grants);
  // Checkpoints streams the writer no longer holds data of (one transaction)
  // and marks them released; the caller then drops their partitions.
  awaitable<Status> release(const std::vector<std::int32_t>& streams);
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
  enum class CheckpointMode { round, acquire, release };
  // Checkpoints `streams` (round: the changed ones of all owned) in one
  // fenced transaction; a round also deletes the commit records covered.
  awaitable<Status> checkpoint_streams(const std::vector<std::int32_t>& streams, CheckpointMode mode);
  awaitable<Status> write_checkpoint();
  metastore::TxnRequest checkpoint_txn(const std::vector<std::int32_t>& streams,
                                       const std::vector<std::string>& objects, std::uint64_t covers,
                                       std::uint64_t delete_to, CheckpointMode mode) const;
  std::shared_ptr<Checkpoint> snapshot(std::int32_t stream, std::uint64_t covers) const;
  // The highest commit sequence of this node every stream that moved away has in its checkpoint.
  awaitable<Result<std::uint64_t>> deletable_commits(std::uint64_t covers);
  // Every stream's checkpoint pointer (/ks/streams/<s>/checkpoint), by stream.
  awaitable<Result<std::map<std::int32_t, CheckpointPointer>>> stream_pointers();
  awaitable<void> sweep_orphans();
  void expire_producers();
  std::chrono::milliseconds orphan_grace() const;
  bool needs_checkpoint() const;
  // Recovery steps (recovery.cc). `from`: per stream being rebuilt, the
  // first commit sequence of the node it still needs.
  using StreamStarts = std::map<std::int32_t, std::uint64_t>;
  awaitable<Status> take_owner_key(const Grant& g);
  awaitable<Result<CheckpointPointer>> load_stream_checkpoint(std::int32_t stream);
  awaitable<Status> replay_commits(std::int32_t node, const StreamStarts& from, std::size_t& replayed);
  Status apply_entries(const std::shared_ptr<const ObjectRef>& obj, const std::vector<ObjectEntry>& entries,
                       std::uint64_t seq, const StreamStarts& from);
  void apply_digest(const ProducerDigest& d, std::uint64_t seq, const StreamStarts& from);

  LogShared& s_;
  std::set<std::string> checkpoints_writing_;  // being written
  bool checkpoint_running_ = false;
  Notifier checkpoint_done_;
  Event checkpointer_done_;
  bool running_ = false;
  // Unknown keys seen by the orphan sweep, with when they were first seen.
  std::unordered_map<std::string, Clock::time_point> orphan_candidates_;
  Clock::time_point next_sweep_{};
};

}  // namespace ks::log
