// MetadataStore: the subset of etcd v3 semantics the broker relies on.
//
// Revisions, conditional transactions, leases, watches and compaction behave as
// in etcd v3. Implementations are thread-safe and blocking (called from the
// broker's I/O worker pool). Every backend enforces etcd's default limits so
// that what works embedded also works against etcd.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"

namespace ks::metastore {

// etcd defaults (--max-txn-ops, --max-request-bytes).
inline constexpr std::size_t kMaxTxnOps = 128;
inline constexpr std::size_t kMaxRequestBytes = 1536 * 1024;

using LeaseId = std::int64_t;

struct KeyValue {
  std::string key;
  std::string value;
  std::int64_t create_revision = 0;
  std::int64_t mod_revision = 0;
  std::int64_t version = 0;  // number of puts since creation
  LeaseId lease = 0;
};

// range_end semantics as etcd: empty = only `key`; "\0" (a single NUL byte) =
// every key >= key; otherwise [key, range_end). prefix_end() builds the end of
// a prefix range.
std::string prefix_end(const std::string& prefix);

struct RangeRequest {
  std::string key;
  std::string range_end;
  std::int64_t limit = 0;     // 0 = no limit
  std::int64_t revision = 0;  // 0 = latest; else read at that revision
  bool keys_only = false;
  bool count_only = false;
};

struct RangeResponse {
  std::vector<KeyValue> kvs;  // sorted by key
  std::int64_t count = 0;     // total matching keys (ignores limit)
  bool more = false;          // limit cut the result
  std::int64_t revision = 0;  // store revision the read saw
};

struct Compare {
  enum class Target : unsigned char { version, create_revision, mod_revision, value, lease };
  enum class Result : unsigned char { equal, greater, less, not_equal };
  std::string key;
  Target target = Target::version;
  Result result = Result::equal;
  std::int64_t number = 0;  // for version/create/mod revision/lease
  std::string value;        // for Target::value
};

struct Op {
  enum class Type : unsigned char { put, delete_range, range };
  Type type = Type::put;
  std::string key;
  std::string range_end;  // delete_range / range
  std::string value;      // put
  LeaseId lease = 0;      // put
  bool prev_kv = false;   // put/delete: return previous kv(s) in OpResult

  static Op put(std::string k, std::string v, LeaseId lease = 0);
  static Op del(std::string k, std::string range_end = {});
  static Op get(std::string k, std::string range_end = {});
};

struct OpResult {
  Op::Type type = Op::Type::put;
  RangeResponse range;       // range ops
  std::int64_t deleted = 0;  // delete_range ops
  std::vector<KeyValue> prev_kvs;
};

struct TxnRequest {
  std::vector<Compare> compare;
  std::vector<Op> success;
  std::vector<Op> failure;
};

struct TxnResponse {
  bool succeeded = false;
  std::int64_t revision = 0;  // store revision after the txn
  std::vector<OpResult> results;
};

struct WatchEvent {
  enum class Type : unsigned char { put, del };
  Type type = Type::put;
  KeyValue kv;  // for del: key and mod_revision set
};

// Called on a backend thread. An empty `events` with a non-ok status ends the
// watch (e.g. compacted: the caller must reload and re-watch).
using WatchCallback = std::function<void(const std::vector<WatchEvent>& events, const Status& status)>;

class Watch {
 public:
  virtual ~Watch() = default;  // destroying cancels the watch
};

class MetadataStore {
 public:
  virtual ~MetadataStore() = default;

  virtual Result<RangeResponse> range(const RangeRequest& req) = 0;
  // Returns the revision after the put.
  virtual Result<std::int64_t> put(const std::string& key, const std::string& value, LeaseId lease = 0) = 0;
  // Returns the number of keys deleted.
  virtual Result<std::int64_t> delete_range(const std::string& key, const std::string& range_end = {}) = 0;
  // Conditional transaction. limit_exceeded when it has more than kMaxTxnOps
  // operations or its encoded size exceeds kMaxRequestBytes.
  virtual Result<TxnResponse> txn(const TxnRequest& req) = 0;

  virtual Result<LeaseId> lease_grant(std::int64_t ttl_seconds) = 0;
  // Refreshes the lease; not_found if it expired or was revoked.
  virtual Status lease_keepalive(LeaseId id) = 0;
  virtual Status lease_revoke(LeaseId id) = 0;

  // Streams changes in [key, range_end) from start_revision (0 = from now).
  // compacted if start_revision is older than the last compaction.
  virtual Result<std::unique_ptr<Watch>> watch(const std::string& key, const std::string& range_end,
                                               std::int64_t start_revision, WatchCallback cb) = 0;

  // Discards history before `revision`.
  virtual Status compact(std::int64_t revision) = 0;

  virtual std::string describe() const = 0;
};

}  // namespace ks::metastore
