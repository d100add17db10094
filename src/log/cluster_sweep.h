// ClusterSweep: object liveness across brokers (docs/ARCHITECTURE.md, "Many
// brokers", object liveness). Run by the controller only.
//
// Once streams move, an object can be referenced by the state of several
// brokers, and a broker deletes only objects whose streams are all its own.
// What nobody deletes otherwise, this pass does, by mark and sweep:
//
// - Mark, from ONE consistent read of the metadata store (a transaction of
//   three ranges): every stream checkpoint pointer, every commit record of
//   every node, the live members. Referenced = the objects of every commit
//   record + the objects indexed by every stream's current checkpoint (one
//   GET per stream: at most cluster::kMaxStreams, whatever the partitions).
//   Any read failing aborts the pass: nothing is deleted on a partial mark.
// - Commit records of nodes that are not live members: a record is deleted
//   once every stream it carries has a checkpoint pointer that names another
//   node or covers it (its data was taken over and checkpointed). Compared
//   on the node still not being a member. (Live nodes delete their own.)
// - Sweep: bucket keys under objects/ and streams/ that are neither
//   referenced nor a current checkpoint become candidates; a candidate still
//   unreferenced `grace` after it was first seen is deleted. Never
//   candidates: objects of a live node above its last commit (a flush in
//   flight) and checkpoints of a live node at or above its stream's pointer
//   (a checkpoint being written).
//
// Blocking: call it on a worker thread, one pass at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>

#include "common/async.h"
#include "common/status.h"
#include "metastore/metadata_store.h"
#include "objstore/object_store.h"

namespace ks::log {

struct ClusterSweepOptions {
  std::int32_t streams = 1;  // the cluster's stream count
  // How long a key stays unreferenced before it is deleted.
  std::chrono::milliseconds grace{std::chrono::minutes(10)};
  // Most deletions (objects + commit records) in one pass; the rest waits for the next.
  std::size_t max_deletes_per_pass = 10'000;
};

struct ClusterSweepStats {
  std::size_t referenced = 0;  // objects referenced by checkpoints and commit records
  std::size_t listed = 0;      // keys listed under objects/ and streams/
  std::size_t candidates = 0;  // unreferenced, waiting out the grace
  std::size_t objects_deleted = 0;
  std::size_t checkpoints_deleted = 0;
  std::size_t commits_deleted = 0;
  std::uint64_t bytes_deleted = 0;
};

class ClusterSweep {
 public:
  ClusterSweep(std::shared_ptr<objstore::ObjectStore> objects, std::shared_ptr<metastore::MetadataStore> meta,
               ClusterSweepOptions options);

  // One mark-and-sweep pass at `now` (monotonic).
  Result<ClusterSweepStats> run_once(Clock::time_point now);

 private:
  std::shared_ptr<objstore::ObjectStore> objects_;
  std::shared_ptr<metastore::MetadataStore> meta_;
  ClusterSweepOptions opt_;
  // Unreferenced keys and when a pass first saw them so.
  std::unordered_map<std::string, Clock::time_point> candidates_;
};

}  // namespace ks::log
