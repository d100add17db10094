#include "coordinator/coordinator.h"
#include "handlers/authorized_ops.h"
#include "handlers/handlers.h"

namespace ks::handlers {
namespace {

constexpr std::int8_t kGroupKey = 0;
constexpr std::int8_t kTransactionKey = 1;

struct Answer {
  ErrorCode error = ErrorCode::kNone;
  std::int32_t node_id = -1;
  std::string host;
  std::int32_t port = -1;
};

Answer answer(const RequestContext& ctx, std::int8_t key_type, const std::string& key) {
  Answer a;
  if (key_type == kGroupKey && !authz::group(ctx, authz::kDescribe, key)) {
    a.error = ErrorCode::kGroupAuthorizationFailed;
  } else if (key_type == kTransactionKey) {
    // No transactions here: clients must not start one.
    a.error = ErrorCode::kTransactionalIdAuthorizationFailed;
  } else if (key_type != kGroupKey) {
    a.error = ErrorCode::kInvalidRequest;
  } else if (ctx.broker.groups == nullptr) {
    a.error = ErrorCode::kCoordinatorNotAvailable;
  } else if (ctx.broker.coordinator_for) {
    // The owner of the group's slot, wherever it is.
    std::optional<NodeEndpoint> owner = ctx.broker.coordinator_for(ctx.broker.groups->slot_of(key));
    if (!owner) {
      a.error = ErrorCode::kCoordinatorNotAvailable;
    } else {
      NodeEndpoint e = on_listener(std::move(*owner), ctx.connection.listener());
      a.node_id = e.node;
      a.host = std::move(e.host);
      a.port = e.port;
    }
  } else if (!ctx.broker.groups->owns_group(key)) {
    a.error = ErrorCode::kCoordinatorNotAvailable;
  } else {
    a.node_id = ctx.broker.node_id;
    NodeEndpoint self = self_endpoint(ctx);
    a.host = std::move(self.host);
    a.port = self.port;
  }
  return a;
}

FindCoordinatorResponse build(const RequestContext& ctx, const FindCoordinatorRequest& req) {
  FindCoordinatorResponse resp;
  if (ctx.version >= 4) {
    for (const auto& key : req.coordinator_keys) {
      Answer a = answer(ctx, req.key_type, key);
      FindCoordinatorResponse::Coordinator c;
      c.key = key;
      c.node_id = a.node_id;
      c.host = a.host;
      c.port = a.port;
      c.error_code = code(a.error);
      if (a.error != ErrorCode::kNone) c.error_message = std::string(protocol::error_name(a.error));
      resp.coordinators.push_back(std::move(c));
    }
    return resp;
  }
  Answer a = answer(ctx, req.key_type, req.key);
  resp.error_code = code(a.error);
  if (a.error != ErrorCode::kNone) resp.error_message = std::string(protocol::error_name(a.error));
  resp.node_id = a.node_id;
  resp.host = a.host;
  resp.port = a.port;
  return resp;
}

}  // namespace

awaitable<FindCoordinatorResponse> handle(RequestContext& ctx, FindCoordinatorRequest& req) {
  co_return build(ctx, req);
}

}  // namespace ks::handlers
