// LogLifecycle on its own, over a LogShared and the fault-injecting stores
// (no LogManager); a LogWriter over the same shared state commits the data.
// Recovery from checkpoint + commit records, checkpoints and the commit
// records they delete, DeleteRecords, retention, corrupt stored state, a
// rejected checkpoint, the orphan sweep.
#include <gtest/gtest.h>

#include "common/clock.h"
#include "log/checkpoint.h"
#include "log/log_test_util.h"

namespace ks::log {
namespace {

using logtest::make_batch;
using logtest::PartEnv;
using logtest::pkey;
using logtest::poll_until;
using logtest::write_flush;
using metastore::StoreMethod;
using namespace std::chrono_literals;

Clock::time_point in(std::chrono::milliseconds d) { return Clock::now() + d; }

class LifecycleTest : public logtest::LogHarness {
 protected:
  std::optional<CheckpointPointer> pointer() {
    auto kv = meta_value(keys::stream_checkpoint(0));
    if (!kv) return std::nullopt;
    auto p = decode_checkpoint_pointer(kv->value);
    EXPECT_TRUE(p.ok());
    if (!p.ok()) return std::nullopt;
    return *p;
  }
  bool object_exists(const std::string& key) { return fobj_->inner().get(key, std::nullopt).ok(); }
  void put_raw(const std::string& key) { EXPECT_TRUE(fobj_->inner().put(key, "x").ok()) << key; }
};

using Batches = std::vector<std::pair<PartitionKey, std::string>>;

std::int64_t start_of(const Result<std::int64_t>& r) { return r.ok() ? *r : -99; }

// Commits one flush: `n` records to each key (n[i] == 0: none).
awaitable<void> flush(LogWriter& w, const PartitionKey& k0, int n0, const PartitionKey& k1, int n1) {
  Batches b;
  if (n0 > 0) b.emplace_back(k0, make_batch(n0, "a"));
  if (n1 > 0) b.emplace_back(k1, make_batch(n1, "b"));
  Status s = co_await write_flush(w, b);
  EXPECT_TRUE(s.ok()) << s.to_string();
}

TEST_F(LifecycleTest, RecoverRebuildsStateFromTheCheckpointAndLaterCommitRecords) {
  TopicId id{};
  std::uint64_t first_epoch = 0;
  run_part<LogLifecycle>([&](PartEnv& env, LogLifecycle& lc) -> awaitable<void> {
    LogWriter& w = env.make<LogWriter>();
    w.start();
    id = co_await env.add_topic("t", 2);
    first_epoch = env.shared.epoch();
    const PartitionKey k0 = pkey(id, 0), k1 = pkey(id, 1);
    co_await flush(w, k0, 5, k1, 3);
    co_await flush(w, k0, 5, k1, 0);
    EXPECT_EQ(start_of(lc.delete_records(k0, 3)), 3);
    Status s = co_await lc.persist();  // checkpoint covering commits 1-2
    EXPECT_TRUE(s.ok()) << s.to_string();
    EXPECT_TRUE(commit_keys().empty());
    co_await flush(w, k0, 4, k1, 2);  // commit record 3, after the checkpoint
    EXPECT_EQ(commit_keys().size(), 1u);
  });  // a crash: no final checkpoint
  auto restart = [&](std::int32_t leader_epoch, std::int64_t hwm0) {
    open_stores();
    run_part<LogLifecycle>([&](PartEnv& env, LogLifecycle& lc) -> awaitable<void> {
      env.load_partitions();
      Status s = co_await env.recover(lc);
      EXPECT_TRUE(s.ok()) << s.to_string();
      const PartitionKey k0 = pkey(id, 0), k1 = pkey(id, 1);
      const PartitionState& p0 = env.partition(k0);
      EXPECT_EQ(p0.hwm, hwm0);
      EXPECT_EQ(p0.leo, hwm0);
      EXPECT_EQ(p0.log_start, 3);
      EXPECT_EQ(p0.leader_epoch, leader_epoch);  // a new term per recovery
      EXPECT_EQ(p0.epochs.size(), static_cast<std::size_t>(leader_epoch) + 1);
      EXPECT_EQ(p0.epochs.back().epoch, leader_epoch);
      EXPECT_EQ(p0.epochs.back().start_offset, hwm0);
      EXPECT_EQ(p0.index.size(), hwm0 == 14 ? 3u : 4u);
      EXPECT_EQ(p0.index.front().base_offset, 0);  // log start 3 is inside it
      EXPECT_EQ(p0.index[2].object->key, keys::object(0, first_epoch, 3));
      EXPECT_EQ(env.partition(k1).hwm, 5);
      EXPECT_EQ(env.partition(k1).log_start, 0);
      // Taking the stream checkpointed every partition in its new term before
      // the first append, so each restart starts a newer one.
      EXPECT_EQ(env.partition(k1).leader_epoch, leader_epoch);
      // The first restart's taking of the stream checkpointed commit 3.
      EXPECT_EQ(env.shared.position.checkpoint_covers, hwm0 == 14 ? 2u : 3u);
      EXPECT_EQ(env.shared.position.last_committed, hwm0 == 14 ? 3u : 4u);
      EXPECT_EQ(env.shared.position.next_seq, hwm0 == 14 ? 4u : 5u);
      EXPECT_EQ(env.shared.position.since_checkpoint, hwm0 == 14 ? 1u : 2u);
      if (hwm0 != 14) co_return;
      // Appends continue at the hwm, in the new leader epoch.
      LogWriter& w = env.make<LogWriter>();
      w.start();
      co_await flush(w, k0, 1, k1, 0);
      EXPECT_EQ(p0.hwm, 15);
      EXPECT_EQ(p0.index.back().leader_epoch, 1);
      EXPECT_EQ(p0.index.back().object->key, keys::object(0, env.shared.epoch(), 4));
    });
  };
  restart(1, 14);
  restart(2, 15);
}

awaitable<void> persist_into(LogLifecycle& lc, Status& result, bool& finished) {
  result = co_await lc.persist();
  finished = true;
}

TEST_F(LifecycleTest, CheckpointDeletesExactlyTheCommitRecordsItCovers) {
  TopicId id{};
  run_part<LogLifecycle>([&](PartEnv& env, LogLifecycle& lc) -> awaitable<void> {
    LogWriter& w = env.make<LogWriter>();
    w.start();
    id = co_await env.add_topic("t", 1);
    const PartitionKey k = pkey(id, 0);
    for (int i = 0; i < 3; ++i) co_await flush(w, k, 5, k, 0);
    EXPECT_EQ(commit_keys().size(), 3u);
    EXPECT_EQ(start_of(lc.delete_records(k, 1)), 1);
    // Commit 4 lands while the checkpoint object (covering 1-3) is PUT.
    const std::string cp = keys::stream_checkpoint_object(0, 0, env.shared.epoch(), 3);
    probe_->hold_put(cp);
    bool finished = false;
    Status result;
    auto ex = co_await asio::this_coro::executor;
    asio::co_spawn(ex, persist_into(lc, result, finished), asio::detached);
    auto held = [&] { return probe_->puts_blocked() == 1; };
    EXPECT_TRUE(co_await poll_until(held, in(10s)));
    co_await flush(w, k, 5, k, 0);
    const auto txns = fmeta_->calls(StoreMethod::txn);
    probe_->release_puts();
    auto done = [&] { return finished; };
    EXPECT_TRUE(co_await poll_until(done, in(10s)));
    EXPECT_TRUE(result.ok()) << result.to_string();
    EXPECT_EQ(fmeta_->calls(StoreMethod::txn), txns + 1);  // pointer + range delete: one transaction
    const auto left = commit_keys();
    EXPECT_EQ(left.size(), 1u);
    if (!left.empty()) {
      EXPECT_EQ(left[0], keys::commit(0, 4));
    }
    auto ptr = pointer();
    EXPECT_TRUE(ptr.has_value());
    if (ptr) {
      EXPECT_EQ(ptr->object, cp);
      EXPECT_EQ(ptr->covers_seq, 3u);
    }
    auto bytes = fobj_->inner().get(cp, std::nullopt);
    auto c = bytes.ok() ? decode_checkpoint(*bytes) : Result<Checkpoint>(bytes.status());
    EXPECT_TRUE(c.ok()) << c.status().to_string();
    if (c.ok() && c->partitions.size() == 1) {
      EXPECT_EQ(c->covers_seq, 3u);
      EXPECT_EQ(c->partitions[0].hwm, 15);  // the state when the checkpoint began
      EXPECT_EQ(c->partitions[0].log_start, 1);
    }
    EXPECT_EQ(env.shared.position.checkpoint_covers, 3u);
    EXPECT_EQ(env.shared.position.since_checkpoint, 1u);
    EXPECT_EQ(env.shared.stats.checkpoints, 1u);
  });
  open_stores();
  run_part<LogLifecycle>([&](PartEnv& env, LogLifecycle& lc) -> awaitable<void> {
    env.load_partitions();
    Status s = co_await env.recover(lc);
    EXPECT_TRUE(s.ok()) << s.to_string();
    EXPECT_EQ(env.partition(pkey(id, 0)).hwm, 20);
    EXPECT_EQ(env.partition(pkey(id, 0)).log_start, 1);
  });
}

TEST_F(LifecycleTest, DeleteRecordsMovesTheLogStartAndTheObjectGoesAfterTheNextCheckpoint) {
  run_part<LogLifecycle>([&](PartEnv& env, LogLifecycle& lc) -> awaitable<void> {
    LogWriter& w = env.make<LogWriter>();
    w.start();
    TopicId id = co_await env.add_topic("t", 2);
    const PartitionKey k0 = pkey(id, 0), k1 = pkey(id, 1);
    co_await flush(w, k0, 5, k1, 5);  // object 1, shared with k1
    co_await flush(w, k0, 5, k1, 0);  // object 2
    co_await flush(w, k0, 5, k1, 0);  // object 3
    const std::string o1 = keys::object(0, env.shared.epoch(), 1),
                      o2 = keys::object(0, env.shared.epoch(), 2),
                      o3 = keys::object(0, env.shared.epoch(), 3);
    EXPECT_EQ(start_of(lc.delete_records(k0, 7)), 7);
    EXPECT_EQ(env.shared.table.live_objects(), 3u);  // k1 still refers to object 1
    EXPECT_EQ(start_of(lc.delete_records(k0, 12)), 12);
    EXPECT_EQ(env.partition(k0).index.size(), 1u);
    EXPECT_EQ(env.shared.table.live_objects(), 2u);
    EXPECT_TRUE(object_exists(o2)) << "deleted before a checkpoint stopped referring to it";
    const auto gen = env.shared.state_gen;
    EXPECT_EQ(start_of(lc.delete_records(k0, 3)), 12);  // never backwards
    EXPECT_EQ(env.shared.state_gen, gen);
    EXPECT_EQ(lc.delete_records(k0, 16).code(), Errc::invalid_argument);
    EXPECT_EQ(lc.delete_records(pkey(id, 2), 0).code(), Errc::not_found);

    Status s = co_await lc.persist();
    EXPECT_TRUE(s.ok()) << s.to_string();
    EXPECT_FALSE(object_exists(o2));
    EXPECT_TRUE(object_exists(o1));
    EXPECT_TRUE(object_exists(o3));
    EXPECT_EQ(env.shared.stats.objects_deleted, 1u);

    EXPECT_EQ(start_of(lc.delete_records(k0, -1)), 15);  // -1: the hwm
    EXPECT_TRUE(env.partition(k0).index.empty());
    s = co_await lc.persist();
    EXPECT_TRUE(s.ok()) << s.to_string();
    EXPECT_FALSE(object_exists(o3));
    EXPECT_TRUE(object_exists(o1));
    EXPECT_EQ(object_count("objects/"), 1u);
    EXPECT_EQ(object_count("streams/"), 1u);  // the superseded one is gone too
    s = co_await lc.persist();                // nothing new: no checkpoint
    EXPECT_TRUE(s.ok());
    EXPECT_EQ(env.shared.stats.checkpoints, 2u);
  });
}

TEST_F(LifecycleTest, RetentionMovesTheLogStartPastExpiredAndExcessRanges) {
  const std::int64_t chunk = static_cast<std::int64_t>(make_batch(5, "a").size());
  run_part<LogLifecycle>([&](PartEnv& env, LogLifecycle& lc) -> awaitable<void> {
    LogWriter& w = env.make<LogWriter>();
    w.start();
    TopicId by_time = co_await env.add_topic("by-time", 1, 60'000);
    TopicId by_size = co_await env.add_topic("by-size", 1, -1, chunk + 1);
    TopicId keep = co_await env.add_topic("keep", 1);
    const PartitionKey t = pkey(by_time, 0), b = pkey(by_size, 0), k = pkey(keep, 0);
    for (int i = 0; i < 2; ++i) {  // 1970 timestamps: expired
      co_await flush(w, t, 5, b, 5);
      co_await flush(w, k, 5, k, 0);
    }
    Batches fresh;
    fresh.emplace_back(t, make_batch(5, "now", wall_clock_ms()));
    fresh.emplace_back(b, make_batch(5, "b"));
    Status s = co_await write_flush(w, fresh);
    EXPECT_TRUE(s.ok()) << s.to_string();
    const auto gen = env.shared.state_gen;
    EXPECT_EQ(lc.enforce_retention(), 2u);
    EXPECT_EQ(env.partition(t).log_start, 10);  // the expired ranges, not the fresh one
    EXPECT_EQ(env.partition(t).index.size(), 1u);
    EXPECT_EQ(env.partition(b).log_start, 5);  // keeps retention.bytes (two chunks)
    EXPECT_EQ(env.partition(k).log_start, 0);
    EXPECT_EQ(env.shared.state_gen, gen + 1);
    EXPECT_EQ(lc.enforce_retention(), 0u);
  });
}

TEST_F(LifecycleTest, CorruptStoredStateMakesRecoverReturnCorrupt) {
  TopicId id{};
  std::string cp_key, object_key;
  run_part<LogLifecycle>([&](PartEnv& env, LogLifecycle& lc) -> awaitable<void> {
    LogWriter& w = env.make<LogWriter>();
    w.start();
    id = co_await env.add_topic("t", 2);
    const PartitionKey k0 = pkey(id, 0), k1 = pkey(id, 1);
    co_await flush(w, k0, 5, k1, 5);
    co_await flush(w, k0, 5, k1, 0);
    EXPECT_EQ(start_of(lc.delete_records(k0, 2)), 2);
    Status s = co_await lc.persist();
    EXPECT_TRUE(s.ok()) << s.to_string();
    co_await flush(w, k0, 5, k1, 0);
    object_key = keys::object(0, env.shared.epoch(), 3);
  });
  auto ptr = pointer();
  ASSERT_TRUE(ptr.has_value());
  cp_key = ptr->object;
  auto good_r = fobj_->inner().get(cp_key, std::nullopt);
  auto object_r = fobj_->inner().get(object_key, std::nullopt);
  auto pointer_kv = meta_value(keys::stream_checkpoint(0));
  auto commit_kv = meta_value(keys::commit(0, 3));
  ASSERT_TRUE(good_r.ok() && object_r.ok() && pointer_kv && commit_kv);
  const std::string good = *good_r, object = *object_r;
  const std::string pointer_value = pointer_kv->value, commit_value = commit_kv->value;

  auto recover = [&](const std::string& what, Errc want) {
    SCOPED_TRACE(what);
    open_stores();
    run_part<LogLifecycle>([&](PartEnv& env, LogLifecycle& lc) -> awaitable<void> {
      env.load_partitions();
      Status s = co_await env.recover(lc);
      EXPECT_EQ(s.code(), want) << s.to_string();
      if (s.ok()) {
        EXPECT_EQ(env.partition(pkey(id, 0)).hwm, 15);
        EXPECT_EQ(env.partition(pkey(id, 0)).log_start, 2);
      }
    });
    // Taking the stream over checkpoints it (a new pointer and object): back
    // to the stored state under test, for the next case to edit.
    ASSERT_TRUE(fmeta_->inner()->put(keys::stream_checkpoint(0), pointer_value).ok());
    ASSERT_TRUE(fmeta_->inner()->put(keys::commit(0, 3), commit_value).ok());
    ASSERT_TRUE(fobj_->inner().put(cp_key, good).ok());
  };
  auto with_checkpoint = [&](const std::string& bytes, const char* what) {
    ASSERT_TRUE(fobj_->inner().put(cp_key, bytes).ok());
    recover(what, Errc::corrupt);
  };
  // Valid checksums around inconsistent content: checked, not asserted on.
  auto edited = [&](auto edit) {
    Checkpoint c = decode_checkpoint(good).value();
    for (auto& p : c.partitions) {
      if (p.key.partition == 0) edit(p, c);
    }
    return encode_checkpoint(c);
  };
  std::string flipped = good;
  flipped[flipped.size() / 2] ^= 0x40;
  with_checkpoint("not a checkpoint at all", "garbage");
  with_checkpoint(flipped, "a flipped byte");
  with_checkpoint(good.substr(0, good.size() - 9), "truncated");
  with_checkpoint(edited([](PartitionSnapshot& p, Checkpoint&) { p.log_start = p.hwm + 1; }),
                  "log start > hwm");
  with_checkpoint(edited([](PartitionSnapshot& p, Checkpoint&) { p.index[1].base_offset += 1; }),
                  "ranges gap");
  with_checkpoint(edited([](PartitionSnapshot& p, Checkpoint&) { p.hwm += 3; }), "index ends below hwm");
  with_checkpoint(edited([](PartitionSnapshot& p, Checkpoint&) { p.log_start = p.index[0].last_offset + 1; }),
                  "a range wholly below the log start");
  with_checkpoint(edited([](PartitionSnapshot&, Checkpoint& c) { c.producer_state = "junk producer state"; }),
                  "producer state");
  with_checkpoint(edited([](PartitionSnapshot& p, Checkpoint&) {
                    p.hwm -= 5;
                    p.index.pop_back();
                  }),
                  "commit record does not continue the log");
  ASSERT_TRUE(fobj_->inner().put(cp_key, good).ok());
  recover("intact", Errc::ok);

  ASSERT_TRUE(fmeta_->inner()->put(keys::stream_checkpoint(0), "{\"v\":1,").ok());
  recover("checkpoint pointer", Errc::corrupt);
  ASSERT_TRUE(fmeta_->inner()->put(keys::stream_checkpoint(0), pointer_value).ok());
  ASSERT_TRUE(fmeta_->inner()->put(keys::commit(0, 3), "{\"v\":1,\"seq\":\"x\"}").ok());
  recover("commit record", Errc::corrupt);
  ASSERT_TRUE(fmeta_->inner()->put(keys::commit(0, 3), commit_value).ok());
  auto rec = decode_commit(commit_value).value();
  std::string bad_footer = object;
  bad_footer[rec.footer.position + 8] ^= 0x01;
  ASSERT_TRUE(fobj_->inner().put(object_key, bad_footer).ok());
  recover("object footer", Errc::corrupt);
  ASSERT_TRUE(fobj_->inner().put(object_key, object).ok());
  recover("intact again", Errc::ok);
}

TEST_F(LifecycleTest, RejectedCheckpointReturnsAnErrorAndDeletesNothing) {
  TopicId id{};
  run_part<LogLifecycle>([&](PartEnv& env, LogLifecycle& lc) -> awaitable<void> {
    LogWriter& w = env.make<LogWriter>();
    w.start();
    id = co_await env.add_topic("t", 1);
    const PartitionKey k = pkey(id, 0);
    co_await flush(w, k, 5, k, 0);
    co_await flush(w, k, 5, k, 0);
    const std::string o1 = keys::object(0, env.shared.epoch(), 1);
    EXPECT_EQ(start_of(lc.delete_records(k, 5)), 5);  // object 1 is dead

    fmeta_->fail_next(StoreMethod::txn, 1, Errc::unavailable);
    Status s = co_await lc.persist();
    EXPECT_EQ(s.code(), Errc::unavailable) << s.to_string();
    EXPECT_TRUE(object_exists(o1)) << "commit record 1 still refers to it";
    EXPECT_FALSE(env.cluster.fenced());

    auto put = fmeta_->inner()->put(keys::owner(0), "{\"v\":1,\"node\":0,\"started_ms\":1}");
    EXPECT_TRUE(put.ok());
    s = co_await lc.persist();
    EXPECT_EQ(s.code(), Errc::fenced) << s.to_string();
    EXPECT_TRUE(object_exists(o1));
    EXPECT_TRUE(pointer().has_value() && pointer()->object.empty());  // as the stream was taken
    EXPECT_EQ(commit_keys().size(), 2u);
    EXPECT_EQ(env.shared.stats.checkpoints, 0u);
    EXPECT_EQ(env.shared.position.checkpoint_covers, 0u);
  });
  open_stores();
  run_part<LogLifecycle>([&](PartEnv& env, LogLifecycle& lc) -> awaitable<void> {
    env.load_partitions();
    Status s = co_await env.recover(lc);
    EXPECT_TRUE(s.ok()) << s.to_string();
    EXPECT_EQ(env.partition(pkey(id, 0)).hwm, 10);
    EXPECT_EQ(env.partition(pkey(id, 0)).log_start, 0);  // the delete never became durable
  });
}

// A checkpoint transaction's only compare is the fence: rejected means
// another process owns the node id, and the broker is fenced at once (as
// the writer and the group coordinator do), so appends stop before a commit
// has to find out.
TEST_F(LifecycleTest, RejectedCheckpointFencesTheBroker) {
  run_part<LogLifecycle>([&](PartEnv& env, LogLifecycle& lc) -> awaitable<void> {
    LogWriter& w = env.make<LogWriter>();
    w.start();
    TopicId id = co_await env.add_topic("t", 1);
    const PartitionKey k = pkey(id, 0);
    co_await flush(w, k, 5, k, 0);
    EXPECT_EQ(start_of(lc.delete_records(k, 2)), 2);
    auto put = fmeta_->inner()->put(keys::owner(0), "{\"v\":1,\"node\":0,\"started_ms\":1}");
    EXPECT_TRUE(put.ok());
    Status s = co_await lc.persist();
    EXPECT_EQ(s.code(), Errc::fenced) << s.to_string();
    EXPECT_TRUE(env.cluster.fenced());
    EXPECT_EQ(logtest::append_to(w, k, make_batch(1, "late")).code(), Errc::fenced);
    s = co_await lc.persist();
    EXPECT_EQ(s.code(), Errc::fenced) << s.to_string();
  });
}

TEST_F(LifecycleTest, CheckpointerSweepsOrphansAfterTheGracePeriodOnly) {
  LogOptions o;
  o.checkpoint_interval = 20ms;
  o.orphan_grace = 100ms;
  run_part<LogLifecycle>(
      [&](PartEnv& env, LogLifecycle& lc) -> awaitable<void> {
        LogWriter& w = env.make<LogWriter>();
        w.start();
        TopicId id = co_await env.add_topic("t", 1);
        const PartitionKey k = pkey(id, 0);
        co_await flush(w, k, 5, k, 0);
        const std::uint64_t epoch = env.shared.epoch();
        const std::string live = keys::object(0, epoch, 1);
        const std::string orphan = keys::object(0, epoch - 1, 7);  // an earlier process's failed flush
        const std::string stale =
            keys::stream_checkpoint_object(0, 0, epoch - 1, 3);    // a crash before its pointer
        const std::string in_flight = keys::object(0, epoch, 50);  // a flush not committed yet
        const std::string foreign = "objects/0/notes.txt";         // not a name we make
        const std::string other_node = keys::object(1, 1, 1);
        put_raw(orphan);
        put_raw(stale);
        put_raw(in_flight);
        put_raw(foreign);
        put_raw(other_node);
        const auto started = Clock::now();
        lc.start();
        // (The stats move on the loop once the deletes on the pool are done.)
        auto swept = [&] {
          return env.shared.stats.orphans_deleted >= 2 && !object_exists(orphan) && !object_exists(stale);
        };
        EXPECT_TRUE(co_await poll_until(swept, in(10s)));
        EXPECT_GE(Clock::now() - started, o.orphan_grace);
        EXPECT_EQ(env.shared.stats.orphans_deleted, 2u);
        EXPECT_TRUE(object_exists(live));
        EXPECT_TRUE(object_exists(in_flight));
        EXPECT_TRUE(object_exists(foreign));
        EXPECT_TRUE(object_exists(other_node));
        auto ptr = pointer();  // the checkpointer's own checkpoint is kept
        EXPECT_TRUE(ptr && object_exists(ptr->object));
        env.begin_stop();
        co_await w.stop();
        co_await lc.stop();
      },
      o);
}

}  // namespace
}  // namespace ks::log
