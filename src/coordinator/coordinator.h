// GroupCoordinator: the classic consumer-group protocol and committed offsets
// for the groups of the slots this broker was given.
//
// Done the Kafka way: the broker picks the protocol every member supports
// (by vote), relays the leader's assignment, never invents one. Static
// membership, session and rebalance timeouts, generation / member-id fencing,
// MEMBER_ID_REQUIRED, group.initial.rebalance.delay.ms.
//
// Durability: offsets and the group record are written to the metadata store
// before the request is answered (layout in store_format.h). A single writer
// coalesces everything queued (commits of many consumers, group records) into
// as few transactions as etcd's limits allow.
//
// Slots: groups are partitioned into S slots (slot = cluster::group_slot(id,
// S), S = the cluster's stream count); slot s is coordinated by the owner of
// stream s. acquire_slot() loads a slot's groups and serves them; every write
// for them carries the slot's Fence (the compare proving ownership). A
// transaction mixing slots carries each distinct fence. A rejected fence
// loses the slots written with it (NOT_COORDINATOR from then on), never the
// others. A group of a slot not served here answers NOT_COORDINATOR.
//
// Loop thread only; metadata-store calls are offloaded to the worker pool.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "cluster/cluster_state.h"
#include "cluster/key_watch.h"
#include "cluster/streams.h"
#include "common/async.h"
#include "common/status.h"
#include "coordinator/group.h"
#include "coordinator/group_configs.h"
#include "coordinator/types.h"
#include "metastore/metadata_store.h"

namespace ks::coordinator {

struct CoordinatorStats {
  std::uint64_t txns = 0;          // metadata transactions written
  std::uint64_t keys_written = 0;  // keys put or deleted by them
  std::uint64_t committed_partitions = 0;
  std::uint64_t rebalances = 0;
  std::uint64_t expired_offsets = 0;
};

// The high watermark of a partition (-1 when this broker has no such
// partition), for the lag metrics.
using HighWatermarkFn = std::function<std::int64_t(const cluster::PartitionKey&)>;

class GroupCoordinator {
 public:
  GroupCoordinator(asio::io_context& io, asio::thread_pool& pool,
                   std::shared_ptr<metastore::MetadataStore> meta, cluster::ClusterState& cluster,
                   HighWatermarkFn high_watermark, Options options);
  ~GroupCoordinator();
  GroupCoordinator(const GroupCoordinator&) = delete;
  GroupCoordinator& operator=(const GroupCoordinator&) = delete;

  // Starts the writer, retention and lag loops (no slot served yet). The
  // cluster state must be started.
  awaitable<Status> start();
  // Releases every slot (answers waiting joins/syncs with NOT_COORDINATOR,
  // writes what is queued), stops the loops.
  awaitable<void> stop();

  // Loads the groups of `slot` (keys under /ks/groups/<slot>/) and starts
  // serving them; every write for them carries `fence.compare()`.
  // already_exists if the slot is served or being acquired or released here.
  awaitable<Status> acquire_slot(std::int32_t slot, cluster::Fence fence);
  // Stops serving the slot: answers waiting joins/syncs with NOT_COORDINATOR,
  // writes what is queued for it (fenced), forgets its groups.
  awaitable<void> release_slot(std::int32_t slot);
  // The slot is served here (acquired, not released, its fence not rejected).
  bool owns_slot(std::int32_t slot) const;
  bool owns_group(std::string_view group) const { return owns_slot(slot_of(group)); }
  // A broker whose membership lease may have expired serves no group
  // (NOT_COORDINATOR) until unsuspended; the caller then reloads its slots
  // (release_slot + acquire_slot), since timers stopped meanwhile.
  void set_suspended(bool on) { suspended_ = on; }
  bool suspended() const { return suspended_; }
  // A write carrying the slot's fence was rejected: it is no longer served
  // (until acquired again).
  bool slot_lost(std::int32_t slot) const;
  std::int32_t slot_of(std::string_view group) const { return cluster_.group_slot(group); }
  std::int32_t slot_count() const { return cluster_.streams(); }

  // True once the coordinator stopped or this process lost its node id:
  // every call answers NOT_COORDINATOR.
  bool unavailable() const { return stopping_ || cluster_.fenced(); }
  std::int32_t node_id() const { return opt_.node_id; }
  const Options& options() const { return opt_; }
  const CoordinatorStats& stats() const { return stats_; }

  std::shared_ptr<JoinWait> join(JoinParams p);
  std::shared_ptr<SyncWait> sync(SyncParams p);
  ErrorCode heartbeat(const std::string& group_id, std::int32_t generation, const std::string& member_id,
                      const std::optional<std::string>& instance_id);
  LeaveResult leave(const std::string& group_id, const std::vector<LeaveMember>& members);

  std::shared_ptr<CommitWait> commit(CommitParams p);
  // member: OffsetFetch v9+'s member id and epoch (KIP-848 groups check them).
  FetchResult fetch(const std::string& group_id, const std::optional<TopicPartitions>& topics,
                    const std::optional<std::pair<std::string, std::int32_t>>& member = std::nullopt) const;

  // KIP-848 (consumer_group.cc). Answered at once today; the shared object
  // leaves room for answering after a durable write.
  struct ConsumerHeartbeatWait {
    Event done;
    ConsumerHeartbeatResult result;
  };
  std::shared_ptr<ConsumerHeartbeatWait> consumer_heartbeat(ConsumerHeartbeatParams p);
  ConsumerGroupDescription consumer_describe(const std::string& group_id) const;

  GroupDescription describe(const std::string& group_id) const;
  // states_filter: Kafka state names, case-insensitive; empty = all.
  std::vector<GroupListing> list(const std::vector<std::string>& states_filter) const;
  std::shared_ptr<DeleteGroupsWait> delete_groups(const std::vector<std::string>& group_ids);
  std::shared_ptr<OffsetDeleteWait> delete_offsets(const std::string& group_id,
                                                   const TopicPartitions& topics);

  // GROUP config resources (group_configs.h; config_mirror.cc): the explicit
  // configs of any group, mirrored from the metadata store on every broker.
  // nullptr when the group has none; valid until the next co_await.
  const GroupConfigMap* group_configs(const std::string& group_id) const;
  // The session timeout and heartbeat interval in force for a group.
  EffectiveGroupConfig group_config(const std::string& group_id) const;
  // Validates (INVALID_CONFIG with Kafka's message) and stores a group's whole
  // explicit config set (empty: removes it); answers once this broker's mirror
  // shows it (bounded), so a DescribeConfigs that follows reads it.
  awaitable<Status> set_group_configs(const std::string& group_id, const GroupConfigMap& configs);

  // One retention pass / lag refresh now (they also run periodically).
  void expire_offsets();
  void refresh_lag();

 private:
  struct OffsetUpdate {
    std::string topic;
    cluster::TopicId topic_id{};
    std::int32_t partition = 0;
    std::optional<OffsetValue> value;  // nullopt: remove
  };
  struct WriteItem {
    enum class Kind { kOffsets, kMeta, kDeleteGroup };
    Kind kind = Kind::kOffsets;
    std::shared_ptr<Group> group;
    std::vector<OffsetUpdate> updates;  // kOffsets
    std::optional<std::string> meta;    // kMeta: the record; nullopt deletes it
    std::function<void(const Status&)> on_done;
  };
  struct Round;
  struct Slot {
    enum class State { kLoading, kServing, kReleasing, kLost };
    State state = State::kLoading;
    cluster::Fence fence;
    std::uint64_t token = 0;  // one acquisition (a release or loss during a load ends it)
  };
  struct LoadedSlot;

  // ---- membership (coordinator.cc) ----
  std::shared_ptr<Group> find(const std::string& id) const;
  std::shared_ptr<Group> get_or_create(const std::string& id, ErrorCode& error);
  std::shared_ptr<JoinWait> add_member_and_rebalance(Group& g, const std::string& member_id,
                                                     const JoinParams& p, std::shared_ptr<JoinWait> w);
  std::shared_ptr<JoinWait> static_rejoin(Group& g, const std::string& old_id, const JoinParams& p,
                                          std::shared_ptr<JoinWait> w);
  void update_member(Member& m, const JoinParams& p);
  // Kafka's validateMember: a given group.instance.id must be known and
  // mapped to member_id (UNKNOWN_MEMBER_ID / FENCED_INSTANCE_ID), and
  // member_id must be a member (UNKNOWN_MEMBER_ID).
  ErrorCode validate_member(const Group& g, const std::string& member_id,
                            const std::optional<std::string>& instance_id) const;
  bool supports(const Group& g, const JoinParams& p) const;
  std::optional<std::string> select_protocol(const Group& g) const;
  void prepare_rebalance(Group& g, const char* reason);
  void maybe_complete_join(Group& g);
  void complete_join(Group& g);
  JoinResult current_join_result(const Group& g, const Member& m, bool with_members) const;
  void remove_member(Group& g, const std::string& member_id, const char* reason);
  void set_state(Group& g, GroupState s);
  void ensure_timer(const std::shared_ptr<Group>& g);
  awaitable<Status> group_timer(std::shared_ptr<Group> g);
  std::optional<Clock::time_point> next_deadline(const Group& g) const;
  void on_timer(Group& g);
  void persist_group(const std::shared_ptr<Group>& g, const std::map<std::string, std::string>* assignments,
                     std::function<void(const Status&)> on_done);
  std::optional<std::vector<std::string>> subscribed(const Group& g) const;
  void remove_group(const std::shared_ptr<Group>& g);
  std::string new_member_id(const std::string& prefix) const;

  // ---- KIP-848 consumer groups (consumer_group.cc) ----
  ErrorCode consumer_validate(const ConsumerHeartbeatParams& p, std::string& message) const;
  void consumer_leave(Group& g, const ConsumerHeartbeatParams& p, ConsumerHeartbeatResult& r);
  // The member the heartbeat is for (joining, rejoining, static takeover), or null with r.error set.
  ConsumerMember* consumer_member(Group& g, ConsumerHeartbeatParams& p, ConsumerHeartbeatResult& r,
                                  bool& bump);
  void consumer_remove_member(Group& g, const std::string& member_id, const char* reason);
  // Re-reads the subscribed topics (names and regex matches); true when they changed.
  bool consumer_refresh_topics(Group& g);
  // The topics member `m` is subscribed to, as they exist now.
  std::set<cluster::TopicId> consumer_member_topics(const ConsumerGroupState& cg,
                                                    const ConsumerMember& m) const;
  void consumer_compute_target(Group& g);
  // Moves `m` one step towards its target; true when its assignment changed.
  bool consumer_reconcile(ConsumerGroupState& cg, ConsumerMember& m, const std::optional<Assignment>& owned);
  void consumer_set_owned(ConsumerGroupState& cg, const ConsumerMember& before, const ConsumerMember& after);
  void consumer_on_timer(Group& g);
  // Writes the group record (fenced, through the writer); on_done may be null.
  void consumer_persist(const std::shared_ptr<Group>& g, std::function<void(const Status&)> on_done);
  void consumer_restore(Group& g, const StoredGroup& sg);
  // Kafka's ConsumerGroup.validateOffsetCommit / validateOffsetFetch: epoch
  // -1 without a member id is an admin or simple client (a commit only while
  // the group has no members); otherwise the member must exist
  // (UNKNOWN_MEMBER_ID) at exactly that epoch (STALE_MEMBER_EPOCH).
  // `epoch_version`: the request can carry a member epoch (v9+).
  ErrorCode consumer_check_offsets(const Group& g, const std::string& member_id, std::int32_t epoch,
                                   bool epoch_version, bool fetch = false) const;

  // ---- storage (offsets.cc) ----
  // The group-level answer to an offset commit (Kafka's validateOffsetCommit);
  // sets `gp` to the group, created for a simple commit to an absent group.
  ErrorCode check_commit(const CommitParams& p, std::shared_ptr<Group>& gp);
  void enqueue(WriteItem item);
  awaitable<Status> writer();
  Round build_round(std::vector<WriteItem>& items) const;
  awaitable<Result<metastore::TxnResponse>> run_txn(metastore::TxnRequest t);
  awaitable<Result<metastore::RangeResponse>> run_range(metastore::RangeRequest r);
  // The fence a write for `slot` carries: null unless the slot is served or
  // being released here.
  const cluster::Fence* write_fence(std::int32_t slot) const;
  // The item's writes are over (applied or not): tells its caller.
  void finish_item(WriteItem& item, const Status& s);
  // A transaction carrying these fences was rejected: the slots whose fence
  // is among `failed` are lost.
  void fences_rejected(const std::vector<cluster::Fence>& failed, const Status& why);

  // ---- slots (slots.cc) ----
  awaitable<Result<LoadedSlot>> load_slot(std::int32_t slot, std::uint64_t token);
  Status load_kv(std::int32_t slot, const metastore::KeyValue& kv, LoadedSlot& out) const;
  void restore(Group& g, StoredGroup sg);
  bool slot_current(std::int32_t slot, std::uint64_t token) const;
  // Answers the waiting joins and syncs of the slot's groups (NOT_COORDINATOR).
  void answer_waiting(std::int32_t slot);
  void forget_groups(std::int32_t slot);
  std::size_t slot_writes(std::int32_t slot) const;
  // release_slot for several slots at once (stop).
  awaitable<void> release_slots(std::vector<std::int32_t> slots);
  awaitable<Status> retention_loop();
  awaitable<Status> lag_loop();
  ErrorCode write_error(const Status& s) const;

  asio::io_context& io_;
  asio::thread_pool& pool_;
  std::shared_ptr<metastore::MetadataStore> meta_;
  cluster::ClusterState& cluster_;
  HighWatermarkFn high_watermark_;
  Options opt_;

  std::map<std::string, std::shared_ptr<Group>> groups_;  // groups of the slots in slots_
  std::map<std::int32_t, Slot> slots_;
  std::uint64_t next_slot_token_ = 0;
  Notifier round_done_;  // the writer finished a round (release_slot waits for a slot's writes)
  std::deque<WriteItem> queue_;
  Notifier queue_wakeup_;
  Notifier loop_wakeup_;  // retention and lag loops (stop)
  Event writer_done_;
  Event retention_done_;
  Event lag_done_;
  bool started_ = false;
  bool stopping_ = false;
  bool writer_exited_ = false;
  CoordinatorStats stats_;

  // Exported lag series (group, topic) -> value read by /metrics.
  std::map<std::pair<std::string, std::string>, std::shared_ptr<std::atomic<double>>> lag_series_;
  bool suspended_ = false;

  // GROUP config resources (config_mirror.cc).
  awaitable<Status> start_config_mirror();
  awaitable<void> stop_config_mirror();
  void group_configs_changed();
  std::unique_ptr<cluster::KeyWatch> config_watch_;
  std::map<std::string, GroupConfigMap> group_configs_;
};

}  // namespace ks::coordinator
