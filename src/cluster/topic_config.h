// Topic configurations: Kafka's names and defaults. Unknown names and bad
// values are rejected (INVALID_CONFIG) rather than stored and ignored.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ks::cluster {

struct TopicConfigSpec {
  const char* name;
  const char* default_value;
  enum class Type { kLong, kInt, kString, kBool, kDouble, kList } type;
  const char* doc;  // DescribeConfigs documentation (v3+, when asked for): what it does here
};

// Every topic config we accept, with Kafka's default values.
const std::vector<TopicConfigSpec>& topic_config_specs();
const TopicConfigSpec* find_topic_config(const std::string& name);

// Validates one name/value pair; returns an error message or nullopt.
std::optional<std::string> validate_topic_config(const std::string& name, const std::string& value);

// Effective settings of a topic (explicit configs over defaults).
struct TopicSettings {
  std::int64_t max_message_bytes = 1048588;
  std::int64_t retention_ms = 604800000;
  std::int64_t retention_bytes = -1;
  bool log_append_time = false;
  // compression.type: -1 keeps what the producer sent ("producer"); else the
  // RecordBatch codec (0 uncompressed, 1 gzip, 2 snappy, 3 lz4, 4 zstd) every
  // produced batch is stored with, recompressed by the broker when it differs.
  int compression = -1;
};
// compression.type values: -1 for "producer", the RecordBatch codec (0..4) for
// uncompressed, gzip, snappy, lz4 and zstd, kUnknownCompression otherwise.
inline constexpr int kUnknownCompression = -2;
int compression_codec(std::string_view value);
TopicSettings effective_settings(const std::map<std::string, std::string>& configs);

}  // namespace ks::cluster
