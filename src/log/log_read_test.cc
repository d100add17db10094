// Read path: offsets, byte limits (KIP-74), cache and cold ranged GETs,
// timestamps, commit notifications.
#include <gtest/gtest.h>

#include "log/log_test_util.h"

namespace ks::log {
namespace {

using logtest::append_batch;
using logtest::batch_content;
using logtest::collect;
using logtest::contiguous;
using logtest::make_batch;
using logtest::make_topic;
using logtest::pkey;
using logtest::poll_until;
using logtest::read_all;
using logtest::StoredBatch;
using logtest::total_bytes;
using logtest::wait_done;
using objstore::FaultObjectStore;
using namespace std::chrono_literals;

Clock::time_point in(std::chrono::milliseconds d) { return Clock::now() + d; }

class LogReadTest : public logtest::LogHarness {};

// Appends the batches to one partition in ONE flush (no co_await between the
// appends) and waits for the commit.
awaitable<Status> produce_flush(LogManager& log, const PartitionKey& key,
                                const std::vector<std::string>& batches) {
  std::vector<std::shared_ptr<LogManager::Completion>> done;
  for (const auto& b : batches) {
    auto t = append_batch(log, key, b);
    if (!t.ok()) co_return t.status();
    done.push_back(t->done);
  }
  for (auto& d : done) {
    Status s = co_await wait_done(*d, in(10s));
    if (!s.ok()) co_return s;
  }
  co_return Status{};
}

// Base offsets as "0,5,10" (keeps braced temporaries out of coroutine bodies).
std::string bases(const std::vector<StoredBatch>& batches) {
  std::string out;
  for (const auto& b : batches) out += (out.empty() ? "" : ",") + std::to_string(b.base);
  return out;
}

// Five batches of five records: flush 1 holds offsets 0-14 (three batches),
// flush 2 offsets 15-24 (two batches). Record i of batch j has timestamp
// ts[j] + i.
struct Layout {
  std::vector<std::string> flush1, flush2;
  std::vector<std::string> all() const {
    auto v = flush1;
    v.insert(v.end(), flush2.begin(), flush2.end());
    return v;
  }
};
Layout layout() {
  Layout l;
  const std::int64_t ts[5] = {1000, 3000, 2000, 4000, 500};
  for (int j = 0; j < 5; ++j) {
    auto b = make_batch(5, "b" + std::to_string(j) + "-", ts[j]);
    (j < 3 ? l.flush1 : l.flush2).push_back(b);
  }
  return l;
}

awaitable<TopicId> write_layout(LogManager& log, const Layout& l) {
  TopicId id = co_await make_topic(log, "r", 1);
  const PartitionKey k = pkey(id, 0);
  Status s = co_await produce_flush(log, k, l.flush1);
  EXPECT_TRUE(s.ok()) << s.to_string();
  s = co_await produce_flush(log, k, l.flush2);
  EXPECT_TRUE(s.ok()) << s.to_string();
  EXPECT_EQ(log.partition(k)->hwm, 25);
  EXPECT_EQ(log.partition(k)->index.size(), 2u);  // one range per flush
  co_return id;
}

awaitable<void> check_offsets(LogManager& log, const PartitionKey& k) {
  auto r = co_await log.read(k, 7, 1 << 20);  // inside the second batch
  EXPECT_TRUE(r.ok());
  if (r.ok()) {
    std::vector<StoredBatch> got;
    collect(*r, got);
    EXPECT_EQ(bases(got), "5,10,15,20");
    EXPECT_EQ(got.back().last, 24);
  }
  r = co_await log.read(k, 15, 1 << 20);  // first offset of the second flush
  EXPECT_TRUE(r.ok());
  if (r.ok()) {
    std::vector<StoredBatch> got;
    collect(*r, got);
    EXPECT_EQ(bases(got), "15,20");
  }
  r = co_await log.read(k, 24, 1 << 20);  // last offset
  EXPECT_TRUE(r.ok());
  if (r.ok()) {
    std::vector<StoredBatch> got;
    collect(*r, got);
    EXPECT_EQ(bases(got), "20");
  }
  r = co_await log.read(k, 25, 1 << 20);  // the hwm: nothing yet
  EXPECT_TRUE(r.ok());
  if (r.ok()) {
    EXPECT_EQ(r->bytes, 0u);
  }
}

TEST_F(LogReadTest, ReadStartsAtTheBatchHoldingTheOffset) {
  const Layout l = layout();
  TopicId id{};
  run([&](LogManager& log) -> awaitable<void> {
    id = co_await write_layout(log, l);
    const PartitionKey k = pkey(id, 0);
    co_await check_offsets(log, k);
    std::vector<StoredBatch> got;
    Status s = co_await read_all(log, k, got);
    EXPECT_TRUE(s.ok()) << s.to_string();
    EXPECT_TRUE(contiguous(got, 25));
    std::vector<std::string> want, have;
    for (const auto& b : l.all()) want.push_back(batch_content(b));
    for (const auto& b : got) have.push_back(batch_content(b.bytes));
    EXPECT_EQ(have, want);
  });
  open_stores();
  run([&](LogManager& log) -> awaitable<void> {  // the same from a cold cache
    const PartitionKey k = pkey(id, 0);
    co_await check_offsets(log, k);
  });
}

awaitable<void> check_limits(LogManager& log, const PartitionKey& k, const Layout& l) {
  const std::size_t b0 = l.flush1[0].size(), b1 = l.flush1[1].size(), b2 = l.flush1[2].size(),
                    b3 = l.flush2[0].size();
  // Smaller than one batch: the first batch anyway, whole (KIP-74).
  auto r = co_await log.read(k, 0, 1);
  EXPECT_TRUE(r.ok());
  if (r.ok()) {
    std::vector<StoredBatch> got;
    collect(*r, got);
    EXPECT_EQ(bases(got), "0");
    EXPECT_EQ(r->bytes, b0);
    EXPECT_EQ(total_bytes(*r), b0);
  }
  // Exactly two batches fit.
  r = co_await log.read(k, 0, b0 + b1);
  EXPECT_TRUE(r.ok());
  if (r.ok()) {
    EXPECT_EQ(r->bytes, b0 + b1);
  }
  // One byte short of two batches: one.
  r = co_await log.read(k, 0, b0 + b1 - 1);
  EXPECT_TRUE(r.ok());
  if (r.ok()) {
    EXPECT_EQ(r->bytes, b0);
  }
  // Across the flush boundary: batches 5 and 10 from the first object, 15
  // from the second, and the limit stops before batch 20.
  r = co_await log.read(k, 5, b1 + b2 + b3 + 50);
  EXPECT_TRUE(r.ok());
  if (r.ok()) {
    std::vector<StoredBatch> got;
    collect(*r, got);
    EXPECT_EQ(bases(got), "5,10,15");
    EXPECT_EQ(r->bytes, b1 + b2 + b3);
    EXPECT_EQ(r->slices.size(), 2u);
  }
  // The first batch is whole even when it starts in a later chunk and is
  // bigger than the limit.
  r = co_await log.read(k, 16, 10);
  EXPECT_TRUE(r.ok());
  if (r.ok()) {
    std::vector<StoredBatch> got;
    collect(*r, got);
    EXPECT_EQ(bases(got), "15");
    EXPECT_EQ(r->bytes, b3);
  }
}

TEST_F(LogReadTest, MaxBytesTrimsButTheFirstBatchIsAlwaysWhole) {
  const Layout l = layout();
  TopicId id{};
  run([&](LogManager& log) -> awaitable<void> {
    id = co_await write_layout(log, l);
    const PartitionKey k = pkey(id, 0);
    co_await check_limits(log, k, l);
  });
  open_stores();
  run([&](LogManager& log) -> awaitable<void> {
    const PartitionKey k = pkey(id, 0);
    co_await check_limits(log, k, l);
  });
}

// BUG (see the report): read() plans which chunks to fetch by their WHOLE
// length, also the part of the first chunk below `offset`. When the rest of
// the first chunk is smaller than max_bytes but the whole chunk is not, the
// next chunk is never looked at and the answer is short (batch 10 alone
// here, although batches 10 and 15 fit): one extra fetch round trip per
// chunk for a consumer with a small limit.
TEST_F(LogReadTest, ReadFillsMaxBytesAcrossChunks) {
  const Layout l = layout();
  run([&](LogManager& log) -> awaitable<void> {
    TopicId id = co_await write_layout(log, l);
    const PartitionKey k = pkey(id, 0);
    const std::size_t limit = l.flush1[2].size() + l.flush2[0].size();
    auto r = co_await log.read(k, 10, limit);
    EXPECT_TRUE(r.ok());
    if (r.ok()) {
      std::vector<StoredBatch> got;
      collect(*r, got);
      EXPECT_EQ(bases(got), "10,15");
      EXPECT_EQ(r->bytes, limit);
    }
  });
}

// Fresh commits are served from the cache; after a restart the first read
// fetches each chunk with one ranged GET, later reads hit the cache again.
TEST_F(LogReadTest, ColdReadsGetWholeObjectsAndThenTheCache) {
  const Layout l = layout();
  TopicId id{};
  std::vector<StoredBatch> warm;
  run([&](LogManager& log) -> awaitable<void> {
    id = co_await write_layout(log, l);
    const PartitionKey k = pkey(id, 0);
    probe_->clear_gets();
    Status s = co_await read_all(log, k, warm);
    EXPECT_TRUE(s.ok()) << s.to_string();
    EXPECT_TRUE(probe_->gets().empty()) << "fresh commits should be read from the cache";
  });
  open_stores();
  run([&](LogManager& log) -> awaitable<void> {
    const PartitionKey k = pkey(id, 0);
    probe_->clear_gets();
    std::vector<StoredBatch> cold;
    Status s = co_await read_all(log, k, cold);
    EXPECT_TRUE(s.ok()) << s.to_string();
    EXPECT_EQ(cold.size(), warm.size());
    for (std::size_t i = 0; i < std::min(cold.size(), warm.size()); ++i)
      EXPECT_EQ(cold[i].bytes, warm[i].bytes) << "batch " << i;
    auto gets = probe_->gets();
    EXPECT_EQ(gets.size(), 2u);  // one per object
    const auto& index = log.partition(k)->index;
    for (const auto& g : gets) {
      EXPECT_FALSE(g.range.has_value()) << "small objects are read whole: " << g.key;
      bool known = false;
      for (const auto& e : index) known |= e.object->key == g.key;
      EXPECT_TRUE(known) << "GET of " << g.key << " is not an object of the partition";
    }
    probe_->clear_gets();
    std::vector<StoredBatch> again;
    s = co_await read_all(log, k, again);
    EXPECT_TRUE(s.ok()) << s.to_string();
    EXPECT_EQ(again.size(), cold.size());
    EXPECT_TRUE(probe_->gets().empty()) << "second read should hit the cache";
  });
}

// ---- read-ahead: one GET per object for reads of many partitions ----

constexpr int kSpread = 8;  // partitions, all in one object

// One batch per partition, all in ONE flush (one object with kSpread chunks).
awaitable<TopicId> write_spread(LogManager& log) {
  TopicId id = co_await make_topic(log, "spread", kSpread);
  std::vector<std::shared_ptr<LogManager::Completion>> done;
  for (int i = 0; i < kSpread; ++i) {
    auto t = append_batch(log, pkey(id, i), make_batch(5, "p" + std::to_string(i) + "-"));
    EXPECT_TRUE(t.ok());
    if (t.ok()) done.push_back(t->done);
  }
  for (auto& d : done) {
    Status s = co_await wait_done(*d, in(10s));
    EXPECT_TRUE(s.ok()) << s.to_string();
  }
  co_return id;
}

struct ReadOutcome {
  bool done = false;
  Status status;
  std::vector<StoredBatch> batches;
};

// Reads partition `*key` from offset 0 into `out` (spawned: pointer and
// reference parameters only).
awaitable<void> read_into(LogManager& log, const PartitionKey* key, ReadOutcome& out) {
  auto r = co_await log.read(*key, 0, 1 << 20);
  if (r.ok()) {
    collect(*r, out.batches);
  } else {
    out.status = r.status();
  }
  out.done = true;
}

// Starts one read per partition at once and waits (with a deadline) until the
// first GET is blocked in the store, i.e. every read has reached its GET or
// is waiting for one. Returns false at the deadline.
awaitable<bool> spawn_reads(LogManager& log, logtest::ProbeObjectStore& probe,
                            const std::vector<PartitionKey>& keys, std::vector<ReadOutcome>& outs) {
  auto ex = co_await asio::this_coro::executor;
  for (std::size_t i = 0; i < keys.size(); ++i)
    asio::co_spawn(ex, read_into(log, &keys[i], outs[i]), asio::detached);
  auto blocked = [&] { return probe.gets_blocked() >= 1; };
  co_return co_await poll_until(blocked, in(10s));
}

awaitable<bool> all_done(std::vector<ReadOutcome>& outs) {
  auto done = [&] {
    for (const auto& o : outs)
      if (!o.done) return false;
    return true;
  };
  co_return co_await poll_until(done, in(10s));
}

std::vector<PartitionKey> spread_keys(const TopicId& id) {
  std::vector<PartitionKey> keys;
  for (int i = 0; i < kSpread; ++i) keys.push_back(pkey(id, i));
  return keys;
}

TEST_F(LogReadTest, ColdReadsOfManyPartitionsGetTheObjectOnce) {
  TopicId id{};
  run([&](LogManager& log) -> awaitable<void> { id = co_await write_spread(log); });
  open_stores();
  run([&](LogManager& log) -> awaitable<void> {
    probe_->clear_gets();
    for (int i = 0; i < kSpread; ++i) {
      std::vector<StoredBatch> got;
      Status s = co_await read_all(log, pkey(id, i), got);
      EXPECT_TRUE(s.ok()) << s.to_string();
      EXPECT_TRUE(contiguous(got, 5)) << "partition " << i;
      if (!got.empty()) {
        EXPECT_NE(got[0].bytes.find("p" + std::to_string(i) + "-4"), std::string::npos) << "partition " << i;
      }
    }
    auto gets = probe_->gets();
    EXPECT_EQ(gets.size(), 1u) << "one GET for all chunks of the object";
    if (!gets.empty()) {
      EXPECT_FALSE(gets[0].range.has_value());
    }
  });
}

TEST_F(LogReadTest, ConcurrentColdReadsShareOneGet) {
  TopicId id{};
  run([&](LogManager& log) -> awaitable<void> { id = co_await write_spread(log); });
  open_stores();
  run([&](LogManager& log) -> awaitable<void> {
    probe_->clear_gets();
    const auto keys = spread_keys(id);
    std::vector<ReadOutcome> outs(keys.size());
    probe_->hold_gets();
    EXPECT_TRUE(co_await spawn_reads(log, *probe_, keys, outs));
    probe_->release_gets();
    EXPECT_TRUE(co_await all_done(outs));
    for (std::size_t i = 0; i < outs.size(); ++i) {
      EXPECT_TRUE(outs[i].status.ok()) << outs[i].status.to_string();
      EXPECT_TRUE(contiguous(outs[i].batches, 5)) << "partition " << i;
      if (!outs[i].batches.empty()) {
        EXPECT_NE(outs[i].batches[0].bytes.find("p" + std::to_string(i) + "-0"), std::string::npos);
      }
    }
    EXPECT_EQ(probe_->gets().size(), 1u) << "concurrent reads of one object share its GET";
  });
}

TEST_F(LogReadTest, AFailedSharedGetFailsEveryWaiterAndIsRetried) {
  TopicId id{};
  run([&](LogManager& log) -> awaitable<void> { id = co_await write_spread(log); });
  open_stores();
  run([&](LogManager& log) -> awaitable<void> {
    probe_->clear_gets();
    const auto keys = spread_keys(id);
    std::vector<ReadOutcome> outs(keys.size());
    fobj_->fail_next(FaultObjectStore::Op::get, 1, Errc::io_error);
    probe_->hold_gets();
    EXPECT_TRUE(co_await spawn_reads(log, *probe_, keys, outs));
    probe_->release_gets();
    EXPECT_TRUE(co_await all_done(outs));
    for (const auto& o : outs) {
      EXPECT_EQ(o.status.code(), Errc::io_error) << o.status.to_string();
      EXPECT_TRUE(o.batches.empty());
    }
    EXPECT_EQ(probe_->gets().size(), 1u);
    // Nothing was cached: the next reads GET again, once, and succeed.
    std::vector<ReadOutcome> again(keys.size());
    for (std::size_t i = 0; i < keys.size(); ++i) co_await read_into(log, &keys[i], again[i]);
    for (const auto& o : again) {
      EXPECT_TRUE(o.status.ok()) << o.status.to_string();
      EXPECT_TRUE(contiguous(o.batches, 5));
    }
    EXPECT_EQ(probe_->gets().size(), 2u);
  });
}

TEST_F(LogReadTest, ObjectsAboveTheReadAheadLimitAreReadInWindows) {
  TopicId id{};
  std::vector<std::pair<std::uint64_t, int>> by_position;  // chunk position -> partition
  std::uint64_t chunk = 0;
  run([&](LogManager& log) -> awaitable<void> {
    id = co_await write_spread(log);
    for (int i = 0; i < kSpread; ++i) {
      const auto& e = log.partition(pkey(id, i))->index.front();
      by_position.emplace_back(e.position, i);
      chunk = std::max<std::uint64_t>(chunk, e.length);
    }
  });
  std::sort(by_position.begin(), by_position.end());
  open_stores();
  LogOptions o;
  o.read_ahead_bytes = chunk * 3 + chunk / 2;  // a window holds three chunks
  run(
      [&](LogManager& log) -> awaitable<void> {
        probe_->clear_gets();
        // In object order: windows start at the first chunk not yet read.
        for (const auto& [pos, i] : by_position) {
          std::vector<StoredBatch> got;
          Status s = co_await read_all(log, pkey(id, i), got);
          EXPECT_TRUE(s.ok()) << s.to_string();
          EXPECT_TRUE(contiguous(got, 5)) << "partition " << i;
        }
        auto gets = probe_->gets();
        EXPECT_EQ(gets.size(), static_cast<std::size_t>((kSpread + 2) / 3));
        for (const auto& g : gets) {
          EXPECT_TRUE(g.range.has_value());
          if (g.range) {
            EXPECT_LE(g.range->length, o.read_ahead_bytes);
          }
        }
      },
      o);
}

TEST_F(LogReadTest, TinyCacheStillServesCorrectData) {
  const Layout l = layout();
  LogOptions o;
  o.cache_bytes = 1;  // nothing fits: every read is a GET
  run(
      [&](LogManager& log) -> awaitable<void> {
        TopicId id = co_await write_layout(log, l);
        const PartitionKey k = pkey(id, 0);
        probe_->clear_gets();
        std::vector<StoredBatch> got;
        Status s = co_await read_all(log, k, got);
        EXPECT_TRUE(s.ok()) << s.to_string();
        EXPECT_TRUE(contiguous(got, 25));
        EXPECT_EQ(probe_->gets().size(), 2u);
        co_await check_offsets(log, k);
      },
      o);
}

// A failed GET fails a cold read (nothing to serve) or cuts it short (serves
// what it has); the next read works.
TEST_F(LogReadTest, FailedGetsFailOrShortenColdReads) {
  const Layout l = layout();
  TopicId id{};
  run([&](LogManager& log) -> awaitable<void> { id = co_await write_layout(log, l); });
  open_stores();
  run([&](LogManager& log) -> awaitable<void> {
    const PartitionKey k = pkey(id, 0);
    fobj_->fail_next(FaultObjectStore::Op::get, 1, Errc::io_error);
    auto r = co_await log.read(k, 0, 1 << 20);
    EXPECT_FALSE(r.ok());
    if (!r.ok()) {
      EXPECT_EQ(r.code(), Errc::io_error);
    }
    // Warm the first chunk only, then fail the GET of the second.
    r = co_await log.read(k, 0, 1);
    EXPECT_TRUE(r.ok());
    fobj_->fail_next(FaultObjectStore::Op::get, 1, Errc::unavailable);
    r = co_await log.read(k, 0, 1 << 20);
    EXPECT_TRUE(r.ok());
    if (r.ok()) {
      std::vector<StoredBatch> got;
      collect(*r, got);
      EXPECT_EQ(bases(got), "0,5,10");
    }
    r = co_await log.read(k, 0, 1 << 20);
    EXPECT_TRUE(r.ok());
    if (r.ok()) {
      std::vector<StoredBatch> got;
      collect(*r, got);
      EXPECT_TRUE(contiguous(got, 25));
    }
  });
}

TEST_F(LogReadTest, UncommittedDataIsNotReadable) {
  LogOptions o;
  o.flush_interval = 1h;  // the append stays pending
  run(
      [&](LogManager& log) -> awaitable<void> {
        TopicId id = co_await make_topic(log, "r", 1);
        const PartitionKey k = pkey(id, 0);
        auto t = append_batch(log, k, make_batch(3, "p"));
        EXPECT_TRUE(t.ok());
        EXPECT_EQ(log.partition(k)->leo, 3);
        EXPECT_EQ(log.partition(k)->hwm, 0);
        auto r = co_await log.read(k, 0, 1 << 20);
        EXPECT_TRUE(r.ok());
        if (r.ok()) {
          EXPECT_EQ(r->bytes, 0u);
        }
        auto ts = co_await log.max_timestamp(k);
        EXPECT_TRUE(ts.ok());
        if (ts.ok()) {
          EXPECT_EQ(ts->offset, -1);
        }
        TopicId other{};
        other[0] = 1;
        const PartitionKey unknown = pkey(other, 0);
        auto u = co_await log.read(unknown, 0, 1 << 20);
        EXPECT_EQ(u.code(), Errc::not_found);
      },
      o);
}

// Layout timestamps: offsets 0-4 at 1000.., 5-9 at 3000.., 10-14 at 2000..,
// 15-19 at 4000.., 20-24 at 500...
struct TimestampCase {
  std::int64_t ts, offset, timestamp;
};
constexpr TimestampCase kTimestampCases[] = {
    {0, 0, 1000},      // before everything: the first record
    {1002, 2, 1002},   // exact match inside the first batch
    {1005, 5, 3000},   // between records: the next one in offset order
    {2500, 5, 3000},   // earliest offset whose timestamp is >= ts
    {3004, 9, 3004},   // last record of a batch
    {3005, 15, 4000},  // skips the 2000s batch (all below ts)
    {4004, 19, 4004},  // the largest timestamp
    {4005, -1, -1},    // after everything: none
};

awaitable<void> check_timestamps(LogManager& log, const PartitionKey& k) {
  for (const auto& c : kTimestampCases) {
    auto r = co_await log.offset_for_timestamp(k, c.ts);
    EXPECT_TRUE(r.ok());
    if (!r.ok()) continue;
    EXPECT_EQ(r->offset, c.offset) << "ts " << c.ts;
    if (c.offset >= 0) {
      EXPECT_EQ(r->timestamp, c.timestamp) << "ts " << c.ts;
    }
  }
  auto m = co_await log.max_timestamp(k);
  EXPECT_TRUE(m.ok());
  if (m.ok()) {
    EXPECT_EQ(m->offset, 19);
    EXPECT_EQ(m->timestamp, 4004);
  }
}

TEST_F(LogReadTest, OffsetForTimestampAndMaxTimestamp) {
  const Layout l = layout();
  TopicId id{};
  run([&](LogManager& log) -> awaitable<void> {
    id = co_await write_layout(log, l);
    const PartitionKey k = pkey(id, 0);
    co_await check_timestamps(log, k);
  });
  open_stores();
  run([&](LogManager& log) -> awaitable<void> {
    const PartitionKey k = pkey(id, 0);
    co_await check_timestamps(log, k);
  });
}

awaitable<void> wait_commit(LogManager& log, const PartitionKey& k, bool& woke, std::int64_t& hwm_at_wake,
                            Clock::time_point& at) {
  co_await log.commit_notifier().wait_until(Clock::now() + std::chrono::hours(1));
  woke = true;
  hwm_at_wake = log.partition(k)->hwm;
  at = Clock::now();
}

// A long-polling fetch waits on the commit notifier with a long deadline; a
// commit must wake it at once, with the data already visible.
TEST_F(LogReadTest, CommitNotifierWakesALongWaiterPromptly) {
  run([&](LogManager& log) -> awaitable<void> {
    TopicId id = co_await make_topic(log, "r", 1);
    const PartitionKey k = pkey(id, 0);
    bool woke = false;
    std::int64_t hwm_at_wake = -1;
    Clock::time_point at{};
    auto ex = co_await asio::this_coro::executor;
    asio::co_spawn(ex, wait_commit(log, k, woke, hwm_at_wake, at), asio::detached);
    auto waiting = [&] { return log.commit_notifier().waiting() == 1; };
    EXPECT_TRUE(co_await poll_until(waiting, in(10s)));
    const auto start = Clock::now();
    auto t = append_batch(log, k, make_batch(4, "n"));
    EXPECT_TRUE(t.ok());
    auto has_woken = [&] { return woke; };
    EXPECT_TRUE(co_await poll_until(has_woken, in(10s)));
    EXPECT_EQ(hwm_at_wake, 4);
    EXPECT_LT(at - start, std::chrono::seconds(5));
    if (t.ok()) {
      EXPECT_TRUE(t->done->event.is_set());
    }
  });
}

}  // namespace
}  // namespace ks::log
