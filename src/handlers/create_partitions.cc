#include <set>

#include "handlers/authorized_ops.h"
#include "handlers/handlers.h"
#include "handlers/replica_assignment.h"

namespace ks::handlers {
namespace {

std::optional<AssignmentError> check_assignments(const CreatePartitionsRequest::CreatePartitionsTopic& t,
                                                 std::int32_t current, const std::set<std::int32_t>& known) {
  std::vector<std::vector<std::int32_t>> lists;
  for (const auto& a : *t.assignments) lists.push_back(a.broker_ids);
  return check_new_partition_assignments(t.count - current, lists, known);
}

}  // namespace

awaitable<CreatePartitionsResponse> handle(RequestContext& ctx, CreatePartitionsRequest& req) {
  CreatePartitionsResponse resp;
  auto& b = ctx.broker;
  const std::set<std::string> duplicated = repeated_names(req.topics);
  const std::set<std::int32_t> known = known_brokers(b);
  for (const auto& t : req.topics) {
    CreatePartitionsResponse::CreatePartitionsTopicResult out;
    out.name = t.name;
    auto fail = [&](ErrorCode e, std::string msg) {
      out.error_code = code(e);
      out.error_message = std::move(msg);
    };
    const cluster::TopicInfo* info = b.log.topic(t.name);
    const std::int32_t current = info ? info->record.partitions : 0;
    std::optional<AssignmentError> assignment_error;
    if (info != nullptr && t.assignments.has_value()) assignment_error = check_assignments(t, current, known);
    if (duplicated.count(t.name)) {
      fail(ErrorCode::kInvalidRequest, "Duplicate topic in the request: " + t.name);
    } else if (!authz::topic(ctx, authz::kAlter, t.name)) {
      fail(ErrorCode::kTopicAuthorizationFailed, "Authorization failed.");
    } else if (info == nullptr) {
      fail(ErrorCode::kUnknownTopicOrPartition, "This server does not host this topic.");
    } else if (t.count <= current) {
      fail(ErrorCode::kInvalidPartitions, "Topic currently has " + std::to_string(current) +
                                              " partitions, which is higher than or equal to the requested " +
                                              std::to_string(t.count) + ".");
    } else if (t.count > b.max_partitions_per_topic) {
      fail(ErrorCode::kInvalidPartitions,
           "Number of partitions must be at most " + std::to_string(b.max_partitions_per_topic));
    } else if (assignment_error) {
      fail(assignment_error->error, assignment_error->message);
    } else if (!req.validate_only) {
      // A valid assignment places nothing: the object store holds the one copy.
      auto s = co_await b.log.add_topic_partitions(t.name, t.count);
      if (!s.ok()) {
        fail(s.code() == Errc::invalid_argument ? ErrorCode::kInvalidPartitions : to_kafka_error(s.code()),
             s.message());
      }
    }
    resp.results.push_back(std::move(out));
  }
  co_return resp;
}

}  // namespace ks::handlers
