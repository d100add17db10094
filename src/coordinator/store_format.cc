#include "coordinator/store_format.h"

#include <fmt/format.h>

#include <charconv>
#include <climits>
#include <nlohmann/json.hpp>

#include "common/base64.h"

namespace ks::coordinator {

using json = nlohmann::json;

namespace {

// Client-chosen strings may be invalid UTF-8: replace such bytes rather than
// throw (no exceptions on the data plane).
std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

Status corrupt(std::string what) { return Status(Errc::corrupt, "group record: " + what); }

// Field readers that never throw (a damaged record must not take the broker down).
std::string str_field(const json& o, const char* k) {
  auto it = o.find(k);
  return it != o.end() && it->is_string() ? it->get<std::string>() : std::string();
}
std::int64_t int_field(const json& o, const char* k, std::int64_t fallback) {
  auto it = o.find(k);
  return it != o.end() && it->is_number_integer() ? it->get<std::int64_t>() : fallback;
}

}  // namespace

std::string encode_chunk(std::string_view topic, const Chunk& c) {
  json parts = json::array();
  for (const auto& [p, v] : c.parts) {
    json e = {{"p", p}, {"o", v.offset}, {"e", v.leader_epoch}, {"t", v.commit_ms}};
    if (!v.metadata.empty()) e["m"] = base64_encode(v.metadata);
    parts.push_back(std::move(e));
  }
  json j = {
      {"v", 1}, {"topic", std::string(topic)}, {"id", cluster::to_hex(c.topic_id)}, {"p", std::move(parts)}};
  return dump(j);
}

Result<Chunk> decode_chunk(std::string_view text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || int_field(j, "v", 0) != 1) return corrupt("offsets: bad version");
  Chunk c;
  auto id = j.find("id");
  if (id == j.end() || !id->is_string() || !cluster::from_hex(id->get<std::string>(), c.topic_id)) {
    return corrupt("offsets: bad topic id");
  }
  auto parts = j.find("p");
  if (parts == j.end() || !parts->is_array()) return corrupt("offsets: no partitions");
  for (const auto& e : *parts) {
    if (!e.is_object() || !e.contains("p") || !e.contains("o") || !e["p"].is_number_integer() ||
        !e["o"].is_number_integer()) {
      return corrupt("offsets: bad partition entry");
    }
    OffsetValue v;
    v.offset = e["o"].get<std::int64_t>();
    v.leader_epoch = static_cast<std::int32_t>(int_field(e, "e", -1));
    v.commit_ms = int_field(e, "t", 0);
    if (auto m = e.find("m"); m != e.end()) {
      if (!m->is_string()) return corrupt("offsets: bad metadata");
      auto d = base64_decode(m->get<std::string>());
      if (!d) return corrupt("offsets: bad metadata");
      v.metadata = std::move(*d);
    }
    const std::int64_t p = e["p"].get<std::int64_t>();
    if (p < 0 || p > INT32_MAX) return corrupt("offsets: bad partition");
    c.parts[static_cast<std::int32_t>(p)] = std::move(v);
  }
  return c;
}

std::string encode_group(const StoredGroup& g) {
  json members = json::array();
  for (const auto& m : g.members) {
    json e = {{"id", m.member_id},
              {"client_id", m.client_id},
              {"client_host", m.client_host},
              {"session_ms", m.session_timeout_ms},
              {"rebalance_ms", m.rebalance_timeout_ms},
              {"subscription", base64_encode(m.subscription)},
              {"assignment", base64_encode(m.assignment)}};
    if (m.instance_id) e["instance"] = *m.instance_id;
    members.push_back(std::move(e));
  }
  json j = {{"v", 1},
            {"protocol_type", g.protocol_type},
            {"generation", g.generation},
            {"leader", g.leader},
            {"state_ms", g.state_ms},
            {"members", std::move(members)}};
  j["protocol"] = g.protocol ? json(*g.protocol) : json(nullptr);
  if (g.consumer) {
    json c = json::parse(*g.consumer, nullptr, /*allow_exceptions=*/false);
    if (c.is_object()) j["consumer"] = std::move(c);
  }
  return dump(j);
}

Result<StoredGroup> decode_group(std::string_view text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || int_field(j, "v", 0) != 1) return corrupt("meta: bad version");
  StoredGroup g;
  auto str = str_field;
  auto num = [](const json& o, const char* k) { return int_field(o, k, 0); };
  g.protocol_type = str(j, "protocol_type");
  if (auto p = j.find("protocol"); p != j.end() && p->is_string()) g.protocol = p->get<std::string>();
  g.generation = static_cast<std::int32_t>(num(j, "generation"));
  g.leader = str(j, "leader");
  g.state_ms = num(j, "state_ms");
  auto members = j.find("members");
  if (members != j.end() && members->is_array()) {
    for (const auto& e : *members) {
      if (!e.is_object()) return corrupt("meta: bad member");
      StoredMember m;
      m.member_id = str(e, "id");
      if (auto i = e.find("instance"); i != e.end() && i->is_string()) m.instance_id = i->get<std::string>();
      m.client_id = str(e, "client_id");
      m.client_host = str(e, "client_host");
      m.session_timeout_ms = static_cast<std::int32_t>(num(e, "session_ms"));
      m.rebalance_timeout_ms = static_cast<std::int32_t>(num(e, "rebalance_ms"));
      auto sub = base64_decode(str(e, "subscription"));
      auto asg = base64_decode(str(e, "assignment"));
      if (m.member_id.empty() || !sub || !asg) return corrupt("meta: bad member");
      m.subscription = std::move(*sub);
      m.assignment = std::move(*asg);
      g.members.push_back(std::move(m));
    }
  }
  if (auto c = j.find("consumer"); c != j.end()) {
    if (!c->is_object()) return corrupt("meta: bad consumer group state");
    g.consumer = dump(*c);
  }
  return g;
}

std::optional<std::vector<std::string>> subscribed_topics(std::string_view b) {
  // ConsumerProtocolSubscription: int16 version, int32 count, count x
  // (int16 length, bytes), then fields we do not need.
  auto u16 = [&](std::size_t at) {
    return static_cast<std::int16_t>((std::uint8_t(b[at]) << 8) | std::uint8_t(b[at + 1]));
  };
  if (b.size() < 6) return std::nullopt;
  if (u16(0) < 0) return std::nullopt;
  std::int32_t n = static_cast<std::int32_t>((std::uint32_t(std::uint8_t(b[2])) << 24) |
                                             (std::uint32_t(std::uint8_t(b[3])) << 16) |
                                             (std::uint32_t(std::uint8_t(b[4])) << 8) | std::uint8_t(b[5]));
  // Each topic takes at least 2 bytes, which bounds n by the input size.
  if (n < 0 || static_cast<std::size_t>(n) > (b.size() - 6) / 2) return std::nullopt;
  std::vector<std::string> topics;
  std::size_t at = 6;
  for (std::int32_t i = 0; i < n; ++i) {
    if (at + 2 > b.size()) return std::nullopt;
    std::int16_t len = u16(at);
    at += 2;
    if (len < 0 || at + static_cast<std::size_t>(len) > b.size()) return std::nullopt;
    topics.emplace_back(b.substr(at, static_cast<std::size_t>(len)));
    at += static_cast<std::size_t>(len);
  }
  return topics;
}

}  // namespace ks::coordinator
