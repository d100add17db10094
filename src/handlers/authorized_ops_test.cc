// Authorized operations: every operation Kafka defines for the resource type
// when asked for (no authorizer yet), INT32_MIN otherwise.
#include "handlers/authorized_ops.h"

#include <gtest/gtest.h>

#include "handlers/handler_test_util.h"
#include "handlers/handlers.h"
#include "log/log_test_util.h"
#include "protocol/wire.h"

namespace ks::handlers {
namespace {

using log::logtest::LogHarness;

TEST(AuthorizedOps, KafkasSetsPerResourceType) {
  // READ WRITE CREATE DELETE ALTER DESCRIBE DESCRIBE_CONFIGS ALTER_CONFIGS
  EXPECT_EQ(authz::kTopicOperations,
            (1 << 3) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 7) | (1 << 8) | (1 << 10) | (1 << 11));
  // READ DELETE DESCRIBE DESCRIBE_CONFIGS ALTER_CONFIGS
  EXPECT_EQ(authz::kGroupOperations, (1 << 3) | (1 << 6) | (1 << 8) | (1 << 10) | (1 << 11));
  // CREATE ALTER DESCRIBE CLUSTER_ACTION DESCRIBE_CONFIGS ALTER_CONFIGS IDEMPOTENT_WRITE
  EXPECT_EQ(authz::kClusterOperations,
            (1 << 5) | (1 << 7) | (1 << 8) | (1 << 9) | (1 << 10) | (1 << 11) | (1 << 12));
  EXPECT_EQ(authz::topic_operations(false), INT32_MIN);
  EXPECT_EQ(authz::group_operations(false), INT32_MIN);
  EXPECT_EQ(authz::cluster_operations(false), INT32_MIN);
}

using test_util::round_trip;

MetadataRequest metadata_of(const std::string& topic, bool cluster_ops, bool topic_ops) {
  MetadataRequest req;
  req.topics.emplace();
  req.topics->emplace_back().name = topic;
  req.allow_auto_topic_creation = false;
  req.include_cluster_authorized_operations = cluster_ops;
  req.include_topic_authorized_operations = topic_ops;
  return req;
}

DescribeGroupsRequest describe_group(const std::string& group, bool ops) {
  DescribeGroupsRequest req;
  req.groups.push_back(group);
  req.include_authorized_operations = ops;
  return req;
}

class AuthorizedOpsTest : public LogHarness {};

TEST_F(AuthorizedOpsTest, OnlyWhenAskedFor) {
  run([&](log::LogManager& lm) -> awaitable<void> {
    co_await log::logtest::make_topic(lm, "t", 1);
    BrokerContext broker{lm, 0, "127.0.0.1", 9092};
    protocol::RequestHeader header;
    net::ConnectionInfo conn;

    RequestContext v10{broker, header, conn, 10};
    MetadataRequest asked = metadata_of("t", true, true);
    MetadataResponse m = co_await handle(v10, asked);
    EXPECT_EQ(m.cluster_authorized_operations, authz::kClusterOperations);
    EXPECT_EQ(m.topics.at(0).topic_authorized_operations, authz::kTopicOperations);
    EXPECT_EQ(round_trip(m, 10).topics.at(0).topic_authorized_operations, authz::kTopicOperations);
    MetadataRequest unknown = metadata_of("nope", false, true);
    MetadataResponse mu = co_await handle(v10, unknown);
    EXPECT_EQ(mu.topics.at(0).topic_authorized_operations, authz::kTopicOperations);
    MetadataRequest not_asked = metadata_of("t", false, false);
    MetadataResponse mn = co_await handle(v10, not_asked);
    EXPECT_EQ(mn.cluster_authorized_operations, INT32_MIN);
    EXPECT_EQ(mn.topics.at(0).topic_authorized_operations, INT32_MIN);
    // v11+ has no cluster field; v7 has neither.
    RequestContext v12{broker, header, conn, 12};
    MetadataResponse m12 = co_await handle(v12, asked);
    EXPECT_EQ(m12.cluster_authorized_operations, INT32_MIN);
    EXPECT_EQ(m12.topics.at(0).topic_authorized_operations, authz::kTopicOperations);
    RequestContext v7{broker, header, conn, 7};
    MetadataResponse m7 = co_await handle(v7, asked);
    EXPECT_EQ(m7.topics.at(0).topic_authorized_operations, INT32_MIN);

    RequestContext dc{broker, header, conn, 1};
    DescribeClusterRequest cluster_asked;
    cluster_asked.include_cluster_authorized_operations = true;
    DescribeClusterResponse c1 = co_await handle(dc, cluster_asked);
    EXPECT_EQ(c1.cluster_authorized_operations, authz::kClusterOperations);
    DescribeClusterRequest cluster_not_asked;
    DescribeClusterResponse c2 = co_await handle(dc, cluster_not_asked);
    EXPECT_EQ(c2.cluster_authorized_operations, INT32_MIN);

    // No coordinator: the group answers an error, and Kafka adds no operations to an error.
    RequestContext dg{broker, header, conn, 5};
    DescribeGroupsRequest group_asked = describe_group("g", true);
    DescribeGroupsResponse g = co_await handle(dg, group_asked);
    EXPECT_NE(g.groups.at(0).error_code, 0);
    EXPECT_EQ(g.groups.at(0).authorized_operations, INT32_MIN);
  });
}

}  // namespace
}  // namespace ks::handlers
