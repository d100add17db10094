// Write path under injected faults: what a produce is told, rollback of the
// log end offset, commit order, fencing, checkpoints and recovery.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <random>
#include <unordered_map>

#include "log/checkpoint.h"
#include "log/log_test_util.h"

namespace ks::log {
namespace {

using logtest::append_batch;
using logtest::batch_content;
using logtest::contiguous;
using logtest::is_storage_error;
using logtest::make_batch;
using logtest::make_topic;
using logtest::pkey;
using logtest::poll_until;
using logtest::read_all;
using logtest::StoredBatch;
using logtest::wait_done;
using metastore::StoreMethod;
using objstore::FaultObjectStore;
using namespace std::chrono_literals;

Clock::time_point in(std::chrono::milliseconds d) { return Clock::now() + d; }

// Batches of 20 records (~300 bytes) seal a flush at once with this option;
// batches of 1 record (~75 bytes) stay pending until the flush timer.
constexpr std::size_t kSealBytes = 200;
std::string big(const std::string& prefix) { return make_batch(20, prefix); }
std::string small(const std::string& prefix) { return make_batch(1, prefix); }

// Every PUT strictly after the previous one, so a fail_next hits a known flush.
LogOptions sequential_puts(std::chrono::milliseconds flush_interval = 10ms) {
  LogOptions o;
  o.flush_bytes = kSealBytes;
  o.flush_interval = flush_interval;
  o.max_inflight_puts = 1;
  return o;
}

std::vector<std::string> contents(const std::vector<StoredBatch>& batches) {
  std::vector<std::string> out;
  for (const auto& b : batches) out.push_back(batch_content(b.bytes));
  return out;
}

// Expected contents of stored batches, in order (a plain function, so no
// braced temporaries appear in coroutine bodies).
template <class... S>
std::vector<std::string> want(const S&... batches) {
  return {batch_content(batches)...};
}

class LogFaultTest : public logtest::LogHarness {};

// Appends one batch and waits for its outcome (deadline 10 s).
awaitable<Status> produce(LogManager& log, const PartitionKey& key, const std::string& records,
                          std::int64_t& base) {
  auto t = append_batch(log, key, records);
  if (!t.ok()) co_return t.status();
  base = t->base_offset;
  auto done = t->done;
  Status s = co_await wait_done(*done, in(10s));
  co_return s;
}

TEST_F(LogFaultTest, FailedPutFailsThatAndEveryLaterFlushAndRollsBack) {
  TopicId id{};
  const std::string a = big("a"), b = big("b"), c = big("c"), d = small("d"), e = big("e"), f = big("f");
  run(
      [&](LogManager& log) -> awaitable<void> {
        id = co_await make_topic(log, "t", 2);
        const PartitionKey k0 = pkey(id, 0), k1 = pkey(id, 1);
        std::int64_t base = -1;
        Status s = co_await produce(log, k0, a, base);
        EXPECT_TRUE(s.ok()) << s.to_string();
        EXPECT_EQ(log.partition(k0)->hwm, 20);

        fobj_->fail_next(FaultObjectStore::Op::put, 1, Errc::io_error);
        auto tb = append_batch(log, k0, b);  // sealed: its PUT fails
        auto tc = append_batch(log, k1, c);  // sealed after it
        auto td = append_batch(log, k0, d);  // still pending
        EXPECT_TRUE(tb.ok() && tc.ok() && td.ok());
        if (!tb.ok() || !tc.ok() || !td.ok()) co_return;
        EXPECT_EQ(tb->base_offset, 20);
        EXPECT_EQ(tc->base_offset, 0);
        EXPECT_EQ(td->base_offset, 40);
        EXPECT_EQ(log.partition(k0)->leo, 41);
        auto db = tb->done, dc = tc->done, dd = td->done;
        Status sb = co_await wait_done(*db, in(10s));
        Status sc = co_await wait_done(*dc, in(10s));
        Status sd = co_await wait_done(*dd, in(10s));
        EXPECT_TRUE(is_storage_error(sb.code())) << sb.to_string();
        EXPECT_TRUE(is_storage_error(sc.code())) << sc.to_string();
        EXPECT_TRUE(is_storage_error(sd.code())) << sd.to_string();
        // Rolled back to the last commit.
        EXPECT_EQ(log.partition(k0)->leo, 20);
        EXPECT_EQ(log.partition(k0)->hwm, 20);
        EXPECT_EQ(log.partition(k1)->leo, 0);
        EXPECT_EQ(log.stats().flush_failures, 3u);

        // Appends work again and continue at the hwm.
        s = co_await produce(log, k0, e, base);
        EXPECT_TRUE(s.ok()) << s.to_string();
        EXPECT_EQ(base, 20);
        s = co_await produce(log, k1, f, base);
        EXPECT_TRUE(s.ok()) << s.to_string();
        EXPECT_EQ(base, 0);
        std::vector<StoredBatch> got;
        s = co_await read_all(log, k0, got);
        EXPECT_TRUE(s.ok()) << s.to_string();
        EXPECT_TRUE(contiguous(got, 40));
        EXPECT_EQ(contents(got), want(a, e));
      },
      sequential_puts(1h));

  open_stores();
  run([&](LogManager& log) -> awaitable<void> {
    const PartitionKey key_0 = pkey(id, 0);
    const PartitionKey key_1 = pkey(id, 1);
    std::vector<StoredBatch> got0, got1;
    Status s = co_await read_all(log, key_0, got0);
    EXPECT_TRUE(s.ok()) << s.to_string();
    s = co_await read_all(log, key_1, got1);
    EXPECT_TRUE(s.ok()) << s.to_string();
    EXPECT_TRUE(contiguous(got0, 40));
    EXPECT_EQ(contents(got0), want(a, e));
    EXPECT_EQ(contents(got1), want(f));
  });
}

// The object was stored but the PUT reported timeout: never committed, so
// the produce gets a storage error and the orphan object is never visible.
TEST_F(LogFaultTest, PutTimeoutAfterApplyIsAStorageErrorAndStaysInvisible) {
  TopicId id{};
  const std::string a = big("a"), b = big("b"), c = big("c");
  run(
      [&](LogManager& log) -> awaitable<void> {
        id = co_await make_topic(log, "t", 1);
        const PartitionKey k = pkey(id, 0);
        std::int64_t base = -1;
        Status s = co_await produce(log, k, a, base);
        EXPECT_TRUE(s.ok()) << s.to_string();
        const std::size_t objects = object_count();
        const std::size_t commits = commit_keys().size();
        fobj_->timeout_after_apply_next(1);
        s = co_await produce(log, k, b, base);
        EXPECT_TRUE(is_storage_error(s.code())) << s.to_string();
        EXPECT_EQ(base, 20);
        EXPECT_EQ(object_count(), objects + 1);  // the orphan is there
        EXPECT_EQ(commit_keys().size(), commits);
        EXPECT_EQ(log.partition(k)->leo, 20);
        s = co_await produce(log, k, c, base);
        EXPECT_TRUE(s.ok()) << s.to_string();
        EXPECT_EQ(base, 20);
      },
      sequential_puts());

  open_stores();
  run([&](LogManager& log) -> awaitable<void> {
    const PartitionKey key_0 = pkey(id, 0);
    std::vector<StoredBatch> got;
    Status s = co_await read_all(log, key_0, got);
    EXPECT_TRUE(s.ok()) << s.to_string();
    EXPECT_TRUE(contiguous(got, 40));
    EXPECT_EQ(contents(got), want(a, c));
  });
}

TEST_F(LogFaultTest, ObjectStoreUnavailableFailsProducesUntilItIsBack) {
  run(
      [&](LogManager& log) -> awaitable<void> {
        TopicId id = co_await make_topic(log, "t", 1);
        const PartitionKey k = pkey(id, 0);
        fobj_->set_unavailable(true);
        std::int64_t base = -1;
        for (int i = 0; i < 3; ++i) {
          const std::string rec = big("x" + std::to_string(i));
          Status s = co_await produce(log, k, rec, base);
          EXPECT_TRUE(is_storage_error(s.code())) << s.to_string();
          EXPECT_EQ(base, 0);
        }
        fobj_->set_unavailable(false);
        const std::string y = big("y");
        Status s = co_await produce(log, k, y, base);
        EXPECT_TRUE(s.ok()) << s.to_string();
        EXPECT_EQ(base, 0);
        EXPECT_EQ(log.partition(k)->hwm, 20);
      },
      sequential_puts());
}

// Commit rejected with an error known not to have applied: storage error,
// rollback, and a later flush reuses the offsets.
TEST_F(LogFaultTest, CommitRejectedKnownNotAppliedIsAStorageError) {
  TopicId id{};
  const std::string a = big("a"), b = big("b"), c = big("c"), d = big("d");
  run(
      [&](LogManager& log) -> awaitable<void> {
        id = co_await make_topic(log, "t", 1);
        const PartitionKey k = pkey(id, 0);
        std::int64_t base = -1;
        Status s = co_await produce(log, k, a, base);
        EXPECT_TRUE(s.ok()) << s.to_string();
        const std::size_t commits = commit_keys().size();

        fmeta_->fail_next(StoreMethod::txn, 1, Errc::unavailable);
        s = co_await produce(log, k, b, base);
        EXPECT_EQ(s.code(), Errc::unavailable) << s.to_string();
        EXPECT_EQ(base, 20);
        EXPECT_EQ(log.partition(k)->leo, 20);

        fmeta_->fail_next(StoreMethod::txn, 1, Errc::io_error);
        s = co_await produce(log, k, c, base);
        EXPECT_EQ(s.code(), Errc::io_error) << s.to_string();
        EXPECT_EQ(base, 20);
        EXPECT_EQ(commit_keys().size(), commits);

        s = co_await produce(log, k, d, base);
        EXPECT_TRUE(s.ok()) << s.to_string();
        EXPECT_EQ(base, 20);
        EXPECT_EQ(commit_keys().size(), commits + 1);
      },
      sequential_puts());

  open_stores();
  run([&](LogManager& log) -> awaitable<void> {
    const PartitionKey key_0 = pkey(id, 0);
    std::vector<StoredBatch> got;
    Status s = co_await read_all(log, key_0, got);
    EXPECT_TRUE(s.ok()) << s.to_string();
    EXPECT_TRUE(contiguous(got, 40));
    EXPECT_EQ(contents(got), want(a, d));
  });
}

// The commit applied but reported timeout: the identical re-send finds our
// own record, so the produce is acknowledged and the record exists once.
TEST_F(LogFaultTest, CommitTimeoutAfterApplyIsResentAndAcknowledged) {
  TopicId id{};
  const std::string a = big("a"), b = big("b");
  run(
      [&](LogManager& log) -> awaitable<void> {
        id = co_await make_topic(log, "t", 1);
        const PartitionKey k = pkey(id, 0);
        const auto txns = fmeta_->calls(StoreMethod::txn);
        const std::size_t commits = commit_keys().size();
        fmeta_->timeout_after_apply_next(StoreMethod::txn, 1);
        std::int64_t base = -1;
        Status s = co_await produce(log, k, a, base);
        EXPECT_TRUE(s.ok()) << s.to_string();
        EXPECT_EQ(fmeta_->calls(StoreMethod::txn), txns + 2);  // the attempt and one re-send
        EXPECT_EQ(commit_keys().size(), commits + 1);
        EXPECT_EQ(log.partition(k)->hwm, 20);
        s = co_await produce(log, k, b, base);
        EXPECT_TRUE(s.ok()) << s.to_string();
        EXPECT_EQ(base, 20);
      },
      sequential_puts());

  open_stores();
  run([&](LogManager& log) -> awaitable<void> {
    const PartitionKey key_0 = pkey(id, 0);
    std::vector<StoredBatch> got;
    Status s = co_await read_all(log, key_0, got);
    EXPECT_TRUE(s.ok()) << s.to_string();
    EXPECT_EQ(contents(got), want(a, b));
  });
}

TEST_F(LogFaultTest, CommitTimeoutBeforeApplyIsResentUntilItApplies) {
  run(
      [&](LogManager& log) -> awaitable<void> {
        TopicId id = co_await make_topic(log, "t", 1);
        const PartitionKey k = pkey(id, 0);
        const auto txns = fmeta_->calls(StoreMethod::txn);
        fmeta_->timeout_before_apply_next(StoreMethod::txn, 3);
        std::int64_t base = -1;
        const std::string a = big("a");
        Status s = co_await produce(log, k, a, base);
        EXPECT_TRUE(s.ok()) << s.to_string();
        EXPECT_EQ(fmeta_->calls(StoreMethod::txn), txns + 4);
        EXPECT_EQ(log.partition(k)->hwm, 20);
        EXPECT_EQ(commit_keys().size(), 1u);
      },
      sequential_puts());
}

// Outcome unknown for a while: the producer's deadline passes (timeout), no
// later flush commits ahead of it, and once the store answers, the commit
// that had applied is found and everything becomes visible in order.
TEST_F(LogFaultTest, UnknownCommitOutcomeTimesOutWaiterThenResolvesInOrder) {
  TopicId id{};
  const std::string a = big("a"), b = big("b");
  std::atomic<bool> armed{false};
  run(
      [&](LogManager& log) -> awaitable<void> {
        id = co_await make_topic(log, "t", 2);
        const PartitionKey k0 = pkey(id, 0), k1 = pkey(id, 1);
        // First commit attempt applies and reports timeout; the store then
        // goes down (set before our re-send can run).
        auto fm = fmeta_;
        hook_->on_txn([fm, &armed](const Result<metastore::TxnResponse>&) {
          if (armed.exchange(false)) fm->set_unavailable(true);
        });
        armed = true;
        fmeta_->timeout_after_apply_next(StoreMethod::txn, 1);
        auto ta = append_batch(log, k0, a);
        EXPECT_TRUE(ta.ok());
        if (!ta.ok()) co_return;
        auto da = ta->done;
        Status s = co_await wait_done(*da, in(300ms));
        EXPECT_EQ(s.code(), Errc::timeout) << s.to_string();
        EXPECT_EQ(log.partition(k0)->hwm, 0);  // not visible while unresolved

        auto tb = append_batch(log, k1, b);
        EXPECT_TRUE(tb.ok());
        if (!tb.ok()) co_return;
        auto db = tb->done;
        s = co_await wait_done(*db, in(300ms));
        EXPECT_EQ(s.code(), Errc::timeout) << s.to_string();
        EXPECT_EQ(log.partition(k1)->hwm, 0);  // nothing commits ahead of the unresolved flush

        fmeta_->set_unavailable(false);
        s = co_await wait_done(*da, in(20s));
        EXPECT_TRUE(s.ok()) << s.to_string();
        s = co_await wait_done(*db, in(20s));
        EXPECT_TRUE(s.ok()) << s.to_string();
        EXPECT_EQ(log.partition(k0)->hwm, 20);
        EXPECT_EQ(log.partition(k1)->hwm, 20);
        EXPECT_EQ(commit_keys().size(), 2u);
      },
      sequential_puts());

  open_stores();
  run([&](LogManager& log) -> awaitable<void> {
    const PartitionKey key_0 = pkey(id, 0);
    const PartitionKey key_1 = pkey(id, 1);
    std::vector<StoredBatch> got0, got1;
    Status s = co_await read_all(log, key_0, got0);
    EXPECT_TRUE(s.ok()) << s.to_string();
    s = co_await read_all(log, key_1, got1);
    EXPECT_TRUE(s.ok()) << s.to_string();
    EXPECT_EQ(contents(got0), want(a));
    EXPECT_EQ(contents(got1), want(b));
  });
}

// The PUT of flush 1 completes after the PUT of flush 2: flush 2 must not
// commit (or be acknowledged) before flush 1.
TEST_F(LogFaultTest, CommitsApplyInFlushOrderWhenPutsFinishOutOfOrder) {
  LogOptions o;
  o.flush_bytes = kSealBytes;
  o.max_inflight_puts = 4;
  run(
      [&](LogManager& log) -> awaitable<void> {
        TopicId id = co_await make_topic(log, "t", 2);
        const PartitionKey k0 = pkey(id, 0), k1 = pkey(id, 1);
        probe_->hold_put(keys::object(0, log.broker_epoch(), 1));  // a fresh log's first flush is seq 1
        auto ta = append_batch(log, k0, big("a"));
        auto tb = append_batch(log, k1, big("b"));
        EXPECT_TRUE(ta.ok() && tb.ok());
        if (!ta.ok() || !tb.ok()) co_return;
        auto da = ta->done, db = tb->done;
        auto second_put_done = [&] { return probe_->puts_blocked() == 1 && probe_->puts_done() >= 1; };
        EXPECT_TRUE(co_await poll_until(second_put_done, in(10s)));
        Status s = co_await wait_done(*db, in(200ms));
        EXPECT_EQ(s.code(), Errc::timeout) << "flush 2 committed before flush 1: " << s.to_string();
        EXPECT_EQ(log.partition(k1)->hwm, 0);
        probe_->release_puts();
        s = co_await wait_done(*db, in(10s));
        EXPECT_TRUE(s.ok()) << s.to_string();
        EXPECT_TRUE(da->event.is_set());  // flush 1 completed first
        EXPECT_TRUE(da->result.ok()) << da->result.to_string();
        // Commit records were created in sequence order.
        auto c1 = meta_value(keys::commit(0, 1));
        auto c2 = meta_value(keys::commit(0, 2));
        if (c1 && c2) {
          EXPECT_LT(c1->create_revision, c2->create_revision);
        } else {
          ADD_FAILURE() << "commit records 1 and 2 missing";
        }
      },
      o);
}

// Another process took the ownership key: the flush fails with fenced, later
// appends are refused, and a new owner recovers only what was committed.
TEST_F(LogFaultTest, OwnershipTakenOverFencesAndStopsAppends) {
  TopicId id{};
  const std::string a = big("a");
  run(
      [&](LogManager& log) -> awaitable<void> {
        id = co_await make_topic(log, "t", 2);
        const PartitionKey k0 = pkey(id, 0), k1 = pkey(id, 1);
        std::int64_t base = -1;
        Status s = co_await produce(log, k0, a, base);
        EXPECT_TRUE(s.ok()) << s.to_string();
        auto p = fmeta_->inner()->put(keys::owner(0), "{\"v\":1,\"node\":0,\"started_ms\":1}");
        EXPECT_TRUE(p.ok());
        auto tb = append_batch(log, k0, big("b"));  // sealed; its commit is fenced
        auto tc = append_batch(log, k1, big("c"));  // sealed after it
        EXPECT_TRUE(tb.ok() && tc.ok());
        if (!tb.ok() || !tc.ok()) co_return;
        auto db = tb->done, dc = tc->done;
        s = co_await wait_done(*db, in(10s));
        EXPECT_EQ(s.code(), Errc::fenced) << s.to_string();
        s = co_await wait_done(*dc, in(10s));
        EXPECT_EQ(s.code(), Errc::fenced) << s.to_string();
        EXPECT_TRUE(log.fenced());
        auto td = append_batch(log, k0, big("d"));
        EXPECT_EQ(td.code(), Errc::fenced);
        EXPECT_EQ(log.partition(k0)->hwm, 20);
      },
      sequential_puts());

  open_stores();
  run([&](LogManager& log) -> awaitable<void> {
    const PartitionKey key_0 = pkey(id, 0);
    const PartitionKey key_1 = pkey(id, 1);
    std::vector<StoredBatch> got0;
    Status s = co_await read_all(log, key_0, got0);
    EXPECT_TRUE(s.ok()) << s.to_string();
    EXPECT_EQ(contents(got0), want(a));
    EXPECT_EQ(log.partition(key_1)->hwm, 0);
  });
}

// Same with a real second LogManager starting for the same node id.
TEST_F(LogFaultTest, SecondOwnerFencesFirstAndContinuesFromItsCommits) {
  TopicId id{};
  const std::string a = big("a"), c = big("c");
  run(
      [&](LogManager& log) -> awaitable<void> {
        id = co_await make_topic(log, "t", 1);
        const PartitionKey k = pkey(id, 0);
        std::int64_t base = -1;
        Status s = co_await produce(log, k, a, base);
        EXPECT_TRUE(s.ok()) << s.to_string();

        LogManager& next = another_log(sequential_puts());
        s = co_await next.start();
        EXPECT_TRUE(s.ok()) << s.to_string();
        EXPECT_GT(next.broker_epoch(), log.broker_epoch());
        EXPECT_EQ(next.partition(k)->hwm, 20);

        const std::string b = big("b");
        s = co_await produce(log, k, b, base);
        EXPECT_EQ(s.code(), Errc::fenced) << s.to_string();
        EXPECT_TRUE(log.fenced());

        s = co_await produce(next, k, c, base);
        EXPECT_TRUE(s.ok()) << s.to_string();
        EXPECT_EQ(base, 20);
        std::vector<StoredBatch> got;
        s = co_await read_all(next, k, got);
        EXPECT_TRUE(s.ok()) << s.to_string();
        EXPECT_EQ(contents(got), want(a, c));
        co_await next.stop();
      },
      sequential_puts());

  open_stores();
  run([&](LogManager& log) -> awaitable<void> {
    const PartitionKey key_0 = pkey(id, 0);
    std::vector<StoredBatch> got;
    Status s = co_await read_all(log, key_0, got);
    EXPECT_TRUE(s.ok()) << s.to_string();
    EXPECT_TRUE(contiguous(got, 40));
    EXPECT_EQ(contents(got), want(a, c));
  });
}

// A process dies with a pending flush and a flush whose object is stored but
// whose commit is unresolved: recovery sees exactly the committed data.
TEST_F(LogFaultTest, RecoveryAfterCrashSeesOnlyCommittedData) {
  TopicId id{};
  const std::string a = big("a"), e = big("e");
  run(
      [&](LogManager& log) -> awaitable<void> {
        id = co_await make_topic(log, "t", 2);
        const PartitionKey k0 = pkey(id, 0), k1 = pkey(id, 1);
        std::int64_t base = -1;
        Status s = co_await produce(log, k0, a, base);
        EXPECT_TRUE(s.ok()) << s.to_string();
        const std::size_t objects = object_count();
        const auto txns = fmeta_->calls(StoreMethod::txn);
        fmeta_->fail_next(StoreMethod::txn, 1'000'000, Errc::timeout);  // unresolved, never applied
        auto tb = append_batch(log, k0, big("b"));                      // sealed: object PUT, commit unknown
        auto tc = append_batch(log, k1, small("c"));                    // pending
        EXPECT_TRUE(tb.ok() && tc.ok());
        auto stored = [&] { return object_count() == objects + 1 && fmeta_->calls(StoreMethod::txn) > txns; };
        EXPECT_TRUE(co_await poll_until(stored, in(10s)));
        EXPECT_EQ(log.partition(k0)->hwm, 20);
      },
      sequential_puts(1h), End::crash);

  open_stores();
  run(
      [&](LogManager& log) -> awaitable<void> {
        const PartitionKey k0 = pkey(id, 0), k1 = pkey(id, 1);
        EXPECT_EQ(log.partition(k0)->hwm, 20);
        EXPECT_EQ(log.partition(k0)->leo, 20);
        EXPECT_EQ(log.partition(k1)->hwm, 0);
        std::int64_t base = -1;
        Status s = co_await produce(log, k0, e, base);
        EXPECT_TRUE(s.ok()) << s.to_string();
        EXPECT_EQ(base, 20);
      },
      sequential_puts());

  open_stores();
  run([&](LogManager& log) -> awaitable<void> {
    const PartitionKey key_0 = pkey(id, 0);
    std::vector<StoredBatch> got;
    Status s = co_await read_all(log, key_0, got);
    EXPECT_TRUE(s.ok()) << s.to_string();
    EXPECT_TRUE(contiguous(got, 40));
    EXPECT_EQ(contents(got), want(a, e));
  });
}

// checkpoint_max_commits=2: checkpoints delete the commit records they cover;
// recovery from checkpoint + remaining records, then from a checkpoint alone.
TEST_F(LogFaultTest, CheckpointsDeleteCoveredCommitsAndRecoveryStillWorks) {
  LogOptions o;
  o.flush_bytes = kSealBytes;
  o.checkpoint_max_commits = 2;
  TopicId id{};
  std::vector<std::string> expected;
  run(
      [&](LogManager& log) -> awaitable<void> {
        id = co_await make_topic(log, "t", 1);
        const PartitionKey k = pkey(id, 0);
        std::int64_t base = -1;
        for (int i = 0; i < 7; ++i) {
          std::string rec = big("a" + std::to_string(i));
          Status s = co_await produce(log, k, rec, base);
          EXPECT_TRUE(s.ok()) << s.to_string();
          expected.push_back(batch_content(rec));
        }
        auto checkpointed = [&] { return log.stats().checkpoints >= 1 && commit_keys().size() < 7; };
        EXPECT_TRUE(co_await poll_until(checkpointed, in(10s)));
        // Every remaining commit record is newer than the checkpoint.
        const cluster::TopicInfo* topic = log.topic("t");
        const std::int32_t stream = topic ? log.cluster().stream_of(*topic, 0) : 0;
        auto ptr = meta_value(keys::stream_checkpoint(stream));
        EXPECT_TRUE(ptr.has_value());
        if (ptr) {
          auto cp = decode_checkpoint_pointer(ptr->value);
          EXPECT_TRUE(cp.ok());
          if (cp.ok()) {
            EXPECT_GE(cp->covers_seq, 2u);
            for (const auto& key : commit_keys()) EXPECT_GT(key, keys::commit(0, cp->covers_seq));
          }
        }
      },
      o, End::crash);  // no final checkpoint: recovery needs checkpoint + records

  open_stores();
  run(
      [&](LogManager& log) -> awaitable<void> {
        const PartitionKey k = pkey(id, 0);
        EXPECT_EQ(log.partition(k)->hwm, 140);
        std::vector<StoredBatch> got;
        Status s = co_await read_all(log, k, got);
        EXPECT_TRUE(s.ok()) << s.to_string();
        EXPECT_TRUE(contiguous(got, 140));
        EXPECT_EQ(contents(got), expected);
        std::int64_t base = -1;
        for (int i = 0; i < 3; ++i) {
          std::string rec = big("b" + std::to_string(i));
          s = co_await produce(log, k, rec, base);
          EXPECT_TRUE(s.ok()) << s.to_string();
          EXPECT_EQ(base, 140 + 20 * i);
          expected.push_back(batch_content(rec));
        }
      },
      o);
  // The final checkpoint at stop covers every commit record.
  EXPECT_TRUE(commit_keys().empty()) << commit_keys().size() << " commit records left";

  open_stores();
  run([&](LogManager& log) -> awaitable<void> {
    const PartitionKey k = pkey(id, 0);
    std::vector<StoredBatch> got;
    Status s = co_await read_all(log, k, got);
    EXPECT_TRUE(s.ok()) << s.to_string();
    EXPECT_TRUE(contiguous(got, 200));
    EXPECT_EQ(contents(got), expected);
  });
}

// All partitions appended within one flush interval share ONE object and ONE
// commit transaction.
TEST_F(LogFaultTest, OneObjectAndOneCommitPerFlushForFiftyPartitions) {
  constexpr int kPartitions = 50;
  LogOptions o;
  o.flush_interval = 50ms;
  TopicId id{};
  run(
      [&](LogManager& log) -> awaitable<void> {
        id = co_await make_topic(log, "wide", kPartitions);
        const auto puts = fobj_->calls(FaultObjectStore::Op::put);
        const auto txns = fmeta_->calls(StoreMethod::txn);
        const std::size_t objects = object_count();
        const std::size_t commits = commit_keys().size();
        std::vector<std::shared_ptr<LogManager::Completion>> done;
        // No co_await in this loop: every append lands in the same flush.
        for (int p = 0; p < kPartitions; ++p) {
          auto t = append_batch(log, pkey(id, p), make_batch(1 + p % 3, "p" + std::to_string(p) + "-"));
          EXPECT_TRUE(t.ok());
          if (t.ok()) done.push_back(t->done);
        }
        for (auto& d : done) {
          Status s = co_await wait_done(*d, in(10s));
          EXPECT_TRUE(s.ok()) << s.to_string();
        }
        EXPECT_EQ(fobj_->calls(FaultObjectStore::Op::put), puts + 1);
        EXPECT_EQ(fmeta_->calls(StoreMethod::txn), txns + 1);
        EXPECT_EQ(object_count(), objects + 1);
        EXPECT_EQ(commit_keys().size(), commits + 1);
        EXPECT_EQ(log.stats().flushes, 1u);
        for (int p = 0; p < kPartitions; ++p) EXPECT_EQ(log.partition(pkey(id, p))->hwm, 1 + p % 3);
      },
      o);

  open_stores();
  run([&](LogManager& log) -> awaitable<void> {
    for (int p = 0; p < kPartitions; ++p) {
      std::vector<StoredBatch> got;
      const PartitionKey key_p = pkey(id, p);
      Status s = co_await read_all(log, key_p, got);
      EXPECT_TRUE(s.ok()) << s.to_string();
      EXPECT_TRUE(contiguous(got, 1 + p % 3)) << "partition " << p;
    }
  });
}

awaitable<void> stop_and_flag(LogManager& log, bool& stopped) {
  co_await log.stop();
  stopped = true;
}

// stop() gives up re-sending a commit whose outcome stays unknown after a
// bounded time (kStopCommitTimeout): a broker whose metadata store hangs still
// exits on SIGTERM, and the waiters hear "outcome unknown".
TEST_F(LogFaultTest, StopReturnsWhileACommitOutcomeStaysUnknown) {
  TopicId id{};
  run(
      [&](LogManager& log) -> awaitable<void> {
        id = co_await make_topic(log, "t", 1);
        const PartitionKey k = pkey(id, 0);
        fmeta_->fail_next(StoreMethod::txn, 1'000'000, Errc::timeout);
        auto t = append_batch(log, k, big("a"));
        EXPECT_TRUE(t.ok());
        if (!t.ok()) co_return;
        auto d = t->done;
        const auto txns = fmeta_->calls(StoreMethod::txn);
        auto attempted = [&] { return fmeta_->calls(StoreMethod::txn) > txns; };
        EXPECT_TRUE(co_await poll_until(attempted, in(10s)));
        bool stopped = false;
        auto ex = co_await asio::this_coro::executor;
        asio::co_spawn(ex, stop_and_flag(log, stopped), asio::detached);
        auto is_stopped = [&] { return stopped; };
        bool ok = co_await poll_until(is_stopped, in(5s));
        EXPECT_TRUE(ok) << "stop() still re-sending an unresolved commit after 5 s";
        if (!ok) {
          fmeta_->clear_faults();  // let it finish
          co_await poll_until(is_stopped, in(30s));
        }
        EXPECT_TRUE(d->event.is_set());
        EXPECT_FALSE(d->result.ok());
      },
      sequential_puts(), End::crash);
}

// After stop() the loop has no work left. Regressions this caught: stop() not
// cancelling the flush timer of the flush it sealed, and a flush sealed before
// its (posted) timer coroutine started, which then waited a whole
// flush_interval.
TEST_F(LogFaultTest, StopLeavesNoTimerBehind) {
  asio::io_context io;
  asio::thread_pool pool(2);
  LogOptions o;
  o.flush_interval = std::chrono::hours(1);
  LogManager log(io, pool, probe_, hook_, o);
  bool stopped = false;
  asio::co_spawn(
      io,
      [&]() -> awaitable<void> {
        Status s = co_await log.start();
        EXPECT_TRUE(s.ok()) << s.to_string();
        TopicId id = co_await make_topic(log, "t", 1);
        auto t = append_batch(log, pkey(id, 0), small("a"));
        EXPECT_TRUE(t.ok());
        co_await log.stop();
        if (t.ok()) {
          EXPECT_TRUE(t->done->event.is_set() && t->done->result.ok());
        }
        stopped = true;
      },
      asio::detached);
  io.run_for(std::chrono::seconds(10));
  EXPECT_TRUE(stopped);
  EXPECT_TRUE(io.stopped()) << "work left on the loop after stop()";
  io.stop();
  pool.join();
}

// ---- many producers under random faults ----

constexpr int kChaosPartitions = 4;
constexpr int kChaosWorkers = 8;
constexpr int kChaosAppends = 40;

struct ChaosOp {
  PartitionKey key;
  std::int64_t base = -1;
  std::string content;
  Errc append_code = Errc::ok;  // append() refused
  Errc waited = Errc::ok;       // what the producer's wait returned
  std::shared_ptr<LogManager::Completion> done;
};

awaitable<void> chaos_worker(LogManager& log, const TopicId& id, int w, std::vector<ChaosOp>& ops,
                             int& running) {
  std::mt19937 rng(1000 + w);
  for (int i = 0; i < kChaosAppends; ++i) {
    ChaosOp op;
    op.key = pkey(id, static_cast<std::int32_t>(rng() % kChaosPartitions));
    std::string records =
        make_batch(1 + static_cast<int>(rng() % 3), "w" + std::to_string(w) + "-" + std::to_string(i) + "-");
    op.content = batch_content(records);
    auto t = append_batch(log, op.key, records);
    if (!t.ok()) {
      op.append_code = t.code();
      ops.push_back(op);
      continue;
    }
    op.base = t->base_offset;
    op.done = t->done;
    auto done = t->done;
    // Some producers give up early, so outcomes unknown to them occur too.
    const auto patience = rng() % 4 == 0 ? std::chrono::milliseconds(30) : std::chrono::milliseconds(2000);
    Status s = co_await wait_done(*done, Clock::now() + patience);
    op.waited = s.code();
    ops.push_back(op);
  }
  --running;
}

awaitable<void> chaos_injector(FaultObjectStore& fo, metastore::FaultMetadataStore& fm, const int& running,
                               std::uint64_t seed) {
  std::mt19937 rng(static_cast<std::mt19937::result_type>(seed));
  auto ex = co_await asio::this_coro::executor;
  asio::steady_timer t(ex);
  while (running > 0) {
    switch (rng() % 12) {
      case 0:
        fo.fail_next(FaultObjectStore::Op::put, 1, Errc::io_error);
        break;
      case 1:
        fo.timeout_after_apply_next(1);
        break;
      case 2:
        fm.fail_next(StoreMethod::txn, 1, Errc::unavailable);
        break;
      case 3:
        fm.timeout_after_apply_next(StoreMethod::txn, 1);
        break;
      case 4:
        fm.timeout_before_apply_next(StoreMethod::txn, 1 + static_cast<int>(rng() % 3));
        break;
      case 5:
        fo.set_unavailable(true);
        break;
      case 6:
        fo.set_latency(FaultObjectStore::Op::put, std::chrono::microseconds(rng() % 20'000));
        break;
      default:
        break;
    }
    // Pacing of the injector, not a wait for a condition. Faults every few
    // flushes: denser timeouts would keep every commit unresolved (re-sends
    // back off up to 2 s) until the injector stops.
    t.expires_after(std::chrono::milliseconds(10 + rng() % 30));
    boost::system::error_code ec;
    co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    fo.set_unavailable(false);
  }
}

// Checks the log against what the producers were told. After the drain every
// outcome is final: ok <=> present at its base offset.
void check_chaos(const std::vector<std::vector<ChaosOp>>& ops,
                 const std::map<std::int32_t, std::vector<StoredBatch>>& logs) {
  std::unordered_map<std::string, std::pair<std::int32_t, std::int64_t>>
      where;  // content -> (partition, base)
  for (const auto& [p, batches] : logs) {
    for (const auto& b : batches) {
      bool fresh = where.emplace(batch_content(b.bytes), std::make_pair(p, b.base)).second;
      EXPECT_TRUE(fresh) << "batch duplicated at partition " << p << " offset " << b.base;
    }
  }
  int acked = 0, failed = 0, unknown = 0;
  for (const auto& worker : ops) {
    for (const auto& op : worker) {
      auto it = where.find(op.content);
      const bool present = it != where.end();
      if (op.append_code != Errc::ok) {
        EXPECT_FALSE(present);
        continue;
      }
      const bool final_ok = op.done && op.done->event.is_set() && op.done->result.ok();
      if (op.waited == Errc::ok) {
        ++acked;
        EXPECT_TRUE(final_ok);
      } else if (op.waited == Errc::timeout) {
        ++unknown;
      } else {
        ++failed;
        EXPECT_TRUE(is_storage_error(op.waited)) << errc_name(op.waited);
      }
      EXPECT_TRUE(op.done && op.done->event.is_set()) << "outcome still open after the drain";
      if (final_ok) {
        EXPECT_TRUE(present) << "acknowledged batch missing (partition " << op.key.partition << " base "
                             << op.base << ")";
        if (present) {
          EXPECT_EQ(it->second.first, op.key.partition);
          EXPECT_EQ(it->second.second, op.base);
        }
      } else {
        EXPECT_FALSE(present) << "failed batch visible at partition " << op.key.partition << " base "
                              << op.base;
      }
    }
  }
  EXPECT_GT(acked, 0);
  EXPECT_GT(failed, 0) << "no fault hit a producer: the test lost its teeth";
  std::printf("chaos: %d acknowledged, %d failed, %d timed out\n", acked, failed, unknown);
}

TEST_F(LogFaultTest, ConcurrentProducersUnderRandomFaultsLoseAndDuplicateNothing) {
  LogOptions o;
  o.flush_interval = 5ms;
  o.flush_bytes = 1500;
  o.checkpoint_max_commits = 5;  // checkpoints under faults too
  TopicId id{};
  std::vector<std::vector<ChaosOp>> ops(kChaosWorkers);
  std::map<std::int32_t, std::vector<StoredBatch>> before;
  std::map<std::int32_t, std::int64_t> hwm;
  // Out here, not in the body's frame: the detached injector reads it after the body returned (it
  // wakes from its timer while the log stops), which AddressSanitizer reported as heap-use-after-free.
  int running = kChaosWorkers;
  run(
      [&](LogManager& log) -> awaitable<void> {
        id = co_await make_topic(log, "chaos", kChaosPartitions);
        auto ex = co_await asio::this_coro::executor;
        for (int w = 0; w < kChaosWorkers; ++w) {
          asio::co_spawn(ex, chaos_worker(log, id, w, ops[w], running), asio::detached);
        }
        asio::co_spawn(ex, chaos_injector(*fobj_, *fmeta_, running, 42), asio::detached);
        auto finished = [&] { return running == 0; };
        EXPECT_TRUE(co_await poll_until(finished, in(120s)));
        fobj_->clear_faults();
        fmeta_->clear_faults();
        // Drain: unresolved commits resolve, every outcome becomes final.
        auto drained = [&] {
          for (const auto& worker : ops) {
            for (const auto& op : worker) {
              if (op.done && !op.done->event.is_set()) return false;
            }
          }
          return true;
        };
        EXPECT_TRUE(co_await poll_until(drained, in(30s)));
        for (std::int32_t p = 0; p < kChaosPartitions; ++p) {
          const PartitionKey k = pkey(id, p);
          EXPECT_EQ(log.partition(k)->leo, log.partition(k)->hwm);
          hwm[p] = log.partition(k)->hwm;
          Status s = co_await read_all(log, k, before[p]);
          EXPECT_TRUE(s.ok()) << s.to_string();
          EXPECT_TRUE(contiguous(before[p], hwm[p])) << "partition " << p;
        }
        check_chaos(ops, before);
      },
      o);

  open_stores();
  run(
      [&](LogManager& log) -> awaitable<void> {
        std::map<std::int32_t, std::vector<StoredBatch>> after;
        for (std::int32_t p = 0; p < kChaosPartitions; ++p) {
          const PartitionKey k = pkey(id, p);
          EXPECT_EQ(log.partition(k)->hwm, hwm[p]);
          Status s = co_await read_all(log, k, after[p]);
          EXPECT_TRUE(s.ok()) << s.to_string();
          EXPECT_TRUE(contiguous(after[p], hwm[p])) << "partition " << p;
          EXPECT_EQ(contents(after[p]), contents(before[p])) << "partition " << p;
        }
        check_chaos(ops, after);
      },
      o);
}

}  // namespace
}  // namespace ks::log
