#include "coordinator/assignors.h"

#include <gtest/gtest.h>

namespace ks::coordinator {
namespace {

cluster::TopicId tid(std::uint8_t n) {
  cluster::TopicId t{};
  t[0] = n;
  return t;
}

AssignmentSpec spec(std::initializer_list<std::string> members, std::set<cluster::TopicId> topics,
                    std::map<cluster::TopicId, std::int32_t> partitions) {
  AssignmentSpec s;
  for (const auto& m : members) s.members[m].topics = topics;
  s.partitions = std::move(partitions);
  return s;
}

// Every partition of every subscribed topic exactly once.
void expect_complete(const AssignmentSpec& s, const TargetAssignment& out) {
  std::map<std::pair<cluster::TopicId, std::int32_t>, int> seen;
  for (const auto& [m, a] : out) {
    for (const auto& [t, ps] : a) {
      EXPECT_TRUE(s.members.at(m).topics.contains(t)) << m << " got an unsubscribed topic";
      for (auto p : ps) ++seen[{t, p}];
    }
  }
  std::size_t want = 0;
  for (const auto& [t, n] : s.partitions) {
    bool subscribed = false;
    for (const auto& [m, am] : s.members) subscribed |= am.topics.contains(t);
    if (!subscribed) continue;
    want += static_cast<std::size_t>(n);
    for (std::int32_t p = 0; p < n; ++p) EXPECT_EQ(seen[std::make_pair(t, p)], 1) << "partition " << p;
  }
  EXPECT_EQ(seen.size(), want);
}

TEST(Assignors, UniformBalancesWithinOne) {
  auto s = spec({"a", "b", "c"}, {tid(1), tid(2)}, {{tid(1), 5}, {tid(2), 3}});
  auto out = assign_uniform(s);
  expect_complete(s, out);
  std::size_t lo = 100, hi = 0;
  for (const auto& [m, a] : out) {
    lo = std::min(lo, partition_count(a));
    hi = std::max(hi, partition_count(a));
  }
  EXPECT_LE(hi - lo, 1u);
  EXPECT_EQ(out.size(), 3u);
}

TEST(Assignors, UniformIsSticky) {
  auto s = spec({"a", "b"}, {tid(1)}, {{tid(1), 6}});
  auto first = assign_uniform(s);
  // A third member joins: a and b keep what they had but for what c gets.
  auto s2 = spec({"a", "b", "c"}, {tid(1)}, {{tid(1), 6}});
  s2.members["a"].previous = first["a"];
  s2.members["b"].previous = first["b"];
  auto second = assign_uniform(s2);
  expect_complete(s2, second);
  EXPECT_EQ(partition_count(second["c"]), 2u);
  EXPECT_EQ(partition_count(intersect(first["a"], second["a"])), 2u);
  EXPECT_EQ(partition_count(intersect(first["b"], second["b"])), 2u);
}

TEST(Assignors, UniformHeterogeneousSubscriptions) {
  AssignmentSpec s;
  s.members["a"].topics = {tid(1)};
  s.members["b"].topics = {tid(1), tid(2)};
  s.members["c"].topics = {tid(2)};
  s.partitions = {{tid(1), 4}, {tid(2), 4}, {tid(3), 9}};  // nobody subscribes to 3
  auto out = assign_uniform(s);
  expect_complete(s, out);
  EXPECT_EQ(partition_count(out["a"]) + partition_count(out["b"]) + partition_count(out["c"]), 8u);
  for (const auto& [m, a] : out) EXPECT_GE(partition_count(a), 2u) << m;
}

TEST(Assignors, UniformMoreMembersThanPartitions) {
  auto s = spec({"a", "b", "c"}, {tid(1)}, {{tid(1), 1}});
  auto out = assign_uniform(s);
  expect_complete(s, out);
  EXPECT_EQ(out.size(), 3u);  // every member has an entry, two of them empty
}

TEST(Assignors, RangeGivesConsecutiveRangesPerTopic) {
  auto s = spec({"a", "b"}, {tid(1), tid(2)}, {{tid(1), 3}, {tid(2), 3}});
  auto out = assign_range(s);
  expect_complete(s, out);
  EXPECT_EQ(out["a"][tid(1)], (std::set<std::int32_t>{0, 1}));
  EXPECT_EQ(out["b"][tid(1)], (std::set<std::int32_t>{2}));
  // Co-partitioned: the same partitions of both topics.
  EXPECT_EQ(out["a"][tid(1)], out["a"][tid(2)]);
  EXPECT_EQ(out["b"][tid(1)], out["b"][tid(2)]);
}

TEST(Assignors, Names) {
  EXPECT_TRUE(known_assignor("uniform"));
  EXPECT_TRUE(known_assignor("range"));
  EXPECT_FALSE(known_assignor("sticky"));
  EXPECT_FALSE(known_assignor(""));
}

TEST(Assignors, SetHelpers) {
  Assignment a{{tid(1), {0, 1, 2}}}, b{{tid(1), {1}}, {tid(2), {0}}};
  EXPECT_EQ(minus(a, b), (Assignment{{tid(1), {0, 2}}}));
  EXPECT_EQ(intersect(a, b), (Assignment{{tid(1), {1}}}));
  EXPECT_EQ(partition_count(unite(a, b)), 4u);
}

}  // namespace
}  // namespace ks::coordinator
