#include "broker/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "broker/cli.h"

namespace ks::broker {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;

EnvLookup fake_env(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

ParseOutcome parse(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
  return parse_broker_config(args, fake_env(std::move(env)));
}

Config parse_ok(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
  ParseOutcome p = parse(std::move(args), std::move(env));
  EXPECT_TRUE(p.config.has_value()) << p.message;
  return p.config.value_or(Config{});
}

std::string parse_error(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
  ParseOutcome p = parse(std::move(args), std::move(env));
  EXPECT_FALSE(p.config.has_value());
  EXPECT_EQ(p.exit_code, 2);
  return p.message;
}

std::string write_file(const std::string& name, const std::string& content) {
  std::string path = (std::filesystem::path(testing::TempDir()) / name).string();
  std::ofstream(path) << content;
  return path;
}

TEST(ParseSizeTest, Forms) {
  EXPECT_EQ(*parse_size("0"), 0u);
  EXPECT_EQ(*parse_size("1500"), 1500u);
  EXPECT_EQ(*parse_size("4MiB"), 4 * kMiB);
  EXPECT_EQ(*parse_size("4M"), 4 * kMiB);
  EXPECT_EQ(*parse_size("4 MiB"), 4 * kMiB);
  EXPECT_EQ(*parse_size("8k"), 8 * kKiB);
  EXPECT_EQ(*parse_size("8KiB"), 8 * kKiB);
  EXPECT_EQ(*parse_size("2gib"), 2 * kGiB);
  EXPECT_EQ(*parse_size("1T"), 1024 * kGiB);
  for (const char* bad : {"", "MiB", "-1", "1.5MiB", "12x", "4MB", " 4", "4  MiB", "99999999999999T",
                          "999999999999999999999"}) {
    EXPECT_FALSE(parse_size(bad).ok()) << bad;
  }
}

TEST(ParseBoolTest, Forms) {
  for (const char* t : {"true", "TRUE", "1", "yes", "Yes"}) EXPECT_TRUE(*parse_bool(t)) << t;
  for (const char* f : {"false", "0", "no", "NO"}) EXPECT_FALSE(*parse_bool(f)) << f;
  for (const char* bad : {"", "on", "2", "truthy"}) EXPECT_FALSE(parse_bool(bad).ok()) << bad;
}

TEST(ParseHostPortTest, Forms) {
  EXPECT_EQ(*parse_host_port("127.0.0.1:9092"), (HostPort{"127.0.0.1", 9092}));
  EXPECT_EQ(*parse_host_port("kafka-1.local:0"), (HostPort{"kafka-1.local", 0}));
  EXPECT_EQ(*parse_host_port("[::1]:65535"), (HostPort{"::1", 65535}));
  EXPECT_EQ(parse_host_port("[::1]:19092")->to_string(), "[::1]:19092");
  EXPECT_EQ(parse_host_port("localhost:1")->to_string(), "localhost:1");
  for (const char* bad : {"", "host", ":9092", "host:", "host:65536", "host:-1", "::1:9092", "[::1]",
                          "[::1]9092", "[1.2.3.4]:9", "ho st:1", "h:1x"}) {
    EXPECT_FALSE(parse_host_port(bad).ok()) << bad;
  }
  EXPECT_TRUE(parse_host_port("0.0.0.0:1")->is_wildcard());
  EXPECT_TRUE(parse_host_port("[::]:1")->is_wildcard());
  EXPECT_FALSE(parse_host_port("localhost:1")->is_wildcard());
}

TEST(ConfigTest, Defaults) {
  Config c = parse_ok({});
  EXPECT_EQ(c.listen, (HostPort{"127.0.0.1", 9092}));
  EXPECT_FALSE(c.advertise.has_value());
  EXPECT_EQ(c.data_dir, "./kafscale-data");
  EXPECT_EQ(c.object_store, "file://./kafscale-data/objects");
  EXPECT_EQ(c.metadata, "embedded://./kafscale-data/meta");
  EXPECT_FALSE(c.node_id.has_value());
  EXPECT_EQ(effective_node_id(c), 0);  // the embedded metadata store: one broker
  EXPECT_EQ(c.cluster_id, "");
  EXPECT_EQ(c.flush_interval, 10ms);
  EXPECT_EQ(c.flush_bytes, 4 * kMiB);
  EXPECT_EQ(c.cache_bytes, 256 * kMiB);
  EXPECT_TRUE(c.auto_create_topics);
  EXPECT_EQ(c.default_partitions, 1);
  EXPECT_EQ(c.checkpoint_interval, 60000ms);
  EXPECT_FALSE(c.http_listen.has_value());
  EXPECT_EQ(c.ready_file, "");
  EXPECT_EQ(c.max_request_bytes, 100 * kMiB);
  EXPECT_EQ(c.max_connections, 10000u);
  EXPECT_EQ(c.max_buffered_bytes, 512 * kMiB);
  EXPECT_EQ(c.max_inflight_requests_per_connection, 100u);
  EXPECT_EQ(c.log_level, LogLevel::kInfo);
  EXPECT_EQ(c.request_timeout, 30000ms);
  EXPECT_EQ(c.startup_timeout, 60000ms);
  EXPECT_EQ(describe(c), describe(default_config()));
  EXPECT_TRUE(validate(default_config()).ok());
}

TEST(ConfigTest, DerivedDefaults) {
  Config c = parse_ok({"--data-dir", "/var/ks"});
  EXPECT_EQ(c.object_store, "file:///var/ks/objects");
  EXPECT_EQ(c.metadata, "embedded:///var/ks/meta");
  c = parse_ok({"--object-store", "s3://bucket/prefix"});
  EXPECT_EQ(c.flush_interval, 250ms);
  c = parse_ok({"--object-store", "s3://bucket/prefix", "--flush-interval-ms", "5"});
  EXPECT_EQ(c.flush_interval, 5ms);
}

TEST(ConfigTest, EverySettingFromFlags) {
  Config c = parse_ok({"--listen=[::1]:0",
                       "--advertise",
                       "broker.example:9093",
                       "--data-dir=/d",
                       "--object-store=file:///o",
                       "--metadata=etcd://e1:2379,e2:2379",
                       "--node-id=7",
                       "--cluster-id=abc_DEF-1.2",
                       "--flush-interval-ms=20",
                       "--flush-bytes=1KiB",
                       "--cache-bytes=1G",
                       "--auto-create-topics=no",
                       "--default-partitions=12",
                       "--checkpoint-interval-ms=1000",
                       "--http-listen=127.0.0.1:0",
                       "--ready-file=/tmp/ready",
                       "--max-request-bytes=1MiB",
                       "--max-connections=5",
                       "--max-buffered-bytes=2MiB",
                       "--max-inflight-requests-per-connection=3",
                       "--log-level=DEBUG",
                       "--request-timeout-ms=1500",
                       "--startup-timeout-ms=2500"});
  EXPECT_EQ(c.listen, (HostPort{"::1", 0}));
  EXPECT_EQ(c.advertise, (HostPort{"broker.example", 9093}));
  EXPECT_EQ(c.data_dir, "/d");
  EXPECT_EQ(c.object_store, "file:///o");
  EXPECT_EQ(c.metadata, "etcd://e1:2379,e2:2379");
  EXPECT_EQ(c.node_id, 7);
  EXPECT_EQ(c.cluster_id, "abc_DEF-1.2");
  EXPECT_EQ(c.flush_interval, 20ms);
  EXPECT_EQ(c.flush_bytes, kKiB);
  EXPECT_EQ(c.cache_bytes, kGiB);
  EXPECT_FALSE(c.auto_create_topics);
  EXPECT_EQ(c.default_partitions, 12);
  EXPECT_EQ(c.checkpoint_interval, 1000ms);
  EXPECT_EQ(c.http_listen, (HostPort{"127.0.0.1", 0}));
  EXPECT_EQ(c.ready_file, "/tmp/ready");
  EXPECT_EQ(c.max_request_bytes, kMiB);
  EXPECT_EQ(c.max_connections, 5u);
  EXPECT_EQ(c.max_buffered_bytes, 2 * kMiB);
  EXPECT_EQ(c.max_inflight_requests_per_connection, 3u);
  EXPECT_EQ(c.log_level, LogLevel::kDebug);
  EXPECT_EQ(c.request_timeout, 1500ms);
  EXPECT_EQ(c.startup_timeout, 2500ms);
  EXPECT_TRUE(validate(c).ok());
  // describe() prints values that parse back to the same config.
  EXPECT_THAT(describe(c), HasSubstr("max-buffered-bytes = 2MiB\n"));
  EXPECT_THAT(describe(c), HasSubstr("listen = [::1]:0\n"));
}

TEST(ConfigTest, BareBooleanFlag) {
  EXPECT_TRUE(parse_ok({"--auto-create-topics"}).auto_create_topics);
  EXPECT_FALSE(parse_ok({"--auto-create-topics", "false"}).auto_create_topics);
  EXPECT_FALSE(parse_ok({"--auto-create-topics=0", "--node-id", "1"}).auto_create_topics);
  Config c = parse_ok({"--auto-create-topics", "--node-id", "3"}, {{"KAFSCALE_AUTO_CREATE_TOPICS", "false"}});
  EXPECT_TRUE(c.auto_create_topics);
  EXPECT_EQ(c.node_id, 3);
}

TEST(ConfigTest, Precedence) {
  std::string file = write_file("prec.yaml",
                                "node-id: 1\n"
                                "default-partitions: 4\n"
                                "flush-bytes: 8MiB\n"
                                "log-level: warn\n");
  std::map<std::string, std::string> env = {{"KAFSCALE_NODE_ID", "2"}, {"KAFSCALE_DEFAULT_PARTITIONS", "5"}};
  Config c = parse_ok({"--config", file, "--node-id", "3"}, env);
  EXPECT_EQ(c.node_id, 3);                  // flag beats env and file
  EXPECT_EQ(c.default_partitions, 5);       // env beats file
  EXPECT_EQ(c.flush_bytes, 8 * kMiB);       // file beats default
  EXPECT_EQ(c.log_level, LogLevel::kWarn);  // file
  EXPECT_EQ(c.cache_bytes, 256 * kMiB);     // default
  // The file can also come from the environment.
  env["KAFSCALE_CONFIG"] = file;
  c = parse_ok({}, env);
  EXPECT_EQ(c.node_id, 2);
  EXPECT_EQ(c.flush_bytes, 8 * kMiB);
}

TEST(ConfigTest, FileValuesAndErrors) {
  std::string ok = write_file("ok.yaml",
                              "# comment\n"
                              "listen: \"0.0.0.0:9092\"\n"
                              "advertise: broker-0.svc:9092\n"
                              "auto-create-topics: false\n"
                              "http-listen:\n"
                              "max-request-bytes: 1048576\n");
  Config c = parse_ok({"--config", ok});
  EXPECT_TRUE(c.listen.is_wildcard());
  EXPECT_EQ(c.advertise->to_string(), "broker-0.svc:9092");
  EXPECT_FALSE(c.auto_create_topics);
  EXPECT_FALSE(c.http_listen.has_value());
  EXPECT_EQ(c.max_request_bytes, kMiB);

  std::string unknown = write_file("unknown.yaml", "node-id: 1\nflush_bytes: 1MiB\n");
  std::string msg = parse_error({"--config", unknown});
  EXPECT_THAT(msg, HasSubstr("unknown setting 'flush_bytes'"));
  EXPECT_THAT(msg, HasSubstr("line 2"));

  EXPECT_THAT(parse_error({"--config", write_file("nested.yaml", "listen:\n  host: x\n")}),
              HasSubstr("value of 'listen' must be a single value"));
  EXPECT_THAT(parse_error({"--config", write_file("list.yaml", "- a\n- b\n")}), HasSubstr("mapping"));
  EXPECT_THAT(parse_error({"--config", write_file("broken.yaml", "node-id: [1\n")}),
              HasSubstr("not valid YAML"));
  EXPECT_THAT(parse_error({"--config", write_file("dup.yaml", "node-id: 1\nnode-id: 2\n")}),
              HasSubstr("appears twice"));
  EXPECT_THAT(parse_error({"--config", "/nonexistent/kafscale.yaml"}),
              HasSubstr("cannot read config file /nonexistent/kafscale.yaml"));
  // An empty file is fine.
  EXPECT_EQ(describe(parse_ok({"--config", write_file("empty.yaml", "")})), describe(default_config()));
}

TEST(ConfigTest, PerListenerTlsKeysInTheFile) {
  std::string file = write_file("listener-tls.yaml",
                                "listeners: INTERNAL://127.0.0.1:9093,EXTERNAL://127.0.0.1:9094\n"
                                "listener.security.protocol.map: INTERNAL:SSL,EXTERNAL:SSL\n"
                                "ssl.keystore.location: /tls/internal.pem\n"
                                "listener.name.external.ssl.keystore.location: /tls/external.pem\n"
                                "listener.name.external.ssl.client.auth: required\n"
                                "listener.name.external.ssl.truststore.location: /tls/ca.pem\n");
  // The environment wins over the file for the same key.
  Config c = parse_ok({"--config", file}, {{"KAFSCALE_LISTENER_NAME_EXTERNAL_SSL_CLIENT_AUTH", "requested"}});
  EXPECT_EQ(c.listener_ssl.at("EXTERNAL").at("ssl-keystore-location"), "/tls/external.pem");
  EXPECT_EQ(c.listener_ssl.at("EXTERNAL").at("ssl-client-auth"), "requested");
  EXPECT_FALSE(c.listener_ssl.contains("INTERNAL"));
  EXPECT_THAT(parse_error({"--config", write_file("listener-twice.yaml",
                                                  "listener.name.a.ssl.client.auth: none\n"
                                                  "listener.name.A.ssl.client.auth: none\n")}),
              HasSubstr("'listener.name.a.ssl.client.auth' appears twice"));
  EXPECT_THAT(parse_error({"--config", write_file("listener-unknown.yaml", "listener.name.a.ssl.nope: 1\n")}),
              HasSubstr("unknown setting 'listener.name.a.ssl.nope'"));
}

TEST(ConfigTest, BadValueNamesSettingSourceAndForm) {
  std::string msg = parse_error({"--flush-bytes", "12x"});
  EXPECT_THAT(msg, HasSubstr("flush-bytes"));
  EXPECT_THAT(msg, HasSubstr("flag --flush-bytes"));
  EXPECT_THAT(msg, HasSubstr("1KiB..256MiB"));

  msg = parse_error({}, {{"KAFSCALE_MAX_INFLIGHT_REQUESTS_PER_CONNECTION", "0"}});
  EXPECT_THAT(msg, HasSubstr("environment variable KAFSCALE_MAX_INFLIGHT_REQUESTS_PER_CONNECTION"));
  EXPECT_THAT(msg, HasSubstr("1..100000"));

  std::string file = write_file("bad.yaml", "log-level: loud\n");
  msg = parse_error({"--config", file});
  EXPECT_THAT(msg, HasSubstr("log-level 'loud' from config file " + file));
  EXPECT_THAT(msg, HasSubstr("trace, debug, info, warn, error"));

  EXPECT_THAT(parse_error({}, {{"KAFSCALE_NODE_ID", ""}}), HasSubstr("KAFSCALE_NODE_ID"));
  EXPECT_THAT(parse_error({"--node-id=-1"}), HasSubstr("node-id"));
  EXPECT_THAT(parse_error({"--node-id=automatic"}), HasSubstr("expected auto or an integer"));
  {
    // A shared metadata store and no id: the membership takes a free one.
    Config shared = parse_ok({"--metadata=etcd://127.0.0.1:2379", "--node-id=auto"});
    EXPECT_FALSE(effective_node_id(shared).has_value());
    EXPECT_EQ(effective_node_id(parse_ok({"--metadata=etcd://127.0.0.1:2379", "--node-id=5"})), 5);
  }
  EXPECT_THAT(parse_error({"--flush-interval-ms=0"}), HasSubstr("1..60000"));
  EXPECT_THAT(parse_error({"--flush-interval-ms=60001"}), HasSubstr("1..60000"));
  EXPECT_THAT(parse_error({"--default-partitions=100001"}), HasSubstr("default-partitions"));
  EXPECT_THAT(parse_error({"--max-request-bytes=2GiB"}), HasSubstr("1KiB..1GiB"));
  EXPECT_THAT(parse_error({"--auto-create-topics=maybe"}), HasSubstr("true/false"));
  EXPECT_THAT(parse_error({"--object-store=/just/a/path"}), HasSubstr("URL"));
  EXPECT_THAT(parse_error({"--cluster-id=has space"}), HasSubstr("cluster-id"));
  EXPECT_THAT(parse_error({"--listen=::1:9092"}), HasSubstr("brackets"));
  // The value is parsed even when a later stage would fail; the first bad value is reported.
  EXPECT_THAT(parse_error({"--bogus-flag", "1"}), HasSubstr("--bogus-flag"));
  EXPECT_THAT(parse_error({"positional"}), HasSubstr("positional"));
  EXPECT_THAT(parse_error({"--node-id"}), HasSubstr("node-id"));
}

TEST(ParseDurationTest, Forms) {
  EXPECT_EQ(*parse_duration_ms("0"), 0ms);
  EXPECT_EQ(*parse_duration_ms("1500"), 1500ms);
  EXPECT_EQ(*parse_duration_ms("1500ms"), 1500ms);
  EXPECT_EQ(*parse_duration_ms("90s"), 90000ms);
  EXPECT_EQ(*parse_duration_ms("2M"), 120000ms);
  EXPECT_EQ(*parse_duration_ms("1h"), 3600000ms);
  for (const char* bad : {"", "s", "-1", "1.5s", "10 s", "10sec", "99999999999999999999h"}) {
    EXPECT_FALSE(parse_duration_ms(bad).ok()) << bad;
  }
}

TEST(ConfigTest, StartupTimeoutFormsAndSources) {
  EXPECT_EQ(parse_ok({"--startup-timeout-ms", "0"}).startup_timeout, 0ms);
  EXPECT_EQ(parse_ok({"--startup-timeout", "90s"}).startup_timeout, 90000ms);
  EXPECT_EQ(parse_ok({"--startup-timeout=1500"}).startup_timeout, 1500ms);
  EXPECT_EQ(parse_ok({}, {{"KAFSCALE_STARTUP_TIMEOUT_MS", "2m"}}).startup_timeout, 120000ms);
  // The flag (under either name) beats the environment.
  EXPECT_EQ(parse_ok({"--startup-timeout", "5s"}, {{"KAFSCALE_STARTUP_TIMEOUT_MS", "7000"}}).startup_timeout,
            5000ms);
  // YAML takes the setting's name or its alias, not both.
  EXPECT_EQ(parse_ok({"--config", write_file("st1.yaml", "startup-timeout-ms: 3000\n")}).startup_timeout,
            3000ms);
  EXPECT_EQ(parse_ok({"--config", write_file("st2.yaml", "startup-timeout: 4s\n")}).startup_timeout, 4000ms);
  EXPECT_THAT(
      parse_error({"--config", write_file("st3.yaml", "startup-timeout: 4s\nstartup-timeout-ms: 1\n")}),
      HasSubstr("appears twice"));
  std::string msg = parse_error({"--startup-timeout", "2h"});
  EXPECT_THAT(msg, HasSubstr("startup-timeout-ms"));
  EXPECT_THAT(msg, HasSubstr("0..3600000"));
  EXPECT_THAT(parse_error({}, {{"KAFSCALE_STARTUP_TIMEOUT_MS", "soon"}}),
              HasSubstr("environment variable KAFSCALE_STARTUP_TIMEOUT_MS"));
  // Other millisecond settings take the same suffixes; describe() prints plain milliseconds.
  Config c = parse_ok({"--checkpoint-interval-ms", "2s"});
  EXPECT_EQ(c.checkpoint_interval, 2000ms);
  EXPECT_THAT(describe(c), HasSubstr("checkpoint-interval-ms = 2000\n"));
  EXPECT_THAT(describe(c), HasSubstr("startup-timeout-ms = 60000\n"));
  c.startup_timeout = 3600001ms;
  EXPECT_THAT(validate(c).message(), HasSubstr("startup-timeout-ms"));
}

TEST(ConfigTest, AdvertiseRules) {
  std::string msg = parse_error({"--listen", "0.0.0.0:9092"});
  EXPECT_THAT(msg, HasSubstr("advertise"));
  EXPECT_THAT(msg, HasSubstr("flag --listen"));
  EXPECT_THAT(parse_error({"--listen", "[::]:9092"}), HasSubstr("advertise"));
  EXPECT_THAT(parse_error({"--advertise", "0.0.0.0:9092"}), HasSubstr("wildcard"));
  EXPECT_THAT(parse_error({"--advertise", "[::]:9092"}), HasSubstr("wildcard"));
  EXPECT_THAT(parse_error({"--advertise", "host:0"}), HasSubstr("1..65535"));
  Config c = parse_ok({"--listen", "0.0.0.0:0", "--advertise", "10.1.2.3:9092"});
  EXPECT_EQ(advertised_address(c, 4242), (HostPort{"10.1.2.3", 9092}));
  c = parse_ok({"--listen", "127.0.0.2:0"});
  EXPECT_EQ(advertised_address(c, 4242), (HostPort{"127.0.0.2", 4242}));
}

TEST(ConfigTest, CrossSettingChecks) {
  std::string msg = parse_error({"--max-request-bytes=1GiB"});
  EXPECT_THAT(msg, HasSubstr("max-buffered-bytes (default) (512MiB) must be at least max-request-bytes"));
  EXPECT_THAT(msg, HasSubstr("flag --max-request-bytes"));
  EXPECT_TRUE(parse({"--max-request-bytes=1GiB", "--max-buffered-bytes=1GiB"}).config.has_value());
  EXPECT_THAT(parse_error({"--listen=127.0.0.1:9000", "--http-listen=127.0.0.1:9000"}),
              HasSubstr("http-listen"));
}

TEST(ConfigTest, ValidateHandBuiltConfig) {
  Config c;  // object_store and metadata are empty until defaults are resolved
  EXPECT_THAT(validate(c).message(), HasSubstr("object-store"));
  c = default_config();
  c.flush_bytes = 10;
  EXPECT_THAT(validate(c).message(), HasSubstr("flush-bytes"));
  c = default_config();
  c.listen = {"0.0.0.0", 1};
  EXPECT_THAT(validate(c).message(), HasSubstr("advertise"));
  c.advertise = HostPort{"10.0.0.1", 1};
  EXPECT_TRUE(validate(c).ok());
}

TEST(ConfigTest, HelpListsEverySetting) {
  ParseOutcome p = parse({"--help"});
  EXPECT_FALSE(p.config.has_value());
  EXPECT_EQ(p.exit_code, 0);
  EXPECT_EQ(p.message, broker_help());
  for (std::string name : {"listen",
                           "advertise",
                           "data-dir",
                           "object-store",
                           "metadata",
                           "node-id",
                           "cluster-id",
                           "flush-interval-ms",
                           "flush-bytes",
                           "cache-bytes",
                           "read-ahead-bytes",
                           "auto-create-topics",
                           "default-partitions",
                           "checkpoint-interval-ms",
                           "http-listen",
                           "ready-file",
                           "max-request-bytes",
                           "max-connections",
                           "max-buffered-bytes",
                           "max-inflight-requests-per-connection",
                           "log-level",
                           "request-timeout-ms",
                           "startup-timeout-ms"}) {
    EXPECT_THAT(p.message, HasSubstr("--" + name + " ")) << name;
  }
  EXPECT_THAT(p.message, HasSubstr("--startup-timeout-ms MS, --startup-timeout MS"));
  EXPECT_THAT(p.message, HasSubstr("default: 60000   env: KAFSCALE_STARTUP_TIMEOUT_MS"));
  EXPECT_THAT(p.message, HasSubstr("env: KAFSCALE_MAX_INFLIGHT_REQUESTS_PER_CONNECTION"));
  EXPECT_THAT(p.message, HasSubstr("default: 4MiB   env: KAFSCALE_FLUSH_BYTES"));
  EXPECT_THAT(p.message, HasSubstr("default: 127.0.0.1:9092   env: KAFSCALE_LISTEN"));
  EXPECT_EQ(parse({"-h"}).exit_code, 0);
}

// CLI dispatch, with fake actions so no broker is needed.
struct CliRun {
  int code;
  std::string out, err;
  std::optional<Config> broker_cfg;
  std::optional<InspectOptions> inspect_opts;
  std::optional<std::string> action_env;  // AWS_PROFILE as the action's environment has it
};

CliRun run(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
  CliRun r;
  std::ostringstream out, err;
  CliActions actions{[&](const Config& c, const EnvLookup& e) {
                       r.broker_cfg = c;
                       r.action_env = e("AWS_PROFILE");
                       return 7;
                     },
                     [&](const InspectOptions& o, const EnvLookup& e) {
                       r.inspect_opts = o;
                       r.action_env = e("AWS_PROFILE");
                       return 5;
                     },
                     nullptr};  // --check-config: the parse alone (check_config_test.cc checks the rest)
  r.code = run_cli(args, actions, fake_env(std::move(env)), out, err);
  r.out = out.str();
  r.err = err.str();
  return r;
}

TEST(CliTest, Dispatch) {
  CliRun r = run({"broker", "--node-id", "4"});
  EXPECT_EQ(r.code, 7);
  ASSERT_TRUE(r.broker_cfg.has_value());
  EXPECT_EQ(r.broker_cfg->node_id, 4);

  r = run({"inspect", "topic/0/00000000000000000000.obj", "--object-store", "file:///x"});
  EXPECT_EQ(r.code, 5);
  ASSERT_TRUE(r.inspect_opts.has_value());
  EXPECT_EQ(r.inspect_opts->target, "topic/0/00000000000000000000.obj");
  EXPECT_EQ(r.inspect_opts->object_store, "file:///x");

  r = run({"inspect", "k"});
  EXPECT_EQ(r.inspect_opts->object_store, "file://./kafscale-data/objects");
  r = run({"inspect", "k"}, {{"KAFSCALE_OBJECT_STORE", "s3://b/p"}});
  EXPECT_EQ(r.inspect_opts->object_store, "s3://b/p");
  EXPECT_EQ(r.inspect_opts->metadata, "embedded://./kafscale-data/meta");
  r = run({"inspect", "placement", "--metadata", "etcd://127.0.0.1:2379/p"});
  EXPECT_EQ(r.inspect_opts->target, "placement");
  EXPECT_EQ(r.inspect_opts->metadata, "etcd://127.0.0.1:2379/p");
  r = run({"inspect", "placement"}, {{"KAFSCALE_METADATA", "etcd://h:1/q"}});
  EXPECT_EQ(r.inspect_opts->metadata, "etcd://h:1/q");

  // The actions see the environment run_cli was given (the stores' credentials come from it).
  r = run({"inspect", "k"}, {{"AWS_PROFILE", "prod"}});
  EXPECT_EQ(r.action_env, "prod");
  r = run({"broker"}, {{"AWS_PROFILE", "dev"}});
  EXPECT_EQ(r.code, 7);
  EXPECT_EQ(r.action_env, "dev");

  r = run({"version"});
  EXPECT_EQ(r.code, 0);
  EXPECT_THAT(r.out, HasSubstr("kafscale 0."));
}

TEST(CliTest, BadUsageExits2) {
  for (std::vector<std::string> args : std::vector<std::vector<std::string>>{{},
                                                                             {"nope"},
                                                                             {"version", "x"},
                                                                             {"inspect"},
                                                                             {"inspect", "a", "b"},
                                                                             {"inspect", "a", "--bad"},
                                                                             {"broker", "--flush-bytes", "1"},
                                                                             {"broker", "extra"}}) {
    CliRun r = run(args);
    EXPECT_EQ(r.code, 2) << ::testing::PrintToString(args);
    EXPECT_FALSE(r.broker_cfg.has_value());
    EXPECT_FALSE(r.inspect_opts.has_value());
    EXPECT_FALSE(r.err.empty());
  }
}

TEST(CliTest, Help) {
  CliRun r = run({"--help"});
  EXPECT_EQ(r.code, 0);
  EXPECT_THAT(r.out, HasSubstr("inspect PATH_OR_KEY"));
  r = run({"broker", "--help"});
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out, broker_help());
  EXPECT_FALSE(r.broker_cfg.has_value());
  r = run({"inspect", "--help"});
  EXPECT_EQ(r.code, 0);
  EXPECT_THAT(r.out, HasSubstr("--object-store"));
  EXPECT_THAT(r.out, Not(HasSubstr("error")));
}

TEST(GroupSettingsTest, KafkaDefaults) {
  Config c = parse_ok({});
  EXPECT_EQ(c.group.min_session_timeout, 6000ms);
  EXPECT_EQ(c.group.max_session_timeout, 1800000ms);
  EXPECT_EQ(c.group.initial_rebalance_delay, 3000ms);
  EXPECT_EQ(c.group_max_size, 10000u);
  EXPECT_EQ(c.max_groups, 100000u);
  EXPECT_EQ(c.offsets_retention_minutes, 10080);
  EXPECT_EQ(c.offsets_retention_ms, 0ms);
  EXPECT_EQ(effective_offsets_retention(c), std::chrono::minutes(10080));
  EXPECT_EQ(c.offsets_retention_check_interval, 600000ms);
  EXPECT_EQ(c.offset_metadata_max_bytes, 4096u);
  EXPECT_EQ(c.producer_id_expiration, 86400000ms);
  EXPECT_EQ(c.max_producers_per_partition, 1000u);
  EXPECT_EQ(c.orphan_grace, 0ms);
}

TEST(GroupSettingsTest, ConsumerGroupSettings) {
  Config d = parse_ok({});
  EXPECT_EQ(d.group.consumer_session_timeout, 45000ms);
  EXPECT_EQ(d.group.consumer_heartbeat_interval, 5000ms);
  EXPECT_EQ(d.consumer_max_size, 10000u);
  EXPECT_EQ(d.group.consumer_min_session_timeout, 45000ms);
  EXPECT_EQ(d.group.consumer_max_session_timeout, 60000ms);
  EXPECT_EQ(d.group.consumer_min_heartbeat_interval, 5000ms);
  EXPECT_EQ(d.group.consumer_max_heartbeat_interval, 15000ms);
  EXPECT_EQ(d.max_group_configs, 10000u);
  Config c =
      parse_ok({"--group-consumer-session-timeout-ms=3000", "--group.consumer.min.session.timeout.ms=1000",
                "--group.consumer.heartbeat.interval.ms=250",
                "--group-consumer-min-heartbeat-interval-ms=100", "--group-consumer-max-size=4"});
  EXPECT_EQ(c.group.consumer_session_timeout, 3000ms);
  EXPECT_EQ(c.group.consumer_min_session_timeout, 1000ms);
  EXPECT_EQ(c.group.consumer_heartbeat_interval, 250ms);
  EXPECT_EQ(c.group.consumer_min_heartbeat_interval, 100ms);
  EXPECT_EQ(c.consumer_max_size, 4u);
  EXPECT_THAT(
      parse_error({"--group-consumer-session-timeout-ms=1000", "--group-consumer-min-session-timeout-ms=1000",
                   "--group-consumer-heartbeat-interval-ms=1000",
                   "--group-consumer-min-heartbeat-interval-ms=1000"}),
      HasSubstr("must be below group-consumer-session-timeout-ms"));
  // Kafka's bounds on the broker-wide values.
  EXPECT_THAT(parse_error({"--group-consumer-session-timeout-ms=3000"}),
              HasSubstr("(3000) must be at least group-consumer-min-session-timeout-ms (default) (45000)"));
  EXPECT_THAT(
      parse_error({"--group-consumer-heartbeat-interval-ms=20000"}),
      HasSubstr("(20000) must be at most group-consumer-max-heartbeat-interval-ms (default) (15000)"));
  EXPECT_THAT(parse_error({"--group-consumer-max-size=0"}), HasSubstr("group-consumer-max-size"));
}

TEST(GroupSettingsTest, FlagsEnvFileAndKafkaNames) {
  Config c = parse_ok({"--group-min-session-timeout-ms=500", "--group-max-session-timeout-ms=10s",
                       "--group-initial-rebalance-delay-ms=0", "--group-max-size=3", "--max-groups=7",
                       "--offsets-retention-minutes=5", "--offsets-retention-check-interval-ms=250",
                       "--offset-metadata-max-bytes=100", "--producer-id-expiration-ms=1h",
                       "--max-producers-per-partition=9", "--orphan-grace-ms=2s"});
  EXPECT_EQ(c.group.min_session_timeout, 500ms);
  EXPECT_EQ(c.group.max_session_timeout, 10000ms);
  EXPECT_EQ(c.group.initial_rebalance_delay, 0ms);
  EXPECT_EQ(c.group_max_size, 3u);
  EXPECT_EQ(c.max_groups, 7u);
  EXPECT_EQ(c.offsets_retention_minutes, 5);
  EXPECT_EQ(effective_offsets_retention(c), 300000ms);
  EXPECT_EQ(c.offsets_retention_check_interval, 250ms);
  EXPECT_EQ(c.offset_metadata_max_bytes, 100u);
  EXPECT_EQ(c.producer_id_expiration, 3600000ms);
  EXPECT_EQ(c.max_producers_per_partition, 9u);
  EXPECT_EQ(c.orphan_grace, 2000ms);
  EXPECT_TRUE(validate(c).ok());

  // The finer override wins over the minutes.
  c = parse_ok({"--offsets-retention-minutes=5", "--offsets-retention-ms=1500"});
  EXPECT_EQ(effective_offsets_retention(c), 1500ms);

  // Kafka's dotted names are accepted as flags and YAML keys.
  c = parse_ok({"--group.max.session.timeout.ms", "7000", "--offsets.retention.minutes=2"});
  EXPECT_EQ(c.group.max_session_timeout, 7000ms);
  EXPECT_EQ(c.offsets_retention_minutes, 2);
  std::string file = write_file("groups.yaml",
                                "group.min.session.timeout.ms: 100\n"
                                "group-initial-rebalance-delay-ms: 50\n"
                                "producer.id.expiration.ms: 60000\n"
                                "offset.metadata.max.bytes: 10\n");
  c = parse_ok({"--config", file}, {{"KAFSCALE_GROUP_INITIAL_REBALANCE_DELAY_MS", "70"}});
  EXPECT_EQ(c.group.min_session_timeout, 100ms);
  EXPECT_EQ(c.group.initial_rebalance_delay, 70ms);  // env beats file
  EXPECT_EQ(c.producer_id_expiration, 60000ms);
  EXPECT_EQ(c.offset_metadata_max_bytes, 10u);

  // The environment variables the coordinator used to read keep working.
  c = parse_ok({}, {{"KAFSCALE_GROUP_MIN_SESSION_TIMEOUT_MS", "500"},
                    {"KAFSCALE_GROUP_MAX_SESSION_TIMEOUT_MS", "9000"},
                    {"KAFSCALE_OFFSETS_RETENTION_MINUTES", "3"},
                    {"KAFSCALE_OFFSETS_RETENTION_CHECK_INTERVAL_MS", "1000"},
                    {"KAFSCALE_OFFSET_METADATA_MAX_BYTES", "0"},
                    {"KAFSCALE_GROUP_MAX_SIZE", "2"}});
  EXPECT_EQ(c.group.min_session_timeout, 500ms);
  EXPECT_EQ(c.group.max_session_timeout, 9000ms);
  EXPECT_EQ(c.offsets_retention_minutes, 3);
  EXPECT_EQ(c.offsets_retention_check_interval, 1000ms);
  EXPECT_EQ(c.offset_metadata_max_bytes, 0u);
  EXPECT_EQ(c.group_max_size, 2u);
}

TEST(GroupSettingsTest, BadValuesExit2WithAClearMessage) {
  std::string msg =
      parse_error({"--group-min-session-timeout-ms=10000", "--group-max-session-timeout-ms=9000"});
  EXPECT_THAT(msg,
              HasSubstr("group-min-session-timeout-ms (flag --group-min-session-timeout-ms) (10000) must "
                        "not exceed group-max-session-timeout-ms (flag --group-max-session-timeout-ms) "
                        "(9000)"));
  // Against the default maximum, from the environment.
  msg = parse_error({}, {{"KAFSCALE_GROUP_MIN_SESSION_TIMEOUT_MS", "2000000"}});
  EXPECT_THAT(msg, HasSubstr("environment variable KAFSCALE_GROUP_MIN_SESSION_TIMEOUT_MS"));
  EXPECT_THAT(msg, HasSubstr("group-max-session-timeout-ms (default)"));
  EXPECT_THAT(parse_error({"--group-min-session-timeout-ms=0"}),
              HasSubstr("invalid group-min-session-timeout-ms '0' from flag --group-min-session-timeout-ms"));
  EXPECT_THAT(parse_error({"--offsets-retention-minutes=0"}), HasSubstr("expected an integer in 1.."));
  EXPECT_THAT(parse_error({"--offsets-retention-minutes=-5"}), HasSubstr("offsets-retention-minutes"));
  EXPECT_THAT(parse_error({"--offsets-retention-check-interval-ms=0"}),
              HasSubstr("offsets-retention-check-interval-ms"));
  EXPECT_THAT(parse_error({"--group-max-size=0"}), HasSubstr("group-max-size"));
  EXPECT_THAT(parse_error({"--offset-metadata-max-bytes=5000"}), HasSubstr("expected an integer in 0..4096"));
  EXPECT_THAT(parse_error({"--producer-id-expiration-ms=0"}), HasSubstr("producer-id-expiration-ms"));
  EXPECT_THAT(parse_error({"--max-producers-per-partition=0"}), HasSubstr("max-producers-per-partition"));
  EXPECT_THAT(parse_error({"--orphan-grace-ms=10"}),
              HasSubstr("orphan-grace-ms (flag --orphan-grace-ms) (10) "
                        "must be 0 (ten checkpoint intervals) or at "
                        "least 1000"));
  std::string file = write_file("badgroups.yaml", "group.max.session.timeout.ms: 1000\n");
  EXPECT_THAT(parse_error({"--config", file}),
              HasSubstr("must not exceed group-max-session-timeout-ms (config "
                        "file"));
  // A hand-built config is checked the same way.
  Config c = default_config();
  c.group.max_session_timeout = 1000ms;
  EXPECT_THAT(validate(c).message(), HasSubstr("must not exceed group-max-session-timeout-ms"));
  c = default_config();
  c.offsets_retention_check_interval = 0ms;
  EXPECT_THAT(validate(c).message(), HasSubstr("offsets-retention-check-interval-ms"));
}

TEST(GroupSettingsTest, HelpShowsKafkaNamesAndEnv) {
  std::string help = broker_help();
  EXPECT_THAT(help, HasSubstr("--group-min-session-timeout-ms MS, --group.min.session.timeout.ms MS"));
  EXPECT_THAT(help, HasSubstr("default: 1800000   env: KAFSCALE_GROUP_MAX_SESSION_TIMEOUT_MS"));
  EXPECT_THAT(help, HasSubstr("default: 10080   env: KAFSCALE_OFFSETS_RETENTION_MINUTES"));
  EXPECT_THAT(help, HasSubstr("--producer-id-expiration-ms MS, --producer.id.expiration.ms MS"));
  EXPECT_THAT(help, HasSubstr("env: KAFSCALE_ORPHAN_GRACE_MS"));
  EXPECT_THAT(describe(default_config()), HasSubstr("offsets-retention-minutes = 10080\n"));
}

}  // namespace
}  // namespace ks::broker
