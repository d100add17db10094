// Dynamic broker configs (BROKER config resources, Kafka's DynamicBrokerConfig):
// which names may change at run time, at which level, and what they mean.
//
// Two levels, as Kafka: the cluster-wide default (resource name "", source
// DYNAMIC_DEFAULT_BROKER_CONFIG) and one broker (resource name = its id,
// source DYNAMIC_BROKER_CONFIG); per broker > cluster default > static flag >
// Kafka's default.
//
// - Log configs (log.retention.ms, message.max.bytes, compression.type...)
//   are the broker-wide defaults of topic configs (log_config_synonyms()):
//   a topic without its own value takes the cluster default. KafScale takes
//   them only cluster-wide: a partition moves between brokers, so a default
//   of one broker would change with its owner (Kafka accepts them per broker).
// - producer.id.expiration.ms at both levels.
// - Every other name is refused (INVALID_REQUEST, as Kafka's validation
//   failures are): read-only names with Kafka's "Cannot update these configs
//   dynamically", names KafScale has no use for with the reason.
//
// Pure: no I/O; cluster_state.cc stores and applies, handlers/ answer.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ks::cluster {

using BrokerConfigMap = std::map<std::string, std::string>;

// A broker config that sets the default of a topic config.
struct LogConfigSynonym {
  const char* broker_name;  // log.retention.hours
  const char* topic_name;   // retention.ms
  std::int64_t scale;       // topic value = broker value * scale (3600000 for hours)
};
const std::vector<LogConfigSynonym>& log_config_synonyms();
const LogConfigSynonym* find_log_config_synonym(std::string_view broker_name);

inline constexpr std::string_view kProducerIdExpiration = "producer.id.expiration.ms";

// Checks one alteration of a level's dynamic configs: `next` is the whole map
// after the operations, `changed` the names the request touched. nullopt when
// it may be stored, else the message (INVALID_REQUEST).
std::optional<std::string> validate_dynamic_broker_configs(const BrokerConfigMap& next,
                                                           const std::vector<std::string>& changed,
                                                           bool per_broker);

// The topic-config defaults a cluster-wide default map sets (retention.ms from
// log.retention.ms, else .minutes, else .hours, as Kafka's precedence).
BrokerConfigMap topic_defaults(const BrokerConfigMap& cluster_default);
// The cluster-wide config that sets topic config `topic_name`'s default (the
// one topic_defaults() takes); nullptr when none does.
const LogConfigSynonym* topic_default_source(const BrokerConfigMap& cluster_default,
                                             std::string_view topic_name);

// The effective value of `name` over the two dynamic levels; nullopt when
// neither sets it. `source` tells which (true: per broker).
struct DynamicValue {
  std::string value;
  bool per_broker = false;
};
std::optional<DynamicValue> dynamic_value(const BrokerConfigMap& per_broker,
                                          const BrokerConfigMap& cluster_default, std::string_view name);

// Stored form of one level's map (JSON {"v":1,"configs":{...}}).
std::string encode_broker_configs(const BrokerConfigMap& configs);
// nullopt when unreadable.
std::optional<BrokerConfigMap> decode_broker_configs(const std::string& json);

}  // namespace ks::cluster
