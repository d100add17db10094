// Membership over the embedded store (fast lease checks), each broker behind
// its own fault wrapper: automatic and explicit ids, replacement of an older
// process, lease expiry as seen by the broker and by the others, draining,
// and the members watch resuming after errors and compactions.
#include "cluster/membership.h"

#include <gtest/gtest.h>

#include <optional>

#include "cluster/cluster_test_util.h"
#include "cluster/keys.h"

namespace ks::cluster {
namespace {

using metastore::StoreMethod;
using testing::run_loop;
using testing::until;
using namespace std::chrono_literals;

MembershipOptions auto_id(std::chrono::milliseconds ttl = 2000ms) {
  MembershipOptions o;
  o.lease_ttl = ttl;
  o.host = "127.0.0.1";
  o.port = 9092;
  return o;
}

MembershipOptions with_id(std::int32_t node, std::chrono::milliseconds ttl = 2000ms) {
  MembershipOptions o = auto_id(ttl);
  o.node_id = node;
  return o;
}

// (Built outside coroutine bodies: g++ 12 mishandles braced temporaries there.)
std::vector<metastore::KeyValue> read_range(metastore::MetadataStore& store, const std::string& key,
                                            bool prefix = false) {
  metastore::RangeRequest rq;
  rq.key = key;
  if (prefix) rq.range_end = metastore::prefix_end(key);
  auto r = store.range(rq);
  EXPECT_TRUE(r.ok());
  return r.ok() ? r->kvs : std::vector<metastore::KeyValue>{};
}

std::int64_t store_revision(metastore::MetadataStore& store) {
  metastore::RangeRequest rq;
  rq.key = keys::members_prefix();
  rq.range_end = metastore::prefix_end(rq.key);
  auto r = store.range(rq);
  EXPECT_TRUE(r.ok());
  return r.ok() ? r->revision : 0;
}

std::string foreign_member(std::int32_t node) {
  MemberInfo m;
  m.node = node;
  m.host = "elsewhere";
  return encode_member(m);
}

TEST(MemberRecord, RoundTripsAndRejectsBadJson) {
  MemberInfo m;
  m.node = 12;
  m.host = "10.0.0.3";
  m.port = 9093;
  m.rack = "eu-1a";
  m.draining = true;
  auto d = decode_member(encode_member(m));
  ASSERT_TRUE(d.ok()) << d.status().to_string();
  EXPECT_EQ(*d, m);
  for (const char* bad : {"", "{", "null", R"({"node":1,"host":"h","port":1,"rack":"","draining":false})",
                          R"({"v":2,"node":1,"host":"h","port":1,"rack":"","draining":false})",
                          R"({"v":1,"node":-1,"host":"h","port":1,"rack":"","draining":false})",
                          R"({"v":1,"node":"1","host":"h","port":1,"rack":"","draining":false})",
                          R"({"v":1,"node":1,"host":7,"port":1,"rack":"","draining":false})",
                          R"({"v":1,"node":1,"host":"h","port":70000,"rack":"","draining":false})",
                          R"({"v":1,"node":1,"host":"h","port":1,"draining":false})",
                          R"({"v":1,"node":1,"host":"h","port":1,"rack":"","draining":"no"})"}) {
    EXPECT_EQ(decode_member(bad).code(), Errc::corrupt) << bad;
  }
}

TEST(MemberRecord, ListenersRoundTripAndOldRecordsStillRead) {
  MemberInfo m;
  m.node = 3;
  m.host = "10.0.0.3";
  m.port = 9092;
  m.listeners.push_back(MemberListener{"PLAINTEXT", "10.0.0.3", 9092});
  m.listeners.push_back(MemberListener{"SASL_SSL", "kafka.example.com", 9094});
  auto d = decode_member(encode_member(m));
  ASSERT_TRUE(d.ok()) << d.status().to_string();
  EXPECT_EQ(*d, m);
  // A record written before listeners existed.
  auto old = decode_member(R"({"v":1,"node":1,"host":"h","port":1,"rack":"","draining":false})");
  ASSERT_TRUE(old.ok());
  EXPECT_TRUE(old->listeners.empty());
  // Without listeners the record is exactly what older brokers wrote.
  MemberInfo plain;
  plain.node = 1;
  plain.host = "h";
  plain.port = 1;
  EXPECT_EQ(encode_member(plain).find("listeners"), std::string::npos);
  for (const char* bad : {R"({"v":1,"node":1,"host":"h","port":1,"rack":"","draining":false,"listeners":{}})",
                          R"({"v":1,"node":1,"host":"h","port":1,"rack":"","draining":false,)"
                          R"("listeners":[{"name":"A","host":"h","port":-1}]})",
                          R"({"v":1,"node":1,"host":"h","port":1,"rack":"","draining":false,)"
                          R"("listeners":[{"name":"A","port":1}]})"}) {
    EXPECT_EQ(decode_member(bad).code(), Errc::corrupt) << bad;
  }
}

TEST(MembershipTest, AutomaticIdsTakeTheLowestFreeId) {
  testing::StoreEnv env;
  run_loop([&](asio::io_context& io, asio::thread_pool& pool) -> awaitable<void> {
    Membership a(io, pool, env.fault(), auto_id());
    Membership b(io, pool, env.fault(), auto_id());
    EXPECT_TRUE((co_await a.start()).ok());
    EXPECT_TRUE((co_await b.start()).ok());
    EXPECT_EQ(a.node_id(), 0);
    EXPECT_EQ(b.node_id(), 1);
    EXPECT_TRUE(a.alive());
    EXPECT_GT(b.registration_revision(), a.registration_revision());
    auto both = [&] { return a.members().size() == 2 && b.members().size() == 2; };
    EXPECT_TRUE(co_await until(both));
    EXPECT_EQ(b.members().at(0).port, 9092);
    co_await a.stop();
    EXPECT_FALSE(a.alive());
    auto gone = [&] { return b.members().size() == 1; };
    EXPECT_TRUE(co_await until(gone));
    Membership c(io, pool, env.fault(), auto_id());
    EXPECT_TRUE((co_await c.start()).ok());
    EXPECT_EQ(c.node_id(), 0);
    auto seen = [&] { return b.members().size() == 2 && b.members().contains(0); };
    EXPECT_TRUE(co_await until(seen));
    co_await b.stop();
    co_await c.stop();
    EXPECT_FALSE(a.lost() || b.lost() || c.lost());
  });
}

TEST(MembershipTest, AutomaticIdsSkipTakenIdsUpToTheLimit) {
  testing::StoreEnv env;
  auto f = env.fault();
  const std::string other = foreign_member(0);
  run_loop([&](asio::io_context& io, asio::thread_pool& pool) -> awaitable<void> {
    EXPECT_TRUE(env.store()->put(keys::member(0), other).ok());
    MembershipOptions o = auto_id();
    o.max_node_id = 1;
    Membership a(io, pool, f, o);
    EXPECT_TRUE((co_await a.start()).ok());
    EXPECT_EQ(a.node_id(), 1);
    Membership b(io, pool, env.fault(), o);
    EXPECT_EQ((co_await b.start()).code(), Errc::limit_exceeded);
    co_await a.stop();
  });
}

// A dead broker's id comes back only once no stream names it as owner.
TEST(MembershipTest, AutomaticIdsSkipIdsStillHoldingStreams) {
  testing::StoreEnv env;
  // Stand-in for the stream owner record: the value is the owning node, "-" once released.
  auto holds = [](const metastore::KeyValue& kv) -> std::optional<std::int32_t> {
    if (kv.value == "-") return std::nullopt;
    return std::stoi(kv.value);
  };
  run_loop([&](asio::io_context& io, asio::thread_pool& pool) -> awaitable<void> {
    EXPECT_TRUE(env.store()->put(keys::stream_owner(3), "0").ok());
    EXPECT_TRUE(env.store()->put(keys::stream_owner(4), "2").ok());
    MembershipOptions o = auto_id();
    o.holds_state = holds;
    Membership a(io, pool, env.fault(), o);
    EXPECT_TRUE((co_await a.start()).ok());
    EXPECT_EQ(a.node_id(), 1);
    Membership b(io, pool, env.fault(), o);
    EXPECT_TRUE((co_await b.start()).ok());
    EXPECT_EQ(b.node_id(), 3);
    // Stream 3 taken over by node 1: id 0 is free again.
    EXPECT_TRUE(env.store()->put(keys::stream_owner(3), "1").ok());
    Membership c(io, pool, env.fault(), o);
    EXPECT_TRUE((co_await c.start()).ok());
    EXPECT_EQ(c.node_id(), 0);
    co_await a.stop();
    co_await b.stop();
    co_await c.stop();
  });
}

TEST(MembershipTest, ExplicitIdReplacesThePreviousProcessWhichIsLost) {
  testing::StoreEnv env;
  run_loop([&](asio::io_context& io, asio::thread_pool& pool) -> awaitable<void> {
    Membership a(io, pool, env.fault(), with_id(5));
    std::optional<Status> lost;
    int lost_calls = 0;
    a.on_lost([&](const Status& s) {
      lost = s;
      ++lost_calls;
    });
    EXPECT_TRUE((co_await a.start()).ok());
    EXPECT_EQ(a.node_id(), 5);
    Membership b(io, pool, env.fault(), with_id(5));
    EXPECT_TRUE((co_await b.start()).ok());
    EXPECT_GT(b.registration_revision(), a.registration_revision());
    auto told = [&] { return lost.has_value(); };
    EXPECT_TRUE(co_await until(told));
    if (lost) {
      EXPECT_EQ(lost->code(), Errc::fenced) << lost->to_string();
    }
    EXPECT_TRUE(a.lost());
    EXPECT_FALSE(a.alive());
    EXPECT_TRUE(b.alive());
    EXPECT_FALSE(b.lost());
    EXPECT_EQ((co_await a.set_draining()).code(), Errc::fenced);
    // The older process stopping (its lease revoked) leaves the newer one's key.
    co_await a.stop();
    auto kvs = read_range(*env.store(), keys::member(5));
    EXPECT_TRUE(kvs.size() == 1 && kvs[0].lease == b.lease());
    EXPECT_EQ(lost_calls, 1);
    co_await b.stop();
    EXPECT_FALSE(b.lost());
  });
}

TEST(MembershipTest, LeaseExpiryEndsAliveBeforeOthersSeeTheMemberGo) {
  testing::StoreEnv env;
  auto fa = env.fault();
  run_loop([&](asio::io_context& io, asio::thread_pool& pool) -> awaitable<void> {
    Membership a(io, pool, fa, auto_id(1000ms));
    Membership b(io, pool, env.fault(), auto_id(1000ms));
    int a_lost = 0;
    a.on_lost([&](const Status&) { ++a_lost; });
    EXPECT_TRUE((co_await a.start()).ok());
    EXPECT_TRUE((co_await b.start()).ok());
    EXPECT_LE(a.deadline(), Clock::now() + 500ms);  // TTL 1 s - margin 500 ms
    auto both = [&] { return b.members().size() == 2; };
    EXPECT_TRUE(co_await until(both));
    // a's keepalives fail from now on (the store never hears them).
    fa->fail_next(StoreMethod::lease_keepalive, 1'000'000, Errc::unavailable);
    auto a_dead = [&] { return !a.alive(); };
    EXPECT_TRUE(co_await until(a_dead, 5000ms));
    // a stopped acting while the others still see it.
    EXPECT_TRUE(b.members().contains(a.node_id()));
    auto gone = [&] { return !b.members().contains(a.node_id()); };
    EXPECT_TRUE(co_await until(gone, 5000ms));
    EXPECT_TRUE(b.alive());
    // a's own watch sees its key deleted: the registration is lost for good.
    auto told = [&] { return a_lost == 1; };
    EXPECT_TRUE(co_await until(told, 5000ms));
    co_await a.stop();
    co_await b.stop();
  });
}

TEST(MembershipTest, ARetriedKeepaliveKeepsTheMemberAlive) {
  testing::StoreEnv env;
  auto fa = env.fault();
  run_loop([&](asio::io_context& io, asio::thread_pool& pool) -> awaitable<void> {
    Membership a(io, pool, fa, auto_id(3000ms));
    EXPECT_TRUE((co_await a.start()).ok());
    fa->fail_next(StoreMethod::lease_keepalive, 2, Errc::timeout);
    const auto first = a.deadline();
    auto later = [&] { return fa->injected(StoreMethod::lease_keepalive) == 2 && a.deadline() > first + 1s; };
    EXPECT_TRUE(co_await until(later, 5000ms));
    EXPECT_TRUE(a.alive());
    EXPECT_FALSE(a.lost());
    co_await a.stop();
  });
}

TEST(MembershipTest, DrainingIsVisibleToOthers) {
  testing::StoreEnv env;
  run_loop([&](asio::io_context& io, asio::thread_pool& pool) -> awaitable<void> {
    Membership a(io, pool, env.fault(), auto_id());
    Membership b(io, pool, env.fault(), auto_id());
    EXPECT_TRUE((co_await a.start()).ok());
    EXPECT_TRUE((co_await b.start()).ok());
    const auto before = a.registration_revision();
    EXPECT_TRUE((co_await a.set_draining()).ok());
    EXPECT_GT(a.registration_revision(), before);
    EXPECT_TRUE(a.self().draining);
    auto seen = [&] { return b.members().contains(0) && b.members().at(0).draining; };
    EXPECT_TRUE(co_await until(seen));
    EXPECT_FALSE(a.lost());
    EXPECT_TRUE(a.alive());
    co_await a.stop();
    co_await b.stop();
  });
}

TEST(MembershipTest, MembersWatchResumesAfterErrorsAndReloadsAfterCompaction) {
  testing::StoreEnv env;
  auto fb = env.fault();
  run_loop([&](asio::io_context& io, asio::thread_pool& pool) -> awaitable<void> {
    Membership b(io, pool, fb, auto_id(6000ms));
    EXPECT_TRUE((co_await b.start()).ok());
    Membership c(io, pool, env.fault(), auto_id());
    EXPECT_TRUE((co_await c.start()).ok());
    auto two = [&] { return b.members().size() == 2; };
    EXPECT_TRUE(co_await until(two));  // b's watch is live
    // A broken watch resumes from the last revision seen.
    fb->break_watches();
    Membership d(io, pool, env.fault(), auto_id());
    EXPECT_TRUE((co_await d.start()).ok());
    auto three = [&] { return b.members().size() == 3; };
    EXPECT_TRUE(co_await until(three));
    EXPECT_EQ(b.watch_reloads(), 0u);
    // Broken while the store is unreachable, and the history it would resume
    // from compacted meanwhile: the whole prefix is read again.
    fb->set_unavailable(true);
    fb->break_watches();
    co_await c.stop();
    EXPECT_TRUE(env.store()->put("/ks/test/after", "x").ok());  // history beyond c's removal
    EXPECT_TRUE(env.store()->compact(store_revision(*env.store())).ok());
    fb->set_unavailable(false);
    auto reloaded = [&] {
      return b.members().size() == 2 && b.members().contains(2) && !b.members().contains(1);
    };
    EXPECT_TRUE(co_await until(reloaded));
    EXPECT_EQ(b.watch_reloads(), 1u);
    EXPECT_FALSE(b.lost());
    co_await d.stop();
    co_await b.stop();
  });
}

}  // namespace
}  // namespace ks::cluster
