// The log names topics and partitions with the cluster's identifiers
// (cluster/types.h); these are the names it uses unqualified.
#pragma once

#include "cluster/types.h"

namespace ks::log {

using cluster::from_hex;
using cluster::PartitionKey;
using cluster::PartitionKeyHash;
using cluster::random_topic_id;
using cluster::to_hex;
using cluster::TopicId;

}  // namespace ks::log
