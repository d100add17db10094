#include "broker/security_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "broker/config.h"

namespace ks::broker {
namespace {

using ::testing::HasSubstr;

ParseOutcome parse(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
  return parse_broker_config(args, [env](const std::string& name) -> std::optional<std::string> {
    auto it = env.find(name);
    if (it == env.end()) return std::nullopt;
    return it->second;
  });
}

std::string error_of(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
  ParseOutcome p = parse(std::move(args), std::move(env));
  EXPECT_FALSE(p.config.has_value());
  EXPECT_EQ(p.exit_code, 2);
  return p.message;
}

TEST(Listeners, ParseList) {
  auto v = parse_listener_list("PLAINTEXT://127.0.0.1:9092, sasl_ssl://[::1]:9093,EXTERNAL://:9094", false);
  ASSERT_TRUE(v.ok()) << v.status().to_string();
  ASSERT_EQ(v->size(), 3u);
  EXPECT_EQ((*v)[0].name, "PLAINTEXT");
  EXPECT_EQ((*v)[0].address.to_string(), "127.0.0.1:9092");
  EXPECT_EQ((*v)[1].name, "SASL_SSL");
  EXPECT_EQ((*v)[1].address.host, "::1");
  EXPECT_EQ((*v)[2].address.host, "0.0.0.0");
  EXPECT_TRUE(parse_listener_list("", false)->empty());
  for (const char* bad : {"127.0.0.1:9092", "A B://h:1", "X://h", "X://h:70000", "A://h:1,A://h:2"}) {
    EXPECT_FALSE(parse_listener_list(bad, false).ok()) << bad;
  }
  EXPECT_FALSE(parse_listener_list("A://0.0.0.0:9092", true).ok());
  EXPECT_FALSE(parse_listener_list("A://kafka:0", true).ok());
  EXPECT_TRUE(parse_listener_list("A://kafka.example:9092", true).ok());
}

TEST(Listeners, ProtocolMap) {
  auto m = parse_protocol_map("EXTERNAL:SASL_SSL,internal:plaintext");
  ASSERT_TRUE(m.ok());
  ASSERT_EQ(m->size(), 2u);
  EXPECT_EQ((*m)[1].first, "INTERNAL");
  EXPECT_EQ((*m)[1].second, security::SecurityProtocol::kPlaintext);
  EXPECT_FALSE(parse_protocol_map("EXTERNAL").ok());
  EXPECT_FALSE(parse_protocol_map("EXTERNAL:TLS").ok());
}

TEST(Listeners, ConnectionOverrides) {
  auto m = parse_connection_overrides("10.0.0.7:200, [::1]:5,::ffff:192.168.1.9:0");
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  EXPECT_EQ(*m, (std::map<std::string, uint32_t>{{"10.0.0.7", 200}, {"::1", 5}, {"192.168.1.9", 0}}));
  EXPECT_TRUE(parse_connection_overrides("")->empty());
  EXPECT_THAT(parse_connection_overrides("kafka.local:5").status().message(), HasSubstr("not an IP address"));
  for (const char* bad : {"10.0.0.7", "10.0.0.7:", ":5", "10.0.0.7:x", "10.0.0.7:-1", "10.0.0.7:2000000",
                          "10.0.0.7:1,10.0.0.7:2"}) {
    EXPECT_FALSE(parse_connection_overrides(bad).ok()) << bad;
  }
  ParseOutcome p = parse({"--max.connections.per.ip.overrides", "127.0.0.2:0,[::1]:3"});
  ASSERT_TRUE(p.config) << p.message;
  EXPECT_EQ(p.config->max_connections_per_ip_overrides.at("127.0.0.2"), 0u);
  EXPECT_THAT(describe(*p.config), HasSubstr("max-connections-per-ip-overrides = 127.0.0.2:0,[::1]:3"));
  EXPECT_THAT(error_of({}, {{"KAFSCALE_MAX_CONNECTIONS_PER_IP_OVERRIDES", "h:1"}}),
              HasSubstr("environment variable KAFSCALE_MAX_CONNECTIONS_PER_IP_OVERRIDES"));
}

TEST(Listeners, DefaultIsOnePlaintextListener) {
  ParseOutcome p = parse({});
  ASSERT_TRUE(p.config) << p.message;
  auto ls = effective_listeners(*p.config);
  ASSERT_EQ(ls.size(), 1u);
  EXPECT_EQ(ls[0].name, "PLAINTEXT");
  EXPECT_EQ(ls[0].protocol, security::SecurityProtocol::kPlaintext);
  EXPECT_EQ(ls[0].bind.to_string(), "127.0.0.1:9092");
}

TEST(Listeners, KafkaNamesAndResolution) {
  ParseOutcome p =
      parse({"--listeners", "INTERNAL://127.0.0.1:0,EXTERNAL://0.0.0.0:9093", "--advertised.listeners",
             "EXTERNAL://kafka.example:443", "--listener.security.protocol.map",
             "INTERNAL:PLAINTEXT,EXTERNAL:SASL_SSL", "--ssl.keystore.location", "/tls/server.pem",
             "--sasl.enabled.mechanisms", "SCRAM-SHA-512"});
  ASSERT_TRUE(p.config) << p.message;
  auto ls = effective_listeners(*p.config);
  ASSERT_EQ(ls.size(), 2u);
  EXPECT_EQ(ls[1].protocol, security::SecurityProtocol::kSaslSsl);
  ASSERT_TRUE(ls[1].advertised.has_value());
  EXPECT_EQ(advertised_address(ls[1], 9093).to_string(), "kafka.example:443");
  EXPECT_EQ(advertised_address(ls[0], 41000).to_string(), "127.0.0.1:41000");
  EXPECT_EQ(tls_settings(*p.config).keystore_location, "/tls/server.pem");
  // The same from the environment.
  ParseOutcome e = parse({}, {{"KAFSCALE_LISTENERS", "SSL://127.0.0.1:9093"},
                              {"KAFSCALE_SSL_KEYSTORE_LOCATION", "/tls/server.pem"},
                              {"KAFSCALE_SSL_CLIENT_AUTH", "required"},
                              {"KAFSCALE_SSL_TRUSTSTORE_LOCATION", "/tls/ca.pem"}});
  ASSERT_TRUE(e.config) << e.message;
  EXPECT_EQ(e.config->ssl_client_auth, security::ClientAuth::kRequired);
}

TEST(Listeners, ConfigErrorsAreClear) {
  EXPECT_THAT(error_of({"--listeners", "CUSTOM://127.0.0.1:9093"}),
              HasSubstr("listener CUSTOM has no security protocol"));
  EXPECT_THAT(error_of({"--listeners", "SSL://127.0.0.1:9093"}), HasSubstr("ssl-keystore-location"));
  EXPECT_THAT(error_of({"--listeners", "PLAINTEXT://0.0.0.0:9093"}), HasSubstr("advertised-listeners"));
  EXPECT_THAT(error_of({"--listeners", "PLAINTEXT://127.0.0.1:9093", "--listen", "127.0.0.1:9000"}),
              HasSubstr("not both"));
  EXPECT_THAT(error_of({"--listeners", "PLAINTEXT://127.0.0.1:9093", "--advertised.listeners", "SSL://h:1"}),
              HasSubstr("SSL, which is not in listeners"));
  EXPECT_THAT(error_of({"--listeners", "A://127.0.0.1:9093,B://127.0.0.1:9093",
                        "--listener.security.protocol.map", "A:PLAINTEXT,B:PLAINTEXT"}),
              HasSubstr("both bind"));
  EXPECT_THAT(
      error_of({"--listeners", "SASL_PLAINTEXT://127.0.0.1:9093", "--sasl.enabled.mechanisms", "PLAIN"}),
      HasSubstr("sasl-plain-users-file"));
  EXPECT_THAT(error_of({"--sasl.enabled.mechanisms", "GSSAPI"}), HasSubstr("'GSSAPI' is not supported"));
  EXPECT_THAT(error_of({"--ssl.client.auth", "always"}), HasSubstr("none, requested or required"));
  EXPECT_THAT(error_of({"--ssl.client.auth", "required"}), HasSubstr("ssl-truststore-location"));
  EXPECT_THAT(error_of({"--ssl.enabled.protocols", "TLSv1.0"}), HasSubstr("TLSv1.0"));
  EXPECT_THAT(error_of({"--ssl.keystore.type", "PKCS12"}), HasSubstr("only PEM"));
  EXPECT_THAT(error_of({"--authentication-timeout-ms", "5"}), HasSubstr("100..600000"));
  EXPECT_THAT(error_of({"--ssl.principal.mapping.rules", "RULE:^CN=(.*$/$1/"}), HasSubstr("invalid pattern"));
  EXPECT_THAT(error_of({"--ssl.principal.mapping.rules", "KERBEROS"}),
              HasSubstr("expected DEFAULT or RULE:"));
  EXPECT_THAT(error_of({"--max.connections.per.ip", "-1"}), HasSubstr("max-connections-per-ip"));
}

TEST(Listeners, DescribeRoundTrips) {
  ParseOutcome p =
      parse({"--listeners", "PLAINTEXT://127.0.0.1:9092,SASL_SSL://127.0.0.1:9093", "--ssl.keystore.location",
             "/k.pem", "--ssl.cipher.suites", "TLS_AES_128_GCM_SHA256,ECDHE-RSA-AES128-GCM-SHA256"});
  ASSERT_TRUE(p.config) << p.message;
  std::string d = describe(*p.config);
  EXPECT_THAT(d, HasSubstr("listeners = PLAINTEXT://127.0.0.1:9092,SASL_SSL://127.0.0.1:9093"));
  EXPECT_THAT(d, HasSubstr("ssl-cipher-suites = TLS_AES_128_GCM_SHA256,ECDHE-RSA-AES128-GCM-SHA256"));
  EXPECT_TRUE(validate(*p.config).ok());
}

// Kafka's listener.name.<name>.ssl.* overrides, as flags, environment and YAML keys.
TEST(Listeners, PerListenerTlsSettings) {
  const std::vector<std::string> base = {"--listeners",
                                         "INTERNAL://127.0.0.1:9093,EXTERNAL://127.0.0.1:9094",
                                         "--listener.security.protocol.map",
                                         "INTERNAL:SSL,EXTERNAL:SASL_SSL",
                                         "--ssl.keystore.location",
                                         "/tls/internal.pem"};
  auto with = [&](std::vector<std::string> more) {
    std::vector<std::string> v = base;
    v.insert(v.end(), more.begin(), more.end());
    return v;
  };
  ParseOutcome p =
      parse(with({"--listener.name.external.ssl.keystore.location=/tls/external.pem",
                  "--listener.name.EXTERNAL.ssl.client.auth", "required",
                  "--listener.name.external.ssl.principal.mapping.rules", "RULE:^CN=(.*?),.*$/$1/L,DEFAULT"}),
            {{"KAFSCALE_LISTENER_NAME_EXTERNAL_SSL_TRUSTSTORE_LOCATION", "/tls/ca.pem"},
             // A flag wins over the environment, key by key.
             {"KAFSCALE_LISTENER_NAME_EXTERNAL_SSL_CLIENT_AUTH", "requested"}});
  ASSERT_TRUE(p.config) << p.message;
  const Config internal = listener_config(*p.config, "INTERNAL");
  const Config external = listener_config(*p.config, "EXTERNAL");
  EXPECT_EQ(tls_settings(internal).keystore_location, "/tls/internal.pem");
  EXPECT_EQ(tls_settings(internal).client_auth, security::ClientAuth::kNone);
  EXPECT_EQ(tls_settings(external).keystore_location, "/tls/external.pem");
  EXPECT_EQ(tls_settings(external).truststore_location, "/tls/ca.pem");
  EXPECT_EQ(tls_settings(external).client_auth, security::ClientAuth::kRequired);
  EXPECT_EQ(external.ssl_principal_mapping_rules, "RULE:^CN=(.*?),.*$/$1/L,DEFAULT");
  EXPECT_EQ(internal.ssl_principal_mapping_rules, "DEFAULT");
  const std::string d = describe(*p.config);
  EXPECT_THAT(d, HasSubstr("listener.name.external.ssl.client.auth = required\n"));
  EXPECT_THAT(d, HasSubstr("listener.name.external.ssl.truststore.location = /tls/ca.pem\n"));
  EXPECT_TRUE(validate(*p.config).ok());

  // A listener's own keystore is enough, and so is its own truststore for its client auth.
  ParseOutcome own =
      parse({"--listeners", "SSL://127.0.0.1:9093", "--listener.name.ssl.ssl.keystore.location", "/k.pem",
             "--listener.name.ssl.ssl.client.auth", "required", "--listener.name.ssl.ssl.truststore.location",
             "/ca.pem"});
  ASSERT_TRUE(own.config) << own.message;

  // Errors name the key and where it came from.
  EXPECT_THAT(error_of(with({"--listener.name.external.ssl.client.auth", "always"})),
              HasSubstr("invalid listener.name.external.ssl.client.auth 'always' from flag"));
  EXPECT_THAT(error_of(with({"--listener.name.external.ssl.client.auth", "required"})),
              HasSubstr("listener EXTERNAL: ssl.client.auth required needs a truststore"));
  EXPECT_THAT(error_of(with({"--listener.name.nosuch.ssl.client.auth", "none"})),
              HasSubstr("listener NOSUCH is not an SSL or SASL_SSL listener"));
  EXPECT_THAT(error_of(with({"--listener.name.external.ssl.keystore.password", "x"})),
              HasSubstr("unknown option or argument '--listener.name.external.ssl.keystore.password'"));
  EXPECT_THAT(error_of(with({"--listener.name.external.ssl.client.auth"})), HasSubstr("needs a value"));
  EXPECT_THAT(error_of(with({"stray"})), HasSubstr("unknown option or argument 'stray'"));
  EXPECT_THAT(
      error_of({"--listeners", "A://127.0.0.1:9093,B://127.0.0.1:9094", "--listener.security.protocol.map",
                "A:SSL,B:SSL", "--listener.name.a.ssl.keystore.location", "/a.pem"}),
      HasSubstr("listener B (SSL) needs ssl-keystore-location or listener.name.b.ssl.keystore.location"));
  EXPECT_THAT(error_of(with({}), {{"KAFSCALE_LISTENER_NAME_EXTERNAL_SSL_ENABLED_PROTOCOLS", "SSLv3"}}),
              HasSubstr("from environment variable KAFSCALE_LISTENER_NAME_EXTERNAL_SSL_ENABLED_PROTOCOLS"));
}

TEST(Authorizer, SettingsFromFlagsAndEnvironment) {
  ParseOutcome off = parse({});
  ASSERT_TRUE(off.config) << off.message;
  EXPECT_FALSE(off.config->authorizer);
  EXPECT_TRUE(off.config->super_users.empty());
  EXPECT_FALSE(off.config->allow_everyone_if_no_acl_found);
  EXPECT_EQ(off.config->max_acls, 10000u);
  ParseOutcome p =
      parse({"--authorizer", "true", "--super.users", "User:admin; User:ops", "--max-acls", "50"},
            {{"KAFSCALE_ALLOW_EVERYONE_IF_NO_ACL_FOUND", "true"}});
  ASSERT_TRUE(p.config) << p.message;
  EXPECT_TRUE(p.config->authorizer);
  EXPECT_EQ(p.config->super_users, (std::set<std::string>{"User:admin", "User:ops"}));
  EXPECT_TRUE(p.config->allow_everyone_if_no_acl_found);
  EXPECT_EQ(p.config->max_acls, 50u);
  std::string d = describe(*p.config);
  EXPECT_THAT(d, HasSubstr("super-users = User:admin;User:ops"));
  EXPECT_THAT(error_of({"--super.users", "admin"}), HasSubstr("Type:name"));
  EXPECT_THAT(error_of({"--max-acls", "0"}), HasSubstr("1..1000000"));
  EXPECT_THAT(error_of({"--authorizer", "maybe"}), HasSubstr("authorizer"));
}

}  // namespace
}  // namespace ks::broker
