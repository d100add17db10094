#include "objstore/aws_credentials.h"

#include <gtest/gtest.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>

#include "objstore/fake_http_server.h"
#include "objstore/test_util.h"

namespace ks::objstore {
namespace {

using testing::FakeHttpServer;
using testing::HttpRequest;
using testing::HttpResponse;

// Like the broker's process environment: a variable set to "" is returned as "".
EnvLookup env_of(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

class TempDir {
 public:
  TempDir() : path_(testing::make_temp_dir()) {}
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string write(const std::string& name, const std::string& text) const {
    std::string p = path_ + "/" + name;
    std::ofstream(p) << text;
    return p;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string iso8601(std::chrono::system_clock::time_point t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

constexpr char kSharedFile[] = R"(# comment
[default]
aws_access_key_id = AKIDDEFAULT
aws_secret_access_key=secret/default+x

; another comment
[ prod ]
aws_access_key_id = AKIDPROD
aws_secret_access_key = secretprod
aws_session_token = tokenprod
region = eu-west-1

[profile cfgstyle]
aws_access_key_id = AKIDCFG
aws_secret_access_key = secretcfg

[incomplete]
aws_access_key_id = AKIDONLY
)";

TEST(SharedCredentials, ParsesProfiles) {
  auto d = parse_shared_credentials(kSharedFile, "default");
  ASSERT_TRUE(d.ok()) << d.status().to_string();
  EXPECT_EQ(d->access_key_id, "AKIDDEFAULT");
  EXPECT_EQ(d->secret_access_key, "secret/default+x");
  EXPECT_EQ(d->session_token, "");

  auto p = parse_shared_credentials(kSharedFile, "prod");
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  EXPECT_EQ(p->access_key_id, "AKIDPROD");
  EXPECT_EQ(p->secret_access_key, "secretprod");
  EXPECT_EQ(p->session_token, "tokenprod");

  auto c = parse_shared_credentials(kSharedFile, "cfgstyle");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->access_key_id, "AKIDCFG");

  EXPECT_EQ(parse_shared_credentials(kSharedFile, "missing").code(), Errc::not_found);
  EXPECT_EQ(parse_shared_credentials(kSharedFile, "incomplete").code(), Errc::invalid_argument);
  EXPECT_EQ(parse_shared_credentials("", "default").code(), Errc::not_found);
  // CRLF line endings and a header without ']' are tolerated.
  auto crlf = parse_shared_credentials(
      "[bad\r\n[default]\r\naws_access_key_id=A\r\naws_secret_access_key=B\r\n", "default");
  ASSERT_TRUE(crlf.ok());
  EXPECT_EQ(crlf->secret_access_key, "B");
}

TEST(CredentialChain, EnvironmentFirst) {
  auto p = default_credentials_provider(env_of({{"AWS_ACCESS_KEY_ID", "AK"},
                                                {"AWS_SECRET_ACCESS_KEY", "SK"},
                                                {"AWS_SESSION_TOKEN", "TOK"},
                                                {"AWS_SHARED_CREDENTIALS_FILE", "/nonexistent"}}));
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  auto c = (*p)->get();
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->access_key_id, "AK");
  EXPECT_EQ(c->secret_access_key, "SK");
  EXPECT_EQ(c->session_token, "TOK");
  EXPECT_EQ((*p)->describe(), "environment");
  // Secrets never appear in the description.
  EXPECT_EQ((*p)->describe().find("SK"), std::string::npos);

  auto half = default_credentials_provider(env_of({{"AWS_ACCESS_KEY_ID", "AK"}}));
  EXPECT_EQ(half.code(), Errc::invalid_argument);
  EXPECT_NE(half.status().message().find("AWS_SECRET_ACCESS_KEY"), std::string::npos);
}

TEST(CredentialChain, SharedFileWithProfile) {
  TempDir dir;
  std::string path = dir.write("credentials", kSharedFile);
  auto p =
      default_credentials_provider(env_of({{"AWS_SHARED_CREDENTIALS_FILE", path}, {"AWS_PROFILE", "prod"}}));
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  EXPECT_EQ((*p)->get()->access_key_id, "AKIDPROD");
  EXPECT_NE((*p)->describe().find("[prod]"), std::string::npos);

  // Default file location under $HOME, default profile.
  std::filesystem::create_directories(dir.path() + "/.aws");
  dir.write(".aws/credentials", kSharedFile);
  auto d = default_credentials_provider(env_of({{"HOME", dir.path()}}));
  ASSERT_TRUE(d.ok()) << d.status().to_string();
  EXPECT_EQ((*d)->get()->access_key_id, "AKIDDEFAULT");

  // A profile asked for by name must exist.
  auto missing =
      default_credentials_provider(env_of({{"AWS_SHARED_CREDENTIALS_FILE", path}, {"AWS_PROFILE", "nope"}}));
  EXPECT_EQ(missing.code(), Errc::invalid_argument);
  // An explicitly named file must exist.
  auto nofile = default_credentials_provider(env_of({{"AWS_SHARED_CREDENTIALS_FILE", dir.path() + "/none"}}));
  EXPECT_EQ(nofile.code(), Errc::invalid_argument);
}

TEST(CredentialChain, EmptyVariablesCountAsUnset) {
  TempDir dir;
  std::filesystem::create_directories(dir.path() + "/.aws");
  dir.write(".aws/credentials", kSharedFile);
  auto p = default_credentials_provider(env_of({{"AWS_ACCESS_KEY_ID", ""},
                                                {"AWS_SECRET_ACCESS_KEY", ""},
                                                {"AWS_SHARED_CREDENTIALS_FILE", ""},
                                                {"AWS_PROFILE", ""},
                                                {"AWS_ROLE_ARN", ""},
                                                {"HOME", dir.path()}}));
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  EXPECT_EQ((*p)->get()->access_key_id, "AKIDDEFAULT");
  EXPECT_NE((*p)->describe().find("[default]"), std::string::npos);

  EXPECT_EQ(default_credentials_provider(EnvLookup()).code(), Errc::invalid_argument);
}

TEST(CredentialChain, NothingConfiguredIsUnavailable) {
  TempDir dir;  // a HOME without .aws
  auto p = default_credentials_provider(env_of({{"HOME", dir.path()}}));
  EXPECT_EQ(p.code(), Errc::unavailable);
  EXPECT_NE(p.status().message().find("AWS_ACCESS_KEY_ID"), std::string::npos);
  auto half = default_credentials_provider(env_of({{"HOME", dir.path()}, {"AWS_ROLE_ARN", "arn:x"}}));
  EXPECT_EQ(half.code(), Errc::invalid_argument);
}

std::string sts_answer(const std::string& ak, std::chrono::system_clock::time_point exp) {
  return "<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
         "<AssumeRoleWithWebIdentityResult><SubjectFromWebIdentityToken>sub</SubjectFromWebIdentityToken>"
         "<Credentials><SessionToken>session&amp;token</SessionToken><SecretAccessKey>secret-" +
         ak + "</SecretAccessKey><Expiration>" + iso8601(exp) + "</Expiration><AccessKeyId>" + ak +
         "</AccessKeyId></Credentials></AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>";
}

TEST(WebIdentity, ExchangesTokenAndRefreshesBeforeExpiry) {
  TempDir dir;
  std::string token_path = dir.write("token", "jwt-token-1\n");
  std::atomic<int> calls{0};
  // The first answer expires within the refresh margin, so the next get()
  // must go back to STS; the second lasts an hour.
  FakeHttpServer sts([&](const HttpRequest&) {
    int n = ++calls;
    auto exp =
        std::chrono::system_clock::now() + (n == 1 ? std::chrono::minutes(2) : std::chrono::minutes(60));
    return HttpResponse{200, {{"Content-Type", "text/xml"}}, sts_answer("ASIA" + std::to_string(n), exp)};
  });
  ASSERT_GT(sts.port(), 0);

  auto p = default_credentials_provider(env_of({{"HOME", dir.path()},
                                                {"AWS_WEB_IDENTITY_TOKEN_FILE", token_path},
                                                {"AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/kafscale"},
                                                {"AWS_ROLE_SESSION_NAME", "broker-0"},
                                                {"AWS_STS_ENDPOINT", sts.url()}}));
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  EXPECT_NE((*p)->describe().find("role/kafscale"), std::string::npos);

  auto c1 = (*p)->get();
  ASSERT_TRUE(c1.ok()) << c1.status().to_string();
  EXPECT_EQ(c1->access_key_id, "ASIA1");
  EXPECT_EQ(c1->secret_access_key, "secret-ASIA1");
  EXPECT_EQ(c1->session_token, "session&token");  // XML-unescaped
  ASSERT_TRUE(c1->expiration.has_value());

  auto reqs = sts.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].method, "POST");
  EXPECT_EQ(reqs[0].header("content-type"), "application/x-www-form-urlencoded");
  const std::string& body = reqs[0].body;
  EXPECT_NE(body.find("Action=AssumeRoleWithWebIdentity"), std::string::npos) << body;
  EXPECT_NE(body.find("Version=2011-06-15"), std::string::npos) << body;
  EXPECT_NE(body.find("RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fkafscale"), std::string::npos)
      << body;
  EXPECT_NE(body.find("RoleSessionName=broker-0"), std::string::npos) << body;
  // The token file's trailing newline is not part of the token.
  EXPECT_TRUE(body.ends_with("&WebIdentityToken=jwt-token-1")) << body;
  EXPECT_TRUE(reqs[0].header("authorization").empty());  // the exchange is unsigned

  // Near expiry: refreshed, re-reading the (rotated) token file.
  dir.write("token", "jwt-token-2");
  auto c2 = (*p)->get();
  ASSERT_TRUE(c2.ok());
  EXPECT_EQ(c2->access_key_id, "ASIA2");
  ASSERT_EQ(sts.request_count(), 2u);
  EXPECT_NE(sts.requests()[1].body.find("WebIdentityToken=jwt-token-2"), std::string::npos);

  // Fresh for an hour: cached.
  auto c3 = (*p)->get();
  ASSERT_TRUE(c3.ok());
  EXPECT_EQ(c3->access_key_id, "ASIA2");
  EXPECT_EQ(sts.request_count(), 2u);
}

TEST(WebIdentity, StsErrorIsSurfaced) {
  TempDir dir;
  std::string token_path = dir.write("token", "expired-jwt");
  FakeHttpServer sts([](const HttpRequest&) {
    return HttpResponse{
        400,
        {},
        "<ErrorResponse><Error><Type>Sender</Type><Code>ExpiredTokenException</Code>"
        "<Message>Token expired: current date/time 1 must be before the expiration date/time 0"
        "</Message></Error></ErrorResponse>"};
  });
  WebIdentityConfig cfg;
  cfg.token_file = token_path;
  cfg.role_arn = "arn:aws:iam::1:role/r";
  cfg.sts_endpoint = sts.url();
  auto p = web_identity_credentials(cfg);
  auto c = p->get();
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.code(), Errc::unavailable);
  EXPECT_NE(c.status().message().find("ExpiredTokenException"), std::string::npos) << c.status().message();

  cfg.token_file = dir.path() + "/missing";
  auto missing = web_identity_credentials(cfg)->get();
  EXPECT_EQ(missing.code(), Errc::unavailable);
  EXPECT_NE(missing.status().message().find("AWS_WEB_IDENTITY_TOKEN_FILE"), std::string::npos);
}

TEST(AwsText, UriEncoding) {
  EXPECT_EQ(aws::uri_encode("a-Z_0.~"), "a-Z_0.~");
  EXPECT_EQ(aws::uri_encode("dir/x y+z=&"), "dir%2Fx%20y%2Bz%3D%26");
  EXPECT_EQ(aws::uri_encode("dir/x", true), "dir/x");
  EXPECT_EQ(aws::uri_encode(std::string("\xff\0", 2)), "%FF%00");
  EXPECT_EQ(aws::uri_decode("http%3A%2F%2Fh%3a1"), "http://h:1");
  EXPECT_FALSE(aws::uri_decode("%4").has_value());
  EXPECT_FALSE(aws::uri_decode("%zz").has_value());
  EXPECT_FALSE(aws::uri_decode("abc%").has_value());
}

TEST(AwsText, XmlReading) {
  std::string xml =
      "<R><Contents><Key>a&amp;b&lt;&#47;&#x41;</Key><Size>3</Size></Contents>"
      "<ContentsX>no</ContentsX><Contents attr=\"1\"><Key>k2</Key></Contents><Empty/></R>";
  auto all = aws::xml_elements(xml, "Contents");
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(aws::xml_text(all[0], "Key"), "a&b</A");
  EXPECT_EQ(aws::xml_text(all[1], "Key"), "k2");
  EXPECT_EQ(aws::xml_text(xml, "Empty"), "");
  EXPECT_FALSE(aws::xml_text(xml, "Missing").has_value());
  EXPECT_EQ(aws::xml_unescape("&unknown; & &#233;"), "&unknown; & \xc3\xa9");
  EXPECT_EQ(aws::xml_escape("<a&'\">"), "&lt;a&amp;&apos;&quot;&gt;");
  // Truncated documents do not crash.
  EXPECT_TRUE(aws::xml_elements("<Key>unterminated", "Key").empty());
  EXPECT_TRUE(aws::xml_elements("<Key", "Key").empty());
}

TEST(AwsText, Iso8601) {
  auto t = aws::parse_iso8601("2019-11-09T13:34:41Z");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(std::chrono::system_clock::to_time_t(*t), 1573306481);
  auto frac = aws::parse_iso8601("2019-11-09T13:34:41.123Z");
  ASSERT_TRUE(frac.has_value());
  EXPECT_EQ(*frac, *t);
  EXPECT_FALSE(aws::parse_iso8601("yesterday").has_value());
  EXPECT_FALSE(aws::parse_iso8601("2019-13-09T13:34:41Z").has_value());
  EXPECT_FALSE(aws::parse_iso8601("2019-11-09T13:34:41+02:00").has_value());
  // Signs and years outside what the clock holds (the s3_xml fuzzer found -999 overflowing it).
  EXPECT_FALSE(aws::parse_iso8601("-999-01-01T00:00:00Z").has_value());
  EXPECT_FALSE(aws::parse_iso8601("9999-01-01T00:00:00Z").has_value());
  EXPECT_FALSE(aws::parse_iso8601("2019-11-09T-1:34:41Z").has_value());
  EXPECT_TRUE(aws::parse_iso8601("2200-12-31T23:59:59Z").has_value());
}

}  // namespace
}  // namespace ks::objstore
