#include "broker/backend_monitor.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "metastore/embedded_store.h"
#include "metastore/fault_store.h"
#include "objstore/fault_store.h"
#include "objstore/local_store.h"

namespace ks::broker {
namespace {

using namespace std::chrono_literals;

struct Fixture {
  std::string dir;
  std::shared_ptr<objstore::FaultObjectStore> fault;
  std::shared_ptr<metastore::MetadataStore> meta;

  Fixture() {
    char tmpl[] = "/tmp/ks_monitor_XXXXXX";
    dir = mkdtemp(tmpl);
    auto local = objstore::LocalObjectStore::open(dir + "/objects");
    EXPECT_TRUE(local.ok());
    fault = std::make_shared<objstore::FaultObjectStore>(
        std::shared_ptr<objstore::ObjectStore>(std::move(*local)));
    auto m = metastore::EmbeddedMetadataStore::open(dir + "/meta");
    EXPECT_TRUE(m.ok());
    meta = std::shared_ptr<metastore::MetadataStore>(std::move(*m));
  }
  ~Fixture() { std::filesystem::remove_all(dir); }
};

// Runs io until pred() holds or the deadline passes.
bool run_until(asio::io_context& io, const std::function<bool()>& pred,
               std::chrono::milliseconds limit = 10s) {
  const auto deadline = Clock::now() + limit;
  while (!pred() && Clock::now() < deadline) {
    io.run_for(5ms);
    if (io.stopped()) io.restart();
  }
  return pred();
}

MonitorOptions fast() {
  MonitorOptions o;
  o.tick = 5ms;
  o.health.min_dwell = 0ms;
  return o;
}

TEST(BackendMonitorTest, ProbesWhileUnavailableAndRecovers) {
  Fixture f;
  asio::io_context io;
  asio::thread_pool pool(2);
  BackendMonitor m(io, pool, f.fault, f.meta, fast());
  auto objects = m.objects();
  EXPECT_EQ(m.object_store_health(), objstore::Health::healthy);
  EXPECT_FALSE(m.writes_unavailable());
  EXPECT_EQ(m.not_ready_reason(), "");
  m.start();

  f.fault->set_unavailable(true);
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(objects->put("k", "v").ok());
  EXPECT_TRUE(m.writes_unavailable());
  EXPECT_NE(m.not_ready_reason().find("object store unavailable"), std::string::npos) << m.not_ready_reason();

  // Many probes fail meanwhile; none may disturb the store's ownership (a regression: a probe
  // lambda destroyed twice in a coroutine frame released the store early).
  const long owners = objects.use_count();
  const auto probes_before = f.fault->calls(objstore::FaultObjectStore::Op::put);
  ASSERT_TRUE(run_until(
      io, [&] { return f.fault->calls(objstore::FaultObjectStore::Op::put) >= probes_before + 20; }));
  EXPECT_TRUE(m.writes_unavailable());

  f.fault->set_unavailable(false);
  ASSERT_TRUE(run_until(io, [&] { return !m.writes_unavailable(); }));
  // Back to healthy once the failures age out of the window (dwell 0 here).
  EXPECT_EQ(m.not_ready_reason(), "");
  m.stop();
  io.run_for(50ms);
  pool.join();
  EXPECT_EQ(objects.use_count(), owners);
}

TEST(BackendMonitorTest, HealthyStoreIsNotProbed) {
  Fixture f;
  asio::io_context io;
  asio::thread_pool pool(1);
  BackendMonitor m(io, pool, f.fault, f.meta, fast());
  m.start();
  io.run_for(100ms);
  EXPECT_EQ(f.fault->calls(objstore::FaultObjectStore::Op::put), 0u);
  m.stop();
  pool.join();
}

TEST(BackendMonitorTest, MetadataOutageMakesNotReadyWithHysteresis) {
  Fixture f;
  auto fault = std::make_shared<metastore::FaultMetadataStore>(f.meta);
  asio::io_context io;
  asio::thread_pool pool(2);
  MonitorOptions o = fast();
  o.meta_failures_to_unready = 3;
  o.meta_successes_to_ready = 3;
  BackendMonitor m(io, pool, f.fault, fault, o);
  EXPECT_TRUE(m.metadata_reachable());
  m.start();
  // Healthy: probes run and succeed.
  ASSERT_TRUE(run_until(io, [&] { return fault->calls(metastore::StoreMethod::range) >= 3; }));
  EXPECT_EQ(m.not_ready_reason(), "");

  // Two failures in a row are not an outage yet (threshold 3).
  fault->fail_next(metastore::StoreMethod::range, 2, Errc::unavailable);
  ASSERT_TRUE(run_until(io, [&] { return fault->injected(metastore::StoreMethod::range) >= 2; }));
  const auto after_blip = fault->calls(metastore::StoreMethod::range);
  ASSERT_TRUE(run_until(io, [&] { return fault->calls(metastore::StoreMethod::range) >= after_blip + 3; }));
  EXPECT_TRUE(m.metadata_reachable());
  EXPECT_EQ(m.not_ready_reason(), "");

  // An outage: not ready, with the reason.
  fault->set_unavailable(true);
  ASSERT_TRUE(run_until(io, [&] { return !m.metadata_reachable(); }));
  EXPECT_NE(m.not_ready_reason().find("metadata store unreachable"), std::string::npos)
      << m.not_ready_reason();
  EXPECT_GE(fault->injected(metastore::StoreMethod::range), 2u + 3u);
  EXPECT_FALSE(m.writes_unavailable());  // produce is gated by the object store only

  // Recovery needs several good probes in a row: one good probe between failures is not enough.
  fault->set_unavailable(false);
  const auto before = fault->calls(metastore::StoreMethod::range);
  ASSERT_TRUE(run_until(io, [&] { return fault->calls(metastore::StoreMethod::range) >= before + 1; }));
  fault->fail_next(metastore::StoreMethod::range, 1, Errc::unavailable);
  ASSERT_TRUE(run_until(io, [&] { return m.metadata_reachable(); }));
  EXPECT_GE(fault->calls(metastore::StoreMethod::range), before + 1 + 1 + 3);
  EXPECT_EQ(m.not_ready_reason(), "");
  m.stop();
  io.run_for(50ms);
  pool.join();
}

TEST(BackendMonitorTest, HungMetadataStoreIsNotReadyWhileStalled) {
  Fixture f;
  auto fault = std::make_shared<metastore::FaultMetadataStore>(f.meta);
  asio::io_context io;
  asio::thread_pool pool(2);
  MonitorOptions o = fast();
  o.meta_stall = 50ms;
  o.meta_successes_to_ready = 2;
  BackendMonitor m(io, pool, f.fault, fault, o);
  m.start();
  ASSERT_TRUE(run_until(io, [&] { return fault->calls(metastore::StoreMethod::range) >= 1; }));
  // Calls hang (far longer than the stall limit): not ready while the probe is outstanding.
  fault->set_latency(60s);
  ASSERT_TRUE(run_until(io, [&] { return !m.metadata_reachable(); }));
  EXPECT_NE(m.not_ready_reason().find("metadata store unreachable: no answer for"), std::string::npos)
      << m.not_ready_reason();
  // The backend comes back: the hung call ends (as a timeout) and later probes answer quickly.
  fault->set_latency(0ms);
  EXPECT_GE(fault->crash(), 1u);
  ASSERT_TRUE(run_until(io, [&] { return m.metadata_reachable(); }));
  EXPECT_EQ(m.not_ready_reason(), "");
  m.stop();
  io.run_for(50ms);
  pool.join();
}

}  // namespace
}  // namespace ks::broker
