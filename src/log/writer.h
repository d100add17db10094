// LogWriter: the write path. append -> seal -> PUT -> commit.
//
// append_batches() assigns offsets at once (so a connection can pipeline),
// copies the batches into the pending flush and returns a ticket. A flush
// (timer from its first byte, or flush_bytes) becomes ONE object holding
// every partition's new data; after its PUT, ONE metadata transaction (a
// commit record carrying the cluster state's fence) makes it visible. Commits
// apply strictly in flush order; only then do high watermarks move and
// tickets complete. A failed flush rolls every log end offset back to its
// high watermark and fails all later flushes too.
#pragma once

#include <deque>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/async.h"
#include "common/status.h"
#include "log/log_shared.h"
#include "protocol/record_batch.h"

namespace ks::log {

class LogWriter {
 public:
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
  enum class ProducerCheck { kOk, kDuplicate, kOutOfOrder, kInvalidEpoch, kInvalidRecord };
  struct AppendResult {
    Ticket ticket;
    ProducerCheck check = ProducerCheck::kOk;
    std::string message;
  };

  explicit LogWriter(LogShared& s);
  ~LogWriter();

  // Starts the committer (a critical task: see common/task.h).
  void start();
  // Seals what is pending and lets the committer finish (bounded by
  // stop_deadline when a commit outcome stays unknown); returns when it has.
  awaitable<void> stop();

  Result<AppendResult> append_batches(const PartitionKey& key, std::string_view records,
                                      std::span<const protocol::BatchInfo> batches,
                                      std::int64_t log_append_time_ms);
  awaitable<bool> wait_buffer_space(Clock::time_point deadline);
  std::size_t buffered_bytes() const { return buffered_bytes_; }
  // Whether a flush not yet committed or failed holds data of `stream`.
  bool carries(std::int32_t stream) const;
  // Seals the pending flush now (a release does not wait for the timer).
  void seal_pending();

 private:
  struct PendingChunk {
    std::int64_t base_offset = 0;
    std::int64_t last_offset = 0;
    std::int64_t max_timestamp = -1;
    std::int32_t leader_epoch = 0;
    std::uint32_t batch_count = 0;
    std::string data;
  };
  enum class CommitOutcome { applied, rejected, fenced, unknown_then_stopped };

  Result<AppendResult> check_producer(const PartitionKey& key, std::span<const protocol::BatchInfo> batches,
                                      std::int64_t now, bool& idempotent, std::int32_t& last_seq);
  void seal();
  awaitable<Status> flush_timer(std::shared_ptr<Flush> flush);
  awaitable<Status> put_object(std::shared_ptr<Flush> flush);
  awaitable<Status> committer();
  awaitable<CommitOutcome> commit(Flush& f, Status& error);
  void apply_commit(Flush& f);
  void fail_all(const Status& status);
  Flush* find_flush(std::uint64_t id);

  std::function<BuiltObject()> build_fn(std::shared_ptr<Flush> f);
  awaitable<Status> object_put(std::string key, std::shared_ptr<const ObjectBuffer> bytes);
  metastore::TxnRequest commit_txn(std::uint64_t seq, std::uint64_t streams, const std::string& value) const;
  std::string take_chunk_buffer(std::size_t reserve);
  void recycle_chunk_buffer(std::string&& b);

  LogShared& s_;
  std::uint64_t next_flush_id_ = 1;
  std::shared_ptr<Flush> pending_;
  std::deque<std::shared_ptr<Flush>> sealed_;  // in flush order
  // Completion shared by answers that need no wait (committed duplicates).
  std::shared_ptr<Completion> done_ok_;
  // Emptied chunk buffers of built objects, reused by later flushes.
  std::vector<std::string> spare_chunks_;
  std::size_t spare_chunk_bytes_ = 0;
  std::size_t buffered_bytes_ = 0;
  std::size_t puts_in_flight_ = 0;
  std::shared_ptr<ObjectBufferPool> buffers_;  // built objects' memory, recycled
  Notifier sealed_notifier_;                   // a flush was sealed / a put finished
  Notifier space_notifier_;                    // buffered bytes went down / put slot freed
  Event committer_done_;
  bool running_ = false;
};

}  // namespace ks::log
