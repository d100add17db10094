#include "cluster/topic_config.h"

#include <charconv>

namespace ks::cluster {

const std::vector<TopicConfigSpec>& topic_config_specs() {
  using T = TopicConfigSpec::Type;
  static const std::vector<TopicConfigSpec> specs = {
      {"cleanup.policy", "delete", T::kList,
       "Retention policy of old log data; only delete is supported (compaction is not)."},
      {"compression.type", "producer", T::kString,
       "Codec of the stored batches: producer keeps each batch as sent; uncompressed, gzip, snappy, lz4 or "
       "zstd makes the broker recompress batches of another codec."},
      {"delete.retention.ms", "86400000", T::kLong,
       "How long delete tombstones are kept for compacted topics; accepted, not used (no compaction)."},
      {"file.delete.delay.ms", "60000", T::kLong,
       "Delay before a deleted segment file is removed; accepted, not used (the log lives in the object "
       "store)."},
      {"flush.messages", "9223372036854775807", T::kLong,
       "Records between forced fsyncs of the local log; accepted, not used (a batch is acknowledged once "
       "stored in the object store)."},
      {"flush.ms", "9223372036854775807", T::kLong,
       "Time between forced fsyncs of the local log; accepted, not used (a batch is acknowledged once stored "
       "in the object store)."},
      {"index.interval.bytes", "4096", T::kInt, "Bytes between offset index entries; accepted, not used."},
      {"max.compaction.lag.ms", "9223372036854775807", T::kLong,
       "Longest time a record stays uncompacted; accepted, not used (no compaction)."},
      {"max.message.bytes", "1048588", T::kInt,
       "Largest record batch the topic accepts, in bytes (MESSAGE_TOO_LARGE above it)."},
      {"message.timestamp.after.max.ms", "9223372036854775807", T::kLong,
       "How far in the future a record timestamp may be; accepted, not checked."},
      {"message.timestamp.before.max.ms", "9223372036854775807", T::kLong,
       "How far in the past a record timestamp may be; accepted, not checked."},
      {"message.timestamp.difference.max.ms", "9223372036854775807", T::kLong,
       "Largest difference between a record timestamp and the broker clock; accepted, not checked."},
      {"message.timestamp.type", "CreateTime", T::kString,
       "CreateTime keeps the producer's timestamps, LogAppendTime replaces them with the broker's time."},
      {"min.cleanable.dirty.ratio", "0.5", T::kDouble,
       "Dirty share of the log that triggers compaction; accepted, not used (no compaction)."},
      {"min.compaction.lag.ms", "0", T::kLong,
       "Shortest time a record stays uncompacted; accepted, not used (no compaction)."},
      {"min.insync.replicas", "1", T::kInt,
       "Replicas that must acknowledge an acks=all write; one stored replica here."},
      {"preallocate", "false", T::kBool, "Preallocate segment files; accepted, not used."},
      {"retention.bytes", "-1", T::kLong,
       "Largest size of a partition before its oldest data is deleted; -1 for no limit."},
      {"retention.ms", "604800000", T::kLong,
       "How long records are kept before they are deleted; -1 for no limit."},
      {"segment.bytes", "1073741824", T::kInt,
       "Size of one local log segment; accepted, not used (objects are sized by flushes)."},
      {"segment.index.bytes", "10485760", T::kInt, "Size of one segment's offset index; accepted, not used."},
      {"segment.jitter.ms", "0", T::kLong, "Random jitter of segment rolling; accepted, not used."},
      {"segment.ms", "604800000", T::kLong,
       "Time after which a segment is rolled; accepted, not used (objects are sized by flushes)."},
      {"unclean.leader.election.enable", "false", T::kBool,
       "Whether a replica out of sync may become leader; accepted, not used (one stored replica)."},
      {"message.downconversion.enable", "true", T::kBool,
       "Whether fetches may down-convert to older message formats; accepted, not used."},
  };
  return specs;
}

const TopicConfigSpec* find_topic_config(const std::string& name) {
  for (const auto& s : topic_config_specs()) {
    if (name == s.name) return &s;
  }
  return nullptr;
}

namespace {

bool parse_i64(const std::string& v, std::int64_t& out) {
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  return ec == std::errc() && p == v.data() + v.size() && !v.empty();
}

}  // namespace

int compression_codec(std::string_view value) {
  if (value == "producer") return -1;
  static constexpr std::string_view kCodecs[] = {"uncompressed", "gzip", "snappy", "lz4", "zstd"};
  for (int i = 0; i < 5; ++i) {
    if (value == kCodecs[i]) return i;  // the RecordBatch attribute value
  }
  return kUnknownCompression;
}

std::optional<std::string> validate_topic_config(const std::string& name, const std::string& value) {
  const TopicConfigSpec* spec = find_topic_config(name);
  if (spec == nullptr) return "Unknown topic config name: " + name;
  using T = TopicConfigSpec::Type;
  std::int64_t n = 0;
  switch (spec->type) {
    case T::kLong:
      if (!parse_i64(value, n))
        return "Invalid value " + value + " for configuration " + name + ": Not a number of type LONG";
      break;
    case T::kInt:
      if (!parse_i64(value, n) || n < INT32_MIN || n > INT32_MAX) {
        return "Invalid value " + value + " for configuration " + name + ": Not a number of type INT";
      }
      break;
    case T::kBool:
      if (value != "true" && value != "false")
        return "Invalid value " + value + " for configuration " + name +
               ": Expected value to be either true or false";
      break;
    case T::kDouble: {
      char* end = nullptr;
      std::strtod(value.c_str(), &end);
      if (value.empty() || end != value.c_str() + value.size())
        return "Invalid value " + value + " for configuration " + name + ": Not a number of type DOUBLE";
      break;
    }
    case T::kString:
    case T::kList:
      break;
  }
  if (name == "cleanup.policy") {
    // Compaction is not supported: keeping a compacted topic under delete
    // retention would silently lose a user's latest values.
    if (value.find("compact") != std::string::npos) {
      return "cleanup.policy=compact is not supported by KafScale (only delete)";
    }
    if (value != "delete") return "Invalid value " + value + " for configuration cleanup.policy";
  }
  if (name == "message.timestamp.type" && value != "CreateTime" && value != "LogAppendTime") {
    return "Invalid value " + value +
           " for configuration message.timestamp.type: String must be one of: CreateTime, LogAppendTime";
  }
  if (name == "compression.type" && compression_codec(value) == kUnknownCompression) {
    return "Invalid value " + value +
           " for configuration compression.type: String must be one of: uncompressed, zstd, lz4, snappy, "
           "gzip, "
           "producer";
  }
  if (name == "max.message.bytes" && n < 0)
    return "Invalid value " + value + " for configuration max.message.bytes: Value must be at least 0";
  if (name == "retention.ms" && n < -1)
    return "Invalid value " + value + " for configuration retention.ms: Value must be at least -1";
  return std::nullopt;
}

TopicSettings effective_settings(const std::map<std::string, std::string>& configs) {
  TopicSettings s;
  auto get = [&](const char* name, std::int64_t& out) {
    auto it = configs.find(name);
    if (it != configs.end()) parse_i64(it->second, out);
  };
  get("max.message.bytes", s.max_message_bytes);
  get("retention.ms", s.retention_ms);
  get("retention.bytes", s.retention_bytes);
  auto ts = configs.find("message.timestamp.type");
  s.log_append_time = ts != configs.end() && ts->second == "LogAppendTime";
  auto ct = configs.find("compression.type");
  if (ct != configs.end() && compression_codec(ct->second) != kUnknownCompression) {
    s.compression = compression_codec(ct->second);
  }
  return s;
}

}  // namespace ks::cluster
