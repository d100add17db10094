#include "handlers/config_changes.h"
#include "handlers/configs.h"
#include "handlers/handlers.h"

namespace ks::handlers {
namespace {

// The new explicit config set: exactly the listed configs (Kafka's AlterConfigs
// semantics: configs not listed return to their defaults).
ConfigMap wanted_configs(const AlterConfigsRequest::AlterConfigsResource& r, ConfigChange& change) {
  ConfigMap wanted;
  for (const auto& c : r.configs) {
    if (!c.value.has_value()) {
      change.fail(ErrorCode::kInvalidRequest, "Null value not supported for : " + c.name);
      break;
    }
    std::optional<std::string> error;
    ErrorCode error_code = ErrorCode::kInvalidConfig;
    if (change.kind == ConfigChange::Kind::kTopic) {
      error = cluster::validate_topic_config(c.name, *c.value);
    } else if (change.kind == ConfigChange::Kind::kGroup) {
      // Names here; the values as a whole in check_group_configs.
      if (coordinator::find_group_config(c.name) == nullptr) error = "Unknown group config name: " + c.name;
    } else {
      error = configs::validate_broker_config(c.name, *c.value);
      if (error && !configs::is_dynamic_broker_config(c.name)) error_code = ErrorCode::kInvalidRequest;
    }
    if (error) {
      change.fail(error_code, *error);
      break;
    }
    wanted[c.name] = *c.value;
  }
  return wanted;
}

}  // namespace

awaitable<AlterConfigsResponse> handle(RequestContext& ctx, AlterConfigsRequest& req) {
  return alter_config_resources<AlterConfigsResponse>(ctx.broker, req, wanted_configs);
}

}  // namespace ks::handlers
