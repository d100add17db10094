#include <set>

#include "coordinator/coordinator.h"
#include "handlers/authorized_ops.h"
#include "handlers/handlers.h"

namespace ks::handlers {
namespace {

ListGroupsResponse build(RequestContext& ctx, const ListGroupsRequest& req) {
  ListGroupsResponse resp;
  if (ctx.broker.groups == nullptr) {
    resp.error_code = code(ErrorCode::kCoordinatorNotAvailable);
    return resp;
  }
  if (ctx.broker.groups->unavailable()) {
    resp.error_code = code(ErrorCode::kNotCoordinator);
    return resp;
  }
  // KIP-848 types filter (v5+): "classic" / "consumer", case-insensitive; empty = all.
  std::set<std::string> types;
  for (const auto& t : req.types_filter) {
    std::string l;
    for (char c : t) l.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    types.insert(std::move(l));
  }
  // DESCRIBE on the cluster lists every group; otherwise those the caller may describe.
  const bool all = authz::cluster(ctx, authz::kDescribe, /*audit=*/false);
  for (auto& g : ctx.broker.groups->list(req.states_filter)) {
    if (!types.empty() && !types.contains(g.type)) continue;
    if (!all && !authz::group(ctx, authz::kDescribe, g.group_id, /*audit=*/false)) continue;
    ListGroupsResponse::ListedGroup out;
    out.group_id = std::move(g.group_id);
    out.protocol_type = std::move(g.protocol_type);
    out.group_state = std::move(g.state);
    out.group_type = std::move(g.type);
    resp.groups.push_back(std::move(out));
  }
  return resp;
}

}  // namespace

awaitable<ListGroupsResponse> handle(RequestContext& ctx, ListGroupsRequest& req) {
  co_return build(ctx, req);
}

}  // namespace ks::handlers
