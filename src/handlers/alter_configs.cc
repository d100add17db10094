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
    }  // broker levels: the whole set below
    if (error) {
      change.fail(error_code, *error);
      break;
    }
    wanted[c.name] = *c.value;
  }
  if (change.ok() && change.kind != ConfigChange::Kind::kTopic && change.kind != ConfigChange::Kind::kGroup) {
    std::vector<std::string> names;
    for (const auto& [name, value] : wanted) names.push_back(name);
    check_broker_configs(wanted, names, change);
  }
  return wanted;
}

}  // namespace

awaitable<AlterConfigsResponse> handle(RequestContext& ctx, AlterConfigsRequest& req) {
  return alter_config_resources<AlterConfigsResponse>(ctx, req, wanted_configs);
}

}  // namespace ks::handlers
