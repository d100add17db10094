// Broker configuration: settings, their defaults, and resolution from flags, environment and a YAML file.
//
// Every setting has one name used as the YAML key, the flag (--name) and the environment variable
// (KAFSCALE_<NAME_IN_UPPER_SNAKE>). Precedence: flag > environment > file (--config) > default.
// A few settings also have a shorter alias accepted as flag and YAML key (--startup-timeout).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/env.h"
#include "common/status.h"
#include "coordinator/types.h"
#include "security/session.h"
#include "security/tls.h"

namespace ks::broker {

struct HostPort {
  std::string host;  // hostname or IP literal, IPv6 without brackets
  uint16_t port = 0;

  // "host:port", with brackets around IPv6 literals.
  std::string to_string() const;
  // 0.0.0.0 or :: (any spelling of the unspecified address).
  bool is_wildcard() const;
  bool operator==(const HostPort&) const = default;
};

// Parses HOST:PORT ("127.0.0.1:9092", "[::1]:9092", "kafka.local:0"). Port 0 is accepted here; callers
// that need a real port check it.
Result<HostPort> parse_host_port(std::string_view s);
// Plain integer or integer with suffix K/KiB, M/MiB, G/GiB, T/TiB (powers of 1024, case-insensitive).
Result<uint64_t> parse_size(std::string_view s);
// true/false/1/0/yes/no (case-insensitive).
Result<bool> parse_bool(std::string_view s);
// Milliseconds: a plain integer, or an integer with suffix ms, s, m or h ("1500", "90s", "2m").
Result<std::chrono::milliseconds> parse_duration_ms(std::string_view s);

// One entry of Kafka's listeners / advertised.listeners: NAME://HOST:PORT.
struct ListenerAddress {
  std::string name;  // upper case, [A-Z0-9_]
  HostPort address;
  bool operator==(const ListenerAddress&) const = default;
};

enum class LogLevel { kTrace, kDebug, kInfo, kWarn, kError };
std::string_view log_level_name(LogLevel l);  // "trace", "debug", ...

inline constexpr uint64_t kKiB = 1024;
inline constexpr uint64_t kMiB = 1024 * kKiB;
inline constexpr uint64_t kGiB = 1024 * kMiB;

// Defaults of list settings (functions: g++ 12 crashes on braced lists in these initializers).
std::vector<std::string> default_ssl_protocols();    // TLSv1.2, TLSv1.3
std::vector<std::string> default_sasl_mechanisms();  // SCRAM-SHA-256, SCRAM-SHA-512

struct Config {
  HostPort listen{"127.0.0.1", 9092};  // port 0: pick a free port
  // Address given to clients in Metadata. Unset: the listen host with the bound port (see
  // advertised_address). Never a wildcard, never port 0.
  std::optional<HostPort> advertise;
  std::string data_dir = "./kafscale-data";
  // URLs. After parsing they are never empty: the defaults are file://<data-dir>/objects and
  // embedded://<data-dir>/meta; everything after "scheme://" is backend-specific (a path for file://).
  std::string object_store;
  std::string metadata;
  // Unset ("auto"): 0 with the embedded metadata store (one broker by construction), else a free
  // id taken from the metadata store at start (see effective_node_id and cluster/membership.h).
  std::optional<int32_t> node_id;
  // Membership (docs/ARCHITECTURE.md, many brokers): the lease that keeps this broker a member
  // (rounded up to whole seconds), its rack, and the stream count of a cluster it creates.
  std::chrono::milliseconds lease_ttl{6000};
  std::string rack;
  int32_t streams = 16;
  std::string cluster_id;                        // empty: the broker chooses (derives or loads a stored one)
  std::chrono::milliseconds flush_interval{10};  // default 10 for file://, 250 otherwise
  uint64_t flush_bytes = 4 * kMiB;
  uint64_t cache_bytes = 256 * kMiB;
  // Cold reads fetch whole objects up to this size with one GET (capped at a quarter of cache_bytes).
  uint64_t read_ahead_bytes = 16 * kMiB;
  bool auto_create_topics = true;
  int32_t default_partitions = 1;
  std::chrono::milliseconds checkpoint_interval{60000};
  std::optional<HostPort> http_listen;      // unset: no HTTP endpoint
  std::string ready_file;                   // empty: none; written once the broker serves requests
  uint64_t max_request_bytes = 100 * kMiB;  // Kafka's socket.request.max.bytes
  // Largest records payload of one batch after decompression, when a topic's compression.type makes
  // the broker recompress what a producer sent (a bigger one is refused with MESSAGE_TOO_LARGE).
  uint64_t max_decompressed_batch_bytes = 64 * kMiB;
  uint32_t max_connections = 10000;
  uint32_t max_connections_per_ip = 0;  // max.connections.per.ip; 0: no limit
  // max.connections.per.ip.overrides: IP address (normalized) -> its limit (0: refused).
  std::map<std::string, uint32_t> max_connections_per_ip_overrides;
  // Produce bytes accepted but not yet durable, across all connections.
  uint64_t max_buffered_bytes = 512 * kMiB;
  uint32_t max_inflight_requests_per_connection = 100;
  LogLevel log_level = LogLevel::kInfo;
  std::chrono::milliseconds request_timeout{30000};  // for object/metadata store calls
  // How long start-up keeps retrying the object store (put/get/delete of a probe object) and the
  // metadata store before giving up with exit code 1. Pods often start before their dependencies.
  // 0: try once.
  std::chrono::milliseconds startup_timeout{60000};

  // Consumer groups (Kafka's names and defaults; see src/coordinator/README.md).
  coordinator::GroupTimeouts group;    // group.*.session.timeout.ms, group.*.heartbeat.interval.ms, ...
  uint32_t max_group_configs = 10000;  // groups with explicit configs (GROUP config resources), cluster-wide
  uint32_t consumer_max_size = 10000;  // group.consumer.max.size
  uint32_t group_max_size = 10000;     // group.max.size (Kafka: unbounded)
  uint32_t max_groups = 100000;        // groups one coordinator holds
  int64_t offsets_retention_minutes = 10080;  // offsets.retention.minutes
  // Overrides offsets_retention_minutes when non-zero (finer than minutes, e.g. for tests).
  std::chrono::milliseconds offsets_retention_ms{0};
  std::chrono::milliseconds offsets_retention_check_interval{600000};  // offsets.retention.check.interval.ms
  // offset.metadata.max.bytes; at most 4096 so that 128 offsets with metadata fit one etcd value.
  uint32_t offset_metadata_max_bytes = 4096;

  // Idempotent producers and object GC (src/log/log_manager.h LogOptions).
  std::chrono::milliseconds producer_id_expiration{86400000};  // producer.id.expiration.ms
  uint32_t max_producers_per_partition = 1000;
  // Unreferenced objects are deleted once seen so for this long; 0: ten checkpoint intervals.
  std::chrono::milliseconds orphan_grace{0};

  // Listeners and security (Kafka's names; security_config.h, docs/SECURITY.md). No listeners: one
  // PLAINTEXT listener on `listen` advertised as `advertise`.
  std::vector<ListenerAddress> listeners;             // listeners
  std::vector<ListenerAddress> advertised_listeners;  // advertised.listeners
  // listener.security.protocol.map; a listener named like a protocol needs no entry.
  std::vector<std::pair<std::string, security::SecurityProtocol>> listener_protocols;
  std::string ssl_keystore_location;    // ssl.keystore.location (PEM: certificate chain + key)
  std::string ssl_truststore_location;  // ssl.truststore.location (PEM CA certificates)
  std::string ssl_principal_mapping_rules =
      "DEFAULT";  // ssl.principal.mapping.rules (security/principal_mapping.h)
  security::ClientAuth ssl_client_auth = security::ClientAuth::kNone;        // ssl.client.auth
  std::vector<std::string> ssl_enabled_protocols = default_ssl_protocols();  // ssl.enabled.protocols
  std::vector<std::string> ssl_cipher_suites;                                // ssl.cipher.suites
  // How often the keystore and truststore files are checked for changes (a changed file gives new
  // connections a new TLS context; open connections keep theirs). 0: never.
  std::chrono::milliseconds ssl_reload_interval{30000};
  // Kafka's listener.name.<name>.ssl.* overrides: LISTENER -> ssl setting name (ssl-client-auth) -> raw
  // value, applied over the ssl-* settings for that listener (security_config.h: listener_config).
  std::map<std::string, std::map<std::string, std::string>> listener_ssl;
  std::vector<std::string> sasl_enabled_mechanisms = default_sasl_mechanisms();
  std::string sasl_plain_users_file;                   // PLAIN users, "name:password" lines
  uint64_t sasl_server_max_receive_size = 512 * kKiB;  // sasl.server.max.receive.size
  std::chrono::milliseconds authentication_timeout{10000};
  // ACLs (security/acl.h): checked only with the authorizer on.
  bool authorizer = false;
  std::set<std::string> super_users;            // super.users, "User:a;User:b"
  bool allow_everyone_if_no_acl_found = false;  // allow.everyone.if.no.acl.found
  uint32_t max_scram_credentials =
      10000;                  // SCRAM credentials AlterUserScramCredentials may bring the cluster to
  uint32_t max_acls = 10000;  // ACLs the cluster may hold
};

// The offsets retention the coordinator uses: offsets_retention_ms when set, else the minutes.
std::chrono::milliseconds effective_offsets_retention(const Config& cfg);

// The node id to register with: node_id when set; unset: 0 with the embedded metadata store (a single
// broker by construction), nullopt otherwise (the membership takes a free id).
std::optional<int32_t> effective_node_id(const Config& cfg);

// How long an unreferenced object or checkpoint is kept: orphan_grace when set, else ten checkpoint
// intervals (at least a second).
std::chrono::milliseconds effective_orphan_grace(const Config& cfg);

// The fully resolved defaults (what parsing an empty command line with no environment gives).
Config default_config();

// Cross-setting checks (e.g. a wildcard listen needs an explicit advertise). parse_broker_config runs
// this; call it when building a Config by hand.
Status validate(const Config& cfg);

// The address clients should use once the listener is bound to bound_port.
HostPort advertised_address(const Config& cfg, uint16_t bound_port);

// One "name = value" line per setting, for the startup log.
std::string describe(const Config& cfg);

struct ParseOutcome {
  std::optional<Config> config;  // set: run the broker with it
  int exit_code = 0;             // when config is unset: 0 for --help, 2 for bad usage or a bad value
  std::string message;           // help text or the error (no trailing newline needed)
};

// Parses the arguments after "kafscale broker" (flags only) plus the environment and, when --config or
// KAFSCALE_CONFIG names one, a YAML file. Never exits or throws.
ParseOutcome parse_broker_config(const std::vector<std::string>& args, const EnvLookup& env);

// The --help text for "kafscale broker": every setting with its form, default and environment variable.
std::string broker_help();

}  // namespace ks::broker
