// Authorized operations of Metadata v8+ (topics; the cluster in v8-10),
// DescribeCluster and DescribeGroups v3+: the bit set (1 << AclOperation code)
// of the operations the client may perform on the resource, returned only
// when the request asks for it; otherwise Kafka's "not requested" value.
//
// With the authorizer off a client may perform every operation Kafka defines
// for the resource type (AclEntry.supportedOperations, as Kafka's AuthHelper
// answers without an authorizer); with it on, the operations the ACLs allow
// the caller.
//
// The checks every handler makes (authorized(), ...) are here too: true when
// the authorizer is off or allows the connection's principal from its host.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <limits>
#include <optional>
#include <string>

#include "protocol/errors.h"
#include "security/acl.h"

namespace ks::handlers {
struct RequestContext;
}

namespace ks::handlers::authz {

using AclOperation = security::AclOperation;
using ResourceType = security::ResourceType;

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

// The authorizer is on (BrokerContext::acls).
bool on(const RequestContext& ctx);
// May the caller perform `op` on the resource? Always with the authorizer off. A denial is
// counted (kafscale_authorizer_denials_total) and logged, rate-limited, unless `audit` is false:
// checks that only filter a listing (Metadata of all topics, ListGroups) or fall back to another
// check are not denials of the request.
bool authorized(const RequestContext& ctx, AclOperation op, ResourceType type, const std::string& name,
                bool audit = true);
inline bool topic(const RequestContext& ctx, AclOperation op, const std::string& name, bool audit = true) {
  return authorized(ctx, op, ResourceType::kTopic, name, audit);
}
inline bool group(const RequestContext& ctx, AclOperation op, const std::string& name, bool audit = true) {
  return authorized(ctx, op, ResourceType::kGroup, name, audit);
}
bool cluster(const RequestContext& ctx, AclOperation op, bool audit = true);
// What a request addressed to a group's coordinator fails with before it reaches it:
// GROUP_AUTHORIZATION_FAILED without `op` on the group, COORDINATOR_NOT_AVAILABLE without a
// coordinator; nullopt: go on.
std::optional<protocol::ErrorCode> group_refusal(const RequestContext& ctx, AclOperation op,
                                                 const std::string& group);
// The check `topic(ctx, op, name)` as a function that outlives the request
// (the connection's principal and host, the broker's current ACLs); null with
// the authorizer off. Not audited: it filters (regex subscriptions).
std::function<bool(const std::string& topic)> topic_filter(const RequestContext& ctx, AclOperation op);
// On some resource of the type (Kafka's authorizeByResourceType).
bool any(const RequestContext& ctx, AclOperation op, ResourceType type);

// The authorized-operations field for the caller: kNotRequested unless
// requested; the type's operations with the authorizer off; else those allowed
// (for the cluster: 0 unless DESCRIBE on it is allowed, as Kafka answers).
std::int32_t topic_operations(const RequestContext& ctx, bool requested, const std::string& name);
std::int32_t group_operations(const RequestContext& ctx, bool requested, const std::string& name);
std::int32_t cluster_operations(const RequestContext& ctx, bool requested);

}  // namespace ks::handlers::authz
