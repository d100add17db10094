#include "security/sasl.h"

#include <gtest/gtest.h>

#include "security/tls.h"

namespace ks::security {
namespace {

TEST(Plain, Token) {
  using namespace std::string_literals;
  auto t = parse_plain_token("\0alice\0secret"s);
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->first, "alice");
  EXPECT_EQ(t->second, "secret");
  EXPECT_TRUE(parse_plain_token("alice\0alice\0secret"s).has_value());
  EXPECT_FALSE(parse_plain_token("eve\0alice\0secret"s).has_value());
  EXPECT_FALSE(parse_plain_token("alice"s).has_value());
  EXPECT_FALSE(parse_plain_token("\0alice"s).has_value());
  EXPECT_FALSE(parse_plain_token("\0\0pw"s).has_value());
}

TEST(Plain, UsersFile) {
  auto u = parse_plain_users("# admins\nalice:s3cret:with:colons\n\nbob:pw\r\n");
  ASSERT_TRUE(u.ok()) << u.status().to_string();
  EXPECT_EQ(u->size(), 2u);
  EXPECT_EQ(u->at("alice"), "s3cret:with:colons");
  EXPECT_EQ(u->at("bob"), "pw");
  auto bad = parse_plain_users("alice:pw\nnocolon-secret\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("line 2"), std::string::npos);
  EXPECT_EQ(bad.status().message().find("secret"), std::string::npos);  // never the password
  EXPECT_FALSE(parse_plain_users("a:1\na:2\n").ok());
  EXPECT_FALSE(parse_plain_users(":pw\n").ok());
  EXPECT_FALSE(parse_plain_users("a:\n").ok());
}

TEST(Session, ProtocolsAndPrintable) {
  EXPECT_EQ(parse_security_protocol("sasl_ssl"), SecurityProtocol::kSaslSsl);
  EXPECT_FALSE(parse_security_protocol("TLS").has_value());
  EXPECT_TRUE(uses_tls(SecurityProtocol::kSsl));
  EXPECT_FALSE(uses_sasl(SecurityProtocol::kSsl));
  EXPECT_FALSE(Session::make("SASL_SSL", SecurityProtocol::kSaslSsl)->authenticated);
  EXPECT_TRUE(Session::make("SSL", SecurityProtocol::kSsl)->authenticated);
  EXPECT_EQ(printable("a\nb\\c"), "a\\x0ab\\x5cc");
  EXPECT_EQ(printable(std::string(200, 'x'), 4), "xxxx...");
}

TEST(Tls, PrincipalAndSettings) {
  EXPECT_EQ(principal_from_dn("CN=client,O=Example,C=DE"), "User:CN=client,O=Example,C=DE");
  TlsSettings s;
  EXPECT_TRUE(check_tls_settings(s).ok());
  s.enabled_protocols = {"TLSv1.1"};
  EXPECT_FALSE(check_tls_settings(s).ok());
  s.enabled_protocols = {};
  EXPECT_FALSE(check_tls_settings(s).ok());
  s.enabled_protocols = {"TLSv1.3"};
  s.cipher_suites = {"TLS_AES_128_GCM_SHA256:X"};
  EXPECT_FALSE(check_tls_settings(s).ok());
  EXPECT_EQ(parse_client_auth("required"), ClientAuth::kRequired);
  EXPECT_FALSE(parse_client_auth("REQUIRED").has_value());
  // Missing files are named in the error.
  TlsSettings f;
  f.keystore_location = "/nonexistent/server.pem";
  auto ctx = make_server_context(f);
  ASSERT_FALSE(ctx.ok());
  EXPECT_NE(ctx.status().message().find("/nonexistent/server.pem"), std::string::npos);
}

}  // namespace
}  // namespace ks::security
