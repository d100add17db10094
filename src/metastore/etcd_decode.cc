// Decoding the gateway's answers: responses, watch messages and errors.
// Everything here reads untrusted JSON (see etcd_codec.h).
#include "common/base64.h"
#include "metastore/etcd_codec.h"

namespace ks::metastore {

Status etcd_error(int code, const std::string& message) {
  auto has = [&](const char* s) { return message.find(s) != std::string::npos; };
  Errc e;
  if (has("too many operations in txn request") || has("request is too large") || has("larger than max")) {
    e = Errc::limit_exceeded;
  } else if (has("required revision has been compacted")) {
    e = Errc::compacted;
  } else if (has("future revision")) {
    e = Errc::invalid_argument;
  } else if (has("lease not found")) {
    e = Errc::not_found;
  } else if (has("database space exceeded") || has("NOSPACE")) {
    e = Errc::nospace;
  } else if (has("request timed out") || has("leader changed") || has("server stopped")) {
    e = Errc::timeout;  // proposed, then lost track: may have applied
  } else if (has("no leader") || has("too many requests") || has("not capable")) {
    e = Errc::unavailable;  // refused before proposing
  } else {
    switch (code) {  // gRPC status codes
      case 3:        // INVALID_ARGUMENT
      case 9:        // FAILED_PRECONDITION
      case 11:       // OUT_OF_RANGE
        e = Errc::invalid_argument;
        break;
      case 5:  // NOT_FOUND
        e = Errc::not_found;
        break;
      case 6:  // ALREADY_EXISTS
        e = Errc::already_exists;
        break;
      case 7:   // PERMISSION_DENIED
      case 16:  // UNAUTHENTICATED
      case 12:  // UNIMPLEMENTED
        e = Errc::io_error;
        break;
      case 8:   // RESOURCE_EXHAUSTED (rate limits)
      case 14:  // UNAVAILABLE
        e = Errc::unavailable;
        break;
      default:  // CANCELLED, UNKNOWN, DEADLINE_EXCEEDED, INTERNAL, ...: outcome unknown
        e = Errc::timeout;
        break;
    }
  }
  return Status(e, "etcd: " + (message.empty() ? "error code " + std::to_string(code) : message));
}

namespace etcd {

// ---------------------------------------------------------------------------
// Errors

Status error_from_body(const json& body) {
  const json* e = field(body, "error");
  const json& obj = e != nullptr && e->is_object() ? *e : body;
  std::string msg = str(obj, "message");
  if (msg.empty()) msg = str(obj, "error");
  return etcd_error(static_cast<int>(num(obj, "code")), msg);
}

Status http_error(long http_code, const json& body) {
  if (!body.is_discarded() && body.is_object() &&
      (field(body, "error") != nullptr || field(body, "message") != nullptr)) {
    return error_from_body(body);
  }
  if (http_code == 503) return Status(Errc::unavailable, "etcd: HTTP 503");
  if (http_code >= 500) return Status(Errc::timeout, "etcd: HTTP " + std::to_string(http_code));
  return Status(Errc::io_error, "etcd: HTTP " + std::to_string(http_code));
}

bool is_auth_token_error(const Status& s) {
  return s.message().find("invalid auth token") != std::string::npos;
}

// ---------------------------------------------------------------------------
// Responses

namespace {

Status kvs_from(const KeyPrefix& keys, const json& j, const char* name, std::vector<KeyValue>* out) {
  const json* arr = field(j, name);
  if (arr == nullptr) return {};
  if (!arr->is_array()) return corrupt(std::string(name) + " is not an array");
  for (const json& e : *arr) {
    auto kv = decode_kv(keys, e);
    if (!kv.ok()) return kv.status();
    out->push_back(std::move(kv).value());
  }
  return {};
}

}  // namespace

std::int64_t header_revision(const json& j) {
  const json* h = field(j, "header");
  return h != nullptr ? num(*h, "revision") : 0;
}

Result<KeyValue> decode_kv(const KeyPrefix& keys, const json& j) {
  KeyValue kv;
  auto key = base64_decode(str(j, "key"));
  if (!key) return corrupt("key is not base64");
  auto value = base64_decode(str(j, "value"));
  if (!value) return corrupt("value is not base64");
  kv.key = keys.strip(std::move(*key));
  kv.value = std::move(*value);
  kv.create_revision = num(j, "create_revision");
  kv.mod_revision = num(j, "mod_revision");
  kv.version = num(j, "version");
  kv.lease = num(j, "lease");
  return kv;
}

Result<RangeResponse> decode_range(const KeyPrefix& keys, const json& j) {
  RangeResponse r;
  if (Status s = kvs_from(keys, j, "kvs", &r.kvs); !s.ok()) return s;
  r.count = num(j, "count");
  r.more = flag(j, "more");
  r.revision = header_revision(j);
  return r;
}

Result<TxnResponse> decode_txn(const KeyPrefix& keys, const json& j) {
  TxnResponse r;
  r.succeeded = flag(j, "succeeded");
  r.revision = header_revision(j);
  const json* arr = field(j, "responses");
  if (arr == nullptr) return r;
  if (!arr->is_array()) return corrupt("responses is not an array");
  for (const json& e : *arr) {
    OpResult res;
    if (const json* p = field(e, "response_put")) {
      res.type = Op::Type::put;
      if (const json* prev = field(*p, "prev_kv")) {
        auto kv = decode_kv(keys, *prev);
        if (!kv.ok()) return kv.status();
        res.prev_kvs.push_back(std::move(kv).value());
      }
    } else if (const json* d = field(e, "response_delete_range")) {
      res.type = Op::Type::delete_range;
      res.deleted = num(*d, "deleted");
      if (Status s = kvs_from(keys, *d, "prev_kvs", &res.prev_kvs); !s.ok()) return s;
    } else if (const json* g = field(e, "response_range")) {
      res.type = Op::Type::range;
      auto rr = decode_range(keys, *g);
      if (!rr.ok()) return rr.status();
      res.range = std::move(rr).value();
      if (res.range.revision == 0) res.range.revision = r.revision;
    } else {
      return corrupt("unknown txn response");
    }
    r.results.push_back(std::move(res));
  }
  return r;
}

std::int64_t decode_deleted(const json& j) { return num(j, "deleted"); }

Result<LeaseId> decode_lease_grant(const json& j) {
  if (std::string err = str(j, "error"); !err.empty()) return etcd_error(0, err);
  LeaseId id = num(j, "ID");
  if (id == 0) return corrupt("lease grant without ID");
  return id;
}

Status decode_lease_keepalive(const json& j, LeaseId id) {
  if (field(j, "error") != nullptr) return error_from_body(j);
  const json* res = field(j, "result");
  if (res == nullptr) return corrupt("keepalive without result");
  // etcd answers TTL 0 for a lease it does not know (expired or revoked).
  if (num(*res, "TTL") <= 0)
    return Status(Errc::not_found, "etcd: lease " + std::to_string(id) + " not found");
  return {};
}

Result<std::string> decode_auth_token(const json& j) {
  std::string token = str(j, "token");
  if (token.empty()) return corrupt("authenticate returned no token");
  return token;
}

Result<EtcdStatus> decode_status(const json& j) {
  EtcdStatus st;
  st.version = str(j, "version");
  st.db_size = num(j, "dbSize");
  st.db_size_in_use = num(j, "dbSizeInUse");
  if (const json* errs = field(j, "errors"); errs != nullptr && errs->is_array()) {
    // Bounded: a member reports a handful of alarms at most; ignore anything past 64.
    for (std::size_t i = 0; i < errs->size() && i < 64; ++i) {
      if (!(*errs)[i].is_string()) continue;
      st.errors.push_back((*errs)[i].get<std::string>());
      if (st.errors.back().find("NOSPACE") != std::string::npos) st.nospace_alarm = true;
    }
  }
  if (st.version.empty() && st.db_size == 0) return corrupt("maintenance status without version or dbSize");
  return st;
}

WatchMessage decode_watch_message(const KeyPrefix& keys, const json& msg) {
  WatchMessage m;
  if (field(msg, "error") != nullptr) {
    m.end = error_from_body(msg);
    return m;
  }
  const json* res = field(msg, "result");
  if (res == nullptr) return m;  // nothing we know: ignored
  m.created = flag(*res, "created");
  m.revision = header_revision(*res);
  if (flag(*res, "canceled")) {
    m.compact_revision = num(*res, "compact_revision");
    if (m.compact_revision == 0) {
      std::string reason = str(*res, "cancel_reason");
      m.end = etcd_error(3, reason.empty() ? "watch canceled" : reason);
    }
    return m;
  }
  const json* evs = field(*res, "events");
  if (evs == nullptr || !evs->is_array()) return m;
  for (const json& e : *evs) {
    WatchEvent ev;
    ev.type = str(e, "type") == "DELETE" ? WatchEvent::Type::del : WatchEvent::Type::put;
    const json* kv = field(e, "kv");
    if (kv == nullptr) {
      m.events.clear();
      m.end = corrupt("watch event without kv");
      return m;
    }
    auto parsed = decode_kv(keys, *kv);
    if (!parsed.ok()) {
      m.events.clear();
      m.end = parsed.status();
      return m;
    }
    ev.kv = std::move(parsed).value();
    m.events.push_back(std::move(ev));
  }
  return m;
}

}  // namespace etcd
}  // namespace ks::metastore
