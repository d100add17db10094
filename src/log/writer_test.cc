// LogWriter on its own, over a LogShared and the fault-injecting stores (no
// LogManager): offsets at append, one object and one commit per flush,
// rollback after a failed PUT, fencing, idempotent duplicates, stop and
// back-pressure.
#include <gtest/gtest.h>

#include "log/log_test_util.h"
#include "log/records.h"

namespace ks::log {
namespace {

using logtest::append_to;
using logtest::make_batch;
using logtest::PartEnv;
using logtest::pkey;
using logtest::poll_until;
using logtest::wait_done;
using logtest::write_flush;
using metastore::StoreMethod;
using objstore::FaultObjectStore;
using PC = LogWriter::ProducerCheck;
using namespace std::chrono_literals;

Clock::time_point in(std::chrono::milliseconds d) { return Clock::now() + d; }

class WriterTest : public logtest::LogHarness {
 protected:
  // The base offsets of the batches stored for `key` in `object` (read
  // straight from the store), as "0,3"; the leader epoch they were stamped
  // with in `epoch` (-2 when they differ).
  std::string stored_bases(const std::string& object, const PartitionKey& key, std::int32_t& epoch) {
    auto bytes = fobj_->inner().get(object, std::nullopt);
    EXPECT_TRUE(bytes.ok()) << object;
    if (!bytes.ok()) return "?";
    auto parsed = parse_object(*bytes);
    EXPECT_TRUE(parsed.ok()) << parsed.status().to_string();
    if (!parsed.ok()) return "?";
    std::string out;
    epoch = -1;
    for (const auto& e : parsed->entries) {
      if (e.topic != key.topic || e.partition != key.partition) continue;
      for (const auto& b : protocol::scan_batches(std::string_view(*bytes).substr(e.position, e.length))) {
        out += (out.empty() ? "" : ",") + std::to_string(b.header.base_offset);
        epoch =
            epoch == -1 || epoch == b.header.partition_leader_epoch ? b.header.partition_leader_epoch : -2;
      }
    }
    return out;
  }
  std::size_t footer_entries(const std::string& object) {
    auto bytes = fobj_->inner().get(object, std::nullopt);
    if (!bytes.ok()) return 0;
    auto parsed = parse_object(*bytes);
    return parsed.ok() ? parsed->entries.size() : 0;
  }
};

// Batches of 20 records (~300 bytes) seal a flush at once with this option;
// batches of 1 record stay pending until the flush timer (an hour).
LogOptions sealing(std::size_t inflight_puts = 1) {
  LogOptions o;
  o.flush_bytes = 200;
  o.flush_interval = 1h;
  o.max_inflight_puts = inflight_puts;
  return o;
}
std::string big(const std::string& prefix) { return make_batch(20, prefix); }
std::string small(const std::string& prefix) { return make_batch(1, prefix); }

TEST_F(WriterTest, OffsetsAreAssignedAtAppendAndContiguousAcrossFlushes) {
  LogOptions o;
  o.flush_interval = 20ms;
  run_part<LogWriter>(
      [&](PartEnv& env, LogWriter& w) -> awaitable<void> {
        w.start();
        TopicId id = co_await env.add_topic("t", 2);
        const PartitionKey k0 = pkey(id, 0), k1 = pkey(id, 1);
        // One flush: no co_await between these appends.
        auto ta = append_to(w, k0, make_batch(3, "a"));
        auto tb = append_to(w, k0, make_batch(2, "b"));
        auto tc = append_to(w, k1, make_batch(2, "c"));
        EXPECT_TRUE(ta.ok() && tb.ok() && tc.ok());
        if (!ta.ok() || !tb.ok() || !tc.ok()) co_return;
        EXPECT_EQ(ta->ticket.base_offset, 0);
        EXPECT_EQ(tb->ticket.base_offset, 3);
        EXPECT_EQ(tc->ticket.base_offset, 0);  // offsets are per partition
        EXPECT_EQ(ta->ticket.done, tb->ticket.done);
        EXPECT_EQ(env.partition(k0).leo, 5);
        EXPECT_EQ(env.partition(k0).hwm, 0);  // assigned, not committed
        auto done1 = ta->ticket.done;
        Status s = co_await wait_done(*done1, in(10s));
        EXPECT_TRUE(s.ok()) << s.to_string();
        EXPECT_EQ(env.partition(k0).hwm, 5);
        EXPECT_EQ(env.partition(k1).hwm, 2);

        auto td = append_to(w, k0, make_batch(4, "d"));
        EXPECT_TRUE(td.ok());
        if (!td.ok()) co_return;
        EXPECT_EQ(td->ticket.base_offset, 5);
        auto done2 = td->ticket.done;
        s = co_await wait_done(*done2, in(10s));
        EXPECT_TRUE(s.ok()) << s.to_string();
        const PartitionState& p = env.partition(k0);
        EXPECT_EQ(p.hwm, 9);
        EXPECT_EQ(p.leo, 9);
        EXPECT_EQ(p.index.size(), 2u);
        if (p.index.size() != 2) co_return;
        EXPECT_EQ(p.index[0].base_offset, 0);
        EXPECT_EQ(p.index[0].last_offset, 4);
        EXPECT_EQ(p.index[1].base_offset, 5);
        EXPECT_EQ(p.index[1].last_offset, 8);
        EXPECT_EQ(p.index[0].object->key, keys::object(0, env.shared.epoch(), 1));
        EXPECT_EQ(p.index[1].object->key, keys::object(0, env.shared.epoch(), 2));
        // The stored batches carry the offsets handed out (and leader epoch 0).
        std::int32_t epoch = -1;
        EXPECT_EQ(stored_bases(p.index[0].object->key, k0, epoch), "0,3");
        EXPECT_EQ(epoch, 0);
        EXPECT_EQ(stored_bases(p.index[0].object->key, k1, epoch), "0");
        EXPECT_EQ(stored_bases(p.index[1].object->key, k0, epoch), "5");
      },
      o);
}

TEST_F(WriterTest, OneObjectAndOneCommitRecordPerFlushWhateverThePartitionCount) {
  constexpr int kPartitions = 30;
  LogOptions o;
  o.flush_interval = 20ms;
  run_part<LogWriter>(
      [&](PartEnv& env, LogWriter& w) -> awaitable<void> {
        w.start();
        TopicId id = co_await env.add_topic("wide", kPartitions);
        for (int round = 0; round < 2; ++round) {
          const int n = round == 0 ? 1 : kPartitions;
          const int puts = probe_->puts_done();
          const auto txns = fmeta_->calls(StoreMethod::txn);
          const std::size_t commits = commit_keys().size();
          const std::size_t objects = object_count();
          std::vector<std::pair<PartitionKey, std::string>> batches;
          for (int i = 0; i < n; ++i)
            batches.emplace_back(pkey(id, i), make_batch(1 + i % 3, "r" + std::to_string(round)));
          Status s = co_await write_flush(w, batches);
          EXPECT_TRUE(s.ok()) << s.to_string();
          EXPECT_EQ(probe_->puts_done(), puts + 1) << n << " partitions";
          EXPECT_EQ(fmeta_->calls(StoreMethod::txn), txns + 1) << n << " partitions";
          EXPECT_EQ(commit_keys().size(), commits + 1) << n << " partitions";
          EXPECT_EQ(object_count(), objects + 1) << n << " partitions";
          // The commit record points at the one object, whose footer indexes every partition.
          const std::uint64_t seq = static_cast<std::uint64_t>(round) + 1;
          auto kv = meta_value(keys::commit(0, seq));
          EXPECT_TRUE(kv.has_value());
          if (!kv) continue;
          auto rec = decode_commit(kv->value);
          EXPECT_TRUE(rec.ok());
          if (!rec.ok()) continue;
          EXPECT_EQ(rec->seq, seq);
          EXPECT_EQ(rec->broker_epoch, env.shared.epoch());
          EXPECT_EQ(rec->object, env.partition(pkey(id, 0)).index.back().object->key);
          EXPECT_EQ(footer_entries(rec->object), static_cast<std::size_t>(n));
        }
        EXPECT_EQ(env.shared.stats.flushes, 2u);
        EXPECT_EQ(env.shared.stats.commits, 2u);
        EXPECT_EQ(env.shared.position.last_committed, 2u);
        for (int i = 0; i < kPartitions; ++i)
          EXPECT_EQ(env.partition(pkey(id, i)).hwm, (i == 0 ? 1 : 0) + 1 + i % 3);
      },
      o);
}

TEST_F(WriterTest, FailedPutFailsThatAndLaterFlushesAndRollsBackToTheHwm) {
  run_part<LogWriter>(
      [&](PartEnv& env, LogWriter& w) -> awaitable<void> {
        w.start();
        TopicId id = co_await env.add_topic("t", 2);
        const PartitionKey k0 = pkey(id, 0), k1 = pkey(id, 1);
        std::vector<std::pair<PartitionKey, std::string>> first;
        first.emplace_back(k0, big("a"));
        Status s = co_await write_flush(w, first);
        EXPECT_TRUE(s.ok()) << s.to_string();
        const std::size_t commits = commit_keys().size();

        fobj_->fail_next(FaultObjectStore::Op::put, 1, Errc::io_error);
        auto tb = append_to(w, k0, big("b"));    // flush 2 (sealed): its PUT fails
        auto tc = append_to(w, k1, big("c"));    // flush 3 (sealed after it)
        auto td = append_to(w, k0, small("d"));  // flush 4, still pending
        EXPECT_TRUE(tb.ok() && tc.ok() && td.ok());
        if (!tb.ok() || !tc.ok() || !td.ok()) co_return;
        EXPECT_EQ(tb->ticket.base_offset, 20);
        EXPECT_EQ(tc->ticket.base_offset, 0);
        EXPECT_EQ(td->ticket.base_offset, 40);
        EXPECT_EQ(env.partition(k0).leo, 41);
        auto db = tb->ticket.done, dc = tc->ticket.done, dd = td->ticket.done;
        s = co_await wait_done(*db, in(10s));
        EXPECT_EQ(s.code(), Errc::io_error) << s.to_string();
        s = co_await wait_done(*dc, in(10s));
        EXPECT_EQ(s.code(), Errc::io_error) << s.to_string();
        s = co_await wait_done(*dd, in(10s));
        EXPECT_EQ(s.code(), Errc::io_error) << s.to_string();
        EXPECT_EQ(env.partition(k0).leo, 20);
        EXPECT_EQ(env.partition(k0).hwm, 20);
        EXPECT_EQ(env.partition(k1).leo, 0);
        EXPECT_EQ(env.shared.stats.flush_failures, 3u);
        EXPECT_EQ(w.buffered_bytes(), 0u);
        EXPECT_EQ(commit_keys().size(), commits);

        // The offsets handed out for the failed data are handed out again.
        auto te = append_to(w, k0, big("e"));
        EXPECT_TRUE(te.ok());
        if (!te.ok()) co_return;
        EXPECT_EQ(te->ticket.base_offset, 20);
        auto de = te->ticket.done;
        s = co_await wait_done(*de, in(10s));
        EXPECT_TRUE(s.ok()) << s.to_string();
        EXPECT_EQ(env.partition(k0).hwm, 40);
        EXPECT_EQ(env.partition(k0).index.size(), 2u);
        EXPECT_EQ(commit_keys().size(), commits + 1);
      },
      sealing());
}

TEST_F(WriterTest, CommitRejectedByAnotherOwnerFencesTheWriter) {
  run_part<LogWriter>(
      [&](PartEnv& env, LogWriter& w) -> awaitable<void> {
        w.start();
        TopicId id = co_await env.add_topic("t", 1);
        const PartitionKey k = pkey(id, 0);
        std::vector<std::pair<PartitionKey, std::string>> first;
        first.emplace_back(k, big("a"));
        Status s = co_await write_flush(w, first);
        EXPECT_TRUE(s.ok()) << s.to_string();
        EXPECT_FALSE(env.cluster.fenced());

        // Another process takes the node id over.
        auto put = fmeta_->inner()->put(keys::owner(0), "{\"v\":1,\"node\":0,\"started_ms\":1}");
        EXPECT_TRUE(put.ok());
        auto tb = append_to(w, k, big("b"));
        EXPECT_TRUE(tb.ok());
        if (!tb.ok()) co_return;
        auto db = tb->ticket.done;
        s = co_await wait_done(*db, in(10s));
        EXPECT_EQ(s.code(), Errc::fenced) << s.to_string();
        EXPECT_TRUE(env.cluster.fenced());
        EXPECT_EQ(env.partition(k).hwm, 20);
        EXPECT_EQ(env.partition(k).leo, 20);
        EXPECT_FALSE(meta_value(keys::commit(0, 2)).has_value());
        auto tc = append_to(w, k, small("c"));
        EXPECT_EQ(tc.code(), Errc::fenced);
        env.begin_stop();
        co_await w.stop();  // returns although nothing can commit any more
      },
      sealing());
}

std::string idem_batch(int n, std::int64_t pid, std::int16_t epoch, std::int32_t seq) {
  std::vector<protocol::TestRecord> recs(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) recs[static_cast<std::size_t>(i)].value = "s" + std::to_string(seq + i);
  return protocol::build_batch(recs, 0, 1000, 0, pid, epoch, seq);
}

TEST_F(WriterTest, IdempotentDuplicateIsAnsweredWithTheOriginalOffset) {
  LogOptions o;
  o.flush_interval = 20ms;
  run_part<LogWriter>(
      [&](PartEnv& env, LogWriter& w) -> awaitable<void> {
        w.start();
        TopicId id = co_await env.add_topic("t", 1);
        const PartitionKey k = pkey(id, 0);
        const std::string a = idem_batch(3, 42, 0, 0);
        auto r1 = append_to(w, k, a);
        auto r2 = append_to(w, k, a);  // a retry while the original is in flight
        EXPECT_TRUE(r1.ok() && r2.ok());
        if (!r1.ok() || !r2.ok()) co_return;
        EXPECT_EQ(r1->check, PC::kOk);
        EXPECT_EQ(r2->check, PC::kDuplicate);
        EXPECT_EQ(r2->ticket.base_offset, 0);
        EXPECT_EQ(r2->ticket.done, r1->ticket.done);  // answered with the original's outcome
        EXPECT_EQ(env.partition(k).leo, 3);
        auto d1 = r1->ticket.done;
        Status s = co_await wait_done(*d1, in(10s));
        EXPECT_TRUE(s.ok()) << s.to_string();

        auto r3 = append_to(w, k, a);  // a retry after the commit
        EXPECT_TRUE(r3.ok());
        if (!r3.ok()) co_return;
        EXPECT_EQ(r3->check, PC::kDuplicate);
        EXPECT_EQ(r3->ticket.base_offset, 0);
        EXPECT_TRUE(r3->ticket.done->event.is_set());
        EXPECT_TRUE(r3->ticket.done->result.ok());
        EXPECT_EQ(env.shared.stats.duplicates, 2u);

        auto gap = append_to(w, k, idem_batch(1, 42, 0, 10));
        EXPECT_TRUE(gap.ok());
        if (gap.ok()) {
          EXPECT_EQ(gap->check, PC::kOutOfOrder);
          EXPECT_FALSE(gap->message.empty());
        }
        auto r4 = append_to(w, k, idem_batch(2, 42, 0, 3));
        EXPECT_TRUE(r4.ok());
        if (!r4.ok()) co_return;
        EXPECT_EQ(r4->check, PC::kOk);
        EXPECT_EQ(r4->ticket.base_offset, 3);
        auto fresh_epoch = append_to(w, k, idem_batch(1, 42, 1, 0));
        auto stale_epoch = append_to(w, k, idem_batch(1, 42, 0, 5));
        EXPECT_TRUE(fresh_epoch.ok() && stale_epoch.ok());
        if (!fresh_epoch.ok() || !stale_epoch.ok()) co_return;
        EXPECT_EQ(fresh_epoch->check, PC::kOk);
        EXPECT_EQ(fresh_epoch->ticket.base_offset, 5);
        EXPECT_EQ(stale_epoch->check, PC::kInvalidEpoch);
        auto d4 = fresh_epoch->ticket.done;
        s = co_await wait_done(*d4, in(10s));
        EXPECT_TRUE(s.ok()) << s.to_string();
        EXPECT_EQ(env.partition(k).hwm, 6);  // a once, then 2 + 1 records
      },
      o);
}

TEST_F(WriterTest, StopCommitsWhatIsPending) {
  LogOptions o;
  o.flush_interval = 1h;  // only stop() seals
  run_part<LogWriter>(
      [&](PartEnv& env, LogWriter& w) -> awaitable<void> {
        w.start();
        TopicId id = co_await env.add_topic("t", 2);
        const PartitionKey k0 = pkey(id, 0), k1 = pkey(id, 1);
        auto ta = append_to(w, k0, small("a"));
        auto tb = append_to(w, k1, make_batch(2, "b"));
        EXPECT_TRUE(ta.ok() && tb.ok());
        if (!ta.ok() || !tb.ok()) co_return;
        auto da = ta->ticket.done;
        EXPECT_FALSE(co_await da->event.wait_until(in(30ms)));  // pending
        EXPECT_TRUE(commit_keys().empty());
        env.begin_stop();
        co_await w.stop();
        EXPECT_TRUE(da->event.is_set());
        EXPECT_TRUE(da->result.ok()) << da->result.to_string();
        EXPECT_EQ(env.partition(k0).hwm, 1);
        EXPECT_EQ(env.partition(k1).hwm, 2);
        EXPECT_EQ(commit_keys().size(), 1u);
        EXPECT_EQ(object_count(), 1u);
        auto late = append_to(w, k0, small("c"));
        EXPECT_EQ(late.code(), Errc::unavailable);
      },
      o);
}

awaitable<void> wait_space(LogWriter& w, bool& result, bool& finished) {
  result = co_await w.wait_buffer_space(Clock::now() + 10s);
  finished = true;
}

TEST_F(WriterTest, BackPressureHoldsAppendersUntilTheFlushCommits) {
  LogOptions o;
  o.flush_interval = 1h;
  o.max_buffered_bytes = 100;
  run_part<LogWriter>(
      [&](PartEnv& env, LogWriter& w) -> awaitable<void> {
        w.start();
        TopicId id = co_await env.add_topic("t", 1);
        const std::string a = make_batch(5, "a");
        auto ta = append_to(w, pkey(id, 0), a);
        EXPECT_TRUE(ta.ok());
        EXPECT_EQ(w.buffered_bytes(), a.size());
        EXPECT_FALSE(co_await w.wait_buffer_space(in(30ms)));
        bool result = false, finished = false;
        auto ex = co_await asio::this_coro::executor;
        asio::co_spawn(ex, wait_space(w, result, finished), asio::detached);
        auto has_finished = [&] { return finished; };
        EXPECT_FALSE(co_await poll_until(has_finished, in(30ms)));  // held while nothing commits
        env.begin_stop();
        co_await w.stop();  // commits the flush: the space comes back
        EXPECT_TRUE(co_await poll_until(has_finished, in(10s)));
        EXPECT_TRUE(result);
        EXPECT_EQ(w.buffered_bytes(), 0u);
      },
      o);
}

// After a failed flush and stop() the loop has no work left: the pending
// flush failed with the others must not leave its flush timer running (an
// hour here) behind.
TEST_F(WriterTest, StopAfterAFailedFlushLeavesNoTimerBehind) {
  std::unique_ptr<PartEnv> holder;  // outlives the loop's coroutines
  asio::io_context io;
  asio::thread_pool pool(2);
  holder = std::make_unique<PartEnv>(io, pool, probe_, hook_, sealing());
  PartEnv& env = *holder;
  LogWriter& w = env.make<LogWriter>();
  bool stopped = false;
  asio::co_spawn(
      io,
      [&]() -> awaitable<void> {
        Status s = co_await env.cluster.start();
        EXPECT_TRUE(s.ok()) << s.to_string();
        co_await env.own_streams();
        env.shared.started = true;
        w.start();
        TopicId id = co_await env.add_topic("t", 1);
        fobj_->fail_next(FaultObjectStore::Op::put, 1, Errc::io_error);
        auto ta = append_to(w, pkey(id, 0), big("a"));    // sealed: its PUT fails
        auto tb = append_to(w, pkey(id, 0), small("b"));  // pending, failed with it
        EXPECT_TRUE(ta.ok() && tb.ok());
        if (tb.ok()) {
          auto db = tb->ticket.done;
          s = co_await wait_done(*db, in(10s));
          EXPECT_EQ(s.code(), Errc::io_error) << s.to_string();
        }
        env.begin_stop();
        co_await w.stop();
        stopped = true;
      },
      asio::detached);
  io.run_for(std::chrono::seconds(10));
  EXPECT_TRUE(stopped);
  EXPECT_TRUE(io.stopped()) << "work left on the loop after stop()";
  io.stop();
  pool.join();
}

}  // namespace
}  // namespace ks::log
