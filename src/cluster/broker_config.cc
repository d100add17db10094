#include "cluster/broker_config.h"

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>

#include "cluster/topic_config.h"

namespace ks::cluster {

const std::vector<LogConfigSynonym>& log_config_synonyms() {
  // Kafka's ServerTopicConfigSynonyms, for the topic configs we accept.
  static const std::vector<LogConfigSynonym> synonyms = {
      {"log.cleanup.policy", "cleanup.policy", 1},
      {"compression.type", "compression.type", 1},
      {"log.cleaner.delete.retention.ms", "delete.retention.ms", 1},
      {"log.segment.delete.delay.ms", "file.delete.delay.ms", 1},
      {"log.flush.interval.messages", "flush.messages", 1},
      {"log.flush.interval.ms", "flush.ms", 1},
      {"log.index.interval.bytes", "index.interval.bytes", 1},
      {"log.cleaner.max.compaction.lag.ms", "max.compaction.lag.ms", 1},
      {"message.max.bytes", "max.message.bytes", 1},
      {"log.message.timestamp.after.max.ms", "message.timestamp.after.max.ms", 1},
      {"log.message.timestamp.before.max.ms", "message.timestamp.before.max.ms", 1},
      {"log.message.timestamp.difference.max.ms", "message.timestamp.difference.max.ms", 1},
      {"log.message.timestamp.type", "message.timestamp.type", 1},
      {"log.cleaner.min.cleanable.ratio", "min.cleanable.dirty.ratio", 1},
      {"log.cleaner.min.compaction.lag.ms", "min.compaction.lag.ms", 1},
      {"min.insync.replicas", "min.insync.replicas", 1},
      {"log.preallocate", "preallocate", 1},
      {"log.retention.bytes", "retention.bytes", 1},
      {"log.retention.ms", "retention.ms", 1},
      {"log.retention.minutes", "retention.ms", 60'000},
      {"log.retention.hours", "retention.ms", 3'600'000},
      {"log.segment.bytes", "segment.bytes", 1},
      {"log.index.size.max.bytes", "segment.index.bytes", 1},
      {"log.roll.jitter.ms", "segment.jitter.ms", 1},
      {"log.roll.jitter.hours", "segment.jitter.ms", 3'600'000},
      {"log.roll.ms", "segment.ms", 1},
      {"log.roll.hours", "segment.ms", 3'600'000},
      {"unclean.leader.election.enable", "unclean.leader.election.enable", 1},
      {"log.message.downconversion.enable", "message.downconversion.enable", 1},
  };
  return synonyms;
}

const LogConfigSynonym* find_log_config_synonym(std::string_view broker_name) {
  for (const auto& s : log_config_synonyms()) {
    if (broker_name == s.broker_name) return &s;
  }
  return nullptr;
}

namespace {

bool parse_i64(const std::string& v, std::int64_t& out) {
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  return ec == std::errc() && p == v.data() + v.size() && !v.empty();
}

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

// Names Kafka has that cannot change here, with the reason (prefix match when
// the entry ends with '.').
struct Refusal {
  const char* name;
  const char* reason;
};
constexpr Refusal kRefused[] = {
    {"broker.id", nullptr},
    {"node.id", nullptr},
    {"process.roles", nullptr},
    {"log.dirs", nullptr},
    {"log.dir", nullptr},
    {"auto.create.topics.enable", nullptr},
    {"num.partitions", nullptr},
    {"default.replication.factor", nullptr},
    {"log.retention.check.interval.ms", nullptr},
    {"broker.rack", nullptr},
    {"super.users", nullptr},
    {"authorizer.class.name", nullptr},
    {"offsets.retention.minutes", nullptr},
    {"listeners", "listeners are static settings of each broker (restart it with new ones)"},
    {"advertised.listeners", "listeners are static settings of each broker (restart it with new ones)"},
    {"listener.security.protocol.map",
     "listeners are static settings of each broker (restart it with new ones)"},
    {"listener.name.",
     "TLS key and trust stores are reloaded when their files change (ssl-reload-interval-ms)"},
    {"ssl.", "TLS key and trust stores are reloaded when their files change (ssl-reload-interval-ms)"},
    {"sasl.", "SASL settings are static settings of each broker"},
    {"num.io.threads", "one event loop and fixed I/O pools serve every request"},
    {"num.network.threads", "one event loop and fixed I/O pools serve every request"},
    {"num.replica.fetchers", "one stored replica: nothing is replicated between brokers"},
    {"num.recovery.threads.per.data.dir", "no local log to recover"},
    {"background.threads", "one event loop and fixed I/O pools serve every request"},
    {"log.cleaner.", "no log cleaner (compacted topics are not supported)"},
    {"max.connections", "connection limits are static settings of each broker"},
    {"max.connection.creation.rate", "connection limits are static settings of each broker"},
    {"follower.replication.throttled.", "one stored replica: nothing is replicated between brokers"},
    {"leader.replication.throttled.", "one stored replica: nothing is replicated between brokers"},
    {"replica.", "one stored replica: nothing is replicated between brokers"},
    {"metric.reporters", "metrics are served on /metrics (Prometheus)"},
    {"transaction.", "transactions are not supported"},
    {"remote.log.", "the whole log is in the object store already"},
};

const Refusal* find_refusal(std::string_view name) {
  for (const auto& r : kRefused) {
    const std::string_view n = r.name;
    if (n.back() == '.' ? starts_with(name, n) : name == n) return &r;
  }
  return nullptr;
}

std::optional<std::string> check_value(const std::string& name, const std::string& value) {
  if (name == kProducerIdExpiration) {
    std::int64_t v = 0;
    if (!parse_i64(value, v) || v > INT32_MAX)
      return "Invalid value " + value + " for configuration " + name + ": Not a number of type INT";
    if (v < 1) return "Invalid value " + value + " for configuration " + name + ": Value must be at least 1";
    return std::nullopt;
  }
  const LogConfigSynonym* syn = find_log_config_synonym(name);
  std::string topic_value = value;
  if (syn->scale != 1) {
    std::int64_t v = 0;
    if (!parse_i64(value, v) || v < INT32_MIN || v > INT32_MAX)
      return "Invalid value " + value + " for configuration " + name + ": Not a number of type INT";
    if (v < -1)
      return "Invalid value " + value + " for configuration " + name + ": Value must be at least -1";
    topic_value = std::to_string(v < 0 ? v : v * syn->scale);
  }
  std::optional<std::string> error = validate_topic_config(syn->topic_name, topic_value);
  if (!error) return std::nullopt;
  // The topic check's reason, under the broker name the request used.
  const std::string marker = "for configuration " + std::string(syn->topic_name) + ": ";
  const auto at = error->find(marker);
  if (at == std::string::npos) return *error;
  return "Invalid value " + value + " for configuration " + name + ": " + error->substr(at + marker.size());
}

}  // namespace

std::optional<std::string> validate_dynamic_broker_configs(const BrokerConfigMap& next,
                                                           const std::vector<std::string>& changed,
                                                           bool per_broker) {
  for (const std::string& name : changed) {
    if (name == kProducerIdExpiration) continue;
    if (find_log_config_synonym(name) != nullptr) {
      if (per_broker) {
        return name +
               " applies to every partition, and partitions move between brokers: set it cluster-wide (the "
               "broker resource with an empty name, kafka-configs --entity-default)";
      }
      continue;
    }
    const Refusal* r = find_refusal(name);
    if (r == nullptr) return "Unknown broker config name: " + name;
    if (r->reason == nullptr) return "Cannot update these configs dynamically: Set(" + name + ")";
    return "Cannot update " + name + " dynamically in KafScale: " + r->reason;
  }
  for (const auto& [name, value] : next) {
    if (std::find(changed.begin(), changed.end(), name) == changed.end()) continue;
    if (auto error = check_value(name, value)) return error;
  }
  return std::nullopt;
}

const LogConfigSynonym* topic_default_source(const BrokerConfigMap& cluster_default,
                                             std::string_view topic_name) {
  // The synonyms are listed .ms before .minutes before .hours: Kafka's precedence.
  for (const auto& syn : log_config_synonyms()) {
    if (topic_name == syn.topic_name && cluster_default.count(syn.broker_name) > 0) return &syn;
  }
  return nullptr;
}

BrokerConfigMap topic_defaults(const BrokerConfigMap& cluster_default) {
  BrokerConfigMap out;
  for (const auto& [name, value] : cluster_default) {
    const LogConfigSynonym* named = find_log_config_synonym(name);
    if (named == nullptr || out.count(named->topic_name) > 0) continue;
    const LogConfigSynonym* syn = topic_default_source(cluster_default, named->topic_name);
    const std::string& v = cluster_default.at(syn->broker_name);
    std::int64_t n = 0;
    if (syn->scale == 1) {
      out[syn->topic_name] = v;
    } else if (parse_i64(v, n)) {
      out[syn->topic_name] = std::to_string(n < 0 ? n : n * syn->scale);
    }
  }
  return out;
}

std::optional<DynamicValue> dynamic_value(const BrokerConfigMap& per_broker,
                                          const BrokerConfigMap& cluster_default, std::string_view name) {
  const std::string key(name);
  if (auto it = per_broker.find(key); it != per_broker.end()) return DynamicValue{it->second, true};
  if (auto it = cluster_default.find(key); it != cluster_default.end())
    return DynamicValue{it->second, false};
  return std::nullopt;
}

std::string encode_broker_configs(const BrokerConfigMap& configs) {
  nlohmann::json j;
  j["v"] = 1;
  j["configs"] = configs;
  return j.dump();
}

std::optional<BrokerConfigMap> decode_broker_configs(const std::string& json) {
  auto j = nlohmann::json::parse(json, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("configs") || !j["configs"].is_object()) {
    return std::nullopt;
  }
  BrokerConfigMap out;
  for (const auto& [k, v] : j["configs"].items()) {
    if (!v.is_string()) return std::nullopt;
    out[k] = v.get<std::string>();
  }
  return out;
}

}  // namespace ks::cluster
