// The values of the group keys (cluster/keys.h) in the metadata store:
//
//   /ks/groups/<slot:04>/<group>/meta            group record: protocol, generation, leader,
//                                                members with subscription and assignment
//   /ks/groups/<slot:04>/<group>/offsets/<topic>/<chunk:06>
//                                                committed offsets of partitions
//                                                [chunk*128, chunk*128+128) of one topic
//
// <slot> = cluster::group_slot(group, streams): the stream whose owner
// coordinates the group.
//
// One key holds up to 128 partitions:
// a commit of N partitions of a topic writes ceil(N/128) keys at most, and the
// largest possible value (128 partitions x 4 KiB of metadata, base64) stays
// below 1 MiB, under etcd's 1.5 MiB request limit. Values are JSON with "v":1.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/keys.h"
#include "cluster/types.h"
#include "common/status.h"

namespace ks::coordinator {

// The keys are declared with every other key in cluster/keys.h; these are the
// coordinator's names for them.
using cluster::keys::chunk_of;
using cluster::keys::decode_group_id;
using cluster::keys::encode_group_id;
using cluster::keys::group_prefix;
using cluster::keys::group_slot_prefix;
using cluster::keys::groups_prefix;
using cluster::keys::kPartitionsPerKey;
using ParsedKey = cluster::keys::GroupKey;
inline std::string meta_key(std::int32_t slot, std::string_view group) {
  return cluster::keys::group_meta(slot, group);
}
inline std::string offsets_key(std::int32_t slot, std::string_view group, std::string_view topic,
                               std::int32_t chunk) {
  return cluster::keys::group_offsets(slot, group, topic, chunk);
}
// nullopt for keys outside the layout (ignored on load).
inline std::optional<ParsedKey> parse_key(std::string_view key) {
  return cluster::keys::parse_group_key(key);
}

struct OffsetValue {
  std::int64_t offset = -1;
  std::int32_t leader_epoch = -1;
  std::string metadata;
  std::int64_t commit_ms = 0;  // wall clock of the commit (retention of simple groups)
  bool operator==(const OffsetValue&) const = default;
};

// The offsets one key holds: partitions of one topic incarnation.
struct Chunk {
  cluster::TopicId topic_id{};
  std::map<std::int32_t, OffsetValue> parts;
  bool operator==(const Chunk&) const = default;
};
std::string encode_chunk(std::string_view topic, const Chunk& c);
Result<Chunk> decode_chunk(std::string_view json);

struct StoredMember {
  std::string member_id;
  std::optional<std::string> instance_id;
  std::string client_id;
  std::string client_host;
  std::int32_t session_timeout_ms = 0;
  std::int32_t rebalance_timeout_ms = 0;
  std::string subscription;  // metadata of the selected protocol
  std::string assignment;
  bool operator==(const StoredMember&) const = default;
};

struct StoredGroup {
  std::string protocol_type;
  std::optional<std::string> protocol;
  std::int32_t generation = 0;
  std::string leader;
  std::int64_t state_ms = 0;  // wall clock of the last state change
  std::vector<StoredMember> members;
  // A KIP-848 consumer group: its state as a JSON object (consumer_store.h),
  // stored as the record's "consumer" member.
  std::optional<std::string> consumer;
  bool operator==(const StoredGroup&) const = default;
};
std::string encode_group(const StoredGroup& g);
Result<StoredGroup> decode_group(std::string_view json);

// Topics of a ConsumerProtocolSubscription (protocol type "consumer");
// nullopt if the bytes are not one.
std::optional<std::vector<std::string>> subscribed_topics(std::string_view metadata);

}  // namespace ks::coordinator
