#include "handlers/replica_assignment.h"

#include <algorithm>

namespace ks::handlers {
namespace {

// The replication factor of every KafScale topic as Metadata reports it (the
// partition's leader is its one replica; the object store holds the data).
constexpr std::size_t kStoredReplicas = 1;

AssignmentError invalid(std::string message) {
  AssignmentError e;
  e.message = std::move(message);
  return e;
}

}  // namespace

std::set<std::int32_t> known_brokers(const BrokerContext& b) {
  std::set<std::int32_t> out;
  if (b.cluster != nullptr) {
    for (const auto& e : b.cluster->brokers()) out.insert(e.node);
  } else {
    out.insert(b.node_id);
  }
  return out;
}

std::optional<AssignmentError> check_replica_list(const std::vector<std::int32_t>& brokers,
                                                  const std::set<std::int32_t>& known,
                                                  std::optional<std::size_t> replicas) {
  if (brokers.empty()) return invalid("The manual partition assignment includes an empty replica list.");
  std::vector<std::int32_t> sorted = brokers;
  std::sort(sorted.begin(), sorted.end());
  for (std::size_t i = 0; i < sorted.size(); ++i) {
    if (!known.contains(sorted[i])) {
      return invalid("The manual partition assignment includes broker " + std::to_string(sorted[i]) +
                     ", but no such broker is registered.");
    }
    if (i > 0 && sorted[i] == sorted[i - 1]) {
      return invalid("The manual partition assignment includes the broker " + std::to_string(sorted[i]) +
                     " more than once.");
    }
  }
  if (replicas && sorted.size() != *replicas) {
    return invalid("The manual partition assignment includes a partition with " +
                   std::to_string(sorted.size()) +
                   " replica(s), but this is not consistent with previous partitions, which have " +
                   std::to_string(*replicas) + " replica(s).");
  }
  return std::nullopt;
}

std::optional<AssignmentError> check_new_topic_assignments(std::int32_t num_partitions,
                                                           std::int16_t replication_factor,
                                                           const std::vector<NewTopicAssignment>& assignments,
                                                           const std::set<std::int32_t>& known) {
  if (replication_factor != -1) {
    AssignmentError e{
        protocol::ErrorCode::kInvalidRequest,
        "A manual partition assignment was specified, but replication factor was not set to -1."};
    return e;
  }
  if (num_partitions != -1) {
    AssignmentError e{protocol::ErrorCode::kInvalidRequest,
                      "A manual partition assignment was specified, but numPartitions was not set to -1."};
    return e;
  }
  std::set<std::int32_t> partitions;
  std::optional<std::size_t> replicas;
  for (const auto& a : assignments) {
    if (!partitions.insert(a.partition).second) {
      return invalid("Found multiple manual partition assignments for partition " +
                     std::to_string(a.partition));
    }
    if (auto e = check_replica_list(a.brokers, known, replicas)) return e;
    replicas = a.brokers.size();
  }
  // Distinct indexes: 0..n-1 exactly when the smallest is 0 and the largest n-1.
  if (!partitions.empty() && (*partitions.begin() != 0 ||
                              *partitions.rbegin() != static_cast<std::int32_t>(partitions.size()) - 1)) {
    return invalid("partitions should be a consecutive 0-based integer sequence");
  }
  return std::nullopt;
}

std::optional<AssignmentError> check_new_partition_assignments(
    std::int32_t added, const std::vector<std::vector<std::int32_t>>& assignments,
    const std::set<std::int32_t>& known) {
  if (static_cast<std::int64_t>(assignments.size()) != added) {
    return invalid("Attempted to add " + std::to_string(added) + " additional partition(s), but only " +
                   std::to_string(assignments.size()) + " assignment(s) were specified.");
  }
  for (const auto& brokers : assignments) {
    if (auto e = check_replica_list(brokers, known, kStoredReplicas)) return e;
  }
  return std::nullopt;
}

}  // namespace ks::handlers
