// Inputs and outputs of the group coordinator, independent of the wire
// format (handlers translate the Kafka messages of every version).
//
// Calls that may wait (join, sync, commit, delete) return a shared object
// holding an Event and the result: the handler co_awaits `done` (g++ 12 needs
// completions as shared objects rather than awaitables returned across
// translation units, see docs/ARCHITECTURE.md).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/async.h"
#include "protocol/errors.h"

namespace ks::coordinator {

using protocol::ErrorCode;

// Settings, with Kafka's names and defaults. The broker fills them from its
// configuration (src/broker/config.h: flag > environment > YAML).
// The group timeouts, with Kafka's names and defaults; the broker's configuration holds them as they
// are (src/broker/config.h: Config::group).
struct GroupTimeouts {
  std::chrono::milliseconds min_session_timeout{6000};      // group.min.session.timeout.ms
  std::chrono::milliseconds max_session_timeout{1800000};   // group.max.session.timeout.ms
  std::chrono::milliseconds initial_rebalance_delay{3000};  // group.initial.rebalance.delay.ms
  // KIP-848 consumer groups (consumer_group.h).
  std::chrono::milliseconds consumer_session_timeout{45000};    // group.consumer.session.timeout.ms
  std::chrono::milliseconds consumer_heartbeat_interval{5000};  // group.consumer.heartbeat.interval.ms
  // Bounds of the per-group overrides (group_configs.h) and of the two above.
  std::chrono::milliseconds consumer_min_session_timeout{45000};  // group.consumer.min.session.timeout.ms
  std::chrono::milliseconds consumer_max_session_timeout{60000};  // group.consumer.max.session.timeout.ms
  std::chrono::milliseconds consumer_min_heartbeat_interval{
      5000};  // group.consumer.min.heartbeat.interval.ms
  std::chrono::milliseconds consumer_max_heartbeat_interval{
      15000};  // group.consumer.max.heartbeat.interval.ms
};

// Settings, with Kafka's names and defaults. The broker fills them from its
// configuration (src/broker/config.h: flag > environment > YAML).
struct Options : GroupTimeouts {
  std::int32_t node_id = 0;
  // Groups with explicit configs (group_configs.h), cluster-wide.
  std::size_t max_group_configs = 10000;
  std::size_t consumer_max_size = 10000;                                     // group.consumer.max.size
  std::chrono::milliseconds offsets_retention{std::chrono::minutes(10080)};  // offsets.retention.minutes
  std::chrono::milliseconds retention_check_interval{600000};  // offsets.retention.check.interval.ms
  std::size_t max_metadata_bytes = 4096;                       // offset.metadata.max.bytes
  std::size_t max_group_size = 10000;                          // group.max.size (Kafka: unbounded)
  // Groups this coordinator holds at once (each costs memory; new ones beyond
  // get COORDINATOR_NOT_AVAILABLE).
  std::size_t max_groups = 100000;
  // Commits arriving within this window share one metadata transaction.
  std::chrono::milliseconds commit_linger{2};
  // Lag series exported on /metrics (group x topic); more pairs are counted,
  // not exported.
  std::size_t max_lag_series = 1000;
  std::chrono::milliseconds lag_interval{2000};
};

enum class GroupState { kEmpty, kPreparingRebalance, kCompletingRebalance, kStable, kDead };
std::string_view state_name(GroupState s);  // Kafka's names: "Empty", "Stable", ...

struct Protocol {
  std::string name;
  std::string metadata;
};

struct JoinParams {
  std::string group_id;
  std::string member_id;
  std::optional<std::string> instance_id;
  std::string protocol_type;
  std::vector<Protocol> protocols;
  std::int32_t session_timeout_ms = 0;
  std::int32_t rebalance_timeout_ms = -1;  // <= 0: the session timeout (v0)
  std::string client_id;
  std::string client_host;
  bool require_known_member_id = false;   // JoinGroup v4+
  bool supports_skip_assignment = false;  // JoinGroup v9+
};

struct JoinMember {
  std::string member_id;
  std::optional<std::string> instance_id;
  std::string metadata;
};

struct JoinResult {
  ErrorCode error = ErrorCode::kNone;
  std::int32_t generation = -1;
  std::optional<std::string> protocol_type;
  std::optional<std::string> protocol_name;
  std::string leader;
  std::string member_id;
  bool skip_assignment = false;
  std::vector<JoinMember> members;  // the leader's copy only
};

struct JoinWait {
  Event done;
  JoinResult result;
};

struct SyncParams {
  std::string group_id;
  std::int32_t generation = -1;
  std::string member_id;
  std::optional<std::string> instance_id;
  std::optional<std::string> protocol_type;
  std::optional<std::string> protocol_name;
  std::vector<std::pair<std::string, std::string>> assignments;  // member id, assignment
};

struct SyncResult {
  ErrorCode error = ErrorCode::kNone;
  std::optional<std::string> protocol_type;
  std::optional<std::string> protocol_name;
  std::string assignment;
};

struct SyncWait {
  Event done;
  SyncResult result;
};

struct LeaveMember {
  std::string member_id;
  std::optional<std::string> instance_id;
};

struct LeaveResult {
  ErrorCode error = ErrorCode::kNone;
  std::vector<ErrorCode> members;  // one per LeaveMember
};

struct CommitPartition {
  std::string topic;
  std::int32_t partition = 0;
  std::int64_t offset = 0;
  std::int32_t leader_epoch = -1;
  std::optional<std::string> metadata;
};

struct CommitParams {
  std::string group_id;
  std::int32_t generation = -1;  // < 0: a simple (non-group) commit
  std::string member_id;
  std::optional<std::string> instance_id;
  std::vector<CommitPartition> partitions;
  // OffsetCommit v9+: a group commit (generation >= 0) to a group that does
  // not exist answers GROUP_ID_NOT_FOUND; older versions ILLEGAL_GENERATION.
  bool group_not_found_error = false;
  // OffsetCommit v9+: `generation` is a KIP-848 member epoch when the group
  // is a consumer group (older versions cannot commit for its members).
  bool member_epoch_version = false;
};

struct CommitWait {
  Event done;
  std::vector<ErrorCode> errors;  // one per CommitParams::partitions entry
};

struct FetchedOffset {
  std::int32_t partition = 0;
  std::int64_t offset = -1;
  std::int32_t leader_epoch = -1;
  std::string metadata;
  ErrorCode error = ErrorCode::kNone;
};

struct FetchedTopic {
  std::string name;
  std::vector<FetchedOffset> partitions;
};

struct FetchResult {
  ErrorCode error = ErrorCode::kNone;
  std::vector<FetchedTopic> topics;
};

// What to fetch: nullopt = every topic the group has offsets for.
using TopicPartitions = std::vector<std::pair<std::string, std::vector<std::int32_t>>>;

struct MemberDescription {
  std::string member_id;
  std::optional<std::string> instance_id;
  std::string client_id;
  std::string client_host;
  std::string metadata;
  std::string assignment;
};

struct GroupDescription {
  ErrorCode error = ErrorCode::kNone;
  std::string group_id;
  std::string state;
  std::string protocol_type;
  std::string protocol;
  std::vector<MemberDescription> members;
};

struct GroupListing {
  std::string group_id;
  std::string protocol_type;
  std::string state;
  std::string type;  // "classic" or "consumer" (KIP-848)
};

struct DeleteGroupsWait {
  Event done;
  std::vector<ErrorCode> errors;  // one per group asked for
};

struct OffsetDeleteWait {
  Event done;
  ErrorCode error = ErrorCode::kNone;
  std::vector<std::pair<std::string, std::vector<std::pair<std::int32_t, ErrorCode>>>> topics;
};

}  // namespace ks::coordinator
