// TimedMetadataStore: wraps another MetadataStore and records the latency of
// each transaction (txn(): flush commits, checkpoints, ownership) in
// kafscale_metastore_txn_seconds. Other calls are forwarded untimed.
#pragma once

#include <memory>

#include "common/metrics.h"
#include "metastore/metadata_store.h"

namespace ks::metastore {

class TimedMetadataStore final : public MetadataStore {
 public:
  explicit TimedMetadataStore(std::shared_ptr<MetadataStore> inner,
                              metrics::Registry& registry = metrics::registry());

  Result<RangeResponse> range(const RangeRequest& req) override { return inner_->range(req); }
  Result<std::int64_t> put(const std::string& key, const std::string& value, LeaseId lease = 0) override {
    return inner_->put(key, value, lease);
  }
  Result<std::int64_t> delete_range(const std::string& key, const std::string& range_end = {}) override {
    return inner_->delete_range(key, range_end);
  }
  Result<TxnResponse> txn(const TxnRequest& req) override;
  Result<LeaseId> lease_grant(std::int64_t ttl_seconds) override { return inner_->lease_grant(ttl_seconds); }
  Status lease_keepalive(LeaseId id) override { return inner_->lease_keepalive(id); }
  Status lease_revoke(LeaseId id) override { return inner_->lease_revoke(id); }
  Result<std::unique_ptr<Watch>> watch(const std::string& key, const std::string& range_end,
                                       std::int64_t start_revision, WatchCallback cb) override {
    return inner_->watch(key, range_end, start_revision, std::move(cb));
  }
  Status compact(std::int64_t revision) override { return inner_->compact(revision); }
  std::string describe() const override { return inner_->describe(); }

 private:
  std::shared_ptr<MetadataStore> inner_;
  metrics::Histogram& txn_;
};

}  // namespace ks::metastore
