#include <set>

#include "handlers/config_changes.h"
#include "handlers/configs.h"
#include "handlers/handlers.h"

namespace ks::handlers {
namespace {

using Result_ = DescribeConfigsResponse::DescribeConfigsResult;
using Config = Result_::DescribeConfigsResourceResult;

void fill(RequestContext& ctx, const DescribeConfigsRequest& req, const std::vector<configs::Entry>& entries,
          const std::optional<std::set<std::string>>& keys, Result_& out) {
  for (const auto& e : entries) {
    if (keys && keys->count(e.name) == 0) continue;
    Config c;
    c.name = e.name;
    c.value = e.value;
    c.read_only = e.read_only;
    c.is_default = e.source == configs::kSourceDefault;
    c.config_source = e.source;
    c.config_type = e.type;
    // Synonyms only when asked for (v1+); kafkajs compares the answer exactly.
    if (req.include_synonyms) {
      for (const auto& s : e.synonyms) {
        Config::DescribeConfigsSynonym syn;
        syn.name = s.name;
        syn.value = s.value;
        syn.source = s.source;
        c.synonyms.push_back(std::move(syn));
      }
    }
    // Kafka's ConfigHelper: documentation only when asked for (v3+), else null.
    if (req.include_documentation && !e.doc.empty()) c.documentation = e.doc;
    out.configs.push_back(std::move(c));
  }
}

}  // namespace

awaitable<DescribeConfigsResponse> handle(RequestContext& ctx, DescribeConfigsRequest& req) {
  DescribeConfigsResponse resp;
  auto& b = ctx.broker;
  for (const auto& r : req.resources) {
    Result_ out;
    out.resource_type = r.resource_type;
    out.resource_name = r.resource_name;
    // Requested keys; null or empty means all (as Kafka's ConfigHelper does).
    std::optional<std::set<std::string>> keys;
    if (r.configuration_keys.has_value() && !r.configuration_keys->empty()) {
      keys.emplace(r.configuration_keys->begin(), r.configuration_keys->end());
    }
    if (auto denied =
            config_denied(ctx, r.resource_type, r.resource_name, security::AclOperation::kDescribeConfigs)) {
      out.error_code = code(*denied);
      out.error_message = std::string(protocol::error_name(*denied));
    } else if (r.resource_type == configs::kResourceTopic) {
      const cluster::TopicInfo* t = b.log.topic(r.resource_name);
      if (t == nullptr) {
        out.error_code = code(ErrorCode::kUnknownTopicOrPartition);
        out.error_message = "Topic " + r.resource_name + " does not exist.";
      } else {
        fill(ctx, req, configs::describe_topic(*t, b.log.cluster().default_broker_configs()), keys, out);
      }
    } else if (r.resource_type == configs::kResourceBroker) {
      if (auto error = configs::broker_resource_error(b, r.resource_name)) {
        out.error_code = code(ErrorCode::kInvalidRequest);
        out.error_message = *error;
      } else if (r.resource_name.empty()) {
        fill(ctx, req, configs::describe_broker_defaults(b), keys, out);
      } else {
        fill(ctx, req, configs::describe_broker(b), keys, out);
      }
    } else if (r.resource_type == configs::kResourceGroup) {
      // Kafka: any group, existing or not, has configs (its own or the broker's).
      if (r.resource_name.empty()) {
        out.error_code = code(ErrorCode::kInvalidRequest);
        out.error_message = "Group name must not be empty";
      } else if (b.groups == nullptr) {
        out.error_code = code(ErrorCode::kCoordinatorNotAvailable);
        out.error_message = "The group coordinator is not available.";
      } else {
        fill(ctx, req, configs::describe_group(*b.groups, r.resource_name), keys, out);
      }
    } else if (r.resource_type == configs::kResourceBrokerLogger) {
      // No per-logger levels to describe.
    } else {
      out.error_code = code(ErrorCode::kInvalidRequest);
      out.error_message = "Unsupported resource type " + std::to_string(r.resource_type);
    }
    resp.results.push_back(std::move(out));
  }
  co_return resp;
}

}  // namespace ks::handlers
