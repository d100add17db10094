// Test helpers of the group coordinator tests: the coordinator on a real
// io_context, with the real cluster state and the embedded metadata store in
// a temporary directory (one broker, or two over one store).
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <mutex>
#include <set>

#include "cluster/cluster_state.h"
#include "cluster/keys.h"
#include "coordinator/coordinator.h"
#include "metastore/embedded_store.h"
#include "metastore/forwarding_store.h"

namespace ks::coordinator::coordtest {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

inline constexpr auto kWait = 10s;  // upper bound for anything a test waits for

// No partitions here: lag metrics are not what these tests look at.
inline std::int64_t no_partitions(const cluster::PartitionKey&) { return -1; }

// The metadata store, recording every transaction it is asked to run.
class RecordingStore : public metastore::ForwardingMetadataStore {
 public:
  explicit RecordingStore(std::shared_ptr<metastore::MetadataStore> inner)
      : ForwardingMetadataStore(std::move(inner)) {}
  Result<metastore::TxnResponse> txn(const metastore::TxnRequest& req) override {
    {
      std::lock_guard lock(mu_);
      txns_.push_back(req);
    }
    return inner_->txn(req);
  }

  std::vector<metastore::TxnRequest> take_txns() {
    std::lock_guard lock(mu_);
    return std::exchange(txns_, {});
  }

 private:
  std::mutex mu_;
  std::vector<metastore::TxnRequest> txns_;
};

// Takes stream `stream` over for `node`: writes its owner key; the fence of
// the new owner.
inline cluster::Fence take_stream(metastore::MetadataStore& m, std::int32_t stream, const std::string& node) {
  cluster::Fence f;
  f.key = cluster::keys::stream_owner(stream);
  auto r = m.put(f.key, node);
  EXPECT_TRUE(r.ok());
  f.revision = r.ok() ? *r : 0;
  return f;
}

// A group id whose slot is in [lo, hi).
inline std::string group_in(const GroupCoordinator& c, std::int32_t lo, std::int32_t hi,
                            const std::string& prefix) {
  for (int i = 0;; ++i) {
    std::string id = prefix + std::to_string(i);
    const std::int32_t s = c.slot_of(id);
    if (s >= lo && s < hi) return id;
  }
}

inline std::string subscription(const std::vector<std::string>& topics) {
  std::string b;
  auto u16 = [&](int v) {
    b.push_back(static_cast<char>((v >> 8) & 0xFF));
    b.push_back(static_cast<char>(v & 0xFF));
  };
  auto u32 = [&](std::int32_t v) {
    for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<char>((v >> s) & 0xFF));
  };
  u16(0);
  u32(static_cast<std::int32_t>(topics.size()));
  for (const auto& t : topics) {
    u16(static_cast<int>(t.size()));
    b += t;
  }
  u32(-1);
  return b;
}

inline JoinParams join_params(const std::string& group, const std::string& member,
                              std::vector<std::string> protocols = {"range"},
                              std::int32_t session_ms = 10000) {
  JoinParams p;
  p.group_id = group;
  p.member_id = member;
  p.protocol_type = "consumer";
  for (auto& name : protocols) p.protocols.push_back(Protocol{name, subscription({"t"})});
  p.session_timeout_ms = session_ms;
  p.rebalance_timeout_ms = 5000;
  p.client_id = "test";
  p.client_host = "/127.0.0.1";
  p.require_known_member_id = true;
  return p;
}

inline CommitParams commit_params(const std::string& group, std::int32_t generation,
                                  const std::string& member, const std::string& topic,
                                  std::vector<std::int32_t> partitions, std::int64_t offset) {
  CommitParams p;
  p.group_id = group;
  p.generation = generation;
  p.member_id = member;
  for (auto part : partitions) p.partitions.push_back(CommitPartition{topic, part, offset, 1, "m"});
  return p;
}

// A group id whose slot is not `slot`.
inline std::string group_not_in(const GroupCoordinator& c, std::int32_t slot, const std::string& prefix) {
  for (int i = 0;; ++i) {
    std::string id = prefix + std::to_string(i);
    if (c.slot_of(id) != slot) return id;
  }
}

// The committed offset of one partition; -2 when the fetch failed.
inline std::int64_t committed(const GroupCoordinator& c, const std::string& group, const std::string& topic,
                              std::int32_t partition) {
  TopicPartitions tp;
  tp.emplace_back(topic, std::vector<std::int32_t>(1, partition));
  FetchResult f = c.fetch(group, tp);
  if (f.error != ErrorCode::kNone) return -2;
  return f.topics.at(0).partitions.at(0).offset;
}

inline SyncParams leader_sync(const std::string& group, std::int32_t generation, const std::string& member,
                              const std::string& assignment) {
  SyncParams p;
  p.group_id = group;
  p.generation = generation;
  p.member_id = member;
  p.assignments.emplace_back(member, assignment);
  return p;
}

class CoordinatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("ks-coord-test-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    open_stores();
    opt_.min_session_timeout = 10ms;
    opt_.initial_rebalance_delay = 0ms;
  }
  void TearDown() override { fs::remove_all(dir_); }

  void open_stores() {
    meta_.reset();
    meta_ = std::shared_ptr<metastore::MetadataStore>(
        metastore::EmbeddedMetadataStore::open(dir_ / "meta").value());
  }

  // Runs `body` on a fresh loop with a fresh log and coordinator (a broker
  // restart when called again).
  template <class Body>
  void run(Body body) {
    asio::io_context io;
    asio::thread_pool pool(2);
    cluster::ClusterState log(pool, meta_, cluster::ClusterOptions{});
    bool done = false;
    asio::co_spawn(
        io,
        [&]() -> awaitable<void> {
          Status s = co_await log.start();
          EXPECT_TRUE(s.ok()) << s.to_string();
          GroupCoordinator c(io, pool, meta_, log, no_partitions, opt_);
          s = co_await c.start();
          EXPECT_TRUE(s.ok()) << s.to_string();
          // One broker: every slot, fenced on the node's ownership key (as the broker does).
          cluster::Fence fence;
          fence.key = cluster::keys::owner(log.node_id());
          fence.revision = static_cast<std::int64_t>(log.broker_epoch());
          for (std::int32_t slot = 0; slot < log.streams() && s.ok(); ++slot) {
            s = co_await c.acquire_slot(slot, fence);
            EXPECT_TRUE(s.ok()) << s.to_string();
          }
          if (s.ok()) co_await body(c, log);
          co_await c.stop();
          done = true;
        },
        [](std::exception_ptr e) {
          if (e) std::rethrow_exception(e);
        });
    io.run();
    pool.join();
    ASSERT_TRUE(done);
  }

  // Two brokers (nodes 0 and 1) over one metadata store, on one loop, with
  // topic "t" (4 partitions); no slot acquired yet.
  template <class Body>
  void run_two(Body body) {
    asio::io_context io;
    asio::thread_pool pool(2);
    cluster::ClusterOptions oa;
    oa.node_id = 0;
    cluster::ClusterOptions ob;
    ob.node_id = 1;
    cluster::ClusterState ca(pool, meta_, oa);
    cluster::ClusterState cb(pool, meta_, ob);
    bool done = false;
    asio::co_spawn(
        io,
        [&]() -> awaitable<void> {
          Status s = co_await ca.start();
          EXPECT_TRUE(s.ok()) << s.to_string();
          // Topic "t" exists before B starts (cluster states do not watch topics yet).
          std::map<std::string, std::string> no_configs;
          auto t = co_await ca.create_topic("t", 4, no_configs);
          EXPECT_TRUE(t.ok());
          s = co_await cb.start();
          EXPECT_TRUE(s.ok()) << s.to_string();
          GroupCoordinator a(io, pool, meta_, ca, no_partitions, opt_);
          GroupCoordinator b(io, pool, meta_, cb, no_partitions, opt_);
          s = co_await a.start();
          EXPECT_TRUE(s.ok()) << s.to_string();
          s = co_await b.start();
          EXPECT_TRUE(s.ok()) << s.to_string();
          if (s.ok()) co_await body(a, b, ca, cb);
          co_await a.stop();
          co_await b.stop();
          done = true;
        },
        [](std::exception_ptr e) {
          if (e) std::rethrow_exception(e);
        });
    io.run();
    pool.join();
    ASSERT_TRUE(done);
  }

  // Acquires slots [lo, hi) for `node`, each fenced on its stream's owner key.
  awaitable<void> acquire(GroupCoordinator& c, std::int32_t lo, std::int32_t hi, std::string node) {
    for (std::int32_t slot = lo; slot < hi; ++slot) {
      cluster::Fence f = take_stream(*meta_, slot, node);
      Status s = co_await c.acquire_slot(slot, f);
      EXPECT_TRUE(s.ok()) << slot << ": " << s.to_string();
    }
  }

  fs::path dir_;
  Options opt_;
  std::shared_ptr<metastore::MetadataStore> meta_;
};

inline awaitable<bool> wait(Event& e) { co_return co_await e.wait_until(Clock::now() + kWait); }

inline awaitable<void> sleep_for(std::chrono::milliseconds d) {
  auto ex = co_await asio::this_coro::executor;
  asio::steady_timer t(ex, d);
  co_await t.async_wait(asio::use_awaitable);
}

// Joins as a new member the KIP-394 way; returns the wait of the second join.
inline std::shared_ptr<JoinWait> join_new(GroupCoordinator& c, JoinParams p, std::string& id) {
  auto first = c.join(p);
  EXPECT_TRUE(first->done.is_set());
  EXPECT_EQ(first->result.error, ErrorCode::kMemberIdRequired);
  id = first->result.member_id;
  p.member_id = id;
  return c.join(p);
}

}  // namespace ks::coordinator::coordtest
