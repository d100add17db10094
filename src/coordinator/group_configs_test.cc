#include "coordinator/group_configs.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace ks::coordinator {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

TEST(GroupConfigs, ValidateFollowsKafkasRules) {
  const Options o;  // Kafka's defaults: session 45000 in [45000, 60000], heartbeat 5000 in [5000, 15000]
  EXPECT_EQ(validate_group_configs({}, o), std::nullopt);
  EXPECT_EQ(validate_group_configs({{"consumer.session.timeout.ms", "50000"}}, o), std::nullopt);
  EXPECT_EQ(validate_group_configs({{"consumer.nope", "1"}}, o), "Unknown group config name: consumer.nope");
  EXPECT_THAT(*validate_group_configs({{"consumer.session.timeout.ms", "5e4"}}, o),
              HasSubstr("Not a number"));
  EXPECT_THAT(*validate_group_configs({{"consumer.session.timeout.ms", "99999999999"}}, o),
              HasSubstr("Not a number"));
  EXPECT_THAT(*validate_group_configs({{"consumer.heartbeat.interval.ms", "0"}}, o), HasSubstr("at least 1"));
  EXPECT_EQ(
      validate_group_configs({{"consumer.session.timeout.ms", "44999"}}, o),
      "consumer.session.timeout.ms must be greater than or equal to group.consumer.min.session.timeout.ms");
  EXPECT_EQ(
      validate_group_configs({{"consumer.session.timeout.ms", "60001"}}, o),
      "consumer.session.timeout.ms must be less than or equal to group.consumer.max.session.timeout.ms");
  EXPECT_EQ(validate_group_configs({{"consumer.heartbeat.interval.ms", "15001"}}, o),
            "consumer.heartbeat.interval.ms must be less than or equal to "
            "group.consumer.max.heartbeat.interval.ms");
  // The heartbeat interval must stay below the session timeout, the group's or the broker's.
  Options wide = o;
  wide.consumer_min_session_timeout = 1000ms;
  wide.consumer_max_heartbeat_interval = 100000ms;
  EXPECT_EQ(validate_group_configs({{"consumer.heartbeat.interval.ms", "45000"}}, wide),
            "consumer.session.timeout.ms must be greater than consumer.heartbeat.interval.ms");
  EXPECT_EQ(validate_group_configs(
                {{"consumer.session.timeout.ms", "2000"}, {"consumer.heartbeat.interval.ms", "1000"}},
                [&] {
                  Options w = wide;
                  w.consumer_min_heartbeat_interval = 100ms;
                  return w;
                }()),
            std::nullopt);
}

TEST(GroupConfigs, EffectiveValuesFallBackToTheBrokers) {
  Options o;
  o.consumer_session_timeout = 50000ms;
  auto none = effective_group_config(nullptr, o);
  EXPECT_EQ(none.session_timeout, 50000ms);
  EXPECT_EQ(none.heartbeat_interval, 5000ms);
  GroupConfigMap m{{"consumer.heartbeat.interval.ms", "7000"}};
  auto some = effective_group_config(&m, o);
  EXPECT_EQ(some.session_timeout, 50000ms);
  EXPECT_EQ(some.heartbeat_interval, 7000ms);
  GroupConfigMap bad{{"consumer.heartbeat.interval.ms", "x"}};
  EXPECT_EQ(effective_group_config(&bad, o).heartbeat_interval, 5000ms);
}

TEST(GroupConfigs, EncodeDecodeRoundTripAndRejects) {
  GroupConfigMap m{{"consumer.session.timeout.ms", "50000"}, {"consumer.heartbeat.interval.ms", "7000"}};
  auto back = decode_group_configs(encode_group_configs(m));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, m);
  EXPECT_FALSE(decode_group_configs("not json").ok());
  EXPECT_FALSE(decode_group_configs(R"({"v":2,"configs":{}})").ok());
  EXPECT_FALSE(decode_group_configs(R"({"v":1})").ok());
  EXPECT_FALSE(decode_group_configs(R"({"v":1,"configs":{"a":1}})").ok());
}

}  // namespace
}  // namespace ks::coordinator
