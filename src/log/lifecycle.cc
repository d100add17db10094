#include "log/lifecycle.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/assert.h"
#include "common/clock.h"
#include "common/metrics.h"
#include "common/task.h"
#include "log/checkpoint.h"
#include "log/records.h"

namespace ks::log {

using metastore::Op;
using metastore::TxnRequest;

namespace {

using Doomed = std::shared_ptr<std::vector<std::pair<std::string, std::uint64_t>>>;

// Deletes the keys; returns how many and their bytes. A failure leaves an
// unreferenced object that the orphan sweep retries later.
std::function<std::pair<std::size_t, std::uint64_t>()> delete_fn(std::shared_ptr<objstore::ObjectStore> o,
                                                                 Doomed doomed) {
  return [o = std::move(o), doomed = std::move(doomed)] {
    std::size_t count = 0;
    std::uint64_t bytes = 0;
    for (const auto& [k, size] : *doomed) {
      if (auto st = o->remove(k); st.ok()) {
        ++count;
        bytes += size;
      } else {
        spdlog::warn("deleting {}: {}", k, st.to_string());
      }
    }
    return std::make_pair(count, bytes);
  };
}

std::function<Result<std::vector<objstore::ObjectInfo>>()> list_fn(std::shared_ptr<objstore::ObjectStore> o,
                                                                   std::string a, std::string b) {
  return
      [o = std::move(o), a = std::move(a), b = std::move(b)]() -> Result<std::vector<objstore::ObjectInfo>> {
        auto x = o->list(a);
        if (!x.ok()) return x.status();
        auto y = o->list(b);
        if (!y.ok()) return y.status();
        auto out = std::move(x).value();
        for (auto& i : *y) out.push_back(std::move(i));
        return out;
      };
}

metrics::Counter& objects_deleted_counter() {
  static auto& c =
      metrics::registry().counter("kafscale_objects_deleted_total", "Objects deleted by retention and GC");
  return c;
}

bool same_entry(const IndexEntry& a, const IndexEntry& b) {
  return a.base_offset == b.base_offset && a.last_offset == b.last_offset &&
         a.max_timestamp == b.max_timestamp && a.object->key == b.object->key &&
         a.object->size == b.object->size && a.position == b.position && a.length == b.length &&
         a.leader_epoch == b.leader_epoch && a.batch_count == b.batch_count;
}

// A checkpoint we encoded decodes back to what we put in (our own bytes:
// asserted, before they are stored).
void check_round_trip(const Checkpoint& c, const std::string& bytes, const std::string& key) {
  auto back = decode_checkpoint(bytes);
  KS_ASSERT(back.ok(), "checkpoint {} does not decode: {}", key, back.status().to_string());
  KS_ASSERT(back->broker_epoch == c.broker_epoch && back->covers_seq == c.covers_seq &&
                back->partitions.size() == c.partitions.size() && back->producer_state == c.producer_state,
            "checkpoint {}: header or producer state differs after decoding", key);
  for (std::size_t i = 0; i < c.partitions.size(); ++i) {
    const PartitionSnapshot& a = c.partitions[i];
    const PartitionSnapshot& b = back->partitions[i];
    bool same = a.key == b.key && a.log_start == b.log_start && a.hwm == b.hwm &&
                a.leader_epoch == b.leader_epoch && a.epochs.size() == b.epochs.size() &&
                a.index.size() == b.index.size();
    for (std::size_t j = 0; same && j < a.epochs.size(); ++j)
      same = a.epochs[j].epoch == b.epochs[j].epoch && a.epochs[j].start_offset == b.epochs[j].start_offset;
    for (std::size_t j = 0; same && j < a.index.size(); ++j) same = same_entry(a.index[j], b.index[j]);
    KS_ASSERT(same, "checkpoint {}: partition {}-{} differs after decoding", key, to_hex(a.key.topic),
              a.key.partition);
  }
}

}  // namespace

void LogLifecycle::start() {
  objects_deleted_counter();
  running_ = true;
  spawn_critical(s_.io, "checkpointer", [this] { return checkpointer(); });
}

awaitable<void> LogLifecycle::stop() {
  if (!running_) co_return;
  s_.checkpoint_wakeup.notify_all();
  co_await checkpointer_done_.wait();
  // A checkpoint started by persist() may still be running: the final one follows it.
  while (checkpoint_running_) co_await checkpoint_done_.wait_until(Clock::now() + std::chrono::seconds(1));
  if (!s_.fenced() && needs_checkpoint()) {
    if (auto st = co_await write_checkpoint(); !st.ok())
      spdlog::warn("final checkpoint failed: {}", st.to_string());
  }
  running_ = false;
}

bool LogLifecycle::needs_checkpoint() const {
  return s_.position.since_checkpoint > 0 || s_.durable_gen < s_.state_gen || s_.table.has_dead_objects();
}

// ---------------------------------------------------------------- checkpoints

std::function<Status()> LogLifecycle::checkpoint_fn(std::string key) {
  // Snapshot now, on the loop (consistent with the last commit); encode,
  // check and PUT on the pool.
  auto c = std::make_shared<Checkpoint>();
  c->broker_epoch = s_.epoch();
  c->covers_seq = s_.position.last_committed;
  c->created_ms = static_cast<std::uint64_t>(wall_clock_ms());
  c->partitions.reserve(s_.table.size());
  for (const auto& [k, p] : s_.table.partitions()) {
    PartitionTable::check(p);
    PartitionSnapshot snap;
    snap.key = k;
    snap.log_start = p.log_start;
    snap.hwm = p.hwm;
    snap.leader_epoch = p.leader_epoch;
    snap.epochs = p.epochs;
    snap.index.assign(p.index.begin(), p.index.end());
    c->partitions.push_back(std::move(snap));
  }
  // Committed producer state only (pending batches are not covered).
  std::vector<std::pair<PartitionKey, const ProducerStates*>> producers;
  for (const auto& [k, ps] : s_.table.all_producers()) {
    if (ps.size() > 0) producers.emplace_back(k, &ps);
  }
  if (!producers.empty()) c->producer_state = encode_producer_snapshot(producers);
  return [o = s_.objects.store(), key = std::move(key), c] {
    std::string bytes = encode_checkpoint(*c);
    check_round_trip(*c, bytes, key);
    return o->put(key, bytes);
  };
}

metastore::TxnRequest LogLifecycle::checkpoint_txn(const std::string& object, std::uint64_t covers) const {
  CheckpointPointer ptr;
  ptr.object = object;
  ptr.covers_seq = covers;
  ptr.broker_epoch = s_.epoch();
  TxnRequest t;
  t.compare.push_back(s_.cluster.fence());
  t.success.push_back(Op::put(keys::checkpoint(s_.node()), encode_checkpoint_pointer(ptr)));
  // One range delete removes every commit record the checkpoint covers.
  t.success.push_back(Op::del(keys::commit(s_.node(), 0), keys::commit(s_.node(), covers + 1)));
  return t;
}

awaitable<Status> LogLifecycle::write_checkpoint() {
  if (checkpoint_running_) co_return Status{};
  checkpoint_running_ = true;
  const std::size_t covered = s_.position.since_checkpoint;
  const std::uint64_t covers = s_.position.last_committed;
  const std::uint64_t gen = s_.state_gen;
  KS_ASSERT(covers >= s_.position.checkpoint_covers, "checkpoint would cover {} after one covering {}",
            covers, s_.position.checkpoint_covers);
  // Objects no live range refers to: once this checkpoint is durable nothing
  // durable refers to them either (their commit records are covered).
  auto doomed =
      std::make_shared<std::vector<std::pair<std::string, std::uint64_t>>>(s_.table.take_dead_objects());
  const std::string key = keys::checkpoint_object(s_.node(), s_.epoch(), covers);
  checkpoint_writing_ = key;
  auto put = co_await offload(s_.pool, checkpoint_fn(key));
  Status result;
  if (!put.ok()) {
    result = Status(put.code(), "checkpoint PUT: " + put.message());
  } else {
    auto r = co_await s_.meta.txn(checkpoint_txn(key, covers));
    if (!r.ok()) {
      result = Status(r.code(), "checkpoint commit: " + r.status().message());
    } else if (!r->succeeded) {
      // The fence is the transaction's only compare: another process owns
      // this node id. Fenced from now on, as when a commit is rejected.
      result = Status(Errc::fenced, "checkpoint: ownership lost");
      s_.cluster.set_fenced(result);
    } else {
      s_.position.checkpoint_covers = covers;
      s_.position.since_checkpoint -= std::min(s_.position.since_checkpoint, covered);
      s_.durable_gen = std::max(s_.durable_gen, gen);
      ++s_.stats.checkpoints;
      metrics::registry().counter("kafscale_checkpoints_total", "Checkpoints written").inc();
      // The superseded checkpoint (same name when nothing was committed since:
      // then the PUT replaced it in place).
      if (!checkpoint_object_.empty() && checkpoint_object_ != key)
        doomed->emplace_back(checkpoint_object_, 0);
      checkpoint_object_ = key;
    }
  }
  checkpoint_writing_.clear();
  if (result.ok() && !doomed->empty()) {
    auto freed = co_await offload(s_.pool, delete_fn(s_.objects.store(), doomed));
    s_.stats.objects_deleted += freed.first;
    s_.stats.bytes_deleted += freed.second;
    objects_deleted_counter().add(freed.first);
    spdlog::debug("checkpoint {}: deleted {} unreferenced objects ({} bytes)", key, freed.first,
                  freed.second);
  } else if (!result.ok()) {
    for (auto& [k, size] : *doomed) {
      if (k.starts_with(keys::objects_prefix(s_.node()))) s_.table.restore_dead_object(k, size);
    }
  }
  checkpoint_running_ = false;
  checkpoint_done_.notify_all();
  co_return result;
}

awaitable<Status> LogLifecycle::persist() {
  const std::uint64_t want = s_.state_gen;
  while (s_.durable_gen < want) {
    if (s_.fenced()) co_return Status(Errc::fenced, "this broker no longer owns its partitions");
    if (!s_.started) co_return Status(Errc::unavailable, "broker is shutting down");
    if (checkpoint_running_) {
      co_await checkpoint_done_.wait_until(Clock::now() + std::chrono::seconds(1));
      continue;
    }
    auto st = co_await write_checkpoint();
    if (!st.ok()) co_return st;
  }
  co_return Status{};
}

// ---------------------------------------------------------------- retention

Result<std::int64_t> LogLifecycle::delete_records(const PartitionKey& key, std::int64_t offset) {
  PartitionState* p = s_.table.find(key);
  if (p == nullptr) return Status(Errc::not_found, "unknown partition");
  if (offset == -1) offset = p->hwm;
  if (offset < 0 || offset > p->hwm) {
    return Status(Errc::invalid_argument,
                  fmt::format("offset {} is outside [{}, {}] (log start, high watermark)", offset,
                              p->log_start, p->hwm));
  }
  if (s_.table.advance_log_start(*p, offset)) ++s_.state_gen;
  return p->log_start;
}

std::size_t LogLifecycle::enforce_retention() {
  const std::int64_t now = wall_clock_ms();
  std::size_t moved = 0;
  for (const cluster::TopicInfo* t : s_.cluster.topics()) {
    const cluster::TopicSettings& st = t->settings;
    if (st.retention_ms < 0 && st.retention_bytes < 0) continue;
    for (std::int32_t i = 0; i < t->record.partitions; ++i) {
      PartitionState* p = s_.table.find(PartitionKey{t->record.id, i});
      if (p == nullptr) continue;
      std::int64_t start = p->log_start;
      // By time: whole ranges whose newest record is older than retention.ms
      // (Kafka deletes whole segments the same way).
      if (st.retention_ms >= 0) {
        const std::int64_t cutoff = now - st.retention_ms;
        for (const auto& e : p->index) {
          if (e.max_timestamp >= cutoff) break;
          start = std::max(start, e.last_offset + 1);
        }
      }
      // By size: drop the oldest ranges while the rest still exceeds retention.bytes.
      if (st.retention_bytes >= 0) {
        std::uint64_t total = 0;
        for (const auto& e : p->index) total += e.last_offset >= start ? e.length : 0;
        for (const auto& e : p->index) {
          if (e.last_offset < start) continue;
          if (total - e.length < static_cast<std::uint64_t>(st.retention_bytes)) break;
          total -= e.length;
          start = e.last_offset + 1;
        }
      }
      if (s_.table.advance_log_start(*p, std::min(start, p->hwm))) ++moved;
    }
  }
  if (moved > 0) ++s_.state_gen;
  return moved;
}

void LogLifecycle::expire_producers() {
  const std::int64_t expiration = s_.cluster.producer_expiration().count();
  const std::int64_t now = wall_clock_ms();
  auto& all = s_.table.all_producers();
  for (auto it = all.begin(); it != all.end();) {
    it->second.expire(now, expiration);
    it = it->second.size() == 0 && !it->second.has_pending() ? all.erase(it) : std::next(it);
  }
}

// ---------------------------------------------------------------- orphans

std::chrono::milliseconds LogLifecycle::orphan_grace() const {
  if (s_.opt.orphan_grace.count() > 0) return s_.opt.orphan_grace;
  return std::max(std::chrono::milliseconds(1000), s_.opt.checkpoint_interval * 10);
}

// Deletes objects under this node's prefixes that nothing refers to: objects
// of flushes that never committed (failed PUT or commit, crash) and
// checkpoints left over from a crash between PUT and pointer update. A key
// is deleted only after it was seen unreferenced for the grace period.
awaitable<void> LogLifecycle::sweep_orphans() {
  const std::string objects_prefix = keys::objects_prefix(s_.node());
  auto listed = co_await offload(
      s_.pool, list_fn(s_.objects.store(), objects_prefix, keys::checkpoints_prefix(s_.node())));
  if (!listed.ok()) {
    spdlog::warn("orphan sweep: listing failed: {}", listed.status().to_string());
    co_return;
  }
  const auto now = Clock::now();
  const auto grace = orphan_grace();
  std::unordered_map<std::string, Clock::time_point> still;
  auto doomed = std::make_shared<std::vector<std::pair<std::string, std::uint64_t>>>();
  for (const auto& info : *listed) {
    auto name = keys::parse_object_name(info.key);
    if (!name) continue;  // not ours: leave it alone
    if (info.key.starts_with(objects_prefix)) {
      if (s_.table.object_known(info.key)) continue;
      if (name->epoch >= s_.epoch() && name->seq > s_.position.last_committed)
        continue;  // a flush still in flight
    } else if (info.key == checkpoint_object_ || info.key == checkpoint_writing_) {
      continue;
    }
    auto seen = orphan_candidates_.find(info.key);
    auto first = seen == orphan_candidates_.end() ? now : seen->second;
    if (now - first >= grace) {
      doomed->emplace_back(info.key, info.size);
    } else {
      still.emplace(info.key, first);
    }
  }
  orphan_candidates_ = std::move(still);
  if (doomed->empty()) co_return;
  auto freed = co_await offload(s_.pool, delete_fn(s_.objects.store(), doomed));
  s_.stats.objects_deleted += freed.first;
  s_.stats.orphans_deleted += freed.first;
  s_.stats.bytes_deleted += freed.second;
  objects_deleted_counter().add(freed.first);
  spdlog::info("orphan sweep: deleted {} unreferenced objects ({} bytes)", freed.first, freed.second);
}

awaitable<Status> LogLifecycle::checkpointer() {
  auto next = Clock::now() + s_.opt.checkpoint_interval;
  next_sweep_ = Clock::now() + orphan_grace() / 2;
  while (!s_.stopping) {
    co_await s_.checkpoint_wakeup.wait_until(next);
    if (s_.stopping || s_.fenced()) break;
    const bool timer = Clock::now() >= next;
    if (!timer && s_.position.since_checkpoint < s_.opt.checkpoint_max_commits) continue;
    next = Clock::now() + s_.opt.checkpoint_interval;
    // Retention and producer expiry run on the interval (Kafka's
    // log.retention.check.interval.ms), not on checkpoints forced by the
    // number of commit records.
    if (timer) {
      enforce_retention();
      expire_producers();
    }
    if (needs_checkpoint()) {
      if (auto st = co_await write_checkpoint(); !st.ok())
        spdlog::warn("checkpoint failed: {}", st.to_string());
    }
    if (Clock::now() >= next_sweep_ && !s_.stopping && !s_.fenced()) {
      co_await sweep_orphans();
      next_sweep_ = Clock::now() + orphan_grace() / 2;
    }
  }
  checkpointer_done_.set();
  co_return Status{};
}

}  // namespace ks::log
