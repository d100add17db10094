// run_broker: wires the stores, the log, the Kafka server and HTTP together
// and runs them on one loop thread until SIGTERM/SIGINT.
#include "broker/broker.h"

#include <spdlog/spdlog.h>

#include <boost/asio/signal_set.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "broker/backend_monitor.h"
#include "broker/cluster_node.h"
#include "broker/http.h"
#include "broker/security_config.h"
#include "broker/startup.h"
#include "broker/stores.h"
#include "broker/users.h"
#include "cluster/cluster_state.h"
#include "cluster/key_watch.h"
#include "cluster/keys.h"
#include "common/assert.h"
#include "common/metrics.h"
#include "coordinator/coordinator.h"
#include "dispatch/dispatcher.h"
#include "handlers/context.h"
#include "log/log_manager.h"
#include "log/records.h"
#include "log/upgrade.h"
#include "net/server.h"
#include "security/acl_store.h"
#include "security/sasl.h"

namespace ks::broker {
namespace {

// Blocking backend calls run here; the loop thread never blocks on I/O.
constexpr int kWorkerThreads = 4;
// How long shutdown waits for clients to receive their last answers.
constexpr auto kDrainTimeout = std::chrono::seconds(10);
// How long SIGTERM waits for the controller to move our streams to other brokers.
constexpr auto kStreamDrainTimeout = std::chrono::seconds(15);
// How often old metadata revisions are compacted (bounds the store's history).
constexpr auto kCompactInterval = std::chrono::seconds(60);

spdlog::level::level_enum to_spdlog(LogLevel l) {
  switch (l) {
    case LogLevel::kTrace:
      return spdlog::level::trace;
    case LogLevel::kDebug:
      return spdlog::level::debug;
    case LogLevel::kInfo:
      return spdlog::level::info;
    case LogLevel::kWarn:
      return spdlog::level::warn;
    case LogLevel::kError:
      return spdlog::level::err;
  }
  return spdlog::level::info;
}

// Compacts the metadata store's history up to its current revision.
std::function<Status()> compact_fn(std::shared_ptr<metastore::MetadataStore> m) {
  return [m = std::move(m)]() -> Status {
    metastore::RangeRequest rq;
    rq.key = cluster::keys::cluster();
    rq.count_only = true;
    auto r = m->range(rq);
    if (!r.ok()) return r.status();
    return r->revision > 1 ? m->compact(r->revision) : Status{};
  };
}

coordinator::Options group_options(const Config& cfg, std::int32_t node_id) {
  coordinator::Options go;
  go.node_id = node_id;
  static_cast<coordinator::GroupTimeouts&>(go) = cfg.group;
  go.max_group_configs = cfg.max_group_configs;
  go.consumer_max_size = cfg.consumer_max_size;
  go.offsets_retention = effective_offsets_retention(cfg);
  go.retention_check_interval = cfg.offsets_retention_check_interval;
  go.max_metadata_bytes = cfg.offset_metadata_max_bytes;
  go.max_group_size = cfg.group_max_size;
  go.max_groups = cfg.max_groups;
  return go;
}

coordinator::HighWatermarkFn high_watermarks(log::LogManager& log) {
  return [&log](const cluster::PartitionKey& k) -> std::int64_t {
    const log::PartitionState* p = log.partition(k);
    return p == nullptr ? -1 : p->hwm;
  };
}

// For automatic node ids: the node a /ks/streams/ key names as still owning
// its stream (a dead broker's id stays retired until its streams moved).
std::optional<std::int32_t> stream_held_by(const metastore::KeyValue& kv) {
  if (!kv.key.ends_with("/owner")) return std::nullopt;
  auto o = log::decode_stream_owner(kv.value);
  if (!o.ok() || o->released) return std::nullopt;
  return o->node;
}

std::function<Result<log::UpgradeReport>()> upgrade_fn(std::shared_ptr<metastore::MetadataStore> m,
                                                       std::int32_t streams) {
  return [m = std::move(m), streams] { return log::upgrade_single_node_layout(*m, streams); };
}

// A SCRAM credential read on the worker pool (a plain function: no lambda inside a co_await).
security::Authenticator::CredentialLookup scram_lookup(asio::thread_pool& pool,
                                                       std::shared_ptr<metastore::MetadataStore> meta) {
  return [&pool, meta](security::ScramHash hash, const std::string& user) {
    return offload(pool, [meta, hash, user] { return security::read_scram_credential(*meta, hash, user); });
  };
}

bool write_ready_file(const std::string& path, const std::string& kafka, const std::string& http,
                      const std::map<std::string, std::string>& listeners) {
  nlohmann::json j = {{"kafka", kafka}};
  j["listeners"] = listeners;
  if (!http.empty()) j["http"] = http;
  std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::trunc);
    if (!f) return false;
    f << j.dump() << "\n";
    if (!f.flush()) return false;
  }
  return std::rename(tmp.c_str(), path.c_str()) == 0;
}

// Size and modification time of the TLS files: a change means they were rewritten (cert-manager).
std::string tls_files_stamp(const security::TlsSettings& t) {
  std::string out;
  for (const std::string& path : {t.keystore_location, t.truststore_location}) {
    if (path.empty()) continue;
    std::error_code ec;
    auto size = std::filesystem::file_size(path, ec);
    auto mtime = std::filesystem::last_write_time(path, ec);
    out += fmt::format("{}:{}:{};", path, ec ? 0 : size, ec ? 0 : mtime.time_since_epoch().count());
  }
  return out;
}

// For offload() (plain functions: no lambda inside a co_await).
std::function<std::string()> tls_stamp_fn(security::TlsSettings t) {
  return [t = std::move(t)] { return tls_files_stamp(t); };
}
std::function<Result<std::shared_ptr<asio::ssl::context>>()> tls_context_fn(security::TlsSettings t) {
  return [t = std::move(t)] { return security::make_server_context(t); };
}

// What the listeners need beyond the settings, loaded before the broker starts.
struct ListenerTls {
  std::shared_ptr<asio::ssl::context> context;  // replaced by a reload
  std::string stamp;                            // tls_files_stamp() of the files `context` was built from
  // ssl.principal.mapping.rules; null: DEFAULT (the whole DN).
  std::shared_ptr<const security::SslPrincipalMapper> principal_mapper;
};

struct SecurityState {
  std::map<std::string, ListenerTls> tls;  // by listener name, for SSL and SASL_SSL listeners
  std::map<std::string, std::string> plain_users;
};

// A listener's TLS context and principal mapper, from its settings (listener_config()).
Result<ListenerTls> load_listener_tls(const Config& view) {
  auto ctx = security::make_server_context(tls_settings(view));
  if (!ctx.ok()) return ctx.status();
  ListenerTls out;
  out.context = std::move(*ctx);
  out.stamp = tls_files_stamp(tls_settings(view));
  auto mapper =
      security::SslPrincipalMapper::parse(view.ssl_principal_mapping_rules);  // checked by the setting
  KS_ASSERT(mapper.ok(), "ssl.principal.mapping.rules: {}", mapper.status().message());
  if (!mapper->is_default())
    out.principal_mapper = std::make_shared<security::SslPrincipalMapper>(std::move(*mapper));
  return out;
}

struct Runtime {
  const Config& cfg;
  SecurityState security;
  std::unique_ptr<security::Authenticator> authenticator;
  std::unique_ptr<metastore::AsyncMetadataStore> admin_meta;  // BrokerContext::meta
  asio::io_context io{1};
  asio::thread_pool pool{kWorkerThreads};
  // Object-store health and etcd status; wraps the stores below.
  std::unique_ptr<BackendMonitor> monitor;
  std::shared_ptr<objstore::ObjectStore> objects;
  std::shared_ptr<metastore::MetadataStore> meta;
  std::unique_ptr<cluster::Membership> membership;
  std::unique_ptr<cluster::ClusterState> cluster;
  // The cluster-wide dynamic broker configs, as changed through any broker.
  std::unique_ptr<cluster::KeyWatch> defaults_watch;
  std::unique_ptr<log::LogManager> log;
  // Before `groups`, so destroyed after it: members of consumer groups hold ACL checks.
  std::unique_ptr<security::AclStore> acls;  // with the authorizer on
  std::unique_ptr<coordinator::GroupCoordinator> groups;
  std::unique_ptr<log::ClusterSweep> sweep;
  std::unique_ptr<ClusterNode> node;
  std::unique_ptr<handlers::BrokerContext> ctx;
  std::unique_ptr<dispatch::Dispatcher> dispatcher;
  std::vector<std::unique_ptr<net::Server>> servers;  // one per listener, in effective_listeners order
  std::unique_ptr<HttpServer> http;
  bool node_started = false;  // node->stop() also stops the membership
  bool ready = false;
  bool stopping = false;
  int exit_code = 0;

  explicit Runtime(const Config& c) : cfg(c) {}

  // Rebuilds the TLS context when the keystore or truststore changes; new connections get the new
  // one, open connections keep theirs. A context that cannot be built keeps the previous one.
  awaitable<void> tls_reloader() {
    std::vector<std::string> names;
    for (const auto& [name, tls] : security.tls) names.push_back(name);
    while (!stopping) {
      asio::steady_timer t(io, cfg.ssl_reload_interval);
      boost::system::error_code ec;
      co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      for (const std::string& name : names) {
        if (stopping) break;
        const security::TlsSettings settings = tls_settings(listener_config(cfg, name));
        std::string stamp = co_await offload(pool, tls_stamp_fn(settings));
        if (stamp == security.tls.at(name).stamp) continue;
        security.tls.at(name).stamp = stamp;
        Result<std::shared_ptr<asio::ssl::context>> ctx = co_await offload(pool, tls_context_fn(settings));
        if (!ctx.ok()) {
          spdlog::error(
              "listener {}: TLS files changed but cannot be loaded; keeping the previous certificate: {}",
              name, ctx.status().message());
          continue;
        }
        security.tls.at(name).context = std::move(*ctx);
        spdlog::info("listener {}: TLS files changed: new connections use the reloaded certificate", name);
      }
    }
  }

  awaitable<void> compactor() {
    while (!stopping) {
      asio::steady_timer t(io, kCompactInterval);
      boost::system::error_code ec;
      co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      if (stopping) break;
      // The lambda comes from a plain function: g++ 12 destroys a lambda written inside a co_await
      // expression twice, dropping a reference to `meta` each time (reproduced; see backend_monitor.cc).
      auto s = co_await offload(pool, compact_fn(meta));
      if (!s.ok()) spdlog::warn("metadata compaction failed: {}", s.to_string());
    }
  }

  void broker_defaults_changed() {
    const std::string key = cluster::keys::broker_defaults();
    const metastore::KeyValue* kv = defaults_watch->find(key);
    if (kv == nullptr) {
      cluster->default_configs_changed({}, defaults_watch->revision());
      return;
    }
    std::optional<cluster::BrokerConfigMap> configs = cluster::decode_broker_configs(kv->value);
    if (!configs) {
      spdlog::warn("{}: unreadable; the cluster-wide broker configs stay as they were", key);
      return;
    }
    cluster->default_configs_changed(*configs, kv->mod_revision);
  }

  // A start that cannot go on: stops what was started (the lease is revoked,
  // so our member key goes at once) and exits 1.
  awaitable<void> give_up(const std::string& why) {
    spdlog::critical("{}", why);
    exit_code = 1;
    for (auto& sv : servers) sv->stop();
    if (acls) co_await acls->stop();
    if (groups) co_await groups->stop();
    if (log) co_await log->stop();
    if (node_started) {
      co_await node->stop();
    } else if (membership) {
      co_await membership->stop();
    }
    if (defaults_watch) co_await defaults_watch->stop();
    if (cluster) cluster->stop_watch();
    io.stop();
  }

  awaitable<void> main() {
    net::ServerLimits limits;
    limits.max_request_bytes = cfg.max_request_bytes;
    limits.max_connections = cfg.max_connections;
    limits.max_connections_per_ip = cfg.max_connections_per_ip;
    for (const auto& [ip, n] : cfg.max_connections_per_ip_overrides)
      limits.max_connections_per_ip_overrides[ip] = n;
    limits.max_inflight_per_connection = cfg.max_inflight_requests_per_connection;
    // Bound first (connections wait in the backlog until we serve): the
    // member record carries the advertised ports, and the node id it gets is
    // needed by everything below.
    const std::vector<ResolvedListener> listeners = effective_listeners(cfg);
    std::vector<handlers::ListenerAddress> advertised;
    std::vector<cluster::MemberListener> member_listeners;
    for (const auto& l : listeners) {
      net::ListenerOptions lo;
      lo.name = l.name;
      lo.protocol = l.protocol;
      if (security::uses_tls(l.protocol)) {
        const std::string name = l.name;
        lo.tls = [this, name] { return security.tls.at(name).context; };  // the current one (tls_reloader)
        lo.principal_mapper = security.tls.at(name).principal_mapper;
      }
      lo.max_unauthenticated_request_bytes = cfg.sasl_server_max_receive_size;
      lo.authentication_timeout = cfg.authentication_timeout;
      auto sv = std::make_unique<net::Server>(
          io, limits,
          [this](std::shared_ptr<const std::string> p, const net::ConnectionInfo& c) {
            return dispatcher->handle(std::move(p), c);
          },
          lo);
      if (auto s = sv->bind(l.bind.host, l.bind.port); !s.ok()) {
        co_await give_up("listener " + l.name + ": " + s.message());
        co_return;
      }
      HostPort a = advertised_address(l, sv->port());
      handlers::ListenerAddress la;
      la.name = l.name;
      la.host = a.host;
      la.port = a.port;
      advertised.push_back(la);
      cluster::MemberListener ml;
      ml.name = l.name;
      ml.host = a.host;
      ml.port = a.port;
      member_listeners.push_back(std::move(ml));
      servers.push_back(std::move(sv));
    }
    HostPort adv{advertised.front().host, static_cast<uint16_t>(advertised.front().port)};
    // A prefix written by the single-node layout becomes the stream layout
    // first (idempotent; a no-op on a new or already upgraded cluster).
    if (auto up = co_await offload(pool, upgrade_fn(meta, cfg.streams)); !up.ok()) {
      co_await give_up("cannot upgrade the single-node layout: " + up.status().to_string());
      co_return;
    }
    cluster::MembershipOptions mo;
    mo.node_id = effective_node_id(cfg);
    mo.lease_ttl = cfg.lease_ttl;
    mo.host = adv.host;
    mo.port = adv.port;
    mo.rack = cfg.rack;
    mo.listeners = member_listeners;
    mo.holds_state = stream_held_by;
    membership = std::make_unique<cluster::Membership>(io, pool, meta, mo);
    if (auto s = co_await membership->start(); !s.ok()) {
      membership.reset();  // nothing to revoke: start() cleaned up
      co_await give_up("cannot join the cluster: " + s.to_string());
      co_return;
    }
    const std::int32_t node_id = membership->node_id();
    log::LogOptions lo;
    lo.node_id = node_id;
    lo.flush_interval = cfg.flush_interval;
    lo.flush_bytes = cfg.flush_bytes;
    lo.cache_bytes = cfg.cache_bytes;
    lo.read_ahead_bytes = cfg.read_ahead_bytes;
    lo.checkpoint_interval = cfg.checkpoint_interval;
    lo.max_buffered_bytes = cfg.max_buffered_bytes;
    lo.producer_expiration = cfg.producer_id_expiration;
    lo.max_producers_per_partition = cfg.max_producers_per_partition;
    lo.orphan_grace = effective_orphan_grace(cfg);
    cluster::ClusterOptions co;
    co.node_id = node_id;
    co.producer_expiration = cfg.producer_id_expiration;
    co.streams = cfg.streams;
    cluster = std::make_unique<cluster::ClusterState>(pool, meta, co);
    if (auto s = co_await cluster->start(); !s.ok()) {
      co_await give_up("cannot start: " + s.to_string());
      co_return;
    }
    // Topics created, grown, reconfigured or deleted through other brokers reach us.
    cluster->watch_topics(io);
    defaults_watch = std::make_unique<cluster::KeyWatch>(io, metastore::AsyncMetadataStore(pool, meta),
                                                         cluster::keys::broker_defaults(), "",
                                                         "cluster-wide broker configs");
    defaults_watch->on_change([this] { broker_defaults_changed(); });
    if (auto s = co_await defaults_watch->load(); !s.ok()) {
      co_await give_up("cannot start: " + s.to_string());
      co_return;
    }
    defaults_watch->start();
    log = std::make_unique<log::LogManager>(io, pool, objects, meta, *cluster, lo);
    // Streams come from the placement (ClusterNode), not all at once.
    if (auto s = co_await log->start(false); !s.ok()) {
      log.reset();
      co_await give_up("cannot start: " + s.to_string());
      co_return;
    }
    groups = std::make_unique<coordinator::GroupCoordinator>(io, pool, meta, *cluster, high_watermarks(*log),
                                                             group_options(cfg, node_id));
    if (auto s = co_await groups->start(); !s.ok()) {
      groups.reset();
      co_await give_up("cannot start the group coordinator: " + s.to_string());
      co_return;
    }
    if (cfg.authorizer) {
      security::AuthorizerOptions ao;
      ao.super_users = cfg.super_users;
      ao.allow_if_no_acl = cfg.allow_everyone_if_no_acl_found;
      acls = std::make_unique<security::AclStore>(io, metastore::AsyncMetadataStore(pool, meta), ao,
                                                  cfg.max_acls);
      if (auto s = co_await acls->start(); !s.ok()) {
        acls.reset();
        co_await give_up("cannot start the authorizer: " + s.to_string());
        co_return;
      }
    }
    handlers::register_metrics();
    ctx = std::make_unique<handlers::BrokerContext>(handlers::BrokerContext{*log, node_id, {}, 0});
    ctx->auto_create_topics = cfg.auto_create_topics;
    ctx->default_partitions = cfg.default_partitions;
    ctx->max_decompressed_batch_bytes = cfg.max_decompressed_batch_bytes;
    ctx->groups = groups.get();
    ctx->writes_unavailable = [this] { return monitor->writes_unavailable(); };
    ctx->advertised_host = adv.host;
    ctx->advertised_port = adv.port;
    ctx->listeners = advertised;
    authenticator = std::make_unique<security::Authenticator>(cfg.sasl_enabled_mechanisms,
                                                              security.plain_users, scram_lookup(pool, meta));
    ctx->authenticator = authenticator.get();
    ctx->acls = acls.get();
    admin_meta = std::make_unique<metastore::AsyncMetadataStore>(pool, meta);
    ctx->meta = admin_meta.get();
    ctx->max_scram_credentials = cfg.max_scram_credentials;
    dispatcher = std::make_unique<dispatch::Dispatcher>(*ctx);
    // Serving what the placement gives us.
    log::ClusterSweepOptions so;
    so.streams = cluster->streams();
    so.grace = effective_orphan_grace(cfg);
    sweep = std::make_unique<log::ClusterSweep>(objects, meta, so);
    ClusterNodeOptions no;
    // A live previous owner normally releases within a flush and a checkpoint;
    // taking a stream from it earlier than a drain may take fences it (it
    // then exits 70), so the bound is the drain's, not the lease's.
    no.release_timeout = std::max<std::chrono::milliseconds>(cfg.lease_ttl, kStreamDrainTimeout);
    no.sweep = sweep.get();
    no.sweep_interval = std::max<std::chrono::milliseconds>(so.grace / 2, std::chrono::seconds(1));
    node = std::make_unique<ClusterNode>(io, pool, meta, *membership, *cluster, *log, *groups, no);
    if (auto s = co_await node->start(); !s.ok()) {
      co_await give_up("cannot join the cluster: " + s.to_string());
      co_return;
    }
    node_started = true;
    ctx->cluster = node.get();
    ctx->coordinator_for = [this](std::int32_t slot) -> std::optional<handlers::NodeEndpoint> {
      handlers::PartitionLeader l = node->leader(slot);
      if (l.node < 0) return std::nullopt;
      return node->endpoint(l.node);
    };
    for (auto& sv : servers) sv->start();
    // Ready once the streams placed here are served (bounded: a cluster whose
    // controller is slow still lets us answer, with retriable errors meanwhile).
    {
      const auto until = Clock::now() + cfg.startup_timeout;
      while (!node->settled() && Clock::now() < until) {
        asio::steady_timer t(io, std::chrono::milliseconds(20));
        boost::system::error_code wait_ec;
        co_await t.async_wait(asio::redirect_error(asio::use_awaitable, wait_ec));
      }
      if (!node->settled()) spdlog::warn("not all streams placed here are served yet; going on");
    }
    std::string http_addr;
    if (cfg.http_listen) {
      Routes routes;
      routes["/metrics"] = [] {
        return HttpResponse{200, kPrometheusContentType, metrics::registry().render()};
      };
      routes["/livez"] = [] { return HttpResponse{200, "text/plain; charset=utf-8", "ok\n"}; };
      routes["/readyz"] = [this] {
        bool ok = ready && !stopping && !log->fenced() && node->settled() && node->membership().alive();
        std::string backend = monitor->not_ready_reason();
        // The authorizer keeps deciding with the ACLs it last saw (its watch resumes when the store is back).
        if (acls && !monitor->metadata_reachable()) backend += "; ACLs: the last mirrored ACLs stay in force";
        if (ok && backend.empty()) return HttpResponse{200, "text/plain; charset=utf-8", "ready\n"};
        std::string body = "not ready" + (backend.empty() ? "" : ": " + backend) + "\n";
        return HttpResponse{503, "text/plain; charset=utf-8", std::move(body)};
      };
      auto h = HttpServer::start(io, cfg.http_listen->to_string(), std::move(routes));
      if (!h.ok()) {
        co_await give_up("http-listen: " + h.status().message());
        co_return;
      }
      http = std::move(h).value();
      http_addr = HostPort{cfg.http_listen->host, http->port()}.to_string();
    }
    std::map<std::string, std::string> bound;
    for (std::size_t i = 0; i < servers.size(); ++i) {
      std::string addr = HostPort{listeners[i].bind.host, servers[i]->port()}.to_string();
      spdlog::info("serving Kafka listener {} ({}) on {} (advertised {}:{})", listeners[i].name,
                   security::protocol_name(listeners[i].protocol), addr, advertised[i].host,
                   advertised[i].port);
      bound[listeners[i].name] = std::move(addr);
    }
    std::string kafka_addr = bound[listeners.front().name];
    ready = true;
    if (!cfg.ready_file.empty() && !write_ready_file(cfg.ready_file, kafka_addr, http_addr, bound)) {
      spdlog::error("cannot write ready-file {}", cfg.ready_file);
    }
    spdlog::info("serving Kafka on {} (advertised {}), http {}", kafka_addr, adv.to_string(),
                 http_addr.empty() ? "off" : http_addr);
    asio::co_spawn(io, compactor(), asio::detached);
    if (!security.tls.empty() && cfg.ssl_reload_interval.count() > 0)
      asio::co_spawn(io, tls_reloader(), asio::detached);
    monitor->start();

    asio::signal_set signals(io, SIGINT, SIGTERM);
    auto [ec, sig] = co_await signals.async_wait(asio::as_tuple(asio::use_awaitable));
    spdlog::info("signal {}: stopping (flushing pending data first)", sig);
    stopping = true;
    // Hand our streams over first (commits what was accepted for them), so
    // that other brokers serve them at once rather than after our lease.
    co_await node->drain(Clock::now() + kStreamDrainTimeout);
    monitor->stop();
    // Stop taking requests, commit what was accepted, answer, then exit.
    for (auto& sv : servers) sv->stop();
    if (acls) co_await acls->stop();
    co_await groups->stop();
    co_await log->stop();
    co_await node->stop();
    co_await defaults_watch->stop();
    cluster->stop_watch();
    for (auto& sv : servers) co_await sv->shutdown(Clock::now() + kDrainTimeout);
    if (http) http->stop();
    io.stop();
  }
};

}  // namespace

int run_broker(const Config& cfg, const EnvLookup& env) {
  spdlog::set_level(to_spdlog(cfg.log_level));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  if (cfg.object_store.starts_with("file://") || cfg.metadata.starts_with("embedded://")) {
    std::error_code ec;
    std::filesystem::create_directories(cfg.data_dir, ec);
  }
  // TLS material and PLAIN users are read before anything starts: a bad file exits 2.
  SecurityState sec;
  bool sasl_needed = false, plain_without_tls = false;
  const bool plain_enabled = std::count(cfg.sasl_enabled_mechanisms.begin(),
                                        cfg.sasl_enabled_mechanisms.end(), std::string(security::kPlain)) > 0;
  for (const auto& l : effective_listeners(cfg)) {
    sasl_needed = sasl_needed || security::uses_sasl(l.protocol);
    plain_without_tls =
        plain_without_tls || (l.protocol == security::SecurityProtocol::kSaslPlaintext && plain_enabled);
    if (!security::uses_tls(l.protocol)) continue;
    auto tls = load_listener_tls(listener_config(cfg, l.name));
    if (!tls.ok()) {
      spdlog::critical("listener {}: {}", l.name, tls.status().message());
      return 2;
    }
    sec.tls[l.name] = std::move(*tls);
  }
  if (sasl_needed && plain_enabled) {
    auto users = load_plain_users(cfg.sasl_plain_users_file);
    if (!users.ok()) {
      spdlog::critical("{}", users.status().message());
      return 2;
    }
    sec.plain_users = std::move(*users);
    if (plain_without_tls) {
      spdlog::warn(
          "SASL PLAIN is enabled on a SASL_PLAINTEXT listener: passwords cross the network unencrypted; "
          "use SASL_SSL");
    }
  }
  if (cfg.authorizer && cfg.super_users.empty()) {
    spdlog::warn(
        "**** authorizer is on and super.users is empty: nobody can create the first ACL (CreateAcls needs "
        "ALTER on the cluster){}; set super.users ****",
        cfg.allow_everyone_if_no_acl_found ? " except through allow.everyone.if.no.acl.found" : "");
  }
  // Both stores answer (the bucket is writable), or exit: 2 bad setting, 1 unreachable.
  StartupOptions startup;
  startup.timeout = cfg.startup_timeout;
  auto opened = open_stores_at_startup(cfg, url_openers(cfg, env), startup);
  if (!opened.stores) {
    spdlog::critical("{}", opened.message);
    return opened.exit_code;
  }
  Runtime rt(cfg);
  rt.security = std::move(sec);
  rt.monitor =
      std::make_unique<BackendMonitor>(rt.io, rt.pool, opened.stores->objects, opened.stores->metadata);
  rt.objects = counting(rt.monitor->objects());
  rt.meta = counting(rt.monitor->metadata());
  asio::co_spawn(rt.io, rt.main(), [&rt](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      spdlog::critical("broker failed: {}", ex.what());
    }
    rt.exit_code = 1;
    rt.io.stop();
  });
  rt.io.run();
  rt.pool.join();
  spdlog::info("stopped");
  return rt.exit_code;
}

}  // namespace ks::broker
