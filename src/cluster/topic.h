// A topic as the cluster knows it: its record in the metadata store
// (/ks/topics/<name>) and the settings its configs give.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "cluster/topic_config.h"
#include "cluster/types.h"
#include "common/status.h"

namespace ks::cluster {

struct TopicRecord {
  std::string name;
  TopicId id{};
  std::int32_t partitions = 0;
  std::map<std::string, std::string> configs;
  std::int64_t created_ms = 0;
  // Partition p lives in stream (stream_base + p) mod streams (cluster/streams.h).
  std::int32_t stream_base = 0;
};
std::string encode_topic(const TopicRecord& t);
Result<TopicRecord> decode_topic(const std::string& json);

struct TopicInfo {
  TopicRecord record;
  TopicSettings settings;
};

}  // namespace ks::cluster
