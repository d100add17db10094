// KIP-848 consumer groups: the state of a group of the "consumer" protocol
// and the per-member reconcile step (Kafka's CurrentAssignmentBuilder).
//
// The group epoch is bumped whenever what the assignor sees changes (a member
// joins or leaves, a subscription changes, a subscribed topic is created or
// grows). The target assignment is then recomputed at that epoch. Each member
// moves towards its target on its own heartbeats: it first revokes what its
// target no longer holds (UNREVOKED_PARTITIONS, member epoch unchanged), then
// takes the epoch of the target and gets the new partitions that no other
// member still owns (UNRELEASED_PARTITIONS until they are released), then is
// STABLE. A partition is never owned by two members at once.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/async.h"
#include "common/regex.h"
#include "coordinator/assignors.h"
#include "coordinator/types.h"

namespace ks::coordinator {

enum class MemberState : std::int8_t { kStable, kUnrevokedPartitions, kUnreleasedPartitions };
std::string_view member_state_name(MemberState s);

// Member epochs with a meaning of their own (ConsumerGroupHeartbeat).
constexpr std::int32_t kJoinEpoch = 0;
constexpr std::int32_t kLeaveEpoch = -1;
constexpr std::int32_t kStaticLeaveEpoch = -2;

struct ConsumerMember {
  std::string id;
  std::optional<std::string> instance_id;
  std::optional<std::string> rack_id;
  std::string client_id;
  std::string client_host;
  std::vector<std::string> topic_names;  // sorted, unique
  std::optional<std::string> regex;
  // May this member's principal DESCRIBE the topic? Topics its regex matches
  // that it may not are left out (null: the authorizer is off). Updated at
  // every heartbeat, so ACL changes apply within a heartbeat interval.
  std::function<bool(const std::string& topic)> may_describe;
  std::string server_assignor;  // empty: the group's default
  std::int32_t rebalance_timeout_ms = 0;

  std::int32_t epoch = 0;
  std::int32_t previous_epoch = 0;
  MemberState state = MemberState::kStable;
  Assignment assigned;            // owned and usable
  Assignment pending_revocation;  // owned, to be given up

  Clock::time_point session_deadline;
  std::optional<Clock::time_point> revocation_deadline;  // while kUnrevokedPartitions
};

// The member's next state towards `target` (its partitions in the target
// assignment of epoch `target_epoch`). `owned` is what the member reported
// owning in this heartbeat (nullopt: not reported). `free_elsewhere(t, p)`
// tells whether no other member owns partition p of t.
template <class FreeFn>
ConsumerMember reconcile(const ConsumerMember& m, std::int32_t target_epoch, const Assignment& target,
                         const std::optional<Assignment>& owned, FreeFn free_elsewhere) {
  ConsumerMember next = m;
  if (m.state == MemberState::kStable && m.epoch == target_epoch) return next;
  if (m.state == MemberState::kUnrevokedPartitions) {
    // Waits until the member reports it no longer owns the revoked partitions.
    if (!owned || !intersect(*owned, m.pending_revocation).empty()) return next;
  }
  // What it keeps and what it must revoke (revocations it acknowledged are released).
  Assignment keep = intersect(m.assigned, target);
  Assignment revoke = minus(m.assigned, target);
  if (!revoke.empty()) {
    next.assigned = std::move(keep);
    next.pending_revocation = std::move(revoke);
    next.state = MemberState::kUnrevokedPartitions;
    return next;
  }
  Assignment grant = keep;
  bool unreleased = false;
  for (const auto& [t, ps] : minus(target, keep)) {
    for (auto p : ps) {
      if (free_elsewhere(t, p)) {
        grant[t].insert(p);
      } else {
        unreleased = true;
      }
    }
  }
  next.assigned = std::move(grant);
  next.pending_revocation.clear();
  next.state = unreleased ? MemberState::kUnreleasedPartitions : MemberState::kStable;
  if (m.epoch != target_epoch) {
    next.previous_epoch = m.epoch;
    next.epoch = target_epoch;
  }
  next.revocation_deadline.reset();
  return next;
}

struct ConsumerGroupState {
  std::int32_t group_epoch = 0;
  std::int32_t assignment_epoch = 0;  // epoch of `target`
  std::map<std::string, ConsumerMember> members;
  std::map<std::string, std::string> instances;  // instance id -> member id
  TargetAssignment target;
  // Owner of each owned partition (assigned or pending revocation).
  std::map<std::pair<cluster::TopicId, std::int32_t>, std::string> owners;
  // Subscribed topics as last seen: name -> (id, partitions). A change bumps the group epoch.
  std::map<std::string, std::pair<cluster::TopicId, std::int32_t>> subscribed_topics;
  std::map<std::string, Regex> regexes;  // compiled, by pattern (members' regexes only)
  bool dirty = false;                    // changed since last written to the metadata store
};

// Kafka's consumer group states: "Empty", "Assigning", "Reconciling", "Stable".
std::string_view consumer_group_state(const ConsumerGroupState& cg);

// ---- ConsumerGroupHeartbeat, independent of the wire version ----

struct ConsumerHeartbeatParams {
  std::string group_id;
  std::string member_id;
  std::int32_t member_epoch = 0;
  std::optional<std::string> instance_id;
  std::optional<std::string> rack_id;
  std::int32_t rebalance_timeout_ms = -1;
  std::optional<std::vector<std::string>> topic_names;
  std::optional<std::string> topic_regex;
  std::function<bool(const std::string& topic)> may_describe;  // ConsumerMember::may_describe
  std::optional<std::string> server_assignor;
  std::optional<Assignment> owned;
  bool client_generates_member_id = false;  // v1+
  std::string client_id;
  std::string client_host;
};

struct ConsumerHeartbeatResult {
  ErrorCode error = ErrorCode::kNone;
  std::optional<std::string> error_message;
  std::string member_id;
  std::int32_t member_epoch = 0;
  std::int32_t heartbeat_interval_ms = 0;
  std::optional<Assignment> assignment;  // nullopt: unchanged
};

struct ConsumerMemberDescription {
  std::string member_id;
  std::optional<std::string> instance_id;
  std::optional<std::string> rack_id;
  std::int32_t member_epoch = 0;
  std::string client_id;
  std::string client_host;
  std::vector<std::string> topic_names;
  std::optional<std::string> topic_regex;
  Assignment assignment;
  Assignment target;
};

struct ConsumerGroupDescription {
  ErrorCode error = ErrorCode::kNone;
  std::optional<std::string> error_message;
  std::string group_id;
  std::string state;
  std::int32_t group_epoch = 0;
  std::int32_t assignment_epoch = 0;
  std::string assignor;
  std::vector<ConsumerMemberDescription> members;
};

}  // namespace ks::coordinator
