// Streams: the cluster's partitions and group slots cut into a fixed number
// of log streams, the unit of ownership, fencing, checkpoints and moves
// (docs/ARCHITECTURE.md, "Many brokers").
//
// - Partition p of a topic lives in stream (stream_base + p) mod S.
// - Consumer group g is coordinated by the owner of stream crc32c(g) mod S.
// - A Fence is the compare that proves a write comes from the current owner
//   of one key (a stream's owner key, a node's incarnation key).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/crc32c.h"
#include "metastore/metadata_store.h"

namespace ks::cluster {

// At most this many streams: a commit compares one owner key per stream it
// carries, and etcd allows 128 operations per transaction.
inline constexpr std::int32_t kMaxStreams = 56;
inline constexpr std::int32_t kDefaultStreams = 16;

inline std::int32_t stream_of(std::int32_t stream_base, std::int32_t partition, std::int32_t streams) {
  return static_cast<std::int32_t>((static_cast<std::int64_t>(stream_base) + partition) % streams);
}

inline std::int32_t group_slot(std::string_view group, std::int32_t streams) {
  return static_cast<std::int32_t>(crc32c(group) % static_cast<std::uint32_t>(streams));
}

// "This key still has the revision we wrote": the one shape of every fenced
// write. revision 0 = not owned (a write carrying it always fails).
struct Fence {
  std::string key;
  std::int64_t revision = 0;

  metastore::Compare compare() const {
    return metastore::Compare{
        key, metastore::Compare::Target::mod_revision, metastore::Compare::Result::equal, revision, {}};
  }
  // For a transaction's failure branch: tells "fenced" from other failures.
  metastore::Op read() const { return metastore::Op::get(key); }
};

}  // namespace ks::cluster
