#include <algorithm>
#include <sstream>

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

}  // namespace

awaitable<IncrementalAlterConfigsResponse> handle(RequestContext& ctx, IncrementalAlterConfigsRequest& req) {
  IncrementalAlterConfigsResponse resp;
  auto& b = ctx.broker;
  for (const auto& r : req.resources) {
    IncrementalAlterConfigsResponse::AlterConfigsResourceResponse out;
    out.resource_type = r.resource_type;
    out.resource_name = r.resource_name;
    auto fail = [&](ErrorCode e, std::string msg) {
      out.error_code = code(e);
      out.error_message = std::move(msg);
    };
    if (r.resource_type == configs::kResourceTopic) {
      const log::TopicInfo* t = b.log.topic(r.resource_name);
      if (t == nullptr) {
        fail(ErrorCode::kUnknownTopicOrPartition, "Topic " + r.resource_name + " does not exist.");
        resp.responses.push_back(std::move(out));
        continue;
      }
      std::map<std::string, std::string> next = t->record.configs;
      std::optional<std::string> error;
      for (const auto& c : r.configs) {
        const auto* spec = log::find_topic_config(c.name);
        if (spec == nullptr) {
          error = "Unknown topic config name: " + c.name;
          break;
        }
        auto cur = next.find(c.name);
        std::string effective = cur != next.end() ? cur->second : spec->default_value;
        error = apply(next, c.name, c.config_operation, c.value, effective);
        if (error) break;
        auto v = next.find(c.name);
        if (v != next.end()) error = log::validate_topic_config(c.name, v->second);
        if (error) break;
      }
      if (error) {
        fail(ErrorCode::kInvalidConfig, *error);
      } else if (!req.validate_only) {
        auto s = co_await b.log.set_topic_configs(r.resource_name, next);
        if (!s.ok()) fail(to_kafka_error(s.code()), s.message());
      }
    } else if (r.resource_type == configs::kResourceBroker) {
      if (!configs::is_this_broker(b, r.resource_name)) {
        fail(ErrorCode::kInvalidRequest, "Unexpected broker id " + r.resource_name);
        resp.responses.push_back(std::move(out));
        continue;
      }
      std::map<std::string, std::string> next = b.log.dynamic_broker_configs();
      std::optional<std::string> error;
      ErrorCode error_code = ErrorCode::kInvalidConfig;
      for (const auto& c : r.configs) {
        if (!configs::is_dynamic_broker_config(c.name)) {
          error = "Cannot update these configs dynamically: " + c.name;
          error_code = ErrorCode::kInvalidRequest;
          break;
        }
        if (c.config_operation == configs::kOpSet) {
          error = c.value ? configs::validate_broker_config(c.name, *c.value)
                          : std::optional<std::string>("Null value not supported for : " + c.name);
          if (!error) next[c.name] = *c.value;
        } else if (c.config_operation == configs::kOpDelete) {
          next.erase(c.name);
        } else {
          error = "Config value append is not allowed for config key: " + c.name;
        }
        if (error) break;
      }
      if (error) {
        fail(error_code, *error);
      } else if (!req.validate_only) {
        auto s = co_await b.log.set_dynamic_broker_configs(next);
        if (!s.ok()) fail(to_kafka_error(s.code()), s.message());
      }
    } else {
      fail(ErrorCode::kInvalidRequest, "Unsupported resource type " + std::to_string(r.resource_type));
    }
    resp.responses.push_back(std::move(out));
  }
  co_return resp;
}

}  // namespace ks::handlers
