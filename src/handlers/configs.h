// Config descriptions shared by DescribeConfigs, AlterConfigs and
// IncrementalAlterConfigs: Kafka's resource types, config sources and types,
// the topic configs (cluster/topic_config.h) and the broker configs we expose.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cluster/broker_config.h"
#include "handlers/context.h"

namespace ks::handlers::configs {

// ConfigResource.Type
inline constexpr std::int8_t kResourceTopic = 2;
inline constexpr std::int8_t kResourceBroker = 4;
inline constexpr std::int8_t kResourceBrokerLogger = 8;
inline constexpr std::int8_t kResourceGroup = 32;

// DescribeConfigs ConfigSource
inline constexpr std::int8_t kSourceTopic = 1;
inline constexpr std::int8_t kSourceDynamicBroker = 2;
inline constexpr std::int8_t kSourceDynamicDefaultBroker = 3;
inline constexpr std::int8_t kSourceStaticBroker = 4;
inline constexpr std::int8_t kSourceDefault = 5;
inline constexpr std::int8_t kSourceGroup = 8;

// DescribeConfigs ConfigType
inline constexpr std::int8_t kTypeBoolean = 1;
inline constexpr std::int8_t kTypeString = 2;
inline constexpr std::int8_t kTypeInt = 3;
inline constexpr std::int8_t kTypeLong = 5;
inline constexpr std::int8_t kTypeDouble = 6;
inline constexpr std::int8_t kTypeList = 7;

// IncrementalAlterConfigs operations
inline constexpr std::int8_t kOpSet = 0;
inline constexpr std::int8_t kOpDelete = 1;
inline constexpr std::int8_t kOpAppend = 2;
inline constexpr std::int8_t kOpSubtract = 3;

struct Synonym {
  std::string name;
  std::optional<std::string> value;
  std::int8_t source = kSourceDefault;
};

struct Entry {
  std::string name;
  std::optional<std::string> value;
  bool read_only = false;
  std::int8_t source = kSourceDefault;
  std::int8_t type = 0;
  std::vector<Synonym> synonyms;
  std::string doc;  // DescribeConfigs documentation (include_documentation)
};

// A topic's configs: its own values over the cluster-wide dynamic defaults
// (cluster::ClusterState::default_broker_configs()) over Kafka's defaults.
std::vector<Entry> describe_topic(const cluster::TopicInfo& t,
                                  const cluster::BrokerConfigMap& cluster_default);
// This broker's configs (BROKER resource named by its id).
std::vector<Entry> describe_broker(const BrokerContext& b);
// The cluster-wide dynamic configs set (BROKER resource ""), as Kafka lists them.
std::vector<Entry> describe_broker_defaults(const BrokerContext& b);
// A group's configs (GROUP resource): its explicit values over the broker's.
std::vector<Entry> describe_group(const coordinator::GroupCoordinator& groups, const std::string& group);

// A BROKER resource name: "" (the cluster-wide defaults) or this broker's id;
// Kafka's INVALID_REQUEST message otherwise.
std::optional<std::string> broker_resource_error(const BrokerContext& b, const std::string& name);

bool is_list_config(const std::string& topic_config_name);

}  // namespace ks::handlers::configs
