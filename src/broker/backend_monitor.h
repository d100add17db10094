// BackendMonitor: watches the broker's two backends while it runs.
//
// - Object store: wraps it in a HealthObjectStore (objstore/health_store.h);
//   every call the broker makes goes through it. While the state is not
//   healthy it probes once a second (nothing else would show a recovery while
//   produce is refused). State in /metrics (kafscale_objstore_health_state:
//   0 healthy, 1 degraded, 2 unavailable) and in /readyz (unavailable: 503);
//   produce fails fast while unavailable (see writes_unavailable()).
// - Metadata store: wraps it so NOSPACE answers are logged with the operator's
//   instructions (nospace_store.h); for etcd, polls the maintenance status
//   for the DB size (kafscale_metastore_db_size_bytes, ..._in_use_bytes) and
//   the NOSPACE alarm (kafscale_metastore_nospace_alarm).
//   Reachability: one tiny read (count of one key) per tick. It becomes
//   unreachable after meta_failures_to_unready failed reads in a row, or at
//   once when a read hangs longer than meta_stall; reachable again after
//   meta_successes_to_ready good reads in a row (hysteresis, so /readyz does
//   not flap). Unreachable: /readyz 503 with the reason,
//   kafscale_metastore_reachable 0.
//
// Runs on the broker's loop thread; backend calls go to the worker pool.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include "common/async.h"
#include "metastore/metadata_store.h"
#include "objstore/health_store.h"
#include "objstore/object_store.h"

namespace ks::metastore {
class EtcdMetadataStore;
}

namespace ks::broker {

struct MonitorOptions {
  std::chrono::milliseconds tick{1000};  // health refresh / probe period
  std::chrono::milliseconds etcd_status_every{15000};
  objstore::HealthOptions health;
  int meta_failures_to_unready = 2;
  int meta_successes_to_ready = 2;
  // A probe outstanding this long means unreachable (etcd calls can hang until their deadline).
  std::chrono::milliseconds meta_stall{5000};
};

class BackendMonitor {
 public:
  BackendMonitor(asio::io_context& io, asio::thread_pool& pool,
                 std::shared_ptr<objstore::ObjectStore> objects,
                 std::shared_ptr<metastore::MetadataStore> metadata, MonitorOptions options = {});
  ~BackendMonitor();

  // Use these instead of the stores given to the constructor.
  std::shared_ptr<objstore::ObjectStore> objects() const { return health_; }
  std::shared_ptr<metastore::MetadataStore> metadata() const { return metadata_; }

  objstore::Health object_store_health() const { return health_->health(); }
  // Produce must be refused at once: the object store is unavailable.
  bool writes_unavailable() const { return health_->health() == objstore::Health::unavailable; }
  // False while the metadata store is considered unreachable (see above).
  bool metadata_reachable() const;
  // Empty when the backends allow serving; else why not (for /readyz).
  std::string not_ready_reason() const;

  // Starts the loops on the io_context (call once, from the loop thread).
  void start();
  // Ends the loops at their next wake-up.
  void stop();

  struct State;  // shared with the loops and metric callbacks (backend_monitor.cc)

 private:
  awaitable<void> health_loop();
  awaitable<void> etcd_loop();
  awaitable<void> metadata_loop();

  asio::io_context& io_;
  asio::thread_pool& pool_;
  const MonitorOptions opts_;
  std::shared_ptr<objstore::HealthObjectStore> health_;
  std::shared_ptr<metastore::MetadataStore> metadata_;
  std::shared_ptr<metastore::EtcdMetadataStore> etcd_;  // null for other backends
  std::shared_ptr<State> state_;
};

}  // namespace ks::broker
