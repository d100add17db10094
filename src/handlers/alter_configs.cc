#include "handlers/configs.h"
#include "handlers/handlers.h"

namespace ks::handlers {

// Replaces the whole explicit config set of each resource (Kafka's
// AlterConfigs semantics: configs not listed return to their defaults).
awaitable<AlterConfigsResponse> handle(RequestContext& ctx, AlterConfigsRequest& req) {
  AlterConfigsResponse resp;
  auto& b = ctx.broker;
  for (const auto& r : req.resources) {
    AlterConfigsResponse::AlterConfigsResourceResponse out;
    out.resource_type = r.resource_type;
    out.resource_name = r.resource_name;
    auto fail = [&](ErrorCode e, std::string msg) {
      out.error_code = code(e);
      out.error_message = std::move(msg);
    };
    std::map<std::string, std::string> wanted;
    std::optional<std::string> error;
    ErrorCode error_code = ErrorCode::kInvalidConfig;
    for (const auto& c : r.configs) {
      if (!c.value.has_value()) {
        error = "Null value not supported for : " + c.name;
        error_code = ErrorCode::kInvalidRequest;
        break;
      }
      if (r.resource_type == configs::kResourceTopic) {
        error = log::validate_topic_config(c.name, *c.value);
      } else if (r.resource_type == configs::kResourceBroker) {
        error = configs::validate_broker_config(c.name, *c.value);
        if (error && !configs::is_dynamic_broker_config(c.name)) error_code = ErrorCode::kInvalidRequest;
      }
      if (error) break;
      wanted[c.name] = *c.value;
    }
    if (r.resource_type == configs::kResourceTopic) {
      const log::TopicInfo* t = b.log.topic(r.resource_name);
      if (t == nullptr) {
        fail(ErrorCode::kUnknownTopicOrPartition, "Topic " + r.resource_name + " does not exist.");
      } else if (error) {
        fail(error_code, *error);
      } else if (!req.validate_only) {
        auto s = co_await b.log.set_topic_configs(r.resource_name, wanted);
        if (!s.ok()) fail(to_kafka_error(s.code()), s.message());
      }
    } else if (r.resource_type == configs::kResourceBroker) {
      if (!configs::is_this_broker(b, r.resource_name)) {
        fail(ErrorCode::kInvalidRequest, "Unexpected broker id " + r.resource_name);
      } else if (error) {
        fail(error_code, *error);
      } else if (!req.validate_only) {
        auto s = co_await b.log.set_dynamic_broker_configs(wanted);
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
