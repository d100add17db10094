// Authorized operations of Metadata v8+ (topics; the cluster in v8-10),
// DescribeCluster and DescribeGroups v3+: the bit set (1 << AclOperation code)
// of the operations the client may perform on the resource, returned only
// when the request asks for it; otherwise Kafka's "not requested" value.
//
// There is no authorizer yet, so a client may perform every operation Kafka
// defines for the resource type (AclEntry.supportedOperations, as Kafka's
// AuthHelper answers without an authorizer). The ACL work replaces these
// constants by the set its checks allow.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <limits>

namespace ks::handlers::authz {

// Kafka's AclOperation codes.
enum class AclOperation : std::int8_t {
  kUnknown = 0,
  kAny = 1,
  kAll = 2,
  kRead = 3,
  kWrite = 4,
  kCreate = 5,
  kDelete = 6,
  kAlter = 7,
  kDescribe = 8,
  kClusterAction = 9,
  kDescribeConfigs = 10,
  kAlterConfigs = 11,
  kIdempotentWrite = 12,
  kCreateTokens = 13,
  kDescribeTokens = 14,
  kTwoPhaseCommit = 15,
};

// The value of an authorized-operations field the request did not ask for.
inline constexpr std::int32_t kNotRequested = std::numeric_limits<std::int32_t>::min();

constexpr std::int32_t bits(std::initializer_list<AclOperation> ops) {
  std::int32_t out = 0;
  for (AclOperation op : ops) out |= std::int32_t{1} << static_cast<int>(op);
  return out;
}

using enum AclOperation;

inline constexpr std::int32_t kTopicOperations =
    bits({kRead, kWrite, kCreate, kDescribe, kDelete, kAlter, kDescribeConfigs, kAlterConfigs});
inline constexpr std::int32_t kGroupOperations =
    bits({kRead, kDescribe, kDelete, kDescribeConfigs, kAlterConfigs});
inline constexpr std::int32_t kClusterOperations =
    bits({kCreate, kClusterAction, kDescribeConfigs, kAlterConfigs, kIdempotentWrite, kAlter, kDescribe});

// What an authorized-operations field holds: the resource type's operations
// when asked for, kNotRequested otherwise.
constexpr std::int32_t topic_operations(bool requested) {
  return requested ? kTopicOperations : kNotRequested;
}
constexpr std::int32_t group_operations(bool requested) {
  return requested ? kGroupOperations : kNotRequested;
}
constexpr std::int32_t cluster_operations(bool requested) {
  return requested ? kClusterOperations : kNotRequested;
}

}  // namespace ks::handlers::authz
