// Placement: which node owns each stream, with a placement epoch per stream
// (docs/ARCHITECTURE.md, "Membership, controller, placement").
//
//   /ks/placement   {"v":1, "controller_epoch": e, "streams": [{"node": n, "epoch": k}, ...]}
//
// Written only by the controller (controller.h), compared on its epoch.
// plan_placement() is the controller's pure planning step; PlacementView is
// every broker's mirror of the placement and of who the controller is.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cluster/key_watch.h"
#include "cluster/membership.h"
#include "common/async.h"
#include "common/status.h"
#include "metastore/async.h"

namespace ks::cluster {

struct StreamPlacement {
  std::int32_t node = -1;  // -1: never placed (no live node yet)
  std::int32_t epoch = 0;  // increases each time the stream changes node

  bool operator==(const StreamPlacement&) const = default;
};

struct Placement {
  std::int64_t controller_epoch = 0;
  std::vector<StreamPlacement> streams;  // index = stream
  std::int64_t mod_revision = 0;         // of the key it was read from; not encoded (0: no key)
};

// At most kMaxStreams streams (cluster/streams.h): the record stays a few KiB,
// far below etcd's request limit.
std::string encode_placement(const Placement& p);
// corrupt for bad JSON, another version, more than kMaxStreams streams,
// negative epochs or nodes below -1.
Result<Placement> decode_placement(const std::string& text);

// The next placement of `streams` streams given the live members. Pure and
// deterministic:
// - streams on a node that is not live or is draining (and never-placed
//   streams) go, in stream order, to the live non-draining node with the
//   fewest streams (ties: lowest id);
// - then, while max - min > 1, one stream moves from the most loaded node
//   (ties: lowest id) to the least loaded one (ties: lowest id), preferring a
//   stream already moved by this plan, else the highest-numbered one;
// - a stream whose node changed gets epoch = old epoch + 1; the others keep
//   node and epoch;
// - with no live non-draining node every stream keeps its old node (it is
//   unavailable until one comes back; no node is invented).
// controller_epoch and mod_revision are copied from `current`.
Placement plan_placement(const Placement& current, const std::map<std::int32_t, MemberInfo>& live,
                         std::int32_t streams);

// {"v":1,"node":n}: the value of /ks/controller.
std::string encode_controller(std::int32_t node);
Result<std::int32_t> decode_controller(const std::string& text);

// Every broker's mirror of /ks/placement and /ks/controller (loop thread only).
class PlacementView {
 public:
  PlacementView(asio::io_context& io, asio::thread_pool& pool,
                std::shared_ptr<metastore::MetadataStore> meta);
  ~PlacementView();
  PlacementView(const PlacementView&) = delete;
  PlacementView& operator=(const PlacementView&) = delete;

  // Reads both keys and starts watching them.
  awaitable<Status> start();
  awaitable<void> stop();

  // The latest valid placement (no streams, mod_revision 0 before the first
  // is written). A record that fails to decode is logged and skipped: the
  // previous one stays current.
  const Placement& current() const { return current_; }
  // The controller's node, -1 when there is none (or its record is unreadable).
  std::int32_t controller_node() const { return controller_node_; }
  // create_revision of /ks/controller (the controller epoch), 0 when absent.
  std::int64_t controller_epoch() const { return controller_epoch_; }
  // The last revisions the two mirrors reflect.
  std::int64_t placement_revision() const;
  std::int64_t controller_revision() const;
  // Notified when the placement or the controller changes.
  Notifier& changed() { return changed_; }

 private:
  void placement_changed();
  void controller_changed();

  KeyWatch placement_watch_;
  KeyWatch controller_watch_;
  Placement current_;
  std::int32_t controller_node_ = -1;
  std::int64_t controller_epoch_ = 0;
  bool started_ = false;
  Notifier changed_;
};

}  // namespace ks::cluster
