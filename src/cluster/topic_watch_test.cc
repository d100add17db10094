// Two brokers' ClusterStates on one embedded metadata store, both watching
// /ks/topics/: changes made through one reach the other's registry and
// listeners, own writes are not heard twice, a broken watch resumes, a watch
// behind a compaction reloads and converges. Node 0 uses the store directly,
// node 1 goes through the fault injector. No sleeps: tests wait for listener
// calls with a deadline.
#include <gtest/gtest.h>

#include "cluster/cluster_state.h"
#include "cluster/keys.h"
#include "metastore/fault_store.h"
#include "metastore/metastore_test_util.h"

namespace ks::cluster {
namespace {

using namespace std::chrono_literals;

struct Recorder final : TopicListener {
  std::vector<std::string> events;
  Notifier changed;

  void partitions_added(const TopicInfo& t, std::int32_t from, std::int32_t to) override {
    events.push_back(t.record.name + " +" + std::to_string(from) + ".." + std::to_string(to));
    changed.notify_all();
  }
  void topic_removed(const TopicInfo& t) override {
    events.push_back(t.record.name + " removed");
    changed.notify_all();
  }
  // True once at least n events were heard (false after 10 s).
  awaitable<bool> wait_events(std::size_t n) {
    const auto deadline = Clock::now() + 10s;
    while (events.size() < n && Clock::now() < deadline) co_await changed.wait_until(deadline);
    co_return events.size() >= n;
  }
};

struct Brokers {
  ClusterState& a;
  ClusterState& b;
  Recorder& ra;
  Recorder& rb;
};

class TopicWatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto emb = metastore::EmbeddedMetadataStore::open(dir_.path());
    ASSERT_TRUE(emb.ok()) << emb.status().to_string();
    fault_ = std::make_shared<metastore::FaultMetadataStore>(
        std::shared_ptr<metastore::MetadataStore>(std::move(emb).value()));
  }

  // Starts node 0 (on the store) and node 1 (through the fault injector),
  // both watching, and runs body(brokers) on their loop.
  template <class Body>
  void run(Body body) {
    Recorder ra, rb;
    asio::io_context io;
    asio::thread_pool pool(2);
    ClusterState a(pool, fault_->inner(), ClusterOptions{0});
    ClusterState b(pool, fault_, ClusterOptions{1});
    Brokers brokers{a, b, ra, rb};
    bool done = false;
    asio::co_spawn(
        io,
        [&]() -> awaitable<void> {
          Status sa = co_await a.start();
          Status sb = co_await b.start();
          EXPECT_TRUE(sa.ok()) << sa.to_string();
          EXPECT_TRUE(sb.ok()) << sb.to_string();
          if (sa.ok() && sb.ok()) {
            a.add_listener(&ra);
            b.add_listener(&rb);
            a.watch_topics(io);
            b.watch_topics(io);
            co_await body(brokers);
          }
          a.stop_watch();
          b.stop_watch();
          EXPECT_FALSE(a.watching());
          done = true;
        },
        [](std::exception_ptr e) {
          if (e) std::rethrow_exception(e);
        });
    io.run_for(60s);
    pool.join();
    EXPECT_TRUE(done);
  }

  std::int64_t store_revision() {
    metastore::RangeRequest rq;
    rq.key = keys::topics_prefix();
    rq.count_only = true;
    auto r = fault_->inner()->range(rq);
    EXPECT_TRUE(r.ok());
    return r.ok() ? r->revision : 0;
  }

  metastore::testing::TempDir dir_;
  std::shared_ptr<metastore::FaultMetadataStore> fault_;
};

// (Built outside coroutine bodies: g++ 12 mishandles initializer lists there.)
std::map<std::string, std::string> retention(const char* ms) { return {{"retention.ms", ms}}; }
const std::map<std::string, std::string> kNone;

TopicId id_of(const ClusterState& s, const std::string& name) {
  const TopicInfo* t = s.topic(name);
  return t == nullptr ? TopicId{} : t->record.id;
}

// name:id:partitions:retention of every topic, to compare two registries.
std::vector<std::string> registry(const ClusterState& s) {
  std::vector<std::string> out;
  for (const TopicInfo* t : s.topics()) {
    out.push_back(t->record.name + ":" + to_hex(t->record.id) + ":" + std::to_string(t->record.partitions) +
                  ":" + std::to_string(t->settings.retention_ms));
  }
  return out;
}

TEST_F(TopicWatchTest, ChangesThroughOneBrokerReachTheOtherOnce) {
  const auto r2000 = retention("2000");
  const std::vector<std::string> expected = {"orders +0..3", "orders +3..5", "marker +0..1", "orders removed",
                                             "orders +0..2", "from-b +0..1", "end +0..1"};
  run([&](Brokers& n) -> awaitable<void> {
    // Created on A: B installs it and hears of its partitions.
    auto created = co_await n.a.create_topic("orders", 3, kNone);
    EXPECT_TRUE(created.ok());
    EXPECT_TRUE(co_await n.rb.wait_events(1));
    const TopicId first = id_of(n.a, "orders");
    EXPECT_EQ(id_of(n.b, "orders"), first);
    // Grown on A.
    EXPECT_TRUE((co_await n.a.add_topic_partitions("orders", 5)).ok());
    EXPECT_TRUE(co_await n.rb.wait_events(2));
    EXPECT_NE(n.b.topic("orders"), nullptr);
    if (n.b.topic("orders") != nullptr) {
      EXPECT_EQ(n.b.topic("orders")->record.partitions, 5);
    }
    // Reconfigured on A (no listener call: a later topic tells B has caught up).
    EXPECT_TRUE((co_await n.a.set_topic_configs("orders", r2000)).ok());
    EXPECT_TRUE((co_await n.a.create_topic("marker", 1, kNone)).ok());
    EXPECT_TRUE(co_await n.rb.wait_events(3));
    if (n.b.topic("orders") != nullptr) {
      EXPECT_EQ(n.b.topic("orders")->settings.retention_ms, 2000);
      EXPECT_EQ(n.b.topic("orders")->record.configs, r2000);
    }
    // Deleted on A.
    EXPECT_TRUE((co_await n.a.delete_topic("orders")).ok());
    EXPECT_TRUE(co_await n.rb.wait_events(4));
    EXPECT_EQ(n.b.topic("orders"), nullptr);
    // Re-created with the same name: a new id.
    EXPECT_TRUE((co_await n.a.create_topic("orders", 2, kNone)).ok());
    EXPECT_TRUE(co_await n.rb.wait_events(5));
    EXPECT_NE(id_of(n.b, "orders"), first);
    EXPECT_EQ(id_of(n.b, "orders"), id_of(n.a, "orders"));
    // Created on B: once A hears of it, A's watch has passed all of A's own
    // writes; one more from A does the same for B.
    EXPECT_TRUE((co_await n.b.create_topic("from-b", 1, kNone)).ok());
    EXPECT_TRUE(co_await n.ra.wait_events(6));
    EXPECT_TRUE((co_await n.a.create_topic("end", 1, kNone)).ok());
    EXPECT_TRUE(co_await n.rb.wait_events(7));
    EXPECT_EQ(n.ra.events, expected);
    EXPECT_EQ(n.rb.events, expected);
    EXPECT_EQ(registry(n.a), registry(n.b));
    EXPECT_EQ(n.b.topic_reloads(), 0u);
  });
}

TEST_F(TopicWatchTest, ABrokenWatchResumesWhereItStopped) {
  const std::vector<std::string> expected = {"t1 +0..1", "t2 +0..2", "t3 +0..1", "t2 +2..4"};
  run([&](Brokers& n) -> awaitable<void> {
    EXPECT_TRUE((co_await n.a.create_topic("t1", 1, kNone)).ok());
    EXPECT_TRUE(co_await n.rb.wait_events(1));
    // The stream drops; changes made meanwhile arrive once it is back.
    fault_->break_watches();
    EXPECT_TRUE((co_await n.a.create_topic("t2", 2, kNone)).ok());
    EXPECT_TRUE(co_await n.rb.wait_events(2));
    // The store is unreachable for a while: B retries.
    fault_->set_unavailable(true);
    fault_->break_watches();
    EXPECT_TRUE((co_await n.a.create_topic("t3", 1, kNone)).ok());
    EXPECT_TRUE((co_await n.a.add_topic_partitions("t2", 4)).ok());
    fault_->set_unavailable(false);
    EXPECT_TRUE(co_await n.rb.wait_events(4));
    EXPECT_EQ(n.rb.events, expected);
    EXPECT_EQ(n.b.topic_reloads(), 0u);
  });
}

TEST_F(TopicWatchTest, AWatchBehindACompactionReloadsAndConverges) {
  const auto r5000 = retention("5000");
  const std::vector<std::string> before = {"gone +0..1", "grown +0..1", "renewed +0..1", "same +0..1"};
  // What the reload tells B, in key order, then the removals.
  const std::vector<std::string> after = {"gone +0..1",      "grown +0..1",   "renewed +0..1",
                                          "same +0..1",      "grown +1..3",   "new +0..2",
                                          "renewed removed", "renewed +0..1", "gone removed"};
  run([&](Brokers& n) -> awaitable<void> {
    EXPECT_TRUE((co_await n.a.create_topic("gone", 1, kNone)).ok());
    EXPECT_TRUE((co_await n.a.create_topic("grown", 1, kNone)).ok());
    EXPECT_TRUE((co_await n.a.create_topic("renewed", 1, kNone)).ok());
    EXPECT_TRUE((co_await n.a.create_topic("same", 1, kNone)).ok());
    EXPECT_TRUE(co_await n.rb.wait_events(4));
    EXPECT_EQ(n.rb.events, before);
    const TopicId old_renewed = id_of(n.b, "renewed");
    // B loses its watch and cannot reach the store while A changes every
    // kind of thing and the history is compacted past B's position.
    fault_->set_unavailable(true);
    fault_->break_watches();
    EXPECT_TRUE((co_await n.a.delete_topic("gone")).ok());
    EXPECT_TRUE((co_await n.a.add_topic_partitions("grown", 3)).ok());
    EXPECT_TRUE((co_await n.a.set_topic_configs("same", r5000)).ok());
    EXPECT_TRUE((co_await n.a.delete_topic("renewed")).ok());
    EXPECT_TRUE((co_await n.a.create_topic("renewed", 1, kNone)).ok());
    EXPECT_TRUE((co_await n.a.create_topic("new", 2, kNone)).ok());
    EXPECT_TRUE(fault_->inner()->compact(store_revision()).ok());
    fault_->set_unavailable(false);
    EXPECT_TRUE(co_await n.rb.wait_events(after.size()));
    EXPECT_EQ(n.rb.events, after);
    EXPECT_GE(n.b.topic_reloads(), 1u);
    EXPECT_NE(id_of(n.b, "renewed"), old_renewed);
    EXPECT_EQ(registry(n.a), registry(n.b));
    // And the watch goes on from the reload's revision.
    EXPECT_TRUE((co_await n.a.create_topic("later", 1, kNone)).ok());
    EXPECT_TRUE(co_await n.rb.wait_events(after.size() + 1));
    EXPECT_EQ(n.rb.events.back(), "later +0..1");
  });
}

TEST_F(TopicWatchTest, ACorruptRecordIsSkippedNotFatal) {
  run([&](Brokers& n) -> awaitable<void> {
    EXPECT_TRUE(fault_->inner()->put(keys::topic("bad"), "{not json").ok());
    EXPECT_TRUE((co_await n.a.create_topic("good", 1, kNone)).ok());
    EXPECT_TRUE(co_await n.rb.wait_events(1));
    EXPECT_EQ(n.rb.events.back(), "good +0..1");
    EXPECT_EQ(n.b.topic("bad"), nullptr);
    EXPECT_NE(n.b.topic("good"), nullptr);
  });
}

TEST_F(TopicWatchTest, StopAndDestroyWhileTheStoreIsUnreachable) {
  asio::io_context io;
  asio::thread_pool pool(1);
  auto s = std::make_unique<ClusterState>(pool, fault_, ClusterOptions{1});
  bool started = false;
  asio::co_spawn(
      io,
      [&]() -> awaitable<void> {
        started = (co_await s->start()).ok();
        if (!started) co_return;
        s->watch_topics(io);
        fault_->set_unavailable(true);
        fault_->break_watches();
        // Let the loop see the end of its watch and start backing off.
        for (int i = 0; i < 5; ++i) co_await asio::post(io, asio::use_awaitable);
        EXPECT_TRUE(s->watching());
        s.reset();  // stops the watch
      },
      [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
      });
  io.run_for(30s);
  pool.join();
  EXPECT_TRUE(started);
  EXPECT_EQ(s, nullptr);
}

}  // namespace
}  // namespace ks::cluster
