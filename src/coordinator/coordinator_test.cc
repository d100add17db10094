// The group coordinator on a real io_context, with the real cluster state and
// the embedded metadata store in a temporary directory.
#include "coordinator/coordinator.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <mutex>
#include <set>

#include "cluster/cluster_state.h"
#include "cluster/keys.h"
#include "metastore/embedded_store.h"

namespace ks::coordinator {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr auto kWait = 10s;  // upper bound for anything a test waits for

// No partitions here: lag metrics are not what these tests look at.
std::int64_t no_partitions(const cluster::PartitionKey&) { return -1; }

// The metadata store, recording every transaction it is asked to run.
class RecordingStore : public metastore::MetadataStore {
 public:
  explicit RecordingStore(std::shared_ptr<metastore::MetadataStore> inner) : inner_(std::move(inner)) {}
  Result<metastore::RangeResponse> range(const metastore::RangeRequest& req) override {
    return inner_->range(req);
  }
  Result<std::int64_t> put(const std::string& key, const std::string& value,
                           metastore::LeaseId lease) override {
    return inner_->put(key, value, lease);
  }
  Result<std::int64_t> delete_range(const std::string& key, const std::string& range_end) override {
    return inner_->delete_range(key, range_end);
  }
  Result<metastore::TxnResponse> txn(const metastore::TxnRequest& req) override {
    {
      std::lock_guard lock(mu_);
      txns_.push_back(req);
    }
    return inner_->txn(req);
  }
  Result<metastore::LeaseId> lease_grant(std::int64_t ttl) override { return inner_->lease_grant(ttl); }
  Status lease_keepalive(metastore::LeaseId id) override { return inner_->lease_keepalive(id); }
  Status lease_revoke(metastore::LeaseId id) override { return inner_->lease_revoke(id); }
  Result<std::unique_ptr<metastore::Watch>> watch(const std::string& key, const std::string& range_end,
                                                  std::int64_t start, metastore::WatchCallback cb) override {
    return inner_->watch(key, range_end, start, std::move(cb));
  }
  Status compact(std::int64_t revision) override { return inner_->compact(revision); }
  std::string describe() const override { return inner_->describe(); }

  std::vector<metastore::TxnRequest> take_txns() {
    std::lock_guard lock(mu_);
    return std::exchange(txns_, {});
  }

 private:
  std::shared_ptr<metastore::MetadataStore> inner_;
  std::mutex mu_;
  std::vector<metastore::TxnRequest> txns_;
};

// Takes stream `stream` over for `node`: writes its owner key; the fence of
// the new owner.
cluster::Fence take_stream(metastore::MetadataStore& m, std::int32_t stream, const std::string& node) {
  cluster::Fence f;
  f.key = cluster::keys::stream_owner(stream);
  auto r = m.put(f.key, node);
  EXPECT_TRUE(r.ok());
  f.revision = r.ok() ? *r : 0;
  return f;
}

// A group id whose slot is in [lo, hi).
std::string group_in(const GroupCoordinator& c, std::int32_t lo, std::int32_t hi, const std::string& prefix) {
  for (int i = 0;; ++i) {
    std::string id = prefix + std::to_string(i);
    const std::int32_t s = c.slot_of(id);
    if (s >= lo && s < hi) return id;
  }
}

std::string subscription(const std::vector<std::string>& topics) {
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

JoinParams join_params(const std::string& group, const std::string& member,
                       std::vector<std::string> protocols = {"range"}, std::int32_t session_ms = 10000) {
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

CommitParams commit_params(const std::string& group, std::int32_t generation, const std::string& member,
                           const std::string& topic, std::vector<std::int32_t> partitions,
                           std::int64_t offset) {
  CommitParams p;
  p.group_id = group;
  p.generation = generation;
  p.member_id = member;
  for (auto part : partitions) p.partitions.push_back(CommitPartition{topic, part, offset, 1, "m"});
  return p;
}

// A group id whose slot is not `slot`.
std::string group_not_in(const GroupCoordinator& c, std::int32_t slot, const std::string& prefix) {
  for (int i = 0;; ++i) {
    std::string id = prefix + std::to_string(i);
    if (c.slot_of(id) != slot) return id;
  }
}

// The committed offset of one partition; -2 when the fetch failed.
std::int64_t committed(const GroupCoordinator& c, const std::string& group, const std::string& topic,
                       std::int32_t partition) {
  TopicPartitions tp;
  tp.emplace_back(topic, std::vector<std::int32_t>(1, partition));
  FetchResult f = c.fetch(group, tp);
  if (f.error != ErrorCode::kNone) return -2;
  return f.topics.at(0).partitions.at(0).offset;
}

SyncParams leader_sync(const std::string& group, std::int32_t generation, const std::string& member,
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

awaitable<bool> wait(Event& e) { co_return co_await e.wait_until(Clock::now() + kWait); }

awaitable<void> sleep_for(std::chrono::milliseconds d) {
  auto ex = co_await asio::this_coro::executor;
  asio::steady_timer t(ex, d);
  co_await t.async_wait(asio::use_awaitable);
}

// Joins as a new member the KIP-394 way; returns the wait of the second join.
std::shared_ptr<JoinWait> join_new(GroupCoordinator& c, JoinParams p, std::string& id) {
  auto first = c.join(p);
  EXPECT_TRUE(first->done.is_set());
  EXPECT_EQ(first->result.error, ErrorCode::kMemberIdRequired);
  id = first->result.member_id;
  p.member_id = id;
  return c.join(p);
}

TEST_F(CoordinatorTest, JoinSyncHeartbeatAndFencingErrors) {
  run([&](GroupCoordinator& c, cluster::ClusterState& log) -> awaitable<void> {
    auto t = co_await log.create_topic("t", 4, {});
    EXPECT_TRUE(t.ok());
    std::string id1, id2;
    auto j1 = join_new(c, join_params("g", ""), id1);
    EXPECT_TRUE(co_await wait(j1->done));
    EXPECT_EQ(j1->result.error, ErrorCode::kNone);
    EXPECT_EQ(j1->result.generation, 1);
    EXPECT_EQ(j1->result.leader, id1);
    EXPECT_EQ(j1->result.members.size(), 1u);

    // A second member: the group rebalances, the first must rejoin.
    auto j2 = join_new(c, join_params("g", ""), id2);
    EXPECT_FALSE(j2->done.is_set());
    EXPECT_EQ(c.heartbeat("g", 1, id1, std::nullopt), ErrorCode::kRebalanceInProgress);
    auto j1b = c.join(join_params("g", id1));
    EXPECT_TRUE(co_await wait(j1b->done));
    EXPECT_TRUE(co_await wait(j2->done));
    EXPECT_EQ(j1b->result.generation, 2);
    EXPECT_EQ(j2->result.generation, 2);
    EXPECT_EQ(j1b->result.protocol_name, std::optional<std::string>("range"));
    EXPECT_EQ(j1b->result.leader, id1);
    EXPECT_EQ(j1b->result.members.size(), 2u);  // the leader sees everyone
    EXPECT_TRUE(j2->result.members.empty());

    // The follower's sync waits for the leader's assignment.
    SyncParams s2{"g", 2, id2, std::nullopt, std::string("consumer"), std::string("range"), {}};
    auto w2 = c.sync(s2);
    EXPECT_FALSE(w2->done.is_set());
    SyncParams s1{"g", 2, id1, std::nullopt, std::nullopt, std::nullopt, {{id1, "A1"}, {id2, "A2"}}};
    auto w1 = c.sync(s1);
    EXPECT_TRUE(co_await wait(w1->done));
    EXPECT_TRUE(co_await wait(w2->done));
    EXPECT_EQ(w1->result.error, ErrorCode::kNone);
    EXPECT_EQ(w1->result.assignment, "A1");
    EXPECT_EQ(w2->result.assignment, "A2");
    EXPECT_EQ(c.describe("g").state, "Stable");

    EXPECT_EQ(c.heartbeat("g", 2, id2, std::nullopt), ErrorCode::kNone);
    EXPECT_EQ(c.heartbeat("g", 1, id2, std::nullopt), ErrorCode::kIllegalGeneration);
    EXPECT_EQ(c.heartbeat("g", 2, "nobody", std::nullopt), ErrorCode::kUnknownMemberId);
    EXPECT_EQ(c.heartbeat("nogroup", 2, id2, std::nullopt), ErrorCode::kUnknownMemberId);
    SyncParams bad{"g", 2, id2, std::nullopt, std::string("consumer"), std::string("roundrobin"), {}};
    EXPECT_EQ(c.sync(bad)->result.error, ErrorCode::kInconsistentGroupProtocol);

    auto ok = c.commit(commit_params("g", 2, id2, "t", {2, 3}, 10));
    EXPECT_TRUE(co_await wait(ok->done));
    EXPECT_EQ(ok->errors, (std::vector<ErrorCode>{ErrorCode::kNone, ErrorCode::kNone}));
    auto stale = c.commit(commit_params("g", 1, id2, "t", {2}, 11));
    EXPECT_EQ(stale->errors.at(0), ErrorCode::kIllegalGeneration);
    auto unknown = c.commit(commit_params("g", 2, "nobody", "t", {2}, 11));
    EXPECT_EQ(unknown->errors.at(0), ErrorCode::kUnknownMemberId);
    auto no_group = c.commit(commit_params("other", 2, id2, "t", {2}, 11));
    EXPECT_EQ(no_group->errors.at(0), ErrorCode::kIllegalGeneration);
    auto f = c.fetch("g", TopicPartitions{{"t", {2, 3, 0}}});
    EXPECT_EQ(f.topics.at(0).partitions.at(0).offset, 10);
    EXPECT_EQ(f.topics.at(0).partitions.at(0).leader_epoch, 1);
    EXPECT_EQ(f.topics.at(0).partitions.at(0).metadata, "m");
    EXPECT_EQ(f.topics.at(0).partitions.at(2).offset, -1);

    // A clean leave: the remaining member is told to rejoin and ends alone.
    auto l = c.leave("g", {LeaveMember{id2, std::nullopt}, LeaveMember{"nobody", std::nullopt}});
    EXPECT_EQ(l.members, (std::vector<ErrorCode>{ErrorCode::kNone, ErrorCode::kUnknownMemberId}));
    EXPECT_EQ(c.heartbeat("g", 2, id1, std::nullopt), ErrorCode::kRebalanceInProgress);
    auto j1c = c.join(join_params("g", id1));
    EXPECT_TRUE(co_await wait(j1c->done));
    EXPECT_EQ(j1c->result.generation, 3);
    EXPECT_EQ(j1c->result.members.size(), 1u);
  });
}

TEST_F(CoordinatorTest, SessionTimeoutRemovesSilentMember) {
  run([&](GroupCoordinator& c, cluster::ClusterState&) -> awaitable<void> {
    std::string id1, id2;
    auto j1 = join_new(c, join_params("g", "", {"range"}, 200), id1);
    EXPECT_TRUE(co_await wait(j1->done));
    auto j2 = join_new(c, join_params("g", "", {"range"}, 200), id2);
    auto j1b = c.join(join_params("g", id1, {"range"}, 200));
    EXPECT_TRUE(co_await wait(j2->done));
    EXPECT_TRUE(co_await wait(j1b->done));
    auto w1 =
        c.sync(SyncParams{"g", 2, id1, std::nullopt, std::nullopt, std::nullopt, {{id1, "a"}, {id2, "b"}}});
    EXPECT_TRUE(co_await wait(w1->done));
    // Only member 1 keeps heartbeating; member 2's session expires.
    ErrorCode e = ErrorCode::kNone;
    const auto deadline = Clock::now() + kWait;
    while (e == ErrorCode::kNone && Clock::now() < deadline) {
      co_await sleep_for(20ms);
      e = c.heartbeat("g", 2, id1, std::nullopt);
    }
    EXPECT_EQ(e, ErrorCode::kRebalanceInProgress);
    EXPECT_EQ(c.heartbeat("g", 2, id2, std::nullopt), ErrorCode::kUnknownMemberId);
    auto j = c.join(join_params("g", id1, {"range"}, 200));
    EXPECT_TRUE(co_await wait(j->done));
    EXPECT_EQ(j->result.generation, 3);
    EXPECT_EQ(j->result.members.size(), 1u);
  });
}

TEST_F(CoordinatorTest, ProtocolChosenByVoteAndInconsistentRejected) {
  opt_.initial_rebalance_delay = 100ms;
  run([&](GroupCoordinator& c, cluster::ClusterState&) -> awaitable<void> {
    auto p1 = join_params("g", "", {"range", "roundrobin"});
    auto p2 = join_params("g", "", {"roundrobin", "range"});
    auto p3 = join_params("g", "", {"roundrobin"});
    p1.require_known_member_id = p2.require_known_member_id = p3.require_known_member_id = false;
    auto a = c.join(p1);
    auto b = c.join(p2);
    auto d = c.join(p3);
    // Within the initial delay nobody is answered yet.
    EXPECT_FALSE(a->done.is_set());
    auto bad = join_params("g", "", {"sticky"});
    bad.require_known_member_id = false;
    EXPECT_EQ(c.join(bad)->result.error, ErrorCode::kInconsistentGroupProtocol);
    auto other_type = join_params("g", "", {"roundrobin"});
    other_type.protocol_type = "connect";
    EXPECT_EQ(c.join(other_type)->result.error, ErrorCode::kInconsistentGroupProtocol);
    EXPECT_TRUE(co_await wait(a->done));
    EXPECT_TRUE(co_await wait(b->done));
    EXPECT_TRUE(co_await wait(d->done));
    EXPECT_EQ(a->result.generation, 1);  // one rebalance for all three (initial delay)
    EXPECT_EQ(a->result.protocol_name, std::optional<std::string>("roundrobin"));
    EXPECT_EQ(d->result.protocol_name, std::optional<std::string>("roundrobin"));
    std::size_t leaders =
        (a->result.members.size() == 3) + (b->result.members.size() == 3) + (d->result.members.size() == 3);
    EXPECT_EQ(leaders, 1u);
    auto bad_timeout = join_params("g2", "", {"range"}, 1);
    EXPECT_EQ(c.join(bad_timeout)->result.error, ErrorCode::kInvalidSessionTimeout);
  });
}

TEST_F(CoordinatorTest, StaticMemberRejoinsWithoutRebalanceAndOldIdIsFenced) {
  run([&](GroupCoordinator& c, cluster::ClusterState&) -> awaitable<void> {
    auto p = join_params("g", "");
    p.instance_id = "worker-1";
    auto j = c.join(p);  // static members get their id at once
    EXPECT_TRUE(co_await wait(j->done));
    EXPECT_EQ(j->result.error, ErrorCode::kNone);
    const std::string old_id = j->result.member_id;
    auto s = c.sync(
        SyncParams{"g", 1, old_id, std::string("worker-1"), std::nullopt, std::nullopt, {{old_id, "A"}}});
    EXPECT_TRUE(co_await wait(s->done));
    // Restarted process: same instance id, no member id, same subscription.
    auto again = c.join(p);
    EXPECT_TRUE(again->done.is_set());
    EXPECT_EQ(again->result.error, ErrorCode::kNone);
    EXPECT_EQ(again->result.generation, 1);
    const std::string new_id = again->result.member_id;
    EXPECT_NE(new_id, old_id);
    EXPECT_EQ(c.describe("g").state, "Stable");
    auto s2 = c.sync(SyncParams{"g", 1, new_id, std::string("worker-1"), std::nullopt, std::nullopt, {}});
    EXPECT_TRUE(co_await wait(s2->done));
    EXPECT_EQ(s2->result.assignment, "A");
    EXPECT_EQ(c.heartbeat("g", 1, old_id, std::string("worker-1")), ErrorCode::kFencedInstanceId);
    EXPECT_EQ(c.heartbeat("g", 1, new_id, std::string("worker-1")), ErrorCode::kNone);
    auto l = c.leave("g", {LeaveMember{old_id, std::string("worker-1")}});
    EXPECT_EQ(l.members.at(0), ErrorCode::kFencedInstanceId);
  });
}

TEST_F(CoordinatorTest, OffsetsAndGroupSurviveRestart) {
  std::string member;
  run([&](GroupCoordinator& c, cluster::ClusterState& log) -> awaitable<void> {
    EXPECT_TRUE((co_await log.create_topic("big", 300, {})).ok());
    CommitParams p;
    p.group_id = "simple";
    for (int i = 0; i < 300; ++i)
      p.partitions.push_back(CommitPartition{"big", i, 1000 + i, 2, "meta-" + std::to_string(i)});
    p.partitions.push_back(CommitPartition{"big", 300, 1, -1, std::nullopt});          // no such partition
    p.partitions.push_back(CommitPartition{"nope", 0, 1, -1, std::nullopt});           // no such topic
    p.partitions.push_back(CommitPartition{"big", 0, 1, -1, std::string(4097, 'x')});  // metadata too large
    const auto before = c.stats();
    auto w = c.commit(p);
    EXPECT_TRUE(co_await wait(w->done));
    for (int i = 0; i < 300; ++i) EXPECT_EQ(w->errors[i], ErrorCode::kNone) << i;
    EXPECT_EQ(w->errors[300], ErrorCode::kUnknownTopicOrPartition);
    EXPECT_EQ(w->errors[301], ErrorCode::kUnknownTopicOrPartition);
    EXPECT_EQ(w->errors[302], ErrorCode::kOffsetMetadataTooLarge);
    // 300 partitions: three keys of 128 partitions, one transaction.
    EXPECT_EQ(c.stats().keys_written - before.keys_written, 3u);
    EXPECT_EQ(c.stats().txns - before.txns, 1u);
    // A group left stable with one member.
    std::string id;
    auto j = join_new(c, join_params("g", ""), id);
    EXPECT_TRUE(co_await wait(j->done));
    auto s = c.sync(SyncParams{"g", 1, id, std::nullopt, std::nullopt, std::nullopt, {{id, "assignment"}}});
    EXPECT_TRUE(co_await wait(s->done));
    member = id;
  });
  open_stores();
  run([&](GroupCoordinator& c, cluster::ClusterState&) -> awaitable<void> {
    auto f = c.fetch("simple", std::nullopt);
    EXPECT_EQ(f.topics.size(), 1u);
    EXPECT_EQ(f.topics.at(0).partitions.size(), 300u);
    auto one = c.fetch("simple", TopicPartitions{{"big", {299}}});
    EXPECT_EQ(one.topics.at(0).partitions.at(0).offset, 1299);
    EXPECT_EQ(one.topics.at(0).partitions.at(0).leader_epoch, 2);
    EXPECT_EQ(one.topics.at(0).partitions.at(0).metadata, "meta-299");
    // The member carries on in its generation: no rebalance after the restart.
    EXPECT_EQ(c.heartbeat("g", 1, member, std::nullopt), ErrorCode::kNone);
    auto s = c.sync(SyncParams{"g", 1, member, std::nullopt, std::nullopt, std::nullopt, {}});
    EXPECT_TRUE(co_await wait(s->done));
    EXPECT_EQ(s->result.assignment, "assignment");
    auto groups = c.list({});
    EXPECT_EQ(groups.size(), 2u);
    EXPECT_EQ(c.list({"stable"}).size(), 1u);
    co_return;
  });
}

TEST_F(CoordinatorTest, CommitsOfManyConsumersShareTransactions) {
  run([&](GroupCoordinator& c, cluster::ClusterState& log) -> awaitable<void> {
    EXPECT_TRUE((co_await log.create_topic("t", 8, {})).ok());
    const auto before = c.stats();
    std::vector<std::shared_ptr<CommitWait>> waits;
    for (int g = 0; g < 200; ++g) {
      waits.push_back(
          c.commit(commit_params("group-" + std::to_string(g), -1, "", "t", {0, 1, 2, 3, 4, 5, 6, 7}, g)));
    }
    for (auto& w : waits) {
      EXPECT_TRUE(co_await wait(w->done));
      EXPECT_EQ(w->errors.at(0), ErrorCode::kNone);
    }
    // 200 keys: two transactions of at most 128 keys each.
    EXPECT_EQ(c.stats().keys_written - before.keys_written, 200u);
    EXPECT_EQ(c.stats().txns - before.txns, 2u);
  });
}

TEST_F(CoordinatorTest, LargestCommitIsSplitIntoTransactionsThatFit) {
  run([&](GroupCoordinator& c, cluster::ClusterState& log) -> awaitable<void> {
    EXPECT_TRUE((co_await log.create_topic("t", 2000, {})).ok());
    CommitParams p;
    p.group_id = "g";
    for (int i = 0; i < 2000; ++i)
      p.partitions.push_back(CommitPartition{"t", i, i, -1, std::string(4096, 'm')});
    const auto before = c.stats();
    auto w = c.commit(p);
    EXPECT_TRUE(co_await wait(w->done));
    EXPECT_EQ(w->errors.at(0), ErrorCode::kNone);
    EXPECT_EQ(w->errors.at(1999), ErrorCode::kNone);
    EXPECT_EQ(c.stats().keys_written - before.keys_written, 16u);
    EXPECT_GT(c.stats().txns - before.txns, 1u);
    auto f = c.fetch("g", TopicPartitions{{"t", {1999}}});
    EXPECT_EQ(f.topics.at(0).partitions.at(0).offset, 1999);
  });
}

TEST_F(CoordinatorTest, DeleteGroupsOffsetDeleteAndRetention) {
  opt_.offsets_retention = std::chrono::minutes(0);
  run([&](GroupCoordinator& c, cluster::ClusterState& log) -> awaitable<void> {
    EXPECT_TRUE((co_await log.create_topic("t", 2, {})).ok());
    EXPECT_TRUE((co_await log.create_topic("u", 1, {})).ok());
    std::string id;
    auto j = join_new(c, join_params("g", ""), id);  // subscribes to "t"
    EXPECT_TRUE(co_await wait(j->done));
    auto s = c.sync(SyncParams{"g", 1, id, std::nullopt, std::nullopt, std::nullopt, {}});
    EXPECT_TRUE(co_await wait(s->done));
    auto w = c.commit(commit_params("g", 1, id, "t", {0, 1}, 5));
    EXPECT_TRUE(co_await wait(w->done));
    auto w2 = c.commit(commit_params("g", 1, id, "u", {0}, 5));
    EXPECT_TRUE(co_await wait(w2->done));

    auto del = c.delete_groups({"g", "missing", ""});
    EXPECT_TRUE(co_await wait(del->done));
    EXPECT_EQ(del->errors, (std::vector<ErrorCode>{ErrorCode::kNonEmptyGroup, ErrorCode::kGroupIdNotFound,
                                                   ErrorCode::kInvalidGroupId}));
    auto od = c.delete_offsets("g", TopicPartitions{{"t", {0}}, {"u", {0}}, {"zz", {0}}});
    EXPECT_TRUE(co_await wait(od->done));
    EXPECT_EQ(od->error, ErrorCode::kNone);
    EXPECT_EQ(od->topics.at(0).second.at(0).second, ErrorCode::kGroupSubscribedToTopic);
    EXPECT_EQ(od->topics.at(1).second.at(0).second, ErrorCode::kNone);
    EXPECT_EQ(od->topics.at(2).second.at(0).second, ErrorCode::kUnknownTopicOrPartition);
    EXPECT_EQ(c.fetch("g", TopicPartitions{{"u", {0}}}).topics.at(0).partitions.at(0).offset, -1);
    EXPECT_EQ(c.fetch("g", TopicPartitions{{"t", {0}}}).topics.at(0).partitions.at(0).offset, 5);

    EXPECT_EQ(c.leave("g", {LeaveMember{id, std::nullopt}}).members.at(0), ErrorCode::kNone);
    EXPECT_EQ(c.describe("g").state, "Empty");
    // A simple group whose offsets expire (retention 0) disappears entirely.
    auto simple = c.commit(commit_params("simple", -1, "", "t", {0}, 3));
    EXPECT_TRUE(co_await wait(simple->done));
    c.expire_offsets();
    const auto deadline = Clock::now() + kWait;
    while (!c.list({}).empty() && Clock::now() < deadline) co_await sleep_for(5ms);
    EXPECT_TRUE(c.list({}).empty());
    EXPECT_EQ(c.describe("simple").state, "Dead");
    EXPECT_EQ(c.fetch("g", TopicPartitions{{"t", {0}}}).topics.at(0).partitions.at(0).offset, -1);

    auto again = c.commit(commit_params("g2", -1, "", "t", {0}, 3));
    EXPECT_TRUE(co_await wait(again->done));
    auto del2 = c.delete_groups({"g2"});
    EXPECT_TRUE(co_await wait(del2->done));
    EXPECT_EQ(del2->errors.at(0), ErrorCode::kNone);
    EXPECT_EQ(c.describe("g2").state, "Dead");
  });
  open_stores();
  run([&](GroupCoordinator& c, cluster::ClusterState&) -> awaitable<void> {
    EXPECT_TRUE(c.list({}).empty());
    co_return;
  });
}

TEST_F(CoordinatorTest, LostOwnershipFencesWrites) {
  run([&](GroupCoordinator& c, cluster::ClusterState& log) -> awaitable<void> {
    EXPECT_TRUE((co_await log.create_topic("t", 1, {})).ok());
    auto w = c.commit(commit_params("g", -1, "", "t", {0}, 1));
    EXPECT_TRUE(co_await wait(w->done));
    EXPECT_EQ(w->errors.at(0), ErrorCode::kNone);
    // Another process takes this node id over.
    auto m = meta_;
    EXPECT_TRUE(m->put(cluster::keys::owner(0), "someone else").ok());
    auto w2 = c.commit(commit_params("g", -1, "", "t", {0}, 2));
    EXPECT_TRUE(co_await wait(w2->done));
    EXPECT_EQ(w2->errors.at(0), ErrorCode::kNotCoordinator);
    // Every slot was fenced on that key: none is served any more. The broker
    // itself is not marked fenced by the coordinator.
    EXPECT_TRUE(c.slot_lost(c.slot_of("g")));
    for (std::int32_t slot = 0; slot < c.slot_count(); ++slot) EXPECT_FALSE(c.owns_slot(slot)) << slot;
    EXPECT_FALSE(log.fenced());
    EXPECT_EQ(c.heartbeat("g", 0, "x", std::nullopt), ErrorCode::kNotCoordinator);
    EXPECT_EQ(c.fetch("g", std::nullopt).error, ErrorCode::kNotCoordinator);
    EXPECT_TRUE(c.list({}).empty());
  });
}

TEST_F(CoordinatorTest, StopAnswersWaitingJoins) {
  std::shared_ptr<JoinWait> parked;
  run([&](GroupCoordinator& c, cluster::ClusterState&) -> awaitable<void> {
    std::string id1, id2;
    auto j1 = join_new(c, join_params("g", ""), id1);
    EXPECT_TRUE(co_await wait(j1->done));
    parked = join_new(c, join_params("g", ""), id2);  // waits for member 1 to rejoin
    EXPECT_FALSE(parked->done.is_set());
  });
  ASSERT_TRUE(parked->done.is_set());
  EXPECT_EQ(parked->result.error, ErrorCode::kNotCoordinator);
}

// ---------------------------------------------------------------- slots across brokers

TEST_F(CoordinatorTest, GroupOfAnotherBrokersSlotAnswersNotCoordinator) {
  run_two([&](GroupCoordinator& a, GroupCoordinator& b, cluster::ClusterState&,
              cluster::ClusterState&) -> awaitable<void> {
    const std::int32_t slots = a.slot_count();
    const std::int32_t half = slots / 2;
    co_await acquire(a, 0, half, "0");
    co_await acquire(b, half, slots, "1");
    const std::string ga = group_in(a, 0, half, "ga-");
    const std::string gb = group_in(a, half, slots, "gb-");
    EXPECT_TRUE(a.owns_group(ga));
    EXPECT_FALSE(a.owns_group(gb));
    EXPECT_TRUE(b.owns_group(gb));
    EXPECT_FALSE(b.owns_group(ga));

    std::string id;
    auto j = join_new(a, join_params(ga, ""), id);
    EXPECT_TRUE(co_await wait(j->done));
    EXPECT_EQ(j->result.error, ErrorCode::kNone);
    auto s = a.sync(leader_sync(ga, 1, id, "A"));
    EXPECT_TRUE(co_await wait(s->done));
    EXPECT_EQ(s->result.error, ErrorCode::kNone);

    // Every group call at B for A's group.
    auto jb = b.join(join_params(ga, ""));
    EXPECT_TRUE(jb->done.is_set());
    EXPECT_EQ(jb->result.error, ErrorCode::kNotCoordinator);
    auto sb = b.sync(leader_sync(ga, 1, id, "A"));
    EXPECT_TRUE(sb->done.is_set());
    EXPECT_EQ(sb->result.error, ErrorCode::kNotCoordinator);
    EXPECT_EQ(b.heartbeat(ga, 1, id, std::nullopt), ErrorCode::kNotCoordinator);
    std::vector<LeaveMember> leaving(1);
    leaving[0].member_id = id;
    EXPECT_EQ(b.leave(ga, leaving).error, ErrorCode::kNotCoordinator);
    auto cb = b.commit(commit_params(ga, -1, "", "t", {0}, 1));
    EXPECT_TRUE(co_await wait(cb->done));
    EXPECT_EQ(cb->errors.at(0), ErrorCode::kNotCoordinator);
    EXPECT_EQ(b.fetch(ga, std::nullopt).error, ErrorCode::kNotCoordinator);
    EXPECT_EQ(b.describe(ga).error, ErrorCode::kNotCoordinator);
    std::vector<std::string> names(1, ga);
    auto dg = b.delete_groups(names);
    EXPECT_TRUE(co_await wait(dg->done));
    EXPECT_EQ(dg->errors.at(0), ErrorCode::kNotCoordinator);
    TopicPartitions tp;
    tp.emplace_back("t", std::vector<std::int32_t>(1, 0));
    auto od = b.delete_offsets(ga, tp);
    EXPECT_TRUE(co_await wait(od->done));
    EXPECT_EQ(od->error, ErrorCode::kNotCoordinator);

    // B serves its own half; each lists its own groups only.
    auto wb = b.commit(commit_params(gb, -1, "", "t", {0}, 7));
    EXPECT_TRUE(co_await wait(wb->done));
    EXPECT_EQ(wb->errors.at(0), ErrorCode::kNone);
    EXPECT_EQ(a.heartbeat(gb, 0, "x", std::nullopt), ErrorCode::kNotCoordinator);
    auto la = a.list({});
    auto lb = b.list({});
    EXPECT_EQ(la.size(), 1u);
    EXPECT_EQ(lb.size(), 1u);
    if (la.size() == 1 && lb.size() == 1) {
      EXPECT_EQ(la[0].group_id, ga);
      EXPECT_EQ(lb[0].group_id, gb);
    }
    cluster::Fence f = take_stream(*meta_, half, "1");
    Status again = co_await b.acquire_slot(half, f);
    EXPECT_EQ(again.code(), Errc::already_exists);
  });
}

TEST_F(CoordinatorTest, ReleasedSlotMovesWithOffsetsAndGeneration) {
  run_two([&](GroupCoordinator& a, GroupCoordinator& b, cluster::ClusterState&,
              cluster::ClusterState&) -> awaitable<void> {
    const std::int32_t slots = a.slot_count();
    co_await acquire(a, 0, slots, "0");
    const std::string g = "moving";
    const std::int32_t slot = a.slot_of(g);
    std::string id1, id2;
    auto j1 = join_new(a, join_params(g, ""), id1);
    EXPECT_TRUE(co_await wait(j1->done));
    auto s1 = a.sync(leader_sync(g, 1, id1, "A1"));
    EXPECT_TRUE(co_await wait(s1->done));
    EXPECT_EQ(s1->result.error, ErrorCode::kNone);
    auto w = a.commit(commit_params(g, 1, id1, "t", {0, 1}, 42));
    EXPECT_TRUE(co_await wait(w->done));
    EXPECT_EQ(w->errors, (std::vector<ErrorCode>{ErrorCode::kNone, ErrorCode::kNone}));
    // A second member waits in JoinGroup for the first to rejoin: the release answers it.
    auto parked = join_new(a, join_params(g, ""), id2);
    EXPECT_FALSE(parked->done.is_set());

    co_await a.release_slot(slot);
    EXPECT_TRUE(parked->done.is_set());
    EXPECT_EQ(parked->result.error, ErrorCode::kNotCoordinator);
    EXPECT_FALSE(a.owns_slot(slot));
    EXPECT_FALSE(a.slot_lost(slot));
    EXPECT_TRUE(a.owns_slot((slot + 1) % slots));
    EXPECT_EQ(a.heartbeat(g, 1, id1, std::nullopt), ErrorCode::kNotCoordinator);
    EXPECT_TRUE(a.list({}).empty());

    // B takes the stream over (a new fence) and carries the group on.
    co_await acquire(b, slot, slot + 1, "1");
    EXPECT_TRUE(b.owns_group(g));
    EXPECT_EQ(committed(b, g, "t", 0), 42);
    EXPECT_EQ(committed(b, g, "t", 1), 42);
    GroupDescription d = b.describe(g);
    EXPECT_EQ(d.state, "Stable");
    EXPECT_EQ(d.members.size(), 1u);
    if (!d.members.empty()) {
      EXPECT_EQ(d.members[0].member_id, id1);
      EXPECT_EQ(d.members[0].assignment, "A1");
    }
    EXPECT_EQ(b.heartbeat(g, 1, id1, std::nullopt), ErrorCode::kNone);
    auto w2 = b.commit(commit_params(g, 1, id1, "t", {0}, 43));
    EXPECT_TRUE(co_await wait(w2->done));
    EXPECT_EQ(w2->errors.at(0), ErrorCode::kNone);
    EXPECT_EQ(committed(b, g, "t", 0), 43);
    // The member that was waiting at A joins again at B: a new generation.
    auto j2 = b.join(join_params(g, id2));
    EXPECT_TRUE(j2->done.is_set());
    EXPECT_EQ(j2->result.error, ErrorCode::kUnknownMemberId);
  });
}

TEST_F(CoordinatorTest, LateWriteOfTheOldOwnerIsRejectedAndItsSlotLost) {
  run_two([&](GroupCoordinator& a, GroupCoordinator& b, cluster::ClusterState& ca,
              cluster::ClusterState&) -> awaitable<void> {
    const std::int32_t slots = a.slot_count();
    co_await acquire(a, 0, slots, "0");
    const std::string g = "late";
    const std::int32_t slot = a.slot_of(g);
    const std::string other = group_not_in(a, slot, "other-");
    std::string id;
    auto j = join_new(a, join_params(g, ""), id);
    EXPECT_TRUE(co_await wait(j->done));
    auto sy = a.sync(leader_sync(g, 1, id, "A"));
    EXPECT_TRUE(co_await wait(sy->done));
    auto w = a.commit(commit_params(g, 1, id, "t", {0}, 1));
    EXPECT_TRUE(co_await wait(w->done));
    EXPECT_EQ(w->errors.at(0), ErrorCode::kNone);

    // B takes the stream without A releasing it (A is thought dead).
    co_await acquire(b, slot, slot + 1, "1");
    EXPECT_EQ(committed(b, g, "t", 0), 1);
    EXPECT_TRUE(a.owns_group(g));  // A does not know yet
    auto late = a.commit(commit_params(g, 1, id, "t", {0}, 2));
    EXPECT_TRUE(co_await wait(late->done));
    EXPECT_EQ(late->errors.at(0), ErrorCode::kNotCoordinator);
    EXPECT_TRUE(a.slot_lost(slot));
    EXPECT_FALSE(a.owns_group(g));
    EXPECT_EQ(a.heartbeat(g, 1, id, std::nullopt), ErrorCode::kNotCoordinator);
    EXPECT_EQ(committed(a, g, "t", 0), -2);
    EXPECT_FALSE(ca.fenced());
    // A's other slots carry on.
    auto w2 = a.commit(commit_params(other, -1, "", "t", {0}, 5));
    EXPECT_TRUE(co_await wait(w2->done));
    EXPECT_EQ(w2->errors.at(0), ErrorCode::kNone);
    // B's state was not overwritten.
    EXPECT_EQ(committed(b, g, "t", 0), 1);
    auto w3 = b.commit(commit_params(g, 1, id, "t", {0}, 3));
    EXPECT_TRUE(co_await wait(w3->done));
    EXPECT_EQ(w3->errors.at(0), ErrorCode::kNone);
    // The slot can come back to A later, with a new fence.
    co_await b.release_slot(slot);
    co_await acquire(a, slot, slot + 1, "0");
    EXPECT_FALSE(a.slot_lost(slot));
    EXPECT_TRUE(a.owns_group(g));
    EXPECT_EQ(committed(a, g, "t", 0), 3);
  });
}

TEST_F(CoordinatorTest, TransactionMixingSlotsCarriesEachSlotsFence) {
  auto rec = std::make_shared<RecordingStore>(meta_);
  meta_ = rec;
  opt_.commit_linger = 50ms;  // both commits share one round
  run([&](GroupCoordinator& c, cluster::ClusterState& log) -> awaitable<void> {
    EXPECT_TRUE((co_await log.create_topic("t", 1, {})).ok());
    const std::string gx = "mix-x";
    const std::int32_t x = c.slot_of(gx);
    const std::string gy = group_not_in(c, x, "mix-y-");
    const std::int32_t y = c.slot_of(gy);
    const std::string gz = group_not_in(c, y, "mix-z-");  // in a slot still fenced on the node key
    // x and y move to fences of their own (their streams' owner keys).
    co_await c.release_slot(x);
    co_await c.release_slot(y);
    cluster::Fence fx = take_stream(*meta_, x, "0");
    cluster::Fence fy = take_stream(*meta_, y, "0");
    EXPECT_TRUE((co_await c.acquire_slot(x, fx)).ok());
    EXPECT_TRUE((co_await c.acquire_slot(y, fy)).ok());

    rec->take_txns();
    const auto before = c.stats();
    auto wx = c.commit(commit_params(gx, -1, "", "t", {0}, 1));
    auto wy = c.commit(commit_params(gy, -1, "", "t", {0}, 1));
    EXPECT_TRUE(co_await wait(wx->done));
    EXPECT_TRUE(co_await wait(wy->done));
    EXPECT_EQ(wx->errors.at(0), ErrorCode::kNone);
    EXPECT_EQ(wy->errors.at(0), ErrorCode::kNone);
    EXPECT_EQ(c.stats().txns - before.txns, 1u);
    auto txns = rec->take_txns();
    EXPECT_EQ(txns.size(), 1u);
    if (txns.size() == 1) {
      const metastore::TxnRequest& t = txns[0];
      EXPECT_EQ(t.success.size(), 2u);
      EXPECT_EQ(t.compare.size(), 2u);
      EXPECT_EQ(t.failure.size(), 2u);
      std::set<std::pair<std::string, std::int64_t>> got;
      for (const auto& cmp : t.compare) {
        EXPECT_EQ(cmp.target, metastore::Compare::Target::mod_revision);
        got.emplace(cmp.key, cmp.number);
      }
      std::set<std::pair<std::string, std::int64_t>> want;
      want.emplace(fx.key, fx.revision);
      want.emplace(fy.key, fy.revision);
      EXPECT_EQ(got, want);
    }

    // Another broker takes y: the next mixed transaction fails on y's fence only.
    take_stream(*meta_, y, "1");
    wx = c.commit(commit_params(gx, -1, "", "t", {0}, 2));
    wy = c.commit(commit_params(gy, -1, "", "t", {0}, 2));
    EXPECT_TRUE(co_await wait(wx->done));
    EXPECT_TRUE(co_await wait(wy->done));
    EXPECT_EQ(wy->errors.at(0), ErrorCode::kNotCoordinator);
    EXPECT_EQ(wx->errors.at(0), ErrorCode::kCoordinatorNotAvailable);  // still ours: retriable
    EXPECT_TRUE(c.slot_lost(y));
    EXPECT_TRUE(c.owns_slot(x));
    EXPECT_TRUE(c.owns_group(gz));
    wx = c.commit(commit_params(gx, -1, "", "t", {0}, 3));
    EXPECT_TRUE(co_await wait(wx->done));
    EXPECT_EQ(wx->errors.at(0), ErrorCode::kNone);
    EXPECT_EQ(committed(c, gx, "t", 0), 3);
    auto wz = c.commit(commit_params(gz, -1, "", "t", {0}, 4));
    EXPECT_TRUE(co_await wait(wz->done));
    EXPECT_EQ(wz->errors.at(0), ErrorCode::kNone);
  });
}

}  // namespace
}  // namespace ks::coordinator
