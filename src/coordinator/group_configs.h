// Per-group configs (KIP-848's GROUP config resource): the overrides of a
// consumer group's session timeout and heartbeat interval that
// DescribeConfigs / (Incremental)AlterConfigs read and change, with Kafka's
// names, bounds and messages (Kafka's GroupConfig).
//
// Stored one key per group (cluster/keys.h group_config) as
// {"v":1,"configs":{name:value}}, independent of whether the group exists, as
// Kafka keeps them. Every broker mirrors them (GroupCoordinator watches the
// prefix), so a change made through any broker reaches the group's
// coordinator, which uses it from the members' next heartbeat on.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "coordinator/types.h"

namespace ks::coordinator {

using GroupConfigMap = std::map<std::string, std::string>;

inline constexpr std::string_view kConsumerSessionTimeoutConfig = "consumer.session.timeout.ms";
inline constexpr std::string_view kConsumerHeartbeatIntervalConfig = "consumer.heartbeat.interval.ms";

struct GroupConfigSpec {
  std::string_view name;         // the group config
  std::string_view broker_name;  // its broker-wide default (Kafka's synonym)
  std::string_view doc;
};
// Every group config, in the order DescribeConfigs lists them.
const std::vector<GroupConfigSpec>& group_config_specs();
const GroupConfigSpec* find_group_config(std::string_view name);

// The broker-wide value of a group config (Options), as a string.
std::string group_config_default(const GroupConfigSpec& spec, const Options& o);

// nullopt when the explicit set is acceptable, else Kafka's INVALID_CONFIG
// message: unknown names, values that are not integers >= 1, bounds
// (group.consumer.min/max.*), heartbeat interval below the session timeout.
std::optional<std::string> validate_group_configs(const GroupConfigMap& configs, const Options& o);

struct EffectiveGroupConfig {
  std::chrono::milliseconds session_timeout;
  std::chrono::milliseconds heartbeat_interval;
};
// The values in force for a group: its explicit configs (null: none) over the
// broker's. A value the store holds but that no longer parses falls back to the
// broker's (it was validated when written).
EffectiveGroupConfig effective_group_config(const GroupConfigMap* configs, const Options& o);

std::string encode_group_configs(const GroupConfigMap& configs);
Result<GroupConfigMap> decode_group_configs(std::string_view value);

}  // namespace ks::coordinator
