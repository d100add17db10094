#include "coordinator/coordinator.h"
#include "handlers/authorized_ops.h"
#include "handlers/handlers.h"

namespace ks::handlers {
namespace {

DeleteGroupsResponse response(const DeleteGroupsRequest& req, const std::vector<ErrorCode>& errors) {
  DeleteGroupsResponse resp;
  for (std::size_t i = 0; i < req.groups_names.size(); ++i) {
    DeleteGroupsResponse::DeletableGroupResult r;
    r.group_id = req.groups_names[i];
    r.error_code = code(i < errors.size() ? errors[i] : ErrorCode::kCoordinatorNotAvailable);
    resp.results.push_back(std::move(r));
  }
  return resp;
}

DeleteGroupsResponse unavailable(const DeleteGroupsRequest& req) { return response(req, {}); }

}  // namespace

awaitable<DeleteGroupsResponse> handle(RequestContext& ctx, DeleteGroupsRequest& req) {
  if (ctx.broker.groups == nullptr) co_return unavailable(req);
  // DELETE on each group (decided once, before the wait); only those are deleted.
  std::vector<bool> may_delete;
  std::vector<std::string> allowed;
  for (const auto& g : req.groups_names) {
    may_delete.push_back(authz::group(ctx, authz::kDelete, g));
    if (may_delete.back()) allowed.push_back(g);
  }
  std::shared_ptr<coordinator::DeleteGroupsWait> w = ctx.broker.groups->delete_groups(allowed);
  co_await w->done.wait();
  std::vector<ErrorCode> errors;
  std::size_t i = 0;
  for (std::size_t k = 0; k < req.groups_names.size(); ++k) {
    if (!may_delete[k]) {
      errors.push_back(ErrorCode::kGroupAuthorizationFailed);
    } else {
      errors.push_back(i < w->errors.size() ? w->errors[i] : ErrorCode::kCoordinatorNotAvailable);
      ++i;
    }
  }
  co_return response(req, errors);
}

}  // namespace ks::handlers
