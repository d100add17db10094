// TimedMetadataStore: wraps another MetadataStore and records the latency of
// each transaction (txn(): flush commits, checkpoints, ownership) in
// kafscale_metastore_txn_seconds. Other calls are forwarded untimed.
#pragma once

#include <memory>

#include "common/metrics.h"
#include "metastore/forwarding_store.h"

namespace ks::metastore {

class TimedMetadataStore final : public ForwardingMetadataStore {
 public:
  explicit TimedMetadataStore(std::shared_ptr<MetadataStore> inner,
                              metrics::Registry& registry = metrics::registry());

  Result<TxnResponse> txn(const TxnRequest& req) override;

 private:
  metrics::Histogram& txn_;
};

}  // namespace ks::metastore
