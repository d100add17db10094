// Test harness for LogManager and its parts (header-only; not part of the
// library): stores in a temp dir wrapped in fault injectors and probes, a loop
// runner with a watchdog, and helpers to append, wait, poll and read back.
// PartEnv + LogHarness::run_part() build a part (LogWriter, LogReader,
// LogLifecycle) directly over a LogShared, without a LogManager.
//
// Store stacks (top = what the LogManager sees):
//   objects: ProbeObjectStore -> FaultObjectStore -> LocalObjectStore
//   meta:    HookMetadataStore -> FaultMetadataStore -> EmbeddedMetadataStore
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/assert.h"
#include "log/log_manager.h"
#include "log/records.h"
#include "metastore/embedded_store.h"
#include "metastore/fault_store.h"
#include "metastore/forwarding_store.h"
#include "objstore/fault_store.h"
#include "objstore/forwarding_store.h"
#include "objstore/local_store.h"
#include "protocol/record_batch.h"

namespace ks::log::logtest {

// Records GETs and can hold the PUT of one key until released (to reorder
// PUT completions deterministically).
class ProbeObjectStore final : public objstore::ForwardingObjectStore {
 public:
  struct GetCall {
    std::string key;
    std::optional<objstore::ByteRange> range;
  };

  explicit ProbeObjectStore(std::shared_ptr<objstore::ObjectStore> inner)
      : ForwardingObjectStore(std::move(inner)) {}

  // A PUT of exactly `key` blocks before reaching the store until release_puts().
  void hold_put(std::string key) {
    std::lock_guard l(mu_);
    held_key_ = std::move(key);
    holding_ = true;
  }
  void release_puts() {
    std::lock_guard l(mu_);
    holding_ = false;
    cv_.notify_all();
  }
  // Every GET blocks before reaching the store until release_gets().
  void hold_gets() {
    std::lock_guard l(mu_);
    holding_gets_ = true;
  }
  void release_gets() {
    std::lock_guard l(mu_);
    holding_gets_ = false;
    cv_.notify_all();
  }
  int gets_blocked() const {
    std::lock_guard l(mu_);
    return gets_blocked_;
  }
  int puts_blocked() const {
    std::lock_guard l(mu_);
    return blocked_;
  }
  int puts_done() const {
    std::lock_guard l(mu_);
    return puts_done_;
  }
  std::vector<GetCall> gets() const {
    std::lock_guard l(mu_);
    return gets_;
  }
  void clear_gets() {
    std::lock_guard l(mu_);
    gets_.clear();
  }

  Status put(std::string_view key, std::string_view data) override {
    {
      std::unique_lock l(mu_);
      if (holding_ && key == held_key_) {
        ++blocked_;
        cv_.wait(l, [&] { return !holding_; });
        --blocked_;
      }
    }
    Status s = inner_->put(key, data);
    std::lock_guard l(mu_);
    ++puts_done_;
    return s;
  }
  Result<std::string> get(std::string_view key, std::optional<objstore::ByteRange> range) override {
    {
      std::unique_lock l(mu_);
      if (holding_gets_) {
        ++gets_blocked_;
        cv_.wait(l, [&] { return !holding_gets_; });
        --gets_blocked_;
      }
      // Bounded: tests issue at most a few thousand reads.
      if (gets_.size() < 100'000) gets_.push_back(GetCall{std::string(key), range});
    }
    return inner_->get(key, range);
  }
  std::string describe() const override { return "probe+" + inner_->describe(); }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::string held_key_;
  bool holding_ = false;
  bool holding_gets_ = false;
  int blocked_ = 0;
  int gets_blocked_ = 0;
  int puts_done_ = 0;
  std::vector<GetCall> gets_;
};

// Forwards everything; runs a hook after each txn returned from the inner
// store and before the caller sees it (to change faults between attempts
// without racing the caller's retry).
class HookMetadataStore final : public metastore::ForwardingMetadataStore {
 public:
  explicit HookMetadataStore(std::shared_ptr<metastore::MetadataStore> inner)
      : ForwardingMetadataStore(std::move(inner)) {}

  void on_txn(std::function<void(const Result<metastore::TxnResponse>&)> hook) {
    std::lock_guard l(mu_);
    hook_ = std::move(hook);
  }

  Result<metastore::TxnResponse> txn(const metastore::TxnRequest& req) override {
    auto r = inner_->txn(req);
    std::function<void(const Result<metastore::TxnResponse>&)> hook;
    {
      std::lock_guard l(mu_);
      hook = hook_;
    }
    if (hook) hook(r);
    return r;
  }
  std::string describe() const override { return "hook(" + inner_->describe() + ")"; }

 private:
  std::mutex mu_;
  std::function<void(const Result<metastore::TxnResponse>&)> hook_;
};

// ---- plain helpers (not coroutines) ----

inline PartitionKey pkey(const TopicId& id, std::int32_t partition) {
  PartitionKey k;
  k.topic = id;
  k.partition = partition;
  return k;
}

// One uncompressed batch of `n` records valued prefix0..prefix<n-1>, record i
// at timestamp base_ts + i.
inline std::string make_batch(int n, const std::string& prefix, std::int64_t base_ts = 1000) {
  std::vector<protocol::TestRecord> recs;
  for (int i = 0; i < n; ++i) {
    protocol::TestRecord r;
    r.value = prefix + std::to_string(i);
    r.timestamp_delta = i;
    recs.push_back(r);
  }
  return protocol::build_batch(recs, 0, base_ts);
}

// The bytes of a batch that stamping does not change (magic onwards; the
// base offset and leader epoch come before). Unique per test batch.
inline std::string batch_content(std::string_view batch) { return std::string(batch.substr(16)); }

inline Result<LogManager::Ticket> append_batch(LogManager& log, const PartitionKey& key,
                                               const std::string& records) {
  auto v = protocol::validate_record_set(records);
  auto* batches = std::get_if<std::vector<protocol::BatchInfo>>(&v);
  if (batches == nullptr) return Status(Errc::invalid_argument, "test batch invalid");
  return log.append(key, records, *batches);
}

// Errors the produce handler answers with KAFKA_STORAGE_ERROR (data known not
// persisted): not ok, not timeout (unknown), not fenced.
inline bool is_storage_error(Errc e) {
  return e == Errc::io_error || e == Errc::unavailable || e == Errc::corrupt || e == Errc::nospace ||
         e == Errc::cancelled || e == Errc::compacted;
}

struct StoredBatch {
  std::int64_t base = 0;
  std::int64_t last = 0;
  std::string bytes;
};

inline void collect(const LogManager::ReadResult& r, std::vector<StoredBatch>& out) {
  for (const auto& s : r.slices) {
    for (const auto& b : protocol::scan_batches(s.data)) {
      out.push_back(StoredBatch{b.header.base_offset, b.header.last_offset(),
                                std::string(s.data.substr(b.position, b.size))});
    }
  }
}

// Batches cover [0, end) without gaps or overlaps.
inline ::testing::AssertionResult contiguous(const std::vector<StoredBatch>& batches, std::int64_t end) {
  std::int64_t next = 0;
  for (const auto& b : batches) {
    if (b.base != next)
      return ::testing::AssertionFailure() << "batch at " << b.base << ", expected " << next;
    if (b.last < b.base)
      return ::testing::AssertionFailure() << "batch " << b.base << " ends before it starts";
    next = b.last + 1;
  }
  if (next != end) return ::testing::AssertionFailure() << "batches end at " << next << ", expected " << end;
  return ::testing::AssertionSuccess();
}

inline std::size_t total_bytes(const LogManager::ReadResult& r) {
  std::size_t n = 0;
  for (const auto& s : r.slices) n += s.data.size();
  return n;
}

// ---- coroutine helpers (reference and scalar parameters only) ----

// The ticket's outcome, or timed_out() at the deadline (outcome unknown).
inline awaitable<Status> wait_done(LogManager::Completion& c, Clock::time_point deadline) {
  bool set = co_await c.event.wait_until(deadline);
  if (!set) co_return LogManager::timed_out();
  co_return c.result;
}

// Polls `cond` (a named callable) every millisecond until it holds or the
// deadline passes; returns its last value.
template <class Cond>
awaitable<bool> poll_until(Cond& cond, Clock::time_point deadline) {
  auto ex = co_await asio::this_coro::executor;
  asio::steady_timer t(ex);
  while (!cond()) {
    if (Clock::now() >= deadline) co_return cond();
    t.expires_after(std::chrono::milliseconds(1));
    boost::system::error_code ec;
    co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  co_return true;
}

// Reads every committed batch of the partition, from log start to hwm.
inline awaitable<Status> read_all(LogManager& log, const PartitionKey& key, std::vector<StoredBatch>& out) {
  PartitionState* p = log.partition(key);
  if (p == nullptr) co_return Status(Errc::not_found, "unknown partition");
  std::int64_t offset = p->log_start;
  const std::int64_t hwm = p->hwm;
  while (offset < hwm) {
    auto r = co_await log.read(key, offset, 1 << 20);
    if (!r.ok()) co_return r.status();
    std::size_t before = out.size();
    collect(*r, out);
    if (out.size() == before) co_return Status(Errc::corrupt, "read returned nothing below the hwm");
    offset = out.back().last + 1;
  }
  co_return Status{};
}

// Creates a topic without time retention (test batches carry 1970
// timestamps, which retention.ms would expire at once); an all-zero id on
// failure.
inline awaitable<TopicId> make_topic(LogManager& log, const char* name, std::int32_t partitions) {
  std::map<std::string, std::string> configs;
  configs["retention.ms"] = "-1";
  std::string n(name);
  auto r = co_await log.create_topic(n, partitions, configs);
  TopicId id{};
  EXPECT_TRUE(r.ok()) << r.status().to_string();
  if (r.ok()) id = (*r)->record.id;
  co_return id;
}

// ---- parts (writer, reader, lifecycle) without a LogManager ----

inline cluster::ClusterOptions part_cluster_options(const LogOptions& o) {
  cluster::ClusterOptions c;
  c.node_id = o.node_id;
  c.producer_expiration = o.producer_expiration;
  c.streams = 1;  // part tests: one stream, so one checkpoint pointer and object
  return c;
}

inline std::map<std::string, std::string> retention_configs(std::int64_t retention_ms,
                                                            std::int64_t retention_bytes) {
  std::map<std::string, std::string> configs;
  configs["retention.ms"] = std::to_string(retention_ms);
  configs["retention.bytes"] = std::to_string(retention_bytes);
  return configs;
}

// What a LogManager holds: a cluster state (started by run_part()) and the
// shared state over the stores, plus the parts a test makes over it. The
// parts are owned here, so they outlive the loop's coroutines.
class PartEnv {
 public:
  PartEnv(asio::io_context& io, asio::thread_pool& pool, std::shared_ptr<objstore::ObjectStore> objects,
          std::shared_ptr<metastore::MetadataStore> meta, const LogOptions& opt)
      : cluster(pool, meta, part_cluster_options(opt)),
        shared(io, pool, std::move(objects), meta, cluster, opt) {}

  // A part (LogWriter, LogReader, LogLifecycle) over the shared state.
  template <class Part>
  Part& make() {
    auto p = std::make_shared<Part>(shared);
    Part& ref = *p;
    parts_.push_back(std::move(p));
    return ref;
  }

  // What LogManager::start does before recovery: every partition of every
  // topic the cluster knows, not fresh (recovery sets their state).
  void load_partitions() {
    for (const TopicInfo* t : cluster.topics()) {
      for (std::int32_t i = 0; i < t->record.partitions; ++i)
        shared.table.add(PartitionKey{t->record.id, i}, cluster.stream_of(*t, i), false);
    }
  }

  // Every stream owned, open for appends, with nothing rebuilt (run_part
  // does this before the body: a fresh broker that owns the cluster).
  awaitable<void> own_streams() {
    for (std::int32_t s = 0; s < cluster.streams(); ++s) {
      auto r = co_await shared.meta.put(keys::stream_owner(s), "{\"v\":1,\"node\":0,\"state\":\"owned\"}");
      EXPECT_TRUE(r.ok()) << r.status().to_string();
      OwnedStream& st = shared.streams[s];
      st.id = s;
      st.fence.key = keys::stream_owner(s);
      st.fence.revision = r.ok() ? *r : 0;
      st.loaded = true;
      st.closed = false;
      // What taking a stream writes before the first append: a checkpoint
      // pointer naming us (here of an empty stream; kept when one exists).
      auto existing = co_await shared.meta.get(keys::stream_checkpoint(s));
      EXPECT_TRUE(existing.ok()) << existing.status().to_string();
      if (!existing.ok() || !existing->kvs.empty()) continue;
      CheckpointPointer ptr;
      ptr.node = shared.node();
      auto w = co_await shared.meta.put(keys::stream_checkpoint(s), encode_checkpoint_pointer(ptr));
      EXPECT_TRUE(w.ok()) << w.status().to_string();
    }
  }

  // What LogManager::start does after load_partitions(): the commit position,
  // then every stream taken over (rebuilt and checkpointed).
  awaitable<Status> recover(LogLifecycle& lc) {
    if (auto s = co_await lc.init_position(); !s.ok()) co_return s;
    std::vector<LogLifecycle::Grant> grants;
    for (std::int32_t s = 0; s < cluster.streams(); ++s) grants.push_back(LogLifecycle::Grant{s, 0});
    Status s = co_await lc.acquire(grants);
    co_return s;
  }

  // Creates a topic in the cluster and adds its partitions fresh (what
  // LogManager's topic listener does). No retention unless asked (test
  // batches carry 1970 timestamps). An all-zero id on failure.
  awaitable<TopicId> add_topic(const char* name, std::int32_t partitions, std::int64_t retention_ms = -1,
                               std::int64_t retention_bytes = -1) {
    std::string n(name);
    auto configs = retention_configs(retention_ms, retention_bytes);
    auto r = co_await cluster.create_topic(n, partitions, configs);
    TopicId id{};
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    if (!r.ok()) co_return id;
    id = (*r)->record.id;
    for (std::int32_t i = 0; i < partitions; ++i) shared.table.add(PartitionKey{id, i}, 0, true);
    co_return id;
  }

  // What LogManager::stop sets before stopping the parts.
  void begin_stop(std::chrono::milliseconds commit_timeout = std::chrono::seconds(3)) {
    shared.stopping = true;
    shared.stop_deadline = Clock::now() + commit_timeout;
  }

  PartitionState& partition(const PartitionKey& key) {
    PartitionState* p = shared.table.find(key);
    KS_ASSERT(p != nullptr, "test: unknown partition {}", key.partition);
    return *p;
  }

  cluster::ClusterState cluster;
  LogShared shared;

 private:
  std::vector<std::shared_ptr<void>> parts_;
};

// Appends validated batches straight to a writer.
inline Result<LogWriter::AppendResult> append_to(LogWriter& w, const PartitionKey& key,
                                                 const std::string& records) {
  auto v = protocol::validate_record_set(records);
  auto* batches = std::get_if<std::vector<protocol::BatchInfo>>(&v);
  if (batches == nullptr) return Status(Errc::invalid_argument, "test batch invalid");
  return w.append_batches(key, records, *batches, -1);
}

// One batch per (partition, records) pair, all in ONE flush (no co_await
// between the appends), then waits for the commit (deadline 10 s).
inline awaitable<Status> write_flush(LogWriter& w,
                                     const std::vector<std::pair<PartitionKey, std::string>>& batches) {
  std::vector<std::shared_ptr<LogWriter::Completion>> done;
  for (const auto& [key, records] : batches) {
    auto r = append_to(w, key, records);
    if (!r.ok()) co_return r.status();
    if (r->check != LogWriter::ProducerCheck::kOk) co_return Status(Errc::invalid_argument, r->message);
    done.push_back(r->ticket.done);
  }
  for (std::size_t i = 0; i < done.size(); ++i) {
    Status s = co_await wait_done(*done[i], Clock::now() + std::chrono::seconds(10));
    if (!s.ok()) co_return s;
  }
  co_return Status{};
}

// ---- fixture ----

class LogHarness : public ::testing::Test {
 protected:
  void SetUp() override {
    std::error_code ec;
    std::filesystem::path base = std::filesystem::temp_directory_path(ec);
    if (ec) base = "/tmp";
    std::string tmpl = (base / "ks-logtest-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    open_stores();
  }
  void TearDown() override {
    close_stores();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  void close_stores() {
    probe_.reset();
    fobj_.reset();
    hook_.reset();
    fmeta_.reset();
  }
  // (Re)opens the stores on the same directory: what a restarted process sees.
  void open_stores() {
    close_stores();
    auto local = objstore::LocalObjectStore::open((dir_ / "objects").string());
    ASSERT_TRUE(local.ok()) << local.status().to_string();
    fobj_ = std::make_shared<objstore::FaultObjectStore>(
        std::shared_ptr<objstore::ObjectStore>(std::move(local).value()));
    probe_ = std::make_shared<ProbeObjectStore>(fobj_);
    auto emb = metastore::EmbeddedMetadataStore::open((dir_ / "meta").string());
    ASSERT_TRUE(emb.ok()) << emb.status().to_string();
    fmeta_ = std::make_shared<metastore::FaultMetadataStore>(
        std::shared_ptr<metastore::MetadataStore>(std::move(emb).value()));
    hook_ = std::make_shared<HookMetadataStore>(fmeta_);
  }

  enum class End { stop, crash };

  // Runs `body(log)` on a fresh loop with a fresh LogManager on the stores,
  // then stops it (End::stop) or abandons it mid-flight (End::crash: no
  // flush, no checkpoint, as if the process died). A watchdog fails the test
  // instead of hanging. LogManagers outlive the loop's coroutines.
  template <class Body>
  void run(Body body, LogOptions opt = {}, End end = End::stop) {
    std::vector<std::unique_ptr<LogManager>> logs;  // destroyed after the loop
    asio::io_context io;
    asio::thread_pool pool(4);
    io_ = &io;
    pool_ = &pool;
    logs_ = &logs;
    logs.push_back(std::make_unique<LogManager>(io, pool, probe_, hook_, opt));
    LogManager& log = *logs.front();
    bool done = false;
    asio::steady_timer watchdog(io, std::chrono::seconds(90));
    watchdog.async_wait([&](boost::system::error_code ec) {
      if (ec) return;
      ADD_FAILURE() << "watchdog: the test body did not finish";
      fobj_->clear_faults();
      fmeta_->clear_faults();
      probe_->release_puts();
      probe_->release_gets();
      io.stop();
    });
    asio::co_spawn(
        io,
        [&]() -> awaitable<void> {
          Status s = co_await log.start();
          EXPECT_TRUE(s.ok()) << s.to_string();
          if (s.ok()) {
            co_await body(log);
            if (end == End::stop) co_await log.stop();
          }
          done = true;
          watchdog.cancel();
          // Abandon what is left (flush timers, orphan PUTs): a crash leaves
          // everything behind, a stop should have left nothing that matters.
          io.stop();
        },
        [](std::exception_ptr e) {
          if (e) std::rethrow_exception(e);
        });
    io.run();
    probe_->release_puts();
    probe_->release_gets();
    pool.join();
    io_ = nullptr;
    pool_ = nullptr;
    logs_ = nullptr;
    EXPECT_TRUE(done);
  }

  // Runs `body(env, part)` on a fresh loop: a cluster state started on the
  // stores (a new broker epoch), a LogShared marked started, and one part
  // made over it (more with env.make<Part>()). The body starts and stops the
  // parts it needs (env.begin_stop() first, as LogManager::stop does); what
  // it leaves running is abandoned, as in a crash. A watchdog fails the test
  // instead of hanging.
  template <class Part, class Body>
  void run_part(Body body, LogOptions opt = {}) {
    std::unique_ptr<PartEnv> env;  // destroyed after the loop and its coroutines
    asio::io_context io;
    asio::thread_pool pool(4);
    env = std::make_unique<PartEnv>(io, pool, probe_, hook_, opt);
    Part& part = env->make<Part>();
    bool done = false;
    asio::steady_timer watchdog(io, std::chrono::seconds(90));
    watchdog.async_wait([&](boost::system::error_code ec) {
      if (ec) return;
      ADD_FAILURE() << "watchdog: the test body did not finish";
      fobj_->clear_faults();
      fmeta_->clear_faults();
      probe_->release_puts();
      probe_->release_gets();
      io.stop();
    });
    asio::co_spawn(
        io,
        [&]() -> awaitable<void> {
          Status s = co_await env->cluster.start();
          EXPECT_TRUE(s.ok()) << s.to_string();
          if (s.ok()) {
            co_await env->own_streams();
            env->shared.started = true;
            co_await body(*env, part);
          }
          done = true;
          watchdog.cancel();
          io.stop();
        },
        [](std::exception_ptr e) {
          if (e) std::rethrow_exception(e);
        });
    io.run();
    probe_->release_puts();
    probe_->release_gets();
    pool.join();
    EXPECT_TRUE(done);
  }

  // Another LogManager on the same stores and loop (another process taking
  // over this node id). Only inside run().
  LogManager& another_log(LogOptions opt = {}) {
    logs_->push_back(std::make_unique<LogManager>(*io_, *pool_, probe_, hook_, opt));
    return *logs_->back();
  }

  // Keys under a prefix, straight from the metadata store (no faults).
  std::vector<std::string> meta_keys(const std::string& prefix) {
    metastore::RangeRequest rq;
    rq.key = prefix;
    rq.range_end = metastore::prefix_end(prefix);
    rq.keys_only = true;
    auto r = fmeta_->inner()->range(rq);
    EXPECT_TRUE(r.ok());
    std::vector<std::string> out;
    if (r.ok()) {
      for (const auto& kv : r->kvs) out.push_back(kv.key);
    }
    return out;
  }
  // One key straight from the metadata store (no faults).
  std::optional<metastore::KeyValue> meta_value(const std::string& key) {
    metastore::RangeRequest rq;
    rq.key = key;
    auto r = fmeta_->inner()->range(rq);
    EXPECT_TRUE(r.ok());
    if (!r.ok() || r->kvs.empty()) return std::nullopt;
    return r->kvs[0];
  }
  std::vector<std::string> commit_keys() { return meta_keys(keys::commits_prefix(0)); }
  // Objects under a prefix, straight from the object store (no faults).
  std::size_t object_count(const std::string& prefix = "objects/") {
    auto r = fobj_->inner().list(prefix);
    EXPECT_TRUE(r.ok());
    return r.ok() ? r->size() : 0;
  }

  std::filesystem::path dir_;
  std::shared_ptr<objstore::FaultObjectStore> fobj_;
  std::shared_ptr<ProbeObjectStore> probe_;
  std::shared_ptr<metastore::FaultMetadataStore> fmeta_;
  std::shared_ptr<HookMetadataStore> hook_;

  asio::io_context* io_ = nullptr;
  asio::thread_pool* pool_ = nullptr;
  std::vector<std::unique_ptr<LogManager>>* logs_ = nullptr;
};

}  // namespace ks::log::logtest
