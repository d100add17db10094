// Upgrade of a metadata prefix written by the single-node layout (before
// streams; docs/ARCHITECTURE.md, "Many brokers", upgrade). Run by a broker at
// start, before anything reads the cluster record.
//
// The single-node layout: /ks/cluster without "streams", one node's log as
// /ks/brokers/<n>/checkpoint (a format v1 checkpoint of every partition) plus
// its commit records (no stream list: they carry every stream), topics
// without stream_base (read as 0), groups at /ks/groups/<group>/...
//
// The upgrade, idempotent and safe to interrupt at any step:
//  1. copy every group key to its slot (/ks/groups/<slot:04>/<group>/...),
//     same value (keys already in the slotted layout are skipped);
//  2. ONE transaction, compared on the cluster record's revision: the record
//     gets "streams", and every stream's checkpoint pointer names the old
//     node's checkpoint and sequence. Each stream's first owner then rebuilds
//     it from that checkpoint (taking only its partitions) plus the node's
//     later commit records, as after any move;
//  3. delete the old group keys.
// A second broker upgrading at the same time loses the compare and finds the
// upgraded layout. The old broker process must be stopped first: its commits
// compare only its node key (a new process of the same id fences it).
//
// Blocking: call it on a worker thread.
#pragma once

#include <cstdint>

#include "common/status.h"
#include "metastore/metadata_store.h"

namespace ks::log {

struct UpgradeReport {
  bool upgraded = false;   // false: nothing to do (no cluster yet, or already streams)
  std::int32_t node = -1;  // the old log's node (-1: no log data)
  std::size_t group_keys = 0;
};

// `streams`: the stream count the upgraded cluster gets (1..kMaxStreams).
Result<UpgradeReport> upgrade_single_node_layout(metastore::MetadataStore& meta, std::int32_t streams);

}  // namespace ks::log
