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

std::vector<Entry> describe_topic(const cluster::TopicInfo& t) {
  std::vector<Entry> out;
  for (const auto& spec : cluster::topic_config_specs()) {
    Entry e;
    e.name = spec.name;
    e.type = type_of(spec.type);
    e.doc = spec.doc;
    auto it = t.record.configs.find(spec.name);
    if (it != t.record.configs.end()) {
      e.value = it->second;
      e.source = kSourceTopic;
      e.synonyms.push_back(Synonym{spec.name, it->second, kSourceTopic});
    } else {
      e.value = spec.default_value;
      e.source = kSourceDefault;
    }
    e.synonyms.push_back(Synonym{spec.name, std::string(spec.default_value), kSourceDefault});
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
  out.push_back(fixed("min.insync.replicas", "1", kTypeInt,
                      "Replicas that must acknowledge an acks=all write.", kSourceDefault));
  out.push_back(fixed("message.max.bytes", "1048588", kTypeInt,
                      "Largest record batch a topic accepts unless its max.message.bytes says otherwise.",
                      kSourceDefault));
  out.push_back(fixed("log.cleanup.policy", "delete", kTypeList,
                      "Retention policy of topics; only delete is supported.", kSourceDefault));
  out.push_back(
      fixed("compression.type", "producer", kTypeString,
            "Default of topics' compression.type: batches are stored as the producer compressed them.",
            kSourceDefault));
  out.push_back(fixed("log.retention.ms", "604800000", kTypeLong,
                      "How long records are kept unless a topic's retention.ms says otherwise.",
                      kSourceDefault));
  out.push_back(fixed("log.retention.hours", "168", kTypeInt, "log.retention.ms in hours.", kSourceDefault));
  out.push_back(
      fixed("log.retention.bytes", "-1", kTypeLong,
            "Largest partition size unless a topic's retention.bytes says otherwise; -1 for no limit.",
            kSourceDefault));
  // Retention is applied on every checkpoint interval.
  out.push_back(
      fixed("log.retention.check.interval.ms", std::to_string(opt.checkpoint_interval.count()), kTypeLong,
            "How often retention is applied: every checkpoint interval (--checkpoint-interval-ms)."));
  Entry pe;
  pe.name = "producer.id.expiration.ms";
  pe.type = kTypeInt;
  pe.doc = "How long the state of an idle idempotent producer is kept (dynamic: AlterConfigs).";
  const auto& dyn = b.log.dynamic_broker_configs();
  auto it = dyn.find(pe.name);
  if (it != dyn.end()) {
    pe.value = it->second;
    pe.source = kSourceDynamicBroker;
    pe.synonyms.push_back(Synonym{pe.name, it->second, kSourceDynamicBroker});
  } else {
    pe.value = std::to_string(opt.producer_expiration.count());
    pe.source = pe.value == kDefaultProducerExpirationMs ? kSourceDefault : kSourceStaticBroker;
  }
  pe.synonyms.push_back(Synonym{pe.name, std::string(kDefaultProducerExpirationMs), kSourceDefault});
  out.push_back(std::move(pe));
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

bool is_this_broker(const BrokerContext& b, const std::string& name) {
  return name.empty() || name == std::to_string(b.node_id);
}

bool is_dynamic_broker_config(const std::string& name) { return name == "producer.id.expiration.ms"; }

std::optional<std::string> validate_broker_config(const std::string& name, const std::string& value) {
  if (!is_dynamic_broker_config(name)) return "Cannot update these configs dynamically: " + name;
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
  if (ec != std::errc() || p != value.data() + value.size() || value.empty() || v < 1 || v > INT32_MAX) {
    return "Invalid value " + value + " for configuration " + name + ": Value must be at least 1";
  }
  return std::nullopt;
}

bool is_list_config(const std::string& name) {
  const auto* spec = cluster::find_topic_config(name);
  return spec != nullptr && spec->type == cluster::TopicConfigSpec::Type::kList;
}

}  // namespace ks::handlers::configs
