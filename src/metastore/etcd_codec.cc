// The gateway's primitives (checked JSON access, key prefixes) and
// the request bodies. Responses: etcd_decode.cc.
#include "metastore/etcd_codec.h"

#include <charconv>

#include "common/base64.h"

namespace ks::metastore::etcd {

// ---------------------------------------------------------------------------
// Checked JSON access

const json* field(const json& j, const char* name) {
  if (!j.is_object()) return nullptr;
  auto it = j.find(name);
  return it == j.end() || it->is_null() ? nullptr : &*it;
}

std::int64_t num(const json& j, const char* name) {
  const json* f = field(j, name);
  if (f == nullptr) return 0;
  if (f->is_number_integer()) return f->get<std::int64_t>();
  if (f->is_string()) {
    const auto& s = f->get_ref<const std::string&>();
    std::int64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec == std::errc() && p == s.data() + s.size()) return v;
  }
  return 0;
}

bool flag(const json& j, const char* name) {
  const json* f = field(j, name);
  return f != nullptr && f->is_boolean() && f->get<bool>();
}

std::string str(const json& j, const char* name) {
  const json* f = field(j, name);
  return f != nullptr && f->is_string() ? f->get<std::string>() : std::string();
}

std::string num_str(std::int64_t v) { return std::to_string(v); }

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

Status corrupt(const std::string& what) { return Status(Errc::corrupt, "etcd: malformed response: " + what); }

// ---------------------------------------------------------------------------
// Keys

std::string KeyPrefix::end(const std::string& e) const {
  if (e.empty()) return {};
  if (e.size() == 1 && e[0] == '\0') return prefix.empty() ? e : prefix_end(prefix);
  return prefix + e;
}

std::string KeyPrefix::strip(std::string k) const {
  if (!prefix.empty() && k.compare(0, prefix.size(), prefix) == 0) k.erase(0, prefix.size());
  return k;
}

// ---------------------------------------------------------------------------
// Requests

namespace {

json range_json(const KeyPrefix& keys, const std::string& k, const std::string& e) {
  json j = json::object();
  j["key"] = base64_encode(keys.key(k));
  if (!e.empty()) j["range_end"] = base64_encode(keys.end(e));
  return j;
}

json op_json(const KeyPrefix& keys, const Op& op) {
  json j = json::object();
  switch (op.type) {
    case Op::Type::put: {
      json p = json::object();
      p["key"] = base64_encode(keys.key(op.key));
      p["value"] = base64_encode(op.value);
      if (op.lease != 0) p["lease"] = num_str(op.lease);
      if (op.prev_kv) p["prev_kv"] = true;
      j["request_put"] = std::move(p);
      break;
    }
    case Op::Type::delete_range: {
      json d = range_json(keys, op.key, op.range_end);
      if (op.prev_kv) d["prev_kv"] = true;
      j["request_delete_range"] = std::move(d);
      break;
    }
    case Op::Type::range:
      j["request_range"] = range_json(keys, op.key, op.range_end);
      break;
  }
  return j;
}

json compare_json(const KeyPrefix& keys, const Compare& c) {
  static constexpr const char* kTargets[] = {"VERSION", "CREATE", "MOD", "VALUE", "LEASE"};
  static constexpr const char* kResults[] = {"EQUAL", "GREATER", "LESS", "NOT_EQUAL"};
  json j = json::object();
  j["key"] = base64_encode(keys.key(c.key));
  j["target"] = kTargets[static_cast<int>(c.target)];
  j["result"] = kResults[static_cast<int>(c.result)];
  switch (c.target) {
    case Compare::Target::version:
      j["version"] = num_str(c.number);
      break;
    case Compare::Target::create_revision:
      j["create_revision"] = num_str(c.number);
      break;
    case Compare::Target::mod_revision:
      j["mod_revision"] = num_str(c.number);
      break;
    case Compare::Target::value:
      j["value"] = base64_encode(c.value);
      break;
    case Compare::Target::lease:
      j["lease"] = num_str(c.number);
      break;
  }
  return j;
}

}  // namespace

json encode_range(const KeyPrefix& keys, const RangeRequest& req) {
  json j = range_json(keys, req.key, req.range_end);
  if (req.limit != 0) j["limit"] = num_str(req.limit);
  if (req.revision != 0) j["revision"] = num_str(req.revision);
  if (req.keys_only) j["keys_only"] = true;
  if (req.count_only) j["count_only"] = true;
  return j;
}

json encode_put(const KeyPrefix& keys, const std::string& key, const std::string& value, LeaseId lease) {
  json j = json::object();
  j["key"] = base64_encode(keys.key(key));
  j["value"] = base64_encode(value);
  if (lease != 0) j["lease"] = num_str(lease);
  return j;
}

json encode_delete_range(const KeyPrefix& keys, const std::string& key, const std::string& range_end) {
  return range_json(keys, key, range_end);
}

json encode_txn(const KeyPrefix& keys, const TxnRequest& req) {
  json j = json::object();
  json cmp = json::array();
  for (const Compare& c : req.compare) cmp.push_back(compare_json(keys, c));
  json ok = json::array();
  for (const Op& op : req.success) ok.push_back(op_json(keys, op));
  json fail = json::array();
  for (const Op& op : req.failure) fail.push_back(op_json(keys, op));
  j["compare"] = std::move(cmp);
  j["success"] = std::move(ok);
  j["failure"] = std::move(fail);
  return j;
}

json encode_compact(std::int64_t revision) {
  json j = json::object();
  j["revision"] = num_str(revision);
  return j;
}

json encode_lease_grant(std::int64_t ttl_seconds) {
  json j = json::object();
  j["TTL"] = num_str(ttl_seconds);
  return j;
}

json encode_lease_id(LeaseId id) {
  json j = json::object();
  j["ID"] = num_str(id);
  return j;
}

json encode_authenticate(const std::string& name, const std::string& password) {
  return json{{"name", name}, {"password", password}};
}

json encode_watch_create(const std::string& key, const std::string& end, std::int64_t start_revision) {
  json create = json::object();
  create["key"] = base64_encode(key);
  if (!end.empty()) create["range_end"] = base64_encode(end);
  if (start_revision != 0) create["start_revision"] = num_str(start_revision);
  json req = json::object();
  req["create_request"] = std::move(create);
  return req;
}

}  // namespace ks::metastore::etcd
