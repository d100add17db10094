// The part AlterConfigs and IncrementalAlterConfigs share: finding the
// resource whose configs change, and storing the new explicit config set.
// Each API only computes that set (a plain function), so the two differ only
// in how a request's entries turn into it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "coordinator/group_configs.h"
#include "handlers/authorized_ops.h"
#include "handlers/context.h"

namespace ks::handlers {

using ConfigMap = std::map<std::string, std::string>;

// One resource of an alter request, resolved before anything changes.
struct ConfigChange {
  enum class Kind { kTopic, kBroker, kBrokerDefault, kGroup };
  // kBroker: this broker's dynamic configs; kBrokerDefault: the cluster-wide ones.
  Kind kind = Kind::kBroker;
  const ConfigMap* current = nullptr;  // explicit configs now; null when `error` is set
  protocol::ErrorCode error = protocol::ErrorCode::kNone;
  std::string message;

  void fail(protocol::ErrorCode e, std::string msg) {
    if (error != protocol::ErrorCode::kNone) return;  // the first error is the one reported
    error = e;
    message = std::move(msg);
  }
  bool ok() const { return error == protocol::ErrorCode::kNone; }
};

// Looks the resource up: an existing topic, this broker or a group (existing or
// not, as Kafka). Anything else comes back with the error Kafka answers
// (UNKNOWN_TOPIC_OR_PARTITION, INVALID_REQUEST, COORDINATOR_NOT_AVAILABLE).
ConfigChange find_config_resource(BrokerContext& b, std::int8_t type, const std::string& name);

// Stores `next` as the resource's whole explicit config set unless `validate_only`
// or `change` already failed; a storage failure is recorded in `change`.
awaitable<void> store_config_change(BrokerContext& b, const std::string& name, const ConfigMap& next,
                                    bool validate_only, ConfigChange& change);

// A broker level's new dynamic set: the names `set` SET (or AlterConfigs lists)
// allowed at that level, their values valid (INVALID_REQUEST otherwise, as Kafka).
void check_broker_configs(const ConfigMap& next, const std::vector<std::string>& set, ConfigChange& change);

// A group's new explicit set as a whole (bounds, heartbeat below the session
// timeout): INVALID_CONFIG with Kafka's message otherwise.
void check_group_configs(BrokerContext& b, const ConfigMap& next, ConfigChange& change);

// Kafka's check of a config resource: `op` (DESCRIBE_CONFIGS, ALTER_CONFIGS) on the topic, the
// cluster (broker resources) or the group; the *_AUTHORIZATION_FAILED error when refused, made
// before the resource is looked up.
std::optional<protocol::ErrorCode> config_denied(const RequestContext& ctx, std::int8_t type,
                                                 const std::string& name, security::AclOperation op);

// The response fields every alter API has.
template <class Out>
void report_config_change(const ConfigChange& change, Out& out) {
  if (change.ok()) return;
  out.error_code = code(change.error);
  out.error_message = change.message;
}

// Runs an alter request resource by resource: `next(resource, change)` computes the
// new explicit config set from change.current (recording errors in `change`); it is
// then stored unless validate_only, and the outcome reported. A coroutine template,
// so each API instantiates it in its own translation unit.
template <class Response, class Request, class Next>
awaitable<Response> alter_config_resources(RequestContext& ctx, const Request& req, Next next) {
  Response resp;
  BrokerContext& b = ctx.broker;
  for (const auto& r : req.resources) {
    auto& out = resp.responses.emplace_back();
    out.resource_type = r.resource_type;
    out.resource_name = r.resource_name;
    if (auto denied =
            config_denied(ctx, r.resource_type, r.resource_name, security::AclOperation::kAlterConfigs)) {
      out.error_code = code(*denied);
      out.error_message = std::string(protocol::error_name(*denied));
      continue;
    }
    ConfigChange change = find_config_resource(b, r.resource_type, r.resource_name);
    ConfigMap configs;
    if (change.ok()) configs = next(r, change);
    if (change.ok() && change.kind == ConfigChange::Kind::kGroup) check_group_configs(b, configs, change);
    change.current = nullptr;  // points into loop state: not valid after the co_await below
    co_await store_config_change(b, r.resource_name, configs, req.validate_only, change);
    report_config_change(change, out);
  }
  co_return resp;
}

}  // namespace ks::handlers
