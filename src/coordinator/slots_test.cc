// Slots across brokers: two coordinators over one metadata store, each
// serving some slots; moves by release/acquire and by fencing; transactions
// mixing slots.
#include <gtest/gtest.h>

#include <set>

#include "coordinator/coordinator_test_util.h"

namespace ks::coordinator {
namespace {

using namespace coordtest;
using namespace std::chrono_literals;

TEST_F(CoordinatorTest, GroupOfAnotherBrokersSlotAnswersNotCoordinator) {
  run_two([&](GroupCoordinator& a, GroupCoordinator& b, cluster::ClusterState&,
              cluster::ClusterState&) -> awaitable<void> {
    const std::int32_t slots = a.slot_count();
    const std::int32_t half = slots / 2;
    co_await acquire(a, 0, half, "0");
    co_await acquire(b, half, slots, "1");
    const std::string ga = group_in(a, 0, half, "ga-");
    const std::string gb = group_in(a, half, slots, "gb-");
    EXPECT_TRUE(a.owns_group(ga));
    EXPECT_FALSE(a.owns_group(gb));
    EXPECT_TRUE(b.owns_group(gb));
    EXPECT_FALSE(b.owns_group(ga));

    std::string id;
    auto j = join_new(a, join_params(ga, ""), id);
    EXPECT_TRUE(co_await wait(j->done));
    EXPECT_EQ(j->result.error, ErrorCode::kNone);
    auto s = a.sync(leader_sync(ga, 1, id, "A"));
    EXPECT_TRUE(co_await wait(s->done));
    EXPECT_EQ(s->result.error, ErrorCode::kNone);

    // Every group call at B for A's group.
    auto jb = b.join(join_params(ga, ""));
    EXPECT_TRUE(jb->done.is_set());
    EXPECT_EQ(jb->result.error, ErrorCode::kNotCoordinator);
    auto sb = b.sync(leader_sync(ga, 1, id, "A"));
    EXPECT_TRUE(sb->done.is_set());
    EXPECT_EQ(sb->result.error, ErrorCode::kNotCoordinator);
    EXPECT_EQ(b.heartbeat(ga, 1, id, std::nullopt), ErrorCode::kNotCoordinator);
    std::vector<LeaveMember> leaving(1);
    leaving[0].member_id = id;
    EXPECT_EQ(b.leave(ga, leaving).error, ErrorCode::kNotCoordinator);
    auto cb = b.commit(commit_params(ga, -1, "", "t", {0}, 1));
    EXPECT_TRUE(co_await wait(cb->done));
    EXPECT_EQ(cb->errors.at(0), ErrorCode::kNotCoordinator);
    EXPECT_EQ(b.fetch(ga, std::nullopt).error, ErrorCode::kNotCoordinator);
    EXPECT_EQ(b.describe(ga).error, ErrorCode::kNotCoordinator);
    std::vector<std::string> names(1, ga);
    auto dg = b.delete_groups(names);
    EXPECT_TRUE(co_await wait(dg->done));
    EXPECT_EQ(dg->errors.at(0), ErrorCode::kNotCoordinator);
    TopicPartitions tp;
    tp.emplace_back("t", std::vector<std::int32_t>(1, 0));
    auto od = b.delete_offsets(ga, tp);
    EXPECT_TRUE(co_await wait(od->done));
    EXPECT_EQ(od->error, ErrorCode::kNotCoordinator);

    // B serves its own half; each lists its own groups only.
    auto wb = b.commit(commit_params(gb, -1, "", "t", {0}, 7));
    EXPECT_TRUE(co_await wait(wb->done));
    EXPECT_EQ(wb->errors.at(0), ErrorCode::kNone);
    EXPECT_EQ(a.heartbeat(gb, 0, "x", std::nullopt), ErrorCode::kNotCoordinator);
    auto la = a.list({});
    auto lb = b.list({});
    EXPECT_EQ(la.size(), 1u);
    EXPECT_EQ(lb.size(), 1u);
    if (la.size() == 1 && lb.size() == 1) {
      EXPECT_EQ(la[0].group_id, ga);
      EXPECT_EQ(lb[0].group_id, gb);
    }
    cluster::Fence f = take_stream(*meta_, half, "1");
    Status again = co_await b.acquire_slot(half, f);
    EXPECT_EQ(again.code(), Errc::already_exists);
  });
}

TEST_F(CoordinatorTest, ReleasedSlotMovesWithOffsetsAndGeneration) {
  run_two([&](GroupCoordinator& a, GroupCoordinator& b, cluster::ClusterState&,
              cluster::ClusterState&) -> awaitable<void> {
    const std::int32_t slots = a.slot_count();
    co_await acquire(a, 0, slots, "0");
    const std::string g = "moving";
    const std::int32_t slot = a.slot_of(g);
    std::string id1, id2;
    auto j1 = join_new(a, join_params(g, ""), id1);
    EXPECT_TRUE(co_await wait(j1->done));
    auto s1 = a.sync(leader_sync(g, 1, id1, "A1"));
    EXPECT_TRUE(co_await wait(s1->done));
    EXPECT_EQ(s1->result.error, ErrorCode::kNone);
    auto w = a.commit(commit_params(g, 1, id1, "t", {0, 1}, 42));
    EXPECT_TRUE(co_await wait(w->done));
    EXPECT_EQ(w->errors, (std::vector<ErrorCode>{ErrorCode::kNone, ErrorCode::kNone}));
    // A second member waits in JoinGroup for the first to rejoin: the release answers it.
    auto parked = join_new(a, join_params(g, ""), id2);
    EXPECT_FALSE(parked->done.is_set());

    co_await a.release_slot(slot);
    EXPECT_TRUE(parked->done.is_set());
    EXPECT_EQ(parked->result.error, ErrorCode::kNotCoordinator);
    EXPECT_FALSE(a.owns_slot(slot));
    EXPECT_FALSE(a.slot_lost(slot));
    EXPECT_TRUE(a.owns_slot((slot + 1) % slots));
    EXPECT_EQ(a.heartbeat(g, 1, id1, std::nullopt), ErrorCode::kNotCoordinator);
    EXPECT_TRUE(a.list({}).empty());

    // B takes the stream over (a new fence) and carries the group on.
    co_await acquire(b, slot, slot + 1, "1");
    EXPECT_TRUE(b.owns_group(g));
    EXPECT_EQ(committed(b, g, "t", 0), 42);
    EXPECT_EQ(committed(b, g, "t", 1), 42);
    GroupDescription d = b.describe(g);
    EXPECT_EQ(d.state, "Stable");
    EXPECT_EQ(d.members.size(), 1u);
    if (!d.members.empty()) {
      EXPECT_EQ(d.members[0].member_id, id1);
      EXPECT_EQ(d.members[0].assignment, "A1");
    }
    EXPECT_EQ(b.heartbeat(g, 1, id1, std::nullopt), ErrorCode::kNone);
    auto w2 = b.commit(commit_params(g, 1, id1, "t", {0}, 43));
    EXPECT_TRUE(co_await wait(w2->done));
    EXPECT_EQ(w2->errors.at(0), ErrorCode::kNone);
    EXPECT_EQ(committed(b, g, "t", 0), 43);
    // The member that was waiting at A joins again at B: a new generation.
    auto j2 = b.join(join_params(g, id2));
    EXPECT_TRUE(j2->done.is_set());
    EXPECT_EQ(j2->result.error, ErrorCode::kUnknownMemberId);
  });
}

TEST_F(CoordinatorTest, LateWriteOfTheOldOwnerIsRejectedAndItsSlotLost) {
  run_two([&](GroupCoordinator& a, GroupCoordinator& b, cluster::ClusterState& ca,
              cluster::ClusterState&) -> awaitable<void> {
    const std::int32_t slots = a.slot_count();
    co_await acquire(a, 0, slots, "0");
    const std::string g = "late";
    const std::int32_t slot = a.slot_of(g);
    const std::string other = group_not_in(a, slot, "other-");
    std::string id;
    auto j = join_new(a, join_params(g, ""), id);
    EXPECT_TRUE(co_await wait(j->done));
    auto sy = a.sync(leader_sync(g, 1, id, "A"));
    EXPECT_TRUE(co_await wait(sy->done));
    auto w = a.commit(commit_params(g, 1, id, "t", {0}, 1));
    EXPECT_TRUE(co_await wait(w->done));
    EXPECT_EQ(w->errors.at(0), ErrorCode::kNone);

    // B takes the stream without A releasing it (A is thought dead).
    co_await acquire(b, slot, slot + 1, "1");
    EXPECT_EQ(committed(b, g, "t", 0), 1);
    EXPECT_TRUE(a.owns_group(g));  // A does not know yet
    auto late = a.commit(commit_params(g, 1, id, "t", {0}, 2));
    EXPECT_TRUE(co_await wait(late->done));
    EXPECT_EQ(late->errors.at(0), ErrorCode::kNotCoordinator);
    EXPECT_TRUE(a.slot_lost(slot));
    EXPECT_FALSE(a.owns_group(g));
    EXPECT_EQ(a.heartbeat(g, 1, id, std::nullopt), ErrorCode::kNotCoordinator);
    EXPECT_EQ(committed(a, g, "t", 0), -2);
    EXPECT_FALSE(ca.fenced());
    // A's other slots carry on.
    auto w2 = a.commit(commit_params(other, -1, "", "t", {0}, 5));
    EXPECT_TRUE(co_await wait(w2->done));
    EXPECT_EQ(w2->errors.at(0), ErrorCode::kNone);
    // B's state was not overwritten.
    EXPECT_EQ(committed(b, g, "t", 0), 1);
    auto w3 = b.commit(commit_params(g, 1, id, "t", {0}, 3));
    EXPECT_TRUE(co_await wait(w3->done));
    EXPECT_EQ(w3->errors.at(0), ErrorCode::kNone);
    // The slot can come back to A later, with a new fence.
    co_await b.release_slot(slot);
    co_await acquire(a, slot, slot + 1, "0");
    EXPECT_FALSE(a.slot_lost(slot));
    EXPECT_TRUE(a.owns_group(g));
    EXPECT_EQ(committed(a, g, "t", 0), 3);
  });
}

TEST_F(CoordinatorTest, TransactionMixingSlotsCarriesEachSlotsFence) {
  auto rec = std::make_shared<RecordingStore>(meta_);
  meta_ = rec;
  opt_.commit_linger = 50ms;  // both commits share one round
  run([&](GroupCoordinator& c, cluster::ClusterState& log) -> awaitable<void> {
    EXPECT_TRUE((co_await log.create_topic("t", 1, {})).ok());
    const std::string gx = "mix-x";
    const std::int32_t x = c.slot_of(gx);
    const std::string gy = group_not_in(c, x, "mix-y-");
    const std::int32_t y = c.slot_of(gy);
    const std::string gz = group_not_in(c, y, "mix-z-");  // in a slot still fenced on the node key
    // x and y move to fences of their own (their streams' owner keys).
    co_await c.release_slot(x);
    co_await c.release_slot(y);
    cluster::Fence fx = take_stream(*meta_, x, "0");
    cluster::Fence fy = take_stream(*meta_, y, "0");
    EXPECT_TRUE((co_await c.acquire_slot(x, fx)).ok());
    EXPECT_TRUE((co_await c.acquire_slot(y, fy)).ok());

    rec->take_txns();
    const auto before = c.stats();
    auto wx = c.commit(commit_params(gx, -1, "", "t", {0}, 1));
    auto wy = c.commit(commit_params(gy, -1, "", "t", {0}, 1));
    EXPECT_TRUE(co_await wait(wx->done));
    EXPECT_TRUE(co_await wait(wy->done));
    EXPECT_EQ(wx->errors.at(0), ErrorCode::kNone);
    EXPECT_EQ(wy->errors.at(0), ErrorCode::kNone);
    EXPECT_EQ(c.stats().txns - before.txns, 1u);
    auto txns = rec->take_txns();
    EXPECT_EQ(txns.size(), 1u);
    if (txns.size() == 1) {
      const metastore::TxnRequest& t = txns[0];
      EXPECT_EQ(t.success.size(), 2u);
      EXPECT_EQ(t.compare.size(), 2u);
      EXPECT_EQ(t.failure.size(), 2u);
      std::set<std::pair<std::string, std::int64_t>> got;
      for (const auto& cmp : t.compare) {
        EXPECT_EQ(cmp.target, metastore::Compare::Target::mod_revision);
        got.emplace(cmp.key, cmp.number);
      }
      std::set<std::pair<std::string, std::int64_t>> want;
      want.emplace(fx.key, fx.revision);
      want.emplace(fy.key, fy.revision);
      EXPECT_EQ(got, want);
    }

    // Another broker takes y: the next mixed transaction fails on y's fence only.
    take_stream(*meta_, y, "1");
    wx = c.commit(commit_params(gx, -1, "", "t", {0}, 2));
    wy = c.commit(commit_params(gy, -1, "", "t", {0}, 2));
    EXPECT_TRUE(co_await wait(wx->done));
    EXPECT_TRUE(co_await wait(wy->done));
    EXPECT_EQ(wy->errors.at(0), ErrorCode::kNotCoordinator);
    EXPECT_EQ(wx->errors.at(0), ErrorCode::kCoordinatorNotAvailable);  // still ours: retriable
    EXPECT_TRUE(c.slot_lost(y));
    EXPECT_TRUE(c.owns_slot(x));
    EXPECT_TRUE(c.owns_group(gz));
    wx = c.commit(commit_params(gx, -1, "", "t", {0}, 3));
    EXPECT_TRUE(co_await wait(wx->done));
    EXPECT_EQ(wx->errors.at(0), ErrorCode::kNone);
    EXPECT_EQ(committed(c, gx, "t", 0), 3);
    auto wz = c.commit(commit_params(gz, -1, "", "t", {0}, 4));
    EXPECT_TRUE(co_await wait(wz->done));
    EXPECT_EQ(wz->errors.at(0), ErrorCode::kNone);
  });
}

}  // namespace
}  // namespace ks::coordinator
