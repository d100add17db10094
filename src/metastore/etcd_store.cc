// EtcdMetadataStore: the MetadataStore calls as gateway requests. The wire
// format is etcd_codec.h, the HTTP transport etcd_transport.h, watches
// etcd_watch.h and URL parsing etcd_url.cc.
#include "metastore/etcd_store.h"

#include <atomic>

#include "common/curl_init.h"
#include "metastore/etcd_codec.h"
#include "metastore/etcd_transport.h"
#include "metastore/etcd_watch.h"
#include "metastore/request_checks.h"

namespace ks::metastore {
namespace {

// Each watch holds a thread and a connection; the broker needs a handful.
constexpr std::size_t kMaxWatches = 64;

}  // namespace

// Shared with the watches (they keep the transport and the watch count alive).
struct EtcdMetadataStore::Impl {
  explicit Impl(EtcdOptions o)
      : transport(std::make_shared<etcd::Transport>(std::move(o))), keys{transport->options().prefix} {}

  std::shared_ptr<etcd::Transport> transport;
  const etcd::KeyPrefix keys;
  std::atomic<std::size_t> watches{0};
};

EtcdMetadataStore::EtcdMetadataStore(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
EtcdMetadataStore::~EtcdMetadataStore() = default;

Result<std::unique_ptr<EtcdMetadataStore>> EtcdMetadataStore::open(const std::string& url) {
  auto opts = parse_etcd_url(url);
  if (!opts.ok()) return opts.status();
  return open(std::move(opts).value());
}

Result<std::unique_ptr<EtcdMetadataStore>> EtcdMetadataStore::open(EtcdOptions options) {
  if (options.endpoints.empty()) return Status(Errc::invalid_argument, "metadata: etcd: no endpoints");
  if (options.timeout.count() <= 0 || options.connect_timeout.count() <= 0) {
    return Status(Errc::invalid_argument, "metadata: etcd: timeouts must be positive");
  }
  init_curl_once();
  const bool check = options.check_connection;
  std::unique_ptr<EtcdMetadataStore> store(new EtcdMetadataStore(std::make_shared<Impl>(std::move(options))));
  if (check) {
    // Any cheap authenticated read proves an endpoint answers.
    RangeRequest probe;
    probe.key = "/";
    probe.count_only = true;
    auto r = store->range(probe);
    if (!r.ok()) return Status(r.code(), "metadata: " + store->describe() + ": " + r.status().message());
  }
  return store;
}

Result<RangeResponse> EtcdMetadataStore::range(const RangeRequest& req) {
  if (Status s = check_range(req); !s.ok()) return s;
  auto r = impl_->transport->call("/v3/kv/range", etcd::encode_range(impl_->keys, req), true);
  if (!r.ok()) return r.status();
  return etcd::decode_range(impl_->keys, *r);
}

Result<std::int64_t> EtcdMetadataStore::put(const std::string& key, const std::string& value, LeaseId lease) {
  if (Status s = check_put(key, value); !s.ok()) return s;
  auto r = impl_->transport->call("/v3/kv/put", etcd::encode_put(impl_->keys, key, value, lease), false);
  if (!r.ok()) return r.status();
  return etcd::header_revision(*r);
}

Result<std::int64_t> EtcdMetadataStore::delete_range(const std::string& key, const std::string& range_end) {
  if (Status s = check_delete(key); !s.ok()) return s;
  auto r = impl_->transport->call("/v3/kv/deleterange",
                                  etcd::encode_delete_range(impl_->keys, key, range_end), false);
  if (!r.ok()) return r.status();
  return etcd::decode_deleted(*r);
}

Result<TxnResponse> EtcdMetadataStore::txn(const TxnRequest& req) {
  if (Status s = check_txn(req); !s.ok()) return s;
  auto r = impl_->transport->call("/v3/kv/txn", etcd::encode_txn(impl_->keys, req), false);
  if (!r.ok()) return r.status();
  return etcd::decode_txn(impl_->keys, *r);
}

Result<LeaseId> EtcdMetadataStore::lease_grant(std::int64_t ttl_seconds) {
  if (ttl_seconds <= 0) return Status(Errc::invalid_argument, "lease TTL must be positive");
  auto r = impl_->transport->call("/v3/lease/grant", etcd::encode_lease_grant(ttl_seconds), false);
  if (!r.ok()) return r.status();
  return etcd::decode_lease_grant(*r);
}

Status EtcdMetadataStore::lease_keepalive(LeaseId id) {
  auto r = impl_->transport->call("/v3/lease/keepalive", etcd::encode_lease_id(id), true);
  if (!r.ok()) return r.status();
  return etcd::decode_lease_keepalive(*r, id);
}

Status EtcdMetadataStore::lease_revoke(LeaseId id) {
  auto r = impl_->transport->call("/v3/lease/revoke", etcd::encode_lease_id(id), false);
  return r.ok() ? Status() : r.status();
}

Result<std::unique_ptr<Watch>> EtcdMetadataStore::watch(const std::string& key, const std::string& range_end,
                                                        std::int64_t start_revision, WatchCallback cb) {
  if (key.empty()) return Status(Errc::invalid_argument, "key is not provided");
  if (start_revision < 0) return Status(Errc::invalid_argument, "negative start revision");
  if (impl_->watches.fetch_add(1) >= kMaxWatches) {
    impl_->watches.fetch_sub(1);
    return Status(Errc::limit_exceeded, "more than " + std::to_string(kMaxWatches) + " etcd watches");
  }
  struct Release {  // undone once the watch owns the count
    Impl* impl;
    ~Release() {
      if (impl != nullptr) impl->watches.fetch_sub(1);
    }
  } release{impl_.get()};

  // etcd confirms a watch from a compacted revision and cancels it just
  // after; a read at that revision tells the caller synchronously.
  if (start_revision > 0) {
    RangeRequest probe;
    probe.key = key;
    probe.revision = start_revision;
    probe.count_only = true;
    auto r = range(probe);
    if (!r.ok() && r.code() != Errc::invalid_argument) return r.status();  // invalid: a future revision
  }
  auto w = etcd::start_watch(impl_->transport, impl_->keys, impl_->keys.key(key), impl_->keys.end(range_end),
                             start_revision, std::move(cb), [impl = impl_] { impl->watches.fetch_sub(1); });
  if (!w.ok()) return w.status();
  release.impl = nullptr;
  return w;
}

Status EtcdMetadataStore::compact(std::int64_t revision) {
  auto r = impl_->transport->call("/v3/kv/compaction", etcd::encode_compact(revision), false);
  return r.ok() ? Status() : r.status();
}

Result<EtcdStatus> EtcdMetadataStore::status() {
  auto r = impl_->transport->call("/v3/maintenance/status", etcd::json::object(), true);
  if (!r.ok()) return r.status();
  return etcd::decode_status(*r);
}

std::string EtcdMetadataStore::describe() const {
  const EtcdOptions& opts = impl_->transport->options();
  std::string s = opts.endpoints.front().rfind("https", 0) == 0 ? "etcds://" : "etcd://";
  for (std::size_t i = 0; i < opts.endpoints.size(); ++i) {
    const std::string& e = opts.endpoints[i];
    s += (i == 0 ? "" : ",") + e.substr(e.find("://") + 3);
  }
  return s + opts.prefix;
}

}  // namespace ks::metastore
