#include "metastore/timed_store.h"

#include <chrono>

namespace ks::metastore {

TimedMetadataStore::TimedMetadataStore(std::shared_ptr<MetadataStore> inner, metrics::Registry& registry)
    : ForwardingMetadataStore(std::move(inner)),
      txn_(registry.histogram("kafscale_metastore_txn_seconds",
                              "Metadata store transaction latency in seconds")) {}

Result<TxnResponse> TimedMetadataStore::txn(const TxnRequest& req) {
  const auto start = std::chrono::steady_clock::now();
  auto r = inner_->txn(req);
  txn_.observe(std::chrono::steady_clock::now() - start);  // failures too
  return r;
}

}  // namespace ks::metastore
