// Manual replica assignments of CreateTopics and CreatePartitions, checked
// the way Kafka's controller does (ReplicationControlManager.createTopic,
// createPartitions, validateManualPartitionAssignment): every broker named
// must be a known broker, at most once per list, and every list must have the
// same number of replicas. KafScale stores one copy per partition (in the
// object store), so the lists only have to be valid; they place nothing.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "handlers/context.h"

namespace ks::handlers {

struct AssignmentError {
  protocol::ErrorCode error = protocol::ErrorCode::kInvalidReplicaAssignment;
  std::string message;
};

// The topic names a CreateTopics or CreatePartitions request lists more than
// once (Kafka refuses each of them with INVALID_REQUEST).
template <class Topics>
std::set<std::string> repeated_names(const Topics& topics) {
  std::set<std::string> seen, repeated;
  for (const auto& t : topics) {
    if (!seen.insert(t.name).second) repeated.insert(t.name);
  }
  return repeated;
}

// The brokers an assignment may name: the live members of the cluster, or
// this broker alone.
std::set<std::int32_t> known_brokers(const BrokerContext& b);

// One partition's replica list: not empty, known brokers, no broker twice,
// `replicas` entries when given.
std::optional<AssignmentError> check_replica_list(const std::vector<std::int32_t>& brokers,
                                                  const std::set<std::int32_t>& known,
                                                  std::optional<std::size_t> replicas);

struct NewTopicAssignment {
  std::int32_t partition = 0;
  std::vector<std::int32_t> brokers;
};

// CreateTopics with assignments: num_partitions and replication_factor must be
// -1 (INVALID_REQUEST), partitions 0..n-1 each once, every list valid and of
// the first list's length.
std::optional<AssignmentError> check_new_topic_assignments(std::int32_t num_partitions,
                                                           std::int16_t replication_factor,
                                                           const std::vector<NewTopicAssignment>& assignments,
                                                           const std::set<std::int32_t>& known);

// CreatePartitions with assignments: one list per new partition, each valid
// and of the topic's replication factor (one: Metadata lists one replica).
std::optional<AssignmentError> check_new_partition_assignments(
    std::int32_t added, const std::vector<std::vector<std::int32_t>>& assignments,
    const std::set<std::int32_t>& known);

}  // namespace ks::handlers
