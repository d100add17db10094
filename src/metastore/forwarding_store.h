// ForwardingMetadataStore: the base of MetadataStore decorators. Forwards
// every call to the inner store, so a decorator overrides only what it
// changes.
#pragma once

#include <memory>
#include <utility>

#include "metastore/metadata_store.h"

namespace ks::metastore {

class ForwardingMetadataStore : public MetadataStore {
 public:
  explicit ForwardingMetadataStore(std::shared_ptr<MetadataStore> inner) : inner_(std::move(inner)) {}

  Result<RangeResponse> range(const RangeRequest& req) override { return inner_->range(req); }
  Result<std::int64_t> put(const std::string& key, const std::string& value, LeaseId lease = 0) override {
    return inner_->put(key, value, lease);
  }
  Result<std::int64_t> delete_range(const std::string& key, const std::string& range_end = {}) override {
    return inner_->delete_range(key, range_end);
  }
  Result<TxnResponse> txn(const TxnRequest& req) override { return inner_->txn(req); }
  Result<LeaseId> lease_grant(std::int64_t ttl_seconds) override { return inner_->lease_grant(ttl_seconds); }
  Status lease_keepalive(LeaseId id) override { return inner_->lease_keepalive(id); }
  Status lease_revoke(LeaseId id) override { return inner_->lease_revoke(id); }
  Result<std::unique_ptr<Watch>> watch(const std::string& key, const std::string& range_end,
                                       std::int64_t start_revision, WatchCallback cb) override {
    return inner_->watch(key, range_end, start_revision, std::move(cb));
  }
  Status compact(std::int64_t revision) override { return inner_->compact(revision); }
  std::string describe() const override { return inner_->describe(); }

 protected:
  const std::shared_ptr<MetadataStore> inner_;
};

}  // namespace ks::metastore
