#include "metastore/timed_store.h"

#include <sstream>

#include "common/metrics_test_util.h"
#include "metastore/embedded_store.h"
#include "metastore/fault_store.h"

#define KS_METASTORE_CONFORMANCE_SUITE TimedWrapperConformance
#include "metastore/metadata_store_conformance.h"

namespace ks::metastore {
namespace {

using testing::MetadataStoreBackend;
using testing::TempDir;

std::shared_ptr<EmbeddedMetadataStore> make_inner() { return testing::temp_embedded_store(); }

std::shared_ptr<MetadataStore> make_wrapped() {
  auto inner = make_inner();
  if (!inner) return nullptr;
  return std::make_shared<TimedMetadataStore>(inner);
}

INSTANTIATE_TEST_SUITE_P(Timed, TimedWrapperConformance,
                         ::testing::Values(MetadataStoreBackend{"timed", make_wrapped, true}),
                         testing::backend_name);

using metrics::testing::series_value;

TEST(TimedMetadataStoreTest, RecordsTransactionLatency) {
  auto inner = make_inner();
  ASSERT_NE(inner, nullptr);
  auto fault = std::make_shared<FaultMetadataStore>(inner);
  metrics::Registry reg;
  TimedMetadataStore store(fault, reg);

  TxnRequest t;
  t.success.push_back(Op::put("a", "1"));
  ASSERT_TRUE(store.txn(t).ok());
  fault->set_latency(std::chrono::milliseconds(20));
  ASSERT_TRUE(store.txn(t).ok());
  fault->fail_next(StoreMethod::txn, 1, Errc::io_error);
  EXPECT_FALSE(store.txn(t).ok());        // failures are timed too
  ASSERT_TRUE(store.put("b", "2").ok());  // not a txn: not counted

  const std::string text = reg.render();
  EXPECT_EQ(series_value(text, "kafscale_metastore_txn_seconds_count"), 3) << text;
  EXPECT_EQ(series_value(text, "kafscale_metastore_txn_seconds_bucket{le=\"+Inf\"}"), 3) << text;
  // The second call waited the injected 20 ms: at most the other two are <= 15 ms.
  EXPECT_LE(series_value(text, "kafscale_metastore_txn_seconds_bucket{le=\"0.015\"}"), 2) << text;
  EXPECT_GE(series_value(text, "kafscale_metastore_txn_seconds_sum"), 0.02) << text;
}

}  // namespace
}  // namespace ks::metastore
