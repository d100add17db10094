// ConsumerGroupDescribe (KIP-848): consumer groups with their members'
// subscriptions, current and target assignments.
#include "coordinator/coordinator.h"
#include "handlers/authorized_ops.h"
#include "handlers/handlers.h"

namespace ks::handlers {
namespace {

template <class Out>
void fill_assignment(Out& out, const coordinator::Assignment& a, const log::LogManager& log) {
  for (const auto& [topic, parts] : a) {
    auto& t = out.topic_partitions.emplace_back();
    t.topic_id.bytes = topic;
    if (const auto* info = log.topic_by_id(topic)) t.topic_name = info->record.name;
    t.partitions.assign(parts.begin(), parts.end());
  }
}

ConsumerGroupDescribeResponse build(RequestContext& ctx, const ConsumerGroupDescribeRequest& req) {
  ConsumerGroupDescribeResponse resp;
  for (const auto& id : req.group_ids) {
    auto& out = resp.groups.emplace_back();
    out.group_id = id;
    if (!authz::group(ctx, authz::kDescribe, id)) {
      out.error_code = code(ErrorCode::kGroupAuthorizationFailed);
      continue;
    }
    if (ctx.broker.groups == nullptr) {
      out.error_code = code(ErrorCode::kCoordinatorNotAvailable);
      continue;
    }
    auto d = ctx.broker.groups->consumer_describe(id);
    out.error_code = code(d.error);
    out.error_message = d.error_message;
    if (d.error != ErrorCode::kNone) continue;
    out.group_state = d.state;
    out.group_epoch = d.group_epoch;
    out.assignment_epoch = d.assignment_epoch;
    out.assignor_name = d.assignor;
    for (const auto& m : d.members) {
      auto& om = out.members.emplace_back();
      om.member_id = m.member_id;
      om.instance_id = m.instance_id;
      om.rack_id = m.rack_id;
      om.member_epoch = m.member_epoch;
      om.client_id = m.client_id;
      om.client_host = m.client_host;
      om.subscribed_topic_names = m.topic_names;
      om.subscribed_topic_regex = m.topic_regex;
      fill_assignment(om.assignment, m.assignment, ctx.broker.log);
      fill_assignment(om.target_assignment, m.target, ctx.broker.log);
    }
    out.authorized_operations = authz::group_operations(ctx, req.include_authorized_operations, id);
  }
  return resp;
}

}  // namespace

awaitable<ConsumerGroupDescribeResponse> handle(RequestContext& ctx, ConsumerGroupDescribeRequest& req) {
  co_return build(ctx, req);
}

}  // namespace ks::handlers
