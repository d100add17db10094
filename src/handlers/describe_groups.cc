#include "coordinator/coordinator.h"
#include "handlers/authorized_ops.h"
#include "handlers/handlers.h"

namespace ks::handlers {
namespace {

using Resp = DescribeGroupsResponse;

Resp build(RequestContext& ctx, const DescribeGroupsRequest& req) {
  Resp resp;
  for (const auto& id : req.groups) {
    Resp::DescribedGroup out;
    out.group_id = id;
    if (!authz::group(ctx, authz::kDescribe, id)) {
      out.error_code = code(ErrorCode::kGroupAuthorizationFailed);
      resp.groups.push_back(std::move(out));
      continue;
    }
    if (ctx.broker.groups == nullptr) {
      out.error_code = code(ErrorCode::kCoordinatorNotAvailable);
      resp.groups.push_back(std::move(out));
      continue;
    }
    coordinator::GroupDescription d = ctx.broker.groups->describe(id);
    // v6+ (KIP-1043): an unknown group is an error instead of an empty "Dead" group.
    if (ctx.version >= 6 && d.error == ErrorCode::kNone && d.state == "Dead") {
      out.error_code = code(ErrorCode::kGroupIdNotFound);
      out.error_message = "Group " + id + " not found.";
      out.group_state = d.state;
      resp.groups.push_back(std::move(out));
      continue;
    }
    out.error_code = code(d.error);
    // v3+: the group's authorized operations when asked for (Kafka: groups without an error only).
    out.authorized_operations = authz::group_operations(
        ctx, ctx.version >= 3 && req.include_authorized_operations && d.error == ErrorCode::kNone, id);
    out.group_state = d.state;
    out.protocol_type = d.protocol_type;
    out.protocol_data = d.protocol;
    for (auto& m : d.members) {
      Resp::DescribedGroup::DescribedGroupMember dm;
      dm.member_id = std::move(m.member_id);
      dm.group_instance_id = std::move(m.instance_id);
      dm.client_id = std::move(m.client_id);
      dm.client_host = std::move(m.client_host);
      dm.member_metadata = std::move(m.metadata);
      dm.member_assignment = std::move(m.assignment);
      out.members.push_back(std::move(dm));
    }
    resp.groups.push_back(std::move(out));
  }
  return resp;
}

}  // namespace

awaitable<DescribeGroupsResponse> handle(RequestContext& ctx, DescribeGroupsRequest& req) {
  co_return build(ctx, req);
}

}  // namespace ks::handlers
