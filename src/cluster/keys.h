// Every key KafScale writes, in one place: the metadata store's keys (etcd in
// production) and the object store's names. Nothing else spells a "/ks/"
// string or an object name. Values are versioned (JSON with "v": 1 in the
// metadata store, a magic + version in objects).
//
// Metadata store:
//   /ks/cluster                                   {"v":1,"cluster_id":...}, created once
//   /ks/topics/<name>                             topic record (id, partitions, configs)
//   /ks/producer-ids                              next free producer-id block (cluster-wide)
//   /ks/brokers/<node>/owner                      node incarnation; its mod_revision is the broker epoch
//   /ks/brokers/<node>/config                     dynamic broker configs (AlterConfigs)
//   /ks/brokers/<node>/commits/<seq:020>          commit record of one flush (points at the object,
//                                                 lists the streams it carries)
//   /ks/brokers/<node>/checkpoint                 single-node layout (before streams): checkpoint pointer
//   /ks/streams/<s:04>/owner                      owner of stream s; its mod_revision is the stream epoch
//   /ks/streams/<s:04>/checkpoint                 pointer to stream s's latest checkpoint object
//   /ks/members/<node>                            live broker (under its lease)
//   /ks/controller                                elected controller (under its lease)
//   /ks/scram/<mechanism>/<user>                  SCRAM credential (security/scram.h: salt, iterations,
//                                                 StoredKey, ServerKey; never the password), <user>
//                                                 percent-encoded like a group id
//   /ks/placement                                 stream -> node, with placement epochs (controller only)
//   /ks/groups/<slot:04>/<group>/meta             group record (coordinator/store_format.h)
//   /ks/groups/<slot:04>/<group>/offsets/<topic>/<chunk:06>
//                                                 committed offsets of partitions
//                                                 [chunk*128, chunk*128+128) of one topic
//   /ks/group-configs/<group>                     explicit configs of a group (GROUP config resource,
//                                                 coordinator/group_configs.h)
//   /ks/acls/<rt>/<pt>/<op>/<perm>/<name>/<principal>/<host>
//                                                 one ACL (security/acl_store.h); the codes are Kafka's,
//                                                 the strings percent-encoded like a group id
//
// <slot> is the group's slot, cluster::group_slot(group, streams): the stream
// whose owner coordinates the group, so one range read loads a slot's groups.
// <group> is percent-encoded (any byte outside [A-Za-z0-9._-]) so a group id
// can never reach into another group's keys.
//
// Object store:
//   objects/<node>/<epoch:016x>-<seq:016x>.kso      log objects (one per flush)
//   checkpoints/<node>/<epoch:016x>-<seq:016x>.ksc  checkpoint snapshots (single-node layout)
//   streams/<s:04>/<node>/<epoch:016x>-<seq:016x>.ksc  checkpoint of stream s written by a node
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ks::cluster::keys {

inline const std::string kRoot = "/ks/";

std::string cluster();
std::string topics_prefix();
std::string topic(const std::string& name);
std::string producer_ids();

std::string brokers_prefix();  // "/ks/brokers/"
std::string broker_prefix(std::int32_t node);
std::string owner(std::int32_t node);
std::string broker_config(std::int32_t node);
// The cluster-wide dynamic broker configs (BROKER resource ""): cluster/broker_config.h.
std::string broker_defaults();
std::string commits_prefix(std::int32_t node);
std::string commit(std::int32_t node, std::uint64_t seq);
std::string checkpoint(std::int32_t node);

// Streams (cluster/streams.h), membership, controller, placement.
std::string streams_prefix();  // "/ks/streams/"
std::string stream_owner(std::int32_t stream);
std::string stream_checkpoint(std::int32_t stream);
std::string members_prefix();  // "/ks/members/"
std::string member(std::int32_t node);
std::string controller();
std::string placement();
// The stream of "/ks/streams/<s:04>/checkpoint"; nullopt for any other key.
std::optional<std::int32_t> parse_stream_checkpoint_key(std::string_view key);
// The node of "/ks/brokers/<node>/checkpoint" (single-node layout); nullopt for any other key.
std::optional<std::int32_t> parse_node_checkpoint_key(std::string_view key);
// The node of "/ks/brokers/<node>/commits/<seq>"; nullopt for any other key.
std::optional<std::int32_t> parse_commit_node(std::string_view key);
// nullopt unless key is members_prefix() + a node id.
std::optional<std::int32_t> parse_member_key(std::string_view key);

// SCRAM credentials (security/scram.h), per mechanism ("SCRAM-SHA-256") and user.
std::string scram_prefix();  // "/ks/scram/"
std::string scram_credential(std::string_view mechanism, std::string_view user);
struct ScramKey {
  std::string mechanism;
  std::string user;
};
// nullopt for keys outside that layout.
std::optional<ScramKey> parse_scram_key(std::string_view key);

// Consumer groups, under their slot (cluster::group_slot). One offsets key
// holds up to kPartitionsPerKey partitions.
inline constexpr std::int32_t kPartitionsPerKey = 128;
inline std::int32_t chunk_of(std::int32_t partition) { return partition / kPartitionsPerKey; }
std::string groups_prefix();                                          // "/ks/groups/"
std::string group_slot_prefix(std::int32_t slot);                     // "/ks/groups/<slot:04>/"
std::string group_prefix(std::int32_t slot, std::string_view group);  // "/ks/groups/<slot:04>/<enc>/"
std::string group_meta(std::int32_t slot, std::string_view group);
std::string group_offsets(std::int32_t slot, std::string_view group, std::string_view topic,
                          std::int32_t chunk);
// Explicit configs of a group (GROUP config resource, coordinator/group_configs.h),
// kept whether or not the group exists, outside the slot layout: any broker writes them.
std::string group_configs_prefix();  // "/ks/group-configs/"
std::string group_config(std::string_view group);
// The group of group_config(group); nullopt for any other key.
std::optional<std::string> parse_group_config_key(std::string_view key);
std::string encode_group_id(std::string_view group);

// ACLs (security/acl_store.h): one key per binding, so creating one twice writes the same key.
std::string acls_prefix();  // "/ks/acls/"
std::string acl(int resource_type, int pattern_type, int operation, int permission, std::string_view name,
                std::string_view principal, std::string_view host);
std::optional<std::string> decode_group_id(std::string_view enc);

struct GroupKey {
  enum class Kind { kMeta, kOffsets };
  Kind kind = Kind::kMeta;
  std::int32_t slot = 0;  // as written in the key (the caller checks it is the group's slot)
  std::string group;
  std::string topic;
  std::int32_t chunk = 0;
};
// nullopt for keys outside the group layout.
std::optional<GroupKey> parse_group_key(std::string_view key);

// Object store names.
std::string all_objects_prefix();             // "objects/"
std::string all_stream_checkpoints_prefix();  // "streams/"
std::string all_checkpoints_prefix();         // "checkpoints/" (single-node layout)
// The node that wrote "objects/<node>/..." or "streams/<s>/<node>/..."; nullopt otherwise.
std::optional<std::int32_t> object_node(std::string_view key);
// The stream of "streams/<s>/<node>/..."; nullopt otherwise.
std::optional<std::int32_t> stream_checkpoint_object_stream(std::string_view key);
std::string objects_prefix(std::int32_t node);
std::string checkpoints_prefix(std::int32_t node);
std::string object(std::int32_t node, std::uint64_t epoch, std::uint64_t seq);
std::string checkpoint_object(std::int32_t node, std::uint64_t epoch, std::uint64_t seq);
std::string stream_checkpoints_prefix(std::int32_t stream);
std::string stream_checkpoint_object(std::int32_t stream, std::int32_t node, std::uint64_t epoch,
                                     std::uint64_t seq);
struct ObjectName {
  std::uint64_t epoch = 0;
  std::uint64_t seq = 0;
};
// ".../<epoch:016x>-<seq:016x>.kso" or ".ksc" -> epoch and seq; nullopt for
// names we did not make.
std::optional<ObjectName> parse_object_name(std::string_view key);

}  // namespace ks::cluster::keys
