// The log's records in the metadata store (keys in cluster/keys.h): the
// commit record of one flush and the pointer to the latest checkpoint.
// Every value is versioned JSON ("v": 1) so later formats can coexist.
#pragma once

#include <cstdint>
#include <string>

#include "cluster/keys.h"
#include "cluster/topic.h"
#include "common/status.h"
#include "log/object_format.h"
#include "log/partition.h"
#include "log/types.h"

namespace ks::log {

namespace keys = cluster::keys;
using cluster::TopicInfo;
using cluster::TopicRecord;
using cluster::TopicSettings;

// One flush made visible. Small and of fixed shape whatever the number of
// partitions in the object: the object's footer indexes them.
struct CommitRecord {
  std::uint64_t seq = 0;
  std::uint64_t broker_epoch = 0;
  std::string object;
  std::uint64_t object_size = 0;
  FooterLocation footer;
  std::uint32_t footer_crc = 0;
  // Streams with data in the object (a mask; absent in single-node records: all).
  std::uint64_t streams = kAllStreams;
};
std::string encode_commit(const CommitRecord& c);
Result<CommitRecord> decode_commit(const std::string& json);

// /ks/streams/<s>/checkpoint: the stream's state is this checkpoint plus the
// commit records of `node` after covers_seq that carry the stream.
struct CheckpointPointer {
  std::string object;            // empty: the stream had no partition state
  std::uint64_t covers_seq = 0;  // every commit of `node` with seq <= covers_seq is in the checkpoint
  std::uint64_t broker_epoch = 0;
  std::int32_t node = -1;
};

// /ks/streams/<s>/owner: who owns the stream (its mod_revision fences).
struct StreamOwnerRecord {
  std::int32_t node = -1;
  bool released = false;
  std::int32_t leader_epoch = 0;
};
std::string encode_stream_owner(const StreamOwnerRecord& o);
Result<StreamOwnerRecord> decode_stream_owner(const std::string& json);
std::string encode_checkpoint_pointer(const CheckpointPointer& c);
Result<CheckpointPointer> decode_checkpoint_pointer(const std::string& json);

}  // namespace ks::log
