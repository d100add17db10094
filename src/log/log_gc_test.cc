// LogManager: idempotent producers (duplicates, pending duplicates, recovery
// from object digests and checkpoints, producer ids) and garbage collection
// (DeleteRecords, retention, deleted topics, orphans), against the local
// object store and the embedded metadata store.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <set>

#include "log/log_manager.h"
#include "metastore/embedded_store.h"
#include "objstore/local_store.h"

namespace ks::log {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class LogGcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("ks-gc-test-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    open_stores();
  }
  void TearDown() override { fs::remove_all(dir_); }

  void open_stores() {
    objects_.reset();
    meta_.reset();
    objects_ =
        std::shared_ptr<objstore::ObjectStore>(objstore::LocalObjectStore::open(dir_ / "objects").value());
    meta_ = std::shared_ptr<metastore::MetadataStore>(
        metastore::EmbeddedMetadataStore::open(dir_ / "meta").value());
  }

  // Runs `body` on a fresh loop and LogManager; `crash` skips stop() (no
  // final flush or checkpoint) and abandons whatever is still running.
  template <class Body>
  void run(Body body, LogOptions opt = {}, bool crash = false) {
    asio::io_context io;
    asio::thread_pool pool(2);
    LogManager log(io, pool, objects_, meta_, opt);
    bool done = false;
    asio::steady_timer watchdog(io, std::chrono::seconds(60));
    watchdog.async_wait([&](boost::system::error_code ec) {
      if (!ec) {
        ADD_FAILURE() << "watchdog";
        io.stop();
      }
    });
    asio::co_spawn(
        io,
        [&]() -> awaitable<void> {
          Status s = co_await log.start();
          EXPECT_TRUE(s.ok()) << s.to_string();
          if (s.ok()) {
            co_await body(log);
            if (!crash) co_await log.stop();
          }
          done = true;
          watchdog.cancel();
          io.stop();
        },
        [](std::exception_ptr e) {
          if (e) std::rethrow_exception(e);
        });
    io.run();
    pool.join();
    ASSERT_TRUE(done);
  }

  std::set<std::string> files(const std::string& sub) {
    std::set<std::string> out;
    fs::path p = dir_ / "objects" / sub;
    if (!fs::exists(p)) return out;
    for (const auto& e : fs::recursive_directory_iterator(p)) {
      if (e.is_regular_file()) out.insert(e.path().filename().string());
    }
    return out;
  }

  fs::path dir_;
  std::shared_ptr<objstore::ObjectStore> objects_;
  std::shared_ptr<metastore::MetadataStore> meta_;
};

std::string idem_batch(int n, std::int64_t pid, std::int16_t epoch, std::int32_t seq, std::int64_t ts = -1) {
  if (ts < 0) {
    ts = std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
             .count();
  }
  std::vector<protocol::TestRecord> recs;
  for (int i = 0; i < n; ++i) {
    protocol::TestRecord r;
    r.value = "v" + std::to_string(seq + i);
    recs.push_back(r);
  }
  return protocol::build_batch(recs, 0, ts, 0, pid, epoch, seq);
}

struct Appended {
  LogManager::ProducerCheck check = LogManager::ProducerCheck::kOk;
  std::int64_t base = -1;
  Status status;
};

// Appends and waits for the outcome (not a coroutine: built outside).
Result<LogManager::AppendResult> start_append(LogManager& log, const PartitionKey& key,
                                              const std::string& records) {
  auto v = protocol::validate_record_set(records);
  auto* batches = std::get_if<std::vector<protocol::BatchInfo>>(&v);
  if (batches == nullptr) return Status(Errc::invalid_argument, "bad test batch");
  return log.append_batches(key, records, *batches);
}

awaitable<Appended> finish(const Result<LogManager::AppendResult>& r) {
  Appended out;
  if (!r.ok()) {
    out.status = r.status();
    co_return out;
  }
  out.check = r->check;
  out.base = r->ticket.base_offset;
  if (r->check == LogManager::ProducerCheck::kOk || r->check == LogManager::ProducerCheck::kDuplicate) {
    // A copy of the shared completion: `r` may be reused by the caller.
    auto done = r->ticket.done;
    if (!co_await done->event.wait_until(Clock::now() + 10s)) {
      out.status = LogManager::timed_out();
    } else {
      out.status = done->result;
    }
  }
  co_return out;
}

// Appends and waits. Arguments are references to the caller's named locals
// (no temporaries live across a co_await: g++ 12 mishandles some).
awaitable<Appended> append_wait(LogManager& log, const PartitionKey& key, const std::string& records) {
  auto r = start_append(log, key, records);
  Appended a = co_await finish(r);
  co_return a;
}

awaitable<const TopicInfo*> make_topic(LogManager& log, const char* name, int partitions) {
  auto r = co_await log.create_topic(name, partitions, {});
  EXPECT_TRUE(r.ok());
  co_return r.ok() ? *r : nullptr;
}

template <class F>
awaitable<bool> wait_for(F& cond, Clock::duration limit) {
  auto deadline = Clock::now() + limit;
  while (!cond()) {
    if (Clock::now() >= deadline) co_return false;
    auto ex = co_await asio::this_coro::executor;
    asio::steady_timer t(ex, 20ms);
    co_await t.async_wait(asio::use_awaitable);
  }
  co_return true;
}

using PC = LogManager::ProducerCheck;

TEST_F(LogGcTest, DuplicatesGetOriginalOffsetsAndBadSequencesAreRejected) {
  run([&](LogManager& log) -> awaitable<void> {
    const TopicInfo* t = co_await make_topic(log, "t", 1);
    const PartitionKey k{t->record.id, 0};
    const std::string b0 = idem_batch(3, 1000, 0, 0);
    const std::string b1 = idem_batch(2, 1000, 0, 3);
    Appended a = co_await append_wait(log, k, b0);
    EXPECT_TRUE(a.status.ok());
    EXPECT_EQ(a.check, PC::kOk);
    EXPECT_EQ(a.base, 0);
    // The second batch and an immediate retry of it while it is pending:
    // both answer with the same offset once the flush commits.
    auto first = start_append(log, k, b1);
    auto retry = start_append(log, k, b1);
    EXPECT_TRUE(first.ok() && retry.ok());
    if (!first.ok() || !retry.ok()) co_return;
    EXPECT_EQ(first->check, PC::kOk);
    EXPECT_EQ(retry->check, PC::kDuplicate);
    EXPECT_FALSE(retry->ticket.done->event.is_set());
    Appended r1 = co_await finish(first);
    Appended r2 = co_await finish(retry);
    EXPECT_TRUE(r1.status.ok() && r2.status.ok());
    EXPECT_EQ(r1.base, 3);
    EXPECT_EQ(r2.base, 3);
    // A retry of the committed first batch.
    Appended d = co_await append_wait(log, k, b0);
    EXPECT_EQ(d.check, PC::kDuplicate);
    EXPECT_EQ(d.base, 0);
    EXPECT_EQ(log.partition(k)->hwm, 5);
    // Gap; new epoch not at 0.
    const std::string gap = idem_batch(1, 1000, 0, 9);
    const std::string epoch_not_zero = idem_batch(1, 1000, 1, 5);
    Appended g = co_await append_wait(log, k, gap);
    EXPECT_EQ(g.check, PC::kOutOfOrder);
    Appended e = co_await append_wait(log, k, epoch_not_zero);
    EXPECT_EQ(e.check, PC::kOutOfOrder);
    // Epoch bump at sequence 0 is accepted; the old epoch is then stale.
    const std::string bump = idem_batch(1, 1000, 1, 0);
    const std::string stale = idem_batch(1, 1000, 0, 5);
    Appended bu = co_await append_wait(log, k, bump);
    EXPECT_EQ(bu.check, PC::kOk);
    EXPECT_EQ(bu.base, 5);
    Appended st = co_await append_wait(log, k, stale);
    EXPECT_EQ(st.check, PC::kInvalidEpoch);
    // An unknown producer at any sequence.
    const std::string other = idem_batch(1, 2000, 4, 77);
    Appended o = co_await append_wait(log, k, other);
    EXPECT_EQ(o.check, PC::kOk);
    EXPECT_EQ(log.partition(k)->hwm, 7);
    EXPECT_EQ(log.stats().duplicates, 2u);
  });
}

TEST_F(LogGcTest, ProducerStateSurvivesCrashAndCheckpoint) {
  TopicId id{};
  LogOptions o;
  // 1. Crash: state comes back from the objects' producer digests.
  run(
      [&](LogManager& log) -> awaitable<void> {
        const TopicInfo* t = co_await make_topic(log, "t", 2);
        id = t->record.id;
        for (int i = 0; i < 4; ++i) {
          const PartitionKey k{id, i % 2};
          const std::string b = idem_batch(2, 5, 0, (i / 2) * 2);
          Appended a = co_await append_wait(log, k, b);
          EXPECT_TRUE(a.status.ok());
        }
      },
      o, /*crash=*/true);
  run(
      [&](LogManager& log) -> awaitable<void> {
        const PartitionKey k{id, 1};
        const std::string again = idem_batch(2, 5, 0, 2);
        const std::string gap = idem_batch(1, 5, 0, 9);
        const std::string next = idem_batch(1, 5, 0, 4);
        Appended d = co_await append_wait(log, k, again);
        EXPECT_EQ(d.check, PC::kDuplicate);
        EXPECT_EQ(d.base, 2);
        Appended g = co_await append_wait(log, k, gap);
        EXPECT_EQ(g.check, PC::kOutOfOrder);
        Appended n = co_await append_wait(log, k, next);
        EXPECT_EQ(n.check, PC::kOk);
        EXPECT_EQ(n.base, 4);
      },
      o);  // stop() writes a checkpoint holding the state
  // 2. From the checkpoint (no commit records left to replay).
  run([&](LogManager& log) -> awaitable<void> {
    const PartitionKey k1{id, 1};
    const PartitionKey k0{id, 0};
    EXPECT_NE(log.producer_states(k1), nullptr);
    const std::string last = idem_batch(1, 5, 0, 4);
    const std::string again = idem_batch(2, 5, 0, 2);
    Appended d = co_await append_wait(log, k1, last);
    EXPECT_EQ(d.check, PC::kDuplicate);
    EXPECT_EQ(d.base, 4);
    Appended d0 = co_await append_wait(log, k0, again);
    EXPECT_EQ(d0.check, PC::kDuplicate);
    EXPECT_EQ(d0.base, 2);
  });
}

TEST_F(LogGcTest, ProducerIdsAreNeverReusedAcrossRestarts) {
  std::set<std::int64_t> seen;
  for (int round = 0; round < 3; ++round) {
    run([&](LogManager& log) -> awaitable<void> {
      for (int i = 0; i < 5; ++i) {
        auto id = co_await log.allocate_producer_id();
        EXPECT_TRUE(id.ok());
        if (id.ok()) {
          EXPECT_TRUE(seen.insert(*id).second) << *id;
        }
      }
    });
  }
  EXPECT_EQ(seen.size(), 15u);
}

TEST_F(LogGcTest, DeleteRecordsAndRetentionFreeObjects) {
  LogOptions o;
  o.flush_bytes = 1;  // one object per append
  TopicId id{};
  run(
      [&](LogManager& log) -> awaitable<void> {
        const TopicInfo* t = co_await make_topic(log, "t", 1);
        id = t->record.id;
        PartitionKey k{id, 0};
        for (int i = 0; i < 6; ++i) {
          const std::string b = idem_batch(10, -1, -1, -1);
          Appended a = co_await append_wait(log, k, b);
          EXPECT_TRUE(a.status.ok());
        }
        co_await log.persist();
        EXPECT_EQ(files("objects").size(), 6u);
        // DeleteRecords inside the third object: the first two are freed.
        auto low = log.delete_records(k, 25);
        EXPECT_TRUE(low.ok());
        EXPECT_EQ(*low, 25);
        EXPECT_EQ(log.partition(k)->log_start, 25);
        EXPECT_FALSE(log.delete_records(k, 61).ok());  // beyond the high watermark
        Status s = co_await log.persist();
        EXPECT_TRUE(s.ok()) << s.to_string();
        EXPECT_EQ(files("objects").size(), 4u);
        EXPECT_EQ(files("streams").size(), 1u);  // the superseded one is gone too
        // retention.bytes: keep at most two objects' worth.
        const std::uint64_t one = log.partition(k)->index.back().length;
        std::map<std::string, std::string> cfg;
        cfg["retention.bytes"] = std::to_string(2 * one);
        s = co_await log.set_topic_configs("t", cfg);
        EXPECT_TRUE(s.ok()) << s.to_string();
        EXPECT_EQ(log.enforce_retention(), 1u);
        EXPECT_EQ(log.partition(k)->log_start, 40);
        co_await log.persist();
        EXPECT_EQ(files("objects").size(), 2u);
        // (Both checkpoints cover the same commit: the second replaced the first in place.)
        EXPECT_EQ(log.stats().objects_deleted, 4u);
        // retention.ms: everything is older than 0 ms... after a moment.
        cfg["retention.ms"] = "0";
        s = co_await log.set_topic_configs("t", cfg);
        EXPECT_TRUE(s.ok());
        auto expired = [&] { return log.enforce_retention() > 0; };
        EXPECT_TRUE(co_await wait_for(expired, 5s));
        EXPECT_EQ(log.partition(k)->log_start, 60);
        co_await log.persist();
        EXPECT_EQ(files("objects").size(), 0u);
        // Still writable, at the right offset.
        const std::string one_more = idem_batch(1, -1, -1, -1);
        Appended a = co_await append_wait(log, k, one_more);
        EXPECT_EQ(a.base, 60);
      },
      o);
  // Log start survives a restart.
  run([&](LogManager& log) -> awaitable<void> {
    const PartitionKey k{id, 0};
    EXPECT_EQ(log.partition(k)->log_start, 60);
    EXPECT_EQ(log.partition(k)->hwm, 61);
    co_return;
  });
}

TEST_F(LogGcTest, DeletedTopicObjectsAreFreedButSharedObjectsKept) {
  LogOptions o;
  o.flush_interval = 50ms;
  run(
      [&](LogManager& log) -> awaitable<void> {
        const TopicInfo* a = co_await make_topic(log, "a", 1);
        const TopicInfo* b = co_await make_topic(log, "b", 1);
        TopicId ida = a->record.id, idb = b->record.id;
        // One flush with both topics, then one with "a" only.
        const PartitionKey ka{ida, 0}, kb{idb, 0};
        const std::string rec = idem_batch(1, -1, -1, -1);
        auto ra = start_append(log, ka, rec);
        auto rb = start_append(log, kb, rec);
        Appended x = co_await finish(ra);
        Appended y = co_await finish(rb);
        EXPECT_TRUE(x.status.ok() && y.status.ok());
        Appended z = co_await append_wait(log, ka, rec);
        EXPECT_TRUE(z.status.ok());
        EXPECT_EQ(files("objects").size(), 2u);
        Status s = co_await log.delete_topic("a");
        EXPECT_TRUE(s.ok());
        s = co_await log.persist();
        EXPECT_TRUE(s.ok()) << s.to_string();
        EXPECT_EQ(files("objects").size(), 1u);  // the shared object stays for "b"
        EXPECT_EQ(log.live_objects(), 1u);
      },
      o);
}

TEST_F(LogGcTest, OrphansAndStaleCheckpointsAreSwept) {
  LogOptions o;
  o.checkpoint_interval = 100ms;
  o.orphan_grace = 300ms;
  // Leftovers of an older process: an uncommitted object and checkpoint, and
  // a file that is not ours.
  ASSERT_TRUE(objects_->put("objects/0/0000000000000001-00000000000000aa.kso", "junk").ok());
  ASSERT_TRUE(objects_->put("streams/0003/0/0000000000000001-00000000000000aa.ksc", "junk").ok());
  ASSERT_TRUE(objects_->put("objects/0/README", "keep").ok());
  run(
      [&](LogManager& log) -> awaitable<void> {
        const TopicInfo* t = co_await make_topic(log, "t", 1);
        const PartitionKey k{t->record.id, 0};
        const std::string rec = idem_batch(1, -1, -1, -1);
        Appended a = co_await append_wait(log, k, rec);
        EXPECT_TRUE(a.status.ok());
        auto swept = [&] { return log.stats().orphans_deleted >= 2; };
        EXPECT_TRUE(co_await wait_for(swept, 10s));
        auto objs = files("objects");
        EXPECT_EQ(objs.count("0000000000000001-00000000000000aa.kso"), 0u);
        EXPECT_EQ(objs.count("README"), 1u);
        EXPECT_EQ(objs.size(), 2u);  // README + the committed object
        EXPECT_EQ(files("streams").count("0000000000000001-00000000000000aa.ksc"), 0u);
      },
      o);
  // Everything committed is still readable.
  run([&](LogManager& log) -> awaitable<void> {
    const TopicInfo* t = log.topic("t");
    EXPECT_NE(t, nullptr);
    if (t == nullptr) co_return;
    const PartitionKey k{t->record.id, 0};
    auto r = co_await log.read(k, 0, 1 << 20);
    EXPECT_TRUE(r.ok());
    if (r.ok()) {
      EXPECT_GT(r->bytes, 0u);
    }
  });
}

}  // namespace
}  // namespace ks::log
