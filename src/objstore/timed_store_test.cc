#include "objstore/timed_store.h"

#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include "common/metrics_test_util.h"
#include "objstore/fault_store.h"
#include "objstore/test_util.h"

#define KS_OBJSTORE_CONFORMANCE_SUITE TimedStoreConformance
#include "objstore/object_store_conformance.h"

namespace ks::objstore {

INSTANTIATE_TEST_SUITE_P(TimedOverLocal, TimedStoreConformance,
                         ::testing::Values(StoreFactory{"timed",
                                                        [] {
                                                          auto local = testing::make_temp_local_store();
                                                          if (!local) return std::shared_ptr<ObjectStore>();
                                                          return std::shared_ptr<ObjectStore>(
                                                              std::make_shared<TimedObjectStore>(local));
                                                        }}),
                         StoreFactoryName);

namespace {

using namespace std::chrono_literals;

using metrics::testing::series_value;

std::string bucket(const char* le, const char* op) {
  return std::string("kafscale_objstore_request_seconds_bucket{le=\"") + le + "\",op=\"" + op + "\"}";
}

TEST(TimedObjectStoreTest, RecordsLatencyPerOperation) {
  auto local = testing::make_temp_local_store();
  ASSERT_TRUE(local);
  auto fault = std::make_shared<FaultObjectStore>(local);
  fault->set_latency(FaultObjectStore::Op::put, 20ms);
  metrics::Registry reg;
  TimedObjectStore store(fault, reg);

  ASSERT_TRUE(store.put("a/1", "hello").ok());
  auto g = store.get("a/1");
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(*g, "hello");
  EXPECT_FALSE(store.get("a/missing").ok());  // failures are timed too
  ASSERT_TRUE(store.list("a/").ok());
  ASSERT_TRUE(store.remove("a/1").ok());

  const std::string text = reg.render();
  // The PUT took at least its injected 20 ms: not in the 15 ms bucket (no upper
  // bound: fsync on a busy machine takes what it takes).
  EXPECT_EQ(series_value(text, bucket("0.015", "put")), 0) << text;
  EXPECT_EQ(series_value(text, bucket("+Inf", "put")), 1) << text;
  EXPECT_EQ(series_value(text, "kafscale_objstore_request_seconds_count{op=\"put\"}"), 1);
  EXPECT_GE(series_value(text, "kafscale_objstore_request_seconds_sum{op=\"put\"}"), 0.02);
  EXPECT_EQ(series_value(text, "kafscale_objstore_request_seconds_count{op=\"get\"}"), 2);
  EXPECT_EQ(series_value(text, bucket("+Inf", "get")), 2);
  EXPECT_EQ(series_value(text, "kafscale_objstore_request_seconds_count{op=\"list\"}"), 1);
  EXPECT_EQ(series_value(text, "kafscale_objstore_request_seconds_count{op=\"delete\"}"), 1);
  // Buckets are cumulative: never decreasing with the bound.
  double prev = 0;
  for (double b : metrics::latency_bounds()) {
    std::ostringstream le;
    le << b;
    double v = series_value(text, bucket(le.str().c_str(), "put"));
    ASSERT_GE(v, 0) << "missing bucket le=" << le.str() << "\n" << text;
    EXPECT_GE(v, prev);
    prev = v;
  }
}

}  // namespace
}  // namespace ks::objstore
