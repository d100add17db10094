// TimedObjectStore: wraps another ObjectStore and records each request's
// latency in kafscale_objstore_request_seconds{op="put"|"get"|"list"|"delete"}
// (failed requests included).
#pragma once

#include <memory>

#include "common/metrics.h"
#include "objstore/forwarding_store.h"

namespace ks::objstore {

class TimedObjectStore final : public ForwardingObjectStore {
 public:
  explicit TimedObjectStore(std::shared_ptr<ObjectStore> inner,
                            metrics::Registry& registry = metrics::registry());

  Status put(std::string_view key, std::string_view data) override;
  Result<std::string> get(std::string_view key, std::optional<ByteRange> range = std::nullopt) override;
  Result<std::vector<ObjectInfo>> list(std::string_view prefix) override;
  Status remove(std::string_view key) override;

 private:
  metrics::Histogram &put_, &get_, &list_, &remove_;
};

}  // namespace ks::objstore
