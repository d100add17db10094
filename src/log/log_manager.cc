#include "log/log_manager.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>
#include <random>

#include "common/crc32c.h"
#include "common/metrics.h"
#include "log/batch_scan.h"
#include "log/checkpoint.h"

namespace ks::log {

using metastore::Compare;
using metastore::Op;
using metastore::TxnRequest;

struct LogManager::Flush {
  std::uint64_t id = 0;                 // assigned at creation (producer state refers to it)
  std::uint64_t seq = 0;                // assigned when sealed
  asio::steady_timer* timer = nullptr;  // the flush timer while it waits
  // Idempotent batches in this flush (the object's producer digest).
  std::vector<DigestRecord> producer_batches;
  std::map<PartitionKey, PendingChunk> chunks;
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

std::uint64_t now_ms() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

auto log_exception(const char* what) {
  return [what](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      spdlog::critical("{} failed: {}", what, ex.what());
    }
  };
}

// Marks a batch as LogAppendTime with max timestamp `ts` (Kafka's layout:
// attributes at byte 21, maxTimestamp at 35, both big-endian, both CRC-covered).
void set_log_append_time(char* batch, std::size_t size, std::int64_t ts) {
  auto attrs = static_cast<std::uint16_t>((std::uint8_t(batch[21]) << 8) | std::uint8_t(batch[22]));
  attrs |= static_cast<std::uint16_t>(protocol::kAttrLogAppendTime);
  batch[21] = static_cast<char>(attrs >> 8);
  batch[22] = static_cast<char>(attrs & 0xff);
  for (int i = 0; i < 8; ++i)
    batch[35 + i] = static_cast<char>(static_cast<std::uint64_t>(ts) >> (56 - 8 * i));
  protocol::update_batch_crc(batch, size);
}

metastore::TxnRequest cluster_txn(const std::string& cid) {
  TxnRequest t;
  t.compare.push_back(
      Compare{keys::cluster(), Compare::Target::create_revision, Compare::Result::equal, 0, {}});
  nlohmann::json j;
  j["v"] = 1;
  j["cluster_id"] = cid;
  t.success.push_back(Op::put(keys::cluster(), j.dump()));
  t.failure.push_back(Op::get(keys::cluster()));
  return t;
}

Result<std::string> cluster_id_from(const metastore::TxnResponse& r, const std::string& proposed) {
  if (r.succeeded) return proposed;
  const auto& kvs = r.results.at(0).range.kvs;
  if (kvs.empty()) return Status(Errc::corrupt, "cluster record vanished");
  auto j = nlohmann::json::parse(kvs[0].value, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("cluster_id") || !j["cluster_id"].is_string()) {
    return Status(Errc::corrupt, "cluster record unreadable");
  }
  return j["cluster_id"].get<std::string>();
}

std::string owner_value(std::int32_t node, std::uint64_t ms) {
  nlohmann::json j;
  j["v"] = 1;
  j["node"] = node;
  j["started_ms"] = ms;
  return j.dump();
}

metastore::TxnRequest create_if_absent_txn(const std::string& key, const std::string& value) {
  TxnRequest t;
  t.compare.push_back(Compare{key, Compare::Target::create_revision, Compare::Result::equal, 0, {}});
  t.success.push_back(Op::put(key, value));
  return t;
}

metastore::RangeRequest key_request(const std::string& key) {
  metastore::RangeRequest rq;
  rq.key = key;
  return rq;
}

std::optional<objstore::ByteRange> footer_range(const CommitRecord& c) {
  return objstore::ByteRange{c.footer.position, c.footer.length};
}

std::optional<objstore::ByteRange> entry_range(const ObjectEntry& e) {
  return objstore::ByteRange{e.position, e.length};
}

bool is_digest(const ObjectEntry& e) {
  return e.topic == kProducerDigestTopic && e.partition == kProducerDigestPartition && e.length > 0;
}

std::shared_ptr<const ObjectRef> make_object_ref(const std::string& key, std::uint64_t size) {
  auto o = std::make_shared<ObjectRef>();
  o->key = key;
  o->size = size;
  return o;
}

TopicRecord new_topic(const std::string& name, std::int32_t partitions,
                      std::map<std::string, std::string> configs, std::uint64_t ms) {
  TopicRecord rec;
  rec.name = name;
  rec.id = random_topic_id();
  rec.partitions = partitions;
  rec.configs = std::move(configs);
  rec.created_ms = static_cast<std::int64_t>(ms);
  return rec;
}

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

// How long stop() keeps re-sending a commit whose outcome is unknown.
constexpr auto kStopCommitTimeout = std::chrono::seconds(3);

// Delay before re-sending a metadata transaction whose outcome is unknown.
constexpr auto kCommitRetryMin = std::chrono::milliseconds(20);
constexpr auto kCommitRetryMax = std::chrono::milliseconds(2000);

}  // namespace

LogManager::LogManager(asio::io_context& io, asio::thread_pool& pool,
                       std::shared_ptr<objstore::ObjectStore> objects,
                       std::shared_ptr<metastore::MetadataStore> meta, LogOptions options)
    : io_(io),
      pool_(pool),
      objects_(std::move(objects)),
      meta_(std::move(meta)),
      opt_(options),
      done_ok_(std::make_shared<Completion>()),
      // Spare object buffers: two flushes' worth with headroom (one is
      // enough in steady state, where each commit evicts about one object).
      buffers_(std::make_shared<ObjectBufferPool>(3 * options.flush_bytes + (std::size_t{2} << 20))),
      cache_(options.cache_bytes) {
  done_ok_->event.set();
}

LogManager::~LogManager() = default;

// Starts a background coroutine from the loop's queue, never inline inside the
// coroutine that asks for it.
template <class F>
void LogManager::spawn(F make, const char* what) {
  asio::post(io_, [this, make = std::move(make), what]() mutable {
    asio::co_spawn(io_, make(), log_exception(what));
  });
}

// ---------------------------------------------------------------- backend calls

awaitable<Result<metastore::TxnResponse>> LogManager::meta_txn(TxnRequest t) {
  return offload(pool_, [m = meta_, t = std::move(t)] { return m->txn(t); });
}
awaitable<Result<std::int64_t>> LogManager::meta_put(std::string key, std::string value) {
  return offload(pool_,
                 [m = meta_, key = std::move(key), value = std::move(value)] { return m->put(key, value); });
}
awaitable<Result<std::int64_t>> LogManager::meta_delete(std::string key) {
  return offload(pool_, [m = meta_, key = std::move(key)] { return m->delete_range(key); });
}
awaitable<Result<metastore::RangeResponse>> LogManager::meta_range(metastore::RangeRequest rq) {
  return offload(pool_, [m = meta_, rq = std::move(rq)] { return m->range(rq); });
}
awaitable<Result<std::string>> LogManager::object_get(std::string key,
                                                      std::optional<objstore::ByteRange> range) {
  return offload(pool_, [o = objects_, key = std::move(key), range] { return o->get(key, range); });
}
awaitable<Status> LogManager::object_put(std::string key, std::shared_ptr<const ObjectBuffer> bytes) {
  return offload(pool_, [o = objects_, key = std::move(key), bytes = std::move(bytes)] {
    return o->put(key, bytes->view());
  });
}

std::function<BuiltObject()> LogManager::build_fn(std::shared_ptr<Flush> f) {
  ObjectHeader h;
  h.broker_epoch = epoch_;
  h.flush_seq = f->seq;
  h.created_ms = now_ms();
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
    f->object_bytes = std::move(buf);
    return built;
  };
}

std::function<Status()> LogManager::checkpoint_fn(std::string key) {
  // Snapshot now, on the loop (consistent with last_committed_seq_);
  // encode and PUT on the pool.
  auto c = std::make_shared<Checkpoint>();
  c->broker_epoch = epoch_;
  c->covers_seq = last_committed_seq_;
  c->created_ms = now_ms();
  c->partitions.reserve(partitions_.size());
  for (const auto& [k, p] : partitions_) {
    PartitionSnapshot s;
    s.key = k;
    s.log_start = p.log_start;
    s.hwm = p.hwm;
    s.leader_epoch = p.leader_epoch;
    s.epochs = p.epochs;
    s.index.assign(p.index.begin(), p.index.end());
    c->partitions.push_back(std::move(s));
  }
  // Committed producer state only (pending batches are not covered).
  std::vector<std::pair<PartitionKey, const ProducerStates*>> producers;
  for (const auto& [k, ps] : producers_) {
    if (ps.size() > 0) producers.emplace_back(k, &ps);
  }
  if (!producers.empty()) c->producer_state = encode_producer_snapshot(producers);
  return [o = objects_, key = std::move(key), c] { return o->put(key, encode_checkpoint(*c)); };
}

CommitRecord LogManager::commit_record(const Flush& f) const {
  CommitRecord rec;
  rec.seq = f.seq;
  rec.broker_epoch = epoch_;
  rec.object = f.object_key;
  rec.object_size = f.object_bytes->size;
  rec.footer = f.footer;
  rec.footer_crc = f.footer_crc;
  return rec;
}

metastore::TxnRequest LogManager::commit_txn(std::uint64_t seq, const std::string& value) const {
  const std::string key = keys::commit(opt_.node_id, seq);
  TxnRequest t;
  // Fenced by one per-broker key, whatever the number of partitions.
  t.compare.push_back(Compare{keys::owner(opt_.node_id),
                              Compare::Target::mod_revision,
                              Compare::Result::equal,
                              static_cast<std::int64_t>(epoch_),
                              {}});
  // Create-if-absent: a re-sent commit never applies twice.
  t.compare.push_back(Compare{key, Compare::Target::create_revision, Compare::Result::equal, 0, {}});
  t.success.push_back(Op::put(key, value));
  t.failure.push_back(Op::get(key));
  t.failure.push_back(Op::get(keys::owner(opt_.node_id)));
  return t;
}

metastore::TxnRequest LogManager::checkpoint_txn(const std::string& object, std::uint64_t covers) const {
  CheckpointPointer ptr;
  ptr.object = object;
  ptr.covers_seq = covers;
  ptr.broker_epoch = epoch_;
  TxnRequest t;
  t.compare.push_back(Compare{keys::owner(opt_.node_id),
                              Compare::Target::mod_revision,
                              Compare::Result::equal,
                              static_cast<std::int64_t>(epoch_),
                              {}});
  t.success.push_back(Op::put(keys::checkpoint(opt_.node_id), encode_checkpoint_pointer(ptr)));
  // One range delete removes every commit record the checkpoint covers.
  t.success.push_back(Op::del(keys::commit(opt_.node_id, 0), keys::commit(opt_.node_id, covers + 1)));
  return t;
}

Status LogManager::fenced_status(std::int64_t new_revision) const {
  return Status(Errc::fenced, fmt::format("ownership key of node {} changed (epoch {} -> {})", opt_.node_id,
                                          epoch_, new_revision));
}

TopicInfo& LogManager::install_topic(TopicRecord rec) {
  TopicInfo& info = topics_[rec.name];
  info.settings = effective_settings(rec.configs);
  info.record = std::move(rec);
  add_partitions(info);
  for (std::int32_t i = 0; i < info.record.partitions; ++i) {
    auto& p = partitions_.at(PartitionKey{info.record.id, i});
    p.leader_epoch = 0;
    p.epochs.assign(1, EpochStart{0, 0});
  }
  return info;
}

void LogManager::remove_topic(std::map<std::string, TopicInfo>::iterator it) {
  for (std::int32_t i = 0; i < it->second.record.partitions; ++i) {
    PartitionKey k{it->second.record.id, i};
    auto p = partitions_.find(k);
    if (p != partitions_.end()) {
      for (const auto& e : p->second.index) unref_object(e.object->key);
      partitions_.erase(p);
    }
    producers_.erase(k);
  }
  topics_.erase(it);
  ++state_gen_;  // the next checkpoint drops the topic's ranges
}

// ---------------------------------------------------------------- object references

void LogManager::index_push(PartitionState& p, IndexEntry e) {
  auto [it, fresh] = object_uses_.try_emplace(e.object->key);
  if (fresh) {
    it->second.size = e.object->size;
    dead_objects_.erase(e.object->key);  // referenced again (recovery order)
  }
  ++it->second.ranges;
  p.index.push_back(std::move(e));
}

void LogManager::unref_object(const std::string& key) {
  auto it = object_uses_.find(key);
  if (it == object_uses_.end()) return;
  if (--it->second.ranges == 0) {
    dead_objects_[key] = it->second.size;
    object_uses_.erase(it);
  }
}

// Drops the ranges wholly below the log start.
void LogManager::trim_index(PartitionState& p) {
  while (!p.index.empty() && p.index.front().last_offset < p.log_start) {
    std::string key = p.index.front().object->key;
    p.index.pop_front();
    unref_object(key);
  }
  // Leader epochs that ended before the log start are no longer answerable.
  while (p.epochs.size() >= 2 && p.epochs[1].start_offset <= p.log_start) p.epochs.erase(p.epochs.begin());
}

bool LogManager::object_known(const std::string& key) const {
  return object_uses_.count(key) > 0 || dead_objects_.count(key) > 0;
}

std::int64_t LogManager::now_wall_ms() const { return static_cast<std::int64_t>(now_ms()); }

LogManager::Flush* LogManager::find_flush(std::uint64_t id) {
  if (pending_ && pending_->id == id) return pending_.get();
  for (auto& f : sealed_) {
    if (f->id == id) return f.get();
  }
  return nullptr;
}

const ProducerStates* LogManager::producer_states(const PartitionKey& key) const {
  auto it = producers_.find(key);
  return it == producers_.end() ? nullptr : &it->second;
}

Status LogManager::apply_digest(const ProducerDigest& d) {
  for (const auto& r : d.records) {
    if (partitions_.count(r.key) == 0) continue;  // topic deleted since
    ProducerBatch b{r.first_seq, r.last_seq, r.first_offset, r.last_offset, 0};
    producers_[r.key].record(r.pid, r.epoch, b, d.created_ms, -1, opt_.max_producers_per_partition);
  }
  return Status{};
}

// ---------------------------------------------------------------- start-up

awaitable<Status> LogManager::acquire_ownership() {
  // Cluster id: created once, create-if-absent.
  std::string cid = to_hex(random_topic_id());
  auto r = co_await meta_txn(cluster_txn(cid));
  if (!r.ok()) co_return Status(r.code(), "creating cluster id: " + r.status().message());
  auto id = cluster_id_from(*r, cid);
  if (!id.ok()) co_return id.status();
  cluster_id_ = *id;
  // Ownership: writing the key fences every older process of this node id;
  // the revision of our write is our epoch.
  auto p = co_await meta_put(keys::owner(opt_.node_id), owner_value(opt_.node_id, now_ms()));
  if (!p.ok()) co_return Status(p.code(), "taking ownership: " + p.status().message());
  epoch_ = static_cast<std::uint64_t>(*p);
  co_return Status{};
}

awaitable<Status> LogManager::load_topics() {
  metastore::RangeRequest rq;
  rq.key = keys::topics_prefix();
  rq.range_end = metastore::prefix_end(rq.key);
  auto r = co_await meta_range(rq);
  if (!r.ok()) co_return Status(r.code(), "loading topics: " + r.status().message());
  for (const auto& kv : r->kvs) {
    auto t = decode_topic(kv.value);
    if (!t.ok()) co_return Status(Errc::corrupt, kv.key + ": " + t.status().message());
    TopicInfo info{*t, effective_settings(t->configs)};
    topics_[t->name] = info;
  }
  co_return Status{};
}

void LogManager::add_partitions(const TopicInfo& t) {
  for (std::int32_t i = 0; i < t.record.partitions; ++i) {
    PartitionKey k{t.record.id, i};
    auto [it, inserted] = partitions_.try_emplace(k);
    if (inserted) it->second.key = k;
  }
}

Status LogManager::apply_entries(const std::shared_ptr<const ObjectRef>& obj,
                                 const std::vector<ObjectEntry>& entries) {
  for (const auto& e : entries) {
    auto it = partitions_.find(PartitionKey{e.topic, e.partition});
    if (it == partitions_.end()) continue;  // topic deleted since
    PartitionState& p = it->second;
    if (e.base_offset != p.hwm || e.last_offset < e.base_offset) {
      return Status(Errc::corrupt, fmt::format("{}: partition {}-{} continues at {} but the log ends at {}",
                                               obj->key, to_hex(e.topic), e.partition, e.base_offset, p.hwm));
    }
    index_push(p, IndexEntry{e.base_offset, e.last_offset, e.max_timestamp, obj, e.position, e.length,
                             e.leader_epoch, e.batch_count});
    if (p.epochs.empty() || p.epochs.back().epoch != e.leader_epoch) {
      p.epochs.push_back(EpochStart{e.leader_epoch, e.base_offset});
    }
    p.leader_epoch = std::max(p.leader_epoch, e.leader_epoch);
    p.hwm = e.last_offset + 1;
    p.leo = p.hwm;
  }
  return Status{};
}

awaitable<Status> LogManager::recover() {
  // 1. Checkpoint.
  metastore::RangeRequest cq;
  cq.key = keys::checkpoint(opt_.node_id);
  auto cp = co_await meta_range(cq);
  if (!cp.ok()) co_return Status(cp.code(), "reading checkpoint pointer: " + cp.status().message());
  if (!cp->kvs.empty()) {
    auto ptr = decode_checkpoint_pointer(cp->kvs[0].value);
    if (!ptr.ok()) co_return ptr.status();
    auto bytes = co_await object_get(ptr->object, std::nullopt);
    if (!bytes.ok())
      co_return Status(bytes.code(), "reading checkpoint " + ptr->object + ": " + bytes.status().message());
    auto c = decode_checkpoint(*bytes);
    if (!c.ok()) co_return Status(Errc::corrupt, ptr->object + ": " + c.status().message());
    for (auto& ps : c->partitions) {
      auto it = partitions_.find(ps.key);
      if (it == partitions_.end()) continue;  // topic deleted
      PartitionState& p = it->second;
      p.log_start = ps.log_start;
      p.hwm = p.leo = ps.hwm;
      p.leader_epoch = ps.leader_epoch;
      p.epochs = std::move(ps.epochs);
      p.index.clear();
      for (auto& e : ps.index) index_push(p, std::move(e));
    }
    auto producers = decode_producer_snapshot(c->producer_state);
    if (!producers.ok()) co_return Status(Errc::corrupt, ptr->object + ": " + producers.status().message());
    for (auto& [k, ps] : *producers) {
      if (partitions_.count(k) > 0) producers_[k] = std::move(ps);
    }
    checkpoint_seq_ = ptr->covers_seq;
    last_committed_seq_ = checkpoint_seq_;
    checkpoint_object_ = ptr->object;
  }
  // 2. Commit records after it, in sequence order, a page at a time.
  std::string from = keys::commit(opt_.node_id, checkpoint_seq_ + 1);
  const std::string end = metastore::prefix_end(keys::commits_prefix(opt_.node_id));
  std::size_t replayed = 0;
  for (;;) {
    metastore::RangeRequest rq;
    rq.key = from;
    rq.range_end = end;
    rq.limit = 500;
    auto r = co_await meta_range(rq);
    if (!r.ok()) co_return Status(r.code(), "reading commit records: " + r.status().message());
    for (const auto& kv : r->kvs) {
      auto c = decode_commit(kv.value);
      if (!c.ok()) co_return Status(Errc::corrupt, kv.key + ": " + c.status().message());
      auto footer = co_await object_get(c->object, footer_range(*c));
      if (!footer.ok()) {
        co_return Status(footer.code(), "reading footer of committed object " + c->object + ": " +
                                            footer.status().message());
      }
      auto entries = decode_footer(*footer, c->footer_crc);
      if (!entries.ok()) co_return Status(Errc::corrupt, c->object + ": " + entries.status().message());
      auto obj = make_object_ref(c->object, c->object_size);
      if (auto s = apply_entries(obj, *entries); !s.ok()) co_return s;
      // Still referenced by its commit record until the next checkpoint.
      if (object_uses_.count(c->object) == 0) dead_objects_[c->object] = c->object_size;
      // (An index loop: g++ 12 miscompiles co_await inside some range-for loops.)
      for (std::size_t i = 0; i < entries->size(); ++i) {
        const ObjectEntry& e = (*entries)[i];
        if (!is_digest(e)) continue;
        auto bytes = co_await object_get(c->object, entry_range(e));
        if (!bytes.ok())
          co_return Status(bytes.code(),
                           "reading producer digest of " + c->object + ": " + bytes.status().message());
        auto digest = decode_producer_digest(*bytes);
        if (!digest.ok()) co_return Status(Errc::corrupt, c->object + ": " + digest.status().message());
        if (auto s = apply_digest(*digest); !s.ok()) co_return s;
      }
      last_committed_seq_ = std::max(last_committed_seq_, c->seq);
      ++replayed;
    }
    if (!r->more || r->kvs.empty()) break;
    from = r->kvs.back().key + '\0';
  }
  commits_since_checkpoint_ = replayed;
  next_seq_ = last_committed_seq_ + 1;
  // A new leadership term for every partition.
  for (auto& [k, p] : partitions_) {
    ++p.leader_epoch;
    p.epochs.push_back(EpochStart{p.leader_epoch, p.hwm});
  }
  spdlog::info("recovered {} partitions of {} topics (checkpoint covers seq {}, {} commit records replayed)",
               partitions_.size(), topics_.size(), checkpoint_seq_, replayed);
  co_return Status{};
}

namespace {

std::string dynamic_config_key(std::int32_t node) { return fmt::format("/ks/brokers/{}/config", node); }

std::string encode_dynamic_configs(const std::map<std::string, std::string>& configs) {
  nlohmann::json j;
  j["v"] = 1;
  j["configs"] = configs;
  return j.dump();
}

}  // namespace

void LogManager::apply_dynamic_configs() {
  opt_.producer_expiration = static_producer_expiration_;
  auto it = dynamic_configs_.find("producer.id.expiration.ms");
  if (it != dynamic_configs_.end()) {
    std::int64_t v = 0;
    auto [p, ec] = std::from_chars(it->second.data(), it->second.data() + it->second.size(), v);
    if (ec == std::errc() && v >= 0) opt_.producer_expiration = std::chrono::milliseconds(v);
  }
}

awaitable<Status> LogManager::load_dynamic_configs() {
  static_producer_expiration_ = opt_.producer_expiration;
  auto r = co_await meta_range(key_request(dynamic_config_key(opt_.node_id)));
  if (!r.ok()) co_return Status(r.code(), "loading broker configs: " + r.status().message());
  if (!r->kvs.empty()) {
    auto j = nlohmann::json::parse(r->kvs[0].value, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("configs") || !j["configs"].is_object()) {
      co_return Status(Errc::corrupt, dynamic_config_key(opt_.node_id) + ": unreadable");
    }
    for (const auto& [k, v] : j["configs"].items()) {
      if (v.is_string()) dynamic_configs_[k] = v.get<std::string>();
    }
  }
  apply_dynamic_configs();
  co_return Status{};
}

awaitable<Status> LogManager::set_dynamic_broker_configs(const std::map<std::string, std::string>& configs) {
  auto r = co_await meta_put(dynamic_config_key(opt_.node_id), encode_dynamic_configs(configs));
  if (!r.ok()) co_return r.status();
  dynamic_configs_ = configs;
  apply_dynamic_configs();
  co_return Status{};
}

awaitable<Status> LogManager::start() {
  if (auto s = co_await acquire_ownership(); !s.ok()) co_return s;
  if (auto s = co_await load_dynamic_configs(); !s.ok()) co_return s;
  if (auto s = co_await load_topics(); !s.ok()) co_return s;
  for (const auto& [name, t] : topics_) add_partitions(t);
  if (auto s = co_await recover(); !s.ok()) co_return s;
  started_ = true;
  flushes_counter();
  flush_failures_counter();
  spawn([this] { return committer(); }, "committer");
  spawn([this] { return checkpointer(); }, "checkpointer");
  spdlog::info("log ready: node {} epoch {} cluster {}", opt_.node_id, epoch_, cluster_id_);
  co_return Status{};
}

awaitable<void> LogManager::stop() {
  if (!started_) co_return;
  if (pending_) seal();
  stopping_ = true;
  stop_deadline_ = Clock::now() + kStopCommitTimeout;
  sealed_notifier_.notify_all();
  checkpoint_wakeup_.notify_all();
  co_await committer_done_.wait_until(Clock::time_point::max());
  co_await checkpointer_done_.wait_until(Clock::time_point::max());
  // A checkpoint started by persist() may still be running: the final one follows it.
  while (checkpoint_running_) co_await checkpoint_done_.wait_until(Clock::now() + std::chrono::seconds(1));
  if (!fenced_ && (commits_since_checkpoint_ > 0 || durable_gen_ < state_gen_ || !dead_objects_.empty())) {
    if (auto s = co_await write_checkpoint(); !s.ok())
      spdlog::warn("final checkpoint failed: {}", s.to_string());
  }
  started_ = false;
}

// ---------------------------------------------------------------- topics

const TopicInfo* LogManager::topic(const std::string& name) const {
  auto it = topics_.find(name);
  return it == topics_.end() ? nullptr : &it->second;
}

const TopicInfo* LogManager::topic_by_id(const TopicId& id) const {
  for (const auto& [n, t] : topics_) {
    if (t.record.id == id) return &t;
  }
  return nullptr;
}

std::vector<const TopicInfo*> LogManager::topics() const {
  std::vector<const TopicInfo*> out;
  out.reserve(topics_.size());
  for (const auto& [n, t] : topics_) out.push_back(&t);
  return out;
}

awaitable<Result<const TopicInfo*>> LogManager::create_topic(std::string name, std::int32_t partitions,
                                                             std::map<std::string, std::string> configs) {
  TopicRecord rec = new_topic(name, partitions, std::move(configs), now_ms());
  auto r = co_await meta_txn(create_if_absent_txn(keys::topic(name), encode_topic(rec)));
  if (!r.ok()) co_return r.status();
  if (!r->succeeded) co_return Status(Errc::already_exists, "Topic '" + name + "' already exists.");
  auto& info = install_topic(std::move(rec));
  spdlog::info("created topic {} ({} partitions, id {})", name, partitions, to_hex(info.record.id));
  co_return &info;
}

awaitable<Status> LogManager::delete_topic(const std::string& name) {
  auto it = topics_.find(name);
  if (it == topics_.end()) co_return Status(Errc::not_found, "unknown topic " + name);
  TopicId id = it->second.record.id;
  auto r = co_await meta_delete(keys::topic(name));
  if (!r.ok()) co_return r.status();
  it = topics_.find(name);
  if (it != topics_.end() && it->second.record.id == id) remove_topic(it);
  spdlog::info("deleted topic {}", name);
  co_return Status{};
}

namespace {

// Replaces the topic record if it is still the one we read (by mod revision).
metastore::TxnRequest topic_update_txn(const std::string& key, std::int64_t mod_revision,
                                       const std::string& value) {
  TxnRequest t;
  t.compare.push_back(Compare{key, Compare::Target::mod_revision, Compare::Result::equal, mod_revision, {}});
  t.success.push_back(Op::put(key, value));
  return t;
}

// New partitions start in leader epoch 0 at offset 0.
void start_new_partitions(std::unordered_map<PartitionKey, PartitionState, PartitionKeyHash>& parts,
                          const TopicId& id, std::int32_t from, std::int32_t to) {
  for (std::int32_t i = from; i < to; ++i) {
    auto& p = parts.at(PartitionKey{id, i});
    p.leader_epoch = 0;
    p.epochs.assign(1, EpochStart{0, 0});
  }
}

}  // namespace

awaitable<Status> LogManager::set_topic_configs(const std::string& name,
                                                const std::map<std::string, std::string>& configs) {
  auto it = topics_.find(name);
  if (it == topics_.end()) co_return Status(Errc::not_found, "unknown topic " + name);
  const TopicId id = it->second.record.id;
  auto cur = co_await meta_range(key_request(keys::topic(name)));
  if (!cur.ok()) co_return cur.status();
  if (cur->kvs.empty()) co_return Status(Errc::not_found, "unknown topic " + name);
  auto rec = decode_topic(cur->kvs[0].value);
  if (!rec.ok()) co_return rec.status();
  if (rec->id != id) co_return Status(Errc::not_found, "topic " + name + " was re-created");
  rec->configs = configs;
  auto r =
      co_await meta_txn(topic_update_txn(keys::topic(name), cur->kvs[0].mod_revision, encode_topic(*rec)));
  if (!r.ok()) co_return r.status();
  if (!r->succeeded) co_return Status(Errc::unavailable, "topic " + name + " changed concurrently; retry");
  it = topics_.find(name);
  if (it == topics_.end() || it->second.record.id != id)
    co_return Status(Errc::not_found, "unknown topic " + name);
  it->second.record.configs = configs;
  it->second.settings = effective_settings(configs);
  spdlog::info("topic {}: configs updated", name);
  co_return Status{};
}

awaitable<Status> LogManager::add_topic_partitions(const std::string& name, std::int32_t count) {
  auto it = topics_.find(name);
  if (it == topics_.end()) co_return Status(Errc::not_found, "unknown topic " + name);
  const TopicId id = it->second.record.id;
  auto cur = co_await meta_range(key_request(keys::topic(name)));
  if (!cur.ok()) co_return cur.status();
  if (cur->kvs.empty()) co_return Status(Errc::not_found, "unknown topic " + name);
  auto rec = decode_topic(cur->kvs[0].value);
  if (!rec.ok()) co_return rec.status();
  if (rec->id != id) co_return Status(Errc::not_found, "topic " + name + " was re-created");
  if (count <= rec->partitions)
    co_return Status(Errc::invalid_argument, "the topic already has that many partitions");
  const std::int32_t old = rec->partitions;
  rec->partitions = count;
  auto r =
      co_await meta_txn(topic_update_txn(keys::topic(name), cur->kvs[0].mod_revision, encode_topic(*rec)));
  if (!r.ok()) co_return r.status();
  if (!r->succeeded) co_return Status(Errc::unavailable, "topic " + name + " changed concurrently; retry");
  it = topics_.find(name);
  if (it == topics_.end() || it->second.record.id != id)
    co_return Status(Errc::not_found, "unknown topic " + name);
  it->second.record.partitions = count;
  add_partitions(it->second);
  start_new_partitions(partitions_, id, old, count);
  spdlog::info("topic {}: {} -> {} partitions", name, old, count);
  co_return Status{};
}

PartitionState* LogManager::partition(const PartitionKey& key) {
  auto it = partitions_.find(key);
  return it == partitions_.end() ? nullptr : &it->second;
}

// ---------------------------------------------------------------- write path

Result<LogManager::Ticket> LogManager::append(const PartitionKey& key, std::string_view records,
                                              std::span<const protocol::BatchInfo> batches,
                                              std::int64_t log_append_time_ms) {
  auto r = append_batches(key, records, batches, log_append_time_ms);
  if (!r.ok()) return r.status();
  if (r->check != ProducerCheck::kOk && r->check != ProducerCheck::kDuplicate) {
    return Status(Errc::invalid_argument, r->message);
  }
  return r->ticket;
}

Result<LogManager::AppendResult> LogManager::append_batches(const PartitionKey& key, std::string_view records,
                                                            std::span<const protocol::BatchInfo> batches,
                                                            std::int64_t log_append_time_ms) {
  assert(!batches.empty());
  if (fenced_) return Status(Errc::fenced, "this broker no longer owns its partitions");
  if (!started_ || stopping_) return Status(Errc::unavailable, "broker is shutting down");
  PartitionState* p = partition(key);
  if (p == nullptr) return Status(Errc::not_found, "unknown partition");
  AppendResult out;
  // Idempotent producer checks (before anything is appended).
  bool idempotent = false;
  for (const auto& b : batches) idempotent = idempotent || b.header.producer_id >= 0;
  const protocol::BatchHeader& h = batches.front().header;
  const std::int64_t now = now_wall_ms();
  std::int32_t last_seq = 0;
  if (idempotent) {
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
    auto ps = producers_.find(key);
    if (ps != producers_.end()) {
      SeqCheck c = ps->second.check(h.producer_id, h.producer_epoch, h.base_sequence, last_seq, now,
                                    opt_.producer_expiration.count());
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
          ++stats_.duplicates;
          metrics::registry()
              .counter("kafscale_producer_duplicates_total", "Idempotent batches answered as duplicates")
              .inc();
          return out;
        }
        case SeqVerdict::kOutOfOrder:
          out.check = ProducerCheck::kOutOfOrder;
          out.message = std::move(c.message);
          return out;
        case SeqVerdict::kStaleEpoch:
          out.check = ProducerCheck::kInvalidEpoch;
          out.message = std::move(c.message);
          return out;
      }
    }
  }
  if (!pending_) {
    pending_ = std::make_shared<Flush>();
    pending_->id = next_flush_id_++;
    spawn([this, f = pending_] { return flush_timer(f); }, "flush timer");
  }
  Flush& f = *pending_;
  auto [it, fresh] = f.chunks.try_emplace(key);
  PendingChunk& c = it->second;
  if (fresh) {
    c.base_offset = p->leo;
    c.leader_epoch = p->leader_epoch;
    std::size_t incoming = 0;
    for (const auto& b : batches) incoming += b.size;
    // Bounded by flush_bytes: a chunk past it is sealed anyway.
    c.data = take_chunk_buffer(
        std::max(incoming, std::min(opt_.flush_bytes, p->last_chunk_bytes + p->last_chunk_bytes / 4)));
  }
  const std::int64_t base = p->leo;
  for (const auto& b : batches) {
    std::size_t at = c.data.size();
    c.data.append(records.substr(b.position, b.size));
    char* batch = c.data.data() + at;
    protocol::stamp_batch(batch, p->leo, p->leader_epoch);
    std::int64_t max_ts = b.header.max_timestamp;
    if (log_append_time_ms >= 0) {
      set_log_append_time(batch, b.size, log_append_time_ms);
      max_ts = log_append_time_ms;
    }
    p->leo += std::int64_t{b.header.last_offset_delta} + 1;
    c.max_timestamp = std::max(c.max_timestamp, max_ts);
    ++c.batch_count;
  }
  c.last_offset = p->leo - 1;
  if (idempotent) {
    ProducerBatch pb{h.base_sequence, last_seq, base, p->leo - 1, f.id};
    producers_[key].record(h.producer_id, h.producer_epoch, pb, now, opt_.producer_expiration.count(),
                           opt_.max_producers_per_partition);
    f.producer_batches.push_back(
        DigestRecord{key, h.producer_id, h.producer_epoch, h.base_sequence, last_seq, base, p->leo - 1});
  }
  std::size_t added = 0;
  for (const auto& b : batches) added += b.size;
  f.bytes += added;
  buffered_bytes_ += added;
  stats_.bytes_appended += added;
  out.ticket = Ticket{base, pending_->done};
  if (f.bytes >= opt_.flush_bytes) seal();
  return out;
}

// Chunk buffers are reused: fresh ones (and growing them) cost page faults
// and copies of every byte appended.
std::string LogManager::take_chunk_buffer(std::size_t reserve) {
  std::string b;
  if (!spare_chunks_.empty()) {
    b = std::move(spare_chunks_.back());
    spare_chunks_.pop_back();
    spare_chunk_bytes_ -= b.capacity();
  }
  b.reserve(reserve);
  return b;
}

void LogManager::recycle_chunk_buffer(std::string&& b) {
  // Bounded: twice a flush's bytes, and a count for many tiny chunks.
  constexpr std::size_t kMaxSpareChunks = 4096;
  if (b.capacity() == 0 || spare_chunks_.size() >= kMaxSpareChunks ||
      spare_chunk_bytes_ + b.capacity() > 2 * opt_.flush_bytes) {
    return;
  }
  b.clear();
  spare_chunk_bytes_ += b.capacity();
  spare_chunks_.push_back(std::move(b));
}

awaitable<bool> LogManager::wait_buffer_space(Clock::time_point deadline) {
  while (buffered_bytes_ >= opt_.max_buffered_bytes) {
    if (Clock::now() >= deadline) co_return false;
    co_await space_notifier_.wait_until(deadline);
  }
  co_return true;
}

awaitable<void> LogManager::flush_timer(std::shared_ptr<Flush> flush) {
  // This coroutine starts from the loop's queue: a flush sealed before then
  // (flush_bytes reached, or stop()) had no timer for seal() to cancel, and
  // a timer started now would keep the loop busy for a whole interval.
  if (pending_ != flush) co_return;
  asio::steady_timer t(io_, opt_.flush_interval);
  flush->timer = &t;  // seal() cancels it, so nothing lingers after stop()
  boost::system::error_code ec;
  co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  flush->timer = nullptr;
  if (pending_ == flush) seal();
}

void LogManager::seal() {
  assert(pending_);
  auto f = std::move(pending_);
  pending_.reset();
  if (f->timer != nullptr) f->timer->cancel();
  for (const auto& [k, c] : f->chunks) {
    if (PartitionState* p = partition(k)) p->last_chunk_bytes = c.data.size();
  }
  f->seq = next_seq_++;
  sealed_.push_back(f);
  spawn([this, f] { return put_object(f); }, "object put");
  sealed_notifier_.notify_all();
}

awaitable<void> LogManager::put_object(std::shared_ptr<Flush> f) {
  while (puts_in_flight_ >= opt_.max_inflight_puts)
    co_await space_notifier_.wait_until(Clock::now() + std::chrono::seconds(1));
  ++puts_in_flight_;
  f->object_key = keys::object(opt_.node_id, epoch_, f->seq);
  // Build on the pool: the sealed flush is no longer touched by the loop.
  auto built = co_await offload(pool_, build_fn(f));
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
}

awaitable<LogManager::CommitOutcome> LogManager::commit(Flush& f, Status& error) {
  const std::string value = encode_commit(commit_record(f));
  const TxnRequest t = commit_txn(f.seq, value);
  bool outcome_unknown = false;
  auto backoff = kCommitRetryMin;
  for (;;) {
    auto r = co_await meta_txn(t);
    if (r.ok()) {
      if (r->succeeded) co_return CommitOutcome::applied;
      const auto& mine = r->results.at(0).range.kvs;
      // An earlier attempt that timed out had in fact applied.
      if (!mine.empty() && mine[0].value == value) co_return CommitOutcome::applied;
      const auto& owner = r->results.at(1).range.kvs;
      error = fenced_status(owner.empty() ? 0 : owner[0].mod_revision);
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
    if (stopping_ && Clock::now() >= stop_deadline_) co_return CommitOutcome::unknown_then_stopped;
    spdlog::warn("commit of flush {} outcome unknown ({}); re-sending", f.seq, r.status().to_string());
    asio::steady_timer timer(io_, backoff);
    boost::system::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    backoff = std::min(backoff * 2, kCommitRetryMax);
  }
}

void LogManager::apply_commit(Flush& f) {
  auto obj = std::make_shared<ObjectRef>(ObjectRef{f.object_key, f.object_bytes->size});
  for (const auto& e : f.entries) {
    auto it = partitions_.find(PartitionKey{e.topic, e.partition});
    if (it == partitions_.end()) continue;  // topic deleted meanwhile (or the producer digest)
    PartitionState& p = it->second;
    assert(e.base_offset == p.hwm);
    index_push(p, IndexEntry{e.base_offset, e.last_offset, e.max_timestamp, obj, e.position, e.length,
                             e.leader_epoch, e.batch_count});
    p.hwm = e.last_offset + 1;
    assert(p.hwm <= p.leo);
    cache_.insert(f.object_key, e.position,
                  Slice{f.object_bytes, f.object_bytes->view().substr(e.position, e.length)});
  }
  // No live range (its topics were deleted): removed after the next checkpoint.
  if (object_uses_.count(f.object_key) == 0) dead_objects_[f.object_key] = f.object_bytes->size;
  for (const auto& r : f.producer_batches) {
    auto ps = producers_.find(r.key);
    if (ps != producers_.end()) ps->second.commit(r.pid, f.id);
  }
  last_committed_seq_ = f.seq;
  ++commits_since_checkpoint_;
  ++stats_.commits;
  ++stats_.flushes;
  flushes_counter().inc();
  buffered_bytes_ -= f.bytes;
  f.done->result = Status{};
  f.object_bytes.reset();  // the cache keeps what it wants
  f.done->event.set();
}

void LogManager::fail_all(const Status& status) {
  auto fail = [&](Flush& f) {
    buffered_bytes_ -= f.bytes;
    f.done->result = status;
    f.done->event.set();
    ++stats_.flush_failures;
    flush_failures_counter().inc();
  };
  for (auto& f : sealed_) fail(*f);
  sealed_.clear();
  if (pending_) {
    fail(*pending_);
    pending_.reset();
  }
  // Offsets handed out for uncommitted data are reused by the next appends,
  // and producer state forgets the batches that were never committed.
  for (auto& [k, p] : partitions_) p.leo = p.hwm;
  for (auto& [k, ps] : producers_) ps.rollback();
  space_notifier_.notify_all();
}

awaitable<void> LogManager::committer() {
  for (;;) {
    if (sealed_.empty()) {
      if (stopping_) break;
      co_await sealed_notifier_.wait_until(Clock::now() + std::chrono::seconds(1));
      continue;
    }
    std::shared_ptr<Flush> f = sealed_.front();
    co_await f->put_done.wait_until(Clock::time_point::max());
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
        commit_notifier_.notify_all();
        space_notifier_.notify_all();
        if (commits_since_checkpoint_ >= opt_.checkpoint_max_commits) checkpoint_wakeup_.notify_all();
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
        fenced_ = true;
        fail_all(Status(Errc::fenced, error.message()));
        break;
    }
  }
  committer_done_.set();
}

// ---------------------------------------------------------------- checkpoints

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

// "objects/<node>/<epoch:016x>-<seq:016x>.kso" (or .ksc) -> epoch and seq.
bool parse_object_name(std::string_view key, std::uint64_t& epoch, std::uint64_t& seq) {
  auto slash = key.rfind('/');
  if (slash == std::string_view::npos) return false;
  std::string_view name = key.substr(slash + 1);
  if (name.size() != 16 + 1 + 16 + 4 || name[16] != '-') return false;
  auto hex = [](std::string_view h, std::uint64_t& out) {
    auto [p, ec] = std::from_chars(h.data(), h.data() + h.size(), out, 16);
    return ec == std::errc() && p == h.data() + h.size();
  };
  return hex(name.substr(0, 16), epoch) && hex(name.substr(17, 16), seq);
}

}  // namespace

awaitable<Status> LogManager::write_checkpoint() {
  if (checkpoint_running_) co_return Status{};
  checkpoint_running_ = true;
  const std::size_t covered = commits_since_checkpoint_;
  const std::uint64_t covers = last_committed_seq_;
  const std::uint64_t gen = state_gen_;
  // Objects no live range refers to: once this checkpoint is durable nothing
  // durable refers to them either (their commit records are covered).
  auto doomed = std::make_shared<std::vector<std::pair<std::string, std::uint64_t>>>(dead_objects_.begin(),
                                                                                     dead_objects_.end());
  dead_objects_.clear();
  const std::string key = keys::checkpoint_object(opt_.node_id, epoch_, covers);
  checkpoint_writing_ = key;
  auto put = co_await offload(pool_, checkpoint_fn(key));
  Status result;
  if (!put.ok()) {
    result = Status(put.code(), "checkpoint PUT: " + put.message());
  } else {
    auto r = co_await meta_txn(checkpoint_txn(key, covers));
    if (!r.ok()) {
      result = Status(r.code(), "checkpoint commit: " + r.status().message());
    } else if (!r->succeeded) {
      result = Status(Errc::fenced, "checkpoint: ownership lost");
    } else {
      checkpoint_seq_ = covers;
      commits_since_checkpoint_ -= std::min(commits_since_checkpoint_, covered);
      durable_gen_ = std::max(durable_gen_, gen);
      ++stats_.checkpoints;
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
    auto freed = co_await offload(pool_, delete_fn(objects_, doomed));
    stats_.objects_deleted += freed.first;
    stats_.bytes_deleted += freed.second;
    metrics::registry()
        .counter("kafscale_objects_deleted_total", "Objects deleted by retention and GC")
        .add(freed.first);
    spdlog::debug("checkpoint {}: deleted {} unreferenced objects ({} bytes)", key, freed.first,
                  freed.second);
  } else if (!result.ok()) {
    for (auto& [k, size] : *doomed) {
      if (k.starts_with("objects/")) dead_objects_.emplace(k, size);
    }
  }
  checkpoint_running_ = false;
  checkpoint_done_.notify_all();
  co_return result;
}

awaitable<Status> LogManager::persist() {
  const std::uint64_t want = state_gen_;
  while (durable_gen_ < want) {
    if (fenced_) co_return Status(Errc::fenced, "this broker no longer owns its partitions");
    if (!started_) co_return Status(Errc::unavailable, "broker is shutting down");
    if (checkpoint_running_) {
      co_await checkpoint_done_.wait_until(Clock::now() + std::chrono::seconds(1));
      continue;
    }
    auto s = co_await write_checkpoint();
    if (!s.ok()) co_return s;
  }
  co_return Status{};
}

Result<std::int64_t> LogManager::delete_records(const PartitionKey& key, std::int64_t offset) {
  PartitionState* p = partition(key);
  if (p == nullptr) return Status(Errc::not_found, "unknown partition");
  if (offset == -1) offset = p->hwm;
  if (offset < 0 || offset > p->hwm) {
    return Status(Errc::invalid_argument,
                  fmt::format("offset {} is outside [{}, {}] (log start, high watermark)", offset,
                              p->log_start, p->hwm));
  }
  if (offset > p->log_start) {
    p->log_start = offset;
    trim_index(*p);
    ++state_gen_;
  }
  return p->log_start;
}

std::size_t LogManager::enforce_retention() {
  const std::int64_t now = now_wall_ms();
  std::size_t moved = 0;
  for (auto& [name, t] : topics_) {
    const TopicSettings& s = t.settings;
    if (s.retention_ms < 0 && s.retention_bytes < 0) continue;
    for (std::int32_t i = 0; i < t.record.partitions; ++i) {
      auto it = partitions_.find(PartitionKey{t.record.id, i});
      if (it == partitions_.end()) continue;
      PartitionState& p = it->second;
      std::int64_t start = p.log_start;
      // By time: whole ranges whose newest record is older than retention.ms
      // (Kafka deletes whole segments the same way).
      if (s.retention_ms >= 0) {
        const std::int64_t cutoff = now - s.retention_ms;
        for (const auto& e : p.index) {
          if (e.max_timestamp >= cutoff) break;
          start = std::max(start, e.last_offset + 1);
        }
      }
      // By size: drop the oldest ranges while the rest still exceeds retention.bytes.
      if (s.retention_bytes >= 0) {
        std::uint64_t total = 0;
        for (const auto& e : p.index) total += e.last_offset >= start ? e.length : 0;
        for (const auto& e : p.index) {
          if (e.last_offset < start) continue;
          if (total - e.length < static_cast<std::uint64_t>(s.retention_bytes)) break;
          total -= e.length;
          start = e.last_offset + 1;
        }
      }
      start = std::min(start, p.hwm);
      if (start > p.log_start) {
        p.log_start = start;
        trim_index(p);
        ++moved;
      }
    }
  }
  if (moved > 0) ++state_gen_;
  return moved;
}

std::chrono::milliseconds LogManager::orphan_grace() const {
  if (opt_.orphan_grace.count() > 0) return opt_.orphan_grace;
  return std::max(std::chrono::milliseconds(1000), opt_.checkpoint_interval * 10);
}

// Deletes objects under this node's prefixes that nothing refers to: objects
// of flushes that never committed (failed PUT or commit, crash) and
// checkpoints left over from a crash between PUT and pointer update. A key
// is deleted only after it was seen unreferenced for the grace period.
awaitable<void> LogManager::sweep_orphans() {
  const std::string objects_prefix = fmt::format("objects/{}/", opt_.node_id);
  const std::string checkpoints_prefix = fmt::format("checkpoints/{}/", opt_.node_id);
  auto listed = co_await offload(pool_, list_fn(objects_, objects_prefix, checkpoints_prefix));
  if (!listed.ok()) {
    spdlog::warn("orphan sweep: listing failed: {}", listed.status().to_string());
    co_return;
  }
  const auto now = Clock::now();
  const auto grace = orphan_grace();
  std::unordered_map<std::string, Clock::time_point> still;
  auto doomed = std::make_shared<std::vector<std::pair<std::string, std::uint64_t>>>();
  for (const auto& info : *listed) {
    std::uint64_t e = 0, seq = 0;
    if (!parse_object_name(info.key, e, seq)) continue;  // not ours: leave it alone
    if (info.key.starts_with(objects_prefix)) {
      if (object_known(info.key)) continue;
      if (e >= epoch_ && seq > last_committed_seq_) continue;  // a flush still in flight
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
  auto freed = co_await offload(pool_, delete_fn(objects_, doomed));
  stats_.objects_deleted += freed.first;
  stats_.orphans_deleted += freed.first;
  stats_.bytes_deleted += freed.second;
  metrics::registry()
      .counter("kafscale_objects_deleted_total", "Objects deleted by retention and GC")
      .add(freed.first);
  spdlog::info("orphan sweep: deleted {} unreferenced objects ({} bytes)", freed.first, freed.second);
}

awaitable<void> LogManager::checkpointer() {
  auto next = Clock::now() + opt_.checkpoint_interval;
  next_sweep_ = Clock::now() + orphan_grace() / 2;
  while (!stopping_) {
    co_await checkpoint_wakeup_.wait_until(next);
    if (stopping_ || fenced_) break;
    const bool timer = Clock::now() >= next;
    if (!timer && commits_since_checkpoint_ < opt_.checkpoint_max_commits) continue;
    next = Clock::now() + opt_.checkpoint_interval;
    // Retention and producer expiry run on the interval (Kafka's
    // log.retention.check.interval.ms), not on checkpoints forced by the
    // number of commit records.
    if (timer) {
      enforce_retention();
      const std::int64_t expiration = opt_.producer_expiration.count();
      const std::int64_t now = now_wall_ms();
      for (auto it = producers_.begin(); it != producers_.end();) {
        it->second.expire(now, expiration);
        it = it->second.size() == 0 && !it->second.has_pending() ? producers_.erase(it) : std::next(it);
      }
    }
    if (commits_since_checkpoint_ > 0 || durable_gen_ < state_gen_ || !dead_objects_.empty()) {
      if (auto s = co_await write_checkpoint(); !s.ok()) spdlog::warn("checkpoint failed: {}", s.to_string());
    }
    if (Clock::now() >= next_sweep_ && !stopping_ && !fenced_) {
      co_await sweep_orphans();
      next_sweep_ = Clock::now() + orphan_grace() / 2;
    }
  }
  checkpointer_done_.set();
}

// ---------------------------------------------------------------- producer ids

namespace {

// Producer ids are reserved in blocks: one metadata write per block.
constexpr std::int64_t kProducerIdBlock = 1000;
const std::string kProducerIdKey = "/ks/producer-ids";

Result<std::int64_t> reserve_producer_ids(metastore::MetadataStore& m);

// Callables for the pool, built outside coroutines: g++ 12 destroys some
// lambda temporaries in a co_await expression twice.
std::function<Result<std::int64_t>()> reserve_fn(std::shared_ptr<metastore::MetadataStore> m) {
  return [m = std::move(m)] { return reserve_producer_ids(*m); };
}

Result<std::int64_t> reserve_producer_ids(metastore::MetadataStore& m) {
  // A few rounds: another broker may reserve at the same moment.
  for (int attempt = 0; attempt < 16; ++attempt) {
    metastore::RangeRequest rq;
    rq.key = kProducerIdKey;
    auto r = m.range(rq);
    if (!r.ok()) return r.status();
    std::int64_t next = 0, mod = 0;
    if (!r->kvs.empty()) {
      auto j = nlohmann::json::parse(r->kvs[0].value, nullptr, false);
      if (j.is_discarded() || !j.is_object() || !j.contains("next") || !j["next"].is_number_integer()) {
        return Status(Errc::corrupt, kProducerIdKey + ": unreadable");
      }
      next = j["next"].get<std::int64_t>();
      mod = r->kvs[0].mod_revision;
    }
    nlohmann::json v;
    v["v"] = 1;
    v["next"] = next + kProducerIdBlock;
    TxnRequest t;
    if (mod == 0) {
      t.compare.push_back(
          Compare{kProducerIdKey, Compare::Target::create_revision, Compare::Result::equal, 0, {}});
    } else {
      t.compare.push_back(
          Compare{kProducerIdKey, Compare::Target::mod_revision, Compare::Result::equal, mod, {}});
    }
    t.success.push_back(Op::put(kProducerIdKey, v.dump()));
    auto tr = m.txn(t);
    if (!tr.ok()) return tr.status();
    if (tr->succeeded) return next;
  }
  return Status(Errc::unavailable, "producer id block: too much contention");
}

}  // namespace

awaitable<Result<std::int64_t>> LogManager::allocate_producer_id() {
  while (pid_next_ >= pid_end_) {
    if (pid_fetching_) {
      co_await pid_notifier_.wait_until(Clock::now() + std::chrono::seconds(1));
      continue;
    }
    pid_fetching_ = true;
    auto r = co_await offload(pool_, reserve_fn(meta_));
    pid_fetching_ = false;
    pid_notifier_.notify_all();
    if (!r.ok()) co_return r.status();
    pid_next_ = *r;
    pid_end_ = *r + kProducerIdBlock;
  }
  co_return pid_next_++;
}

// ---------------------------------------------------------------- read path

// (Plain functions: keep braced temporaries out of coroutine bodies.)
std::optional<objstore::ByteRange> LogManager::fetch_range(const ObjectFetch& f, std::uint64_t object_size) {
  if (f.start == 0 && f.length == object_size) return std::nullopt;  // the whole object
  return objstore::ByteRange{f.start, f.length};
}

Slice LogManager::fetched_slice(const ObjectFetch& f, std::uint64_t pos, std::uint64_t len) {
  return Slice{f.bytes, std::string_view(*f.bytes).substr(pos - f.start, len)};
}

std::shared_ptr<LogManager::ObjectFetch> LogManager::find_fetch(const std::string& key, std::uint64_t pos,
                                                                std::uint64_t len) const {
  auto it = fetches_.find(key);
  if (it == fetches_.end()) return nullptr;
  for (const auto& f : it->second) {
    if (pos >= f->start && len <= f->length && pos - f->start <= f->length - len) return f;
  }
  return nullptr;
}

// Plans the GET for a chunk not in the cache: the whole object when it is
// small enough, else a window starting at the chunk, else the chunk alone.
std::shared_ptr<LogManager::ObjectFetch> LogManager::start_fetch(const IndexEntry& e) {
  auto f = std::make_shared<ObjectFetch>();
  f->start = e.position;
  f->length = e.length;
  const std::uint64_t limit = std::min<std::uint64_t>(opt_.read_ahead_bytes, cache_.capacity() / 4);
  const std::uint64_t size = e.object->size;
  if (size > 0 && e.position + e.length <= size && e.length < limit) {
    if (size <= limit) {
      f->start = 0;
      f->length = size;
    } else {
      f->length = std::min<std::uint64_t>(limit, size - e.position);
    }
  }
  fetches_[e.object->key].push_back(f);
  return f;
}

void LogManager::finish_fetch(const std::string& key, const std::shared_ptr<ObjectFetch>& f,
                              Result<std::string> r) {
  auto it = fetches_.find(key);
  if (it != fetches_.end()) {
    auto& v = it->second;
    v.erase(std::remove(v.begin(), v.end(), f), v.end());
    if (v.empty()) fetches_.erase(it);
  }
  if (!r.ok()) {
    f->status = r.status();
  } else if (r->size() != f->length) {
    f->status = Status(Errc::corrupt, fmt::format("{}: short read at {} ({} of {} bytes)", key, f->start,
                                                  r->size(), f->length));
  } else {
    f->bytes = std::make_shared<const std::string>(std::move(r).value());
    cache_.insert_span(key, f->start, Slice{f->bytes, std::string_view(*f->bytes)});
  }
  f->done.set();
}

awaitable<Result<Slice>> LogManager::chunk_data(const IndexEntry& e) {
  const std::string key = e.object->key;
  const std::uint64_t pos = e.position, len = e.length;
  Slice s = cache_.find(key, pos, len);
  if (s.owner) co_return s;
  std::shared_ptr<ObjectFetch> f = find_fetch(key, pos, len);
  if (f) {
    co_await f->done.wait();
  } else {
    f = start_fetch(e);
    auto r = co_await object_get(key, fetch_range(*f, e.object->size));
    finish_fetch(key, f, std::move(r));
  }
  if (!f->status.ok()) co_return f->status;
  co_return fetched_slice(*f, pos, len);
}

awaitable<Result<LogManager::ReadResult>> LogManager::read(const PartitionKey& key, std::int64_t offset,
                                                           std::size_t max_bytes) {
  ReadResult out;
  // Copy the entries we need: the partition may change while we await GETs.
  std::vector<IndexEntry> entries;
  {
    PartitionState* p = partition(key);
    if (p == nullptr) co_return Status(Errc::not_found, "unknown partition");
    auto it = std::lower_bound(p->index.begin(), p->index.end(), offset,
                               [](const IndexEntry& e, std::int64_t o) { return e.last_offset < o; });
    // The first chunk may be used only from the middle (where `offset` is),
    // so it does not count against max_bytes when planning; the batch walk
    // below enforces the limit exactly.
    std::size_t planned = 0;
    for (; it != p->index.end() && (entries.empty() || planned < max_bytes); ++it) {
      if (!entries.empty()) planned += it->length;
      entries.push_back(*it);
    }
  }
  for (const auto& e : entries) {
    auto chunk = co_await chunk_data(e);
    if (!chunk.ok()) {
      if (!out.slices.empty()) break;  // serve what we have
      co_return chunk.status();
    }
    std::string_view d = chunk->data;
    // Walk batch headers: skip batches wholly below `offset`, stop at max_bytes.
    std::size_t pos = 0, start = std::string_view::npos, stop = 0;
    while (pos + protocol::kBatchHeaderSize <= d.size()) {
      auto h = protocol::parse_batch_header(d.substr(pos));
      std::size_t size = h.total_size();
      if (size > d.size() - pos) break;
      if (h.last_offset() >= offset) {
        if (start == std::string_view::npos) start = pos;
        if (out.bytes + (pos + size - start) > max_bytes && (out.bytes > 0 || pos > start)) break;
        stop = pos + size;
      }
      pos += size;
    }
    if (start == std::string_view::npos || stop <= start) break;
    out.slices.push_back(Slice{chunk->owner, d.substr(start, stop - start)});
    out.bytes += stop - start;
    if (stop < d.size() || out.bytes >= max_bytes) break;
  }
  co_return out;
}

awaitable<Result<OffsetAndTimestamp>> LogManager::offset_for_timestamp(const PartitionKey& key,
                                                                       std::int64_t ts) {
  std::optional<IndexEntry> candidate;
  {
    PartitionState* p = partition(key);
    if (p == nullptr) co_return Status(Errc::not_found, "unknown partition");
    for (const auto& e : p->index) {
      if (e.last_offset >= p->log_start && e.max_timestamp >= ts) {
        candidate = e;
        break;
      }
    }
  }
  if (!candidate) co_return OffsetAndTimestamp{};
  auto chunk = co_await chunk_data(*candidate);
  if (!chunk.ok()) co_return chunk.status();
  auto found = first_offset_with_timestamp(chunk->data, ts);
  co_return found ? *found : OffsetAndTimestamp{};
}

awaitable<Result<OffsetAndTimestamp>> LogManager::max_timestamp(const PartitionKey& key) {
  std::optional<IndexEntry> best;
  {
    PartitionState* p = partition(key);
    if (p == nullptr) co_return Status(Errc::not_found, "unknown partition");
    for (const auto& e : p->index) {
      if (e.last_offset >= p->log_start && (!best || e.max_timestamp > best->max_timestamp)) best = e;
    }
  }
  if (!best) co_return OffsetAndTimestamp{};
  auto chunk = co_await chunk_data(*best);
  if (!chunk.ok()) co_return chunk.status();
  auto found = max_timestamp_record(chunk->data);
  co_return found ? *found : OffsetAndTimestamp{};
}

}  // namespace ks::log
