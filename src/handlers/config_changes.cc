#include "handlers/config_changes.h"

#include "coordinator/coordinator.h"
#include "handlers/configs.h"

namespace ks::handlers {

using protocol::ErrorCode;

std::optional<protocol::ErrorCode> config_denied(const RequestContext& ctx, std::int8_t type,
                                                 const std::string& name, security::AclOperation op) {
  if (type == configs::kResourceTopic) {
    if (!authz::topic(ctx, op, name)) return ErrorCode::kTopicAuthorizationFailed;
  } else if (type == configs::kResourceBroker || type == configs::kResourceBrokerLogger) {
    if (!authz::cluster(ctx, op)) return ErrorCode::kClusterAuthorizationFailed;
  } else if (type == configs::kResourceGroup) {
    if (!authz::group(ctx, op, name)) return ErrorCode::kGroupAuthorizationFailed;
  }
  return std::nullopt;
}

ConfigChange find_config_resource(BrokerContext& b, std::int8_t type, const std::string& name) {
  ConfigChange c;
  if (type == configs::kResourceTopic) {
    c.kind = ConfigChange::Kind::kTopic;
    const cluster::TopicInfo* t = b.log.topic(name);
    if (t == nullptr) {
      c.fail(ErrorCode::kUnknownTopicOrPartition, "Topic " + name + " does not exist.");
    } else {
      c.current = &t->record.configs;
    }
  } else if (type == configs::kResourceBroker) {
    if (auto error = configs::broker_resource_error(b, name)) {
      c.fail(ErrorCode::kInvalidRequest, *error);
    } else if (name.empty()) {
      c.kind = ConfigChange::Kind::kBrokerDefault;
      c.current = &b.log.cluster().default_broker_configs();
    } else {
      c.current = &b.log.dynamic_broker_configs();
    }
  } else if (type == configs::kResourceGroup) {
    c.kind = ConfigChange::Kind::kGroup;
    static const ConfigMap kNone;
    if (name.empty()) {
      c.fail(ErrorCode::kInvalidRequest, "Group name must not be empty");
    } else if (b.groups == nullptr) {
      c.fail(ErrorCode::kCoordinatorNotAvailable, "The group coordinator is not available.");
    } else {
      const ConfigMap* current = b.groups->group_configs(name);
      c.current = current != nullptr ? current : &kNone;
    }
  } else {
    c.fail(ErrorCode::kInvalidRequest, "Unsupported resource type " + std::to_string(type));
  }
  return c;
}

void check_broker_configs(const ConfigMap& next, const std::vector<std::string>& set, ConfigChange& change) {
  const bool per_broker = change.kind == ConfigChange::Kind::kBroker;
  if (auto error = cluster::validate_dynamic_broker_configs(next, set, per_broker)) {
    change.fail(ErrorCode::kInvalidRequest, *error);
  }
}

void check_group_configs(BrokerContext& b, const ConfigMap& next, ConfigChange& change) {
  if (auto error = coordinator::validate_group_configs(next, b.groups->options())) {
    change.fail(ErrorCode::kInvalidConfig, *error);
  }
}

awaitable<void> store_config_change(BrokerContext& b, const std::string& name, const ConfigMap& next,
                                    bool validate_only, ConfigChange& change) {
  if (!change.ok() || validate_only) co_return;
  Status s;
  if (change.kind == ConfigChange::Kind::kTopic) {
    s = co_await b.log.set_topic_configs(name, next);
  } else if (change.kind == ConfigChange::Kind::kGroup) {
    s = co_await b.groups->set_group_configs(name, next);
  } else if (change.kind == ConfigChange::Kind::kBrokerDefault) {
    s = co_await b.log.cluster().set_default_broker_configs(next);
  } else {
    s = co_await b.log.set_dynamic_broker_configs(next);
  }
  if (!s.ok()) change.fail(to_kafka_error(s.code()), s.message());
}

}  // namespace ks::handlers
