#include "coordinator/coordinator.h"
#include "handlers/authorized_ops.h"
#include "handlers/handlers.h"

namespace ks::handlers {
namespace {

HeartbeatResponse build(RequestContext& ctx, const HeartbeatRequest& req) {
  HeartbeatResponse resp;
  if (auto refused = authz::group_refusal(ctx, authz::kRead, req.group_id)) {
    resp.error_code = code(*refused);
    return resp;
  }
  resp.error_code = code(
      ctx.broker.groups->heartbeat(req.group_id, req.generation_id, req.member_id, req.group_instance_id));
  return resp;
}

}  // namespace

awaitable<HeartbeatResponse> handle(RequestContext& ctx, HeartbeatRequest& req) { co_return build(ctx, req); }

}  // namespace ks::handlers
