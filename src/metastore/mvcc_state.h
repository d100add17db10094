// MvccState: the in-memory multi-version key space behind the embedded store
// (not thread-safe; EmbeddedMetadataStore serialises access).
//
// The current key space is a sorted map; history is the list of events since
// the last compaction, each with the key's previous value, so a read at an
// older revision undoes the newer events and a watch replays them. Writes are
// planned first (plan_* only read), persisted by the caller, then applied.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/binary.h"
#include "common/status.h"
#include "metastore/metadata_store.h"

namespace ks::metastore::internal {

struct Change {
  enum class Kind : unsigned char { put = 1, del = 2 };
  Kind kind = Kind::put;
  std::string key;
  std::string value;  // put
  LeaseId lease = 0;  // put
};

// What one log record carries: the changes of one revision and/or a lease
// revoke. A revoke whose lease holds no keys creates no revision.
struct WriteSet {
  std::int64_t revision = 0;  // revision created; 0 when `changes` is empty
  std::vector<Change> changes;
  LeaseId revoked_lease = 0;
};

void encode_write_set(const WriteSet& ws, BinWriter& w);
bool decode_write_set(BinReader& r, WriteSet* ws);

struct TxnPlan {
  TxnResponse response;
  WriteSet writes;
};

struct LeaseInfo {
  std::int64_t ttl = 0;
  std::set<std::string> keys;  // keys currently attached
};

class MvccState {
 public:
  // Store space limit, as etcd's --quota-backend-bytes: puts that would push
  // usage (current keys + history) past it fail with nospace until the caller
  // compacts or deletes.
  explicit MvccState(std::size_t quota_bytes) : quota_bytes_(quota_bytes) {}

  std::int64_t revision() const { return revision_; }
  std::int64_t compact_revision() const { return compact_rev_; }
  std::size_t bytes_used() const { return bytes_used_; }
  std::size_t history_events() const { return history_.size(); }

  Result<RangeResponse> range(const RangeRequest& req) const;
  // Evaluates the compares and the chosen branch without modifying anything.
  Result<TxnPlan> plan_txn(const TxnRequest& req) const;
  Result<WriteSet> plan_revoke(LeaseId id) const;
  Status check_compact(std::int64_t revision) const;

  // Applies a planned (or replayed) write set. With `strict`, a revision that
  // does not follow the current one is reported as corrupt.
  Status apply(const WriteSet& ws, bool strict);
  void grant(LeaseId id, std::int64_t ttl);
  void compact(std::int64_t revision);

  const std::map<LeaseId, LeaseInfo>& leases() const { return leases_; }
  LeaseId next_lease_id() const { return next_lease_id_; }

  // Appends the events with revision >= from in (key, end), whole revisions
  // only, stopping at a revision boundary once `max_events` are collected.
  // Returns the revision to continue from. Requires from >= compact_revision().
  std::int64_t events_since(std::int64_t from, std::string_view key, std::string_view end,
                            std::size_t max_events, std::vector<WatchEvent>* out) const;

  // Snapshot body: header, leases, the key space as of compact_revision()-1
  // and every revision since (so reads/watches from the compaction point keep
  // working after a restart).
  void encode_snapshot(BinWriter& w) const;
  Status load_snapshot(BinReader& r);

 private:
  using Kvp = std::shared_ptr<const KeyValue>;
  using Overlay = std::map<std::string, Kvp, std::less<>>;  // nullptr = absent

  struct Event {
    std::int64_t revision = 0;
    WatchEvent::Type type = WatchEvent::Type::put;
    Kvp kv;    // put: the new value; del: nullptr
    Kvp prev;  // the value before, nullptr if absent
    const std::string& key() const { return kv ? kv->key : prev->key; }
  };

  Kvp lookup(const Overlay* ov, const std::string& key) const;
  // Keys in (key, end) of the current space with `ov` on top, sorted.
  std::vector<Kvp> collect(std::string_view key, std::string_view end, const Overlay* ov) const;
  // The overlay that turns the current space into the space at `revision`.
  Overlay undo_overlay(std::int64_t revision, std::string_view key, std::string_view end) const;
  Result<RangeResponse> range_with(const RangeRequest& req, const Overlay* ov, std::int64_t current) const;
  bool compare_ok(const Compare& c) const;
  void detach(const Kvp& kv);
  void attach(const Kvp& kv);
  void recompute_usage();
  static std::size_t kv_bytes(const KeyValue& kv);

  const std::size_t quota_bytes_;
  std::map<std::string, Kvp, std::less<>> kvs_;
  std::deque<Event> history_;  // revision order; every event >= compact_rev_
  std::map<LeaseId, LeaseInfo> leases_;
  std::int64_t revision_ = 1;  // etcd: an empty store is at revision 1
  std::int64_t compact_rev_ = 0;
  LeaseId next_lease_id_ = 1;
  std::size_t bytes_used_ = 0;
};

}  // namespace ks::metastore::internal
