// Error answers of the group calls, checked against Kafka's classic group
// coordinator (ClassicGroup.validateOffsetCommit / validateMember,
// OffsetMetadataManager.validateOffsetCommit, KafkaApis' topic checks).
#include <gtest/gtest.h>

#include "coordinator/coordinator_test_util.h"

namespace ks::coordinator {
namespace {

using namespace coordtest;

// Partitions 0..n-1.
std::vector<std::int32_t> parts(std::int32_t n) {
  std::vector<std::int32_t> v;
  for (std::int32_t i = 0; i < n; ++i) v.push_back(i);
  return v;
}

bool no_groups(const GroupCoordinator& c) { return c.list(std::vector<std::string>()).empty(); }

// What AdminClient.alterConsumerGroupOffsets sends: generation -1, no member.
CommitParams admin_commit(const std::string& group, std::vector<std::int32_t> partitions) {
  return commit_params(group, -1, "", "t", std::move(partitions), 7);
}

SyncParams sync_params(const std::string& group, std::int32_t generation, const std::string& member,
                       std::optional<std::string> instance) {
  SyncParams p;
  p.group_id = group;
  p.generation = generation;
  p.member_id = member;
  p.instance_id = std::move(instance);
  return p;
}

CommitParams with_instance(CommitParams p, std::string instance) {
  p.instance_id = std::move(instance);
  return p;
}

// One partition of topic "t" and one of the unknown topic "nope".
CommitParams mixed_commit(const std::string& group, std::int32_t generation, const std::string& member) {
  CommitParams p = commit_params(group, generation, member, "t", {0}, 3);
  p.partitions.push_back(CommitPartition{"nope", 0, 3, -1, std::nullopt});
  return p;
}

std::vector<LeaveMember> one_member(const std::string& id) {
  std::vector<LeaveMember> v(1);
  v[0].member_id = id;
  return v;
}

std::map<std::string, std::string> no_configs() { return {}; }

std::vector<ErrorCode> errors(ErrorCode a, ErrorCode b) {
  std::vector<ErrorCode> v;
  v.push_back(a);
  v.push_back(b);
  return v;
}

TEST_F(CoordinatorTest, AdminCommitToAGroupWithMembersIsUnknownMember) {
  opt_.initial_rebalance_delay = std::chrono::milliseconds(0);
  run([&](GroupCoordinator& c, cluster::ClusterState& log) -> awaitable<void> {
    EXPECT_TRUE((co_await log.create_topic("t", 2, no_configs())).ok());
    std::string id;
    auto j = join_new(c, join_params("g", ""), id);
    EXPECT_TRUE(co_await wait(j->done));
    // CompletingRebalance, then Stable: the admin commit is refused as Kafka does.
    EXPECT_EQ(c.commit(admin_commit("g", parts(1)))->errors.at(0), ErrorCode::kUnknownMemberId);
    auto s = c.sync(sync_params("g", 1, id, std::nullopt));
    EXPECT_TRUE(co_await wait(s->done));
    EXPECT_EQ(c.describe("g").state, "Stable");
    EXPECT_EQ(c.commit(admin_commit("g", parts(2)))->errors,
              errors(ErrorCode::kUnknownMemberId, ErrorCode::kUnknownMemberId));
    // A known member with generation -1 is checked like a member: wrong generation.
    EXPECT_EQ(c.commit(commit_params("g", -1, id, "t", parts(1), 1))->errors.at(0),
              ErrorCode::kIllegalGeneration);

    // Once the group is Empty the admin commit is accepted.
    EXPECT_EQ(c.leave("g", one_member(id)).members.at(0), ErrorCode::kNone);
    EXPECT_EQ(c.describe("g").state, "Empty");
    auto ok = c.commit(admin_commit("g", parts(1)));
    EXPECT_TRUE(co_await wait(ok->done));
    EXPECT_EQ(ok->errors.at(0), ErrorCode::kNone);
  });
}

TEST_F(CoordinatorTest, UnknownInstanceIdIsUnknownMemberEvenForAKnownMemberId) {
  opt_.initial_rebalance_delay = std::chrono::milliseconds(0);
  run([&](GroupCoordinator& c, cluster::ClusterState& log) -> awaitable<void> {
    EXPECT_TRUE((co_await log.create_topic("t", 1, no_configs())).ok());
    std::string id;
    auto j = join_new(c, join_params("g", ""), id);  // a dynamic member
    EXPECT_TRUE(co_await wait(j->done));
    const std::optional<std::string> stranger("nobody-instance");
    EXPECT_EQ(c.sync(sync_params("g", 1, id, stranger))->result.error, ErrorCode::kUnknownMemberId);
    auto s = c.sync(sync_params("g", 1, id, std::nullopt));
    EXPECT_TRUE(co_await wait(s->done));
    EXPECT_EQ(c.heartbeat("g", 1, id, stranger), ErrorCode::kUnknownMemberId);
    EXPECT_EQ(c.heartbeat("g", 1, id, std::nullopt), ErrorCode::kNone);
    auto cw = c.commit(with_instance(commit_params("g", 1, id, "t", parts(1), 1), *stranger));
    EXPECT_EQ(cw->errors.at(0), ErrorCode::kUnknownMemberId);
    auto jp = join_params("g", id);
    jp.instance_id = stranger;
    auto rejoin = c.join(jp);
    EXPECT_TRUE(rejoin->done.is_set());
    EXPECT_EQ(rejoin->result.error, ErrorCode::kUnknownMemberId);
  });
}

TEST_F(CoordinatorTest, CommitToAnAbsentGroupAndUnknownTopics) {
  run([&](GroupCoordinator& c, cluster::ClusterState& log) -> awaitable<void> {
    EXPECT_TRUE((co_await log.create_topic("t", 1, no_configs())).ok());
    // A group commit to a group that does not exist: ILLEGAL_GENERATION, or
    // GROUP_ID_NOT_FOUND from OffsetCommit v9.
    EXPECT_EQ(c.commit(commit_params("absent", 3, "m", "t", parts(1), 1))->errors.at(0),
              ErrorCode::kIllegalGeneration);
    auto v9 = commit_params("absent", 3, "m", "t", parts(1), 1);
    v9.group_not_found_error = true;
    EXPECT_EQ(c.commit(v9)->errors.at(0), ErrorCode::kGroupIdNotFound);
    // Unknown topics are answered as such whatever the group says; the group's
    // verdict applies to the other partitions.
    EXPECT_EQ(c.commit(mixed_commit("absent", 3, "m"))->errors,
              errors(ErrorCode::kIllegalGeneration, ErrorCode::kUnknownTopicOrPartition));
    // A commit of unknown topics only creates no group.
    auto none = c.commit(commit_params("fresh", -1, "", "nope", parts(1), 1));
    EXPECT_TRUE(none->done.is_set());
    EXPECT_EQ(none->errors.at(0), ErrorCode::kUnknownTopicOrPartition);
    EXPECT_EQ(c.describe("fresh").state, "Dead");
    EXPECT_TRUE(no_groups(c));
    auto simple = c.commit(mixed_commit("fresh", -1, ""));
    EXPECT_TRUE(co_await wait(simple->done));
    EXPECT_EQ(simple->errors, errors(ErrorCode::kNone, ErrorCode::kUnknownTopicOrPartition));
    EXPECT_EQ(c.describe("fresh").state, "Empty");
  });
}

}  // namespace
}  // namespace ks::coordinator
