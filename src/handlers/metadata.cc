#include "handlers/authorized_ops.h"
#include "handlers/handlers.h"

namespace ks::handlers {
namespace {

void describe_topic(RequestContext& ctx, const cluster::TopicInfo& t, bool with_operations,
                    MetadataResponse::MetadataResponseTopic& out) {
  out.error_code = 0;
  out.topic_authorized_operations = authz::topic_operations(ctx, with_operations, t.record.name);
  out.name = t.record.name;
  out.topic_id.bytes = t.record.id;
  out.partitions.reserve(static_cast<std::size_t>(t.record.partitions));
  const ClusterView* view = ctx.broker.cluster;
  for (std::int32_t i = 0; i < t.record.partitions; ++i) {
    MetadataResponse::MetadataResponseTopic::MetadataResponsePartition p;
    p.partition_index = i;
    std::int32_t leader = ctx.broker.node_id;
    const auto* st = ctx.broker.log.partition(log::PartitionKey{t.record.id, i});
    p.leader_epoch = st ? st->leader_epoch : 0;
    if (view != nullptr) {
      // The owner of the partition's stream, with the stream's term.
      PartitionLeader l = view->leader(ctx.broker.log.cluster().stream_of(t, i));
      leader = l.node;
      p.leader_epoch = l.epoch;
      if (leader < 0) p.error_code = code(ErrorCode::kLeaderNotAvailable);
    }
    p.leader_id = leader;
    // Any replication factor is accepted; the object store holds the copies.
    if (leader >= 0) {
      p.replica_nodes = {leader};
      p.isr_nodes = {leader};
    }
    out.partitions.push_back(std::move(p));
  }
}

}  // namespace

awaitable<MetadataResponse> handle(RequestContext& ctx, MetadataRequest& req) {
  MetadataResponse resp;
  auto& b = ctx.broker;
  if (b.cluster != nullptr) {
    for (const auto& all : b.cluster->brokers()) {
      const NodeEndpoint e = on_listener(all, ctx.connection.listener());
      MetadataResponse::MetadataResponseBroker m;
      m.node_id = e.node;
      m.host = e.host;
      m.port = e.port;
      resp.brokers.push_back(std::move(m));
    }
    resp.controller_id = b.cluster->controller();
  } else {
    MetadataResponse::MetadataResponseBroker me;
    me.node_id = b.node_id;
    const NodeEndpoint self = self_endpoint(ctx);
    me.host = self.host;
    me.port = self.port;
    resp.brokers.push_back(me);
    resp.controller_id = b.node_id;
  }
  resp.cluster_id = b.log.cluster_id();
  // v13 (KIP-1102): a top-level error such as REBOOTSTRAP_REQUIRED tells the client
  // its whole view of the cluster is stale. We are the whole cluster, so never.
  resp.error_code = 0;
  // v8+: authorized operations when asked for (the cluster's only in v8-10).
  const bool topic_ops = ctx.version >= 8 && req.include_topic_authorized_operations;
  resp.cluster_authorized_operations = authz::cluster_operations(
      ctx, ctx.version >= 8 && ctx.version <= 10 && req.include_cluster_authorized_operations);

  // v0: an empty list means all topics; v1+: null means all, empty means none.
  const bool all = !req.topics.has_value() || (ctx.version == 0 && req.topics->empty());
  if (all) {
    // Only the topics the caller may describe (all with the authorizer off).
    for (const auto* t : b.log.topics()) {
      if (!authz::topic(ctx, authz::kDescribe, t->record.name, /*audit=*/false)) continue;
      resp.topics.emplace_back();
      describe_topic(ctx, *t, topic_ops, resp.topics.back());
    }
    co_return resp;
  }
  // Versions 0-3 have no allow_auto_topic_creation field; Kafka treats it as true.
  const bool allow_create = ctx.version < 4 || req.allow_auto_topic_creation;
  for (const auto& rt : *req.topics) {
    MetadataResponse::MetadataResponseTopic out;
    if (!rt.name.has_value()) {
      // By topic id (v10+).
      out.topic_id = rt.topic_id;
      const auto* t = b.log.topic_by_id(rt.topic_id.bytes);
      if (t == nullptr) {
        out.error_code = code(ErrorCode::kUnknownTopicId);
      } else if (!authz::topic(ctx, authz::kDescribe, t->record.name)) {
        out.error_code = code(ErrorCode::kTopicAuthorizationFailed);
      } else {
        describe_topic(ctx, *t, topic_ops, out);
      }
      resp.topics.push_back(std::move(out));
      continue;
    }
    if (!authz::topic(ctx, authz::kDescribe, *rt.name)) {
      out.name = *rt.name;
      out.error_code = code(ErrorCode::kTopicAuthorizationFailed);
      out.topic_authorized_operations = authz::topic_operations(topic_ops);
      resp.topics.push_back(std::move(out));
      continue;
    }
    ErrorCode err = ErrorCode::kNone;
    const auto* t = co_await find_or_auto_create(ctx, *rt.name, allow_create, err);
    if (t == nullptr) {
      out.name = *rt.name;
      out.error_code = code(err);
      out.topic_authorized_operations = authz::topic_operations(topic_ops);
    } else {
      describe_topic(ctx, *t, topic_ops, out);
    }
    resp.topics.push_back(std::move(out));
  }
  co_return resp;
}

}  // namespace ks::handlers
