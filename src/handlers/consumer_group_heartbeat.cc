// ConsumerGroupHeartbeat (KIP-848): the wire request to the coordinator's
// consumer_heartbeat and back. v1: the client generates its member id and may
// subscribe by regex.
#include "coordinator/coordinator.h"
#include "handlers/authorized_ops.h"
#include "handlers/handlers.h"

namespace ks::handlers {
namespace {

coordinator::ConsumerHeartbeatParams params(const RequestContext& ctx, ConsumerGroupHeartbeatRequest& req) {
  coordinator::ConsumerHeartbeatParams p;
  p.group_id = std::move(req.group_id);
  p.member_id = std::move(req.member_id);
  p.member_epoch = req.member_epoch;
  p.instance_id = std::move(req.instance_id);
  p.rack_id = std::move(req.rack_id);
  p.rebalance_timeout_ms = req.rebalance_timeout_ms;
  p.topic_names = std::move(req.subscribed_topic_names);
  p.topic_regex = std::move(req.subscribed_topic_regex);
  p.server_assignor = std::move(req.server_assignor);
  if (req.topic_partitions) {
    coordinator::Assignment owned;
    for (const auto& t : *req.topic_partitions) {
      for (auto part : t.partitions) owned[t.topic_id.bytes].insert(part);
    }
    p.owned = std::move(owned);
  }
  p.client_generates_member_id = ctx.version >= 1;
  p.client_id = ctx.header.client_id.value_or("");
  p.client_host = client_host(ctx.connection.peer);
  p.may_describe = authz::topic_filter(ctx, authz::kDescribe);
  return p;
}

void fill(ConsumerGroupHeartbeatResponse& resp, const coordinator::ConsumerHeartbeatResult& r) {
  resp.error_code = code(r.error);
  resp.error_message = r.error_message;
  if (r.error != ErrorCode::kNone) return;
  resp.member_id = r.member_id;
  resp.member_epoch = r.member_epoch;
  resp.heartbeat_interval_ms = r.heartbeat_interval_ms;
  if (r.assignment) {
    auto& a = resp.assignment.emplace();
    for (const auto& [topic, parts] : *r.assignment) {
      auto& t = a.topic_partitions.emplace_back();
      t.topic_id.bytes = topic;
      t.partitions.assign(parts.begin(), parts.end());
    }
  }
}

}  // namespace

awaitable<ConsumerGroupHeartbeatResponse> handle(RequestContext& ctx, ConsumerGroupHeartbeatRequest& req) {
  ConsumerGroupHeartbeatResponse resp;
  if (!authz::group(ctx, authz::kRead, req.group_id)) {
    resp.error_code = code(ErrorCode::kGroupAuthorizationFailed);
    co_return resp;
  }
  // Subscribed topic names the caller may not describe refuse the whole heartbeat (Kafka's answer).
  if (req.subscribed_topic_names) {
    for (const auto& t : *req.subscribed_topic_names) {
      if (!authz::topic(ctx, authz::kDescribe, t)) {
        resp.error_code = code(ErrorCode::kTopicAuthorizationFailed);
        co_return resp;
      }
    }
  }
  if (ctx.broker.groups == nullptr) {
    resp.error_code = code(ErrorCode::kCoordinatorNotAvailable);
    co_return resp;
  }
  auto w = ctx.broker.groups->consumer_heartbeat(params(ctx, req));
  co_await w->done.wait();
  fill(resp, w->result);
  co_return resp;
}

}  // namespace ks::handlers
