// Server-side assignors of KIP-848 consumer groups: `uniform` (the default)
// and `range`. Pure functions of the members' subscriptions, the subscribed
// topics' partition counts and the previous target assignment.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/types.h"

namespace ks::coordinator {

// Partitions by topic id (a topic re-created under the same name is another
// topic). Empty sets are never stored.
using Assignment = std::map<cluster::TopicId, std::set<std::int32_t>>;

std::size_t partition_count(const Assignment& a);
bool contains(const Assignment& a, const cluster::TopicId& t, std::int32_t p);
// a minus b, a intersect b, a union b.
Assignment minus(const Assignment& a, const Assignment& b);
Assignment intersect(const Assignment& a, const Assignment& b);
Assignment unite(const Assignment& a, const Assignment& b);

struct AssignorMember {
  std::set<cluster::TopicId> topics;  // subscribed topics that exist
  Assignment previous;                // its previous target (stickiness)
};

struct AssignmentSpec {
  std::map<std::string, AssignorMember> members;        // by member id
  std::map<cluster::TopicId, std::int32_t> partitions;  // every subscribed topic's partition count
};

using TargetAssignment = std::map<std::string, Assignment>;  // member id -> partitions

// Balances the partitions of each topic over the members subscribed to it:
// counts differ by at most one between members with the same subscription,
// and a partition stays with its previous owner when balance allows.
TargetAssignment assign_uniform(const AssignmentSpec& spec);
// Per topic, the members subscribed to it (by member id) get consecutive
// ranges: the first P mod M members one partition more (co-partitioning).
TargetAssignment assign_range(const AssignmentSpec& spec);

constexpr std::string_view kUniformAssignor = "uniform";
constexpr std::string_view kRangeAssignor = "range";
// Known server assignor names (UNSUPPORTED_ASSIGNOR otherwise).
bool known_assignor(std::string_view name);
TargetAssignment run_assignor(std::string_view name, const AssignmentSpec& spec);

}  // namespace ks::coordinator
