#include "broker/config.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <sstream>

#include "broker/security_config.h"
#include "broker/setting.h"

namespace ks::broker {
namespace {

Status invalid(std::string msg) { return Status(Errc::invalid_argument, std::move(msg)); }

}  // namespace

namespace {

template <class T>
Setting int_setting(std::string name, std::string help, T Config::*field, T min, T max) {
  std::string def = std::to_string(Config{}.*field);
  return Setting{name,
                 "INT",
                 help,
                 def,
                 [=](Config& c, std::string_view raw) -> Status {
                   auto v = parse_uint(raw);
                   if (!v || *v < static_cast<uint64_t>(min) || *v > static_cast<uint64_t>(max)) {
                     return invalid(fmt::format("expected an integer in {}..{}", min, max));
                   }
                   c.*field = static_cast<T>(*v);
                   return {};
                 },
                 [=](const Config& c) { return std::to_string(c.*field); },
                 nullptr};
}

// `field`: a member pointer of Config, or a function giving the field of a Config (const or not).
template <class Field>
Setting ms_setting(std::string name, std::string help, Field field, int64_t min, int64_t max,
                   std::string def = "") {
  if (def.empty()) {
    Config defaults;
    def = std::to_string(std::invoke(field, defaults).count());
  }
  return Setting{
      name,
      "MS",
      help,
      def,
      [=](Config& c, std::string_view raw) -> Status {
        auto v = parse_duration_ms(raw);
        if (!v.ok() || v->count() < min || v->count() > max) {
          return invalid(fmt::format(
              "expected milliseconds in {}..{} (an integer, or with suffix ms, s, m or h)", min, max));
        }
        std::invoke(field, c) = *v;
        return {};
      },
      [=](const Config& c) { return std::to_string(std::invoke(field, c).count()); },
      nullptr};
}

// A group timeout of Config::group, as ms_setting's field.
template <auto Member>
auto group_field() {
  return [](auto& c) -> auto& { return c.group.*Member; };
}

Setting size_setting(std::string name, std::string help, uint64_t Config::*field, uint64_t min,
                     uint64_t max) {
  return Setting{name,
                 "SIZE",
                 help,
                 format_size(Config{}.*field),
                 [=](Config& c, std::string_view raw) -> Status {
                   auto v = parse_size(raw);
                   if (!v.ok() || *v < min || *v > max) {
                     return invalid(fmt::format(
                         "expected a size in {}..{}: an integer with optional suffix K/KiB, M/MiB or G/GiB",
                         format_size(min), format_size(max)));
                   }
                   c.*field = *v;
                   return {};
                 },
                 [=](const Config& c) { return format_size(c.*field); },
                 nullptr};
}

Status check_url(std::string_view raw) {
  size_t sep = raw.find("://");
  bool ok = sep != std::string_view::npos && sep > 0 && sep + 3 < raw.size() &&
            std::isalpha(static_cast<unsigned char>(raw[0]));
  for (size_t i = 0; ok && i < sep; ++i) {
    char c = raw[i];
    ok = std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '.' || c == '-';
  }
  if (!ok) return invalid("expected a URL like scheme://location (file:///path, s3://bucket/prefix)");
  return {};
}

Setting url_setting(std::string name, std::string help, std::string Config::*field, std::string def,
                    std::function<void(Config&)> set_default) {
  return Setting{name,
                 "URL",
                 help,
                 def,
                 [=](Config& c, std::string_view raw) -> Status {
                   if (Status st = check_url(raw); !st.ok()) return st;
                   c.*field = std::string(raw);
                   return {};
                 },
                 [=](const Config& c) { return c.*field; },
                 set_default};
}

// HOST:PORT setting stored in an optional; the empty string means unset.
Setting optional_address_setting(std::string name, std::string help, std::optional<HostPort> Config::*field,
                                 std::string def, bool advertised) {
  return Setting{
      name,
      "HOST:PORT",
      help,
      def,
      [=](Config& c, std::string_view raw) -> Status {
        if (raw.empty()) {
          c.*field = std::nullopt;
          return {};
        }
        auto hp = parse_host_port(raw);
        if (!hp.ok()) return hp.status();
        if (advertised && hp->is_wildcard()) {
          return invalid("expected the address clients connect to, not a wildcard like 0.0.0.0 or ::");
        }
        if (advertised && hp->port == 0) return invalid("expected HOST:PORT with PORT in 1..65535");
        c.*field = *hp;
        return {};
      },
      [=](const Config& c) { return c.*field ? (c.*field)->to_string() : std::string(); },
      nullptr};
}

constexpr int64_t kMaxInt32 = std::numeric_limits<int32_t>::max();

void add_group_settings(std::vector<Setting>& s) {
  s.push_back(
      kafka_named(ms_setting("group-min-session-timeout-ms",
                             "Smallest session timeout a consumer may ask for in JoinGroup.",
                             group_field<&coordinator::GroupTimeouts::min_session_timeout>(), 1, kMaxInt32),
                  "group.min.session.timeout.ms"));
  s.push_back(
      kafka_named(ms_setting("group-max-session-timeout-ms",
                             "Largest session timeout a consumer may ask for in JoinGroup.",
                             group_field<&coordinator::GroupTimeouts::max_session_timeout>(), 1, kMaxInt32),
                  "group.max.session.timeout.ms"));
  s.push_back(kafka_named(
      ms_setting("group-initial-rebalance-delay-ms",
                 "How long a group leaving Empty waits for more members before its first rebalance.",
                 group_field<&coordinator::GroupTimeouts::initial_rebalance_delay>(), 0, kMaxInt32),
      "group.initial.rebalance.delay.ms"));
  s.push_back(kafka_named(
      ms_setting("group-consumer-session-timeout-ms",
                 "KIP-848 consumer groups: a member not heard from for this long is removed.",
                 group_field<&coordinator::GroupTimeouts::consumer_session_timeout>(), 1, kMaxInt32),
      "group.consumer.session.timeout.ms"));
  s.push_back(kafka_named(
      ms_setting("group-consumer-heartbeat-interval-ms",
                 "KIP-848 consumer groups: the heartbeat interval members are told to use.",
                 group_field<&coordinator::GroupTimeouts::consumer_heartbeat_interval>(), 1, kMaxInt32),
      "group.consumer.heartbeat.interval.ms"));
  s.push_back(kafka_named(
      ms_setting("group-consumer-min-session-timeout-ms",
                 "KIP-848 consumer groups: the smallest session timeout, broker-wide or per group.",
                 group_field<&coordinator::GroupTimeouts::consumer_min_session_timeout>(), 1, kMaxInt32),
      "group.consumer.min.session.timeout.ms"));
  s.push_back(kafka_named(
      ms_setting("group-consumer-max-session-timeout-ms",
                 "KIP-848 consumer groups: the largest session timeout, broker-wide or per group.",
                 group_field<&coordinator::GroupTimeouts::consumer_max_session_timeout>(), 1, kMaxInt32),
      "group.consumer.max.session.timeout.ms"));
  s.push_back(kafka_named(
      ms_setting("group-consumer-min-heartbeat-interval-ms",
                 "KIP-848 consumer groups: the smallest heartbeat interval, broker-wide or per group.",
                 group_field<&coordinator::GroupTimeouts::consumer_min_heartbeat_interval>(), 1, kMaxInt32),
      "group.consumer.min.heartbeat.interval.ms"));
  s.push_back(kafka_named(
      ms_setting("group-consumer-max-heartbeat-interval-ms",
                 "KIP-848 consumer groups: the largest heartbeat interval, broker-wide or per group.",
                 group_field<&coordinator::GroupTimeouts::consumer_max_heartbeat_interval>(), 1, kMaxInt32),
      "group.consumer.max.heartbeat.interval.ms"));
  s.push_back(int_setting<uint32_t>("max-group-configs",
                                    "Groups that may have explicit configs (GROUP config resources), "
                                    "cluster-wide; AlterConfigs for one more is refused.",
                                    &Config::max_group_configs, 1, 10000000));
  s.push_back(kafka_named(
      int_setting<uint32_t>("group-consumer-max-size", "Members one KIP-848 consumer group may have.",
                            &Config::consumer_max_size, 1, kMaxInt32),
      "group.consumer.max.size"));
  s.push_back(kafka_named(int_setting<uint32_t>("group-max-size", "Members one consumer group may have.",
                                                &Config::group_max_size, 1, kMaxInt32),
                          "group.max.size"));
  s.push_back(int_setting<uint32_t>(
      "max-groups", "Consumer groups this broker coordinates; more get COORDINATOR_NOT_AVAILABLE.",
      &Config::max_groups, 1, 10000000));
  // Up to 100 years; beyond that retention is effectively forever anyway.
  s.push_back(kafka_named(int_setting<int64_t>("offsets-retention-minutes",
                                               "How long committed offsets of an empty group are kept.",
                                               &Config::offsets_retention_minutes, 1, 100LL * 366 * 24 * 60),
                          "offsets.retention.minutes"));
  s.push_back(ms_setting("offsets-retention-ms",
                         "Overrides offsets-retention-minutes with a finer value; 0: use the minutes.",
                         &Config::offsets_retention_ms, 0, 100LL * 366 * 24 * 3600 * 1000));
  s.push_back(kafka_named(
      ms_setting("offsets-retention-check-interval-ms", "How often expired committed offsets are looked for.",
                 &Config::offsets_retention_check_interval, 1, kMaxInt32),
      "offsets.retention.check.interval.ms"));
  s.push_back(kafka_named(
      int_setting<uint32_t>("offset-metadata-max-bytes", "Longest metadata string of a committed offset.",
                            &Config::offset_metadata_max_bytes, 0, 4096),
      "offset.metadata.max.bytes"));
}

void add_producer_settings(std::vector<Setting>& s) {
  s.push_back(kafka_named(
      ms_setting("producer-id-expiration-ms",
                 "Idempotent producer state idle this long is forgotten (AlterConfigs can change it).",
                 &Config::producer_id_expiration, 1, kMaxInt32),
      "producer.id.expiration.ms"));
  s.push_back(
      int_setting<uint32_t>("max-producers-per-partition",
                            "Producers whose state a partition remembers; the least recent is evicted.",
                            &Config::max_producers_per_partition, 1, 1000000));
  s.push_back(ms_setting("orphan-grace-ms",
                         "Unreferenced objects are deleted once unreferenced this long; 0: ten checkpoint "
                         "intervals.",
                         &Config::orphan_grace, 0, 30LL * 86400000, "0 (ten checkpoint intervals)"));
}

const std::vector<Setting>& settings() {
  static const std::vector<Setting> kSettings = [] {
    std::vector<Setting> s;
    s.push_back(Setting{"listen", "HOST:PORT", "Address for Kafka clients; port 0 picks a free port.",
                        "127.0.0.1:9092",
                        [](Config& c, std::string_view raw) -> Status {
                          auto hp = parse_host_port(raw);
                          if (!hp.ok()) return hp.status();
                          c.listen = *hp;
                          return {};
                        },
                        [](const Config& c) { return c.listen.to_string(); }, nullptr});
    s.push_back(optional_address_setting(
        "advertise",
        "Address given to clients in metadata; required when listen is a wildcard (0.0.0.0, ::).",
        &Config::advertise, "listen host + bound port", /*advertised=*/true));
    s.push_back(Setting{"data-dir", "PATH", "Directory for local state (default stores live here).",
                        "./kafscale-data",
                        [](Config& c, std::string_view raw) -> Status {
                          if (raw.empty()) return invalid("expected a non-empty directory path");
                          c.data_dir = std::string(raw);
                          return {};
                        },
                        [](const Config& c) { return c.data_dir; }, nullptr});
    s.push_back(url_setting("object-store", "Object store for log segments (file:///path, ...).",
                            &Config::object_store, "file://<data-dir>/objects",
                            [](Config& c) { c.object_store = "file://" + c.data_dir + "/objects"; }));
    s.push_back(url_setting("metadata", "Metadata store (embedded://path, etcd://host:port,...).",
                            &Config::metadata, "embedded://<data-dir>/meta",
                            [](Config& c) { c.metadata = "embedded://" + c.data_dir + "/meta"; }));
    s.push_back(
        Setting{"node-id", "INT|auto",
                "Broker id. auto: a free id from the metadata store (0 with the embedded one).", "auto",
                [](Config& c, std::string_view raw) -> Status {
                  if (raw == "auto") {
                    c.node_id.reset();
                    return {};
                  }
                  auto v = parse_uint(raw);
                  if (!v || *v > static_cast<uint64_t>(std::numeric_limits<int32_t>::max())) {
                    return invalid(fmt::format("expected auto or an integer in 0..{}",
                                               std::numeric_limits<int32_t>::max()));
                  }
                  c.node_id = static_cast<int32_t>(*v);
                  return {};
                },
                [](const Config& c) { return c.node_id ? std::to_string(*c.node_id) : "auto"; }, nullptr});
    s.push_back(ms_setting("lease-ttl-ms",
                           "Membership lease: a broker that cannot renew it for this long stops serving and "
                           "its partitions move (rounded up to whole seconds).",
                           &Config::lease_ttl, 1000, 300000));
    s.push_back(Setting{"rack", "STRING", "Rack (zone) of this broker, as Kafka's broker.rack.", "(empty)",
                        [](Config& c, std::string_view raw) -> Status {
                          if (raw.size() > 255) return invalid("expected at most 255 characters");
                          c.rack = std::string(raw);
                          return {};
                        },
                        [](const Config& c) { return c.rack; }, nullptr});
    s.push_back(int_setting<int32_t>("streams",
                                     "Log streams of a new cluster (fixed at creation; at most 56): the unit "
                                     "partitions and groups move between brokers in.",
                                     &Config::streams, 1, 56));
    s.push_back(Setting{"cluster-id", "STRING", "Cluster id; empty lets the broker derive or load one.",
                        "(empty)",
                        [](Config& c, std::string_view raw) -> Status {
                          bool ok = raw.size() <= 255 && std::all_of(raw.begin(), raw.end(), [](char ch) {
                                      return std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' ||
                                             ch == '_' || ch == '.';
                                    });
                          if (!ok) return invalid("expected up to 255 characters from [A-Za-z0-9._-]");
                          c.cluster_id = std::string(raw);
                          return {};
                        },
                        [](const Config& c) { return c.cluster_id; }, nullptr});
    Setting flush = ms_setting("flush-interval-ms", "Longest time produced data waits before a flush.",
                               &Config::flush_interval, 1, 60000, "10 for file:// object stores, else 250");
    flush.set_default = [](Config& c) {
      c.flush_interval = std::chrono::milliseconds(c.object_store.starts_with("file://") ? 10 : 250);
    };
    s.push_back(flush);
    s.push_back(size_setting("flush-bytes", "Buffered bytes per partition that trigger a flush.",
                             &Config::flush_bytes, kKiB, 256 * kMiB));
    s.push_back(size_setting("cache-bytes", "Read cache size.", &Config::cache_bytes, kMiB, 1024 * kGiB));
    s.push_back(
        size_setting("read-ahead-bytes",
                     "Cold reads fetch whole objects up to this size with one GET (at most a quarter of "
                     "cache-bytes; 0 = one ranged GET per partition chunk).",
                     &Config::read_ahead_bytes, 0, kGiB));
    s.push_back(Setting{
        "auto-create-topics", "BOOL", "Create unknown topics on metadata/produce requests.", "true",
        [](Config& c, std::string_view raw) -> Status {
          auto b = parse_bool(raw);
          if (!b.ok()) return b.status();
          c.auto_create_topics = *b;
          return {};
        },
        [](const Config& c) { return std::string(c.auto_create_topics ? "true" : "false"); }, nullptr});
    s.push_back(int_setting<int32_t>("default-partitions", "Partitions of auto-created topics.",
                                     &Config::default_partitions, 1, 100000));
    s.push_back(ms_setting("checkpoint-interval-ms", "Time between partition checkpoints.",
                           &Config::checkpoint_interval, 100, 86400000));
    s.push_back(optional_address_setting("http-listen", "Address for /metrics, /livez, /readyz; empty: off.",
                                         &Config::http_listen, "(empty)", /*advertised=*/false));
    s.push_back(Setting{"ready-file", "PATH", "File created once the broker serves requests; empty: none.",
                        "(empty)",
                        [](Config& c, std::string_view raw) -> Status {
                          c.ready_file = std::string(raw);
                          return {};
                        },
                        [](const Config& c) { return c.ready_file; }, nullptr});
    s.push_back(size_setting("max-request-bytes", "Largest request accepted (socket.request.max.bytes).",
                             &Config::max_request_bytes, kKiB, kGiB));
    s.push_back(size_setting("max-decompressed-batch-bytes",
                             "Largest batch payload after decompression when a topic's compression.type "
                             "makes the broker recompress it (MESSAGE_TOO_LARGE beyond).",
                             &Config::max_decompressed_batch_bytes, kKiB, 4 * kGiB));
    s.push_back(int_setting<uint32_t>("max-connections", "Concurrent client connections.",
                                      &Config::max_connections, 1, 1000000));
    s.push_back(
        kafka_named(int_setting<uint32_t>(
                        "max-connections-per-ip",
                        "Connections one IP address may hold on each listener; 0: no limit (the default: "
                        "load balancers and NAT put many clients behind one address).",
                        &Config::max_connections_per_ip, 0, 1000000),
                    "max.connections.per.ip"));
    s.push_back(int_setting<uint32_t>(
        "max-scram-credentials",
        "SCRAM credentials (user x mechanism) the cluster may hold; an AlterUserScramCredentials upsertion "
        "beyond it is refused (kafscale user add is not bounded).",
        &Config::max_scram_credentials, 1, 1000000));
    s.push_back(size_setting("max-buffered-bytes", "Produce bytes accepted but not yet durable, all clients.",
                             &Config::max_buffered_bytes, kMiB, 64 * kGiB));
    s.push_back(int_setting<uint32_t>("max-inflight-requests-per-connection",
                                      "Requests read from one connection before its responses are sent.",
                                      &Config::max_inflight_requests_per_connection, 1, 100000));
    s.push_back(Setting{"log-level", "LEVEL", "trace, debug, info, warn or error.", "info",
                        [](Config& c, std::string_view raw) -> Status {
                          for (LogLevel l : {LogLevel::kTrace, LogLevel::kDebug, LogLevel::kInfo,
                                             LogLevel::kWarn, LogLevel::kError}) {
                            if (iequals(raw, log_level_name(l))) {
                              c.log_level = l;
                              return {};
                            }
                          }
                          return invalid("expected one of trace, debug, info, warn, error");
                        },
                        [](const Config& c) { return std::string(log_level_name(c.log_level)); }, nullptr});
    s.push_back(ms_setting("request-timeout-ms", "Timeout of object store and metadata store calls.",
                           &Config::request_timeout, 1, 3600000));
    Setting startup =
        ms_setting("startup-timeout-ms",
                   "How long start-up retries reaching the object store and metadata store; 0: try once.",
                   &Config::startup_timeout, 0, 3600000);
    startup.alias = "startup-timeout";
    s.push_back(startup);
    add_group_settings(s);
    add_producer_settings(s);
    add_security_settings(s);
    return s;
  }();
  return kSettings;
}

using SourceOf = std::function<std::string(std::string_view name)>;

Status validate_impl(const Config& cfg, const SourceOf& source_of) {
  auto from = [&](std::string_view name) {
    std::string src = source_of(name);
    return src.empty() ? std::string() : " (" + src + ")";
  };
  // Every value must be one its setting accepts (catches hand-built configs).
  for (const Setting& s : settings()) {
    Config scratch = cfg;
    if (Status st = s.apply(scratch, s.show(cfg)); !st.ok()) {
      return invalid(fmt::format("invalid {}{}: {}", s.name, from(s.name), st.message()));
    }
  }
  if (cfg.listen.is_wildcard() && !cfg.advertise) {
    return invalid(fmt::format(
        "listen{} is the wildcard address {}; set advertise to the HOST:PORT clients should connect to",
        from("listen"), cfg.listen.host));
  }
  if (cfg.max_buffered_bytes < cfg.max_request_bytes) {
    return invalid(fmt::format("max-buffered-bytes{} ({}) must be at least max-request-bytes{} ({})",
                               from("max-buffered-bytes"), format_size(cfg.max_buffered_bytes),
                               from("max-request-bytes"), format_size(cfg.max_request_bytes)));
  }
  if (cfg.group.min_session_timeout > cfg.group.max_session_timeout) {
    return invalid(
        fmt::format("group-min-session-timeout-ms{} ({}) must not exceed group-max-session-timeout-ms{} ({})",
                    from("group-min-session-timeout-ms"), cfg.group.min_session_timeout.count(),
                    from("group-max-session-timeout-ms"), cfg.group.max_session_timeout.count()));
  }
  // Kafka's GroupCoordinatorConfig: each broker-wide value within its bounds.
  struct Bounded {
    const char* name;
    std::chrono::milliseconds value;
    const char* min_name;
    std::chrono::milliseconds min;
    const char* max_name;
    std::chrono::milliseconds max;
  };
  const Bounded bounded[] = {
      {"group-consumer-session-timeout-ms", cfg.group.consumer_session_timeout,
       "group-consumer-min-session-timeout-ms", cfg.group.consumer_min_session_timeout,
       "group-consumer-max-session-timeout-ms", cfg.group.consumer_max_session_timeout},
      {"group-consumer-heartbeat-interval-ms", cfg.group.consumer_heartbeat_interval,
       "group-consumer-min-heartbeat-interval-ms", cfg.group.consumer_min_heartbeat_interval,
       "group-consumer-max-heartbeat-interval-ms", cfg.group.consumer_max_heartbeat_interval},
  };
  for (const auto& b : bounded) {
    if (b.value < b.min) {
      return invalid(fmt::format("{}{} ({}) must be at least {}{} ({})", b.name, from(b.name),
                                 b.value.count(), b.min_name, from(b.min_name), b.min.count()));
    }
    if (b.value > b.max) {
      return invalid(fmt::format("{}{} ({}) must be at most {}{} ({})", b.name, from(b.name), b.value.count(),
                                 b.max_name, from(b.max_name), b.max.count()));
    }
  }
  if (cfg.group.consumer_heartbeat_interval >= cfg.group.consumer_session_timeout) {
    // Kafka's rule: a member must be able to heartbeat within its session.
    return invalid(fmt::format(
        "group-consumer-heartbeat-interval-ms{} ({}) must be below group-consumer-session-timeout-ms{} ({})",
        from("group-consumer-heartbeat-interval-ms"), cfg.group.consumer_heartbeat_interval.count(),
        from("group-consumer-session-timeout-ms"), cfg.group.consumer_session_timeout.count()));
  }
  if (cfg.orphan_grace.count() != 0 && cfg.orphan_grace < std::chrono::seconds(1)) {
    // The log's own floor: a reader may still be using an object that just became unreferenced.
    return invalid(fmt::format("orphan-grace-ms{} ({}) must be 0 (ten checkpoint intervals) or at least 1000",
                               from("orphan-grace-ms"), cfg.orphan_grace.count()));
  }
  if (Status st = validate_security(cfg, source_of); !st.ok()) return st;
  if (cfg.http_listen && cfg.http_listen->port != 0 && *cfg.http_listen == cfg.listen) {
    return invalid(
        fmt::format("http-listen{} must differ from listen{}", from("http-listen"), from("listen")));
  }
  return {};
}

// Reads a YAML mapping of setting names to scalar values.
Result<std::map<std::string, std::string>> load_yaml(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return invalid(fmt::format("cannot read config file {}: {}", path, std::strerror(errno)));
  std::stringstream ss;
  ss << in.rdbuf();
  YAML::Node root;
  try {
    root = YAML::Load(ss.str());
  } catch (const YAML::Exception& e) {
    return invalid(fmt::format("config file {} is not valid YAML: {}", path, e.what()));
  }
  std::map<std::string, std::string> out;
  if (root.IsNull()) return out;  // empty file
  if (!root.IsMap())
    return invalid(fmt::format("config file {}: expected a mapping of setting: value", path));
  for (const auto& kv : root) {
    if (!kv.first.IsScalar()) return invalid(fmt::format("config file {}: keys must be setting names", path));
    std::string key = kv.first.Scalar();
    const Setting* setting = find_setting(key);
    if (auto lk = parse_listener_ssl_key(key); !setting && lk) {
      key = lk->kafka_name();
      if (out.count(key))
        return invalid(fmt::format("config file {}: setting '{}' appears twice", path, key));
      if (!kv.second.IsScalar()) {
        return invalid(fmt::format("config file {}: value of '{}' must be a single value", path, key));
      }
      out[key] = kv.second.Scalar();
      continue;
    }
    if (!setting) {
      return invalid(
          fmt::format("config file {}: unknown setting '{}' (line {})", path, key, kv.first.Mark().line + 1));
    }
    key = setting->name;  // an alias counts as its setting
    if (out.count(key)) return invalid(fmt::format("config file {}: setting '{}' appears twice", path, key));
    if (kv.second.IsNull()) {
      out[key] = "";
    } else if (kv.second.IsScalar()) {
      out[key] = kv.second.Scalar();
    } else {
      return invalid(fmt::format("config file {}: value of '{}' must be a single value", path, key));
    }
  }
  return out;
}

ParseOutcome usage_error(std::string msg) {
  return ParseOutcome{std::nullopt, 2, msg + "\nRun 'kafscale broker --help' to list the settings."};
}

}  // namespace

const Setting* find_setting(std::string_view name) {
  for (const Setting& s : settings()) {
    if (s.name == name || (!s.alias.empty() && s.alias == name)) return &s;
  }
  return nullptr;
}

Config default_config() {
  Config c;
  for (const Setting& s : settings()) {
    if (s.set_default) s.set_default(c);
  }
  return c;
}

Status validate(const Config& cfg) {
  return validate_impl(cfg, [](std::string_view) { return std::string(); });
}

std::chrono::milliseconds effective_offsets_retention(const Config& cfg) {
  if (cfg.offsets_retention_ms.count() > 0) return cfg.offsets_retention_ms;
  return std::chrono::minutes(cfg.offsets_retention_minutes);
}

std::chrono::milliseconds effective_orphan_grace(const Config& cfg) {
  if (cfg.orphan_grace.count() > 0) return cfg.orphan_grace;
  return std::max(std::chrono::milliseconds(1000), cfg.checkpoint_interval * 10);
}

std::optional<int32_t> effective_node_id(const Config& cfg) {
  if (cfg.node_id) return cfg.node_id;
  if (cfg.metadata.starts_with("embedded://")) return 0;
  return std::nullopt;
}

HostPort advertised_address(const Config& cfg, uint16_t bound_port) {
  if (cfg.advertise) return *cfg.advertise;
  return HostPort{cfg.listen.host, bound_port};
}

std::string describe(const Config& cfg) {
  std::string out;
  for (const Setting& s : settings()) out += fmt::format("{} = {}\n", s.name, s.show(cfg));
  for (const auto& [listener, overrides] : cfg.listener_ssl) {
    for (const auto& [setting, raw] : overrides) {
      out += fmt::format("{} = {}\n", ListenerSslKey{listener, setting}.kafka_name(), raw);
    }
  }
  return out;
}

std::string broker_help() {
  std::string out =
      "Usage: kafscale broker [--SETTING VALUE]...\n"
      "\n"
      "Runs a broker. Each setting can also come from the environment variable shown or from a YAML\n"
      "file of 'setting: value' lines given with --config FILE (env KAFSCALE_CONFIG).\n"
      "Precedence: flag > environment > file > default. Sizes take K/KiB, M/MiB, G/GiB suffixes;\n"
      "MS values are milliseconds or take ms, s, m, h suffixes (90s).\n"
      "\n"
      "Settings:\n";
  for (const Setting& s : settings()) {
    std::string alias = s.alias.empty() ? "" : fmt::format(", --{} {}", s.alias, s.form);
    out += fmt::format("  --{} {}{}\n      {}\n      default: {}   env: {}\n", s.name, s.form, alias, s.help,
                       s.default_text, env_name(s.name));
  }
  out +=
      "  --listener.name.NAME.ssl.X VALUE\n"
      "      Per-listener TLS setting, over ssl.X for listener NAME; X is keystore.type, keystore.location,\n"
      "      truststore.location, client.auth, enabled.protocols, cipher.suites or principal.mapping.rules.\n"
      "      Also a YAML key; env: KAFSCALE_LISTENER_NAME_NAME_SSL_X (e.g. ..._SSL_CLIENT_AUTH).\n";
  out += "  --config FILE\n      YAML file with settings.\n      env: KAFSCALE_CONFIG\n";
  out +=
      "  --check-config\n      Validate the settings and the store URLs offline (no connection), print them "
      "and\n"
      "      exit 0; or print the error and exit 2.\n";
  out += "  -h, --help\n      Show this help.\n";
  return out;
}

ParseOutcome parse_broker_config(const std::vector<std::string>& args, const EnvLookup& env) {
  // Flags: CLI11 only collects the raw strings; validation is shared with env and file values.
  CLI::App app("kafscale broker", "kafscale broker");
  app.set_help_flag();
  bool help = false;
  app.add_flag("-h,--help", help);
  app.allow_extras();  // listener.name.<name>.ssl.* (below); anything else is refused there
  std::string config_path;
  CLI::Option* config_opt = app.add_option("--config", config_path);
  const auto& all = settings();
  std::vector<std::string> flag_values(all.size());
  std::vector<CLI::Option*> flag_opts(all.size());
  for (size_t i = 0; i < all.size(); ++i) {
    std::string names = "--" + all[i].name;
    if (!all[i].alias.empty()) names += ",--" + all[i].alias;
    flag_opts[i] = app.add_option(names, flag_values[i]);
    // A bare boolean flag means true; "--auto-create-topics=false" also works.
    if (all[i].form == "BOOL") flag_opts[i]->expected(0, 1);
  }
  try {
    std::vector<std::string> reversed(args.rbegin(), args.rend());
    app.parse(std::move(reversed));
  } catch (const CLI::ParseError& e) {
    return usage_error(e.what());
  }
  if (help) return ParseOutcome{std::nullopt, 0, broker_help()};

  std::string config_source;
  if (config_opt->count() > 0) {
    config_source = "flag --config";
  } else if (auto v = env("KAFSCALE_CONFIG")) {
    config_path = *v;
    config_source = "environment variable KAFSCALE_CONFIG";
  }
  std::map<std::string, std::string> file_values;
  if (!config_source.empty()) {
    if (config_path.empty()) return usage_error(fmt::format("empty config file path from {}", config_source));
    auto loaded = load_yaml(config_path);
    if (!loaded.ok()) return usage_error(loaded.status().message());
    file_values = std::move(*loaded);
  }

  Config cfg;
  std::map<std::string, std::string, std::less<>> sources;
  for (size_t i = 0; i < all.size(); ++i) {
    const Setting& s = all[i];
    std::optional<std::string> raw;
    std::string source;
    if (flag_opts[i]->count() > 0) {
      raw = flag_values[i];
      if (s.form == "BOOL" && raw->empty()) raw = "true";  // bare --auto-create-topics
      source = "flag --" + s.name;
    } else if (auto v = env(env_name(s.name))) {
      raw = *v;
      source = "environment variable " + env_name(s.name);
    } else if (auto it = file_values.find(s.name); it != file_values.end()) {
      raw = it->second;
      source = "config file " + config_path;
    }
    if (!raw) {
      if (s.set_default) s.set_default(cfg);
      continue;
    }
    sources[s.name] = source;
    if (Status st = s.apply(cfg, *raw); !st.ok()) {
      return usage_error(fmt::format("invalid {} '{}' from {}: {}", s.name, *raw, source, st.message()));
    }
  }
  // Per-listener TLS settings, each key by the same precedence.
  if (Status lst =
          resolve_listener_ssl(cfg, app.remaining(), env, file_values, "config file " + config_path, sources);
      !lst.ok()) {
    return usage_error(lst.message());
  }
  Status st = validate_impl(cfg, [&](std::string_view name) {
    auto it = sources.find(name);
    return it == sources.end() ? std::string("default") : it->second;
  });
  if (!st.ok()) return usage_error(st.message());
  return ParseOutcome{std::move(cfg), 0, ""};
}

}  // namespace ks::broker
