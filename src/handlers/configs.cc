#include "handlers/configs.h"

#include <charconv>

#include "cluster/topic_config.h"
#include "coordinator/coordinator.h"

namespace ks::handlers::configs {
namespace {

std::int8_t type_of(cluster::TopicConfigSpec::Type t) {
  using T = cluster::TopicConfigSpec::Type;
  switch (t) {
    case T::kLong:
      return kTypeLong;
    case T::kInt:
      return kTypeInt;
    case T::kString:
      return kTypeString;
    case T::kBool:
      return kTypeBoolean;
    case T::kDouble:
      return kTypeDouble;
    case T::kList:
      return kTypeList;
  }
  return 0;
}

// A broker config that can be set at run time: the per-broker value, then
// the cluster-wide one, then `value` (what the broker started with, or
// Kafka's default when it equals `kafka_default`).
Entry dynamic(std::string name, std::string value, const char* kafka_default, std::int8_t type,
              std::string doc, const cluster::BrokerConfigMap& per_broker,
              const cluster::BrokerConfigMap& cluster_default) {
  Entry e;
  e.doc = std::move(doc);
  e.name = std::move(name);
  e.type = type;
  if (auto it = per_broker.find(e.name); it != per_broker.end())
    e.synonyms.push_back(Synonym{e.name, it->second, kSourceDynamicBroker});
  if (auto it = cluster_default.find(e.name); it != cluster_default.end())
    e.synonyms.push_back(Synonym{e.name, it->second, kSourceDynamicDefaultBroker});
  if (value != kafka_default) e.synonyms.push_back(Synonym{e.name, value, kSourceStaticBroker});
  e.synonyms.push_back(Synonym{e.name, std::string(kafka_default), kSourceDefault});
  e.value = e.synonyms.front().value;
  e.source = e.synonyms.front().source;
  return e;
}

Entry fixed(std::string name, std::string value, std::int8_t type, std::string doc,
            std::int8_t source = kSourceStaticBroker) {
  Entry e;
  e.doc = std::move(doc);
  e.name = std::move(name);
  e.value = std::move(value);
  e.read_only = true;
  e.source = source;
  e.type = type;
  e.synonyms.push_back(Synonym{e.name, e.value, source});
  return e;
}

// Kafka's producer.id.expiration.ms default (one day).
constexpr const char* kDefaultProducerExpirationMs = "86400000";

}  // namespace

std::vector<Entry> describe_topic(const cluster::TopicInfo& t,
                                  const cluster::BrokerConfigMap& cluster_default) {
  std::vector<Entry> out;
  const cluster::BrokerConfigMap defaults = cluster::topic_defaults(cluster_default);
  for (const auto& spec : cluster::topic_config_specs()) {
    Entry e;
    e.name = spec.name;
    e.type = type_of(spec.type);
    e.doc = spec.doc;
    auto it = t.record.configs.find(spec.name);
    if (it != t.record.configs.end()) e.synonyms.push_back(Synonym{spec.name, it->second, kSourceTopic});
    // The cluster-wide config that sets the default, under its own name and value.
    if (const cluster::LogConfigSynonym* syn = cluster::topic_default_source(cluster_default, spec.name)) {
      e.synonyms.push_back(
          Synonym{syn->broker_name, cluster_default.at(syn->broker_name), kSourceDynamicDefaultBroker});
    }
    e.synonyms.push_back(Synonym{spec.name, std::string(spec.default_value), kSourceDefault});
    e.source = e.synonyms.front().source;
    if (it != t.record.configs.end()) {
      e.value = it->second;
    } else if (auto d = defaults.find(spec.name); d != defaults.end()) {
      e.value = d->second;
    } else {
      e.value = spec.default_value;
    }
    out.push_back(std::move(e));
  }
  return out;
}

std::vector<Entry> describe_broker(const BrokerContext& b) {
  std::vector<Entry> out;
  const auto& opt = b.log.options();
  const std::string id = std::to_string(b.node_id);
  out.push_back(fixed("broker.id", id, kTypeInt, "Id of this broker (--node-id)."));
  out.push_back(fixed("node.id", id, kTypeInt, "Id of this broker (--node-id), as broker.id."));
  std::string advertised;
  for (const auto& l : b.listeners) {
    if (!advertised.empty()) advertised += ",";
    advertised += l.name + "://" + (l.host.find(':') != std::string::npos ? "[" + l.host + "]" : l.host) +
                  ":" + std::to_string(l.port);
  }
  if (advertised.empty()) {
    advertised = "PLAINTEXT://" + b.advertised_host + ":" + std::to_string(b.advertised_port);
  }
  out.push_back(fixed("advertised.listeners", advertised, kTypeString,
                      "The addresses clients are told to connect to, per listener."));
  out.push_back(fixed("auto.create.topics.enable", b.auto_create_topics ? "true" : "false", kTypeBoolean,
                      "Whether a Metadata or Produce request for an unknown topic creates it."));
  out.push_back(fixed("num.partitions", std::to_string(b.default_partitions), kTypeInt,
                      "Partitions of an automatically created topic."));
  out.push_back(fixed("default.replication.factor", "1", kTypeInt,
                      "Replication factor of new topics: one replica, stored in the object store.",
                      kSourceDefault));
  // Defaults of topic configs: cluster-wide dynamic configs (cluster/broker_config.h).
  const cluster::BrokerConfigMap& per_broker = b.log.dynamic_broker_configs();
  const cluster::BrokerConfigMap& cluster_default = b.log.cluster().default_broker_configs();
  auto log_default = [&](const char* name, const char* kafka_default, std::int8_t type, const char* doc) {
    out.push_back(dynamic(name, kafka_default, kafka_default, type, doc, per_broker, cluster_default));
  };
  log_default("min.insync.replicas", "1", kTypeInt, "Replicas that must acknowledge an acks=all write.");
  log_default("message.max.bytes", "1048588", kTypeInt,
              "Largest record batch a topic accepts unless its max.message.bytes says otherwise.");
  log_default("log.cleanup.policy", "delete", kTypeList,
              "Retention policy of topics; only delete is supported.");
  log_default(
      "compression.type", "producer", kTypeString,
      "Default of topics' compression.type: producer stores batches as the producer compressed them.");
  log_default("log.message.timestamp.type", "CreateTime", kTypeString,
              "Default of topics' message.timestamp.type.");
  log_default("log.retention.ms", "604800000", kTypeLong,
              "How long records are kept unless a topic's retention.ms says otherwise.");
  log_default("log.retention.minutes", "10080", kTypeInt,
              "log.retention.ms in minutes (when it is not set).");
  log_default("log.retention.hours", "168", kTypeInt,
              "log.retention.ms in hours (when neither ms nor minutes is set).");
  log_default("log.retention.bytes", "-1", kTypeLong,
              "Largest partition size unless a topic's retention.bytes says otherwise; -1 for no limit.");
  // Retention is applied on every checkpoint interval.
  out.push_back(
      fixed("log.retention.check.interval.ms", std::to_string(opt.checkpoint_interval.count()), kTypeLong,
            "How often retention is applied: every checkpoint interval (--checkpoint-interval-ms)."));
  out.push_back(dynamic("producer.id.expiration.ms", std::to_string(opt.producer_expiration.count()),
                        kDefaultProducerExpirationMs, kTypeInt,
                        "How long the state of an idle idempotent producer is kept (dynamic: AlterConfigs).",
                        per_broker, cluster_default));
  return out;
}

std::vector<Entry> describe_group(const coordinator::GroupCoordinator& groups, const std::string& group) {
  std::vector<Entry> out;
  const coordinator::GroupConfigMap* explicit_configs = groups.group_configs(group);
  // Kafka's defaults of the broker-wide synonyms.
  const coordinator::Options kafka_defaults;
  for (const auto& spec : coordinator::group_config_specs()) {
    Entry e;
    e.name = std::string(spec.name);
    e.type = kTypeInt;
    e.doc = std::string(spec.doc);
    if (explicit_configs != nullptr) {
      auto it = explicit_configs->find(e.name);
      if (it != explicit_configs->end()) e.synonyms.push_back(Synonym{e.name, it->second, kSourceGroup});
    }
    const std::string broker_value = coordinator::group_config_default(spec, groups.options());
    const std::string kafka_default = coordinator::group_config_default(spec, kafka_defaults);
    if (broker_value != kafka_default) {
      e.synonyms.push_back(Synonym{std::string(spec.broker_name), broker_value, kSourceStaticBroker});
    }
    e.synonyms.push_back(Synonym{std::string(spec.broker_name), kafka_default, kSourceDefault});
    e.value = e.synonyms.front().value;
    e.source = e.synonyms.front().source;
    out.push_back(std::move(e));
  }
  return out;
}

std::vector<Entry> describe_broker_defaults(const BrokerContext& b) {
  std::vector<Entry> out;
  for (const auto& [name, value] : b.log.cluster().default_broker_configs()) {
    Entry e;
    e.name = name;
    e.value = value;
    e.source = kSourceDynamicDefaultBroker;
    e.type = kTypeInt;  // producer.id.expiration.ms, log.retention.hours...
    const cluster::LogConfigSynonym* syn = cluster::find_log_config_synonym(name);
    const cluster::TopicConfigSpec* spec =
        syn != nullptr ? cluster::find_topic_config(syn->topic_name) : nullptr;
    if (spec != nullptr && syn->scale == 1) e.type = type_of(spec->type);
    e.doc = "Cluster-wide dynamic broker config.";
    e.synonyms.push_back(Synonym{name, value, kSourceDynamicDefaultBroker});
    out.push_back(std::move(e));
  }
  return out;
}

std::optional<std::string> broker_resource_error(const BrokerContext& b, const std::string& name) {
  if (name.empty()) return std::nullopt;
  std::int64_t id = 0;
  auto [p, ec] = std::from_chars(name.data(), name.data() + name.size(), id);
  if (ec != std::errc() || p != name.data() + name.size() || id < INT32_MIN || id > INT32_MAX)
    return "Node id must be an integer, but it is: " + name;
  if (id != b.node_id) {
    return "Unexpected broker id, expected " + std::to_string(b.node_id) + ", but received " + name;
  }
  return std::nullopt;
}

bool is_list_config(const std::string& name) {
  const auto* spec = cluster::find_topic_config(name);
  return spec != nullptr && spec->type == cluster::TopicConfigSpec::Type::kList;
}

}  // namespace ks::handlers::configs
