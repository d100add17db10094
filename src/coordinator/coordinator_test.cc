// The group protocol and committed offsets on one broker serving every slot.
#include <gtest/gtest.h>

#include "coordinator/coordinator_test_util.h"

namespace ks::coordinator {
namespace {

using namespace coordtest;
using namespace std::chrono_literals;

TEST_F(CoordinatorTest, JoinSyncHeartbeatAndFencingErrors) {
  run([&](GroupCoordinator& c, cluster::ClusterState& log) -> awaitable<void> {
    auto t = co_await log.create_topic("t", 4, {});
    EXPECT_TRUE(t.ok());
    std::string id1, id2;
    auto j1 = join_new(c, join_params("g", ""), id1);
    EXPECT_TRUE(co_await wait(j1->done));
    EXPECT_EQ(j1->result.error, ErrorCode::kNone);
    EXPECT_EQ(j1->result.generation, 1);
    EXPECT_EQ(j1->result.leader, id1);
    EXPECT_EQ(j1->result.members.size(), 1u);

    // A second member: the group rebalances, the first must rejoin.
    auto j2 = join_new(c, join_params("g", ""), id2);
    EXPECT_FALSE(j2->done.is_set());
    EXPECT_EQ(c.heartbeat("g", 1, id1, std::nullopt), ErrorCode::kRebalanceInProgress);
    auto j1b = c.join(join_params("g", id1));
    EXPECT_TRUE(co_await wait(j1b->done));
    EXPECT_TRUE(co_await wait(j2->done));
    EXPECT_EQ(j1b->result.generation, 2);
    EXPECT_EQ(j2->result.generation, 2);
    EXPECT_EQ(j1b->result.protocol_name, std::optional<std::string>("range"));
    EXPECT_EQ(j1b->result.leader, id1);
    EXPECT_EQ(j1b->result.members.size(), 2u);  // the leader sees everyone
    EXPECT_TRUE(j2->result.members.empty());

    // The follower's sync waits for the leader's assignment.
    SyncParams s2{"g", 2, id2, std::nullopt, std::string("consumer"), std::string("range"), {}};
    auto w2 = c.sync(s2);
    EXPECT_FALSE(w2->done.is_set());
    SyncParams s1{"g", 2, id1, std::nullopt, std::nullopt, std::nullopt, {{id1, "A1"}, {id2, "A2"}}};
    auto w1 = c.sync(s1);
    EXPECT_TRUE(co_await wait(w1->done));
    EXPECT_TRUE(co_await wait(w2->done));
    EXPECT_EQ(w1->result.error, ErrorCode::kNone);
    EXPECT_EQ(w1->result.assignment, "A1");
    EXPECT_EQ(w2->result.assignment, "A2");
    EXPECT_EQ(c.describe("g").state, "Stable");

    EXPECT_EQ(c.heartbeat("g", 2, id2, std::nullopt), ErrorCode::kNone);
    EXPECT_EQ(c.heartbeat("g", 1, id2, std::nullopt), ErrorCode::kIllegalGeneration);
    EXPECT_EQ(c.heartbeat("g", 2, "nobody", std::nullopt), ErrorCode::kUnknownMemberId);
    EXPECT_EQ(c.heartbeat("nogroup", 2, id2, std::nullopt), ErrorCode::kUnknownMemberId);
    SyncParams bad{"g", 2, id2, std::nullopt, std::string("consumer"), std::string("roundrobin"), {}};
    EXPECT_EQ(c.sync(bad)->result.error, ErrorCode::kInconsistentGroupProtocol);

    auto ok = c.commit(commit_params("g", 2, id2, "t", {2, 3}, 10));
    EXPECT_TRUE(co_await wait(ok->done));
    EXPECT_EQ(ok->errors, (std::vector<ErrorCode>{ErrorCode::kNone, ErrorCode::kNone}));
    auto stale = c.commit(commit_params("g", 1, id2, "t", {2}, 11));
    EXPECT_EQ(stale->errors.at(0), ErrorCode::kIllegalGeneration);
    auto unknown = c.commit(commit_params("g", 2, "nobody", "t", {2}, 11));
    EXPECT_EQ(unknown->errors.at(0), ErrorCode::kUnknownMemberId);
    auto no_group = c.commit(commit_params("other", 2, id2, "t", {2}, 11));
    EXPECT_EQ(no_group->errors.at(0), ErrorCode::kIllegalGeneration);
    auto f = c.fetch("g", TopicPartitions{{"t", {2, 3, 0}}});
    EXPECT_EQ(f.topics.at(0).partitions.at(0).offset, 10);
    EXPECT_EQ(f.topics.at(0).partitions.at(0).leader_epoch, 1);
    EXPECT_EQ(f.topics.at(0).partitions.at(0).metadata, "m");
    EXPECT_EQ(f.topics.at(0).partitions.at(2).offset, -1);

    // A clean leave: the remaining member is told to rejoin and ends alone.
    auto l = c.leave("g", {LeaveMember{id2, std::nullopt}, LeaveMember{"nobody", std::nullopt}});
    EXPECT_EQ(l.members, (std::vector<ErrorCode>{ErrorCode::kNone, ErrorCode::kUnknownMemberId}));
    EXPECT_EQ(c.heartbeat("g", 2, id1, std::nullopt), ErrorCode::kRebalanceInProgress);
    auto j1c = c.join(join_params("g", id1));
    EXPECT_TRUE(co_await wait(j1c->done));
    EXPECT_EQ(j1c->result.generation, 3);
    EXPECT_EQ(j1c->result.members.size(), 1u);
  });
}

TEST_F(CoordinatorTest, SessionTimeoutRemovesSilentMember) {
  run([&](GroupCoordinator& c, cluster::ClusterState&) -> awaitable<void> {
    std::string id1, id2;
    auto j1 = join_new(c, join_params("g", "", {"range"}, 200), id1);
    EXPECT_TRUE(co_await wait(j1->done));
    auto j2 = join_new(c, join_params("g", "", {"range"}, 200), id2);
    auto j1b = c.join(join_params("g", id1, {"range"}, 200));
    EXPECT_TRUE(co_await wait(j2->done));
    EXPECT_TRUE(co_await wait(j1b->done));
    auto w1 =
        c.sync(SyncParams{"g", 2, id1, std::nullopt, std::nullopt, std::nullopt, {{id1, "a"}, {id2, "b"}}});
    EXPECT_TRUE(co_await wait(w1->done));
    // Only member 1 keeps heartbeating; member 2's session expires.
    ErrorCode e = ErrorCode::kNone;
    const auto deadline = Clock::now() + kWait;
    while (e == ErrorCode::kNone && Clock::now() < deadline) {
      co_await sleep_for(20ms);
      e = c.heartbeat("g", 2, id1, std::nullopt);
    }
    EXPECT_EQ(e, ErrorCode::kRebalanceInProgress);
    EXPECT_EQ(c.heartbeat("g", 2, id2, std::nullopt), ErrorCode::kUnknownMemberId);
    auto j = c.join(join_params("g", id1, {"range"}, 200));
    EXPECT_TRUE(co_await wait(j->done));
    EXPECT_EQ(j->result.generation, 3);
    EXPECT_EQ(j->result.members.size(), 1u);
  });
}

TEST_F(CoordinatorTest, ProtocolChosenByVoteAndInconsistentRejected) {
  opt_.initial_rebalance_delay = 100ms;
  run([&](GroupCoordinator& c, cluster::ClusterState&) -> awaitable<void> {
    auto p1 = join_params("g", "", {"range", "roundrobin"});
    auto p2 = join_params("g", "", {"roundrobin", "range"});
    auto p3 = join_params("g", "", {"roundrobin"});
    p1.require_known_member_id = p2.require_known_member_id = p3.require_known_member_id = false;
    auto a = c.join(p1);
    auto b = c.join(p2);
    auto d = c.join(p3);
    // Within the initial delay nobody is answered yet.
    EXPECT_FALSE(a->done.is_set());
    auto bad = join_params("g", "", {"sticky"});
    bad.require_known_member_id = false;
    EXPECT_EQ(c.join(bad)->result.error, ErrorCode::kInconsistentGroupProtocol);
    auto other_type = join_params("g", "", {"roundrobin"});
    other_type.protocol_type = "connect";
    EXPECT_EQ(c.join(other_type)->result.error, ErrorCode::kInconsistentGroupProtocol);
    EXPECT_TRUE(co_await wait(a->done));
    EXPECT_TRUE(co_await wait(b->done));
    EXPECT_TRUE(co_await wait(d->done));
    EXPECT_EQ(a->result.generation, 1);  // one rebalance for all three (initial delay)
    EXPECT_EQ(a->result.protocol_name, std::optional<std::string>("roundrobin"));
    EXPECT_EQ(d->result.protocol_name, std::optional<std::string>("roundrobin"));
    std::size_t leaders =
        (a->result.members.size() == 3) + (b->result.members.size() == 3) + (d->result.members.size() == 3);
    EXPECT_EQ(leaders, 1u);
    auto bad_timeout = join_params("g2", "", {"range"}, 1);
    EXPECT_EQ(c.join(bad_timeout)->result.error, ErrorCode::kInvalidSessionTimeout);
  });
}

TEST_F(CoordinatorTest, StaticMemberRejoinsWithoutRebalanceAndOldIdIsFenced) {
  run([&](GroupCoordinator& c, cluster::ClusterState&) -> awaitable<void> {
    auto p = join_params("g", "");
    p.instance_id = "worker-1";
    auto j = c.join(p);  // static members get their id at once
    EXPECT_TRUE(co_await wait(j->done));
    EXPECT_EQ(j->result.error, ErrorCode::kNone);
    const std::string old_id = j->result.member_id;
    auto s = c.sync(
        SyncParams{"g", 1, old_id, std::string("worker-1"), std::nullopt, std::nullopt, {{old_id, "A"}}});
    EXPECT_TRUE(co_await wait(s->done));
    // Restarted process: same instance id, no member id, same subscription.
    auto again = c.join(p);
    EXPECT_TRUE(again->done.is_set());
    EXPECT_EQ(again->result.error, ErrorCode::kNone);
    EXPECT_EQ(again->result.generation, 1);
    const std::string new_id = again->result.member_id;
    EXPECT_NE(new_id, old_id);
    EXPECT_EQ(c.describe("g").state, "Stable");
    auto s2 = c.sync(SyncParams{"g", 1, new_id, std::string("worker-1"), std::nullopt, std::nullopt, {}});
    EXPECT_TRUE(co_await wait(s2->done));
    EXPECT_EQ(s2->result.assignment, "A");
    EXPECT_EQ(c.heartbeat("g", 1, old_id, std::string("worker-1")), ErrorCode::kFencedInstanceId);
    EXPECT_EQ(c.heartbeat("g", 1, new_id, std::string("worker-1")), ErrorCode::kNone);
    auto l = c.leave("g", {LeaveMember{old_id, std::string("worker-1")}});
    EXPECT_EQ(l.members.at(0), ErrorCode::kFencedInstanceId);
  });
}

TEST_F(CoordinatorTest, OffsetsAndGroupSurviveRestart) {
  std::string member;
  run([&](GroupCoordinator& c, cluster::ClusterState& log) -> awaitable<void> {
    EXPECT_TRUE((co_await log.create_topic("big", 300, {})).ok());
    CommitParams p;
    p.group_id = "simple";
    for (int i = 0; i < 300; ++i)
      p.partitions.push_back(CommitPartition{"big", i, 1000 + i, 2, "meta-" + std::to_string(i)});
    p.partitions.push_back(CommitPartition{"big", 300, 1, -1, std::nullopt});          // no such partition
    p.partitions.push_back(CommitPartition{"nope", 0, 1, -1, std::nullopt});           // no such topic
    p.partitions.push_back(CommitPartition{"big", 0, 1, -1, std::string(4097, 'x')});  // metadata too large
    const auto before = c.stats();
    auto w = c.commit(p);
    EXPECT_TRUE(co_await wait(w->done));
    for (int i = 0; i < 300; ++i) EXPECT_EQ(w->errors[i], ErrorCode::kNone) << i;
    EXPECT_EQ(w->errors[300], ErrorCode::kUnknownTopicOrPartition);
    EXPECT_EQ(w->errors[301], ErrorCode::kUnknownTopicOrPartition);
    EXPECT_EQ(w->errors[302], ErrorCode::kOffsetMetadataTooLarge);
    // 300 partitions: three keys of 128 partitions, one transaction.
    EXPECT_EQ(c.stats().keys_written - before.keys_written, 3u);
    EXPECT_EQ(c.stats().txns - before.txns, 1u);
    // A group left stable with one member.
    std::string id;
    auto j = join_new(c, join_params("g", ""), id);
    EXPECT_TRUE(co_await wait(j->done));
    auto s = c.sync(SyncParams{"g", 1, id, std::nullopt, std::nullopt, std::nullopt, {{id, "assignment"}}});
    EXPECT_TRUE(co_await wait(s->done));
    member = id;
  });
  open_stores();
  run([&](GroupCoordinator& c, cluster::ClusterState&) -> awaitable<void> {
    auto f = c.fetch("simple", std::nullopt);
    EXPECT_EQ(f.topics.size(), 1u);
    EXPECT_EQ(f.topics.at(0).partitions.size(), 300u);
    auto one = c.fetch("simple", TopicPartitions{{"big", {299}}});
    EXPECT_EQ(one.topics.at(0).partitions.at(0).offset, 1299);
    EXPECT_EQ(one.topics.at(0).partitions.at(0).leader_epoch, 2);
    EXPECT_EQ(one.topics.at(0).partitions.at(0).metadata, "meta-299");
    // The member carries on in its generation: no rebalance after the restart.
    EXPECT_EQ(c.heartbeat("g", 1, member, std::nullopt), ErrorCode::kNone);
    auto s = c.sync(SyncParams{"g", 1, member, std::nullopt, std::nullopt, std::nullopt, {}});
    EXPECT_TRUE(co_await wait(s->done));
    EXPECT_EQ(s->result.assignment, "assignment");
    auto groups = c.list({});
    EXPECT_EQ(groups.size(), 2u);
    EXPECT_EQ(c.list({"stable"}).size(), 1u);
    co_return;
  });
}

TEST_F(CoordinatorTest, CommitsOfManyConsumersShareTransactions) {
  run([&](GroupCoordinator& c, cluster::ClusterState& log) -> awaitable<void> {
    EXPECT_TRUE((co_await log.create_topic("t", 8, {})).ok());
    const auto before = c.stats();
    std::vector<std::shared_ptr<CommitWait>> waits;
    for (int g = 0; g < 200; ++g) {
      waits.push_back(
          c.commit(commit_params("group-" + std::to_string(g), -1, "", "t", {0, 1, 2, 3, 4, 5, 6, 7}, g)));
    }
    for (auto& w : waits) {
      EXPECT_TRUE(co_await wait(w->done));
      EXPECT_EQ(w->errors.at(0), ErrorCode::kNone);
    }
    // 200 keys: two transactions of at most 128 keys each.
    EXPECT_EQ(c.stats().keys_written - before.keys_written, 200u);
    EXPECT_EQ(c.stats().txns - before.txns, 2u);
  });
}

TEST_F(CoordinatorTest, LargestCommitIsSplitIntoTransactionsThatFit) {
  run([&](GroupCoordinator& c, cluster::ClusterState& log) -> awaitable<void> {
    EXPECT_TRUE((co_await log.create_topic("t", 2000, {})).ok());
    CommitParams p;
    p.group_id = "g";
    for (int i = 0; i < 2000; ++i)
      p.partitions.push_back(CommitPartition{"t", i, i, -1, std::string(4096, 'm')});
    const auto before = c.stats();
    auto w = c.commit(p);
    EXPECT_TRUE(co_await wait(w->done));
    EXPECT_EQ(w->errors.at(0), ErrorCode::kNone);
    EXPECT_EQ(w->errors.at(1999), ErrorCode::kNone);
    EXPECT_EQ(c.stats().keys_written - before.keys_written, 16u);
    EXPECT_GT(c.stats().txns - before.txns, 1u);
    auto f = c.fetch("g", TopicPartitions{{"t", {1999}}});
    EXPECT_EQ(f.topics.at(0).partitions.at(0).offset, 1999);
  });
}

TEST_F(CoordinatorTest, DeleteGroupsOffsetDeleteAndRetention) {
  opt_.offsets_retention = std::chrono::minutes(0);
  run([&](GroupCoordinator& c, cluster::ClusterState& log) -> awaitable<void> {
    EXPECT_TRUE((co_await log.create_topic("t", 2, {})).ok());
    EXPECT_TRUE((co_await log.create_topic("u", 1, {})).ok());
    std::string id;
    auto j = join_new(c, join_params("g", ""), id);  // subscribes to "t"
    EXPECT_TRUE(co_await wait(j->done));
    auto s = c.sync(SyncParams{"g", 1, id, std::nullopt, std::nullopt, std::nullopt, {}});
    EXPECT_TRUE(co_await wait(s->done));
    auto w = c.commit(commit_params("g", 1, id, "t", {0, 1}, 5));
    EXPECT_TRUE(co_await wait(w->done));
    auto w2 = c.commit(commit_params("g", 1, id, "u", {0}, 5));
    EXPECT_TRUE(co_await wait(w2->done));

    auto del = c.delete_groups({"g", "missing", ""});
    EXPECT_TRUE(co_await wait(del->done));
    EXPECT_EQ(del->errors, (std::vector<ErrorCode>{ErrorCode::kNonEmptyGroup, ErrorCode::kGroupIdNotFound,
                                                   ErrorCode::kInvalidGroupId}));
    auto od = c.delete_offsets("g", TopicPartitions{{"t", {0}}, {"u", {0}}, {"zz", {0}}});
    EXPECT_TRUE(co_await wait(od->done));
    EXPECT_EQ(od->error, ErrorCode::kNone);
    EXPECT_EQ(od->topics.at(0).second.at(0).second, ErrorCode::kGroupSubscribedToTopic);
    EXPECT_EQ(od->topics.at(1).second.at(0).second, ErrorCode::kNone);
    EXPECT_EQ(od->topics.at(2).second.at(0).second, ErrorCode::kUnknownTopicOrPartition);
    EXPECT_EQ(c.fetch("g", TopicPartitions{{"u", {0}}}).topics.at(0).partitions.at(0).offset, -1);
    EXPECT_EQ(c.fetch("g", TopicPartitions{{"t", {0}}}).topics.at(0).partitions.at(0).offset, 5);

    EXPECT_EQ(c.leave("g", {LeaveMember{id, std::nullopt}}).members.at(0), ErrorCode::kNone);
    EXPECT_EQ(c.describe("g").state, "Empty");
    // A simple group whose offsets expire (retention 0) disappears entirely.
    auto simple = c.commit(commit_params("simple", -1, "", "t", {0}, 3));
    EXPECT_TRUE(co_await wait(simple->done));
    c.expire_offsets();
    const auto deadline = Clock::now() + kWait;
    while (!c.list({}).empty() && Clock::now() < deadline) co_await sleep_for(5ms);
    EXPECT_TRUE(c.list({}).empty());
    EXPECT_EQ(c.describe("simple").state, "Dead");
    EXPECT_EQ(c.fetch("g", TopicPartitions{{"t", {0}}}).topics.at(0).partitions.at(0).offset, -1);

    auto again = c.commit(commit_params("g2", -1, "", "t", {0}, 3));
    EXPECT_TRUE(co_await wait(again->done));
    auto del2 = c.delete_groups({"g2"});
    EXPECT_TRUE(co_await wait(del2->done));
    EXPECT_EQ(del2->errors.at(0), ErrorCode::kNone);
    EXPECT_EQ(c.describe("g2").state, "Dead");
  });
  open_stores();
  run([&](GroupCoordinator& c, cluster::ClusterState&) -> awaitable<void> {
    EXPECT_TRUE(c.list({}).empty());
    co_return;
  });
}

TEST_F(CoordinatorTest, LostOwnershipFencesWrites) {
  run([&](GroupCoordinator& c, cluster::ClusterState& log) -> awaitable<void> {
    EXPECT_TRUE((co_await log.create_topic("t", 1, {})).ok());
    auto w = c.commit(commit_params("g", -1, "", "t", {0}, 1));
    EXPECT_TRUE(co_await wait(w->done));
    EXPECT_EQ(w->errors.at(0), ErrorCode::kNone);
    // Another process takes this node id over.
    auto m = meta_;
    EXPECT_TRUE(m->put(cluster::keys::owner(0), "someone else").ok());
    auto w2 = c.commit(commit_params("g", -1, "", "t", {0}, 2));
    EXPECT_TRUE(co_await wait(w2->done));
    EXPECT_EQ(w2->errors.at(0), ErrorCode::kNotCoordinator);
    // Every slot was fenced on that key: none is served any more. The broker
    // itself is not marked fenced by the coordinator.
    EXPECT_TRUE(c.slot_lost(c.slot_of("g")));
    for (std::int32_t slot = 0; slot < c.slot_count(); ++slot) EXPECT_FALSE(c.owns_slot(slot)) << slot;
    EXPECT_FALSE(log.fenced());
    EXPECT_EQ(c.heartbeat("g", 0, "x", std::nullopt), ErrorCode::kNotCoordinator);
    EXPECT_EQ(c.fetch("g", std::nullopt).error, ErrorCode::kNotCoordinator);
    EXPECT_TRUE(c.list({}).empty());
  });
}

TEST_F(CoordinatorTest, ASuspendedCoordinatorServesNoGroupUntilResumed) {
  run([&](GroupCoordinator& c, cluster::ClusterState& log) -> awaitable<void> {
    EXPECT_TRUE((co_await log.create_topic("t", 1, {})).ok());
    auto w = c.commit(commit_params("g", -1, "", "t", {0}, 1));
    EXPECT_TRUE(co_await wait(w->done));
    c.set_suspended(true);  // the membership lease deadline passed
    EXPECT_FALSE(c.owns_group("g"));
    EXPECT_EQ(c.fetch("g", std::nullopt).error, ErrorCode::kNotCoordinator);
    auto w2 = c.commit(commit_params("g", -1, "", "t", {0}, 2));
    EXPECT_TRUE(co_await wait(w2->done));
    EXPECT_EQ(w2->errors.at(0), ErrorCode::kNotCoordinator);
    c.set_suspended(false);
    EXPECT_TRUE(c.owns_group("g"));
    auto f = c.fetch("g", std::nullopt);
    EXPECT_EQ(f.error, ErrorCode::kNone);
  });
}

TEST_F(CoordinatorTest, StopAnswersWaitingJoins) {
  std::shared_ptr<JoinWait> parked;
  run([&](GroupCoordinator& c, cluster::ClusterState&) -> awaitable<void> {
    std::string id1, id2;
    auto j1 = join_new(c, join_params("g", ""), id1);
    EXPECT_TRUE(co_await wait(j1->done));
    parked = join_new(c, join_params("g", ""), id2);  // waits for member 1 to rejoin
    EXPECT_FALSE(parked->done.is_set());
  });
  ASSERT_TRUE(parked->done.is_set());
  EXPECT_EQ(parked->result.error, ErrorCode::kNotCoordinator);
}

// A write of GROUP configs is answered once this broker's mirror shows it,
// removals included (the delete's store revision is what the mirror waits for).
TEST_F(CoordinatorTest, GroupConfigWritesAndRemovalsAreVisibleWhenAnswered) {
  run([&](GroupCoordinator& c, cluster::ClusterState&) -> awaitable<void> {
    const GroupConfigMap none;
    for (int round = 0; round < 20; ++round) {
      GroupConfigMap set;
      set["consumer.heartbeat.interval.ms"] = std::to_string(6000 + round);
      Status s = co_await c.set_group_configs("g", set);
      EXPECT_TRUE(s.ok()) << s.to_string();
      const GroupConfigMap* now = c.group_configs("g");
      EXPECT_TRUE(now != nullptr && *now == set) << "round " << round;
      s = co_await c.set_group_configs("g", none);
      EXPECT_TRUE(s.ok()) << s.to_string();
      EXPECT_EQ(c.group_configs("g"), nullptr) << "round " << round;
    }
  });
}

}  // namespace
}  // namespace ks::coordinator
