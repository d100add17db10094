// ClusterNode: this broker as a member of the cluster (docs/ARCHITECTURE.md,
// "Many brokers"). It registers under a lease (cluster/membership.h), runs
// for controller (cluster/controller.h), watches the placement and every
// stream's owner record, and turns the placement into this broker's work:
// streams placed here are taken over (the log rebuilds them, the group
// coordinator serves their slots), streams placed elsewhere are released.
//
// It is also the handlers' view of the cluster (handlers::ClusterView): live
// brokers, the controller, and each stream's owner and term.
//
// Loop thread only.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>

#include "cluster/cluster_state.h"
#include "cluster/controller.h"
#include "cluster/key_watch.h"
#include "cluster/membership.h"
#include "cluster/placement.h"
#include "common/async.h"
#include "coordinator/coordinator.h"
#include "handlers/context.h"
#include "log/cluster_sweep.h"
#include "log/log_manager.h"

namespace ks::broker {

struct ClusterNodeOptions {
  // How long a stream placed here waits for its previous owner to release it
  // (while that owner is still a live member) before taking it anyway.
  std::chrono::milliseconds release_timeout{6000};
  // Object liveness across brokers, run while this broker is the controller
  // (null: never), every sweep_interval.
  log::ClusterSweep* sweep = nullptr;
  std::chrono::milliseconds sweep_interval{std::chrono::minutes(5)};
};

class ClusterNode final : public handlers::ClusterView {
 public:
  // `membership` is already started (the node id comes from it, before the
  // log and the coordinator exist); stop() stops it.
  ClusterNode(asio::io_context& io, asio::thread_pool& pool, std::shared_ptr<metastore::MetadataStore> meta,
              cluster::Membership& membership, cluster::ClusterState& cluster, log::LogManager& log,
              coordinator::GroupCoordinator& groups, ClusterNodeOptions options);
  ~ClusterNode() override;

  // Loads the placement and owner records, starts the controller
  // and the loop that follows the placement (critical tasks).
  awaitable<Status> start();
  // True once this broker serves every stream the placement gives it (and
  // at least one placement exists).
  bool settled() const { return settled_; }
  // SIGTERM: asks the controller to move our streams away and releases them
  // as it does; returns when none is left or at the deadline (releasing what
  // remains itself).
  awaitable<void> drain(Clock::time_point deadline);
  // Stops the loops, the controller and the membership (the lease is revoked).
  awaitable<void> stop();

  cluster::Membership& membership() { return membership_; }
  bool is_controller() const { return controller_.is_controller(); }

  // handlers::ClusterView
  std::vector<handlers::NodeEndpoint> brokers() const override;
  // The elected controller when it is known and live, else this broker: any
  // broker handles the admin requests clients send to "the controller" (as
  // with Kafka's KIP-590), and a client told -1 may wait for its next
  // metadata refresh (librdkafka: minutes) before sending CreateTopics.
  std::int32_t controller() const override;
  handlers::PartitionLeader leader(std::int32_t stream) const override;
  std::optional<handlers::NodeEndpoint> endpoint(std::int32_t node) const override;

 private:
  struct Owner {
    std::int32_t node = -1;
    bool released = false;
    std::int32_t epoch = 0;
  };
  std::optional<Owner> owner_of(std::int32_t stream) const;
  // Decodes every owner record after the watch changed (Metadata asks per partition).
  void owners_changed();
  awaitable<Status> follow();
  awaitable<void> reconcile();
  awaitable<Status> release(const std::vector<std::int32_t>& streams);
  awaitable<Status> sweeper();

  asio::io_context& io_;
  cluster::ClusterState& cluster_;
  log::LogManager& log_;
  coordinator::GroupCoordinator& groups_;
  ClusterNodeOptions opt_;
  cluster::Membership& membership_;
  cluster::PlacementView view_;
  cluster::Controller controller_;
  cluster::KeyWatch owners_;
  std::map<std::int32_t, Owner> owner_records_;  // stream -> decoded owner record
  // Streams placed here, waiting for their previous owner since.
  std::map<std::int32_t, Clock::time_point> waiting_;
  bool settled_ = false;
  bool stopping_ = false;
  bool draining_ = false;
  Event follow_done_;
  Event sweeper_done_;
  asio::thread_pool& pool_;
};

}  // namespace ks::broker
