#include "coordinator/coordinator.h"
#include "handlers/authorized_ops.h"
#include "handlers/handlers.h"

namespace ks::handlers {
namespace {

coordinator::SyncParams params(SyncGroupRequest& req) {
  coordinator::SyncParams p;
  p.group_id = std::move(req.group_id);
  p.generation = req.generation_id;
  p.member_id = std::move(req.member_id);
  p.instance_id = std::move(req.group_instance_id);
  p.protocol_type = std::move(req.protocol_type);
  p.protocol_name = std::move(req.protocol_name);
  for (auto& a : req.assignments) p.assignments.emplace_back(std::move(a.member_id), std::move(a.assignment));
  return p;
}

SyncGroupResponse response(const coordinator::SyncResult& r) {
  SyncGroupResponse resp;
  resp.error_code = code(r.error);
  resp.protocol_type = r.protocol_type;
  resp.protocol_name = r.protocol_name;
  resp.assignment = r.assignment;
  return resp;
}

SyncGroupResponse failed(ErrorCode e) {
  coordinator::SyncResult r;
  r.error = e;
  return response(r);
}

}  // namespace

awaitable<SyncGroupResponse> handle(RequestContext& ctx, SyncGroupRequest& req) {
  if (auto refused = authz::group_refusal(ctx, authz::kRead, req.group_id)) co_return failed(*refused);
  // Followers wait for the leader's assignment (bounded by session timeouts).
  std::shared_ptr<coordinator::SyncWait> w = ctx.broker.groups->sync(params(req));
  co_await w->done.wait();
  co_return response(w->result);
}

}  // namespace ks::handlers
