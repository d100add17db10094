// Manual replica assignments of CreateTopics / CreatePartitions: Kafka's
// controller rules and messages (INVALID_REPLICA_ASSIGNMENT, INVALID_REQUEST).
#include "handlers/replica_assignment.h"

#include <gtest/gtest.h>

#include "handlers/handlers.h"
#include "log/log_test_util.h"

namespace ks::handlers {
namespace {

using log::logtest::LogHarness;

NewTopicAssignment part(std::int32_t p, std::vector<std::int32_t> brokers) {
  NewTopicAssignment a;
  a.partition = p;
  a.brokers = std::move(brokers);
  return a;
}

std::string message_of(const std::optional<AssignmentError>& e) { return e ? e->message : std::string(); }

TEST(ReplicaAssignment, ReplicaListsAsKafkasController) {
  const std::set<std::int32_t> known = {1, 2, 3};
  EXPECT_FALSE(check_replica_list({2, 1}, known, std::nullopt));
  EXPECT_FALSE(check_replica_list({3}, known, 1));
  auto empty = check_replica_list({}, known, std::nullopt);
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->error, ErrorCode::kInvalidReplicaAssignment);
  EXPECT_EQ(empty->message, "The manual partition assignment includes an empty replica list.");
  EXPECT_EQ(message_of(check_replica_list({1, 9}, known, std::nullopt)),
            "The manual partition assignment includes broker 9, but no such broker is registered.");
  EXPECT_EQ(message_of(check_replica_list({2, 1, 2}, known, std::nullopt)),
            "The manual partition assignment includes the broker 2 more than once.");
  EXPECT_EQ(message_of(check_replica_list({1, 2}, known, 1)),
            "The manual partition assignment includes a partition with 2 replica(s), but this is not "
            "consistent with previous partitions, which have 1 replica(s).");
}

TEST(ReplicaAssignment, NewTopic) {
  const std::set<std::int32_t> known = {0, 1};
  std::vector<NewTopicAssignment> ok = {part(1, {1, 0}), part(0, {0, 1})};
  EXPECT_FALSE(check_new_topic_assignments(-1, -1, ok, known));

  auto rf = check_new_topic_assignments(-1, 2, ok, known);
  ASSERT_TRUE(rf);
  EXPECT_EQ(rf->error, ErrorCode::kInvalidRequest);
  auto np = check_new_topic_assignments(2, -1, ok, known);
  ASSERT_TRUE(np);
  EXPECT_EQ(np->error, ErrorCode::kInvalidRequest);
  EXPECT_EQ(np->message, "A manual partition assignment was specified, but numPartitions was not set to -1.");

  std::vector<NewTopicAssignment> twice = {part(0, {0}), part(0, {1})};
  auto t = check_new_topic_assignments(-1, -1, twice, known);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->error, ErrorCode::kInvalidReplicaAssignment);
  EXPECT_EQ(t->message, "Found multiple manual partition assignments for partition 0");
  std::vector<NewTopicAssignment> gap = {part(0, {0}), part(2, {1})};
  EXPECT_EQ(message_of(check_new_topic_assignments(-1, -1, gap, known)),
            "partitions should be a consecutive 0-based integer sequence");
  std::vector<NewTopicAssignment> uneven = {part(0, {0}), part(1, {0, 1})};
  EXPECT_NE(message_of(check_new_topic_assignments(-1, -1, uneven, known)).find("not consistent"),
            std::string::npos);
  std::vector<NewTopicAssignment> stranger = {part(0, {5})};
  EXPECT_NE(message_of(check_new_topic_assignments(-1, -1, stranger, known)).find("broker 5"),
            std::string::npos);
}

TEST(ReplicaAssignment, NewPartitions) {
  const std::set<std::int32_t> known = {0, 1};
  std::vector<std::vector<std::int32_t>> two = {{1}, {0}};
  EXPECT_FALSE(check_new_partition_assignments(2, two, known));
  EXPECT_EQ(message_of(check_new_partition_assignments(3, two, known)),
            "Attempted to add 3 additional partition(s), but only 2 assignment(s) were specified.");
  // Topics have one stored replica: a longer list is inconsistent with the topic.
  std::vector<std::vector<std::int32_t>> wide = {{0, 1}};
  EXPECT_NE(message_of(check_new_partition_assignments(1, wide, known)).find("which have 1 replica(s)"),
            std::string::npos);
  std::vector<std::vector<std::int32_t>> stranger = {{7}};
  EXPECT_NE(message_of(check_new_partition_assignments(1, stranger, known)).find("broker 7"),
            std::string::npos);
}

// The cluster: brokers 0 and 4 are live members.
class TwoBrokers final : public ClusterView {
 public:
  std::vector<NodeEndpoint> brokers() const override {
    std::vector<NodeEndpoint> v;
    v.push_back(NodeEndpoint{0, "127.0.0.1", 9092});
    v.push_back(NodeEndpoint{4, "127.0.0.1", 9096});
    return v;
  }
  std::int32_t controller() const override { return 0; }
  PartitionLeader leader(std::int32_t) const override { return PartitionLeader{0, 1}; }
  std::optional<NodeEndpoint> endpoint(std::int32_t) const override { return std::nullopt; }
};

class ReplicaAssignmentHandlerTest : public LogHarness {};

CreateTopicsRequest create_with(const std::string& name, std::vector<std::vector<std::int32_t>> lists) {
  CreateTopicsRequest req;
  auto& t = req.topics.emplace_back();
  t.name = name;
  t.num_partitions = -1;
  t.replication_factor = -1;
  for (std::size_t i = 0; i < lists.size(); ++i) {
    auto& a = t.assignments.emplace_back();
    a.partition_index = static_cast<std::int32_t>(i);
    a.broker_ids = std::move(lists[i]);
  }
  return req;
}

CreatePartitionsRequest grow_with(const std::string& name, std::int32_t count,
                                  std::vector<std::vector<std::int32_t>> lists) {
  CreatePartitionsRequest req;
  auto& t = req.topics.emplace_back();
  t.name = name;
  t.count = count;
  t.assignments.emplace();
  for (auto& l : lists) t.assignments->emplace_back().broker_ids = std::move(l);
  return req;
}

std::vector<std::vector<std::int32_t>> lists_of(std::int32_t broker, int n) {
  return std::vector<std::vector<std::int32_t>>(static_cast<std::size_t>(n),
                                                std::vector<std::int32_t>(1, broker));
}

TEST_F(ReplicaAssignmentHandlerTest, KnownBrokersAreThisOneOrTheLiveMembers) {
  run([&](log::LogManager& lm) -> awaitable<void> {
    BrokerContext broker{lm, 0, "127.0.0.1", 9092};
    protocol::RequestHeader header;
    net::ConnectionInfo conn;
    RequestContext ctx{broker, header, conn, 7};
    // Alone: only broker 0 exists.
    CreateTopicsRequest bad = create_with("a", lists_of(4, 2));
    CreateTopicsResponse r1 = co_await handle(ctx, bad);
    EXPECT_EQ(r1.topics.at(0).error_code, code(ErrorCode::kInvalidReplicaAssignment));
    EXPECT_EQ(lm.topic("a"), nullptr);
    CreateTopicsRequest good = create_with("a", lists_of(0, 2));
    CreateTopicsResponse r2 = co_await handle(ctx, good);
    EXPECT_EQ(r2.topics.at(0).error_code, 0);
    EXPECT_EQ(r2.topics.at(0).num_partitions, 2);

    // In a cluster: the live members.
    TwoBrokers view;
    broker.cluster = &view;
    CreateTopicsRequest member = create_with("b", lists_of(4, 1));
    CreateTopicsResponse r3 = co_await handle(ctx, member);
    EXPECT_EQ(r3.topics.at(0).error_code, 0);
    CreatePartitionsRequest grow_bad = grow_with("a", 4, lists_of(3, 2));
    CreatePartitionsResponse r4 = co_await handle(ctx, grow_bad);
    EXPECT_EQ(r4.results.at(0).error_code, code(ErrorCode::kInvalidReplicaAssignment));
    EXPECT_EQ(lm.topic("a")->record.partitions, 2);
    CreatePartitionsRequest grow_short = grow_with("a", 4, lists_of(4, 1));
    CreatePartitionsResponse r5 = co_await handle(ctx, grow_short);
    EXPECT_EQ(r5.results.at(0).error_code, code(ErrorCode::kInvalidReplicaAssignment));
    CreatePartitionsRequest grow_ok = grow_with("a", 4, lists_of(4, 2));
    CreatePartitionsResponse r6 = co_await handle(ctx, grow_ok);
    EXPECT_EQ(r6.results.at(0).error_code, 0);
    EXPECT_EQ(lm.topic("a")->record.partitions, 4);
  });
}

}  // namespace
}  // namespace ks::handlers
