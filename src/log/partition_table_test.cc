// PartitionTable: committed ranges, log starts, object liveness, restoring
// from a checkpoint (checked: corrupt, never a crash) and the invariants
// (asserted in every build: a violation aborts).
#include "log/partition_table.h"

#include <gtest/gtest.h>

namespace ks::log {
namespace {

const TopicId kTopic{1, 2, 3};

std::shared_ptr<const ObjectRef> object(const std::string& key, std::uint64_t size = 100,
                                        std::uint64_t streams = kAllStreams) {
  return std::make_shared<ObjectRef>(ObjectRef{key, size, streams});
}

IndexEntry range(std::int64_t base, std::int64_t last, std::shared_ptr<const ObjectRef> obj) {
  IndexEntry e;
  e.base_offset = base;
  e.last_offset = last;
  e.object = std::move(obj);
  e.length = 10;
  return e;
}

class PartitionTableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    table_.add(PartitionKey{kTopic, 0}, 0, true);
    table_.add(PartitionKey{kTopic, 1}, 1, true);
  }
  PartitionState& p0() { return *table_.find(PartitionKey{kTopic, 0}); }
  PartitionTable table_;
};

TEST_F(PartitionTableTest, NewPartitionsStartAtZeroInEpochZero) {
  ASSERT_NE(table_.find(PartitionKey{kTopic, 1}), nullptr);
  EXPECT_EQ(table_.find(PartitionKey{kTopic, 2}), nullptr);
  EXPECT_EQ(p0().hwm, 0);
  EXPECT_EQ(p0().leader_epoch, 0);
  ASSERT_EQ(p0().epochs.size(), 1u);
  EXPECT_EQ(p0().epochs[0].start_offset, 0);
}

TEST_F(PartitionTableTest, RangesMoveTheHighWatermarkAndKeepObjectsAlive) {
  auto a = object("a"), b = object("b");
  p0().leo = 10;
  table_.push_range(p0(), range(0, 4, a));
  table_.push_range(p0(), range(5, 9, b));
  EXPECT_EQ(p0().hwm, 10);
  EXPECT_EQ(table_.live_objects(), 2u);
  EXPECT_TRUE(table_.object_known("a"));
  // Log start inside the second range: the first object is dead.
  EXPECT_TRUE(table_.advance_log_start(p0(), 7));
  EXPECT_FALSE(table_.advance_log_start(p0(), 6));  // never backwards
  EXPECT_EQ(p0().log_start, 7);
  EXPECT_EQ(p0().index.size(), 1u);
  EXPECT_EQ(table_.live_objects(), 1u);
  auto dead = table_.take_dead_objects(kAllStreams);
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].key, "a");
  EXPECT_FALSE(table_.has_dead_objects());
  // A committed object no partition refers to is dead at once.
  table_.note_unreferenced(ObjectRef{"c", 5, kAllStreams});
  table_.note_unreferenced(ObjectRef{"b", 100, kAllStreams});  // still live: not dead
  dead = table_.take_dead_objects(kAllStreams);
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].key, "c");
  PartitionTable::check(p0());
}

TEST_F(PartitionTableTest, RemovingATopicDropsItsRanges) {
  auto a = object("a");
  p0().leo = 5;
  table_.push_range(p0(), range(0, 4, a));
  table_.producers_for(PartitionKey{kTopic, 0});
  table_.remove_topic(kTopic, 2);
  EXPECT_EQ(table_.find(PartitionKey{kTopic, 0}), nullptr);
  EXPECT_EQ(table_.producers(PartitionKey{kTopic, 0}), nullptr);
  EXPECT_EQ(table_.live_objects(), 0u);
  EXPECT_EQ(table_.take_dead_objects(kAllStreams).size(), 1u);
}

// An object is deleted here only when every stream it carries is ours: a
// broker that owns another of its streams may still read it.
TEST_F(PartitionTableTest, DeadObjectsOfStreamsOwnedElsewhereAreForgottenNotDeleted) {
  auto mine = object("mine", 100, stream_bit(0));
  auto shared = object("shared", 100, stream_bit(0) | stream_bit(1));
  p0().leo = 10;
  table_.push_range(p0(), range(0, 4, mine));
  table_.push_range(p0(), range(5, 9, shared));
  EXPECT_TRUE(table_.advance_log_start(p0(), 10));
  auto dead = table_.take_dead_objects(stream_bit(0));  // stream 1 is owned by another broker
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].key, "mine");
  EXPECT_FALSE(table_.has_dead_objects());  // "shared" is forgotten, not kept for later
}

TEST_F(PartitionTableTest, RemovingAStreamDropsItsPartitionsWithoutKillingObjects) {
  auto a = object("a", 100, stream_bit(0));
  p0().leo = 5;
  table_.push_range(p0(), range(0, 4, a));
  table_.producers_for(PartitionKey{kTopic, 0});
  table_.remove_stream(0);
  EXPECT_EQ(table_.find(PartitionKey{kTopic, 0}), nullptr);
  EXPECT_NE(table_.find(PartitionKey{kTopic, 1}), nullptr);  // stream 1 stays
  EXPECT_EQ(table_.producers(PartitionKey{kTopic, 0}), nullptr);
  EXPECT_EQ(table_.live_objects(), 0u);
  EXPECT_FALSE(table_.has_dead_objects());  // the next owner of stream 0 still reads "a"
}

PartitionSnapshot snapshot(std::int64_t log_start, std::int64_t hwm, std::vector<IndexEntry> index) {
  PartitionSnapshot s;
  s.key = PartitionKey{kTopic, 0};
  s.log_start = log_start;
  s.hwm = hwm;
  s.leader_epoch = 3;
  s.epochs = {EpochStart{3, 0}};
  s.index = std::move(index);
  return s;
}

TEST_F(PartitionTableTest, RestoreTakesAConsistentCheckpoint) {
  auto a = object("a"), b = object("b");
  ASSERT_TRUE(table_.restore(p0(), snapshot(3, 10, {range(0, 4, a), range(5, 9, b)})).ok());
  EXPECT_EQ(p0().log_start, 3);
  EXPECT_EQ(p0().hwm, 10);
  EXPECT_EQ(p0().leo, 10);
  EXPECT_EQ(p0().leader_epoch, 3);
  EXPECT_EQ(table_.live_objects(), 2u);
  // A partition whose ranges all expired keeps its high watermark.
  PartitionState& p1 = *table_.find(PartitionKey{kTopic, 1});
  ASSERT_TRUE(table_.restore(p1, snapshot(20, 20, {})).ok());
  EXPECT_EQ(p1.hwm, 20);
}

TEST_F(PartitionTableTest, RestoreRefusesInconsistentCheckpoints) {
  auto a = object("a"), b = object("b");
  struct Case {
    const char* what;
    PartitionSnapshot s;
  };
  std::vector<Case> cases = {
      {"gap between ranges", snapshot(0, 10, {range(0, 4, a), range(6, 9, b)})},
      {"ranges end before hwm", snapshot(0, 11, {range(0, 4, a), range(5, 9, b)})},
      {"log start past hwm", snapshot(12, 10, {range(0, 4, a), range(5, 9, b)})},
      {"negative log start", snapshot(-1, 10, {range(0, 9, a)})},
      {"range reversed", snapshot(0, 10, {range(9, 0, a)})},
      {"range without object", snapshot(0, 10, {range(0, 9, nullptr)})},
      {"first range below log start", snapshot(6, 10, {range(0, 4, a), range(5, 9, b)})},
  };
  for (auto& c : cases) {
    Status st = table_.restore(p0(), std::move(c.s));
    EXPECT_EQ(st.code(), Errc::corrupt) << c.what;
  }
  EXPECT_EQ(table_.live_objects(), 0u);
}

using PartitionTableDeathTest = PartitionTableTest;

TEST_F(PartitionTableDeathTest, ARangeThatDoesNotContinueTheLogAborts) {
  auto a = object("a");
  p0().leo = 20;
  table_.push_range(p0(), range(0, 4, a));
  EXPECT_DEATH(table_.push_range(p0(), range(6, 9, a)), "invariant violated.*does not continue the log at 5");
}

TEST_F(PartitionTableDeathTest, LogStartPastTheHighWatermarkAborts) {
  EXPECT_DEATH(table_.advance_log_start(p0(), 1), "invariant violated.*past the high watermark 0");
}

TEST_F(PartitionTableDeathTest, HighWatermarkPastLogEndAborts) {
  p0().hwm = 5;
  p0().leo = 4;
  EXPECT_DEATH(PartitionTable::check(p0()), "invariant violated.*hwm 5, log end 4");
}

}  // namespace
}  // namespace ks::log
