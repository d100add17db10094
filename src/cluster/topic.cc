#include "cluster/topic.h"

#include "common/versioned_json.h"

namespace ks::cluster {

using nlohmann::json;

std::string encode_topic(const TopicRecord& t) {
  json j = {{"v", 1},
            {"name", t.name},
            {"id", to_hex(t.id)},
            {"partitions", t.partitions},
            {"configs", t.configs},
            {"created_ms", t.created_ms},
            {"stream_base", t.stream_base}};
  return j.dump();
}

Result<TopicRecord> decode_topic(const std::string& text) {
  return parse_versioned(text, "topic record", [](const json& j) -> Result<TopicRecord> {
    TopicRecord t;
    t.name = j.at("name").get<std::string>();
    if (!from_hex(j.at("id").get<std::string>(), t.id)) return Status(Errc::corrupt, "topic record: bad id");
    t.partitions = j.at("partitions").get<std::int32_t>();
    t.configs = j.at("configs").get<std::map<std::string, std::string>>();
    t.created_ms = j.value("created_ms", std::int64_t{0});
    t.stream_base = j.value("stream_base", std::int32_t{0});
    if (t.stream_base < 0) return Status(Errc::corrupt, "topic record: negative stream_base");
    return t;
  });
}

}  // namespace ks::cluster
