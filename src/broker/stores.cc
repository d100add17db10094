#include "broker/stores.h"

#include <fstream>
#include <sstream>

#include "common/metrics.h"
#include "metastore/embedded_store.h"
#include "metastore/etcd_store.h"
#include "metastore/forwarding_store.h"
#include "metastore/timed_store.h"
#include "objstore/forwarding_store.h"
#include "objstore/local_store.h"
#include "objstore/s3_store.h"
#include "objstore/timed_store.h"

namespace ks::broker {
namespace {

bool strip(std::string& s, std::string_view prefix) {
  if (s.rfind(prefix, 0) != 0) return false;
  s.erase(0, prefix.size());
  return true;
}

metrics::Counter& obj_counter(const char* name, const char* help, const char* op) {
  return metrics::registry().counter(name, help, {{"op", op}});
}

class CountingObjectStore final : public objstore::ForwardingObjectStore {
 public:
  explicit CountingObjectStore(std::shared_ptr<ObjectStore> inner) : ForwardingObjectStore(std::move(inner)) {
    for (const char* op : {"put", "get", "list", "delete"}) {
      req(op);
      err(op);
    }
    bytes("put");
    bytes("get");
  }

  Status put(std::string_view key, std::string_view data) override {
    req("put").inc();
    bytes("put").add(data.size());
    return check("put", inner_->put(key, data));
  }
  Result<std::string> get(std::string_view key, std::optional<objstore::ByteRange> range) override {
    req("get").inc();
    auto r = inner_->get(key, range);
    if (r.ok())
      bytes("get").add(r->size());
    else
      err("get").inc();
    return r;
  }
  Result<std::vector<objstore::ObjectInfo>> list(std::string_view prefix) override {
    req("list").inc();
    auto r = inner_->list(prefix);
    if (!r.ok()) err("list").inc();
    return r;
  }
  Status remove(std::string_view key) override {
    req("delete").inc();
    return check("delete", inner_->remove(key));
  }

 private:
  static metrics::Counter& req(const char* op) {
    return obj_counter("kafscale_objstore_requests_total", "Object store requests", op);
  }
  static metrics::Counter& bytes(const char* op) {
    return obj_counter("kafscale_objstore_bytes_total", "Object store bytes transferred", op);
  }
  static metrics::Counter& err(const char* op) {
    return obj_counter("kafscale_objstore_errors_total", "Object store requests that failed", op);
  }
  Status check(const char* op, Status s) {
    if (!s.ok()) err(op).inc();
    return s;
  }
};

class CountingMetadataStore final : public metastore::ForwardingMetadataStore {
 public:
  explicit CountingMetadataStore(std::shared_ptr<MetadataStore> inner)
      : ForwardingMetadataStore(std::move(inner)) {
    txns();
    keys();
  }

  Result<metastore::RangeResponse> range(const metastore::RangeRequest& req) override {
    reqs("range").inc();
    return inner_->range(req);
  }
  Result<std::int64_t> put(const std::string& key, const std::string& value,
                           metastore::LeaseId lease) override {
    reqs("put").inc();
    txns().inc();
    auto r = inner_->put(key, value, lease);
    if (r.ok()) keys().inc();
    return r;
  }
  Result<std::int64_t> delete_range(const std::string& key, const std::string& range_end) override {
    reqs("delete").inc();
    txns().inc();
    auto r = inner_->delete_range(key, range_end);
    if (r.ok()) keys().inc();
    return r;
  }
  Result<metastore::TxnResponse> txn(const metastore::TxnRequest& req) override {
    reqs("txn").inc();
    txns().inc();
    auto r = inner_->txn(req);
    if (r.ok()) {
      // Keys written = write operations of the branch that ran (a range
      // delete counts once: it is one operation, whatever it removes).
      for (const auto& op : r->succeeded ? req.success : req.failure) {
        if (op.type != metastore::Op::Type::range) keys().inc();
      }
    }
    return r;
  }

 private:
  static metrics::Counter& reqs(const char* op) {
    return metrics::registry().counter("kafscale_metastore_requests_total", "Metadata store requests",
                                       {{"op", op}});
  }
  static metrics::Counter& txns() {
    return metrics::registry().counter("kafscale_metastore_txns_total", "Metadata store write transactions");
  }
  static metrics::Counter& keys() {
    return metrics::registry().counter("kafscale_metastore_keys_written_total",
                                       "Keys written (put or deleted) in the metadata store");
  }
};

Status bad_etcd_setting(const std::string& why) {
  return Status(Errc::invalid_argument, "metadata: etcd URL: " + why);
}

Result<std::string> read_password_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return bad_etcd_setting("cannot read KAFSCALE_ETCD_PASSWORD_FILE '" + path + "'");
  std::ostringstream ss;
  ss << in.rdbuf();
  std::string pw = ss.str();
  if (!pw.empty() && pw.back() == '\n') pw.pop_back();
  if (!pw.empty() && pw.back() == '\r') pw.pop_back();
  return pw;
}

}  // namespace

Result<metastore::EtcdOptions> etcd_options(const std::string& url, const EnvLookup& env) {
  auto parsed = metastore::parse_etcd_url(url);
  if (!parsed.ok()) return parsed.status();
  metastore::EtcdOptions o = std::move(parsed).value();
  o.username = env("KAFSCALE_ETCD_USERNAME").value_or("");
  std::string pw = env("KAFSCALE_ETCD_PASSWORD").value_or("");
  const std::string pw_file = env("KAFSCALE_ETCD_PASSWORD_FILE").value_or("");
  if (!pw.empty() && !pw_file.empty()) {
    return bad_etcd_setting("set KAFSCALE_ETCD_PASSWORD or KAFSCALE_ETCD_PASSWORD_FILE, not both");
  }
  if (!pw_file.empty()) {
    auto r = read_password_file(pw_file);
    if (!r.ok()) return r.status();
    pw = std::move(r).value();
  }
  if (o.username.empty() && (!pw.empty() || !pw_file.empty())) {
    return bad_etcd_setting("an etcd password is set but KAFSCALE_ETCD_USERNAME is not");
  }
  if (!o.username.empty() && pw.empty()) {
    return bad_etcd_setting("KAFSCALE_ETCD_USERNAME is set but no password (KAFSCALE_ETCD_PASSWORD[_FILE])");
  }
  o.password = std::move(pw);
  return o;
}

Result<std::shared_ptr<objstore::ObjectStore>> open_object_store(const std::string& url,
                                                                 const EnvLookup& env) {
  std::string path = url;
  if (strip(path, "file://")) {
    if (path.empty()) return Status(Errc::invalid_argument, "object-store: file:// needs a path");
    auto s = objstore::LocalObjectStore::open(path);
    if (!s.ok()) return s.status();
    return std::shared_ptr<objstore::ObjectStore>(std::move(s).value());
  }
  if (url.rfind("s3://", 0) == 0) {
    // Credentials come from the environment (keys, shared file, or web
    // identity), never from the URL or the command line.
    auto creds = objstore::default_credentials_provider(env);
    if (!creds.ok()) return Status(creds.code(), "object-store: " + creds.status().message());
    objstore::S3Options options;
    options.credentials = std::move(*creds);
    auto s = objstore::S3ObjectStore::open(url, std::move(options));
    if (!s.ok()) return Status(s.code(), "object-store: " + s.status().message());
    return std::shared_ptr<objstore::ObjectStore>(std::move(s).value());
  }
  return Status(Errc::invalid_argument, "object-store: unsupported URL '" + url +
                                            "' (this build supports file:///path and "
                                            "s3://bucket/prefix?endpoint=...&region=...&path_style=...)");
}

Result<std::shared_ptr<metastore::MetadataStore>> open_metadata_store(const std::string& url,
                                                                      const EnvLookup& env) {
  std::string path = url;
  if (strip(path, "embedded://")) {
    if (path.empty()) return Status(Errc::invalid_argument, "metadata: embedded:// needs a path");
    auto s = metastore::EmbeddedMetadataStore::open(path);
    if (!s.ok()) return s.status();
    return std::shared_ptr<metastore::MetadataStore>(std::move(s).value());
  }
  if (url.rfind("etcd://", 0) == 0 || url.rfind("etcds://", 0) == 0) {
    auto options = etcd_options(url, env);
    if (!options.ok()) return options.status();
    auto s = metastore::EtcdMetadataStore::open(std::move(options).value());
    if (!s.ok()) return s.status();
    return std::shared_ptr<metastore::MetadataStore>(std::move(s).value());
  }
  return Status(Errc::invalid_argument,
                "metadata: unsupported URL '" + url +
                    "' (this build supports embedded:///path, etcd://HOST:PORT[,...]/PREFIX)");
}

// Counted and timed (kafscale_objstore_request_seconds, kafscale_metastore_txn_seconds).
std::shared_ptr<objstore::ObjectStore> counting(std::shared_ptr<objstore::ObjectStore> inner) {
  return std::make_shared<CountingObjectStore>(
      std::make_shared<objstore::TimedObjectStore>(std::move(inner)));
}
std::shared_ptr<metastore::MetadataStore> counting(std::shared_ptr<metastore::MetadataStore> inner) {
  return std::make_shared<CountingMetadataStore>(
      std::make_shared<metastore::TimedMetadataStore>(std::move(inner)));
}

}  // namespace ks::broker
