#include "broker/startup.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <random>
#include <thread>

#include "broker/nospace_store.h"
#include "broker/stores.h"
#include "metastore/etcd_store.h"

namespace ks::broker {
namespace {

using SteadyClock = std::chrono::steady_clock;
using std::chrono::milliseconds;

std::string random_hex(std::size_t bytes) {
  std::random_device rd;
  std::string out;
  for (std::size_t i = 0; i < bytes; ++i) out += fmt::format("{:02x}", rd() & 0xff);
  return out;
}

// Runs `attempt` until it succeeds, fails with invalid_argument (a bad
// setting: retrying cannot help), or `deadline` passes. Returns the last
// status; `attempts` counts the calls.
Status retry_until(const std::string& what, SteadyClock::time_point deadline, const StartupOptions& o,
                   const std::function<Status()>& attempt, int& attempts) {
  auto backoff = o.first_backoff;
  auto last_log = SteadyClock::time_point::min();
  for (attempts = 1;; ++attempts) {
    Status s = attempt();
    if (s.ok()) {
      if (attempts > 1) spdlog::info("{} answered after {} attempts", what, attempts);
      return s;
    }
    if (s.code() == Errc::invalid_argument) return s;
    const auto now = SteadyClock::now();
    if (now >= deadline) return s;
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - now);
    if (last_log == SteadyClock::time_point::min() || now - last_log >= o.log_every) {
      spdlog::warn("{} is not ready (attempt {}): {}; retrying for up to {} ms more", what, attempts,
                   s.to_string(), left.count());
      last_log = now;
    }
    const auto wait = std::min(backoff, left);
    if (o.sleep) {
      o.sleep(wait);
    } else {
      std::this_thread::sleep_for(wait);
    }
    backoff = std::min(backoff * 2, o.max_backoff);
  }
}

StartupOutcome fail(const Status& s, const std::string& setting, const std::string& url, const Config& cfg,
                    int attempts, const std::string& hint) {
  StartupOutcome out;
  if (s.code() == Errc::invalid_argument) {
    out.exit_code = 2;
    out.message = fmt::format("{} '{}': {}", setting, url, s.message());
    return out;
  }
  out.exit_code = 1;
  out.message =
      fmt::format("{} '{}' is not usable ({} attempt{} within startup-timeout-ms = {}): {}{}", setting, url,
                  attempts, attempts == 1 ? "" : "s", cfg.startup_timeout.count(), s.message(), hint);
  return out;
}

}  // namespace

StoreOpeners url_openers(const Config& cfg, EnvLookup env) {
  return StoreOpeners{[url = cfg.object_store, env] { return open_object_store(url, env); },
                      [url = cfg.metadata, env] { return open_metadata_store(url, env); }};
}

Status probe_object_store(objstore::ObjectStore& store, const std::string& key) {
  const std::string data = "kafscale start-up probe " + random_hex(16);
  if (Status s = store.put(key, data); !s.ok())
    return Status(s.code(), "writing probe object " + key + ": " + s.message());
  auto got = store.get(key);
  if (!got.ok())
    return Status(got.code(), "reading back probe object " + key + ": " + got.status().message());
  if (*got != data) {
    return Status(Errc::corrupt, "probe object " + key + " read back " + std::to_string(got->size()) +
                                     " bytes that differ from the " + std::to_string(data.size()) +
                                     " written");
  }
  if (Status s = store.remove(key); !s.ok())
    return Status(s.code(), "deleting probe object " + key + ": " + s.message());
  return {};
}

Status probe_metadata_store(metastore::MetadataStore& store) {
  metastore::RangeRequest rq;
  rq.key = "/";
  rq.range_end = std::string(1, '\0');
  rq.count_only = true;
  auto r = store.range(rq);
  if (!r.ok()) return r.status();
  if (auto* etcd = dynamic_cast<metastore::EtcdMetadataStore*>(&store)) {
    auto st = etcd->status();
    if (!st.ok()) return st.status();
    if (st->nospace_alarm) {
      return Status(Errc::nospace, nospace_advice(st->db_size));
    }
  }
  return {};
}

StartupOutcome open_stores_at_startup(const Config& cfg, const StoreOpeners& openers,
                                      const StartupOptions& options) {
  const auto deadline = SteadyClock::now() + options.timeout;
  OpenedStores stores;
  int attempts = 0;
  const std::string key =
      options.probe_key + "-" + (cfg.node_id ? std::to_string(*cfg.node_id) : "auto") + "-" + random_hex(4);
  Status s = retry_until(
      "object-store " + cfg.object_store, deadline, options,
      [&]() -> Status {
        if (!stores.objects) {
          auto o = openers.objects();
          if (!o.ok()) return o.status();
          stores.objects = std::move(o).value();
        }
        return probe_object_store(*stores.objects, key);
      },
      attempts);
  if (!s.ok()) {
    return fail(s, "object-store", cfg.object_store, cfg, attempts,
                cfg.object_store.starts_with("s3://")
                    ? " (check the bucket, endpoint and region in --object-store and the AWS_* credentials)"
                    : "");
  }
  s = retry_until(
      "metadata " + cfg.metadata, deadline, options,
      [&]() -> Status {
        if (!stores.metadata) {
          auto m = openers.metadata();
          if (!m.ok()) return m.status();
          stores.metadata = std::move(m).value();
        }
        return probe_metadata_store(*stores.metadata);
      },
      attempts);
  if (!s.ok()) {
    return fail(s, "metadata", cfg.metadata, cfg, attempts,
                cfg.metadata.starts_with("etcd") ? " (check the endpoints in --metadata)" : "");
  }
  StartupOutcome out;
  out.stores = std::move(stores);
  return out;
}

}  // namespace ks::broker
