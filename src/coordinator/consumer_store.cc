#include "coordinator/consumer_store.h"

#include <nlohmann/json.hpp>

namespace ks::coordinator {

using json = nlohmann::json;

namespace {

Status corrupt(std::string what) { return Status(Errc::corrupt, "consumer group record: " + what); }

json encode_assignment(const Assignment& a) {
  json out = json::object();
  for (const auto& [t, ps] : a) out[cluster::to_hex(t)] = std::vector<std::int32_t>(ps.begin(), ps.end());
  return out;
}

bool decode_assignment(const json& j, Assignment& out) {
  if (!j.is_object()) return false;
  for (const auto& [k, v] : j.items()) {
    cluster::TopicId t{};
    if (!cluster::from_hex(k, t) || !v.is_array()) return false;
    auto& ps = out[t];
    for (const auto& p : v) {
      if (!p.is_number_integer()) return false;
      const auto n = p.get<std::int64_t>();
      if (n < 0 || n > INT32_MAX) return false;
      ps.insert(static_cast<std::int32_t>(n));
    }
    if (ps.empty()) out.erase(t);
  }
  return true;
}

std::string str(const json& o, const char* k) {
  auto it = o.find(k);
  return it != o.end() && it->is_string() ? it->get<std::string>() : std::string();
}
std::optional<std::string> opt_str(const json& o, const char* k) {
  auto it = o.find(k);
  if (it != o.end() && it->is_string()) return it->get<std::string>();
  return std::nullopt;
}
std::int32_t num(const json& o, const char* k) {
  auto it = o.find(k);
  if (it == o.end() || !it->is_number_integer()) return 0;
  const auto v = it->get<std::int64_t>();
  return v < INT32_MIN || v > INT32_MAX ? 0 : static_cast<std::int32_t>(v);
}

}  // namespace

std::string encode_consumer_state(const ConsumerGroupState& cg) {
  json members = json::array();
  for (const auto& [id, m] : cg.members) {
    json e = {{"id", id},
              {"client_id", m.client_id},
              {"client_host", m.client_host},
              {"topics", m.topic_names},
              {"assignor", m.server_assignor},
              {"rebalance_ms", m.rebalance_timeout_ms},
              {"epoch", m.epoch},
              {"previous_epoch", m.previous_epoch},
              {"state", static_cast<int>(m.state)},
              {"assigned", encode_assignment(m.assigned)},
              {"pending", encode_assignment(m.pending_revocation)}};
    if (m.instance_id) e["instance"] = *m.instance_id;
    if (m.rack_id) e["rack"] = *m.rack_id;
    if (m.regex) e["regex"] = *m.regex;
    members.push_back(std::move(e));
  }
  json target = json::object();
  for (const auto& [id, a] : cg.target) target[id] = encode_assignment(a);
  json topics = json::object();
  for (const auto& [name, idp] : cg.subscribed_topics)
    topics[name] = {{"id", cluster::to_hex(idp.first)}, {"partitions", idp.second}};
  json j = {{"group_epoch", cg.group_epoch},
            {"assignment_epoch", cg.assignment_epoch},
            {"members", std::move(members)},
            {"target", std::move(target)},
            {"topics", std::move(topics)}};
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<ConsumerGroupState> decode_consumer_state(std::string_view text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return corrupt("not an object");
  ConsumerGroupState cg;
  cg.group_epoch = num(j, "group_epoch");
  cg.assignment_epoch = num(j, "assignment_epoch");
  if (auto ms = j.find("members"); ms != j.end() && ms->is_array()) {
    for (const auto& e : *ms) {
      if (!e.is_object()) return corrupt("bad member");
      ConsumerMember m;
      m.id = str(e, "id");
      if (m.id.empty()) return corrupt("member without id");
      m.instance_id = opt_str(e, "instance");
      m.rack_id = opt_str(e, "rack");
      m.regex = opt_str(e, "regex");
      m.client_id = str(e, "client_id");
      m.client_host = str(e, "client_host");
      m.server_assignor = str(e, "assignor");
      if (auto ts = e.find("topics"); ts != e.end() && ts->is_array()) {
        for (const auto& t : *ts) {
          if (t.is_string()) m.topic_names.push_back(t.get<std::string>());
        }
      }
      m.rebalance_timeout_ms = num(e, "rebalance_ms");
      m.epoch = num(e, "epoch");
      m.previous_epoch = num(e, "previous_epoch");
      const int st = num(e, "state");
      if (st < 0 || st > static_cast<int>(MemberState::kUnreleasedPartitions))
        return corrupt("bad member state");
      m.state = static_cast<MemberState>(st);
      auto a = e.find("assigned");
      auto p = e.find("pending");
      if (a == e.end() || p == e.end() || !decode_assignment(*a, m.assigned) ||
          !decode_assignment(*p, m.pending_revocation))
        return corrupt("bad member assignment");
      if (m.instance_id) cg.instances[*m.instance_id] = m.id;
      for (const auto* as : {&m.assigned, &m.pending_revocation}) {
        for (const auto& [t, ps] : *as) {
          for (auto part : ps) cg.owners[{t, part}] = m.id;
        }
      }
      cg.members.emplace(m.id, std::move(m));
    }
  }
  if (auto t = j.find("target"); t != j.end() && t->is_object()) {
    for (const auto& [id, a] : t->items()) {
      if (!decode_assignment(a, cg.target[id])) return corrupt("bad target");
    }
  }
  if (auto ts = j.find("topics"); ts != j.end() && ts->is_object()) {
    for (const auto& [name, v] : ts->items()) {
      cluster::TopicId id{};
      if (!v.is_object() || !cluster::from_hex(str(v, "id"), id)) return corrupt("bad topic");
      cg.subscribed_topics[name] = {id, num(v, "partitions")};
    }
  }
  return cg;
}

}  // namespace ks::coordinator
