#include "log/writer.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <bit>

#include "common/assert.h"
#include "common/clock.h"
#include "common/crc32c.h"
#include "common/metrics.h"
#include "common/task.h"
#include "log/records.h"

namespace ks::log {

using metastore::Compare;
using metastore::Op;
using metastore::TxnRequest;

struct LogWriter::Flush {
  std::uint64_t id = 0;                 // assigned at creation (producer state refers to it)
  std::uint64_t seq = 0;                // assigned when sealed
  asio::steady_timer* timer = nullptr;  // the flush timer while it waits
  // Idempotent batches in this flush (the object's producer digest).
  std::vector<DigestRecord> producer_batches;
  std::map<PartitionKey, PendingChunk> chunks;
  std::uint64_t streams = 0;  // mask of the streams with data in it
  std::size_t bytes = 0;
  // Set when the object PUT finished (put_status says how).
  Event put_done;
  Status put_status;
  std::shared_ptr<const ObjectBuffer> object_bytes;  // set by the build (pool thread)
  std::string object_key;
  std::vector<ObjectEntry> entries;
  FooterLocation footer;
  std::uint32_t footer_crc = 0;
  // Set when committed or failed (result says how).
  std::shared_ptr<Completion> done = std::make_shared<Completion>();
};

namespace {

metrics::Counter& flushes_counter() {
  static auto& c =
      metrics::registry().counter("kafscale_flushes_total", "Flushes committed (one object each)");
  return c;
}
metrics::Counter& flush_failures_counter() {
  static auto& c =
      metrics::registry().counter("kafscale_flush_failures_total", "Flushes failed and rolled back");
  return c;
}

// Delay before re-sending a metadata transaction whose outcome is unknown.
constexpr auto kCommitRetryMin = std::chrono::milliseconds(20);
constexpr auto kCommitRetryMax = std::chrono::milliseconds(2000);

// The built object parses back to what we put in (our own bytes: asserted).
void check_built(const ObjectBuffer& bytes, const BuiltObject& built, std::uint64_t seq) {
  std::string_view v = bytes.view();
  KS_ASSERT(v.size() >= kObjectTrailerSize, "flush {}: object of {} bytes", seq, v.size());
  auto parsed = parse_trailer(v.substr(v.size() - kObjectTrailerSize));
  KS_ASSERT(parsed.ok() && parsed->footer.position == built.footer.position &&
                parsed->footer.length == built.footer.length,
            "flush {}: trailer does not locate the footer we wrote", seq);
  auto entries = decode_footer(v.substr(built.footer.position, built.footer.length), parsed->footer_crc);
  KS_ASSERT(entries.ok() && entries->size() == built.entries.size(),
            "flush {}: footer does not parse back: {}", seq,
            entries.ok() ? "entry count differs" : entries.status().to_string());
  for (std::size_t i = 0; i < entries->size(); ++i) {
    const ObjectEntry& a = (*entries)[i];
    const ObjectEntry& b = built.entries[i];
    KS_ASSERT(a.topic == b.topic && a.partition == b.partition && a.base_offset == b.base_offset &&
                  a.last_offset == b.last_offset && a.position == b.position && a.length == b.length &&
                  a.leader_epoch == b.leader_epoch && a.batch_count == b.batch_count,
              "flush {}: footer entry {} differs from what was built", seq, i);
  }
}

}  // namespace

LogWriter::LogWriter(LogShared& s)
    : s_(s),
      done_ok_(std::make_shared<Completion>()),
      // Spare object buffers: two flushes' worth with headroom (one is
      // enough in steady state, where each commit evicts about one object).
      buffers_(std::make_shared<ObjectBufferPool>(3 * s.opt.flush_bytes + (std::size_t{2} << 20))) {
  done_ok_->event.set();
}

LogWriter::~LogWriter() = default;

void LogWriter::start() {
  flushes_counter();
  flush_failures_counter();
  running_ = true;
  spawn_critical(s_.io, "committer", [this] { return committer(); });
}

awaitable<void> LogWriter::stop() {
  if (!running_) co_return;
  if (pending_) seal();
  sealed_notifier_.notify_all();
  co_await committer_done_.wait();
  running_ = false;
}

// ---------------------------------------------------------------- append

Result<LogWriter::AppendResult> LogWriter::check_producer(const PartitionKey& key,
                                                          std::span<const protocol::BatchInfo> batches,
                                                          std::int64_t now, bool& idempotent,
                                                          std::int32_t& last_seq) {
  AppendResult out;
  idempotent = false;
  for (const auto& b : batches) idempotent = idempotent || b.header.producer_id >= 0;
  if (!idempotent) return out;
  const protocol::BatchHeader& h = batches.front().header;
  if (batches.size() != 1) {
    out.check = ProducerCheck::kInvalidRecord;
    out.message = "an idempotent produce must carry exactly one batch per partition";
    return out;
  }
  if (h.base_sequence < 0 || h.producer_epoch < 0) {
    out.check = ProducerCheck::kInvalidRecord;
    out.message = "an idempotent batch needs a producer epoch and base sequence >= 0";
    return out;
  }
  last_seq = last_sequence(h.base_sequence, h.last_offset_delta);
  const ProducerStates* ps = s_.table.producers(key);
  if (ps == nullptr) return out;
  SeqCheck c = ps->check(h.producer_id, h.producer_epoch, h.base_sequence, last_seq, now,
                         s_.cluster.producer_expiration().count());
  switch (c.verdict) {
    case SeqVerdict::kAppend:
      break;
    case SeqVerdict::kDuplicate: {
      out.check = ProducerCheck::kDuplicate;
      out.ticket.base_offset = c.duplicate.first_offset;
      out.ticket.done = done_ok_;
      if (c.duplicate.pending_flush != 0) {
        // Still in flight: answer with that flush's outcome.
        Flush* f = find_flush(c.duplicate.pending_flush);
        if (f == nullptr) return Status(Errc::unavailable, "the original batch's flush is gone; retry");
        out.ticket.done = f->done;
      }
      ++s_.stats.duplicates;
      metrics::registry()
          .counter("kafscale_producer_duplicates_total", "Idempotent batches answered as duplicates")
          .inc();
      break;
    }
    case SeqVerdict::kOutOfOrder:
      out.check = ProducerCheck::kOutOfOrder;
      out.message = std::move(c.message);
      break;
    case SeqVerdict::kStaleEpoch:
      out.check = ProducerCheck::kInvalidEpoch;
      out.message = std::move(c.message);
      break;
  }
  return out;
}

Result<LogWriter::AppendResult> LogWriter::append_batches(const PartitionKey& key, std::string_view records,
                                                          std::span<const protocol::BatchInfo> batches,
                                                          std::int64_t log_append_time_ms) {
  KS_ASSERT(!batches.empty(), "append without batches");
  if (s_.fenced()) return Status(Errc::fenced, "this broker no longer owns its partitions");
  if (!s_.started || s_.stopping) return Status(Errc::unavailable, "broker is shutting down");
  PartitionState* p = s_.table.find(key);
  if (p == nullptr) return Status(Errc::not_found, "unknown partition");
  const OwnedStream* owned = s_.stream(p->stream);
  KS_ASSERT(owned != nullptr, "partition {}-{} of stream {} that is not ours", to_hex(key.topic),
            key.partition, p->stream);
  if (owned->closed) return Status(Errc::fenced, "the partition is moving between brokers");
  const std::int64_t now = wall_clock_ms();
  bool idempotent = false;
  std::int32_t last_seq = 0;
  // Idempotent producer checks (before anything is appended).
  auto checked = check_producer(key, batches, now, idempotent, last_seq);
  if (!checked.ok() || checked->check != ProducerCheck::kOk) return checked;
  AppendResult out;
  const protocol::BatchHeader& h = batches.front().header;
  if (!pending_) {
    pending_ = std::make_shared<Flush>();
    pending_->id = next_flush_id_++;
    spawn_critical(s_.io, "flush timer", [this, f = pending_] { return flush_timer(f); });
  }
  Flush& f = *pending_;
  f.streams |= stream_bit(p->stream);
  auto [it, fresh] = f.chunks.try_emplace(key);
  PendingChunk& c = it->second;
  if (fresh) {
    c.base_offset = p->leo;
    c.leader_epoch = p->leader_epoch;
    std::size_t incoming = 0;
    for (const auto& b : batches) incoming += b.size;
    // Bounded by flush_bytes: a chunk past it is sealed anyway.
    c.data = take_chunk_buffer(
        std::max(incoming, std::min(s_.opt.flush_bytes, p->last_chunk_bytes + p->last_chunk_bytes / 4)));
  }
  const std::int64_t base = p->leo;
  for (const auto& b : batches) {
    std::size_t at = c.data.size();
    c.data.append(records.substr(b.position, b.size));
    char* batch = c.data.data() + at;
    protocol::stamp_batch(batch, p->leo, p->leader_epoch);
    std::int64_t max_ts = b.header.max_timestamp;
    if (log_append_time_ms >= 0) {
      protocol::set_log_append_time(batch, b.size, log_append_time_ms);
      max_ts = log_append_time_ms;
    }
    p->leo += std::int64_t{b.header.last_offset_delta} + 1;
    c.max_timestamp = std::max(c.max_timestamp, max_ts);
    ++c.batch_count;
  }
  c.last_offset = p->leo - 1;
  KS_ASSERT(p->leo > base, "partition {}-{}: log end did not advance", to_hex(key.topic), key.partition);
  if (idempotent) {
    ProducerBatch pb{h.base_sequence, last_seq, base, p->leo - 1, f.id};
    s_.table.producers_for(key).record(h.producer_id, h.producer_epoch, pb, now,
                                       s_.cluster.producer_expiration().count(),
                                       s_.opt.max_producers_per_partition);
    f.producer_batches.push_back(
        DigestRecord{key, h.producer_id, h.producer_epoch, h.base_sequence, last_seq, base, p->leo - 1});
  }
  std::size_t added = 0;
  for (const auto& b : batches) added += b.size;
  f.bytes += added;
  buffered_bytes_ += added;
  s_.stats.bytes_appended += added;
  out.ticket = Ticket{base, pending_->done};
  if (f.bytes >= s_.opt.flush_bytes) seal();
  return out;
}

// Chunk buffers are reused: fresh ones (and growing them) cost page faults
// and copies of every byte appended.
std::string LogWriter::take_chunk_buffer(std::size_t reserve) {
  std::string b;
  if (!spare_chunks_.empty()) {
    b = std::move(spare_chunks_.back());
    spare_chunks_.pop_back();
    spare_chunk_bytes_ -= b.capacity();
  }
  b.reserve(reserve);
  return b;
}

void LogWriter::recycle_chunk_buffer(std::string&& b) {
  // Bounded: twice a flush's bytes, and a count for many tiny chunks.
  constexpr std::size_t kMaxSpareChunks = 4096;
  if (b.capacity() == 0 || spare_chunks_.size() >= kMaxSpareChunks ||
      spare_chunk_bytes_ + b.capacity() > 2 * s_.opt.flush_bytes) {
    return;
  }
  b.clear();
  spare_chunk_bytes_ += b.capacity();
  spare_chunks_.push_back(std::move(b));
}

awaitable<bool> LogWriter::wait_buffer_space(Clock::time_point deadline) {
  while (buffered_bytes_ >= s_.opt.max_buffered_bytes) {
    if (Clock::now() >= deadline) co_return false;
    co_await space_notifier_.wait_until(deadline);
  }
  co_return true;
}

LogWriter::Flush* LogWriter::find_flush(std::uint64_t id) {
  if (pending_ && pending_->id == id) return pending_.get();
  for (auto& f : sealed_) {
    if (f->id == id) return f.get();
  }
  return nullptr;
}

// ---------------------------------------------------------------- seal and PUT

awaitable<Status> LogWriter::flush_timer(std::shared_ptr<Flush> flush) {
  // This coroutine starts from the loop's queue: a flush sealed before then
  // (flush_bytes reached, or stop()) had no timer for seal() to cancel, and
  // a timer started now would keep the loop busy for a whole interval.
  if (pending_ != flush) co_return Status{};
  asio::steady_timer t(s_.io, s_.opt.flush_interval);
  flush->timer = &t;  // seal() cancels it, so nothing lingers after stop()
  boost::system::error_code ec;
  co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  flush->timer = nullptr;
  if (pending_ == flush) seal();
  co_return Status{};
}

bool LogWriter::carries(std::int32_t stream) const {
  if (pending_ && (pending_->streams & stream_bit(stream)) != 0) return true;
  for (const auto& f : sealed_) {
    if ((f->streams & stream_bit(stream)) != 0) return true;
  }
  return false;
}

void LogWriter::seal_pending() {
  if (pending_) seal();
}

void LogWriter::seal() {
  KS_ASSERT(pending_ != nullptr, "seal without a pending flush");
  auto f = std::move(pending_);
  pending_.reset();
  if (f->timer != nullptr) f->timer->cancel();
  for (const auto& [k, c] : f->chunks) {
    if (PartitionState* p = s_.table.find(k)) p->last_chunk_bytes = c.data.size();
  }
  f->seq = s_.position.next_seq++;
  KS_ASSERT(f->seq > s_.position.last_committed, "flush sequence {} not after the last commit {}", f->seq,
            s_.position.last_committed);
  sealed_.push_back(f);
  spawn_critical(s_.io, "object put", [this, f] { return put_object(f); });
  sealed_notifier_.notify_all();
}

std::function<BuiltObject()> LogWriter::build_fn(std::shared_ptr<Flush> f) {
  ObjectHeader h;
  h.broker_epoch = s_.epoch();
  h.flush_seq = f->seq;
  h.created_ms = static_cast<std::uint64_t>(wall_clock_ms());
  return [f = std::move(f), h, buffers = buffers_] {
    std::vector<ChunkRef> refs;
    refs.reserve(f->chunks.size() + 1);
    for (const auto& [k, c] : f->chunks) {
      ChunkRef r;
      r.entry.topic = k.topic;
      r.entry.partition = k.partition;
      r.entry.base_offset = c.base_offset;
      r.entry.last_offset = c.last_offset;
      r.entry.max_timestamp = c.max_timestamp;
      r.entry.leader_epoch = c.leader_epoch;
      r.entry.batch_count = c.batch_count;
      r.data = c.data;
      refs.push_back(r);
    }
    // The producer digest: what recovery needs to rebuild producer state
    // without reading every batch header (see producer_state.h).
    std::string digest;
    if (!f->producer_batches.empty()) {
      ProducerDigest d;
      d.created_ms = static_cast<std::int64_t>(h.created_ms);
      d.records = f->producer_batches;
      digest = encode_producer_digest(d);
      ChunkRef r;
      r.entry.topic = kProducerDigestTopic;
      r.entry.partition = kProducerDigestPartition;
      r.entry.batch_count = static_cast<std::uint32_t>(d.records.size());
      r.data = digest;
      refs.push_back(r);
    }
    // Into a recycled, page-aligned buffer (see object_buffer.h).
    const std::size_t size = object_size(refs);
    auto buf = ObjectBufferPool::take(buffers, size);
    if (buf == nullptr) return BuiltObject{};
    BuiltObject built = build_object_into(h, refs, buf->data, size);
    check_built(*buf, built, h.flush_seq);
    f->object_bytes = std::move(buf);
    return built;
  };
}

awaitable<Status> LogWriter::object_put(std::string key, std::shared_ptr<const ObjectBuffer> bytes) {
  return offload(s_.pool, [o = s_.objects.store(), key = std::move(key), bytes = std::move(bytes)] {
    return o->put(key, bytes->view());
  });
}

awaitable<Status> LogWriter::put_object(std::shared_ptr<Flush> f) {
  while (puts_in_flight_ >= s_.opt.max_inflight_puts)
    co_await space_notifier_.wait_until(Clock::now() + std::chrono::seconds(1));
  ++puts_in_flight_;
  f->object_key = keys::object(s_.node(), s_.epoch(), f->seq);
  // Build on the pool: the sealed flush is no longer touched by the loop.
  auto built = co_await offload(s_.pool, build_fn(f));
  if (f->object_bytes == nullptr) {
    f->put_status = Status(Errc::io_error, "out of memory building the object");
  } else {
    for (auto& [k, c] : f->chunks) recycle_chunk_buffer(std::move(c.data));  // the object holds the bytes now
    f->entries = std::move(built.entries);
    f->footer = built.footer;
    f->footer_crc = crc32c(f->object_bytes->view().substr(f->footer.position, f->footer.length));
    f->put_status = co_await object_put(f->object_key, f->object_bytes);
  }
  --puts_in_flight_;
  space_notifier_.notify_all();
  f->put_done.set();
  sealed_notifier_.notify_all();
  co_return Status{};
}

// ---------------------------------------------------------------- commit

metastore::TxnRequest LogWriter::commit_txn(std::uint64_t seq, std::uint64_t streams,
                                            const std::string& value) const {
  const std::string key = keys::commit(s_.node(), seq);
  TxnRequest t;
  // Create-if-absent: a re-sent commit never applies twice.
  t.compare.push_back(Compare{key, Compare::Target::create_revision, Compare::Result::equal, 0, {}});
  t.failure.push_back(Op::get(key));
  // Fenced by this node's incarnation key and the owner key of each stream
  // the object carries: never more compares than streams, whatever the
  // number of partitions.
  t.compare.push_back(s_.cluster.fence());
  t.failure.push_back(s_.cluster.read_owner());
  for (const auto& [id, st] : s_.streams) {
    if ((streams & stream_bit(id)) == 0) continue;
    t.compare.push_back(st.fence.compare());
    t.failure.push_back(st.fence.read());
  }
  KS_ASSERT(t.compare.size() == 2 + static_cast<std::size_t>(std::popcount(streams)),
            "flush carries streams {:x} but we own {:x}", streams, s_.owned_mask());
  t.success.push_back(Op::put(key, value));
  return t;
}

namespace {

CommitRecord commit_record(std::uint64_t seq, std::uint64_t epoch, const std::string& object,
                           std::uint64_t size, FooterLocation footer, std::uint32_t crc,
                           std::uint64_t streams) {
  CommitRecord rec;
  rec.streams = streams;
  rec.seq = seq;
  rec.broker_epoch = epoch;
  rec.object = object;
  rec.object_size = size;
  rec.footer = footer;
  rec.footer_crc = crc;
  return rec;
}

}  // namespace

awaitable<LogWriter::CommitOutcome> LogWriter::commit(Flush& f, Status& error) {
  const std::string value = encode_commit(commit_record(f.seq, s_.epoch(), f.object_key, f.object_bytes->size,
                                                        f.footer, f.footer_crc, f.streams));
  const TxnRequest t = commit_txn(f.seq, f.streams, value);
  bool outcome_unknown = false;
  auto backoff = kCommitRetryMin;
  for (;;) {
    auto r = co_await s_.meta.txn(t);
    if (r.ok()) {
      if (r->succeeded) co_return CommitOutcome::applied;
      if (r->results.size() < 2) {
        error = Status(Errc::corrupt, "metadata commit: failed compare answered without the reads asked for");
        co_return CommitOutcome::rejected;
      }
      const auto& mine = r->results[0].range.kvs;
      // An earlier attempt that timed out had in fact applied.
      if (!mine.empty() && mine[0].value == value) co_return CommitOutcome::applied;
      const auto& owner = r->results[1].range.kvs;
      error = s_.cluster.fenced_status(owner.empty() ? 0 : owner[0].mod_revision);
      // Or one of the streams: the compares after the node's are the streams'.
      for (std::size_t i = 2; i < r->results.size() && i < t.compare.size(); ++i) {
        const auto& kv = r->results[i].range.kvs;
        const std::int64_t now_rev = kv.empty() ? 0 : kv[0].mod_revision;
        if (now_rev != t.compare[i].number) {
          error = Status(Errc::fenced, fmt::format("{} changed (revision {} -> {})", t.compare[i].key,
                                                   t.compare[i].number, now_rev));
          break;
        }
      }
      co_return CommitOutcome::fenced;
    }
    if (r.code() == Errc::timeout) outcome_unknown = true;
    if (!outcome_unknown) {
      // Known not applied: fail this flush (the producer retries).
      error = Status(r.code(), "metadata commit failed: " + r.status().message());
      co_return CommitOutcome::rejected;
    }
    // Outcome unknown: re-send the identical transaction until it resolves;
    // nothing else commits meanwhile, so commits stay in flush order.
    // Shutting down: give up after a bounded time; the waiters get "outcome
    // unknown" and the next process's recovery sees whether it applied.
    if (s_.stopping && Clock::now() >= s_.stop_deadline) co_return CommitOutcome::unknown_then_stopped;
    spdlog::warn("commit of flush {} outcome unknown ({}); re-sending", f.seq, r.status().to_string());
    asio::steady_timer timer(s_.io, backoff);
    boost::system::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    backoff = std::min(backoff * 2, kCommitRetryMax);
  }
}

void LogWriter::apply_commit(Flush& f) {
  KS_ASSERT(f.seq > s_.position.last_committed, "flush {} committed after flush {}", f.seq,
            s_.position.last_committed);
  auto obj = std::make_shared<ObjectRef>(ObjectRef{f.object_key, f.object_bytes->size, f.streams});
  s_.dirty_streams |= f.streams;
  for (const auto& [id, st] : s_.streams) {
    if ((f.streams & stream_bit(id)) != 0) s_.last_commit_of[id] = f.seq;
  }
  for (const auto& e : f.entries) {
    PartitionState* p = s_.table.find(PartitionKey{e.topic, e.partition});
    if (p == nullptr) continue;  // topic deleted meanwhile (or the producer digest)
    const std::int64_t before = p->hwm;
    s_.table.push_range(*p, IndexEntry{e.base_offset, e.last_offset, e.max_timestamp, obj, e.position,
                                       e.length, e.leader_epoch, e.batch_count});
    KS_ASSERT(p->hwm > before && p->hwm <= p->leo, "partition {}-{}: hwm {} -> {} with log end {}",
              to_hex(e.topic), e.partition, before, p->hwm, p->leo);
    s_.cache.insert(f.object_key, e.position,
                    Slice{f.object_bytes, f.object_bytes->view().substr(e.position, e.length)});
  }
  // No live range (its topics were deleted): removed after the next checkpoint.
  s_.table.note_unreferenced(*obj);
  for (const auto& r : f.producer_batches) {
    if (ProducerStates* ps = s_.table.producers(r.key)) ps->commit(r.pid, f.id);
  }
  s_.position.last_committed = f.seq;
  ++s_.position.since_checkpoint;
  ++s_.stats.commits;
  ++s_.stats.flushes;
  flushes_counter().inc();
  KS_ASSERT(buffered_bytes_ >= f.bytes, "buffered bytes {} below a flush's {}", buffered_bytes_, f.bytes);
  buffered_bytes_ -= f.bytes;
  f.done->result = Status{};
  f.object_bytes.reset();  // the cache keeps what it wants
  f.done->event.set();
}

void LogWriter::fail_all(const Status& status) {
  auto fail = [&](Flush& f) {
    KS_ASSERT(buffered_bytes_ >= f.bytes, "buffered bytes {} below a flush's {}", buffered_bytes_, f.bytes);
    buffered_bytes_ -= f.bytes;
    f.done->result = status;
    f.done->event.set();
    ++s_.stats.flush_failures;
    flush_failures_counter().inc();
  };
  for (auto& f : sealed_) fail(*f);
  sealed_.clear();
  if (pending_) {
    fail(*pending_);
    // Its timer would otherwise wait out the flush interval for nothing
    // (and keep a stopped loop busy).
    if (pending_->timer != nullptr) pending_->timer->cancel();
    pending_.reset();
  }
  // Offsets handed out for uncommitted data are reused by the next appends,
  // and producer state forgets the batches that were never committed.
  for (auto& [k, p] : s_.table.partitions()) p.leo = p.hwm;
  for (auto& [k, ps] : s_.table.all_producers()) ps.rollback();
  space_notifier_.notify_all();
}

awaitable<Status> LogWriter::committer() {
  for (;;) {
    if (sealed_.empty()) {
      if (s_.stopping) break;
      co_await sealed_notifier_.wait_until(Clock::now() + std::chrono::seconds(1));
      continue;
    }
    std::shared_ptr<Flush> f = sealed_.front();
    co_await f->put_done.wait();
    if (sealed_.empty() || sealed_.front() != f) continue;  // failed meanwhile
    if (!f->put_status.ok()) {
      spdlog::error("flush {}: object PUT failed: {}", f->seq, f->put_status.to_string());
      fail_all(Status(f->put_status.code() == Errc::timeout ? Errc::io_error : f->put_status.code(),
                      "object store: " + f->put_status.message()));
      continue;
    }
    Status error;
    CommitOutcome outcome = co_await commit(*f, error);
    if (sealed_.empty() || sealed_.front() != f) continue;
    switch (outcome) {
      case CommitOutcome::applied:
        sealed_.pop_front();
        apply_commit(*f);
        s_.commit_notifier.notify_all();
        space_notifier_.notify_all();
        if (s_.position.since_checkpoint >= s_.opt.checkpoint_max_commits) s_.checkpoint_wakeup.notify_all();
        break;
      case CommitOutcome::rejected:
        spdlog::error("flush {}: {}", f->seq, error.to_string());
        fail_all(error);
        break;
      case CommitOutcome::unknown_then_stopped:
        spdlog::error("flush {}: commit outcome still unknown at shutdown: {}", f->seq, error.to_string());
        fail_all(Status(Errc::timeout, "stopped with the commit outcome unknown"));
        break;
      case CommitOutcome::fenced:
        spdlog::error("flush {}: fenced: {}; this broker stops accepting writes", f->seq, error.to_string());
        s_.cluster.set_fenced(error);
        fail_all(Status(Errc::fenced, error.message()));
        break;
    }
  }
  committer_done_.set();
  co_return Status{};
}

}  // namespace ks::log
