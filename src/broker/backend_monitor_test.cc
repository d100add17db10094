#include "broker/backend_monitor.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "metastore/embedded_store.h"
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

}  // namespace
}  // namespace ks::broker
