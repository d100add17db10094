// Test harness for membership, placement and controller tests (header-only;
// not part of the library): an embedded store with a fast lease check, fault
// wrappers per broker, a loop runner with a watchdog and a condition poller.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <exception>
#include <map>
#include <memory>

#include "cluster/placement.h"
#include "common/async.h"
#include "metastore/embedded_store.h"
#include "metastore/fault_store.h"
#include "metastore/metastore_test_util.h"

namespace ks::cluster::testing {

// One embedded store in a temp dir; each broker of a test gets its own fault wrapper around it.
class StoreEnv {
 public:
  StoreEnv() {
    metastore::EmbeddedOptions o;
    o.lease_check_interval = std::chrono::milliseconds(10);
    auto s = metastore::EmbeddedMetadataStore::open(dir_.path(), o);
    if (!s.ok()) {
      ADD_FAILURE() << s.status().to_string();
      return;
    }
    store_ = std::shared_ptr<metastore::EmbeddedMetadataStore>(std::move(s).value());
  }
  const std::shared_ptr<metastore::EmbeddedMetadataStore>& store() const { return store_; }
  std::shared_ptr<metastore::FaultMetadataStore> fault() const {
    return std::make_shared<metastore::FaultMetadataStore>(store_);
  }

 private:
  metastore::testing::TempDir dir_;
  std::shared_ptr<metastore::EmbeddedMetadataStore> store_;
};

// Runs body(io, pool) -> awaitable<void> on a fresh loop; fails the test if it
// does not finish within `limit`. The loop is stopped once the body returns.
template <class Body>
void run_loop(Body body, std::chrono::seconds limit = std::chrono::seconds(60)) {
  asio::io_context io;
  asio::thread_pool pool(2);
  bool done = false;
  asio::co_spawn(
      io,
      [&]() -> awaitable<void> {
        co_await body(io, pool);
        done = true;
        io.stop();
      },
      [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
      });
  io.run_for(limit);
  pool.join();
  EXPECT_TRUE(done) << "the test body did not finish in time";
}

// Polls `pred` (on the loop) until it holds or `timeout` passed; returns its last value.
template <class Pred>
awaitable<bool> until(Pred& pred, std::chrono::milliseconds timeout = std::chrono::milliseconds(10'000)) {
  const auto deadline = Clock::now() + timeout;
  auto ex = co_await asio::this_coro::executor;
  while (!pred()) {
    if (Clock::now() >= deadline) co_return false;
    asio::steady_timer t(ex, std::chrono::milliseconds(5));
    co_await t.async_wait(asio::use_awaitable);
  }
  co_return true;
}

// Streams per node of `p` (nodes with none are absent; -1 counts unplaced streams).
inline std::map<std::int32_t, std::int32_t> stream_counts(const Placement& p) {
  std::map<std::int32_t, std::int32_t> n;
  for (const auto& s : p.streams) ++n[s.node];
  return n;
}

}  // namespace ks::cluster::testing
