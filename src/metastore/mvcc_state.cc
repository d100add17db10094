#include "metastore/mvcc_state.h"

#include <algorithm>
#include <utility>

#include "metastore/request_checks.h"

namespace ks::metastore::internal {

namespace {

// Per-entry bookkeeping counted against the quota besides key and value.
constexpr std::size_t kEntryOverheadBytes = 64;
constexpr std::uint32_t kSnapshotFormat = 1;

bool is_to_end(std::string_view end) { return end.size() == 1 && end[0] == '\0'; }

template <class T>
bool compare_result(Compare::Result r, const T& a, const T& b) {
  switch (r) {
    case Compare::Result::equal:
      return a == b;
    case Compare::Result::greater:
      return a > b;
    case Compare::Result::less:
      return a < b;
    case Compare::Result::not_equal:
      return a != b;
  }
  return false;
}

Status future_revision() {
  return Status(Errc::invalid_argument, "mvcc: required revision is a future revision");
}

Status compacted_revision(std::int64_t compact_rev) {
  return Status(Errc::compacted, "mvcc: required revision has been compacted (compacted at " +
                                     std::to_string(compact_rev) + ")");
}

void encode_kv(const KeyValue& kv, BinWriter& w) {
  w.str(kv.key);
  w.str(kv.value);
  w.put<std::int64_t>(kv.create_revision);
  w.put<std::int64_t>(kv.mod_revision);
  w.put<std::int64_t>(kv.version);
  w.put<std::int64_t>(kv.lease);
}

KeyValue decode_kv(BinReader& r) {
  KeyValue kv;
  kv.key = r.str();
  kv.value = r.str();
  kv.create_revision = r.get<std::int64_t>();
  kv.mod_revision = r.get<std::int64_t>();
  kv.version = r.get<std::int64_t>();
  kv.lease = r.get<std::int64_t>();
  return kv;
}

}  // namespace

void encode_write_set(const WriteSet& ws, BinWriter& w) {
  w.put<std::int64_t>(ws.revision);
  w.put<std::int64_t>(ws.revoked_lease);
  w.put<std::uint32_t>(static_cast<std::uint32_t>(ws.changes.size()));
  for (const Change& c : ws.changes) {
    w.put<std::uint8_t>(static_cast<std::uint8_t>(c.kind));
    w.str(c.key);
    w.str(c.value);
    w.put<std::int64_t>(c.lease);
  }
}

bool decode_write_set(BinReader& r, WriteSet* ws) {
  ws->revision = r.get<std::int64_t>();
  ws->revoked_lease = r.get<std::int64_t>();
  auto n = r.get<std::uint32_t>();
  // Each change takes at least 13 bytes, so a corrupt count cannot make us
  // reserve more than the input could hold.
  if (!r.ok() || n > r.remaining() / 13) return false;
  ws->changes.clear();
  ws->changes.reserve(n);
  for (std::uint32_t i = 0; i < n; ++i) {
    Change c;
    auto kind = r.get<std::uint8_t>();
    if (kind != 1 && kind != 2) return false;
    c.kind = static_cast<Change::Kind>(kind);
    c.key = r.str();
    c.value = r.str();
    c.lease = r.get<std::int64_t>();
    if (!r.ok() || c.key.empty()) return false;
    ws->changes.push_back(std::move(c));
  }
  if (ws->changes.empty() != (ws->revision == 0)) return false;
  return r.ok();
}

std::size_t MvccState::kv_bytes(const KeyValue& kv) {
  return kv.key.size() + kv.value.size() + kEntryOverheadBytes;
}

MvccState::Kvp MvccState::lookup(const Overlay* ov, const std::string& key) const {
  if (ov) {
    if (auto it = ov->find(key); it != ov->end()) return it->second;
  }
  auto it = kvs_.find(key);
  return it == kvs_.end() ? nullptr : it->second;
}

std::vector<MvccState::Kvp> MvccState::collect(std::string_view key, std::string_view end,
                                               const Overlay* ov) const {
  std::vector<Kvp> out;
  if (end.empty()) {
    if (Kvp kv = lookup(ov, std::string(key))) out.push_back(std::move(kv));
    return out;
  }
  if (!is_to_end(end) && end <= key) return out;
  static const Overlay kEmpty;
  const Overlay& o = ov ? *ov : kEmpty;
  auto a = kvs_.lower_bound(key);
  auto b = o.lower_bound(key);
  auto a_in = [&] { return a != kvs_.end() && key_in_range(a->first, key, end); };
  auto b_in = [&] { return b != o.end() && key_in_range(b->first, key, end); };
  // Merge the two sorted sequences; the overlay wins on equal keys.
  while (a_in() || b_in()) {
    if (b_in() && (!a_in() || b->first <= a->first)) {
      if (a_in() && a->first == b->first) ++a;
      if (b->second) out.push_back(b->second);
      ++b;
    } else {
      out.push_back(a->second);
      ++a;
    }
  }
  return out;
}

MvccState::Overlay MvccState::undo_overlay(std::int64_t revision, std::string_view key,
                                           std::string_view end) const {
  Overlay ov;
  auto it = std::upper_bound(history_.begin(), history_.end(), revision,
                             [](std::int64_t rev, const Event& e) { return rev < e.revision; });
  // The first event after `revision` holds the value the key had at it.
  for (; it != history_.end(); ++it) {
    if (key_in_range(it->key(), key, end)) ov.emplace(it->key(), it->prev);
  }
  return ov;
}

Result<RangeResponse> MvccState::range_with(const RangeRequest& req, const Overlay* ov,
                                            std::int64_t current) const {
  std::vector<Kvp> kvs;
  if (req.revision > 0 && req.revision < current) {
    if (req.revision < compact_rev_) return compacted_revision(compact_rev_);
    Overlay undo = undo_overlay(req.revision, req.key, req.range_end);
    kvs = collect(req.key, req.range_end, &undo);
  } else if (req.revision > current) {
    return future_revision();
  } else {
    kvs = collect(req.key, req.range_end, ov);
  }
  RangeResponse resp;
  resp.revision = current;
  resp.count = static_cast<std::int64_t>(kvs.size());
  if (req.count_only) return resp;
  std::size_t n = kvs.size();
  if (req.limit > 0 && n > static_cast<std::size_t>(req.limit)) {
    n = static_cast<std::size_t>(req.limit);
    resp.more = true;
  }
  resp.kvs.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    resp.kvs.push_back(*kvs[i]);
    if (req.keys_only) resp.kvs.back().value.clear();
  }
  return resp;
}

Result<RangeResponse> MvccState::range(const RangeRequest& req) const {
  return range_with(req, nullptr, revision_);
}

bool MvccState::compare_ok(const Compare& c) const {
  auto it = kvs_.find(c.key);
  if (it == kvs_.end()) {
    // etcd: a value compare on a missing key always fails; the numeric
    // targets compare against zero.
    if (c.target == Compare::Target::value) return false;
    return compare_result<std::int64_t>(c.result, 0, c.number);
  }
  const KeyValue& kv = *it->second;
  switch (c.target) {
    case Compare::Target::version:
      return compare_result(c.result, kv.version, c.number);
    case Compare::Target::create_revision:
      return compare_result(c.result, kv.create_revision, c.number);
    case Compare::Target::mod_revision:
      return compare_result(c.result, kv.mod_revision, c.number);
    case Compare::Target::lease:
      return compare_result<std::int64_t>(c.result, kv.lease, c.number);
    case Compare::Target::value:
      return compare_result<std::string_view>(c.result, kv.value, c.value);
  }
  return false;
}

Result<TxnPlan> MvccState::plan_txn(const TxnRequest& req) const {
  TxnPlan plan;
  TxnResponse& resp = plan.response;
  resp.succeeded =
      std::all_of(req.compare.begin(), req.compare.end(), [&](const Compare& c) { return compare_ok(c); });
  const std::vector<Op>& ops = resp.succeeded ? req.success : req.failure;
  for (const Op& op : ops) {
    if (op.type == Op::Type::put && op.lease != 0 && !leases_.contains(op.lease)) {
      return Status(Errc::not_found, "requested lease not found: " + std::to_string(op.lease));
    }
  }
  const std::int64_t next = revision_ + 1;
  WriteSet& ws = plan.writes;
  Overlay ov;
  std::size_t added = 0;
  for (const Op& op : ops) {
    OpResult& r = resp.results.emplace_back();
    r.type = op.type;
    switch (op.type) {
      case Op::Type::put: {
        Kvp prev = lookup(&ov, op.key);
        auto kv = std::make_shared<KeyValue>();
        kv->key = op.key;
        kv->value = op.value;
        kv->create_revision = prev ? prev->create_revision : next;
        kv->mod_revision = next;
        kv->version = prev ? prev->version + 1 : 1;
        kv->lease = op.lease;
        if (op.prev_kv && prev) r.prev_kvs.push_back(*prev);
        added += 2 * kv_bytes(*kv);  // current value + history event
        ov[op.key] = std::move(kv);
        ws.changes.push_back(Change{Change::Kind::put, op.key, op.value, op.lease});
        break;
      }
      case Op::Type::delete_range: {
        for (Kvp& prev : collect(op.key, op.range_end, &ov)) {
          ws.changes.push_back(Change{Change::Kind::del, prev->key, {}, 0});
          ov[prev->key] = nullptr;
          if (op.prev_kv) r.prev_kvs.push_back(*prev);
          ++r.deleted;
        }
        break;
      }
      case Op::Type::range: {
        RangeRequest rr;
        rr.key = op.key;
        rr.range_end = op.range_end;
        auto res = range_with(rr, &ov, ws.changes.empty() ? revision_ : next);
        if (!res.ok()) return res.status();
        r.range = std::move(res).value();
        break;
      }
    }
  }
  if (!ws.changes.empty()) {
    if (added > 0 && bytes_used_ + added > quota_bytes_) {
      return Status(Errc::nospace, "mvcc: database space exceeded (compact history or delete keys)");
    }
    ws.revision = next;
  }
  resp.revision = ws.changes.empty() ? revision_ : next;
  return plan;
}

Result<WriteSet> MvccState::plan_revoke(LeaseId id) const {
  auto it = leases_.find(id);
  if (it == leases_.end()) return Status(Errc::not_found, "requested lease not found: " + std::to_string(id));
  WriteSet ws;
  ws.revoked_lease = id;
  for (const std::string& key : it->second.keys) ws.changes.push_back(Change{Change::Kind::del, key, {}, 0});
  if (!ws.changes.empty()) ws.revision = revision_ + 1;
  return ws;
}

Status MvccState::check_compact(std::int64_t revision) const {
  if (revision <= 0) return Status(Errc::invalid_argument, "compaction revision must be positive");
  if (revision <= compact_rev_) return compacted_revision(compact_rev_);
  if (revision > revision_) return future_revision();
  return {};
}

void MvccState::detach(const Kvp& kv) {
  if (!kv || kv->lease == 0) return;
  if (auto it = leases_.find(kv->lease); it != leases_.end()) it->second.keys.erase(kv->key);
}

void MvccState::attach(const Kvp& kv) {
  if (!kv || kv->lease == 0) return;
  if (auto it = leases_.find(kv->lease); it != leases_.end()) it->second.keys.insert(kv->key);
}

Status MvccState::apply(const WriteSet& ws, bool strict) {
  if (!ws.changes.empty()) {
    if (strict && ws.revision != revision_ + 1) {
      return Status(Errc::corrupt, "log revision " + std::to_string(ws.revision) + " does not follow " +
                                       std::to_string(revision_));
    }
    for (const Change& c : ws.changes) {
      auto it = kvs_.find(c.key);
      Kvp prev = it == kvs_.end() ? nullptr : it->second;
      if (c.kind == Change::Kind::put) {
        auto kv = std::make_shared<KeyValue>();
        kv->key = c.key;
        kv->value = c.value;
        kv->create_revision = prev ? prev->create_revision : ws.revision;
        kv->mod_revision = ws.revision;
        kv->version = prev ? prev->version + 1 : 1;
        kv->lease = c.lease;
        detach(prev);
        attach(kv);
        bytes_used_ += 2 * kv_bytes(*kv);
        if (prev) bytes_used_ -= kv_bytes(*prev);
        kvs_.insert_or_assign(c.key, kv);
        history_.push_back(Event{ws.revision, WatchEvent::Type::put, std::move(kv), std::move(prev)});
      } else {
        if (!prev) {
          if (strict) return Status(Errc::corrupt, "log deletes missing key " + c.key);
          continue;
        }
        detach(prev);
        kvs_.erase(it);
        bytes_used_ += c.key.size() + kEntryOverheadBytes;
        bytes_used_ -= kv_bytes(*prev);
        history_.push_back(Event{ws.revision, WatchEvent::Type::del, nullptr, std::move(prev)});
      }
    }
    revision_ = ws.revision;
  }
  if (ws.revoked_lease != 0) leases_.erase(ws.revoked_lease);
  return {};
}

void MvccState::grant(LeaseId id, std::int64_t ttl) {
  leases_[id].ttl = ttl;
  next_lease_id_ = std::max(next_lease_id_, id + 1);
}

void MvccState::compact(std::int64_t revision) {
  compact_rev_ = std::max(compact_rev_, revision);
  while (!history_.empty() && history_.front().revision < compact_rev_) {
    const Event& e = history_.front();
    bytes_used_ -= e.kv ? kv_bytes(*e.kv) : e.key().size() + kEntryOverheadBytes;
    history_.pop_front();
  }
}

std::int64_t MvccState::events_since(std::int64_t from, std::string_view key, std::string_view end,
                                     std::size_t max_events, std::vector<WatchEvent>* out) const {
  auto it = std::lower_bound(history_.begin(), history_.end(), from,
                             [](const Event& e, std::int64_t rev) { return e.revision < rev; });
  std::int64_t next = from;
  std::size_t collected = 0;
  while (it != history_.end() && collected < max_events) {
    const std::int64_t rev = it->revision;
    for (; it != history_.end() && it->revision == rev; ++it) {
      if (!key_in_range(it->key(), key, end)) continue;
      WatchEvent& ev = out->emplace_back();
      ev.type = it->type;
      if (it->kv) {
        ev.kv = *it->kv;
      } else {
        ev.kv.key = it->key();
        ev.kv.mod_revision = rev;
      }
      ++collected;
    }
    next = rev + 1;
  }
  if (it == history_.end()) next = std::max(next, revision_ + 1);
  return next;
}

void MvccState::encode_snapshot(BinWriter& w) const {
  w.put<std::uint32_t>(kSnapshotFormat);
  w.put<std::int64_t>(revision_);
  w.put<std::int64_t>(compact_rev_);
  w.put<std::int64_t>(next_lease_id_);
  w.put<std::uint64_t>(leases_.size());
  for (const auto& [id, lease] : leases_) {
    w.put<std::int64_t>(id);
    w.put<std::int64_t>(lease.ttl);
  }
  // Base: the key space just before the oldest kept revision.
  const std::int64_t base_rev = std::max<std::int64_t>(compact_rev_ - 1, 0);
  Overlay undo = undo_overlay(base_rev, std::string(1, '\0'), std::string(1, '\0'));
  std::vector<Kvp> base = collect(std::string(1, '\0'), std::string(1, '\0'), &undo);
  w.put<std::uint64_t>(base.size());
  for (const Kvp& kv : base) encode_kv(*kv, w);
  // History, one write set per revision.
  std::vector<WriteSet> sets;
  for (const Event& e : history_) {
    if (sets.empty() || sets.back().revision != e.revision) sets.emplace_back().revision = e.revision;
    if (e.kv) {
      sets.back().changes.push_back(Change{Change::Kind::put, e.kv->key, e.kv->value, e.kv->lease});
    } else {
      sets.back().changes.push_back(Change{Change::Kind::del, e.key(), {}, 0});
    }
  }
  w.put<std::uint64_t>(sets.size());
  for (const WriteSet& ws : sets) encode_write_set(ws, w);
}

Status MvccState::load_snapshot(BinReader& r) {
  auto bad = [](const std::string& what) { return Status(Errc::corrupt, "metadata snapshot: " + what); };
  if (r.get<std::uint32_t>() != kSnapshotFormat) return bad("unknown format version");
  const auto revision = r.get<std::int64_t>();
  const auto compact_rev = r.get<std::int64_t>();
  const auto next_lease = r.get<std::int64_t>();
  auto nleases = r.get<std::uint64_t>();
  if (!r.ok() || revision < 1 || compact_rev < 0 || compact_rev > revision || nleases > r.remaining() / 16) {
    return bad("bad header");
  }
  leases_.clear();
  for (std::uint64_t i = 0; i < nleases; ++i) {
    auto id = r.get<std::int64_t>();
    leases_[id].ttl = r.get<std::int64_t>();
  }
  next_lease_id_ = std::max<LeaseId>(next_lease, 1);
  auto nkvs = r.get<std::uint64_t>();
  if (!r.ok() || nkvs > r.remaining() / 40) return bad("bad key count");
  kvs_.clear();
  history_.clear();
  for (std::uint64_t i = 0; i < nkvs; ++i) {
    auto kv = std::make_shared<KeyValue>(decode_kv(r));
    if (!r.ok() || kv->key.empty()) return bad("bad key");
    std::string key = kv->key;
    kvs_.insert_or_assign(std::move(key), std::move(kv));
  }
  auto nsets = r.get<std::uint64_t>();
  if (!r.ok() || nsets > r.remaining() / 20) return bad("bad history count");
  revision_ = 0;
  for (std::uint64_t i = 0; i < nsets; ++i) {
    WriteSet ws;
    if (!decode_write_set(r, &ws) || ws.changes.empty()) return bad("bad history record");
    if (ws.revision <= revision_ || ws.revision < compact_rev || ws.revision > revision) {
      return bad("history out of order");
    }
    if (Status s = apply(ws, false); !s.ok()) return s;
  }
  if (!r.ok() || r.remaining() != 0) return bad("trailing bytes");
  revision_ = revision;
  compact_rev_ = compact_rev;
  for (auto& [id, lease] : leases_) lease.keys.clear();
  for (const auto& [key, kv] : kvs_) attach(kv);
  recompute_usage();
  return {};
}

void MvccState::recompute_usage() {
  bytes_used_ = 0;
  for (const auto& [key, kv] : kvs_) bytes_used_ += kv_bytes(*kv);
  for (const Event& e : history_)
    bytes_used_ += e.kv ? kv_bytes(*e.kv) : e.key().size() + kEntryOverheadBytes;
}

}  // namespace ks::metastore::internal
