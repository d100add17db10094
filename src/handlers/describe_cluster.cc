#include "handlers/authorized_ops.h"
#include "handlers/handlers.h"

namespace ks::handlers {

awaitable<DescribeClusterResponse> handle(RequestContext& ctx, DescribeClusterRequest& req) {
  DescribeClusterResponse resp;
  auto& b = ctx.broker;
  resp.endpoint_type = req.endpoint_type;
  // KIP-919: endpoint type 2 asks for controllers, which only a controller
  // endpoint answers.
  if (ctx.version >= 1 && req.endpoint_type != 1) {
    resp.error_code = code(ErrorCode::kMismatchedEndpointType);
    resp.error_message = "The request was sent to a broker endpoint, but it asked for endpoint type " +
                         std::to_string(req.endpoint_type);
    co_return resp;
  }
  resp.cluster_id = b.log.cluster_id();
  resp.cluster_authorized_operations =
      authz::cluster_operations(ctx, req.include_cluster_authorized_operations);
  // v2 (KIP-1073): only live (registered) brokers are listed, so
  // include_fenced_brokers adds nobody and is_fenced stays false.
  if (b.cluster != nullptr) {
    resp.controller_id = b.cluster->controller();
    for (const auto& all : b.cluster->brokers()) {
      const NodeEndpoint e = on_listener(all, ctx.connection.listener());
      DescribeClusterResponse::DescribeClusterBroker m;
      m.broker_id = e.node;
      m.host = e.host;
      m.port = e.port;
      resp.brokers.push_back(std::move(m));
    }
    co_return resp;
  }
  resp.controller_id = b.node_id;
  DescribeClusterResponse::DescribeClusterBroker me;
  me.broker_id = b.node_id;
  const NodeEndpoint self = self_endpoint(ctx);
  me.host = self.host;
  me.port = self.port;
  resp.brokers.push_back(std::move(me));
  co_return resp;
}

}  // namespace ks::handlers
