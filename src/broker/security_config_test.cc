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
