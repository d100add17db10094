// PartitionTable: the state of every partition this broker leads, shared by
// the writer, the reader and the lifecycle (loop thread only):
// - each partition's offsets, leader epochs and index of committed ranges;
// - each partition's idempotent-producer state;
// - object liveness: how many live ranges refer to each log object, and the
//   objects no live range refers to any more (deleted after the next durable
//   checkpoint, which no longer lists them and covers their commit records).
//
// Invariants (checked in every build, see common/assert.h):
//   log_start <= hwm <= leo; hwm and log_start only move forward;
//   the index is ascending and contiguous and ends at hwm.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "cluster/topic.h"
#include "common/status.h"
#include "log/checkpoint.h"
#include "log/partition.h"
#include "log/producer_state.h"

namespace ks::log {

class PartitionTable {
 public:
  using Partitions = std::unordered_map<PartitionKey, PartitionState, PartitionKeyHash>;
  using Producers = std::unordered_map<PartitionKey, ProducerStates, PartitionKeyHash>;

  PartitionState* find(const PartitionKey& key);
  const PartitionState* find(const PartitionKey& key) const;
  Partitions& partitions() { return partitions_; }
  const Partitions& partitions() const { return partitions_; }
  std::size_t size() const { return partitions_.size(); }

  // A partition of `stream`. `fresh`: a new partition starts in leader
  // epoch 0 at offset 0 (recovery sets the state of loaded ones).
  void add(const PartitionKey& key, std::int32_t stream, bool fresh);
  // Drops the topic's partitions, their producer state and their ranges.
  void remove_topic(const TopicId& topic, std::int32_t partitions);
  // Drops every partition of a stream (released to another broker): its
  // objects are not ours alone any more, so none becomes dead here.
  void remove_stream(std::int32_t stream);

  // ---- committed ranges ----
  // Appends a committed range at the partition's end; moves hwm (and leo
  // when it was behind, as in recovery) to the range's end.
  void push_range(PartitionState& p, IndexEntry e);
  // Sets a partition's state from a checkpoint (read from the object store:
  // checked, never asserted on; corrupt when inconsistent).
  Status restore(PartitionState& p, PartitionSnapshot&& s);
  // Moves the log start forward to `offset` (<= hwm) and drops the ranges
  // wholly below it. Returns whether it moved.
  bool advance_log_start(PartitionState& p, std::int64_t offset);

  // ---- idempotent producers ----
  ProducerStates* producers(const PartitionKey& key);
  const ProducerStates* producers(const PartitionKey& key) const;
  ProducerStates& producers_for(const PartitionKey& key) { return producers_[key]; }
  Producers& all_producers() { return producers_; }

  // ---- object liveness ----
  // Objects referenced by at least one live range.
  std::size_t live_objects() const { return object_uses_.size(); }
  bool object_known(const std::string& key) const;
  // An object committed with no live range (its topics were deleted): dead
  // at once, deleted after the next checkpoint.
  void note_unreferenced(const ObjectRef& o);
  bool has_dead_objects() const { return !dead_objects_.empty(); }
  // Takes the dead objects this broker may delete: those whose every stream
  // is in `owned` (a stream mask), so no other broker can refer to them.
  // The others are forgotten: another broker may still read them (the
  // cluster-wide sweep decides; docs/ARCHITECTURE.md, object liveness).
  std::vector<ObjectRef> take_dead_objects(std::uint64_t owned);
  // Gives back objects whose deletion did not happen (checkpoint failed).
  void restore_dead_object(const ObjectRef& o) { dead_objects_.emplace(o.key, o); }

  // Aborts (release builds too) when `p` breaks an invariant.
  static void check(const PartitionState& p);

 private:
  struct ObjectUse {
    std::uint64_t size = 0;
    std::uint64_t streams = kAllStreams;
    std::size_t ranges = 0;  // live index entries referring to it
  };
  void unref_object(const std::string& key, bool may_die = true);

  Partitions partitions_;
  // Only partitions that saw an idempotent producer.
  Producers producers_;
  std::unordered_map<std::string, ObjectUse> object_uses_;
  std::unordered_map<std::string, ObjectRef> dead_objects_;
};

}  // namespace ks::log
