// Producer ids for idempotent producers, never handed out twice by any broker
// of the cluster: blocks of kProducerIdBlock ids are reserved with one
// compare-and-set of /ks/producer-ids before any id of the block is used.
#pragma once

#include <cstdint>
#include <memory>

#include "common/async.h"
#include "common/status.h"
#include "metastore/metadata_store.h"

namespace ks::cluster {

inline constexpr std::int64_t kProducerIdBlock = 1000;

// Reserves the next block; returns its first id (blocking: run on a pool).
Result<std::int64_t> reserve_producer_ids(metastore::MetadataStore& m);

class ProducerIdAllocator {
 public:
  ProducerIdAllocator(asio::thread_pool& pool, std::shared_ptr<metastore::MetadataStore> meta)
      : pool_(pool), meta_(std::move(meta)) {}
  // Loop thread only; concurrent callers share one reservation.
  awaitable<Result<std::int64_t>> allocate();

 private:
  asio::thread_pool& pool_;
  std::shared_ptr<metastore::MetadataStore> meta_;
  // The reserved block: [next_, end_).
  std::int64_t next_ = 0;
  std::int64_t end_ = 0;
  bool fetching_ = false;
  Notifier fetched_;
};

}  // namespace ks::cluster
