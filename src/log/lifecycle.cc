#include "log/lifecycle.h"

// g++ 12 reports asio's coroutine frame allocation in checkpoint_streams() as
// mismatched new/delete (a known false positive of its coroutine lowering:
// asio allocates and frees frames with its own matching operators).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

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
                                                                   std::vector<std::string> prefixes) {
  return [o = std::move(o), prefixes = std::move(prefixes)]() -> Result<std::vector<objstore::ObjectInfo>> {
    std::vector<objstore::ObjectInfo> out;
    for (const auto& p : prefixes) {
      auto x = o->list(p);
      if (!x.ok()) return x.status();
      for (auto& i : *x) out.push_back(std::move(i));
    }
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
  return s_.position.since_checkpoint > 0 || s_.durable_gen < s_.state_gen || s_.table.has_dead_objects() ||
         s_.dirty_streams != 0;
}

// ---------------------------------------------------------------- checkpoints

std::shared_ptr<Checkpoint> LogLifecycle::snapshot(std::int32_t stream, std::uint64_t covers) const {
  // Taken on the loop (consistent with the last commit); encoded, checked
  // and PUT on the pool.
  auto c = std::make_shared<Checkpoint>();
  c->broker_epoch = s_.epoch();
  c->covers_seq = covers;
  c->created_ms = static_cast<std::uint64_t>(wall_clock_ms());
  for (const auto& [k, p] : s_.table.partitions()) {
    if (p.stream != stream) continue;
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
    const PartitionState* p = s_.table.find(k);
    if (p != nullptr && p->stream == stream && ps.size() > 0) producers.emplace_back(k, &ps);
  }
  if (!producers.empty()) c->producer_state = encode_producer_snapshot(producers);
  return c;
}

namespace {

struct StreamCheckpoint {
  std::int32_t stream = 0;
  std::string key;  // "" when the stream has no partition state: nothing to PUT
  std::shared_ptr<Checkpoint> checkpoint;
};

std::function<Status()> put_checkpoints_fn(std::shared_ptr<objstore::ObjectStore> o,
                                           std::shared_ptr<std::vector<StreamCheckpoint>> writes) {
  return [o = std::move(o), writes = std::move(writes)]() -> Status {
    for (const auto& w : *writes) {
      if (w.key.empty()) continue;
      std::string bytes = encode_checkpoint(*w.checkpoint);
      check_round_trip(*w.checkpoint, bytes, w.key);
      if (auto st = o->put(w.key, bytes); !st.ok()) return Status(st.code(), w.key + ": " + st.message());
    }
    return Status{};
  };
}

}  // namespace

awaitable<Result<std::uint64_t>> LogLifecycle::deletable_commits(std::uint64_t covers) {
  // A stream that moved away may still need our commit records after its
  // checkpoint: its pointer names us. Pointers only ever move on to newer
  // checkpoints, so reading them before the deletion is enough.
  auto pointers = co_await stream_pointers();
  if (!pointers.ok()) co_return pointers.status();
  std::uint64_t bound = covers;
  for (const auto& [stream, ptr] : *pointers) {
    if (s_.stream(stream) != nullptr) continue;  // ours: the new checkpoint covers it
    if (ptr.node == s_.node()) bound = std::min(bound, ptr.covers_seq);
  }
  co_return bound;
}

metastore::TxnRequest LogLifecycle::checkpoint_txn(const std::vector<std::int32_t>& streams,
                                                   const std::vector<std::string>& objects,
                                                   std::uint64_t covers, std::uint64_t delete_to,
                                                   CheckpointMode mode) const {
  TxnRequest t;
  t.compare.push_back(s_.cluster.fence());
  for (std::size_t i = 0; i < streams.size(); ++i) {
    const OwnedStream* st = s_.stream(streams[i]);
    KS_ASSERT(st != nullptr, "stream {} dropped while its checkpoint was written", streams[i]);
    t.compare.push_back(st->fence.compare());
    CheckpointPointer ptr;
    ptr.object = objects[i];
    ptr.covers_seq = covers;
    ptr.broker_epoch = s_.epoch();
    ptr.node = s_.node();
    t.success.push_back(Op::put(keys::stream_checkpoint(streams[i]), encode_checkpoint_pointer(ptr)));
    if (mode != CheckpointMode::round) {
      // Taken: the owner record names the stream's term; released: the next owner may go.
      StreamOwnerRecord o;
      o.node = s_.node();
      o.released = mode == CheckpointMode::release;
      o.leader_epoch = st->leader_epoch;
      t.success.push_back(Op::put(keys::stream_owner(streams[i]), encode_stream_owner(o)));
    }
  }
  // One range delete removes every commit record the checkpoints cover.
  if (delete_to > 0)
    t.success.push_back(Op::del(keys::commit(s_.node(), 0), keys::commit(s_.node(), delete_to + 1)));
  return t;
}

awaitable<Status> LogLifecycle::checkpoint_streams(const std::vector<std::int32_t>& ids,
                                                   CheckpointMode mode) {
  if (mode == CheckpointMode::round && checkpoint_running_) co_return Status{};
  while (checkpoint_running_) co_await checkpoint_done_.wait_until(Clock::now() + std::chrono::seconds(1));
  checkpoint_running_ = true;
  const std::size_t covered = s_.position.since_checkpoint;
  const std::uint64_t covers = s_.position.last_committed;
  const std::uint64_t gen = s_.state_gen;
  const bool all_changed = s_.durable_gen < s_.state_gen;
  auto writes = std::make_shared<std::vector<StreamCheckpoint>>();
  // Streams may have been released while we waited for another checkpoint:
  // a round covers those still ours; taking or releasing one needs it.
  std::vector<std::int32_t> owned;
  for (std::int32_t id : ids) {
    if (s_.stream(id) != nullptr) {
      owned.push_back(id);
    } else if (mode != CheckpointMode::round) {
      checkpoint_running_ = false;
      checkpoint_done_.notify_all();
      co_return Status(Errc::fenced, fmt::format("stream {} is no longer ours", id));
    }
  }
  for (std::int32_t id : owned) {
    const OwnedStream* st = s_.stream(id);
    KS_ASSERT(st != nullptr, "checkpoint of stream {} that is not ours", id);
    const bool changed =
        mode != CheckpointMode::round || all_changed || (s_.dirty_streams & stream_bit(id)) != 0;
    if (!changed) continue;
    StreamCheckpoint w;
    w.stream = id;
    w.checkpoint = snapshot(id, covers);
    if (!w.checkpoint->partitions.empty() || !w.checkpoint->producer_state.empty())
      w.key = keys::stream_checkpoint_object(id, s_.node(), s_.epoch(), covers);
    writes->push_back(std::move(w));
  }
  // Objects no live range refers to: once this checkpoint is durable nothing
  // durable refers to them either (their commit records are covered).
  std::vector<ObjectRef> doomed;
  if (mode == CheckpointMode::round) doomed = s_.table.take_dead_objects(s_.owned_mask());
  for (const auto& w : *writes) {
    if (!w.key.empty()) checkpoints_writing_.insert(w.key);
  }
  Status result = co_await offload(s_.pool, put_checkpoints_fn(s_.objects.store(), writes));
  std::uint64_t delete_to = 0;
  if (result.ok() && mode == CheckpointMode::round) {
    auto bound = co_await deletable_commits(covers);
    if (bound.ok()) {
      delete_to = *bound;
    } else {
      result = bound.status();
    }
  }
  if (result.ok()) {
    std::vector<std::int32_t> written;
    std::vector<std::string> objects;
    for (const auto& w : *writes) {
      written.push_back(w.stream);
      objects.push_back(w.key);
    }
    const TxnRequest t = checkpoint_txn(written, objects, covers, delete_to, mode);
    auto r = co_await s_.meta.txn(t);
    if (!r.ok()) {
      result = Status(r.code(), "checkpoint commit: " + r.status().message());
    } else if (!r->succeeded) {
      // Only fences are compared: another process owns this node id or one
      // of the streams. Fenced from now on, as when a commit is rejected.
      result = Status(Errc::fenced, "checkpoint: ownership lost");
      s_.cluster.set_fenced(result);
    } else {
      for (const auto& w : *writes) {
        OwnedStream* st = s_.stream(w.stream);
        KS_ASSERT(st != nullptr, "stream {} dropped during its checkpoint", w.stream);
        if (!st->checkpoint_object.empty() && st->checkpoint_object != w.key) {
          ObjectRef old;
          old.key = st->checkpoint_object;
          doomed.push_back(std::move(old));
        }
        st->checkpoint_object = w.key;
        // Our own rewrite of the owner key (taken: the stream's term) moved its revision.
        if (mode == CheckpointMode::acquire) st->fence.revision = r->revision;
        // Clean only if nothing committed for it while the checkpoint was written.
        auto last = s_.last_commit_of.find(w.stream);
        if (last == s_.last_commit_of.end() || last->second <= covers)
          s_.dirty_streams &= ~stream_bit(w.stream);
      }
      if (mode == CheckpointMode::round) {
        s_.position.checkpoint_covers = std::max(s_.position.checkpoint_covers, delete_to);
        s_.position.since_checkpoint -= std::min(s_.position.since_checkpoint, covered);
        s_.durable_gen = std::max(s_.durable_gen, gen);
      }
      ++s_.stats.checkpoints;
      metrics::registry().counter("kafscale_checkpoints_total", "Checkpoints written").inc();
    }
  }
  for (const auto& w : *writes) checkpoints_writing_.erase(w.key);
  if (result.ok() && !doomed.empty()) {
    auto list = std::make_shared<std::vector<std::pair<std::string, std::uint64_t>>>();
    for (auto& o : doomed) list->emplace_back(std::move(o.key), o.size);
    auto freed = co_await offload(s_.pool, delete_fn(s_.objects.store(), list));
    s_.stats.objects_deleted += freed.first;
    s_.stats.bytes_deleted += freed.second;
    objects_deleted_counter().add(freed.first);
    spdlog::debug("checkpoint: deleted {} unreferenced objects ({} bytes)", freed.first, freed.second);
  } else if (!result.ok()) {
    for (auto& o : doomed) {
      if (o.key.starts_with(keys::objects_prefix(s_.node()))) s_.table.restore_dead_object(o);
    }
  }
  checkpoint_running_ = false;
  checkpoint_done_.notify_all();
  co_return result;
}

awaitable<Status> LogLifecycle::write_checkpoint() {
  std::vector<std::int32_t> ids;
  for (const auto& [id, st] : s_.streams) ids.push_back(id);
  Status st = co_await checkpoint_streams(ids, CheckpointMode::round);
  co_return st;
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
// Log objects only while this broker owns every stream: otherwise another
// broker may refer to an object we wrote (the cluster-wide sweep's job).
awaitable<void> LogLifecycle::sweep_orphans() {
  const std::string objects_prefix = keys::objects_prefix(s_.node());
  std::vector<std::string> prefixes;
  if (s_.owns_all_streams()) prefixes.push_back(objects_prefix);
  std::set<std::string> current;
  for (const auto& [id, st] : s_.streams) {
    prefixes.push_back(fmt::format("{}{}/", keys::stream_checkpoints_prefix(id), s_.node()));
    current.insert(st.checkpoint_object);
  }
  auto listed = co_await offload(s_.pool, list_fn(s_.objects.store(), std::move(prefixes)));
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
    } else if (current.count(info.key) > 0 || checkpoints_writing_.count(info.key) > 0) {
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
