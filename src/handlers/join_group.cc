#include "coordinator/coordinator.h"
#include "handlers/authorized_ops.h"
#include "handlers/handlers.h"

namespace ks::handlers {
namespace {

coordinator::JoinParams params(const RequestContext& ctx, JoinGroupRequest& req) {
  coordinator::JoinParams p;
  p.group_id = std::move(req.group_id);
  p.member_id = std::move(req.member_id);
  p.instance_id = std::move(req.group_instance_id);
  p.protocol_type = std::move(req.protocol_type);
  for (auto& proto : req.protocols) p.protocols.push_back({std::move(proto.name), std::move(proto.metadata)});
  p.session_timeout_ms = req.session_timeout_ms;
  p.rebalance_timeout_ms = ctx.version >= 1 ? req.rebalance_timeout_ms : -1;
  p.client_id = ctx.header.client_id.value_or("");
  p.client_host = client_host(ctx.connection.peer);
  p.require_known_member_id = ctx.version >= 4;
  p.supports_skip_assignment = ctx.version >= 9;
  return p;
}

JoinGroupResponse response(const coordinator::JoinResult& r) {
  JoinGroupResponse resp;
  resp.error_code = code(r.error);
  resp.generation_id = r.generation;
  resp.protocol_type = r.protocol_type;
  resp.protocol_name = r.protocol_name;  // null is written as "" before v7
  resp.leader = r.leader;
  resp.skip_assignment = r.skip_assignment;
  resp.member_id = r.member_id;
  for (const auto& m : r.members) {
    JoinGroupResponse::JoinGroupResponseMember out;
    out.member_id = m.member_id;
    out.group_instance_id = m.instance_id;
    out.metadata = m.metadata;
    resp.members.push_back(std::move(out));
  }
  return resp;
}

JoinGroupResponse failed(ErrorCode e) {
  coordinator::JoinResult r;
  r.error = e;
  return response(r);
}

}  // namespace

awaitable<JoinGroupResponse> handle(RequestContext& ctx, JoinGroupRequest& req) {
  if (auto refused = authz::group_refusal(ctx, authz::kRead, req.group_id)) co_return failed(*refused);
  // Waits for the join phase of the rebalance (bounded by the rebalance timeout).
  std::shared_ptr<coordinator::JoinWait> w = ctx.broker.groups->join(params(ctx, req));
  co_await w->done.wait();
  co_return response(w->result);
}

}  // namespace ks::handlers
