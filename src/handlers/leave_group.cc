#include "coordinator/coordinator.h"
#include "handlers/authorized_ops.h"
#include "handlers/handlers.h"

namespace ks::handlers {
namespace {

LeaveGroupResponse build(RequestContext& ctx, const LeaveGroupRequest& req) {
  LeaveGroupResponse resp;
  if (auto refused = authz::group_refusal(ctx, authz::kRead, req.group_id)) {
    resp.error_code = code(*refused);
    return resp;
  }
  // v0-2 name one member; v3+ a batch, possibly by group.instance.id.
  std::vector<coordinator::LeaveMember> members;
  if (ctx.version >= 3) {
    for (const auto& m : req.members) members.push_back({m.member_id, m.group_instance_id});
  } else {
    members.push_back({req.member_id, std::nullopt});
  }
  coordinator::LeaveResult r = ctx.broker.groups->leave(req.group_id, members);
  resp.error_code = code(r.error);
  if (ctx.version < 3) {
    if (r.error == ErrorCode::kNone && !r.members.empty()) resp.error_code = code(r.members[0]);
    return resp;
  }
  for (std::size_t i = 0; i < members.size() && i < r.members.size(); ++i) {
    LeaveGroupResponse::MemberResponse out;
    out.member_id = members[i].member_id;
    out.group_instance_id = members[i].instance_id;
    out.error_code = code(r.members[i]);
    resp.members.push_back(std::move(out));
  }
  return resp;
}

}  // namespace

awaitable<LeaveGroupResponse> handle(RequestContext& ctx, LeaveGroupRequest& req) {
  co_return build(ctx, req);
}

}  // namespace ks::handlers
