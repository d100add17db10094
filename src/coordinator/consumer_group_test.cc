// KIP-848 consumer groups: the reconcile step alone, then heartbeats through
// the coordinator (join, revocation before assignment, epochs, leave, static
// membership, regex, session expiry, errors).
#include "coordinator/consumer_group.h"

#include <gtest/gtest.h>

#include "coordinator/consumer_store.h"
#include "coordinator/coordinator_test_util.h"

namespace ks::coordinator {
namespace {

using namespace coordtest;

cluster::TopicId tid(std::uint8_t n) {
  cluster::TopicId t{};
  t[0] = n;
  return t;
}

TEST(Reconcile, RevokesFirstThenTakesTheTargetEpoch) {
  ConsumerMember m;
  m.id = "a";
  m.epoch = 1;
  m.assigned = {{tid(1), {0, 1, 2, 3}}};
  const Assignment target{{tid(1), {0, 1}}};
  auto always_free = [](const cluster::TopicId&, std::int32_t) { return true; };
  auto n = reconcile(m, 2, target, std::nullopt, always_free);
  EXPECT_EQ(n.state, MemberState::kUnrevokedPartitions);
  EXPECT_EQ(n.epoch, 1);  // unchanged until it revoked
  EXPECT_EQ(n.assigned, target);
  EXPECT_EQ(n.pending_revocation, (Assignment{{tid(1), {2, 3}}}));
  // Not acknowledged: still owns 2 and 3.
  auto n2 = reconcile(n, 2, target, Assignment{{tid(1), {0, 1, 2, 3}}}, always_free);
  EXPECT_EQ(n2.state, MemberState::kUnrevokedPartitions);
  auto n3 = reconcile(n, 2, target, Assignment{{tid(1), {0, 1}}}, always_free);
  EXPECT_EQ(n3.state, MemberState::kStable);
  EXPECT_EQ(n3.epoch, 2);
  EXPECT_EQ(n3.previous_epoch, 1);
  EXPECT_TRUE(n3.pending_revocation.empty());
}

TEST(Reconcile, WaitsForPartitionsOthersStillOwn) {
  ConsumerMember m;
  m.id = "b";
  m.epoch = 1;
  const Assignment target{{tid(1), {2, 3}}};
  auto n =
      reconcile(m, 2, target, std::nullopt, [](const cluster::TopicId&, std::int32_t p) { return p != 3; });
  EXPECT_EQ(n.state, MemberState::kUnreleasedPartitions);
  EXPECT_EQ(n.epoch, 2);
  EXPECT_EQ(n.assigned, (Assignment{{tid(1), {2}}}));
  auto n2 = reconcile(n, 2, target, std::nullopt, [](const cluster::TopicId&, std::int32_t) { return true; });
  EXPECT_EQ(n2.state, MemberState::kStable);
  EXPECT_EQ(n2.assigned, target);
}

ConsumerHeartbeatParams hb(const std::string& member, std::int32_t epoch,
                           std::optional<std::vector<std::string>> topics = std::nullopt) {
  ConsumerHeartbeatParams p;
  p.group_id = "cg";
  p.member_id = member;
  p.member_epoch = epoch;
  p.client_generates_member_id = true;
  if (epoch == 0) {
    p.rebalance_timeout_ms = 1000;
    p.topic_names = topics ? *topics : std::vector<std::string>(1, "t");
  }
  return p;
}

// Heartbeats are answered once their change is durable.
awaitable<ConsumerHeartbeatResult> beat(GroupCoordinator& c, const ConsumerHeartbeatParams& p) {
  auto w = c.consumer_heartbeat(p);
  const bool done = co_await wait(w->done);
  EXPECT_TRUE(done);
  co_return w->result;
}

std::size_t parts(const std::optional<Assignment>& a) { return a ? partition_count(*a) : 0; }
Assignment or_empty(const std::optional<Assignment>& a) { return a ? *a : Assignment(); }

class ConsumerGroupTest : public CoordinatorTest {};

TEST_F(ConsumerGroupTest, TwoMembersSharePartitionsWithRevocationFirst) {
  run([&](GroupCoordinator& c, cluster::ClusterState& log) -> awaitable<void> {
    std::map<std::string, std::string> no_configs;
    auto t = co_await log.create_topic("t", 4, no_configs);
    EXPECT_TRUE(t.ok());
    auto a = co_await beat(c, hb("a", 0));
    EXPECT_EQ(a.error, ErrorCode::kNone);
    EXPECT_EQ(a.member_epoch, 1);
    EXPECT_TRUE(a.assignment.has_value());
    EXPECT_EQ(partition_count(*a.assignment), 4u);
    const Assignment a_all = *a.assignment;

    // b joins: the group epoch moves to 2; b gets nothing a still owns.
    auto b = co_await beat(c, hb("b", 0));
    EXPECT_EQ(b.error, ErrorCode::kNone);
    EXPECT_EQ(b.member_epoch, 2);
    EXPECT_EQ(parts(b.assignment), 0u);

    // a is told to give up two partitions, keeping its epoch.
    auto p = hb("a", 1);
    p.owned = a_all;
    auto a2 = co_await beat(c, p);
    EXPECT_EQ(a2.error, ErrorCode::kNone);
    EXPECT_EQ(a2.member_epoch, 1);
    EXPECT_EQ(parts(a2.assignment), 2u);
    const Assignment a_kept = or_empty(a2.assignment);

    // Until a acknowledges, b still waits.
    auto b2 = co_await beat(c, hb("b", 2));
    EXPECT_EQ(parts(b2.assignment), 0u);
    p.owned = a_kept;
    auto a3 = co_await beat(c, p);
    EXPECT_EQ(a3.member_epoch, 2);
    auto b3 = co_await beat(c, hb("b", 2));
    EXPECT_TRUE(b3.assignment.has_value());
    EXPECT_EQ(parts(b3.assignment), 2u);
    EXPECT_TRUE(intersect(a_kept, or_empty(b3.assignment)).empty());

    auto d = c.consumer_describe("cg");
    EXPECT_EQ(d.error, ErrorCode::kNone);
    EXPECT_EQ(d.state, "Stable");
    EXPECT_EQ(d.group_epoch, 2);
    EXPECT_EQ(d.members.size(), 2u);
    auto l = c.list({});
    EXPECT_EQ(l.size(), 1u);
    if (!l.empty()) {
      EXPECT_EQ(l[0].type, "consumer");
    }

    // a leaves: b gets everything at epoch 3.
    auto leave = co_await beat(c, hb("a", kLeaveEpoch));
    EXPECT_EQ(leave.error, ErrorCode::kNone);
    EXPECT_EQ(leave.member_epoch, kLeaveEpoch);
    auto b4 = co_await beat(c, hb("b", 2));
    EXPECT_EQ(b4.member_epoch, 3);
    EXPECT_EQ(parts(b4.assignment), 4u);
  });
}

TEST_F(ConsumerGroupTest, EpochFencingAndErrors) {
  run([&](GroupCoordinator& c, cluster::ClusterState& log) -> awaitable<void> {
    std::map<std::string, std::string> no_configs;
    auto t = co_await log.create_topic("t", 2, no_configs);
    EXPECT_TRUE(t.ok());
    {
      auto r = co_await beat(c, hb("a", 0));
      EXPECT_EQ(r.member_epoch, 1);
    }
    {
      auto r = co_await beat(c, hb("a", 5));
      EXPECT_EQ(r.error, ErrorCode::kFencedMemberEpoch);
    }
    {
      auto r = co_await beat(c, hb("x", 1));
      EXPECT_EQ(r.error, ErrorCode::kUnknownMemberId);
    }
    auto bad = hb("a", 0);
    bad.server_assignor = "sticky";
    {
      auto r = co_await beat(c, bad);
      EXPECT_EQ(r.error, ErrorCode::kUnsupportedAssignor);
    }
    auto re = hb("r", 0, std::nullopt);
    re.topic_names.reset();
    re.topic_regex = "(a";
    auto rr = co_await beat(c, re);
    EXPECT_EQ(rr.error, ErrorCode::kInvalidRegularExpression);
    EXPECT_TRUE(rr.error_message.has_value());
    auto missing = hb("m", 0);
    missing.rebalance_timeout_ms = -1;
    {
      auto r = co_await beat(c, missing);
      EXPECT_EQ(r.error, ErrorCode::kInvalidRequest);
    }
    auto noid = hb("", 0);
    auto noid_r = co_await beat(c, noid);
    EXPECT_EQ(noid_r.error, ErrorCode::kInvalidRequest);  // v1: the client's id is required
    noid.client_generates_member_id = false;              // v0: the coordinator makes one
    auto v0 = co_await beat(c, noid);
    EXPECT_EQ(v0.error, ErrorCode::kNone);
    EXPECT_FALSE(v0.member_id.empty());
    auto other = hb("a", 1);
    other.group_id = "absent";
    {
      auto r = co_await beat(c, other);
      EXPECT_EQ(r.error, ErrorCode::kGroupIdNotFound);
    }
    // A classic group with members is not a consumer group.
    std::string id;
    auto j = join_new(c, join_params("classic", "", {"range"}, 10000), id);
    EXPECT_TRUE(co_await wait(j->done));
    auto cl = hb("a", 0);
    cl.group_id = "classic";
    {
      auto r = co_await beat(c, cl);
      EXPECT_EQ(r.error, ErrorCode::kGroupIdNotFound);
    }
    // And a classic JoinGroup to a consumer group with members is refused.
    auto j2 = c.join(join_params("cg", "", {"range"}, 10000));
    EXPECT_EQ(j2->result.error, ErrorCode::kInconsistentGroupProtocol);
    EXPECT_EQ(c.consumer_describe("classic").error, ErrorCode::kGroupIdNotFound);
  });
}

TEST_F(ConsumerGroupTest, StaticMemberTakesOverAfterTemporaryLeave) {
  run([&](GroupCoordinator& c, cluster::ClusterState& log) -> awaitable<void> {
    std::map<std::string, std::string> no_configs;
    auto t = co_await log.create_topic("t", 2, no_configs);
    EXPECT_TRUE(t.ok());
    auto p = hb("a", 0);
    p.instance_id = "i1";
    auto a = co_await beat(c, p);
    EXPECT_EQ(a.member_epoch, 1);
    // Another process with the same instance id while a is still there.
    auto q = hb("b", 0);
    q.instance_id = "i1";
    {
      auto r = co_await beat(c, q);
      EXPECT_EQ(r.error, ErrorCode::kUnreleasedInstanceId);
    }
    auto l = hb("a", kStaticLeaveEpoch);
    l.instance_id = "i1";
    {
      auto r = co_await beat(c, l);
      EXPECT_EQ(r.member_epoch, kStaticLeaveEpoch);
    }
    auto b = co_await beat(c, q);
    EXPECT_EQ(b.error, ErrorCode::kNone);
    EXPECT_EQ(b.member_epoch, 1);  // no rebalance: same epoch, same partitions
    EXPECT_EQ(b.assignment, a.assignment);
    {
      auto r = co_await beat(c, hb("a", 1));
      EXPECT_EQ(r.error, ErrorCode::kUnknownMemberId);
    }
  });
}

TEST_F(ConsumerGroupTest, RegexPicksUpNewTopicsAndSessionExpiryMovesPartitions) {
  opt_.consumer_session_timeout = 300ms;
  run([&](GroupCoordinator& c, cluster::ClusterState& log) -> awaitable<void> {
    std::map<std::string, std::string> no_configs;
    auto t1 = co_await log.create_topic("orders-1", 2, no_configs);
    EXPECT_TRUE(t1.ok());
    auto p = hb("a", 0, std::nullopt);
    p.topic_names.reset();
    p.topic_regex = "orders-.*";
    auto a = co_await beat(c, p);
    EXPECT_EQ(a.error, ErrorCode::kNone);
    EXPECT_EQ(parts(a.assignment), 2u);
    auto t2 = co_await log.create_topic("orders-2", 3, no_configs);
    EXPECT_TRUE(t2.ok());
    auto a2 = co_await beat(c, hb("a", 1));
    EXPECT_EQ(a2.member_epoch, 2);
    EXPECT_EQ(parts(a2.assignment), 5u);

    // b joins; a stops heartbeating: after the session timeout b owns all.
    auto q = hb("b", 0, std::nullopt);
    q.topic_names.reset();
    q.topic_regex = "orders-.*";
    auto b = co_await beat(c, q);
    EXPECT_EQ(b.error, ErrorCode::kNone);
    std::size_t owned = 0;
    std::int32_t epoch = b.member_epoch;
    const auto deadline = Clock::now() + kWait;
    while (owned < 5 && Clock::now() < deadline) {
      co_await sleep_for(50ms);
      auto r = co_await beat(c, hb("b", epoch));
      EXPECT_EQ(r.error, ErrorCode::kNone);
      epoch = r.member_epoch;
      if (r.assignment) owned = partition_count(*r.assignment);
    }
    EXPECT_EQ(owned, 5u);
    {
      auto r = co_await beat(c, hb("a", 2));
      EXPECT_EQ(r.error, ErrorCode::kUnknownMemberId);
    }
  });
}

// With the authorizer on, a regex subscription gets only the topics the
// member may describe; an ACL change applies at the next heartbeat.
TEST_F(ConsumerGroupTest, RegexMatchesOnlyTopicsTheMemberMayDescribe) {
  run([&](GroupCoordinator& c, cluster::ClusterState& log) -> awaitable<void> {
    std::map<std::string, std::string> no_configs;
    auto open = co_await log.create_topic("orders-open", 2, no_configs);
    EXPECT_TRUE(open.ok());
    auto secret = co_await log.create_topic("orders-secret", 3, no_configs);
    EXPECT_TRUE(secret.ok());
    auto allowed = std::make_shared<std::set<std::string>>();
    allowed->insert("orders-open");
    auto p = hb("a", 0, std::nullopt);
    p.topic_names.reset();
    p.topic_regex = "orders-.*";
    p.may_describe = [allowed](const std::string& t) { return allowed->contains(t); };
    auto a = co_await beat(c, p);
    EXPECT_EQ(a.error, ErrorCode::kNone);
    EXPECT_EQ(parts(a.assignment), 2u);  // orders-open only

    allowed->insert("orders-secret");  // DESCRIBE granted
    auto next = hb("a", a.member_epoch);
    next.may_describe = p.may_describe;
    auto a2 = co_await beat(c, next);
    EXPECT_EQ(a2.error, ErrorCode::kNone);
    EXPECT_EQ(parts(a2.assignment), 5u);
  });
}

TEST_F(ConsumerGroupTest, StateSurvivesRestart) {
  std::int32_t epoch_a = 0, epoch_b = 0;
  Assignment owned_a, owned_b;
  run([&](GroupCoordinator& c, cluster::ClusterState& log) -> awaitable<void> {
    std::map<std::string, std::string> no_configs;
    auto t = co_await log.create_topic("t", 4, no_configs);
    EXPECT_TRUE(t.ok());
    auto a = co_await beat(c, hb("a", 0));
    auto b = co_await beat(c, hb("b", 0));
    // Let both reach the target (a revokes, b takes).
    for (int i = 0; i < 4; ++i) {
      auto pa = hb("a", a.member_epoch);
      pa.owned = owned_a;
      auto ra = c.consumer_heartbeat(pa);
      EXPECT_TRUE(co_await wait(ra->done));
      a.member_epoch = ra->result.member_epoch;
      if (ra->result.assignment) owned_a = *ra->result.assignment;
      auto pb = hb("b", b.member_epoch);
      pb.owned = owned_b;
      auto rb = c.consumer_heartbeat(pb);
      EXPECT_TRUE(co_await wait(rb->done));
      b.member_epoch = rb->result.member_epoch;
      if (rb->result.assignment) owned_b = *rb->result.assignment;
    }
    epoch_a = a.member_epoch;
    epoch_b = b.member_epoch;
    EXPECT_EQ(partition_count(owned_a) + partition_count(owned_b), 4u);
    EXPECT_EQ(c.consumer_describe("cg").state, "Stable");
  });
  run([&](GroupCoordinator& c, cluster::ClusterState&) -> awaitable<void> {
    auto d = c.consumer_describe("cg");
    EXPECT_EQ(d.error, ErrorCode::kNone);
    EXPECT_EQ(d.state, "Stable");
    EXPECT_EQ(d.members.size(), 2u);
    auto pa = hb("a", epoch_a);
    pa.owned = owned_a;
    auto ra = c.consumer_heartbeat(pa);
    EXPECT_TRUE(co_await wait(ra->done));
    EXPECT_EQ(ra->result.error, ErrorCode::kNone);
    EXPECT_EQ(ra->result.member_epoch, epoch_a);  // no rebalance after the restart
    EXPECT_FALSE(ra->result.assignment.has_value());
    auto pb = hb("b", epoch_b);
    auto rb = c.consumer_heartbeat(pb);
    EXPECT_TRUE(co_await wait(rb->done));
    EXPECT_EQ(rb->result.member_epoch, epoch_b);
  });
}

TEST(ConsumerStore, RoundTrip) {
  ConsumerGroupState cg;
  cg.group_epoch = 7;
  cg.assignment_epoch = 7;
  ConsumerMember m;
  m.id = "m1";
  m.instance_id = "i";
  m.regex = "a.*";
  m.topic_names = {"x", "y"};
  m.epoch = 7;
  m.previous_epoch = 6;
  m.state = MemberState::kUnrevokedPartitions;
  m.assigned = {{tid(1), {0, 2}}};
  m.pending_revocation = {{tid(1), {1}}};
  cg.members["m1"] = m;
  cg.target["m1"] = {{tid(1), {0, 2}}};
  cg.subscribed_topics["x"] = {tid(1), 3};
  auto back = decode_consumer_state(encode_consumer_state(cg));
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  EXPECT_EQ(back->group_epoch, 7);
  ASSERT_EQ(back->members.size(), 1u);
  const auto& b = back->members.at("m1");
  EXPECT_EQ(b.instance_id, m.instance_id);
  EXPECT_EQ(b.regex, m.regex);
  EXPECT_EQ(b.topic_names, m.topic_names);
  EXPECT_EQ(b.state, m.state);
  EXPECT_EQ(b.assigned, m.assigned);
  EXPECT_EQ(b.pending_revocation, m.pending_revocation);
  EXPECT_EQ(back->target, cg.target);
  EXPECT_EQ(back->subscribed_topics, cg.subscribed_topics);
  EXPECT_EQ(back->owners.size(), 3u);
  EXPECT_EQ(back->instances.at("i"), "m1");
  EXPECT_FALSE(decode_consumer_state("[1]").ok());
  EXPECT_FALSE(
      decode_consumer_state(R"({"members":[{"id":"a","state":9,"assigned":{},"pending":{}}]})").ok());
}

}  // namespace
}  // namespace ks::coordinator
