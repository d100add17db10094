#include "log/meta_keys.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

namespace ks::log::keys {

std::string cluster() { return kRoot + "cluster"; }
std::string topics_prefix() { return kRoot + "topics/"; }
std::string topic(const std::string& name) { return topics_prefix() + name; }
std::string owner(std::int32_t node) { return fmt::format("{}brokers/{}/owner", kRoot, node); }
std::string commits_prefix(std::int32_t node) { return fmt::format("{}brokers/{}/commits/", kRoot, node); }
std::string commit(std::int32_t node, std::uint64_t seq) {
  return fmt::format("{}{:020}", commits_prefix(node), seq);
}
std::string checkpoint(std::int32_t node) { return fmt::format("{}brokers/{}/checkpoint", kRoot, node); }
std::string object(std::int32_t node, std::uint64_t epoch, std::uint64_t seq) {
  return fmt::format("objects/{}/{:016x}-{:016x}.kso", node, epoch, seq);
}
std::string checkpoint_object(std::int32_t node, std::uint64_t epoch, std::uint64_t seq) {
  return fmt::format("checkpoints/{}/{:016x}-{:016x}.ksc", node, epoch, seq);
}

}  // namespace ks::log::keys

namespace ks::log {

using nlohmann::json;

namespace {

template <class F>
auto parse_versioned(const std::string& text, const char* what, F f) -> decltype(f(json{})) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Status(Errc::corrupt, fmt::format("{}: not JSON", what));
  auto v = j.find("v");
  if (v == j.end() || !v->is_number_integer() || v->get<int>() != 1) {
    return Status(Errc::corrupt, fmt::format("{}: unsupported format version", what));
  }
  // Type mismatches inside a well-formed record are corruption, reported not thrown.
  try {
    return f(j);
  } catch (const json::exception& e) {
    return Status(Errc::corrupt, fmt::format("{}: {}", what, e.what()));
  }
}

}  // namespace

std::string encode_topic(const TopicRecord& t) {
  json j = {{"v", 1},
            {"name", t.name},
            {"id", to_hex(t.id)},
            {"partitions", t.partitions},
            {"configs", t.configs},
            {"created_ms", t.created_ms}};
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
    return t;
  });
}

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
