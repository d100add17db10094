// Controller: runs on every broker; one wins the election and writes the
// placement (docs/ARCHITECTURE.md, "Membership, controller, placement").
//
// - Campaign: create /ks/controller ({"v":1,"node":n}) if absent, under the
//   Membership's lease (not a lease of its own: a controller is then always a
//   live member, and its key vanishes with the broker's registration). The
//   winner's epoch is the key's create_revision. The others watch the key
//   (through the PlacementView) and campaign again once it is gone.
// - The controller plans (plan_placement) from the members it sees and the
//   current placement, and writes /ks/placement only when the streams differ,
//   in a transaction comparing /ks/controller's create_revision with its
//   epoch AND the placement's mod_revision with the one it planned from: two
//   controllers can never interleave, and a stale one is rejected. Writes are
//   at most one per kMinWriteInterval and retried on failure.
// - It stops acting (no campaign, no write) while the Membership is not
//   alive(), and steps down when the view shows another controller key.
// - stop() resigns: deletes the key (compared on its epoch) so another broker
//   takes over at once.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>

#include "cluster/membership.h"
#include "cluster/placement.h"
#include "common/async.h"
#include "common/status.h"
#include "metastore/async.h"

namespace ks::cluster {

class Controller {
 public:
  static constexpr std::chrono::milliseconds kMinWriteInterval{100};

  // `membership` and `view` are started before start() and outlive the controller.
  Controller(asio::io_context& io, asio::thread_pool& pool, std::shared_ptr<metastore::MetadataStore> meta,
             Membership& membership, PlacementView& view, std::int32_t streams);
  ~Controller();
  Controller(const Controller&) = delete;
  Controller& operator=(const Controller&) = delete;

  // Starts the election / placement loop (critical task).
  void start();
  // Ends the loop and resigns if this broker is the controller.
  awaitable<void> stop();

  // We won the election, have not seen our key replaced, and our membership is alive().
  bool is_controller() const { return is_controller_ && membership_.alive(); }
  // create_revision of the /ks/controller key we created; 0 when not controller.
  std::int64_t epoch() const { return epoch_; }
  // Placements written by this controller (tests, logs).
  std::uint64_t placements_written() const { return writes_; }
  // Notified when is_controller() changes or a placement was written.
  Notifier& changed() { return changed_; }

  // Writes `p` compared on /ks/controller's create_revision being
  // p.controller_epoch (the epoch it is written under) and on the placement's
  // mod_revision being p.mod_revision (the one it was planned from; 0 = no
  // placement yet). Returns the new revision; fenced when that epoch is not
  // the current controller's; already_exists when the placement changed
  // meanwhile. The loop calls it with its own epoch.
  awaitable<Result<std::int64_t>> write_placement(Placement p);

 private:
  awaitable<Status> loop();
  awaitable<Status> relay(Notifier& from);
  awaitable<void> campaign();
  awaitable<void> step();
  awaitable<void> resign();
  void set_controller(bool on, std::int64_t epoch);

  asio::io_context& io_;
  metastore::AsyncMetadataStore meta_;
  Membership& membership_;
  PlacementView& view_;
  const std::int32_t streams_;
  bool is_controller_ = false;
  std::int64_t epoch_ = 0;
  std::uint64_t writes_ = 0;
  Clock::time_point last_write_{};
  // After a write (or a failed compare) the plan waits for the view to reach this revision.
  std::int64_t wait_view_revision_ = 0;
  Clock::time_point retry_at_{};
  bool started_ = false;
  bool stopping_ = false;
  int relays_running_ = 0;
  Notifier wake_;
  Notifier changed_;
  Event loop_done_;
  Event relays_done_;
};

}  // namespace ks::cluster
