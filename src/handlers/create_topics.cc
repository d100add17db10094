#include <set>

#include "handlers/authorized_ops.h"
#include "handlers/handlers.h"
#include "handlers/replica_assignment.h"

namespace ks::handlers {
namespace {

using Result_ = CreateTopicsResponse::CreatableTopicResult;

// Config source values of DescribeConfigs/CreateTopics (Kafka's ConfigSource).
constexpr std::int8_t kSourceTopic = 1;
constexpr std::int8_t kSourceDefault = 5;

void fill_configs(Result_& out, const std::map<std::string, std::string>& explicit_configs) {
  std::vector<CreateTopicsResponse::CreatableTopicResult::CreatableTopicConfigs> list;
  for (const auto& spec : cluster::topic_config_specs()) {
    CreateTopicsResponse::CreatableTopicResult::CreatableTopicConfigs c;
    c.name = spec.name;
    auto it = explicit_configs.find(spec.name);
    c.value = it != explicit_configs.end() ? it->second : std::string(spec.default_value);
    c.config_source = it != explicit_configs.end() ? kSourceTopic : kSourceDefault;
    list.push_back(std::move(c));
  }
  out.configs = std::move(list);
}

std::optional<AssignmentError> check_assignments(const CreateTopicsRequest::CreatableTopic& t,
                                                 const std::set<std::int32_t>& known) {
  std::vector<NewTopicAssignment> list;
  for (const auto& a : t.assignments) {
    NewTopicAssignment n;
    n.partition = a.partition_index;
    n.brokers = a.broker_ids;
    list.push_back(std::move(n));
  }
  return check_new_topic_assignments(t.num_partitions, t.replication_factor, list, known);
}

}  // namespace

awaitable<CreateTopicsResponse> handle(RequestContext& ctx, CreateTopicsRequest& req) {
  CreateTopicsResponse resp;
  auto& b = ctx.broker;
  const std::set<std::string> duplicated = repeated_names(req.topics);
  const std::set<std::int32_t> known = known_brokers(b);
  // CREATE on the cluster allows every topic; otherwise CREATE on the topic.
  const bool cluster_create = authz::cluster(ctx, authz::kCreate, /*audit=*/false);
  for (const auto& t : req.topics) {
    Result_ out;
    out.name = t.name;
    auto fail = [&](ErrorCode e, std::string msg) {
      out.error_code = code(e);
      out.error_message = std::move(msg);
    };
    std::int32_t partitions = t.num_partitions == -1 ? b.default_partitions : t.num_partitions;
    if (!t.assignments.empty()) partitions = static_cast<std::int32_t>(t.assignments.size());
    std::map<std::string, std::string> configs;
    std::optional<std::string> config_error;
    for (const auto& c : t.configs) {
      if (!c.value.has_value()) continue;  // null: use the default
      if (auto e = cluster::validate_topic_config(c.name, *c.value)) {
        config_error = std::move(e);
        break;
      }
      configs[c.name] = *c.value;
    }
    std::optional<AssignmentError> assignment_error;
    if (!t.assignments.empty()) assignment_error = check_assignments(t, known);
    if (duplicated.count(t.name)) {
      fail(ErrorCode::kInvalidRequest,
           "Create topics request from client contains multiple entries for topic " + t.name);
    } else if (!cluster_create && !authz::topic(ctx, authz::kCreate, t.name)) {
      fail(ErrorCode::kTopicAuthorizationFailed, "Authorization failed.");
    } else if (!valid_topic_name(t.name)) {
      fail(ErrorCode::kInvalidTopicException,
           "Topic name '" + t.name + "' is illegal: use [a-zA-Z0-9._-], at most 249 characters");
    } else if (assignment_error) {
      fail(assignment_error->error, assignment_error->message);
    } else if (partitions <= 0 || partitions > b.max_partitions_per_topic) {
      fail(ErrorCode::kInvalidPartitions,
           "Number of partitions must be between 1 and " + std::to_string(b.max_partitions_per_topic));
    } else if (t.replication_factor == 0 || t.replication_factor < -1) {
      fail(ErrorCode::kInvalidReplicationFactor,
           "Replication factor must be larger than 0, or -1 to use the default value.");
    } else if (config_error) {
      fail(ErrorCode::kInvalidConfig, *config_error);
    } else if (b.log.topic(t.name) != nullptr) {
      fail(ErrorCode::kTopicAlreadyExists, "Topic '" + t.name + "' already exists.");
    } else if (req.validate_only) {
      out.num_partitions = partitions;
      out.replication_factor = 1;
      fill_configs(out, configs);
    } else {
      auto r = co_await b.log.create_topic(t.name, partitions, configs);
      if (!r.ok()) {
        fail(to_kafka_error(r.code()), r.status().message());
      } else {
        out.topic_id.bytes = (*r)->record.id;
        out.num_partitions = partitions;
        out.replication_factor = 1;
        fill_configs(out, configs);
      }
    }
    if (out.error_code != 0) out.configs = std::nullopt;
    // KIP-525: the configs (and sizes) only for a caller that may DESCRIBE_CONFIGS the topic.
    if (!authz::topic(ctx, authz::kDescribeConfigs, t.name, /*audit=*/false)) {
      out.topic_config_error_code = code(ErrorCode::kTopicAuthorizationFailed);
      if (out.error_code == 0) {
        out.num_partitions = -1;
        out.replication_factor = -1;
        out.configs.emplace();
      }
    }
    resp.topics.push_back(std::move(out));
  }
  co_return resp;
}

}  // namespace ks::handlers
