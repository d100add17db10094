#include "handlers/context.h"

#include "handlers/authorized_ops.h"

namespace ks::handlers {

using protocol::ErrorCode;

metrics::Counter& produce_requests() {
  static auto& c = metrics::registry().counter("kafscale_produce_requests_total", "Produce requests handled");
  return c;
}
metrics::Counter& produce_bytes() {
  static auto& c =
      metrics::registry().counter("kafscale_produce_bytes_total", "Record bytes accepted by Produce");
  return c;
}
metrics::Counter& produce_recompressed_batches() {
  static auto& c =
      metrics::registry().counter("kafscale_produce_recompressed_batches_total",
                                  "Produced batches recompressed to their topic's compression.type");
  return c;
}
metrics::Counter& produce_recompressed_bytes() {
  static auto& c = metrics::registry().counter(
      "kafscale_produce_recompressed_bytes_total",
      "Bytes of produced batches, as the producer sent them, recompressed to their topic's compression.type");
  return c;
}
metrics::Counter& fetch_requests() {
  static auto& c = metrics::registry().counter("kafscale_fetch_requests_total", "Fetch requests handled");
  return c;
}
metrics::Counter& fetch_bytes() {
  static auto& c =
      metrics::registry().counter("kafscale_fetch_bytes_total", "Record bytes returned by Fetch");
  return c;
}
void register_metrics() {
  produce_requests();
  produce_bytes();
  produce_recompressed_batches();
  produce_recompressed_bytes();
  fetch_requests();
  fetch_bytes();
}

ErrorCode to_kafka_error(Errc e) {
  switch (e) {
    case Errc::ok:
      return ErrorCode::kNone;
    case Errc::timeout:
      return ErrorCode::kRequestTimedOut;
    case Errc::fenced:
      return ErrorCode::kNotLeaderOrFollower;
    case Errc::not_found:
      return ErrorCode::kUnknownTopicOrPartition;
    case Errc::already_exists:
      return ErrorCode::kTopicAlreadyExists;
    case Errc::invalid_argument:
      return ErrorCode::kInvalidRequest;
    case Errc::limit_exceeded:
      return ErrorCode::kPolicyViolation;
    case Errc::io_error:
    case Errc::unavailable:
    case Errc::corrupt:
    case Errc::compacted:
    case Errc::nospace:
    case Errc::cancelled:
      return ErrorCode::kKafkaStorageError;
  }
  return ErrorCode::kUnknownServerError;
}

protocol::ErrorCode not_served(const cluster::TopicInfo* t, std::int32_t partition) {
  if (t != nullptr && partition >= 0 && partition < t->record.partitions)
    return ErrorCode::kNotLeaderOrFollower;
  return ErrorCode::kUnknownTopicOrPartition;
}

NodeEndpoint on_listener(NodeEndpoint e, const std::string& listener) {
  for (const auto& l : e.listeners) {
    if (l.name == listener) {
      e.host = l.host;
      e.port = l.port;
      break;
    }
  }
  return e;
}

NodeEndpoint self_endpoint(const RequestContext& ctx) {
  NodeEndpoint e;
  e.node = ctx.broker.node_id;
  e.host = ctx.broker.advertised_host;
  e.port = ctx.broker.advertised_port;
  e.listeners = ctx.broker.listeners;
  return on_listener(std::move(e), ctx.connection.listener());
}

std::optional<LeaderHint> leader_hint(const BrokerContext& b, const cluster::TopicInfo* t,
                                      std::int32_t partition, const std::string& listener) {
  if (b.cluster == nullptr || t == nullptr || partition < 0 || partition >= t->record.partitions) {
    return std::nullopt;
  }
  PartitionLeader l = b.cluster->leader(b.log.cluster().stream_of(*t, partition));
  if (l.node < 0) return std::nullopt;
  std::optional<NodeEndpoint> e = b.cluster->endpoint(l.node);
  if (!e) return std::nullopt;
  return LeaderHint{l, on_listener(std::move(*e), listener)};
}

bool valid_topic_name(const std::string& name) {
  if (name.empty() || name.size() > 249 || name == "." || name == "..") return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

awaitable<const cluster::TopicInfo*> find_or_auto_create(RequestContext& ctx, const std::string& name,
                                                         bool allowed, ErrorCode& error) {
  auto& log = ctx.broker.log;
  if (const auto* t = log.topic(name)) co_return t;
  if (!valid_topic_name(name)) {
    error = ErrorCode::kInvalidTopicException;
    co_return nullptr;
  }
  if (!allowed || !ctx.broker.auto_create_topics) {
    error = ErrorCode::kUnknownTopicOrPartition;
    co_return nullptr;
  }
  // Auto-creation needs CREATE on the cluster or on the topic (Kafka's Metadata).
  if (!authz::cluster(ctx, authz::kCreate, /*audit=*/false) && !authz::topic(ctx, authz::kCreate, name)) {
    error = ErrorCode::kTopicAuthorizationFailed;
    co_return nullptr;
  }
  auto r = co_await log.create_topic(name, ctx.broker.default_partitions, {});
  if (r.ok()) co_return *r;
  if (const auto* t = log.topic(name)) co_return t;  // created concurrently
  error = to_kafka_error(r.code());
  co_return nullptr;
}

std::string client_host(const std::string& peer) {
  auto colon = peer.rfind(':');
  std::string host = colon == std::string::npos ? peer : peer.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  return "/" + host;
}

}  // namespace ks::handlers
