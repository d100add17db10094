// Membership: this broker's registration in the cluster and the live members
// (docs/ARCHITECTURE.md, "Membership, controller, placement").
//
// - A lease (TTL rounded up to whole seconds, at least 1) kept alive every
//   TTL/3; /ks/members/<node> written under it. Without an explicit node id
//   the broker takes the lowest id whose member key is absent and that no
//   stream still names as its owner (options.holds_state): a dead broker's id
//   is retired until its streams were taken over (a create-if-absent
//   transaction, retried when another broker wins the id).
// - A local deadline (monotonic): send time of the last successful keepalive
//   (or of the grant) + TTL - margin, margin = max(TTL/4, 500 ms). Past it the
//   broker cannot know whether its lease still exists and must stop acting as
//   an owner: alive() is false.
// - The live members, mirrored from a watch on /ks/members/ (ourselves included).
// - on_lost: the lease is gone (keepalive said not_found) or our member key
//   was deleted or rewritten under another lease (a newer process of this node
//   id). Fired once; the broker exits.
//
// The controller (controller.h) creates /ks/controller under this same lease,
// so a controller is always a live member and its key vanishes with it.
//
// Loop thread only; store calls run on the worker pool.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cluster/key_watch.h"
#include "common/async.h"
#include "common/status.h"
#include "metastore/async.h"

namespace ks::cluster {

// One advertised listener of a member (Kafka's advertised.listeners entry).
struct MemberListener {
  std::string name;
  std::string host;
  std::int32_t port = 0;

  bool operator==(const MemberListener&) const = default;
};

struct MemberInfo {
  std::int32_t node = -1;
  // The first listener's address (what brokers before listeners read).
  std::string host;
  std::int32_t port = 0;
  std::string rack;
  bool draining = false;
  // Every advertised listener; empty in records written before listeners existed.
  std::vector<MemberListener> listeners;

  bool operator==(const MemberInfo&) const = default;
};

// {"v":1,"node":..,"host":..,"port":..,"rack":..,"draining":..,
//  "listeners":[{"name":..,"host":..,"port":..},...]}; "listeners" is optional
// (absent in older records; older brokers ignore it).
std::string encode_member(const MemberInfo& m);
// corrupt for anything else (bad JSON, another version, missing or mistyped fields, node < 0).
Result<MemberInfo> decode_member(const std::string& text);

struct MembershipOptions {
  std::optional<std::int32_t> node_id;
  std::chrono::milliseconds lease_ttl{6000};
  std::string host;
  std::int32_t port = 0;
  std::string rack;
  std::vector<MemberListener> listeners;
  // Automatic ids are taken in [0, max_node_id].
  std::int32_t max_node_id = 1'000'000;
  // Automatic ids: the node a key under /ks/streams/ names as still holding
  // state (a stream owner record not released). A dead id is reused only once
  // no stream names it, i.e. once its streams were taken over.
  std::function<std::optional<std::int32_t>(const metastore::KeyValue&)> holds_state;
};

class Membership {
 public:
  Membership(asio::io_context& io, asio::thread_pool& pool, std::shared_ptr<metastore::MetadataStore> meta,
             MembershipOptions options);
  ~Membership();
  Membership(const Membership&) = delete;
  Membership& operator=(const Membership&) = delete;

  // Grants the lease, registers the member key, loads the live members and
  // starts the keepalive, deadline and watch tasks. On failure the lease is
  // revoked and nothing runs.
  awaitable<Status> start();
  // Stops the tasks and revokes the lease (the member key vanishes at once).
  awaitable<void> stop();

  std::int32_t node_id() const { return node_; }
  // mod_revision of our latest member-key write.
  std::int64_t registration_revision() const { return reg_rev_; }
  metastore::LeaseId lease() const { return lease_; }
  // The lease's TTL as granted (whole seconds).
  std::chrono::milliseconds lease_ttl() const { return ttl_; }
  const MemberInfo& self() const { return self_; }

  bool alive() const;
  Clock::time_point deadline() const { return deadline_; }
  bool lost() const { return lost_; }

  // Live members by node id, as last seen by the watch (including ourselves).
  const std::map<std::int32_t, MemberInfo>& members() const { return members_; }
  // Times the members watch read the whole prefix again after a compaction.
  std::uint64_t watch_reloads() const { return watch_ ? watch_->reloads() : 0; }
  // Notified when members() or alive() changes.
  Notifier& changed() { return changed_; }

  // Rewrites our member key with draining = true (same lease), compared on
  // our registration still being the latest write of the key (fenced if not).
  awaitable<Status> set_draining();

  // Called once, on the loop thread, when the registration is lost for good.
  void on_lost(std::function<void(const Status&)> cb) { on_lost_ = std::move(cb); }

 private:
  awaitable<Status> grant();
  awaitable<Status> register_explicit(std::int32_t node);
  awaitable<Status> register_lowest_free();
  awaitable<Status> keepalive_loop();
  awaitable<Status> deadline_loop();
  void members_changed();
  void mark_lost(const Status& why);
  void set_deadline(Clock::time_point sent);

  asio::io_context& io_;
  metastore::AsyncMetadataStore meta_;
  MembershipOptions opt_;
  std::chrono::milliseconds ttl_{0};
  std::chrono::milliseconds margin_{0};
  std::int32_t node_ = -1;
  metastore::LeaseId lease_ = 0;
  std::int64_t reg_rev_ = 0;
  MemberInfo self_;
  Clock::time_point deadline_{};
  bool was_alive_ = false;
  bool lost_ = false;
  bool started_ = false;
  bool stopping_ = false;
  std::map<std::int32_t, MemberInfo> members_;
  std::unique_ptr<KeyWatch> watch_;
  Notifier changed_;
  Notifier wake_;  // the keepalive and deadline loops
  Event keepalive_done_;
  Event deadline_done_;
  std::function<void(const Status&)> on_lost_;
};

}  // namespace ks::cluster
