// LogReader on its own, over a LogShared and the fault-injecting stores (no
// LogManager). Data is written by a LogWriter over the same shared state; a
// cold reader is a fresh shared state whose index LogLifecycle::recover()
// restored. Cache hits, read-ahead GETs and their dedupe, KIP-74 limits, GET
// errors, timestamp look-ups.
#include <gtest/gtest.h>

#include "log/log_test_util.h"

namespace ks::log {
namespace {

using logtest::batch_content;
using logtest::collect;
using logtest::contiguous;
using logtest::make_batch;
using logtest::PartEnv;
using logtest::pkey;
using logtest::poll_until;
using logtest::StoredBatch;
using logtest::write_flush;
using objstore::FaultObjectStore;
using namespace std::chrono_literals;

Clock::time_point in(std::chrono::milliseconds d) { return Clock::now() + d; }

class ReaderTest : public logtest::LogHarness {};

// Base offsets as "0,5,10".
std::string bases(const std::vector<StoredBatch>& batches) {
  std::string out;
  for (const auto& b : batches) out += (out.empty() ? "" : ",") + std::to_string(b.base);
  return out;
}

// Five batches of five records in one partition: flush 1 holds offsets 0-14
// (three batches), flush 2 offsets 15-24 (two). Record i of batch j has
// timestamp ts[j] + i.
struct Layout {
  std::vector<std::pair<PartitionKey, std::string>> flush1, flush2;
  std::vector<std::string> contents() const {
    std::vector<std::string> out;
    for (const auto& [k, b] : flush1) out.push_back(batch_content(b));
    for (const auto& [k, b] : flush2) out.push_back(batch_content(b));
    return out;
  }
  std::size_t size(int batch) const {
    return batch < 3 ? flush1[static_cast<std::size_t>(batch)].second.size()
                     : flush2[static_cast<std::size_t>(batch - 3)].second.size();
  }
};
Layout layout(const PartitionKey& k) {
  Layout l;
  const std::int64_t ts[5] = {1000, 3000, 2000, 4000, 500};
  for (int j = 0; j < 5; ++j)
    (j < 3 ? l.flush1 : l.flush2).emplace_back(k, make_batch(5, "b" + std::to_string(j) + "-", ts[j]));
  return l;
}

// Writes the layout into topic "r" with a writer over the env's shared state.
awaitable<TopicId> write_layout(PartEnv& env) {
  LogWriter& w = env.make<LogWriter>();
  w.start();
  TopicId id = co_await env.add_topic("r", 1);
  const Layout l = layout(pkey(id, 0));
  Status s = co_await write_flush(w, l.flush1);
  EXPECT_TRUE(s.ok()) << s.to_string();
  s = co_await write_flush(w, l.flush2);
  EXPECT_TRUE(s.ok()) << s.to_string();
  EXPECT_EQ(env.partition(pkey(id, 0)).index.size(), 2u);
  co_return id;
}

// A cold start: the partitions of the cluster's topics, recovered from the
// commit records (a fresh read cache).
awaitable<void> recover(PartEnv& env) {
  env.load_partitions();
  LogLifecycle& lc = env.make<LogLifecycle>();
  Status s = co_await env.recover(lc);
  EXPECT_TRUE(s.ok()) << s.to_string();
}

// Every committed batch from `offset` (several reads when needed).
awaitable<Status> read_from(LogReader& r, const PartitionKey& k, std::int64_t offset, std::int64_t hwm,
                            std::vector<StoredBatch>& out) {
  while (offset < hwm) {
    auto res = co_await r.read(k, offset, 1 << 20);
    if (!res.ok()) co_return res.status();
    const std::size_t before = out.size();
    collect(*res, out);
    if (out.size() == before) co_return Status(Errc::corrupt, "read returned nothing below the hwm");
    offset = out.back().last + 1;
  }
  co_return Status{};
}

std::vector<std::string> contents(const std::vector<StoredBatch>& batches) {
  std::vector<std::string> out;
  for (const auto& b : batches) out.push_back(batch_content(b.bytes));
  return out;
}

TEST_F(ReaderTest, FreshCommitsAreReadFromTheCacheWithoutGets) {
  run_part<LogReader>([&](PartEnv& env, LogReader& r) -> awaitable<void> {
    TopicId id = co_await write_layout(env);
    const PartitionKey k = pkey(id, 0);
    probe_->clear_gets();
    const auto hits = env.shared.cache.hits();
    std::vector<StoredBatch> got;
    Status s = co_await read_from(r, k, 0, 25, got);
    EXPECT_TRUE(s.ok()) << s.to_string();
    EXPECT_TRUE(contiguous(got, 25));
    EXPECT_EQ(contents(got), layout(k).contents());
    EXPECT_TRUE(probe_->gets().empty()) << probe_->gets().size() << " GETs";
    EXPECT_EQ(env.shared.cache.hits(), hits + 2);  // one per chunk
  });
}

constexpr int kSpread = 6;  // partitions, each with a chunk in both objects

TEST_F(ReaderTest, ColdReadsGetEachObjectOnceForManyPartitions) {
  TopicId id{};
  run_part<LogWriter>([&](PartEnv& env, LogWriter& w) -> awaitable<void> {
    w.start();
    id = co_await env.add_topic("spread", kSpread);
    for (int f = 0; f < 2; ++f) {
      std::vector<std::pair<PartitionKey, std::string>> batches;
      for (int i = 0; i < kSpread; ++i)
        batches.emplace_back(pkey(id, i), make_batch(5, "p" + std::to_string(i) + "-"));
      Status s = co_await write_flush(w, batches);
      EXPECT_TRUE(s.ok()) << s.to_string();
    }
  });
  open_stores();
  run_part<LogReader>([&](PartEnv& env, LogReader& r) -> awaitable<void> {
    co_await recover(env);
    probe_->clear_gets();
    for (int i = 0; i < kSpread; ++i) {
      const PartitionKey key = pkey(id, i);
      std::vector<StoredBatch> got;
      Status s = co_await read_from(r, key, 0, 10, got);
      EXPECT_TRUE(s.ok()) << s.to_string();
      EXPECT_TRUE(contiguous(got, 10)) << "partition " << i;
      if (!got.empty()) {
        EXPECT_NE(got[0].bytes.find("p" + std::to_string(i) + "-4"), std::string::npos);
      }
    }
    auto gets = probe_->gets();
    EXPECT_EQ(gets.size(), 2u) << "one GET per object for all partitions";
    for (const auto& g : gets) {
      EXPECT_FALSE(g.range.has_value()) << "small objects are read whole";
    }
    probe_->clear_gets();
    for (int i = 0; i < kSpread; ++i) {
      const PartitionKey key = pkey(id, i);
      std::vector<StoredBatch> again;
      Status s = co_await read_from(r, key, 0, 10, again);
      EXPECT_TRUE(s.ok()) << s.to_string();
    }
    EXPECT_TRUE(probe_->gets().empty()) << "the read-ahead spans serve later reads";
  });
}

struct ReadOutcome {
  bool done = false;
  Status status;
  std::vector<StoredBatch> batches;
};

awaitable<void> read_into(LogReader& r, const PartitionKey* key, ReadOutcome& out) {
  auto res = co_await r.read(*key, 0, 1 << 20);
  if (res.ok()) {
    collect(*res, out.batches);
  } else {
    out.status = res.status();
  }
  out.done = true;
}

// One cold read per partition at once while GETs are held: every read has
// reached its GET (or waits for one in flight) once the first GET blocks,
// since they all started before the poll's first timer.
awaitable<bool> concurrent_reads(LogReader& r, logtest::ProbeObjectStore& probe,
                                 const std::vector<PartitionKey>& keys, std::vector<ReadOutcome>& outs) {
  probe.hold_gets();
  auto ex = co_await asio::this_coro::executor;
  for (std::size_t i = 0; i < keys.size(); ++i)
    asio::co_spawn(ex, read_into(r, &keys[i], outs[i]), asio::detached);
  auto blocked = [&] { return probe.gets_blocked() >= 1; };
  bool ok = co_await poll_until(blocked, in(10s));
  probe.release_gets();
  auto done = [&] {
    for (const auto& o : outs)
      if (!o.done) return false;
    return true;
  };
  ok = co_await poll_until(done, in(10s)) && ok;
  co_return ok;
}

// Topic "spread" with one chunk per partition, all in one object.
awaitable<TopicId> write_spread(PartEnv& env, LogWriter& w) {
  w.start();
  TopicId id = co_await env.add_topic("spread", kSpread);
  std::vector<std::pair<PartitionKey, std::string>> batches;
  for (int i = 0; i < kSpread; ++i)
    batches.emplace_back(pkey(id, i), make_batch(5, "p" + std::to_string(i) + "-"));
  Status s = co_await write_flush(w, batches);
  EXPECT_TRUE(s.ok()) << s.to_string();
  co_return id;
}

TEST_F(ReaderTest, ConcurrentColdReadsOfOneObjectShareOneGet) {
  TopicId id{};
  run_part<LogWriter>(
      [&](PartEnv& env, LogWriter& w) -> awaitable<void> { id = co_await write_spread(env, w); });
  open_stores();
  run_part<LogReader>([&](PartEnv& env, LogReader& r) -> awaitable<void> {
    co_await recover(env);
    probe_->clear_gets();
    std::vector<PartitionKey> keys;
    for (int i = 0; i < kSpread; ++i) keys.push_back(pkey(id, i));
    std::vector<ReadOutcome> outs(keys.size());
    EXPECT_TRUE(co_await concurrent_reads(r, *probe_, keys, outs));
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

TEST_F(ReaderTest, AFailedSharedGetFailsEveryWaiterAndNothingIsCached) {
  TopicId id{};
  run_part<LogWriter>(
      [&](PartEnv& env, LogWriter& w) -> awaitable<void> { id = co_await write_spread(env, w); });
  open_stores();
  run_part<LogReader>([&](PartEnv& env, LogReader& r) -> awaitable<void> {
    co_await recover(env);
    probe_->clear_gets();
    std::vector<PartitionKey> keys;
    for (int i = 0; i < kSpread; ++i) keys.push_back(pkey(id, i));
    std::vector<ReadOutcome> outs(keys.size());
    fobj_->fail_next(FaultObjectStore::Op::get, 1, Errc::io_error);
    EXPECT_TRUE(co_await concurrent_reads(r, *probe_, keys, outs));
    for (const auto& o : outs) {
      EXPECT_EQ(o.status.code(), Errc::io_error) << o.status.to_string();
      EXPECT_TRUE(o.batches.empty());
    }
    EXPECT_EQ(probe_->gets().size(), 1u);
    std::vector<ReadOutcome> again(keys.size());
    for (std::size_t i = 0; i < keys.size(); ++i) co_await read_into(r, &keys[i], again[i]);
    for (const auto& o : again) {
      EXPECT_TRUE(o.status.ok()) << o.status.to_string();
      EXPECT_TRUE(contiguous(o.batches, 5));
    }
    EXPECT_EQ(probe_->gets().size(), 2u);
  });
}

awaitable<void> check_limits(LogReader& r, const PartitionKey& k) {
  const Layout l = layout(k);
  std::vector<StoredBatch> got;
  // Smaller than one batch: the first batch anyway, whole (KIP-74).
  auto res = co_await r.read(k, 0, 1);
  EXPECT_TRUE(res.ok());
  if (res.ok()) collect(*res, got);
  EXPECT_EQ(bases(got), "0");
  EXPECT_EQ(res.ok() ? res->bytes : 0, l.size(0));
  // Exactly two batches fit; one byte less: one.
  res = co_await r.read(k, 0, l.size(0) + l.size(1));
  EXPECT_EQ(res.ok() ? res->bytes : 0, l.size(0) + l.size(1));
  res = co_await r.read(k, 0, l.size(0) + l.size(1) - 1);
  EXPECT_EQ(res.ok() ? res->bytes : 0, l.size(0));
  // The first batch is whole when it starts in a later chunk, at an offset
  // inside it, and is larger than the limit.
  got.clear();
  res = co_await r.read(k, 16, 10);
  EXPECT_TRUE(res.ok());
  if (res.ok()) collect(*res, got);
  EXPECT_EQ(bases(got), "15");
  EXPECT_EQ(res.ok() ? res->bytes : 0, l.size(3));
  // Across the objects: stops before the batch that would pass the limit.
  got.clear();
  res = co_await r.read(k, 5, l.size(1) + l.size(2) + l.size(3) + l.size(4) - 1);
  EXPECT_TRUE(res.ok());
  if (res.ok()) collect(*res, got);
  EXPECT_EQ(bases(got), "5,10,15");
}

TEST_F(ReaderTest, FirstBatchIsWholeEvenWhenLargerThanMaxBytes) {
  TopicId id{};
  run_part<LogReader>([&](PartEnv& env, LogReader& r) -> awaitable<void> {
    id = co_await write_layout(env);
    const PartitionKey k = pkey(id, 0);
    co_await check_limits(r, k);  // from the cache
  });
  open_stores();
  run_part<LogReader>([&](PartEnv& env, LogReader& r) -> awaitable<void> {
    co_await recover(env);
    const PartitionKey k = pkey(id, 0);
    co_await check_limits(r, k);  // from GETs
  });
}

TEST_F(ReaderTest, GetErrorsFailAColdReadOrShortenIt) {
  TopicId id{};
  run_part<LogReader>([&](PartEnv& env, LogReader&) -> awaitable<void> { id = co_await write_layout(env); });
  open_stores();
  run_part<LogReader>([&](PartEnv& env, LogReader& r) -> awaitable<void> {
    co_await recover(env);
    const PartitionKey k = pkey(id, 0);
    fobj_->fail_next(FaultObjectStore::Op::get, 1, Errc::io_error);
    auto res = co_await r.read(k, 0, 1 << 20);
    EXPECT_EQ(res.code(), Errc::io_error);
    // The first object in the cache, the GET of the second fails: what was
    // read is served.
    res = co_await r.read(k, 0, 1);
    EXPECT_TRUE(res.ok());
    fobj_->fail_next(FaultObjectStore::Op::get, 1, Errc::unavailable);
    std::vector<StoredBatch> got;
    res = co_await r.read(k, 0, 1 << 20);
    EXPECT_TRUE(res.ok());
    if (res.ok()) collect(*res, got);
    EXPECT_EQ(bases(got), "0,5,10");
    got.clear();
    res = co_await r.read(k, 0, 1 << 20);
    EXPECT_TRUE(res.ok());
    if (res.ok()) collect(*res, got);
    EXPECT_TRUE(contiguous(got, 25));
  });
}

// Layout timestamps: offsets 0-4 at 1000.., 5-9 at 3000.., 10-14 at 2000..,
// 15-19 at 4000.., 20-24 at 500...
struct TimestampCase {
  std::int64_t ts, offset, timestamp;
};
constexpr TimestampCase kTimestampCases[] = {
    {0, 0, 1000},    {1002, 2, 1002},  {1005, 5, 3000},  {2500, 5, 3000},
    {3004, 9, 3004}, {3005, 15, 4000}, {4004, 19, 4004}, {4005, -1, -1},
};

awaitable<void> check_timestamps(LogReader& r, const PartitionKey& k) {
  for (const auto& c : kTimestampCases) {
    auto res = co_await r.offset_for_timestamp(k, c.ts);
    EXPECT_TRUE(res.ok());
    if (!res.ok()) continue;
    EXPECT_EQ(res->offset, c.offset) << "ts " << c.ts;
    if (c.offset >= 0) {
      EXPECT_EQ(res->timestamp, c.timestamp) << "ts " << c.ts;
    }
  }
  auto m = co_await r.max_timestamp(k);
  EXPECT_TRUE(m.ok());
  EXPECT_EQ(m.ok() ? m->offset : -2, 19);
  EXPECT_EQ(m.ok() ? m->timestamp : -2, 4004);
}

TEST_F(ReaderTest, OffsetForTimestampAndMaxTimestamp) {
  TopicId id{};
  run_part<LogReader>([&](PartEnv& env, LogReader& r) -> awaitable<void> {
    id = co_await write_layout(env);
    const PartitionKey k = pkey(id, 0);
    co_await check_timestamps(r, k);
    TopicId empty = co_await env.add_topic("empty", 1);
    const PartitionKey e0 = pkey(empty, 0), unknown = pkey(empty, 1);
    auto m = co_await r.max_timestamp(e0);
    EXPECT_EQ(m.ok() ? m->offset : -2, -1);
    auto t = co_await r.offset_for_timestamp(e0, 0);
    EXPECT_EQ(t.ok() ? t->offset : -2, -1);
    auto u = co_await r.max_timestamp(unknown);
    EXPECT_EQ(u.code(), Errc::not_found);
  });
  open_stores();
  run_part<LogReader>([&](PartEnv& env, LogReader& r) -> awaitable<void> {
    co_await recover(env);
    const PartitionKey k = pkey(id, 0);
    co_await check_timestamps(r, k);
  });
}

// Kafka answers a timestamp look-up with an offset >= the log start
// (UnifiedLog.fetchOffsetByTimestamp searches from logStartOffset): records
// below it are gone for the client, even when their range is still indexed.
// A batch of n records at base_ts.. marked gzip (the payload stays plain).
std::string compressed_batch(int n, std::int64_t base_ts) {
  std::vector<protocol::TestRecord> recs(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    recs[static_cast<std::size_t>(i)].value = "z" + std::to_string(i);
    recs[static_cast<std::size_t>(i)].timestamp_delta = i;
  }
  return protocol::build_batch(recs, 0, base_ts, 1);
}

std::int64_t start_of(const Result<std::int64_t>& r) { return r.ok() ? *r : -99; }

TEST_F(ReaderTest, OffsetForTimestampSkipsRecordsBelowTheLogStart) {
  run_part<LogReader>([&](PartEnv& env, LogReader& r) -> awaitable<void> {
    TopicId id = co_await write_layout(env);
    const PartitionKey k = pkey(id, 0);
    LogLifecycle& lc = env.make<LogLifecycle>();
    EXPECT_EQ(start_of(lc.delete_records(k, 10)), 10);         // inside the first chunk (0-14)
    EXPECT_EQ(env.partition(k).index.front().base_offset, 0);  // still indexed
    auto res = co_await r.offset_for_timestamp(k, 0);
    EXPECT_TRUE(res.ok());
    EXPECT_EQ(res.ok() ? res->offset : -2, 10);  // not 0
    EXPECT_EQ(res.ok() ? res->timestamp : -2, 2000);
    // Only records below the log start of the first chunk match: the answer
    // is in the next chunk.
    res = co_await r.offset_for_timestamp(k, 3001);
    EXPECT_TRUE(res.ok());
    EXPECT_EQ(res.ok() ? res->offset : -2, 15);  // not 6
    EXPECT_EQ(res.ok() ? res->timestamp : -2, 4000);

    // Compressed batches are not looked into: a batch holding the log start
    // answers with the log start.
    TopicId zid = co_await env.add_topic("z", 1);
    const PartitionKey z = pkey(zid, 0);
    std::vector<std::pair<PartitionKey, std::string>> batches;
    batches.emplace_back(z, compressed_batch(5, 1000));
    batches.emplace_back(z, compressed_batch(5, 3000));
    LogWriter& w = env.make<LogWriter>();
    w.start();
    Status s = co_await logtest::write_flush(w, batches);
    EXPECT_TRUE(s.ok()) << s.to_string();
    EXPECT_EQ(start_of(lc.delete_records(z, 7)), 7);
    res = co_await r.offset_for_timestamp(z, 0);
    EXPECT_TRUE(res.ok());
    EXPECT_EQ(res.ok() ? res->offset : -2, 7);  // not 0
    EXPECT_EQ(res.ok() ? res->timestamp : -2, 3004);
  });
}

}  // namespace
}  // namespace ks::log
