// Controller election and placement writes over the embedded store: one
// controller among several brokers, a placement covering every stream,
// take-over with a higher epoch, rejection of a stale controller's write, and
// PlacementView's mirrors.
#include "cluster/controller.h"

#include <gtest/gtest.h>

#include <memory>

#include "cluster/cluster_test_util.h"
#include "cluster/keys.h"

namespace ks::cluster {
namespace {

using testing::run_loop;
using testing::stream_counts;
using testing::until;
using namespace std::chrono_literals;

constexpr std::int32_t kStreams = 16;

// One broker's cluster parts: membership, placement view, controller.
struct Broker {
  Broker(asio::io_context& io, asio::thread_pool& pool, std::shared_ptr<metastore::MetadataStore> meta)
      : membership(io, pool, meta, options()),
        view(io, pool, meta),
        controller(io, pool, meta, membership, view, kStreams) {}

  static MembershipOptions options() {
    MembershipOptions o;
    o.lease_ttl = 2000ms;
    return o;
  }

  awaitable<Status> start() {
    Status st = co_await membership.start();
    if (st.ok()) st = co_await view.start();
    if (st.ok()) controller.start();
    co_return st;
  }
  awaitable<void> stop() {
    co_await controller.stop();
    co_await view.stop();
    co_await membership.stop();
  }

  Membership membership;
  PlacementView view;
  Controller controller;
};

// Every stream placed, on live nodes only, spread at most one apart.
bool balanced_over(const Placement& p, std::size_t nodes) {
  if (p.streams.size() != static_cast<std::size_t>(kStreams)) return false;
  auto c = stream_counts(p);
  if (c.size() != nodes || c.contains(-1)) return false;
  std::int32_t lo = kStreams, hi = 0;
  for (const auto& [n, k] : c) {
    lo = std::min(lo, k);
    hi = std::max(hi, k);
  }
  return hi - lo <= 1;
}

TEST(ControllerTest, ExactlyOneIsElectedAndTakeOverRaisesTheEpoch) {
  testing::StoreEnv env;
  run_loop([&](asio::io_context& io, asio::thread_pool& pool) -> awaitable<void> {
    auto a = std::make_unique<Broker>(io, pool, env.fault());
    auto b = std::make_unique<Broker>(io, pool, env.fault());
    EXPECT_TRUE((co_await a->start()).ok());
    EXPECT_TRUE((co_await b->start()).ok());
    auto placed = [&] {
      return a->view.controller_node() >= 0 && balanced_over(a->view.current(), 2) &&
             b->view.current().mod_revision == a->view.current().mod_revision &&
             b->view.controller_node() == a->view.controller_node();
    };
    EXPECT_TRUE(co_await until(placed));
    EXPECT_EQ(a->controller.is_controller() + b->controller.is_controller(), 1);
    Broker* ctl = a->controller.is_controller() ? a.get() : b.get();
    Broker* other = ctl == a.get() ? b.get() : a.get();
    EXPECT_EQ(a->view.controller_node(), ctl->membership.node_id());
    EXPECT_EQ(a->view.controller_epoch(), ctl->controller.epoch());
    EXPECT_EQ(a->view.current().controller_epoch, ctl->controller.epoch());
    EXPECT_EQ(other->controller.epoch(), 0);
    EXPECT_EQ(other->controller.placements_written(), 0u);
    const Placement before = a->view.current();
    const std::int64_t old_epoch = ctl->controller.epoch();
    const std::int32_t survivor = other->membership.node_id();

    // The controller stops: the other takes over with a higher epoch and
    // places every stream on itself; only the moved streams' epochs rise.
    co_await ctl->stop();
    auto taken = [&] {
      return other->controller.is_controller() &&
             other->view.current().controller_epoch == other->controller.epoch() &&
             balanced_over(other->view.current(), 1);
    };
    EXPECT_TRUE(co_await until(taken));
    EXPECT_GT(other->controller.epoch(), old_epoch);
    const Placement after = other->view.current();
    for (std::size_t i = 0; i < after.streams.size() && i < before.streams.size(); ++i) {
      EXPECT_EQ(after.streams[i].node, survivor);
      const bool moved = before.streams[i].node != survivor;
      EXPECT_EQ(after.streams[i].epoch, before.streams[i].epoch + (moved ? 1 : 0)) << "stream " << i;
    }
    co_await other->stop();
  });
}

TEST(ControllerTest, AStaleControllersWriteIsRejected) {
  testing::StoreEnv env;
  run_loop([&](asio::io_context& io, asio::thread_pool& pool) -> awaitable<void> {
    auto a = std::make_unique<Broker>(io, pool, env.fault());
    EXPECT_TRUE((co_await a->start()).ok());
    auto elected = [&] { return a->controller.is_controller() && a->view.current().mod_revision > 0; };
    EXPECT_TRUE(co_await until(elected));
    const Placement seen = a->view.current();
    // a still believes it is the controller; write with its epoch but from an
    // older placement: the placement compare rejects it.
    Placement older = seen;
    older.mod_revision = seen.mod_revision - 1;
    auto r = co_await a->controller.write_placement(older);
    EXPECT_EQ(r.code(), Errc::already_exists);

    // b joins, a's controller resigns: b is the controller now. A write
    // under a's epoch, even from the current placement, is fenced.
    auto b = std::make_unique<Broker>(io, pool, env.fault());
    EXPECT_TRUE((co_await b->start()).ok());
    co_await a->controller.stop();
    auto taken = [&] { return b->controller.is_controller(); };
    EXPECT_TRUE(co_await until(taken));
    EXPECT_FALSE(a->controller.is_controller());
    EXPECT_GT(b->controller.epoch(), seen.controller_epoch);
    Placement stale = b->view.current();
    stale.controller_epoch = seen.controller_epoch;
    auto again = co_await a->controller.write_placement(stale);
    EXPECT_EQ(again.code(), Errc::fenced);
    co_await a->stop();
    co_await b->stop();
  });
}

TEST(ControllerTest, ControllerKeyVanishesWithItsMembersLease) {
  testing::StoreEnv env;
  auto fa = env.fault();
  run_loop([&](asio::io_context& io, asio::thread_pool& pool) -> awaitable<void> {
    auto a = std::make_unique<Broker>(io, pool, fa);
    EXPECT_TRUE((co_await a->start()).ok());
    auto elected = [&] { return a->controller.is_controller(); };
    EXPECT_TRUE(co_await until(elected));
    auto b = std::make_unique<Broker>(io, pool, env.fault());
    EXPECT_TRUE((co_await b->start()).ok());
    auto both = [&] { return balanced_over(b->view.current(), 2); };
    EXPECT_TRUE(co_await until(both));
    // a's keepalives stop reaching the store: its lease expires, the
    // controller key with it, and b is elected and takes a's streams.
    fa->fail_next(metastore::StoreMethod::lease_keepalive, 1'000'000, Errc::unavailable);
    auto taken = [&] { return b->controller.is_controller() && balanced_over(b->view.current(), 1); };
    EXPECT_TRUE(co_await until(taken, 15'000ms));
    EXPECT_FALSE(a->controller.is_controller());
    co_await a->stop();
    co_await b->stop();
  });
}

}  // namespace
}  // namespace ks::cluster
