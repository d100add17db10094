#include "handlers/config_changes.h"

#include "coordinator/coordinator.h"
#include "handlers/configs.h"

namespace ks::handlers {

using protocol::ErrorCode;

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
    if (!configs::is_this_broker(b, name)) {
      c.fail(ErrorCode::kInvalidRequest, "Unexpected broker id " + name);
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
  } else {
    s = co_await b.log.set_dynamic_broker_configs(next);
  }
  if (!s.ok()) change.fail(to_kafka_error(s.code()), s.message());
}

}  // namespace ks::handlers
