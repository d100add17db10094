#include <algorithm>
#include <sstream>

#include "handlers/config_changes.h"
#include "handlers/configs.h"
#include "handlers/handlers.h"

namespace ks::handlers {
namespace {

std::vector<std::string> split_list(const std::string& v) {
  std::vector<std::string> out;
  std::stringstream ss(v);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

std::string join_list(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ",") + i;
  return out;
}

// Applies one operation to `configs` (explicit values; `defaults` gives a
// list config's effective value when it is not set). Returns an error message.
std::optional<std::string> apply(std::map<std::string, std::string>& configs, const std::string& name,
                                 std::int8_t op, const std::optional<std::string>& value,
                                 const std::string& current_effective) {
  switch (op) {
    case configs::kOpSet:
      if (!value) return "Null value not supported for : " + name;
      configs[name] = *value;
      return std::nullopt;
    case configs::kOpDelete:
      configs.erase(name);
      return std::nullopt;
    case configs::kOpAppend:
    case configs::kOpSubtract: {
      if (!configs::is_list_config(name)) {
        return "Config value append is not allowed for config key: " + name;
      }
      if (!value) return "Null value not supported for : " + name;
      auto items = split_list(current_effective);
      for (const auto& v : split_list(*value)) {
        auto it = std::find(items.begin(), items.end(), v);
        if (op == configs::kOpAppend && it == items.end()) items.push_back(v);
        if (op == configs::kOpSubtract && it != items.end()) items.erase(it);
      }
      configs[name] = join_list(items);
      return std::nullopt;
    }
    default:
      return "Unknown config operation " + std::to_string(op);
  }
}

using Resource = IncrementalAlterConfigsRequest::AlterConfigsResource;

// A topic's explicit configs after the operations (each checked by name and value).
ConfigMap next_topic_configs(const Resource& r, ConfigMap next, ConfigChange& change) {
  for (const auto& c : r.configs) {
    const auto* spec = cluster::find_topic_config(c.name);
    if (spec == nullptr) {
      change.fail(ErrorCode::kInvalidConfig, "Unknown topic config name: " + c.name);
      break;
    }
    auto cur = next.find(c.name);
    std::string effective = cur != next.end() ? cur->second : spec->default_value;
    std::optional<std::string> error = apply(next, c.name, c.config_operation, c.value, effective);
    auto v = next.find(c.name);
    if (!error && v != next.end()) error = cluster::validate_topic_config(c.name, v->second);
    if (error) {
      change.fail(ErrorCode::kInvalidConfig, *error);
      break;
    }
  }
  return next;
}

// A broker level's dynamic configs after the operations (SET and DELETE: no
// config we take is a list), then checked as a whole as Kafka does.
ConfigMap next_broker_configs(const Resource& r, ConfigMap next, ConfigChange& change) {
  std::vector<std::string> set;
  for (const auto& c : r.configs) {
    if (c.config_operation == configs::kOpSet) {
      if (!c.value) {
        change.fail(ErrorCode::kInvalidRequest, "Null value not supported for : " + c.name);
        break;
      }
      next[c.name] = *c.value;
      set.push_back(c.name);
    } else if (c.config_operation == configs::kOpDelete) {
      next.erase(c.name);
    } else if (c.config_operation == configs::kOpAppend || c.config_operation == configs::kOpSubtract) {
      change.fail(ErrorCode::kInvalidRequest,
                  std::string("Config value ") +
                      (c.config_operation == configs::kOpAppend ? "append" : "subtract") +
                      " is not allowed for config key: " + c.name);
      break;
    } else {
      change.fail(ErrorCode::kInvalidRequest,
                  "Unknown operations type " + std::to_string(c.config_operation));
      break;
    }
  }
  if (change.ok()) check_broker_configs(next, set, change);
  return next;
}

// A group's explicit configs after the operations (SET and DELETE: none is a list).
ConfigMap next_group_configs(const Resource& r, ConfigMap next, ConfigChange& change) {
  for (const auto& c : r.configs) {
    std::optional<std::string> error;
    if (coordinator::find_group_config(c.name) == nullptr) {
      error = "Unknown group config name: " + c.name;
    } else if (c.config_operation == configs::kOpSet || c.config_operation == configs::kOpDelete) {
      error = apply(next, c.name, c.config_operation, c.value, "");
    } else {
      error = "Config value append is not allowed for config key: " + c.name;
    }
    if (error) {
      change.fail(ErrorCode::kInvalidConfig, *error);
      break;
    }
  }
  return next;
}

ConfigMap next_configs(const Resource& r, ConfigChange& change) {
  switch (change.kind) {
    case ConfigChange::Kind::kTopic:
      return next_topic_configs(r, *change.current, change);
    case ConfigChange::Kind::kGroup:
      return next_group_configs(r, *change.current, change);
    case ConfigChange::Kind::kBroker:
    case ConfigChange::Kind::kBrokerDefault:
      break;
  }
  return next_broker_configs(r, *change.current, change);
}

}  // namespace

awaitable<IncrementalAlterConfigsResponse> handle(RequestContext& ctx, IncrementalAlterConfigsRequest& req) {
  return alter_config_resources<IncrementalAlterConfigsResponse>(ctx, req, next_configs);
}

}  // namespace ks::handlers
