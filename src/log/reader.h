// LogReader: the read path. Committed data from the read cache or from the
// object store: a miss reads ahead (one GET of the whole object, or a window
// of it) and concurrent misses on the same bytes share one GET.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/async.h"
#include "common/status.h"
#include "log/log_shared.h"
#include "protocol/batch_scan.h"

namespace ks::log {

using protocol::OffsetAndTimestamp;

class LogReader {
 public:
  struct ReadResult {
    std::vector<Slice> slices;
    std::size_t bytes = 0;
  };

  explicit LogReader(LogShared& s) : s_(s) {}

  // Committed batches from `offset` (which must be in [log_start, hwm)), at
  // most max_bytes except that the first batch is always whole (KIP-74).
  awaitable<Result<ReadResult>> read(const PartitionKey& key, std::int64_t offset, std::size_t max_bytes);
  // Earliest record whose timestamp is >= ts (offset -1 when none).
  awaitable<Result<OffsetAndTimestamp>> offset_for_timestamp(const PartitionKey& key, std::int64_t ts);
  // The record with the largest timestamp (offset -1 when the log is empty).
  awaitable<Result<OffsetAndTimestamp>> max_timestamp(const PartitionKey& key);

 private:
  // One GET of bytes [start, start + length) of an object, awaited by every
  // chunk read that needs bytes inside it (in-flight dedupe).
  struct ObjectFetch {
    Event done;
    Status status;
    std::uint64_t start = 0;
    std::uint64_t length = 0;
    std::shared_ptr<const std::string> bytes;
  };

  awaitable<Result<Slice>> chunk_data(const IndexEntry& e);
  std::shared_ptr<ObjectFetch> find_fetch(const std::string& key, std::uint64_t pos, std::uint64_t len) const;
  std::shared_ptr<ObjectFetch> start_fetch(const IndexEntry& e);
  static std::optional<objstore::ByteRange> fetch_range(const ObjectFetch& f, std::uint64_t object_size);
  static Slice fetched_slice(const ObjectFetch& f, std::uint64_t pos, std::uint64_t len);
  void finish_fetch(const std::string& key, const std::shared_ptr<ObjectFetch>& f, Result<std::string> r);

  LogShared& s_;
  // GETs in flight per object key (entries removed when they finish).
  std::unordered_map<std::string, std::vector<std::shared_ptr<ObjectFetch>>> fetches_;
};

}  // namespace ks::log
