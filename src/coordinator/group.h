// In-memory state of one group (loop thread only).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/async.h"
#include "coordinator/consumer_group.h"
#include "coordinator/store_format.h"
#include "coordinator/types.h"

namespace ks::coordinator {

struct Member {
  std::string id;
  std::optional<std::string> instance_id;
  std::string client_id;
  std::string client_host;
  std::vector<Protocol> protocols;  // in the member's order of preference
  std::int32_t session_timeout_ms = 0;
  std::int32_t rebalance_timeout_ms = 0;
  std::string assignment;
  Clock::time_point heartbeat_deadline;
  std::shared_ptr<JoinWait> join_wait;  // set while the member waits in JoinGroup
  std::shared_ptr<SyncWait> sync_wait;  // set while the member waits in SyncGroup

  const std::string* metadata_for(const std::string& protocol) const {
    for (const auto& p : protocols) {
      if (p.name == protocol) return &p.metadata;
    }
    return nullptr;
  }
};

struct Group {
  std::string id;
  std::int32_t slot = 0;  // cluster::group_slot(id, streams)
  GroupState state = GroupState::kEmpty;
  std::int64_t state_ms = 0;  // wall clock of the last state change
  std::int32_t generation = 0;
  std::string protocol_type;  // empty: offsets only (simple consumers), never joined
  std::optional<std::string> protocol;
  std::string leader;
  std::map<std::string, Member> members;             // by member id
  std::map<std::string, std::string> instances;      // group.instance.id -> member id
  std::map<std::string, Clock::time_point> pending;  // ids handed out with MEMBER_ID_REQUIRED

  // PreparingRebalance: the join phase ends at rebalance_deadline at the
  // latest; while `initial_delay` is on (the group was empty) it waits for
  // more members until delay_deadline (group.initial.rebalance.delay.ms).
  Clock::time_point rebalance_deadline;
  bool initial_delay = false;
  bool new_member_added = false;
  Clock::time_point delay_deadline;

  // Durable committed offsets: topic -> chunk -> partitions (what OffsetFetch
  // answers; changed only after the metadata store applied a write).
  std::map<std::string, std::map<std::int32_t, Chunk>> offsets;

  // Set for a KIP-848 group (protocol type "consumer", ConsumerGroupHeartbeat);
  // `members` then stays empty and `state` is kStable while it has members,
  // kEmpty otherwise (what retention and DeleteGroups look at).
  std::optional<ConsumerGroupState> consumer;

  Notifier wake;  // the group's timer loop re-computes its deadline
  bool timer_running = false;
  bool removed = false;              // no longer in the coordinator's map
  std::size_t writes_in_flight = 0;  // queued or running metadata writes
};

}  // namespace ks::coordinator
