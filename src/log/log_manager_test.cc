// LogManager against the local object store and the embedded metadata store.
#include "log/log_manager.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "cluster/keys.h"
#include "metastore/embedded_store.h"
#include "objstore/local_store.h"

namespace ks::log {
namespace {

namespace fs = std::filesystem;

class LogManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("ks-log-test-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    open_stores();
  }
  void TearDown() override { fs::remove_all(dir_); }

  void open_stores() {
    objects_ =
        std::shared_ptr<objstore::ObjectStore>(objstore::LocalObjectStore::open(dir_ / "objects").value());
    meta_.reset();
    meta_ = std::shared_ptr<metastore::MetadataStore>(
        metastore::EmbeddedMetadataStore::open(dir_ / "meta").value());
  }

  // Runs `body` as a coroutine on a fresh loop with a fresh LogManager.
  template <class Body>
  void run(Body body, LogOptions opt = {}) {
    asio::io_context io;
    asio::thread_pool pool(2);
    LogManager log(io, pool, objects_, meta_, opt);
    bool done = false;
    asio::co_spawn(
        io,
        [&]() -> awaitable<void> {
          Status s = co_await log.start();
          EXPECT_TRUE(s.ok()) << s.to_string();
          if (s.ok()) co_await body(log);
          co_await log.stop();
          done = true;
        },
        [](std::exception_ptr e) {
          if (e) std::rethrow_exception(e);
        });
    io.run();
    pool.join();
    ASSERT_TRUE(done);
  }

  fs::path dir_;
  std::shared_ptr<objstore::ObjectStore> objects_;
  std::shared_ptr<metastore::MetadataStore> meta_;
};

std::string batch(int n, const std::string& prefix) {
  std::vector<protocol::TestRecord> recs;
  for (int i = 0; i < n; ++i) {
    protocol::TestRecord r;
    r.value = prefix + std::to_string(i);
    r.timestamp_delta = i;
    recs.push_back(r);
  }
  return protocol::build_batch(recs, 0, 1000);
}

awaitable<Status> append_one(LogManager& log, const PartitionKey& key, const std::string& records,
                             std::int64_t& base) {
  auto v = protocol::validate_record_set(records);
  auto& batches = std::get<std::vector<protocol::BatchInfo>>(v);
  auto t = log.append(key, records, batches);
  if (!t.ok()) co_return t.status();
  base = t->base_offset;
  LogManager::Ticket ticket = *t;
  if (!co_await ticket.done->event.wait_until(Clock::now() + std::chrono::seconds(10))) {
    co_return LogManager::timed_out();
  }
  co_return ticket.done->result;
}

TEST_F(LogManagerTest, AppendCommitReadAndRecover) {
  TopicId id{};
  run([&](LogManager& log) -> awaitable<void> {
    auto t = co_await log.create_topic("orders", 2, {});
    EXPECT_TRUE(t.ok());
    id = (*t)->record.id;
    PartitionKey k0{id, 0}, k1{id, 1};
    std::int64_t base = -1;
    Status s = co_await append_one(log, k0, batch(3, "a"), base);
    EXPECT_TRUE(s.ok()) << s.to_string();
    EXPECT_EQ(base, 0);
    s = co_await append_one(log, k0, batch(2, "b"), base);
    EXPECT_TRUE(s.ok()) << s.to_string();
    EXPECT_EQ(base, 3);
    s = co_await append_one(log, k1, batch(1, "c"), base);
    EXPECT_EQ(base, 0);
    EXPECT_EQ(log.partition(k0)->hwm, 5);
    auto r = co_await log.read(k0, 3, 1 << 20);
    EXPECT_TRUE(r.ok());
    auto batches = protocol::scan_batches(r->slices.at(0).data);
    EXPECT_EQ(batches.at(0).header.base_offset, 3);
  });
  // A new LogManager on the same stores recovers everything.
  open_stores();
  run([&](LogManager& log) -> awaitable<void> {
    PartitionKey k0{id, 0};
    EXPECT_EQ(log.partition(k0)->hwm, 5);
    auto r = co_await log.read(k0, 0, 1 << 20);
    EXPECT_TRUE(r.ok());
    std::size_t n = 0;
    for (auto& s : r->slices) n += protocol::scan_batches(s.data).size();
    EXPECT_EQ(n, 2u);
    co_return;
  });
}

awaitable<void> release_into(LogManager& log, std::int32_t stream, Status& out) {
  std::vector<std::int32_t> one;
  one.push_back(stream);
  out = co_await log.release_streams(one);
}

// A stream handed over: released by one broker (twice at once: the drain and the
// placement follower may both ask), taken by another with everything committed.
TEST_F(LogManagerTest, AReleasedStreamIsTakenOverWithItsData) {
  TopicId id{};
  std::int32_t stream = -1;
  std::int64_t hwm = -1;
  LogOptions first;
  first.node_id = 0;
  run(
      [&](LogManager& log) -> awaitable<void> {
        auto t = co_await log.create_topic("moving", 1, {});
        EXPECT_TRUE(t.ok());
        id = (*t)->record.id;
        stream = log.cluster().stream_of(**t, 0);
        std::int64_t base = -1;
        for (int i = 0; i < 3; ++i) {
          Status s = co_await append_one(log, PartitionKey{id, 0}, batch(4, "m"), base);
          EXPECT_TRUE(s.ok()) << s.to_string();
        }
        hwm = log.partition(PartitionKey{id, 0})->hwm;
        Status a, b;
        auto ex = co_await asio::this_coro::executor;
        asio::co_spawn(ex, release_into(log, stream, a), asio::detached);
        co_await release_into(log, stream, b);
        for (int i = 0; i < 100 && log.owns_stream(stream); ++i) {
          asio::steady_timer t(ex, std::chrono::milliseconds(10));
          co_await t.async_wait(asio::use_awaitable);
        }
        EXPECT_TRUE(a.ok()) << a.to_string();
        EXPECT_TRUE(b.ok()) << b.to_string();
        EXPECT_FALSE(log.owns_stream(stream));
        EXPECT_EQ(log.partition(PartitionKey{id, 0}), nullptr);  // served elsewhere now
      },
      first);
  ASSERT_EQ(hwm, 12);
  LogOptions second;
  second.node_id = 1;
  run(
      [&](LogManager& log) -> awaitable<void> {
        const PartitionState* p = log.partition(PartitionKey{id, 0});
        EXPECT_NE(p, nullptr);
        if (p == nullptr) co_return;
        EXPECT_EQ(p->hwm, hwm);
        EXPECT_GE(p->leader_epoch, 2);  // a newer term than the first owner's
        std::int64_t base = -1;
        Status s = co_await append_one(log, PartitionKey{id, 0}, batch(1, "n"), base);
        EXPECT_TRUE(s.ok()) << s.to_string();
        EXPECT_EQ(base, hwm);
      },
      second);
}

// A stream is taken only if its owner key is still what the caller decided
// on: a broker that took it meanwhile (not yet seen by the caller) is not
// fenced; the caller fails and decides again.
TEST_F(LogManagerTest, TakingAStreamFailsWhenItsOwnerKeyChangedSinceSeen) {
  run([&](LogManager& log) -> awaitable<void> {
    auto t = co_await log.create_topic("contested", 1, {});
    EXPECT_TRUE(t.ok());
    if (!t.ok()) co_return;
    const std::int32_t stream = log.cluster().stream_of(**t, 0);
    Status released;
    co_await release_into(log, stream, released);
    EXPECT_TRUE(released.ok()) << released.to_string();
    metastore::RangeRequest get_owner;
    get_owner.key = cluster::keys::stream_owner(stream);
    const std::string key = get_owner.key;
    auto seen = meta_->range(get_owner);
    EXPECT_TRUE(seen.ok() && seen->kvs.size() == 1u);
    if (!seen.ok() || seen->kvs.size() != 1u) co_return;
    const std::int64_t seen_revision = seen->kvs[0].mod_revision;
    // Another broker takes it: this one has not seen that yet.
    StreamOwnerRecord other;
    other.node = 7;
    other.leader_epoch = 5;
    auto written = meta_->put(key, encode_stream_owner(other));
    EXPECT_TRUE(written.ok());
    std::vector<LogManager::Grant> grants(1);
    grants[0].stream = stream;
    grants[0].leader_epoch = 5;
    grants[0].expect_owner_revision = seen_revision;
    Status st = co_await log.acquire_streams(grants);
    EXPECT_EQ(st.code(), Errc::already_exists) << st.to_string();
    EXPECT_FALSE(log.owns_stream(stream));
    auto after = meta_->range(get_owner);
    EXPECT_TRUE(after.ok() && after->kvs.size() == 1u);
    if (!after.ok() || after->kvs.size() != 1u) co_return;
    auto owner = decode_stream_owner(after->kvs[0].value);
    EXPECT_TRUE(owner.ok() && owner->node == 7);  // untouched
    // Decided again on what the key says now: taken.
    grants[0].expect_owner_revision = after->kvs[0].mod_revision;
    st = co_await log.acquire_streams(grants);
    EXPECT_TRUE(st.ok()) << st.to_string();
    EXPECT_TRUE(log.owns_stream(stream));
  });
}

}  // namespace
}  // namespace ks::log
