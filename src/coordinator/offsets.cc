// Offsets: OffsetCommit / OffsetFetch / OffsetDelete, DescribeGroups /
// ListGroups / DeleteGroups. The writer is in writer.cc, slots (loading,
// release) in slots.cc, offset retention and lag metrics in retention.cc.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <set>

#include "common/assert.h"
#include "common/clock.h"
#include "common/metrics.h"
#include "coordinator/coordinator.h"

namespace ks::coordinator {

namespace {

metrics::Counter& commits_counter() {
  static auto& c =
      metrics::registry().counter("kafscale_offset_commits_total", "Partition offsets committed");
  return c;
}
std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

ErrorCode GroupCoordinator::write_error(const Status& s) const {
  switch (s.code()) {
    case Errc::ok:
      return ErrorCode::kNone;
    case Errc::fenced:
    case Errc::cancelled:
      return ErrorCode::kNotCoordinator;
    case Errc::timeout:
      return ErrorCode::kRequestTimedOut;
    case Errc::limit_exceeded:
      return ErrorCode::kInvalidCommitOffsetSize;
    default:
      return ErrorCode::kCoordinatorNotAvailable;
  }
}

// ---------------------------------------------------------------- commits

ErrorCode GroupCoordinator::check_commit(const CommitParams& p, std::shared_ptr<Group>& gp) {
  if (!owns_group(p.group_id)) return ErrorCode::kNotCoordinator;
  if (p.group_id.empty()) return ErrorCode::kInvalidGroupId;
  gp = find(p.group_id);
  if (!gp) {
    // Only a simple consumer or the admin client (generation -1) creates a
    // group by committing.
    if (p.generation >= 0)
      return p.group_not_found_error ? ErrorCode::kGroupIdNotFound : ErrorCode::kIllegalGeneration;
    ErrorCode e = ErrorCode::kNone;
    gp = get_or_create(p.group_id, e);
    return e;
  }
  Group& g = *gp;
  if (g.state == GroupState::kDead) return ErrorCode::kCoordinatorNotAvailable;
  if (g.consumer) return consumer_check_offsets(g, p.member_id, p.generation, p.member_epoch_version);
  // A simple commit (generation -1, e.g. AdminClient.alterConsumerGroupOffsets)
  // is accepted by an Empty group only.
  if (p.generation < 0 && g.state == GroupState::kEmpty) return ErrorCode::kNone;
  if (p.generation < 0 && p.member_id.empty() && !p.instance_id) return ErrorCode::kUnknownMemberId;
  if (ErrorCode e = validate_member(g, p.member_id, p.instance_id); e != ErrorCode::kNone) return e;
  if (p.generation != g.generation) return ErrorCode::kIllegalGeneration;
  if (g.state == GroupState::kCompletingRebalance) return ErrorCode::kRebalanceInProgress;
  // A commit keeps the member's session alive (Stable, PreparingRebalance).
  auto mit = g.members.find(p.member_id);
  KS_ASSERT(mit != g.members.end(), "group {}: validated member {} missing", g.id, p.member_id);
  Member& m = mit->second;
  m.heartbeat_deadline = Clock::now() + std::chrono::milliseconds(m.session_timeout_ms);
  return ErrorCode::kNone;
}

std::shared_ptr<CommitWait> GroupCoordinator::commit(CommitParams p) {
  auto w = std::make_shared<CommitWait>();
  w->errors.assign(p.partitions.size(), ErrorCode::kNone);
  // As Kafka: partitions of unknown topics are answered first and never reach
  // the group (a commit of nothing else creates no group); the group's verdict
  // applies to the others.
  std::vector<std::size_t> known;
  for (std::size_t i = 0; i < p.partitions.size(); ++i) {
    const auto& cp = p.partitions[i];
    const cluster::TopicInfo* t = cluster_.topic(cp.topic);
    if (t == nullptr || cp.partition < 0 || cp.partition >= t->record.partitions) {
      w->errors[i] = ErrorCode::kUnknownTopicOrPartition;
    } else {
      known.push_back(i);
    }
  }
  std::shared_ptr<Group> gp;
  const ErrorCode group_error = known.empty() ? ErrorCode::kNone : check_commit(p, gp);
  if (known.empty() || group_error != ErrorCode::kNone) {
    for (std::size_t i : known) w->errors[i] = group_error;
    w->done.set();
    return w;
  }
  WriteItem item;
  item.kind = WriteItem::Kind::kOffsets;
  item.group = gp;
  auto indexes = std::make_shared<std::vector<std::size_t>>();
  const std::int64_t now = wall_clock_ms();
  for (std::size_t i : known) {
    auto& cp = p.partitions[i];
    if (cp.metadata && cp.metadata->size() > opt_.max_metadata_bytes) {
      w->errors[i] = ErrorCode::kOffsetMetadataTooLarge;
      continue;
    }
    const cluster::TopicInfo* t = cluster_.topic(cp.topic);
    OffsetValue v;
    v.offset = cp.offset;
    v.leader_epoch = cp.leader_epoch;
    v.metadata = cp.metadata.value_or("");
    v.commit_ms = now;
    item.updates.push_back(OffsetUpdate{cp.topic, t->record.id, cp.partition, std::move(v)});
    indexes->push_back(i);
  }
  if (item.updates.empty()) {
    w->done.set();
    return w;
  }
  item.on_done = [this, w, indexes](const Status& s) {
    ErrorCode e = write_error(s);
    for (std::size_t i : *indexes) w->errors[i] = e;
    if (s.ok()) {
      stats_.committed_partitions += indexes->size();
      commits_counter().add(indexes->size());
    }
    w->done.set();
  };
  enqueue(std::move(item));
  return w;
}

FetchResult GroupCoordinator::fetch(const std::string& group_id, const std::optional<TopicPartitions>& topics,
                                    const std::optional<std::pair<std::string, std::int32_t>>& member) const {
  FetchResult r;
  if (!owns_group(group_id)) {
    r.error = ErrorCode::kNotCoordinator;
    return r;
  }
  std::shared_ptr<Group> g = find(group_id);
  if (g && g->state == GroupState::kDead) g.reset();  // being deleted
  if (g && g->consumer && member) {
    r.error = consumer_check_offsets(*g, member->first, member->second, true, true);
    if (r.error != ErrorCode::kNone) return r;
  }
  auto lookup = [&](const std::string& topic, std::int32_t partition) {
    FetchedOffset f;
    f.partition = partition;
    if (!g) return f;
    auto tit = g->offsets.find(topic);
    if (tit == g->offsets.end()) return f;
    auto cit = tit->second.find(chunk_of(partition));
    if (cit == tit->second.end()) return f;
    // Offsets of an earlier topic with the same name do not apply.
    const cluster::TopicInfo* t = cluster_.topic(topic);
    if (t == nullptr || t->record.id != cit->second.topic_id) return f;
    auto pit = cit->second.parts.find(partition);
    if (pit == cit->second.parts.end()) return f;
    f.offset = pit->second.offset;
    f.leader_epoch = pit->second.leader_epoch;
    f.metadata = pit->second.metadata;
    return f;
  };
  if (topics) {
    for (const auto& [name, parts] : *topics) {
      FetchedTopic ft;
      ft.name = name;
      for (std::int32_t p : parts) ft.partitions.push_back(lookup(name, p));
      r.topics.push_back(std::move(ft));
    }
    return r;
  }
  if (!g) return r;
  for (const auto& [name, chunks] : g->offsets) {
    FetchedTopic ft;
    ft.name = name;
    for (const auto& [c, chunk] : chunks) {
      for (const auto& [p, v] : chunk.parts) {
        FetchedOffset f = lookup(name, p);
        if (f.offset >= 0 || f.leader_epoch >= 0 || !f.metadata.empty())
          ft.partitions.push_back(std::move(f));
      }
    }
    if (!ft.partitions.empty()) r.topics.push_back(std::move(ft));
  }
  return r;
}

// ---------------------------------------------------------------- admin

GroupDescription GroupCoordinator::describe(const std::string& group_id) const {
  GroupDescription d;
  d.group_id = group_id;
  if (!owns_group(group_id)) {
    d.error = ErrorCode::kNotCoordinator;
    return d;
  }
  auto g = find(group_id);
  if (!g || g->consumer) {
    // Kafka's DescribeGroups (v0-5) describes classic groups only: any other is Dead.
    d.state = "Dead";
    return d;
  }
  d.state = std::string(state_name(g->state));
  d.protocol_type = g->protocol_type;
  const bool stable = g->state == GroupState::kStable;
  if (stable) d.protocol = g->protocol.value_or("");
  for (const auto& [id, m] : g->members) {
    MemberDescription md;
    md.member_id = id;
    md.instance_id = m.instance_id;
    md.client_id = m.client_id;
    md.client_host = m.client_host;
    // Subscription and assignment are only meaningful once the group is stable.
    if (stable && g->protocol) {
      const std::string* meta = m.metadata_for(*g->protocol);
      if (meta) md.metadata = *meta;
      md.assignment = m.assignment;
    }
    d.members.push_back(std::move(md));
  }
  return d;
}

std::vector<GroupListing> GroupCoordinator::list(const std::vector<std::string>& states_filter) const {
  std::vector<GroupListing> out;
  if (unavailable()) return out;
  std::set<std::string> want;
  for (const auto& s : states_filter) want.insert(lower(s));
  for (const auto& [id, g] : groups_) {
    if (g->state == GroupState::kDead || !owns_slot(g->slot)) continue;
    std::string state(g->consumer ? consumer_group_state(*g->consumer) : state_name(g->state));
    if (!want.empty() && !want.contains(lower(state))) continue;
    out.push_back(GroupListing{id, g->protocol_type, state, g->consumer ? "consumer" : "classic"});
  }
  return out;
}

std::shared_ptr<DeleteGroupsWait> GroupCoordinator::delete_groups(const std::vector<std::string>& group_ids) {
  auto w = std::make_shared<DeleteGroupsWait>();
  w->errors.assign(group_ids.size(), ErrorCode::kNone);
  auto remaining = std::make_shared<std::size_t>(1);  // released below
  for (std::size_t i = 0; i < group_ids.size(); ++i) {
    if (!owns_group(group_ids[i])) {
      w->errors[i] = ErrorCode::kNotCoordinator;
      continue;
    }
    if (group_ids[i].empty()) {
      w->errors[i] = ErrorCode::kInvalidGroupId;
      continue;
    }
    auto g = find(group_ids[i]);
    if (!g || g->state == GroupState::kDead) {
      w->errors[i] = ErrorCode::kGroupIdNotFound;
      continue;
    }
    if (g->state != GroupState::kEmpty) {
      w->errors[i] = ErrorCode::kNonEmptyGroup;
      continue;
    }
    set_state(*g, GroupState::kDead);
    ++*remaining;
    WriteItem item;
    item.kind = WriteItem::Kind::kDeleteGroup;
    item.group = g;
    item.on_done = [this, w, g, i, remaining](const Status& s) {
      if (s.ok()) {
        remove_group(g);
      } else {
        set_state(*g, GroupState::kEmpty);
        w->errors[i] = write_error(s);
      }
      if (--*remaining == 0) w->done.set();
    };
    enqueue(std::move(item));
  }
  if (--*remaining == 0) w->done.set();
  return w;
}

std::shared_ptr<OffsetDeleteWait> GroupCoordinator::delete_offsets(const std::string& group_id,
                                                                   const TopicPartitions& topics) {
  auto w = std::make_shared<OffsetDeleteWait>();
  for (const auto& [name, parts] : topics) {
    std::vector<std::pair<std::int32_t, ErrorCode>> v;
    for (auto p : parts) v.emplace_back(p, ErrorCode::kNone);
    w->topics.emplace_back(name, std::move(v));
  }
  auto fail = [&](ErrorCode e) {
    w->error = e;
    w->done.set();
    return w;
  };
  if (!owns_group(group_id)) return fail(ErrorCode::kNotCoordinator);
  if (group_id.empty()) return fail(ErrorCode::kInvalidGroupId);
  auto g = find(group_id);
  if (!g || g->state == GroupState::kDead) return fail(ErrorCode::kGroupIdNotFound);
  std::optional<std::vector<std::string>> subscribed_now;
  if (g->state != GroupState::kEmpty) {
    if (g->protocol_type != "consumer") return fail(ErrorCode::kNonEmptyGroup);
    subscribed_now = subscribed(*g);
  }
  WriteItem item;
  item.kind = WriteItem::Kind::kOffsets;
  item.group = g;
  for (auto& [name, parts] : w->topics) {
    const cluster::TopicInfo* t = cluster_.topic(name);
    const bool in_use =
        subscribed_now && std::binary_search(subscribed_now->begin(), subscribed_now->end(), name);
    for (auto& [p, e] : parts) {
      if (t == nullptr || p < 0 || p >= t->record.partitions) {
        e = ErrorCode::kUnknownTopicOrPartition;
      } else if (in_use || (g->state != GroupState::kEmpty && !subscribed_now)) {
        e = ErrorCode::kGroupSubscribedToTopic;
      } else {
        item.updates.push_back(OffsetUpdate{name, t->record.id, p, std::nullopt});
      }
    }
  }
  if (item.updates.empty()) {
    w->done.set();
    return w;
  }
  item.on_done = [this, w](const Status& s) {
    if (!s.ok()) w->error = write_error(s);
    w->done.set();
  };
  enqueue(std::move(item));
  return w;
}

}  // namespace ks::coordinator
