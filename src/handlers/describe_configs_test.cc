// DescribeConfigs returns synonyms (v1+) and documentation (v3+) only when
// the request asks for them, as Kafka's ConfigHelper does; kafkajs compares
// the answer exactly.
#include <gtest/gtest.h>

#include "handlers/handlers.h"
#include "log/log_test_util.h"

namespace ks::handlers {
namespace {

using log::logtest::LogHarness;

class DescribeConfigsTest : public LogHarness {};

DescribeConfigsRequest describe(std::int8_t type, const std::string& name, bool synonyms,
                                bool documentation) {
  DescribeConfigsRequest req;
  auto& r = req.resources.emplace_back();
  r.resource_type = type;
  r.resource_name = name;
  req.include_synonyms = synonyms;
  req.include_documentation = documentation;
  return req;
}

// How many configs of the first resource have synonyms / documentation.
std::pair<std::size_t, std::size_t> counts(const DescribeConfigsResponse& resp) {
  std::size_t syn = 0, doc = 0;
  for (const auto& c : resp.results.at(0).configs) {
    if (!c.synonyms.empty()) ++syn;
    if (c.documentation) ++doc;
  }
  return {syn, doc};
}

TEST_F(DescribeConfigsTest, SynonymsAndDocumentationOnlyWhenAskedFor) {
  run([&](log::LogManager& lm) -> awaitable<void> {
    co_await log::logtest::make_topic(lm, "t", 1);
    BrokerContext broker{lm, 0, "127.0.0.1", 9092};
    protocol::RequestHeader header;
    net::ConnectionInfo conn;
    RequestContext ctx{broker, header, conn, 4};
    for (std::int8_t type : {std::int8_t{2}, std::int8_t{4}}) {  // topic, broker
      const std::string name = type == 2 ? "t" : "0";
      DescribeConfigsRequest neither = describe(type, name, false, false);
      DescribeConfigsResponse plain = co_await handle(ctx, neither);
      EXPECT_EQ(plain.results.at(0).error_code, 0);
      EXPECT_FALSE(plain.results.at(0).configs.empty());
      EXPECT_EQ(counts(plain), std::make_pair(std::size_t{0}, std::size_t{0})) << int(type);

      DescribeConfigsRequest synonyms = describe(type, name, true, false);
      DescribeConfigsResponse with_syn = co_await handle(ctx, synonyms);
      EXPECT_EQ(counts(with_syn).first, with_syn.results.at(0).configs.size()) << int(type);
      EXPECT_EQ(counts(with_syn).second, 0u) << int(type);

      DescribeConfigsRequest docs = describe(type, name, false, true);
      DescribeConfigsResponse with_doc = co_await handle(ctx, docs);
      EXPECT_EQ(counts(with_doc).first, 0u) << int(type);
      EXPECT_EQ(counts(with_doc).second, with_doc.results.at(0).configs.size()) << int(type);
    }
  });
}

}  // namespace
}  // namespace ks::handlers
