// The object store's calls as awaitables: each runs on the worker pool and
// resumes the caller on its loop (inline plain functions; see
// metastore/async.h for why).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/async.h"
#include "objstore/object_store.h"

namespace ks::objstore {

class AsyncObjectStore {
 public:
  AsyncObjectStore(asio::thread_pool& pool, std::shared_ptr<ObjectStore> objects)
      : pool_(pool), objects_(std::move(objects)) {}

  awaitable<Result<std::string>> get(std::string key, std::optional<ByteRange> range) {
    return offload(pool_, [o = objects_, key = std::move(key), range] { return o->get(key, range); });
  }
  // `bytes` must stay valid until the PUT finished (hold it in the caller's shared state).
  awaitable<Status> put(std::string key, std::shared_ptr<const std::string> bytes) {
    return offload(pool_, [o = objects_, key = std::move(key), bytes = std::move(bytes)] { return o->put(key, *bytes); });
  }

  asio::thread_pool& pool() { return pool_; }
  const std::shared_ptr<ObjectStore>& store() const { return objects_; }

 private:
  asio::thread_pool& pool_;
  std::shared_ptr<ObjectStore> objects_;
};

}  // namespace ks::objstore
