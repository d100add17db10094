// Dynamic broker configs: what may change at which level, and the topic defaults they set.
#include "cluster/broker_config.h"

#include <gtest/gtest.h>

namespace ks::cluster {
namespace {

std::optional<std::string> check(const BrokerConfigMap& next, bool per_broker) {
  std::vector<std::string> set;
  for (const auto& [k, v] : next) set.push_back(k);
  return validate_dynamic_broker_configs(next, set, per_broker);
}

TEST(BrokerConfig, LogConfigsAreClusterWideOnly) {
  EXPECT_EQ(check({{"log.retention.ms", "3600000"}}, false), std::nullopt);
  auto e = check({{"log.retention.ms", "3600000"}}, true);
  ASSERT_TRUE(e);
  EXPECT_NE(e->find("cluster-wide"), std::string::npos) << *e;
  EXPECT_EQ(check({{"producer.id.expiration.ms", "1000"}}, true), std::nullopt);
  EXPECT_EQ(check({{"producer.id.expiration.ms", "1000"}}, false), std::nullopt);
}

TEST(BrokerConfig, RefusalsSayWhy) {
  EXPECT_EQ(check({{"broker.id", "3"}}, true), "Cannot update these configs dynamically: Set(broker.id)");
  EXPECT_EQ(check({{"no.such.config", "1"}}, false), "Unknown broker config name: no.such.config");
  auto e = check({{"ssl.keystore.location", "/x"}}, true);
  ASSERT_TRUE(e);
  EXPECT_NE(e->find("reloaded"), std::string::npos) << *e;
  e = check({{"num.io.threads", "8"}}, true);
  ASSERT_TRUE(e);
  EXPECT_NE(e->find("num.io.threads"), std::string::npos) << *e;
}

TEST(BrokerConfig, ValuesAreCheckedUnderTheBrokerName) {
  EXPECT_EQ(check({{"log.retention.ms", "abc"}}, false),
            "Invalid value abc for configuration log.retention.ms: Not a number of type LONG");
  EXPECT_EQ(check({{"log.retention.hours", "-2"}}, false),
            "Invalid value -2 for configuration log.retention.hours: Value must be at least -1");
  EXPECT_EQ(check({{"producer.id.expiration.ms", "0"}}, true),
            "Invalid value 0 for configuration producer.id.expiration.ms: Value must be at least 1");
  EXPECT_TRUE(check({{"compression.type", "brotli"}}, false));
  EXPECT_EQ(check({{"compression.type", "zstd"}}, false), std::nullopt);
  // Only what the request set is checked: a stored entry is not checked again.
  EXPECT_EQ(validate_dynamic_broker_configs({{"log.retention.ms", "1"}, {"broker.id", "1"}},
                                            {"log.retention.ms"}, false),
            std::nullopt);
}

TEST(BrokerConfig, TopicDefaultsFollowKafkasPrecedence) {
  auto d = topic_defaults({{"log.retention.hours", "2"}, {"message.max.bytes", "500"}});
  EXPECT_EQ(d["retention.ms"], "7200000");
  EXPECT_EQ(d["max.message.bytes"], "500");
  d = topic_defaults({{"log.retention.hours", "2"}, {"log.retention.minutes", "3"}});
  EXPECT_EQ(d["retention.ms"], "180000");
  d = topic_defaults({{"log.retention.hours", "2"}, {"log.retention.ms", "5"}});
  EXPECT_EQ(d["retention.ms"], "5");
  d = topic_defaults({{"log.retention.ms", "-1"}});
  EXPECT_EQ(d["retention.ms"], "-1");
  const LogConfigSynonym* src = topic_default_source({{"log.retention.minutes", "1"}}, "retention.ms");
  ASSERT_NE(src, nullptr);
  EXPECT_STREQ(src->broker_name, "log.retention.minutes");
  EXPECT_EQ(topic_default_source({}, "retention.ms"), nullptr);
}

TEST(BrokerConfig, StoredFormRoundTrips) {
  BrokerConfigMap m{{"log.retention.ms", "1"}, {"producer.id.expiration.ms", "2"}};
  EXPECT_EQ(decode_broker_configs(encode_broker_configs(m)), m);
  EXPECT_EQ(decode_broker_configs("not json"), std::nullopt);
  EXPECT_EQ(decode_broker_configs(R"({"v":1,"configs":{"a":1}})"), std::nullopt);
}

}  // namespace
}  // namespace ks::cluster
