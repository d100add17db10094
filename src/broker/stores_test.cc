#include "broker/stores.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>

namespace ks::broker {
namespace {

using ::testing::HasSubstr;

EnvLookup env_of(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

// A file under gtest's temporary directory, removed at the end of the test.
class TempFile {
 public:
  explicit TempFile(const std::string& contents) {
    path_ = (std::filesystem::path(::testing::TempDir()) /
             ("ks_stores_test_" + std::to_string(::getpid()) + "_" + std::to_string(++counter_)))
                .string();
    std::ofstream(path_) << contents;
  }
  ~TempFile() {
    std::error_code ec;
    std::filesystem::remove(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  static inline int counter_ = 0;
  std::string path_;
};

TEST(EtcdOptionsTest, UrlWithoutLogin) {
  auto o = etcd_options("etcd://a:1,b:2/x?timeout_ms=500", env_of({}));
  ASSERT_TRUE(o.ok()) << o.status().to_string();
  EXPECT_EQ(o->endpoints, (std::vector<std::string>{"http://a:1", "http://b:2"}));
  EXPECT_EQ(o->prefix, "/x");
  EXPECT_EQ(o->timeout, std::chrono::milliseconds(500));
  EXPECT_TRUE(o->username.empty());
  EXPECT_TRUE(o->password.empty());

  // Empty variables count as unset.
  o = etcd_options("etcd://h:1/p", env_of({{"KAFSCALE_ETCD_USERNAME", ""},
                                           {"KAFSCALE_ETCD_PASSWORD", ""},
                                           {"KAFSCALE_ETCD_PASSWORD_FILE", ""}}));
  ASSERT_TRUE(o.ok()) << o.status().to_string();
  EXPECT_TRUE(o->username.empty());
}

TEST(EtcdOptionsTest, CredentialsFromEnvironment) {
  std::map<std::string, std::string> env = {{"KAFSCALE_ETCD_USERNAME", "kafscale"},
                                            {"KAFSCALE_ETCD_PASSWORD", "s3cret"}};
  auto o = etcd_options("etcd://h:1/p", env_of(env));
  ASSERT_TRUE(o.ok()) << o.status().to_string();
  EXPECT_EQ(o->username, "kafscale");
  EXPECT_EQ(o->password, "s3cret");
  EXPECT_EQ(o->endpoints, (std::vector<std::string>{"http://h:1"}));

  // Both a password and a password file: ambiguous.
  TempFile file("from-file\n");
  env["KAFSCALE_ETCD_PASSWORD_FILE"] = file.path();
  o = etcd_options("etcd://h:1/p", env_of(env));
  EXPECT_EQ(o.code(), Errc::invalid_argument);
  EXPECT_THAT(o.status().message(), HasSubstr("not both"));

  env.erase("KAFSCALE_ETCD_PASSWORD");
  o = etcd_options("etcd://h:1/p", env_of(env));
  ASSERT_TRUE(o.ok()) << o.status().to_string();
  EXPECT_EQ(o->password, "from-file");  // trailing newline dropped

  TempFile crlf("pw\r\n");
  env["KAFSCALE_ETCD_PASSWORD_FILE"] = crlf.path();
  o = etcd_options("etcd://h:1/p", env_of(env));
  ASSERT_TRUE(o.ok()) << o.status().to_string();
  EXPECT_EQ(o->password, "pw");

  env["KAFSCALE_ETCD_PASSWORD_FILE"] = file.path() + ".missing";
  o = etcd_options("etcd://h:1/p", env_of(env));
  EXPECT_EQ(o.code(), Errc::invalid_argument);
  EXPECT_THAT(o.status().message(), HasSubstr("cannot read KAFSCALE_ETCD_PASSWORD_FILE"));

  env.erase("KAFSCALE_ETCD_PASSWORD_FILE");
  o = etcd_options("etcd://h:1/p", env_of(env));
  EXPECT_EQ(o.code(), Errc::invalid_argument);  // user without password
  EXPECT_THAT(o.status().message(), HasSubstr("KAFSCALE_ETCD_USERNAME is set but no password"));

  o = etcd_options("etcd://h:1/p", env_of({{"KAFSCALE_ETCD_PASSWORD", "x"}}));
  EXPECT_EQ(o.code(), Errc::invalid_argument);  // password without user
  EXPECT_THAT(o.status().message(), HasSubstr("KAFSCALE_ETCD_USERNAME is not"));
}

TEST(EtcdOptionsTest, UrlErrorsComeFirst) {
  auto o = etcd_options("etcd://user:pw@h:1", env_of({{"KAFSCALE_ETCD_PASSWORD", "x"}}));
  EXPECT_EQ(o.code(), Errc::invalid_argument);
  EXPECT_THAT(o.status().message(), HasSubstr("credentials do not belong in the URL"));
}

// Bad credential variables are a bad setting (exit code 2 at start-up), found before any connection.
TEST(OpenStoresTest, CredentialErrorsAreInvalidArgument) {
  auto m = open_metadata_store("etcd://127.0.0.1:1/p", env_of({{"KAFSCALE_ETCD_USERNAME", "u"}}));
  EXPECT_EQ(m.code(), Errc::invalid_argument);
  EXPECT_THAT(m.status().message(), HasSubstr("KAFSCALE_ETCD_PASSWORD"));

  auto o = open_object_store("s3://bucket/p?endpoint=http://127.0.0.1:1&region=us-east-1",
                             env_of({{"AWS_ACCESS_KEY_ID", "AK"}}));
  EXPECT_EQ(o.code(), Errc::invalid_argument);
  EXPECT_THAT(o.status().message(), HasSubstr("object-store: AWS credentials"));
  EXPECT_THAT(o.status().message(), HasSubstr("AWS_SECRET_ACCESS_KEY"));
}

}  // namespace
}  // namespace ks::broker
