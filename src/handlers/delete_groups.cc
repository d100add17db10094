#include "coordinator/coordinator.h"
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
  std::shared_ptr<coordinator::DeleteGroupsWait> w = ctx.broker.groups->delete_groups(req.groups_names);
  co_await w->done.wait();
  co_return response(req, w->errors);
}

}  // namespace ks::handlers
