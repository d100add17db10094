// ClusterState over the embedded metadata store wrapped in the fault
// injector: ownership and the fencing compare, the topic registry and its
// listeners, dynamic configs, producer-id blocks, and bad records in the store.
#include "cluster/cluster_state.h"

#include <gtest/gtest.h>

#include <set>

#include "cluster/keys.h"
#include "common/metrics.h"
#include "metastore/fault_store.h"
#include "metastore/metastore_test_util.h"

namespace ks::cluster {
namespace {

using metastore::StoreMethod;
using namespace std::chrono_literals;

struct Recorder final : TopicListener {
  std::vector<std::string> events;
  void partitions_added(const TopicInfo& t, std::int32_t from, std::int32_t to) override {
    events.push_back(t.record.name + " +" + std::to_string(from) + ".." + std::to_string(to));
  }
  void topic_removed(const TopicInfo& t) override { events.push_back(t.record.name + " removed"); }
};

class ClusterStateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto emb = metastore::EmbeddedMetadataStore::open(dir_.path());
    ASSERT_TRUE(emb.ok()) << emb.status().to_string();
    fault_ = std::make_shared<metastore::FaultMetadataStore>(
        std::shared_ptr<metastore::MetadataStore>(std::move(emb).value()));
  }

  // Runs body(state) on a fresh loop once the state has started.
  template <class Body>
  void run(Body body, ClusterOptions opt = {}) {
    asio::io_context io;
    asio::thread_pool pool(2);
    ClusterState state(pool, fault_, opt);
    bool done = false;
    asio::co_spawn(
        io,
        [&]() -> awaitable<void> {
          Status s = co_await state.start();
          EXPECT_TRUE(s.ok()) << s.to_string();
          if (s.ok()) co_await body(state);
          done = true;
        },
        [](std::exception_ptr e) {
          if (e) std::rethrow_exception(e);
        });
    io.run_for(30s);
    pool.join();
    EXPECT_TRUE(done);
  }

  // A transaction fenced by `state` writing `key`: did it apply?
  bool fenced_write(ClusterState& state, const std::string& key) {
    metastore::TxnRequest t;
    t.compare.push_back(state.fence());
    t.success.push_back(metastore::Op::put(key, "x"));
    auto r = fault_->inner()->txn(t);
    EXPECT_TRUE(r.ok());
    return r.ok() && r->succeeded;
  }

  metastore::testing::TempDir dir_;
  std::shared_ptr<metastore::FaultMetadataStore> fault_;
};

TEST_F(ClusterStateTest, OwnershipGivesAnEpochAndANewerOwnerFencesTheOlder) {
  std::string cluster_id;
  run([&](ClusterState& a) -> awaitable<void> {
    EXPECT_GT(a.broker_epoch(), 0u);
    EXPECT_EQ(a.cluster_id().size(), 32u);
    cluster_id = a.cluster_id();
    EXPECT_TRUE(fenced_write(a, "/ks/test/a1"));
    // Another process of the same node id starts: a's fence no longer holds.
    asio::thread_pool pool(1);
    ClusterState b(pool, fault_, ClusterOptions{});
    EXPECT_TRUE((co_await b.start()).ok());
    EXPECT_GT(b.broker_epoch(), a.broker_epoch());
    EXPECT_EQ(b.cluster_id(), a.cluster_id());
    EXPECT_FALSE(fenced_write(a, "/ks/test/a2"));
    EXPECT_TRUE(fenced_write(b, "/ks/test/b1"));
    auto st = a.fenced_status(static_cast<std::int64_t>(b.broker_epoch()));
    EXPECT_EQ(st.code(), Errc::fenced);
    EXPECT_NE(st.message().find(std::to_string(b.broker_epoch())), std::string::npos);
    EXPECT_FALSE(a.fenced());
    auto& rejections = metrics::registry().counter("kafscale_fencing_rejections_total", "");
    const auto before = rejections.value();
    a.set_fenced(st);
    EXPECT_TRUE(a.fenced());
    EXPECT_EQ(rejections.value(), before + 1);  // /metrics counts every refused write
  });
  // The cluster id is created once.
  run([&](ClusterState& s) -> awaitable<void> {
    EXPECT_EQ(s.cluster_id(), cluster_id);
    co_return;
  });
}

TEST_F(ClusterStateTest, FenceComparesOnlyTheOwnerKeyOfThisNode) {
  run(
      [&](ClusterState& s) -> awaitable<void> {
        metastore::Compare c = s.fence();
        EXPECT_EQ(c.key, keys::owner(7));
        EXPECT_EQ(c.target, metastore::Compare::Target::mod_revision);
        EXPECT_EQ(c.result, metastore::Compare::Result::equal);
        EXPECT_EQ(c.number, static_cast<std::int64_t>(s.broker_epoch()));
        co_return;
      },
      ClusterOptions{7, 86'400'000ms});
}

// (Built outside coroutine bodies: g++ 12 mishandles initializer lists there.)
std::map<std::string, std::string> retention(const char* ms) { return {{"retention.ms", ms}}; }

TEST_F(ClusterStateTest, TopicsAreDurableAndListenersHearOfChanges) {
  TopicId id{};
  const std::vector<std::string> expected = {"orders +0..3", "orders +3..5", "gone +0..1", "gone removed"};
  const auto r1000 = retention("1000"), r2000 = retention("2000");
  run([&](ClusterState& s) -> awaitable<void> {
    Recorder rec;
    s.add_listener(&rec);
    auto t = co_await s.create_topic("orders", 3, r1000);
    EXPECT_TRUE(t.ok());
    if (t.ok()) {
      id = (*t)->record.id;
      EXPECT_EQ((*t)->settings.retention_ms, 1000);
    }
    auto again = co_await s.create_topic("orders", 1, {});
    EXPECT_EQ(again.code(), Errc::already_exists);
    EXPECT_TRUE((co_await s.add_topic_partitions("orders", 5)).ok());
    EXPECT_EQ((co_await s.add_topic_partitions("orders", 5)).code(), Errc::invalid_argument);
    EXPECT_TRUE((co_await s.set_topic_configs("orders", r2000)).ok());
    EXPECT_TRUE((co_await s.create_topic("gone", 1, {})).ok());
    EXPECT_TRUE((co_await s.delete_topic("gone")).ok());
    EXPECT_EQ((co_await s.delete_topic("gone")).code(), Errc::not_found);
    EXPECT_EQ(rec.events, expected);
    s.remove_listener(&rec);
  });
  // A restart loads what was made durable.
  run([&](ClusterState& s) -> awaitable<void> {
    const TopicInfo* t = s.topic("orders");
    EXPECT_NE(t, nullptr);
    if (t != nullptr) {
      EXPECT_EQ(t->record.id, id);
      EXPECT_EQ(t->record.partitions, 5);
      EXPECT_EQ(t->settings.retention_ms, 2000);
      EXPECT_EQ(s.topic_by_id(id), t);
    }
    EXPECT_EQ(s.topic("gone"), nullptr);
    EXPECT_EQ(s.topics().size(), 1u);
    co_return;
  });
}

TEST_F(ClusterStateTest, AFailedWriteLeavesTheRegistryUnchanged) {
  const std::vector<std::string> expected = {"t +0..1"};
  run([&](ClusterState& s) -> awaitable<void> {
    Recorder rec;
    s.add_listener(&rec);
    fault_->fail_next(StoreMethod::txn, 1, Errc::unavailable);
    auto t = co_await s.create_topic("t", 1, {});
    EXPECT_EQ(t.code(), Errc::unavailable);
    EXPECT_EQ(s.topic("t"), nullptr);
    EXPECT_TRUE((co_await s.create_topic("t", 1, {})).ok());
    fault_->fail_next(StoreMethod::txn, 1, Errc::unavailable);
    EXPECT_EQ((co_await s.delete_topic("t")).code(), Errc::unavailable);
    EXPECT_NE(s.topic("t"), nullptr);
    fault_->fail_next(StoreMethod::txn, 1, Errc::unavailable);
    EXPECT_EQ((co_await s.add_topic_partitions("t", 2)).code(), Errc::unavailable);
    EXPECT_EQ(s.topic("t")->record.partitions, 1);
    EXPECT_EQ(rec.events, expected);
    s.remove_listener(&rec);
  });
}

TEST_F(ClusterStateTest, DynamicConfigsPersistAndOverrideProducerExpiration) {
  const std::map<std::string, std::string> dynamic = {{"producer.id.expiration.ms", "1234"}}, none;
  run(
      [&](ClusterState& s) -> awaitable<void> {
        EXPECT_EQ(s.producer_expiration(), 5000ms);
        EXPECT_TRUE((co_await s.set_dynamic_broker_configs(dynamic)).ok());
        EXPECT_EQ(s.producer_expiration(), 1234ms);
      },
      ClusterOptions{0, 5000ms});
  run(
      [&](ClusterState& s) -> awaitable<void> {
        EXPECT_EQ(s.producer_expiration(), 1234ms);
        EXPECT_EQ(s.dynamic_broker_configs().at("producer.id.expiration.ms"), "1234");
        EXPECT_TRUE((co_await s.set_dynamic_broker_configs(none)).ok());
        EXPECT_EQ(s.producer_expiration(), 5000ms);
      },
      ClusterOptions{0, 5000ms});
}

TEST_F(ClusterStateTest, ProducerIdsAreNeverHandedOutTwiceAcrossBrokers) {
  run([&](ClusterState& a) -> awaitable<void> {
    asio::thread_pool pool(1);
    ClusterState b(pool, fault_, ClusterOptions{1, 86'400'000ms});
    EXPECT_TRUE((co_await b.start()).ok());
    std::set<std::int64_t> seen;
    for (int i = 0; i < 2500; ++i) {
      auto x = co_await (i % 2 == 0 ? a : b).allocate_producer_id();
      EXPECT_TRUE(x.ok());
      if (x.ok()) {
        EXPECT_TRUE(seen.insert(*x).second) << "producer id " << *x << " handed out twice";
      }
    }
    // A metadata failure while reserving a block is an error, not a reused id.
    asio::thread_pool pool2(1);
    ClusterState c(pool2, fault_, ClusterOptions{2, 86'400'000ms});
    EXPECT_TRUE((co_await c.start()).ok());
    fault_->fail_next(StoreMethod::range, 1, Errc::unavailable);
    EXPECT_EQ((co_await c.allocate_producer_id()).code(), Errc::unavailable);
    auto x = co_await c.allocate_producer_id();
    EXPECT_TRUE(x.ok());
    if (x.ok()) {
      EXPECT_TRUE(seen.insert(*x).second) << "producer id " << *x << " handed out twice";
    }
  });
}

// start() of a fresh state; whether it left the state started.
Status start_once(std::shared_ptr<metastore::MetadataStore> meta, bool& started) {
  asio::io_context io;
  asio::thread_pool pool(1);
  ClusterState s(pool, std::move(meta), ClusterOptions{});
  Status result(Errc::timeout, "start() did not finish");
  asio::co_spawn(
      io, [&]() -> awaitable<void> { result = co_await s.start(); }, asio::detached);
  io.run_for(10s);
  pool.join();
  started = s.started();
  return result;
}

TEST_F(ClusterStateTest, UnreadableRecordsFailStartWithCorruptNotACrash) {
  ASSERT_TRUE(fault_->inner()->put(keys::topic("bad"), "{not json").ok());
  bool started = false;
  Status result = start_once(fault_, started);
  EXPECT_EQ(result.code(), Errc::corrupt);
  EXPECT_NE(result.message().find(keys::topic("bad")), std::string::npos) << result.message();
}

TEST_F(ClusterStateTest, UnreachableStoreFailsStart) {
  fault_->set_unavailable(true);
  bool started = true;
  Status result = start_once(fault_, started);
  EXPECT_EQ(result.code(), Errc::unavailable) << result.to_string();
  EXPECT_FALSE(started);
}

}  // namespace
}  // namespace ks::cluster
