#include "broker/nospace_store.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <mutex>

#include "common/metrics.h"
#include "metastore/forwarding_store.h"

namespace ks::broker {

std::string nospace_advice(std::int64_t db_size_bytes) {
  std::string size =
      db_size_bytes > 0 ? fmt::format(", database {:.1f} MiB", static_cast<double>(db_size_bytes) / (1 << 20))
                        : "";
  return fmt::format(
      "etcd is out of space (NOSPACE alarm{}): every metadata write fails, so producers get retriable errors "
      "until an operator frees space: compact old revisions (etcdctl compaction REV; this broker also "
      "compacts "
      "every minute), defragment each member (etcdctl defrag), then disarm the alarm (etcdctl alarm disarm); "
      "or "
      "restart etcd with a larger --quota-backend-bytes (default 2 GiB)",
      size);
}

namespace {

using metastore::LeaseId;

metrics::Counter& nospace_errors() {
  static auto& c =
      metrics::registry().counter("kafscale_metastore_nospace_errors_total",
                                  "Metadata store calls refused because etcd is out of space (NOSPACE)");
  return c;
}

class NospaceLoggingStore final : public metastore::ForwardingMetadataStore {
 public:
  NospaceLoggingStore(std::shared_ptr<MetadataStore> inner, std::chrono::milliseconds every, LogLine log)
      : ForwardingMetadataStore(std::move(inner)), every_(every), log_(std::move(log)) {
    nospace_errors();
  }

  // Reads, lease refreshes, watches and compaction work during the alarm: forwarded as they are.
  Result<std::int64_t> put(const std::string& key, const std::string& value, LeaseId lease) override {
    return write(inner_->put(key, value, lease));
  }
  Result<std::int64_t> delete_range(const std::string& key, const std::string& range_end) override {
    return write(inner_->delete_range(key, range_end));
  }
  Result<metastore::TxnResponse> txn(const metastore::TxnRequest& req) override {
    return write(inner_->txn(req));
  }
  Result<LeaseId> lease_grant(std::int64_t ttl) override { return write(inner_->lease_grant(ttl)); }

 private:
  template <class R>
  R write(R r) {
    observe(r.ok() ? Errc::ok : r.code());
    return r;
  }

  void observe(Errc code) {
    using SteadyClock = std::chrono::steady_clock;
    std::string line;
    bool error = false;
    {
      std::lock_guard l(mu_);
      const auto now = SteadyClock::now();
      if (code == Errc::nospace) {
        nospace_errors().inc();
        ++refused_;
        if (!active_ || now - last_log_ >= every_) {
          line = nospace_advice(0) + fmt::format(" [{} writes refused so far]", refused_);
          error = true;
          last_log_ = now;
        }
        active_ = true;
      } else if (code == Errc::ok && active_) {
        active_ = false;
        line = fmt::format("etcd accepts writes again after {} were refused for lack of space", refused_);
        refused_ = 0;
      }
    }
    if (line.empty()) return;
    if (log_) {
      log_(error, line);
    } else if (error) {
      spdlog::error("{}", line);
    } else {
      spdlog::info("{}", line);
    }
  }

  const std::chrono::milliseconds every_;
  const LogLine log_;
  std::mutex mu_;
  bool active_ = false;  // the last write was refused for lack of space
  std::chrono::steady_clock::time_point last_log_{};
  std::uint64_t refused_ = 0;
};

}  // namespace

std::shared_ptr<metastore::MetadataStore> log_nospace(std::shared_ptr<metastore::MetadataStore> inner,
                                                      std::chrono::milliseconds log_every, LogLine log) {
  return std::make_shared<NospaceLoggingStore>(std::move(inner), log_every, std::move(log));
}

}  // namespace ks::broker
