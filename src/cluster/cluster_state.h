// ClusterState: what this broker knows of the cluster and its own place in
// it, shared by the log and the group coordinator (loop thread only).
//
// - Identity and ownership: the cluster id (created once) and this broker's
//   ownership key /ks/brokers/<node>/owner. Writing that key at start fences
//   every older process of the node id; its mod_revision is our epoch. Every
//   metadata write that must not come from a fenced process carries
//   fence(), the ONE compare that proves ownership, whatever it writes.
// - The topic registry: topics and their configs (/ks/topics/<name>), with
//   listeners told when partitions appear or a topic goes away, whichever
//   broker made the change (watch_topics(): cluster/topic_watch.cc).
// - Dynamic broker configs (/ks/brokers/<node>/config).
// - Producer ids, reserved cluster-wide in blocks (/ks/producer-ids).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/broker_config.h"
#include "cluster/producer_ids.h"
#include "cluster/topic.h"
#include "common/async.h"
#include "common/status.h"
#include "metastore/async.h"

namespace ks::cluster {

struct ClusterOptions {
  std::int32_t node_id = 0;
  // producer.id.expiration.ms unless a dynamic broker config overrides it.
  std::chrono::milliseconds producer_expiration{86'400'000};
  // Streams of a cluster created by this broker (an existing cluster keeps its own count).
  std::int32_t streams = 16;
};

// Told about topic changes on the loop thread, after they are durable.
class TopicListener {
 public:
  virtual ~TopicListener() = default;
  // Partitions [from, to) of `t` were created (a new topic: from == 0).
  virtual void partitions_added(const TopicInfo& t, std::int32_t from, std::int32_t to) = 0;
  // `t` is being deleted (still readable during the call).
  virtual void topic_removed(const TopicInfo& t) = 0;
};

class ClusterState {
 public:
  ClusterState(asio::thread_pool& pool, std::shared_ptr<metastore::MetadataStore> meta,
               ClusterOptions options);
  // Stops the topic watch (stop_watch()).
  ~ClusterState();
  ClusterState(const ClusterState&) = delete;
  ClusterState& operator=(const ClusterState&) = delete;

  // Creates or reads the cluster id, takes ownership of the node id (new
  // epoch), loads dynamic broker configs and every topic.
  awaitable<Status> start();
  bool started() const { return epoch_ != 0; }

  // ---- identity, ownership, fencing ----
  std::int32_t node_id() const { return opt_.node_id; }
  const std::string& cluster_id() const { return cluster_id_; }
  // The cluster's stream count (cluster/streams.h), fixed at creation.
  std::int32_t streams() const { return streams_; }
  std::int32_t stream_of(const TopicInfo& t, std::int32_t partition) const;
  std::int32_t group_slot(std::string_view group) const;
  // mod_revision of our ownership key.
  std::uint64_t broker_epoch() const { return epoch_; }
  // The compare every fenced write carries: our ownership key still has the
  // revision we wrote. One key, whatever the write contains.
  metastore::Compare fence() const;
  // A read of the ownership key, for a transaction's failure branch (to tell
  // "fenced" from other failed compares).
  metastore::Op read_owner() const;
  // Another process took the node id over: nothing of ours may be written
  // any more. Set by whoever saw its fenced write rejected; never cleared.
  bool fenced() const { return fenced_; }
  void set_fenced(const Status& why);
  // The error for a rejected fenced write (new_revision: the owner key's
  // mod_revision as read in the failure branch, 0 when absent).
  Status fenced_status(std::int64_t new_revision) const;

  // ---- topics ----
  const TopicInfo* topic(const std::string& name) const;
  const TopicInfo* topic_by_id(const TopicId& id) const;
  std::vector<const TopicInfo*> topics() const;
  std::size_t topic_count() const { return topics_.size(); }
  void add_listener(TopicListener* l) { listeners_.push_back(l); }
  void remove_listener(TopicListener* l) { std::erase(listeners_, l); }
  // Creates a topic (the caller has validated name, count and configs);
  // already_exists if the name is taken.
  awaitable<Result<const TopicInfo*>> create_topic(std::string name, std::int32_t partitions,
                                                   std::map<std::string, std::string> configs);
  awaitable<Status> delete_topic(const std::string& name);
  // Replaces a topic's explicit configs (validated by the caller).
  awaitable<Status> set_topic_configs(const std::string& name,
                                      const std::map<std::string, std::string>& configs);
  // Grows a topic to `count` partitions (the caller has checked count > current).
  awaitable<Status> add_topic_partitions(const std::string& name, std::int32_t count);

  // Follows /ks/topics/ so that topics created, grown, reconfigured or deleted
  // through other brokers reach this registry and its listeners, exactly as a
  // local change would (local changes coming back through the watch are
  // no-ops). Call once, on the loop thread of `io`, after start(): it watches
  // from the revision start() loaded, resumes from the last revision seen when
  // the watch breaks, reloads and diffs the whole prefix after a compaction,
  // and retries with a bounded backoff while the store is unreachable. Runs
  // as a critical task (common/task.h); only an unrecoverable error ends it.
  // stop_watch() (or the destructor) cancels it; either must run on the loop
  // thread before `io` is destroyed.
  void watch_topics(asio::io_context& io);
  void stop_watch();
  bool watching() const { return watch_ != nullptr; }
  // The store revision the registry reflects for changes made elsewhere: the
  // load at start, the last reload, or the last watch event applied.
  std::int64_t topics_revision() const { return topics_revision_; }
  // How many times the registry was reloaded after the watch lost history.
  std::uint64_t topic_reloads() const { return topic_reloads_; }

  // ---- dynamic broker configs (cluster/broker_config.h) ----
  // This broker's (resource name = its id) and the cluster-wide defaults
  // (resource name ""): replaced as a whole, persisted, applied at once (and
  // at start-up). The defaults reach the other brokers through
  // default_configs_changed() (a watch the broker runs on keys::broker_defaults()).
  const std::map<std::string, std::string>& dynamic_broker_configs() const { return dynamic_configs_; }
  awaitable<Status> set_dynamic_broker_configs(const std::map<std::string, std::string>& configs);
  const BrokerConfigMap& default_broker_configs() const { return default_configs_; }
  awaitable<Status> set_default_broker_configs(const BrokerConfigMap& configs);
  // The stored defaults as of `revision` (ignored when not newer than what is applied).
  void default_configs_changed(const BrokerConfigMap& configs, std::int64_t revision);
  // Topic-config defaults the cluster-wide configs set (retention.ms from log.retention.ms...).
  const BrokerConfigMap& topic_defaults() const { return topic_defaults_; }
  // The effective producer.id.expiration.ms.
  std::chrono::milliseconds producer_expiration() const { return producer_expiration_; }

  // ---- producer ids ----
  // A producer id never handed out before by any broker of the cluster.
  awaitable<Result<std::int64_t>> allocate_producer_id() { return producer_ids_.allocate(); }

 private:
  awaitable<Status> take_ownership();
  awaitable<Status> load_dynamic_configs();
  awaitable<Status> load_topics();
  void apply_dynamic_configs();
  // The registry's one way to change, for local writes and watch events
  // alike (cluster/topic_watch.cc): the record of `name` as of store revision
  // `revision`, or its deletion. Ignored unless `revision` is newer than what
  // was applied for the name; diffed against what is installed, listeners are
  // told of the difference (new topic, new partitions, a re-created topic is
  // the old one removed and the new one created). True if the registry changed.
  bool apply_topic(TopicRecord rec, std::int64_t revision);
  bool apply_topic_removal(const std::string& name, std::int64_t revision);
  // Installs the topic and tells the listeners of its partitions.
  void install_topic(TopicRecord rec);
  void remove_installed(std::map<std::string, TopicInfo>::iterator it);
  // Applies one key's watch event or loaded value (corrupt records are
  // logged and skipped). True if the registry changed.
  bool apply_topic_kv(const metastore::KeyValue& kv, bool deleted);
  // Forgets revisions of deleted names older than topics_revision_ (no older
  // event can arrive any more).
  void prune_topic_revisions();
  struct TopicWatch;
  static awaitable<Status> topic_watch_loop(std::shared_ptr<TopicWatch> w);
  void on_topic_events(const std::vector<metastore::WatchEvent>& events);
  // Brings the registry to the prefix as read at r.revision (after the watch
  // lost history): changed and new records applied, missing ones removed.
  void diff_topics(const metastore::RangeResponse& r);
  // A topic record read for a compare-and-set update.
  struct TopicUpdate {
    TopicId id{};
    TopicRecord record;
    std::int64_t mod_revision = 0;
  };
  awaitable<Result<TopicUpdate>> read_topic_record(const std::string& name);
  // Writes u.record if unchanged since it was read and applies it.
  awaitable<Status> write_topic_record(const TopicUpdate& u);

  metastore::AsyncMetadataStore meta_;
  ClusterOptions opt_;
  std::string cluster_id_;
  std::int32_t streams_ = 0;
  std::uint64_t epoch_ = 0;
  bool fenced_ = false;
  // std::map: pointers handed out stay valid while the topic exists.
  std::map<std::string, TopicInfo> topics_;
  // The store revision applied per name (live topics, and deleted names until
  // topics_revision_ passes their deletion).
  std::map<std::string, std::int64_t> topic_revs_;
  std::int64_t topics_revision_ = 0;
  std::uint64_t topic_reloads_ = 0;
  std::shared_ptr<TopicWatch> watch_;
  std::vector<TopicListener*> listeners_;
  // A topic's effective settings: its configs over topic_defaults_.
  TopicSettings settings_of(const std::map<std::string, std::string>& configs) const;

  std::map<std::string, std::string> dynamic_configs_;
  BrokerConfigMap default_configs_;
  std::int64_t default_configs_revision_ = 0;
  BrokerConfigMap topic_defaults_;
  std::chrono::milliseconds producer_expiration_;
  ProducerIdAllocator producer_ids_;
};

}  // namespace ks::cluster
