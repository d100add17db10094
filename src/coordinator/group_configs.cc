#include "coordinator/group_configs.h"

#include <charconv>
#include <limits>
#include <nlohmann/json.hpp>

namespace ks::coordinator {
namespace {

std::optional<std::int64_t> parse_int32(const std::string& v) {
  std::int64_t out = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc() || p != v.data() + v.size() || v.empty()) return std::nullopt;
  if (out > std::numeric_limits<std::int32_t>::max() || out < std::numeric_limits<std::int32_t>::min()) {
    return std::nullopt;
  }
  return out;
}

std::int64_t value_or(const GroupConfigMap* configs, std::string_view name,
                      std::chrono::milliseconds fallback) {
  if (configs != nullptr) {
    auto it = configs->find(std::string(name));
    if (it != configs->end()) {
      if (auto v = parse_int32(it->second); v && *v >= 1) return *v;
    }
  }
  return fallback.count();
}

}  // namespace

const std::vector<GroupConfigSpec>& group_config_specs() {
  static const std::vector<GroupConfigSpec> specs = {
      {kConsumerSessionTimeoutConfig, "group.consumer.session.timeout.ms",
       "The timeout to detect client failures when using the consumer group protocol."},
      {kConsumerHeartbeatIntervalConfig, "group.consumer.heartbeat.interval.ms",
       "The heartbeat interval given to the members of a consumer group."},
  };
  return specs;
}

const GroupConfigSpec* find_group_config(std::string_view name) {
  for (const auto& s : group_config_specs()) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

std::string group_config_default(const GroupConfigSpec& spec, const Options& o) {
  if (spec.name == kConsumerSessionTimeoutConfig) return std::to_string(o.consumer_session_timeout.count());
  return std::to_string(o.consumer_heartbeat_interval.count());
}

std::optional<std::string> validate_group_configs(const GroupConfigMap& configs, const Options& o) {
  for (const auto& [name, value] : configs) {
    if (find_group_config(name) == nullptr) return "Unknown group config name: " + name;
  }
  for (const auto& [name, value] : configs) {
    auto v = parse_int32(value);
    if (!v) return "Invalid value " + value + " for configuration " + name + ": Not a number of type INT";
    if (*v < 1) return "Invalid value " + value + " for configuration " + name + ": Value must be at least 1";
  }
  const std::int64_t heartbeat =
      value_or(&configs, kConsumerHeartbeatIntervalConfig, o.consumer_heartbeat_interval);
  const std::int64_t session = value_or(&configs, kConsumerSessionTimeoutConfig, o.consumer_session_timeout);
  const std::string hb(kConsumerHeartbeatIntervalConfig);
  const std::string st(kConsumerSessionTimeoutConfig);
  // Kafka's order of checks and its messages.
  if (heartbeat < o.consumer_min_heartbeat_interval.count()) {
    return hb + " must be greater than or equal to group.consumer.min.heartbeat.interval.ms";
  }
  if (heartbeat > o.consumer_max_heartbeat_interval.count()) {
    return hb + " must be less than or equal to group.consumer.max.heartbeat.interval.ms";
  }
  if (session < o.consumer_min_session_timeout.count()) {
    return st + " must be greater than or equal to group.consumer.min.session.timeout.ms";
  }
  if (session > o.consumer_max_session_timeout.count()) {
    return st + " must be less than or equal to group.consumer.max.session.timeout.ms";
  }
  if (session <= heartbeat) return st + " must be greater than " + hb;
  return std::nullopt;
}

EffectiveGroupConfig effective_group_config(const GroupConfigMap* configs, const Options& o) {
  EffectiveGroupConfig e{o.consumer_session_timeout, o.consumer_heartbeat_interval};
  e.session_timeout =
      std::chrono::milliseconds(value_or(configs, kConsumerSessionTimeoutConfig, e.session_timeout));
  e.heartbeat_interval =
      std::chrono::milliseconds(value_or(configs, kConsumerHeartbeatIntervalConfig, e.heartbeat_interval));
  return e;
}

std::string encode_group_configs(const GroupConfigMap& configs) {
  nlohmann::json j;
  j["v"] = 1;
  j["configs"] = nlohmann::json::object();
  for (const auto& [k, v] : configs) j["configs"][k] = v;
  return j.dump();
}

Result<GroupConfigMap> decode_group_configs(std::string_view value) {
  auto j = nlohmann::json::parse(value, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return Result<GroupConfigMap>(Errc::corrupt, "group configs: not JSON");
  auto v = j.find("v");
  if (v == j.end() || !v->is_number_integer() || v->get<std::int64_t>() != 1) {
    return Result<GroupConfigMap>(Errc::corrupt, "group configs: unknown version");
  }
  auto c = j.find("configs");
  if (c == j.end() || !c->is_object())
    return Result<GroupConfigMap>(Errc::corrupt, "group configs: no configs");
  GroupConfigMap out;
  for (const auto& [k, val] : c->items()) {
    if (!val.is_string())
      return Result<GroupConfigMap>(Errc::corrupt, "group configs: " + k + " is not a string");
    out[k] = val.get<std::string>();
  }
  return out;
}

}  // namespace ks::coordinator
