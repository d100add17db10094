#include "broker/check_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <sstream>

#include "broker/cli.h"

namespace ks::broker {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

struct CheckRun {
  int code = 0;
  bool broker_ran = false;
  std::string out, err;
};

// `kafscale ARGS` with the real check; the broker action only records that it was called.
CheckRun run(std::vector<std::string> args, std::map<std::string, std::string> vars = {}) {
  CheckRun r;
  EnvLookup env = [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
  CliActions actions{[&](const Config&, const EnvLookup&) {
                       r.broker_ran = true;
                       return 0;
                     },
                     [](const InspectOptions&, const EnvLookup&) { return 0; }, check_config};
  std::ostringstream out, err;
  r.code = run_cli(args, actions, env, out, err);
  r.out = out.str();
  r.err = err.str();
  return r;
}

const std::string kS3 = "s3://bucket/kafscale?region=eu-west-1";
const std::string kEtcd =
    "etcds://etcd-0.etcd:2379,etcd-1.etcd:2379/kafscale?cacert=/etc/kafscale/etcd/ca.crt";

TEST(CheckConfigTest, ValidSettingsPrintThemAndExit0WithoutRunning) {
  CheckRun r = run({"broker", "--check-config", "--listen", "0.0.0.0:9092", "--advertise", "10.0.0.7:9092",
                    "--object-store", kS3, "--metadata", kEtcd},
                   {{"KAFSCALE_RACK", "eu-west-1a"}});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_FALSE(r.broker_ran);
  EXPECT_THAT(r.out, HasSubstr("configuration OK"));
  EXPECT_THAT(r.out, HasSubstr("rack = eu-west-1a"));
  EXPECT_THAT(r.out, HasSubstr("advertise = 10.0.0.7:9092"));
  // The flag may come anywhere among the settings.
  r = run({"broker", "--listen", "127.0.0.1:0", "--check-config"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_FALSE(r.broker_ran);
  // Absent AWS credentials are fine (IRSA injects them into the pod); web identity set whole is too.
  r = run({"broker", "--check-config", "--object-store", kS3},
          {{"AWS_ROLE_ARN", "arn:aws:iam::1:role/r"}, {"AWS_WEB_IDENTITY_TOKEN_FILE", "/var/run/t"}});
  EXPECT_EQ(r.code, 0) << r.err;
}

TEST(CheckConfigTest, BadSettingsExit2WithTheReason) {
  struct Case {
    std::vector<std::string> args;
    std::map<std::string, std::string> env;
    std::string says;
  };
  const std::vector<Case> cases = {
      {{"--listen", "0.0.0.0:9092"}, {}, "advertise"},
      {{"--flush-bytes", "1"}, {}, "flush-bytes"},
      {{"--periodSecond", "3"}, {}, "periodSecond"},
      {{}, {{"KAFSCALE_CACHE_BYTES", "lots"}}, "KAFSCALE_CACHE_BYTES"},
      {{"--object-store", "s3://"}, {}, "object-store"},
      {{"--object-store", "gcs://b/p"}, {}, "unsupported URL"},
      {{"--metadata", "etcd://user@h:2379/p"}, {}, "metadata"},
      {{"--metadata", "zk://h:2181"}, {}, "unsupported URL"},
      {{"--metadata", kEtcd}, {{"KAFSCALE_ETCD_USERNAME", "kafscale"}}, "KAFSCALE_ETCD_PASSWORD"},
      {{"--metadata", kEtcd},
       {{"KAFSCALE_ETCD_USERNAME", "kafscale"}, {"KAFSCALE_ETCD_PASSWORD_FILE", "/nonexistent/pw"}},
       "KAFSCALE_ETCD_PASSWORD_FILE"},
      {{"--object-store", kS3}, {{"AWS_ACCESS_KEY_ID", "AKIA"}}, "AWS_SECRET_ACCESS_KEY"},
      {{"--object-store", kS3}, {{"AWS_ROLE_ARN", "arn:aws:iam::1:role/r"}}, "AWS_WEB_IDENTITY_TOKEN_FILE"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args = {"broker", "--check-config"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    CheckRun r = run(args, c.env);
    EXPECT_EQ(r.code, 2) << ::testing::PrintToString(c.args);
    EXPECT_FALSE(r.broker_ran);
    EXPECT_THAT(r.err, HasSubstr(c.says)) << ::testing::PrintToString(c.args);
    EXPECT_THAT(r.out, Not(HasSubstr("configuration OK")));
  }
}

}  // namespace
}  // namespace ks::broker
