// Layout of KafScale's keys in the metadata store (etcd in production).
// Every value is versioned JSON ("v": 1) so later formats can coexist.
//
//   /ks/cluster                          {"v":1,"cluster_id":...}
//   /ks/topics/<name>                    topic record (id, partitions, configs)
//   /ks/brokers/<node>/owner             ownership key; its mod_revision is the broker epoch
//   /ks/brokers/<node>/commits/<seq:020> commit record of one flush (points at the object)
//   /ks/brokers/<node>/checkpoint        pointer to the latest checkpoint object
//
// Object store keys:
//   objects/<node>/<epoch:016x>-<seq:016x>.kso      log objects (one per flush)
//   checkpoints/<node>/<epoch:016x>-<seq:016x>.ksc  checkpoint snapshots
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "common/status.h"
#include "log/object_format.h"
#include "log/types.h"

namespace ks::log::keys {

inline const std::string kRoot = "/ks/";
std::string cluster();
std::string topics_prefix();
std::string topic(const std::string& name);
std::string owner(std::int32_t node);
std::string commits_prefix(std::int32_t node);
std::string commit(std::int32_t node, std::uint64_t seq);
std::string checkpoint(std::int32_t node);
std::string object(std::int32_t node, std::uint64_t epoch, std::uint64_t seq);
std::string checkpoint_object(std::int32_t node, std::uint64_t epoch, std::uint64_t seq);

}  // namespace ks::log::keys

namespace ks::log {

struct TopicRecord {
  std::string name;
  TopicId id{};
  std::int32_t partitions = 0;
  std::map<std::string, std::string> configs;
  std::int64_t created_ms = 0;
};
std::string encode_topic(const TopicRecord& t);
Result<TopicRecord> decode_topic(const std::string& json);

// One flush made visible. Small and of fixed shape whatever the number of
// partitions in the object: the object's footer indexes them.
struct CommitRecord {
  std::uint64_t seq = 0;
  std::uint64_t broker_epoch = 0;
  std::string object;
  std::uint64_t object_size = 0;
  FooterLocation footer;
  std::uint32_t footer_crc = 0;
};
std::string encode_commit(const CommitRecord& c);
Result<CommitRecord> decode_commit(const std::string& json);

struct CheckpointPointer {
  std::string object;
  std::uint64_t covers_seq = 0;  // every commit with seq <= covers_seq is in the checkpoint
  std::uint64_t broker_epoch = 0;
};
std::string encode_checkpoint_pointer(const CheckpointPointer& c);
Result<CheckpointPointer> decode_checkpoint_pointer(const std::string& json);

}  // namespace ks::log
