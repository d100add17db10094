// Start-up checks: open the object store and the metadata store, prove the
// bucket is reachable and writable (put + get + delete of a probe object) and
// that the metadata store answers, retrying with backoff until
// --startup-timeout-ms (pods often start before their dependencies).
//
// Outcome: the opened stores, or an error whose message names the failing
// setting (object-store / metadata) and whose exit code is 2 for a bad
// setting (invalid_argument: malformed URL, inconsistent credentials
// variables) and 1 for a dependency still unreachable at the deadline.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "broker/config.h"
#include "common/status.h"
#include "metastore/metadata_store.h"
#include "objstore/object_store.h"

namespace ks::broker {

struct StoreOpeners {
  std::function<Result<std::shared_ptr<objstore::ObjectStore>>()> objects;
  std::function<Result<std::shared_ptr<metastore::MetadataStore>>()> metadata;
};

// Opens the URLs of cfg.object_store and cfg.metadata (stores.h), with the
// credentials `env` holds.
StoreOpeners url_openers(const Config& cfg, EnvLookup env);

struct StartupOptions {
  std::chrono::milliseconds timeout{60000};  // 0: one attempt each
  std::chrono::milliseconds first_backoff{200};
  std::chrono::milliseconds max_backoff{5000};
  // While retrying, a reminder is logged at most this often (the first failure always is).
  std::chrono::milliseconds log_every{10000};
  // Key of the probe object; a valid object key.
  std::string probe_key = "health/startup-probe";
  // For tests: sleeps between attempts (default: this thread sleeps).
  std::function<void(std::chrono::milliseconds)> sleep;
};

struct OpenedStores {
  std::shared_ptr<objstore::ObjectStore> objects;
  std::shared_ptr<metastore::MetadataStore> metadata;
};

struct StartupOutcome {
  std::optional<OpenedStores> stores;  // set on success
  int exit_code = 0;                   // otherwise: 2 bad setting, 1 unreachable
  std::string message;                 // names the setting and carries the last error
};

// Blocking. Checks the object store first, then the metadata store; the
// timeout covers both.
StartupOutcome open_stores_at_startup(const Config& cfg, const StoreOpeners& openers,
                                      const StartupOptions& options);

// One put + get + delete round trip of `key` (the data read back must be
// what was written).
Status probe_object_store(objstore::ObjectStore& store, const std::string& key);
// A cheap read; for etcd also a NOSPACE alarm check (the broker must write at start).
Status probe_metadata_store(metastore::MetadataStore& store);

}  // namespace ks::broker
