#include "cluster/producer_ids.h"

#include <nlohmann/json.hpp>

#include "cluster/keys.h"

namespace ks::cluster {

using metastore::Compare;
using metastore::Op;

namespace {

// Callables for the pool, built outside coroutines: g++ 12 destroys some
// lambda temporaries in a co_await expression twice.
std::function<Result<std::int64_t>()> reserve_fn(std::shared_ptr<metastore::MetadataStore> m) {
  return [m = std::move(m)] { return reserve_producer_ids(*m); };
}

}  // namespace

Result<std::int64_t> reserve_producer_ids(metastore::MetadataStore& m) {
  const std::string key = keys::producer_ids();
  // A few rounds: another broker may reserve at the same moment.
  for (int attempt = 0; attempt < 16; ++attempt) {
    metastore::RangeRequest rq;
    rq.key = key;
    auto r = m.range(rq);
    if (!r.ok()) return r.status();
    std::int64_t next = 0, mod = 0;
    if (!r->kvs.empty()) {
      auto j = nlohmann::json::parse(r->kvs[0].value, nullptr, false);
      if (j.is_discarded() || !j.is_object() || !j.contains("next") || !j["next"].is_number_integer()) {
        return Status(Errc::corrupt, key + ": unreadable");
      }
      next = j["next"].get<std::int64_t>();
      mod = r->kvs[0].mod_revision;
    }
    nlohmann::json v;
    v["v"] = 1;
    v["next"] = next + kProducerIdBlock;
    metastore::TxnRequest t;
    if (mod == 0) {
      t.compare.push_back(Compare{key, Compare::Target::create_revision, Compare::Result::equal, 0, {}});
    } else {
      t.compare.push_back(Compare{key, Compare::Target::mod_revision, Compare::Result::equal, mod, {}});
    }
    t.success.push_back(Op::put(key, v.dump()));
    auto tr = m.txn(t);
    if (!tr.ok()) return tr.status();
    if (tr->succeeded) return next;
  }
  return Status(Errc::unavailable, "producer id block: too much contention");
}

awaitable<Result<std::int64_t>> ProducerIdAllocator::allocate() {
  while (next_ >= end_) {
    if (fetching_) {
      co_await fetched_.wait_until(Clock::now() + std::chrono::seconds(1));
      continue;
    }
    fetching_ = true;
    auto r = co_await offload(pool_, reserve_fn(meta_));
    fetching_ = false;
    fetched_.notify_all();
    if (!r.ok()) co_return r.status();
    next_ = *r;
    end_ = *r + kProducerIdBlock;
  }
  co_return next_++;
}

}  // namespace ks::cluster
