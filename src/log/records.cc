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
  if (c.streams != kAllStreams) {
    json list = json::array();
    for (std::int32_t s = 0; s < 64; ++s) {
      if ((c.streams & stream_bit(s)) != 0) list.push_back(s);
    }
    j["streams"] = list;
  }
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
    if (j.contains("streams")) {
      c.streams = 0;
      for (const auto& s : j.at("streams")) {
        auto v = s.get<std::int32_t>();
        if (v < 0 || v >= 64) return Status(Errc::corrupt, "commit record: bad stream");
        c.streams |= stream_bit(v);
      }
    }
    return c;
  });
}

std::string encode_checkpoint_pointer(const CheckpointPointer& c) {
  json j = {{"v", 1},
            {"object", c.object},
            {"covers_seq", c.covers_seq},
            {"epoch", c.broker_epoch},
            {"node", c.node}};
  return j.dump();
}

Result<CheckpointPointer> decode_checkpoint_pointer(const std::string& text) {
  return parse_versioned(text, "checkpoint pointer", [](const json& j) -> Result<CheckpointPointer> {
    CheckpointPointer c;
    c.object = j.at("object").get<std::string>();
    c.covers_seq = j.at("covers_seq").get<std::uint64_t>();
    c.broker_epoch = j.at("epoch").get<std::uint64_t>();
    c.node = j.value("node", std::int32_t{-1});
    return c;
  });
}

std::string encode_stream_owner(const StreamOwnerRecord& o) {
  json j = {{"v", 1},
            {"node", o.node},
            {"state", o.released ? "released" : "owned"},
            {"leader_epoch", o.leader_epoch}};
  return j.dump();
}

Result<StreamOwnerRecord> decode_stream_owner(const std::string& text) {
  return parse_versioned(text, "stream owner", [](const json& j) -> Result<StreamOwnerRecord> {
    StreamOwnerRecord o;
    o.node = j.at("node").get<std::int32_t>();
    o.released = j.at("state").get<std::string>() == "released";
    o.leader_epoch = j.value("leader_epoch", std::int32_t{0});
    return o;
  });
}

}  // namespace ks::log
