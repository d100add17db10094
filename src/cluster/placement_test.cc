// The placement record and plan_placement(): pure, no store.
#include "cluster/placement.h"

#include <gtest/gtest.h>

#include "cluster/cluster_test_util.h"
#include "cluster/streams.h"

namespace ks::cluster {
namespace {

using testing::stream_counts;

std::map<std::int32_t, MemberInfo> members(std::initializer_list<std::int32_t> nodes,
                                           std::initializer_list<std::int32_t> draining = {}) {
  std::map<std::int32_t, MemberInfo> m;
  for (auto n : nodes) {
    MemberInfo i;
    i.node = n;
    m.emplace(n, i);
  }
  for (auto n : draining) m.at(n).draining = true;
  return m;
}

std::map<std::int32_t, std::int32_t> counts(
    std::initializer_list<std::pair<const std::int32_t, std::int32_t>> c) {
  return std::map<std::int32_t, std::int32_t>(c);
}

int changed(const Placement& a, const Placement& b) {
  int n = 0;
  for (std::size_t i = 0; i < a.streams.size(); ++i) n += a.streams[i].node != b.streams[i].node;
  return n;
}

TEST(PlacementRecord, RoundTripsAndRejectsBadRecords) {
  Placement p;
  p.controller_epoch = 42;
  p.mod_revision = 7;  // not encoded
  p.streams = {{0, 1}, {2, 3}, {-1, 0}};
  auto d = decode_placement(encode_placement(p));
  ASSERT_TRUE(d.ok()) << d.status().to_string();
  EXPECT_EQ(d->controller_epoch, 42);
  EXPECT_EQ(d->streams, p.streams);
  EXPECT_EQ(d->mod_revision, 0);

  for (const char* bad :
       {"", "nope", "[]", R"({"v":2,"controller_epoch":1,"streams":[]})",
        R"({"controller_epoch":1,"streams":[]})", R"({"v":1,"streams":[]})",
        R"({"v":1,"controller_epoch":"1","streams":[]})", R"({"v":1,"controller_epoch":1,"streams":{}})",
        R"({"v":1,"controller_epoch":1,"streams":[{"node":-2,"epoch":0}]})",
        R"({"v":1,"controller_epoch":1,"streams":[{"node":0,"epoch":-1}]})",
        R"({"v":1,"controller_epoch":1,"streams":[{"node":0.5,"epoch":1}]})",
        R"({"v":1,"controller_epoch":1,"streams":[{"node":0}]})",
        R"({"v":1,"controller_epoch":1,"streams":[7]})"}) {
    auto r = decode_placement(bad);
    EXPECT_EQ(r.code(), Errc::corrupt) << bad;
  }
  Placement big;
  big.streams.resize(kMaxStreams);
  std::string text = encode_placement(big);
  EXPECT_TRUE(decode_placement(text).ok());
  EXPECT_LT(text.size(), 4096u);  // far below etcd's 1.5 MiB request limit
  std::string over = text.substr(0, text.size() - 2) + R"(,{"node":0,"epoch":0}]})";
  EXPECT_EQ(decode_placement(over).code(), Errc::corrupt);
}

TEST(PlacementRecord, ControllerRecordRoundTrips) {
  auto n = decode_controller(encode_controller(3));
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 3);
  EXPECT_EQ(decode_controller(R"({"v":1,"node":-1})").code(), Errc::corrupt);
  EXPECT_EQ(decode_controller("{").code(), Errc::corrupt);
}

TEST(PlanPlacement, EmptyPlacementGoesToTheOnlyNode) {
  Placement p = plan_placement(Placement{}, members({4}), 16);
  ASSERT_EQ(p.streams.size(), 16u);
  for (const auto& s : p.streams) {
    EXPECT_EQ(s.node, 4);
    EXPECT_EQ(s.epoch, 1);
  }
}

TEST(PlanPlacement, ThreeNodesAreBalanced) {
  Placement p = plan_placement(Placement{}, members({0, 1, 2}), 16);
  EXPECT_EQ(stream_counts(p), counts({{0, 6}, {1, 5}, {2, 5}}));
  // A stable input plans nothing new.
  Placement again = plan_placement(p, members({0, 1, 2}), 16);
  EXPECT_EQ(again.streams, p.streams);
}

TEST(PlanPlacement, OnlyTheDeadNodesStreamsMoveAndOnlyTheirEpochsIncrease) {
  Placement p = plan_placement(Placement{}, members({0, 1, 2}), 16);
  Placement q = plan_placement(p, members({0, 2}), 16);
  EXPECT_EQ(stream_counts(q), counts({{0, 8}, {2, 8}}));
  for (std::size_t i = 0; i < p.streams.size(); ++i) {
    if (p.streams[i].node == 1) {
      EXPECT_NE(q.streams[i].node, 1);
      EXPECT_EQ(q.streams[i].epoch, p.streams[i].epoch + 1);
    } else {
      EXPECT_EQ(q.streams[i], p.streams[i]) << "stream " << i;
    }
  }
}

TEST(PlanPlacement, ADrainingNodeLosesEveryStream) {
  Placement p = plan_placement(Placement{}, members({0, 1, 2}), 16);
  Placement q = plan_placement(p, members({0, 1, 2}, {0}), 16);
  EXPECT_EQ(stream_counts(q), counts({{1, 8}, {2, 8}}));
  EXPECT_EQ(changed(p, q), 6);
}

TEST(PlanPlacement, ANewNodeTakesOnlyWhatBalanceNeeds) {
  Placement p = plan_placement(Placement{}, members({0, 1}), 16);
  Placement q = plan_placement(p, members({0, 1, 2}), 16);
  EXPECT_EQ(stream_counts(q), counts({{0, 5}, {1, 6}, {2, 5}}));
  EXPECT_EQ(changed(p, q), 5);  // the minimum to reach a spread of one
  for (std::size_t i = 0; i < q.streams.size(); ++i) {
    EXPECT_EQ(q.streams[i].epoch, p.streams[i].epoch + (q.streams[i].node != p.streams[i].node ? 1 : 0));
  }
  // Unbalanced input: 10 / 2 / 4 -> 6 / 5 / 5 in 4 moves.
  Placement u;
  for (int i = 0; i < 16; ++i) u.streams.push_back({i < 10 ? 0 : (i < 12 ? 1 : 2), 3});
  Placement v = plan_placement(u, members({0, 1, 2}), 16);
  EXPECT_EQ(stream_counts(v), counts({{0, 6}, {1, 5}, {2, 5}}));
  EXPECT_EQ(changed(u, v), 4);
}

TEST(PlanPlacement, IsDeterministic) {
  Placement p = plan_placement(Placement{}, members({3, 7, 9}), 13);
  Placement dead = plan_placement(p, members({3, 9, 11}), 13);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(plan_placement(Placement{}, members({3, 7, 9}), 13).streams, p.streams);
    EXPECT_EQ(plan_placement(p, members({3, 9, 11}), 13).streams, dead.streams);
  }
}

TEST(PlanPlacement, NoLiveNodeKeepsTheOldPlacement) {
  Placement p = plan_placement(Placement{}, members({0, 1}), 8);
  p.controller_epoch = 5;
  p.mod_revision = 9;
  Placement q = plan_placement(p, {}, 8);
  EXPECT_EQ(q.streams, p.streams);
  EXPECT_EQ(q.controller_epoch, 5);
  EXPECT_EQ(q.mod_revision, 9);
  EXPECT_EQ(plan_placement(p, members({0, 1}, {0, 1}), 8).streams, p.streams);
  // Never placed and nobody to place on: unplaced, not invented.
  Placement none = plan_placement(Placement{}, {}, 4);
  ASSERT_EQ(none.streams.size(), 4u);
  for (const auto& s : none.streams) EXPECT_EQ(s, StreamPlacement{});
}

}  // namespace
}  // namespace ks::cluster
