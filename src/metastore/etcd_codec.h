// The wire format of etcd's v3 JSON gateway, internal to the etcd backend:
// request bodies built from the MetadataStore types (etcd_codec.cc) and
// response bodies decoded back into them (etcd_decode.cc).
//
// Pure functions: no I/O, no curl, no state, so they can be tested and
// fuzzed on their own. Bytes fields travel base64-encoded and int64s as
// decimal strings. Responses are untrusted: every access checks the JSON
// type, nothing throws, and a malformed answer is corrupt ("etcd: malformed
// response: ...").
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "metastore/etcd_store.h"
#include "metastore/metadata_store.h"

namespace ks::metastore::etcd {

using json = nlohmann::json;

// ---------------------------------------------------------------------------
// Primitives

// Checked access to a member of an object: nullptr when `j` is not an
// object or the member is absent or null.
const json* field(const json& j, const char* name);
// An int64 member, sent as a string ("123") or a number; 0 when absent or
// malformed (proto3 omits zero values).
std::int64_t num(const json& j, const char* name);
bool flag(const json& j, const char* name);        // false unless a true boolean
std::string str(const json& j, const char* name);  // "" unless a string
std::string num_str(std::int64_t v);               // how int64s are sent
std::string dump(const json& j);                   // never throws (bad UTF-8 is replaced)
Status corrupt(const std::string& what);           // "etcd: malformed response: " + what

// Every key is stored under the URL's prefix and returned without it.
struct KeyPrefix {
  std::string prefix;  // "" = none

  std::string key(const std::string& k) const { return prefix + k; }
  // A range end: "" = a single key; "\0" = to the end of the prefix; else prefixed.
  std::string end(const std::string& e) const;
  // `k` without the prefix (unchanged when it lacks it).
  std::string strip(std::string k) const;
};

// ---------------------------------------------------------------------------
// Requests (bodies for POST /v3/...)

// kv/range, kv/put, kv/deleterange, kv/txn, kv/compaction.
json encode_range(const KeyPrefix& keys, const RangeRequest& req);
json encode_put(const KeyPrefix& keys, const std::string& key, const std::string& value, LeaseId lease);
json encode_delete_range(const KeyPrefix& keys, const std::string& key, const std::string& range_end);
json encode_txn(const KeyPrefix& keys, const TxnRequest& req);
json encode_compact(std::int64_t revision);
// lease/grant; lease/keepalive and lease/revoke (the lease ID).
json encode_lease_grant(std::int64_t ttl_seconds);
json encode_lease_id(LeaseId id);
// auth/authenticate.
json encode_authenticate(const std::string& name, const std::string& password);
// The create_request of a watch stream; key and end are already prefixed,
// start_revision 0 = from now.
json encode_watch_create(const std::string& key, const std::string& end, std::int64_t start_revision);

// ---------------------------------------------------------------------------
// Responses (the parsed body of an HTTP 200 answer)

// header.revision, 0 when absent.
std::int64_t header_revision(const json& j);
Result<KeyValue> decode_kv(const KeyPrefix& keys, const json& j);
Result<RangeResponse> decode_range(const KeyPrefix& keys, const json& j);
Result<TxnResponse> decode_txn(const KeyPrefix& keys, const json& j);
std::int64_t decode_deleted(const json& j);  // kv/deleterange: keys deleted
Result<LeaseId> decode_lease_grant(const json& j);
// lease/keepalive answers a one-message stream: {"result": {...}} or
// {"error": {...}}; TTL 0 means the lease is unknown (not_found).
Status decode_lease_keepalive(const json& j, LeaseId id);
Result<std::string> decode_auth_token(const json& j);
Result<EtcdStatus> decode_status(const json& j);

// One message of a watch stream: {"result": WatchResponse} or {"error": ...}.
struct WatchMessage {
  bool created = false;       // etcd confirmed the watch
  std::int64_t revision = 0;  // header revision of the result
  // Non-zero: etcd canceled the watch because its start revision is older
  // than this compaction (`end` stays unset: the caller knows where it
  // started).
  std::int64_t compact_revision = 0;
  // Set: the watch is over (an error, another cancellation, a malformed event).
  std::optional<Status> end;
  std::vector<WatchEvent> events;  // keys without the prefix; empty when `end` is set
};
WatchMessage decode_watch_message(const KeyPrefix& keys, const json& msg);

// ---------------------------------------------------------------------------
// Errors

// An error body of the gateway, {"error": "...", "message": "...", "code": N}
// (streams wrap it: {"error": {...}}), mapped by etcd_error.
Status error_from_body(const json& body);
// The status of an answer other than HTTP 200: the gateway's error body when
// `body` is one (`body` may be discarded, i.e. unparsable), else by HTTP
// code: 503 unavailable, other 5xx timeout (outcome unknown), else io_error.
Status http_error(long http_code, const json& body);
// etcd rejected the token (it expired): authenticate again.
bool is_auth_token_error(const Status& s);

}  // namespace ks::metastore::etcd
