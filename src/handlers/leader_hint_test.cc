// KIP-951: a Produce or Fetch for a partition led by another broker answers
// NOT_LEADER_OR_FOLLOWER with that leader's id, epoch and address, so a
// client (librdkafka 2.x) retries there without a Metadata round trip. Older
// versions carry none of it; a broker alone (no cluster view) adds nothing.
#include <gtest/gtest.h>

#include "handlers/handler_test_util.h"
#include "handlers/handlers.h"
#include "log/log_test_util.h"
#include "protocol/wire.h"

namespace ks::handlers {
namespace {

using log::logtest::LogHarness;

// The cluster as the handlers see it: node 7 leads every stream, in term 4.
class OtherLeader final : public ClusterView {
 public:
  std::vector<NodeEndpoint> brokers() const override { return {endpoint(7).value()}; }
  std::int32_t controller() const override { return 7; }
  PartitionLeader leader(std::int32_t) const override { return PartitionLeader{7, 4}; }
  std::optional<NodeEndpoint> endpoint(std::int32_t node) const override {
    if (node != 7) return std::nullopt;
    return NodeEndpoint{7, "10.0.0.7", 9093};
  }
};

class LeaderHintTest : public LogHarness {};

ProduceRequest produce_one(const std::string& topic) {
  ProduceRequest req;
  req.acks = -1;
  req.timeout_ms = 1000;
  auto& td = req.topic_data.emplace_back();
  td.name = topic;
  auto& pd = td.partition_data.emplace_back();
  pd.index = 0;
  return req;
}

FetchRequest fetch_one(const std::string& topic, const cluster::TopicId& id) {
  FetchRequest req;
  req.max_wait_ms = 0;
  req.max_bytes = 1 << 20;
  auto& ft = req.topics.emplace_back();
  ft.topic = topic;
  ft.topic_id.bytes = id;  // v13+ names topics by id
  auto& fp = ft.partitions.emplace_back();
  fp.partition = 0;
  fp.partition_max_bytes = 1 << 20;
  return req;
}

using test_util::round_trip;

TEST_F(LeaderHintTest, NotLeaderAnswersNameTheLeaderAndItsAddress) {
  run([&](log::LogManager& lm) -> awaitable<void> {
    const cluster::TopicId id = co_await log::logtest::make_topic(lm, "t", 1);
    const std::int32_t stream = lm.cluster().stream_of(*lm.topic("t"), 0);
    std::vector<std::int32_t> one;
    one.push_back(stream);
    const Status released = co_await lm.release_streams(one);
    EXPECT_TRUE(released.ok());  // now served elsewhere
    OtherLeader view;
    BrokerContext broker{lm, 0, "127.0.0.1", 9092};
    broker.cluster = &view;
    protocol::RequestHeader header;
    net::ConnectionInfo conn;

    RequestContext produce_ctx{broker, header, conn, 10};
    ProduceRequest preq = produce_one("t");
    auto presp = co_await handle(produce_ctx, preq);
    EXPECT_TRUE(presp.has_value());
    if (!presp) co_return;
    for (std::int16_t v : {std::int16_t{9}, std::int16_t{10}}) {
      ProduceResponse got = round_trip(*presp, v);
      const auto& pr = got.responses.at(0).partition_responses.at(0);
      EXPECT_EQ(pr.error_code, code(ErrorCode::kNotLeaderOrFollower));
      if (v < 10) {
        EXPECT_EQ(pr.current_leader.leader_id, -1) << "v" << v;
        EXPECT_TRUE(got.node_endpoints.empty());
        continue;
      }
      EXPECT_EQ(pr.current_leader.leader_id, 7);
      EXPECT_EQ(pr.current_leader.leader_epoch, 4);
      EXPECT_EQ(got.node_endpoints.size(), 1u);
      if (got.node_endpoints.size() != 1) continue;
      EXPECT_EQ(got.node_endpoints[0].node_id, 7);
      EXPECT_EQ(got.node_endpoints[0].host, "10.0.0.7");
      EXPECT_EQ(got.node_endpoints[0].port, 9093);
    }

    RequestContext fetch_ctx{broker, header, conn, 16};
    FetchRequest freq = fetch_one("t", id);
    FetchResponse fresp = co_await handle(fetch_ctx, freq);
    FetchResponse got = round_trip(fresp, 16);
    const auto& pd = got.responses.at(0).partitions.at(0);
    EXPECT_EQ(pd.error_code, code(ErrorCode::kNotLeaderOrFollower));
    EXPECT_EQ(pd.current_leader.leader_id, 7);
    EXPECT_EQ(pd.current_leader.leader_epoch, 4);
    EXPECT_EQ(got.node_endpoints.size(), 1u);
    EXPECT_TRUE(round_trip(fresp, 15).node_endpoints.empty());  // v16+ only
    EXPECT_EQ(round_trip(fresp, 15).responses.at(0).partitions.at(0).current_leader.leader_id, 7);  // v12+

    // A broker alone knows no other leader: the error goes out bare.
    broker.cluster = nullptr;
    FetchResponse alone = co_await handle(fetch_ctx, freq);
    EXPECT_EQ(alone.responses.at(0).partitions.at(0).current_leader.leader_id, -1);
    EXPECT_TRUE(alone.node_endpoints.empty());
  });
}

}  // namespace
}  // namespace ks::handlers
