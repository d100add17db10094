// The parsers of keys and object names the cluster-wide sweep relies on: the
// node behind a commit record key and behind a log object or a stream
// checkpoint name; anything else is not ours (nullopt).
#include "cluster/keys.h"

#include <gtest/gtest.h>

namespace ks::cluster::keys {
namespace {

TEST(KeysTest, ScramKeysRoundTrip) {
  EXPECT_EQ(scram_credential("SCRAM-SHA-256", "alice"), "/ks/scram/SCRAM-SHA-256/alice");
  auto k = parse_scram_key(scram_credential("SCRAM-SHA-512", "a/b c"));
  ASSERT_TRUE(k.has_value());
  EXPECT_EQ(k->mechanism, "SCRAM-SHA-512");
  EXPECT_EQ(k->user, "a/b c");
  EXPECT_EQ(scram_credential("SCRAM-SHA-256", "a/b").find("a/b"),
            std::string::npos);  // no reach into other keys
  EXPECT_FALSE(parse_scram_key("/ks/scram/SCRAM-SHA-256").has_value());
  EXPECT_FALSE(parse_scram_key(member(1)).has_value());
}

TEST(KeysTest, CommitKeysNameTheirNode) {
  EXPECT_EQ(parse_commit_node(commit(7, 42)), 7);
  EXPECT_EQ(parse_commit_node(commit(0, 1)), 0);
  EXPECT_EQ(parse_commit_node(commits_prefix(3)), std::nullopt);
  EXPECT_EQ(parse_commit_node(owner(3)), std::nullopt);
  EXPECT_EQ(parse_commit_node(broker_config(3)), std::nullopt);
  EXPECT_EQ(parse_commit_node("/ks/brokers/-1/commits/1"), std::nullopt);
  EXPECT_EQ(parse_commit_node("/ks/brokers/x/commits/1"), std::nullopt);
  EXPECT_EQ(parse_commit_node(stream_owner(1)), std::nullopt);
  EXPECT_EQ(parse_node_checkpoint_key(checkpoint(4)), 4);
  EXPECT_EQ(parse_node_checkpoint_key(commit(4, 1)), std::nullopt);
  EXPECT_EQ(parse_node_checkpoint_key(owner(4)), std::nullopt);
}

TEST(KeysTest, ObjectNamesNameTheNodeThatWroteThem) {
  EXPECT_EQ(object_node(object(5, 9, 10)), 5);
  EXPECT_EQ(object_node(stream_checkpoint_object(12, 4, 9, 10)), 4);
  EXPECT_EQ(object_node(checkpoint_object(4, 1, 2)), std::nullopt);  // single-node layout
  EXPECT_EQ(object_node("objects/x/1.kso"), std::nullopt);
  EXPECT_EQ(object_node("streams/0001/"), std::nullopt);
  EXPECT_EQ(object_node("health/probe"), std::nullopt);
  EXPECT_EQ(stream_checkpoint_object_stream(stream_checkpoint_object(12, 4, 9, 10)), 12);
  EXPECT_EQ(stream_checkpoint_object_stream(object(5, 9, 10)), std::nullopt);
  EXPECT_TRUE(object(5, 9, 10).starts_with(all_objects_prefix()));
  EXPECT_TRUE(stream_checkpoint_object(1, 2, 3, 4).starts_with(all_stream_checkpoints_prefix()));
}

TEST(Keys, GroupConfigKeys) {
  EXPECT_EQ(group_config("g1"), "/ks/group-configs/g1");
  EXPECT_EQ(parse_group_config_key(group_config("a/b c")), "a/b c");
  EXPECT_EQ(parse_group_config_key(group_config("")), "");
  EXPECT_EQ(parse_group_config_key("/ks/groups/0001/g/meta"), std::nullopt);
  // Outside the slot layout: a range read of the groups never sees them.
  EXPECT_FALSE(group_config("g").starts_with(groups_prefix()));
}

}  // namespace
}  // namespace ks::cluster::keys
