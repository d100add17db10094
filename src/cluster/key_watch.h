// KeyWatch: a mirror of the keys in [key, range_end) kept on the loop thread
// by a metadata-store watch (used for /ks/members/, /ks/placement and
// /ks/controller).
//
// load() reads the range once; start() runs the watch as a critical task.
// Watch callbacks arrive on a backend thread and are posted to the loop
// before they touch the mirror. When the watch ends with an error it is
// re-created from the last revision seen (+1); when that revision was
// compacted away the whole range is read again and watched from there.
// Events at or below the last revision seen are ignored, so overlapping
// deliveries (an old watch's late events, a reload) never go backwards.
//
// Every watch shows on /metrics as kafscale_watch_up{watch="<what>"} (1 while
// its stream to the store is open) and kafscale_watch_down_seconds (how long
// the mirror has gone without a live stream: its contents may be that stale).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "common/async.h"
#include "common/status.h"
#include "metastore/async.h"

namespace ks::cluster {

class KeyWatch {
 public:
  // `what` names the watch in logs and in the critical task's name.
  KeyWatch(asio::io_context& io, metastore::AsyncMetadataStore meta, std::string key, std::string range_end,
           std::string what);
  ~KeyWatch();
  KeyWatch(const KeyWatch&) = delete;
  KeyWatch& operator=(const KeyWatch&) = delete;

  // Called on the loop thread after the mirror changed (set before load()).
  void on_change(std::function<void()> cb);

  // Reads the range (start-up: an error is returned, not retried).
  awaitable<Status> load();
  // Starts the watch loop (after a successful load()).
  void start();
  // Ends the watch loop and cancels the watch.
  awaitable<void> stop();

  // The mirror, by key.
  const std::map<std::string, metastore::KeyValue>& kvs() const;
  // nullptr when absent; valid until the next co_await.
  const metastore::KeyValue* find(const std::string& key) const;
  // The last store revision the mirror reflects.
  std::int64_t revision() const;
  // Times the range was read again after a compaction (tests, logs).
  std::uint64_t reloads() const;
  // True while the watch stream is open (what kafscale_watch_up shows).
  bool up() const;
  // Notified after every change of the mirror.
  Notifier& changed();

  struct Shared;
  struct Health;

 private:
  awaitable<Status> loop();
  awaitable<Status> reload();

  asio::io_context& io_;
  metastore::AsyncMetadataStore meta_;
  const std::string key_;
  const std::string range_end_;
  const std::string what_;
  std::string task_name_;
  std::shared_ptr<Shared> s_;
  std::shared_ptr<Health> health_;  // read by the /metrics thread
  bool started_ = false;
  bool stopping_ = false;
  Event done_;
};

}  // namespace ks::cluster
