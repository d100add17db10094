// What every handler gets: the broker's log, its identity and settings.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/metrics.h"
#include "log/log_manager.h"
#include "metastore/async.h"
#include "net/server.h"
#include "protocol/errors.h"
#include "protocol/header.h"

namespace ks::coordinator {
class GroupCoordinator;
}  // namespace ks::coordinator

namespace ks::security {
class Authenticator;
class AclStore;
}  // namespace ks::security

namespace ks::handlers {

// One advertised listener of a broker: its name and the address clients use.
struct ListenerAddress {
  std::string name;
  std::string host;
  std::int32_t port = 0;

  bool operator==(const ListenerAddress&) const = default;
};

// A broker's address as FindCoordinator and Metadata answer it. host/port are
// its first listener's; `listeners` has one entry per listener (empty for a
// broker that registered before listeners existed).
struct NodeEndpoint {
  std::int32_t node = -1;
  std::string host;
  std::int32_t port = 0;
  std::vector<ListenerAddress> listeners = {};
};

// The endpoint as seen from `listener`: that listener's address when the
// broker has it, else its first listener's.
NodeEndpoint on_listener(NodeEndpoint e, const std::string& listener);

// Partition leadership as the cluster sees it (the owner of the partition's
// stream and the stream's term).
struct PartitionLeader {
  std::int32_t node = -1;  // -1: nobody serves it now (LEADER_NOT_AVAILABLE)
  std::int32_t epoch = 0;
};

// What a broker of a cluster knows beyond itself (broker/cluster_node.h).
// Unset in BrokerContext: this broker alone.
class ClusterView {
 public:
  virtual ~ClusterView() = default;
  // Live brokers, this one included.
  virtual std::vector<NodeEndpoint> brokers() const = 0;
  virtual std::int32_t controller() const = 0;
  virtual PartitionLeader leader(std::int32_t stream) const = 0;
  virtual std::optional<NodeEndpoint> endpoint(std::int32_t node) const = 0;
};

struct BrokerContext {
  log::LogManager& log;
  std::int32_t node_id = 0;
  // The first listener's advertised address, and every listener's.
  std::string advertised_host;
  std::int32_t advertised_port = 0;
  std::vector<ListenerAddress> listeners = {};
  // SASL on SASL_PLAINTEXT / SASL_SSL listeners (null: no SASL listener).
  security::Authenticator* authenticator = nullptr;
  // The ACLs and the authorizer (null: the authorizer is off, every request is allowed).
  security::AclStore* acls = nullptr;
  // The metadata store, for the admin APIs that write it directly (SCRAM
  // credentials); null in handler tests that do not need it.
  metastore::AsyncMetadataStore* meta = nullptr;
  // SCRAM credentials AlterUserScramCredentials may bring the cluster to (--max-scram-credentials).
  std::size_t max_scram_credentials = 10'000;
  bool auto_create_topics = true;
  std::int32_t default_partitions = 1;
  // Partitions one topic may have (bounds the state a single request can create).
  std::int32_t max_partitions_per_topic = 100'000;
  // Bound on a batch's payload after decompression when produce recompresses it for a
  // topic's compression.type (--max-decompressed-batch-bytes).
  std::uint64_t max_decompressed_batch_bytes = std::uint64_t{64} << 20;
  // Consumer groups and committed offsets (null until started: COORDINATOR_NOT_AVAILABLE).
  coordinator::GroupCoordinator* groups = nullptr;
  // With several brokers: the broker coordinating a group slot
  // (cluster::group_slot), nullopt when nobody does. Unset: this broker
  // coordinates every group it serves (FindCoordinator answers itself).
  std::function<std::optional<NodeEndpoint>(std::int32_t slot)> coordinator_for = nullptr;
  // True while writes cannot be stored (object store unavailable): produce then fails at once with
  // a retriable error instead of buffering. Unset: never.
  std::function<bool()> writes_unavailable = nullptr;
  // The cluster beyond this broker (null: a broker alone).
  const ClusterView* cluster = nullptr;
};

struct RequestContext {
  BrokerContext& broker;
  const protocol::RequestHeader& header;
  const net::ConnectionInfo& connection;
  std::int16_t version = 0;
};

// This broker's endpoint on the listener the request came in on.
NodeEndpoint self_endpoint(const RequestContext& ctx);

// Request counters shared by the handlers (registered at start-up so that
// /metrics lists them from the first scrape).
metrics::Counter& produce_requests();
metrics::Counter& produce_bytes();
metrics::Counter& produce_recompressed_batches();
metrics::Counter& produce_recompressed_bytes();
metrics::Counter& fetch_requests();
metrics::Counter& fetch_bytes();
void register_metrics();

// The client's address as Kafka reports it in group descriptions: "/ip".
std::string client_host(const std::string& peer);

// Maps a storage/log error to the Kafka error code a client should see.
protocol::ErrorCode to_kafka_error(Errc e);
inline std::int16_t code(protocol::ErrorCode e) { return static_cast<std::int16_t>(e); }

// The error for a partition this broker does not serve: NOT_LEADER_OR_FOLLOWER
// when it exists (another broker leads it, or it is moving), else
// UNKNOWN_TOPIC_OR_PARTITION.
protocol::ErrorCode not_served(const cluster::TopicInfo* t, std::int32_t partition);

// KIP-951: who leads a partition this broker does not serve (its stream's
// owner and term) and that broker's endpoint, for NOT_LEADER_OR_FOLLOWER
// answers of Produce (v10+) and Fetch (v12+/v16+). nullopt: a broker alone,
// or nobody leads it now.
struct LeaderHint {
  PartitionLeader leader;
  NodeEndpoint endpoint;
};
std::optional<LeaderHint> leader_hint(const BrokerContext& b, const cluster::TopicInfo* t,
                                      std::int32_t partition, const std::string& listener = "PLAINTEXT");

// Appends `e` to a response's node_endpoints (Produce and Fetch each have
// their own type) unless that node is listed already.
template <class Endpoints>
void add_endpoint(Endpoints& out, const NodeEndpoint& e) {
  for (const auto& x : out) {
    if (x.node_id == e.node) return;
  }
  auto& n = out.emplace_back();
  n.node_id = e.node;
  n.host = e.host;
  n.port = e.port;
}

// Kafka's legal topic names: [a-zA-Z0-9._-], 1..249 characters, not "." or "..".
bool valid_topic_name(const std::string& name);

// Creates `name` with the broker defaults when auto-creation is on; returns
// the topic or nullptr (with `error` set) otherwise.
awaitable<const cluster::TopicInfo*> find_or_auto_create(RequestContext& ctx, const std::string& name,
                                                         bool allowed, protocol::ErrorCode& error);

}  // namespace ks::handlers
