// The metadata store's calls as awaitables: each runs on the worker pool and
// resumes the caller on its loop. Defined inline (plain functions, not
// coroutines): g++ 12 mishandles awaitables of coroutines with class-type
// parameters returned across translation units, and lambdas written inside a
// co_await expression.
#pragma once

#include <memory>
#include <string>

#include "common/async.h"
#include "metastore/metadata_store.h"

namespace ks::metastore {

class AsyncMetadataStore {
 public:
  AsyncMetadataStore(asio::thread_pool& pool, std::shared_ptr<MetadataStore> meta)
      : pool_(pool), meta_(std::move(meta)) {}

  awaitable<Result<TxnResponse>> txn(TxnRequest t) {
    return offload(pool_, [m = meta_, t = std::move(t)] { return m->txn(t); });
  }
  awaitable<Result<std::int64_t>> put(std::string key, std::string value) {
    return offload(
        pool_, [m = meta_, key = std::move(key), value = std::move(value)] { return m->put(key, value); });
  }
  // Deletes one key; returns the store revision after the delete (what a
  // watch must reach to show it), not the number of keys deleted.
  awaitable<Result<std::int64_t>> remove(std::string key) {
    return offload(pool_, [m = meta_, key = std::move(key)]() -> Result<std::int64_t> {
      TxnRequest t;
      t.success.push_back(Op::del(key));
      auto r = m->txn(t);
      if (!r.ok()) return r.status();
      return r->revision;
    });
  }
  awaitable<Result<RangeResponse>> range(RangeRequest rq) {
    return offload(pool_, [m = meta_, rq = std::move(rq)] { return m->range(rq); });
  }
  // One key (empty kvs when absent).
  awaitable<Result<RangeResponse>> get(std::string key) {
    RangeRequest rq;
    rq.key = std::move(key);
    return range(std::move(rq));
  }

  asio::thread_pool& pool() { return pool_; }
  const std::shared_ptr<MetadataStore>& store() const { return meta_; }

 private:
  asio::thread_pool& pool_;
  std::shared_ptr<MetadataStore> meta_;
};

}  // namespace ks::metastore
