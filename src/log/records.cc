#include "log/records.h"

#include "common/versioned_json.h"

namespace ks::log {

using nlohmann::json;

std::string encode_commit(const CommitRecord& c) {
  json j = {{"v", 1},
            {"seq", c.seq},
            {"epoch", c.broker_epoch},
            {"object", c.object},
            {"size", c.object_size},
            {"footer_pos", c.footer.position},
            {"footer_len", c.footer.length},
            {"footer_crc", c.footer_crc}};
  return j.dump();
}

Result<CommitRecord> decode_commit(const std::string& text) {
  return parse_versioned(text, "commit record", [](const json& j) -> Result<CommitRecord> {
    CommitRecord c;
    c.seq = j.at("seq").get<std::uint64_t>();
    c.broker_epoch = j.at("epoch").get<std::uint64_t>();
    c.object = j.at("object").get<std::string>();
    c.object_size = j.at("size").get<std::uint64_t>();
    c.footer.position = j.at("footer_pos").get<std::uint64_t>();
    c.footer.length = j.at("footer_len").get<std::uint32_t>();
    c.footer_crc = j.at("footer_crc").get<std::uint32_t>();
    return c;
  });
}

std::string encode_checkpoint_pointer(const CheckpointPointer& c) {
  json j = {{"v", 1}, {"object", c.object}, {"covers_seq", c.covers_seq}, {"epoch", c.broker_epoch}};
  return j.dump();
}

Result<CheckpointPointer> decode_checkpoint_pointer(const std::string& text) {
  return parse_versioned(text, "checkpoint pointer", [](const json& j) -> Result<CheckpointPointer> {
    CheckpointPointer c;
    c.object = j.at("object").get<std::string>();
    c.covers_seq = j.at("covers_seq").get<std::uint64_t>();
    c.broker_epoch = j.at("epoch").get<std::uint64_t>();
    return c;
  });
}

}  // namespace ks::log
