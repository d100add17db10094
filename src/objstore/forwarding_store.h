// ForwardingObjectStore: the base of ObjectStore decorators. Forwards every
// call to the inner store, so a decorator overrides only what it changes.
#pragma once

#include <memory>
#include <utility>

#include "objstore/object_store.h"

namespace ks::objstore {

class ForwardingObjectStore : public ObjectStore {
 public:
  explicit ForwardingObjectStore(std::shared_ptr<ObjectStore> inner) : inner_(std::move(inner)) {}

  Status put(std::string_view key, std::string_view data) override { return inner_->put(key, data); }
  Result<std::string> get(std::string_view key, std::optional<ByteRange> range = std::nullopt) override {
    return inner_->get(key, range);
  }
  Result<std::vector<ObjectInfo>> list(std::string_view prefix) override { return inner_->list(prefix); }
  Status remove(std::string_view key) override { return inner_->remove(key); }
  std::string describe() const override { return inner_->describe(); }

 protected:
  const std::shared_ptr<ObjectStore> inner_;
};

}  // namespace ks::objstore
