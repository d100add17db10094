// Upgrade of the single-node layout: a prefix as a broker before streams left
// it (cluster record without streams, a format v1 checkpoint of node 0 that
// indexes the committed golden object, a topic record without stream_base,
// group keys without slots) becomes the stream layout; a broker then serves
// the old partitions (each stream takes only its own from the shared v1
// checkpoint), reads the old batches back and appends after them; the group
// keys are under their slots. Running the upgrade again changes nothing.
#include "log/upgrade.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cluster/streams.h"
#include "log/checkpoint.h"
#include "log/log_test_util.h"

namespace ks::log {
namespace {

using logtest::LogHarness;
using namespace std::chrono_literals;

std::string fixture(const char* name) {
  std::ifstream f(std::string(KS_SOURCE_DIR) + "/tests/fixtures/formats/" + name, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

TopicId topic_a() {
  TopicId id{};
  for (std::size_t i = 0; i < id.size(); ++i) id[i] = static_cast<std::uint8_t>(i + 1);  // 0102..10
  return id;
}

PartitionSnapshot snapshot(std::int32_t partition, std::int64_t start, std::int64_t hwm, std::int32_t epoch,
                           const std::shared_ptr<const ObjectRef>& obj, std::uint64_t pos, std::uint32_t len,
                           std::uint32_t batches) {
  PartitionSnapshot p;
  p.key = logtest::pkey(topic_a(), partition);
  p.log_start = start;
  p.hwm = hwm;
  p.leader_epoch = epoch;
  p.epochs.push_back(EpochStart{epoch, start});
  p.index.push_back(IndexEntry{start, hwm - 1, 1700000000100, obj, pos, len, epoch, batches});
  return p;
}

class UpgradeTest : public LogHarness {
 protected:
  // The single-node layout of node 0, written straight to the stores.
  void write_old_layout() {
    auto& meta = *fmeta_->inner();
    ASSERT_TRUE(meta.put(keys::cluster(), R"({"v":1,"cluster_id":"old-cluster"})").ok());
    cluster::TopicRecord t;
    t.name = "A";
    t.id = topic_a();
    t.partitions = 3;
    t.configs["retention.ms"] = "-1";  // the golden batches carry 2023 timestamps
    t.created_ms = 1700000000000;
    auto j = nlohmann::json::parse(cluster::encode_topic(t));
    j.erase("stream_base");
    ASSERT_TRUE(meta.put(keys::topic("A"), j.dump()).ok());

    const std::string object = fixture("log-object-v1.kso");
    ASSERT_EQ(object.size(), 1381u);
    const std::string okey = keys::object(0, 7, 42);
    ASSERT_TRUE(fobj_->inner().put(okey, object).ok());
    auto ref = std::make_shared<ObjectRef>(ObjectRef{okey, object.size(), kAllStreams});
    Checkpoint c;
    c.version = 1;
    c.broker_epoch = 7;
    c.covers_seq = 42;
    c.created_ms = 1700000000456;
    c.partitions.push_back(snapshot(0, 100, 106, 3, ref, 32, 331, 3));  // stream 0
    c.partitions.push_back(snapshot(2, 7, 12, 1, ref, 363, 221, 2));    // stream 2
    const std::string ckey = keys::checkpoint_object(0, 7, 42);
    ASSERT_TRUE(fobj_->inner().put(ckey, encode_checkpoint(c)).ok());
    CheckpointPointer p;
    p.object = ckey;
    p.covers_seq = 42;
    p.broker_epoch = 7;
    ASSERT_TRUE(meta.put(keys::checkpoint(0), encode_checkpoint_pointer(p)).ok());

    ASSERT_TRUE(meta.put(keys::groups_prefix() + keys::encode_group_id("g 1") + "/meta", "meta-of-g1").ok());
    ASSERT_TRUE(
        meta.put(keys::groups_prefix() + keys::encode_group_id("g 1") + "/offsets/A/000000", "offs").ok());
  }
};

TEST_F(UpgradeTest, TheSingleNodeLayoutIsServedAsStreams) {
  write_old_layout();
  auto& meta = *fmeta_->inner();
  // Failing reads change nothing.
  fmeta_->set_unavailable(true);
  EXPECT_FALSE(upgrade_single_node_layout(*fmeta_, 16).ok());
  fmeta_->set_unavailable(false);
  EXPECT_TRUE(meta_keys(keys::streams_prefix()).empty());

  auto up = upgrade_single_node_layout(meta, 16);
  ASSERT_TRUE(up.ok()) << up.status().to_string();
  EXPECT_TRUE(up->upgraded);
  EXPECT_EQ(up->node, 0);
  EXPECT_EQ(up->group_keys, 2u);
  auto again = upgrade_single_node_layout(meta, 16);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->upgraded);

  const std::int32_t slot = cluster::group_slot("g 1", 16);
  EXPECT_EQ(meta_value(keys::group_meta(slot, "g 1")).value_or(metastore::KeyValue{}).value, "meta-of-g1");
  EXPECT_EQ(meta_value(keys::group_offsets(slot, "g 1", "A", 0)).value_or(metastore::KeyValue{}).value,
            "offs");
  EXPECT_EQ(meta_keys(keys::groups_prefix()).size(), 2u);  // the old keys are gone
  EXPECT_EQ(meta_keys(keys::streams_prefix()).size(), 16u);

  run([&](LogManager& log) -> awaitable<void> {
    const PartitionState* p0 = log.partition(logtest::pkey(topic_a(), 0));
    const PartitionState* p2 = log.partition(logtest::pkey(topic_a(), 2));
    EXPECT_TRUE(p0 != nullptr && p2 != nullptr);
    if (p0 == nullptr || p2 == nullptr) co_return;
    EXPECT_EQ(p0->log_start, 100);
    EXPECT_EQ(p0->hwm, 106);
    EXPECT_EQ(p2->hwm, 12);
    EXPECT_GT(p0->leader_epoch, 3);  // a new term
    std::vector<logtest::StoredBatch> got;
    EXPECT_TRUE((co_await logtest::read_all(log, logtest::pkey(topic_a(), 0), got)).ok());
    EXPECT_EQ(got.size(), 3u);
    if (!got.empty()) {
      EXPECT_EQ(got.front().base, 100);
      EXPECT_EQ(got.back().last, 105);
    }
    auto t = logtest::append_batch(log, logtest::pkey(topic_a(), 0), logtest::make_batch(2, "new"));
    EXPECT_TRUE(t.ok());
    if (t.ok()) {
      EXPECT_TRUE((co_await logtest::wait_done(*t->done, Clock::now() + 10s)).ok());
      EXPECT_EQ(t->base_offset, 106);
    }
  });
}

TEST_F(UpgradeTest, NothingToDoOnANewOrStreamCluster) {
  auto fresh = upgrade_single_node_layout(*fmeta_->inner(), 16);
  ASSERT_TRUE(fresh.ok());
  EXPECT_FALSE(fresh->upgraded);
  run([&](LogManager&) -> awaitable<void> { co_return; });  // writes a stream-layout cluster record
  auto again = upgrade_single_node_layout(*fmeta_->inner(), 16);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->upgraded);
}

}  // namespace
}  // namespace ks::log
