// KIP-848 consumer groups: ConsumerGroupHeartbeat (join, heartbeat, leave,
// static membership), the target assignment and the member reconcile loop,
// session and revocation timeouts, ConsumerGroupDescribe. The pure parts
// (assignors, reconcile step, regex) are in assignors.cc, consumer_group.h
// and common/regex.cc.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/assert.h"
#include "coordinator/consumer_store.h"
#include "coordinator/coordinator.h"

namespace ks::coordinator {
namespace {

// Bounds on what one heartbeat may carry (each is kept per member).
constexpr std::size_t kMaxSubscribedNames = 10000;
constexpr std::size_t kMaxIdBytes = 1024;  // member, instance and rack ids

bool has_partitions(const std::optional<Assignment>& a) { return a && partition_count(*a) > 0; }

}  // namespace

std::string_view member_state_name(MemberState s) {
  switch (s) {
    case MemberState::kStable:
      return "stable";
    case MemberState::kUnrevokedPartitions:
      return "unrevoked_partitions";
    case MemberState::kUnreleasedPartitions:
      return "unreleased_partitions";
  }
  return "unknown";
}

std::string_view consumer_group_state(const ConsumerGroupState& cg) {
  if (cg.members.empty()) return "Empty";
  if (cg.group_epoch > cg.assignment_epoch) return "Assigning";
  for (const auto& [id, m] : cg.members) {
    if (m.epoch != cg.assignment_epoch || m.state != MemberState::kStable) return "Reconciling";
  }
  return "Stable";
}

ErrorCode GroupCoordinator::consumer_validate(const ConsumerHeartbeatParams& p, std::string& msg) const {
  auto invalid = [&](std::string m) {
    msg = std::move(m);
    return ErrorCode::kInvalidRequest;
  };
  if (p.group_id.empty()) return invalid("GroupId can't be empty.");
  if (p.member_id.size() > kMaxIdBytes || (p.instance_id && p.instance_id->size() > kMaxIdBytes) ||
      (p.rack_id && p.rack_id->size() > kMaxIdBytes))
    return invalid(fmt::format("MemberId, InstanceId and RackId are limited to {} bytes.", kMaxIdBytes));
  if (p.instance_id && p.instance_id->empty()) return invalid("InstanceId can't be empty.");
  if (p.rack_id && p.rack_id->empty()) return invalid("RackId can't be empty.");
  if (p.member_epoch < kStaticLeaveEpoch)
    return invalid(fmt::format("MemberEpoch {} is invalid.", p.member_epoch));
  if (p.member_epoch == kStaticLeaveEpoch && !p.instance_id)
    return invalid("InstanceId can't be null when MemberEpoch is -2.");
  if (p.member_id.empty() && (p.client_generates_member_id || p.member_epoch != kJoinEpoch))
    return invalid("MemberId can't be empty.");
  if (p.member_epoch == kJoinEpoch) {
    if (p.rebalance_timeout_ms == -1) return invalid("RebalanceTimeoutMs must be provided in first request.");
    if (has_partitions(p.owned)) return invalid("TopicPartitions must be empty when (re-)joining.");
    if (!p.topic_names && !p.topic_regex)
      return invalid("SubscribedTopicNames or SubscribedTopicRegex must be set in first request.");
  }
  if (p.topic_names && p.topic_names->size() > kMaxSubscribedNames)
    return invalid(fmt::format("SubscribedTopicNames is limited to {} topics.", kMaxSubscribedNames));
  if (p.server_assignor && !known_assignor(*p.server_assignor)) {
    msg = fmt::format("ServerAssignor {} is not supported. Supported assignors: uniform, range.",
                      *p.server_assignor);
    return ErrorCode::kUnsupportedAssignor;
  }
  if (p.topic_regex && !p.topic_regex->empty()) {
    std::string why;
    if (!Regex::compile(*p.topic_regex, why)) {
      msg = fmt::format("SubscribedTopicRegex `{}` is not a valid regular expression: {}.", *p.topic_regex,
                        why);
      return ErrorCode::kInvalidRegularExpression;
    }
  }
  return ErrorCode::kNone;
}

std::shared_ptr<GroupCoordinator::ConsumerHeartbeatWait> GroupCoordinator::consumer_heartbeat(
    ConsumerHeartbeatParams p) {
  auto w = std::make_shared<ConsumerHeartbeatWait>();
  auto& r = w->result;
  const EffectiveGroupConfig gc = group_config(p.group_id);
  r.heartbeat_interval_ms = static_cast<std::int32_t>(gc.heartbeat_interval.count());
  r.member_id = p.member_id;
  auto finish = [&](ErrorCode e, std::optional<std::string> message = std::nullopt) {
    r.error = e;
    r.error_message = std::move(message);
    if (e != ErrorCode::kNone) r.assignment.reset();
    w->done.set();
    return w;
  };
  if (unavailable() || suspended_ || !owns_group(p.group_id)) return finish(ErrorCode::kNotCoordinator);
  std::string message;
  if (auto e = consumer_validate(p, message); e != ErrorCode::kNone) return finish(e, message);

  auto g = find(p.group_id);
  if (g && !g->consumer) {
    // A classic group with nothing going on may become a consumer group.
    const bool idle = g->state == GroupState::kEmpty && g->members.empty() && g->pending.empty();
    if (!idle || p.member_epoch != kJoinEpoch)
      return finish(ErrorCode::kGroupIdNotFound,
                    fmt::format("Group {} is not a consumer group.", p.group_id));
    spdlog::info("group {}: empty classic group converted to a consumer group", g->id);
    g->consumer.emplace();
    g->protocol_type = "consumer";
    g->protocol.reset();
    g->leader.clear();
  }
  if (p.member_epoch == kLeaveEpoch || p.member_epoch == kStaticLeaveEpoch) {
    if (!g) return finish(ErrorCode::kGroupIdNotFound, fmt::format("Group {} not found.", p.group_id));
    consumer_leave(*g, p, r);
    if (r.error != ErrorCode::kNone || !g->consumer->dirty) return finish(r.error, r.error_message);
    g->consumer->dirty = false;
    consumer_persist(g, [this, w](const Status& s) {
      if (!s.ok()) w->result.error = write_error(s);
      w->done.set();
    });
    return w;
  }
  if (!g) {
    if (p.member_epoch != kJoinEpoch)
      return finish(ErrorCode::kGroupIdNotFound, fmt::format("Group {} not found.", p.group_id));
    ErrorCode e = ErrorCode::kNone;
    g = get_or_create(p.group_id, e);
    if (!g) return finish(e);
    g->consumer.emplace();
    g->protocol_type = "consumer";
  }
  auto& cg = *g->consumer;
  bool bump = false;
  ConsumerMember* mp = consumer_member(*g, p, r, bump);
  if (mp == nullptr) return finish(r.error, r.error_message);
  ConsumerMember& m = *mp;
  const std::string member_id = m.id;

  // Subscription and settings; a change the assignor sees bumps the group epoch.
  if (p.topic_names) {
    auto names = *p.topic_names;
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
    if (names != m.topic_names) {
      m.topic_names = std::move(names);
      bump = true;
    }
  }
  if (p.topic_regex) {
    std::optional<std::string> re;
    if (!p.topic_regex->empty()) re = *p.topic_regex;
    if (re != m.regex) {
      m.regex = std::move(re);
      bump = true;
    }
  }
  m.may_describe = p.may_describe;
  if (p.server_assignor && *p.server_assignor != m.server_assignor) {
    m.server_assignor = *p.server_assignor;
    bump = true;
  }
  if (p.rebalance_timeout_ms > 0 && p.rebalance_timeout_ms != m.rebalance_timeout_ms) {
    m.rebalance_timeout_ms = p.rebalance_timeout_ms;
    cg.dirty = true;
  }
  if (p.rack_id && p.rack_id != m.rack_id) {
    m.rack_id = p.rack_id;
    cg.dirty = true;
  }
  if (m.client_id != p.client_id || m.client_host != p.client_host) {
    m.client_id = p.client_id;
    m.client_host = p.client_host;
    cg.dirty = true;
  }
  m.session_deadline = Clock::now() + gc.session_timeout;

  if (consumer_refresh_topics(*g)) bump = true;
  if (bump) {
    cg.dirty = true;
    ++cg.group_epoch;
    spdlog::debug("group {}: epoch {} (member {})", g->id, cg.group_epoch, member_id);
  }
  if (cg.group_epoch > cg.assignment_epoch) consumer_compute_target(*g);
  const Assignment before = m.assigned;
  const bool changed = consumer_reconcile(cg, m, p.owned);
  r.member_id = member_id;
  r.member_epoch = m.epoch;
  // The assignment is sent when it changed, on a join, and when the member's
  // report differs from what it should own (e.g. a lost response).
  if (changed || p.member_epoch == kJoinEpoch || (p.owned && *p.owned != m.assigned) || before != m.assigned)
    r.assignment = m.assigned;
  if (g->state != GroupState::kStable) set_state(*g, GroupState::kStable);
  ensure_timer(g);
  if (!cg.dirty) return finish(ErrorCode::kNone);
  // Answered once the change is durable (as Kafka answers after its log write).
  cg.dirty = false;
  consumer_persist(g, [this, w](const Status& s) {
    if (!s.ok()) {
      w->result.error = write_error(s);
      w->result.assignment.reset();
    }
    w->done.set();
  });
  return w;
}

ConsumerMember* GroupCoordinator::consumer_member(Group& g, ConsumerHeartbeatParams& p,
                                                  ConsumerHeartbeatResult& r, bool& bump) {
  auto& cg = *g.consumer;
  auto fail = [&](ErrorCode e, std::string msg) -> ConsumerMember* {
    r.error = e;
    r.error_message = std::move(msg);
    return nullptr;
  };
  if (p.member_epoch == kJoinEpoch) {
    if (p.instance_id) {
      auto it = cg.instances.find(*p.instance_id);
      if (it != cg.instances.end() && it->second != p.member_id) {
        // A static member coming back: it takes over its previous
        // incarnation (assignment and epochs) if that one left with -2.
        auto old = cg.members.find(it->second);
        KS_ASSERT(old != cg.members.end(), "group {}: instance {} maps to unknown member {}", g.id,
                  *p.instance_id, it->second);
        if (old->second.epoch != kStaticLeaveEpoch)
          return fail(ErrorCode::kUnreleasedInstanceId,
                      fmt::format("Static member {} with instance id {} is not released yet.", it->second,
                                  *p.instance_id));
        if (p.member_id.empty()) p.member_id = new_member_id("consumer");
        if (cg.members.contains(p.member_id))
          return fail(ErrorCode::kInvalidRequest, "MemberId is used by another member.");
        ConsumerMember taken = std::move(old->second);
        const std::string old_id = taken.id;
        cg.members.erase(old);
        taken.id = p.member_id;
        taken.epoch = taken.previous_epoch;  // what it owned at its last epoch
        for (auto& [tp, owner] : cg.owners) {
          if (owner == old_id) owner = taken.id;
        }
        if (auto t = cg.target.find(old_id); t != cg.target.end()) {
          auto a = std::move(t->second);
          cg.target.erase(t);
          cg.target[taken.id] = std::move(a);
        }
        it->second = taken.id;
        spdlog::info("group {}: static member {} replaces {} (instance {})", g.id, taken.id, old_id,
                     *p.instance_id);
        auto& m = cg.members[taken.id];
        m = std::move(taken);
        cg.dirty = true;
        // The new incarnation starts from what the old one owned.
        m.state = MemberState::kStable;
        if (m.epoch <= 0) m.epoch = cg.assignment_epoch;
        return &m;
      }
    }
    if (p.member_id.empty()) p.member_id = new_member_id(p.client_id.empty() ? "consumer" : p.client_id);
    auto it = cg.members.find(p.member_id);
    if (it == cg.members.end()) {
      if (cg.members.size() >= opt_.consumer_max_size)
        return fail(ErrorCode::kGroupMaxSizeReached,
                    fmt::format("The consumer group has reached its maximum capacity of {} members.",
                                opt_.consumer_max_size));
      auto& m = cg.members[p.member_id];
      m.id = p.member_id;
      m.instance_id = p.instance_id;
      if (p.instance_id) cg.instances[*p.instance_id] = m.id;
      bump = true;
      return &m;
    }
    // A known member joining again (epoch 0) starts over: it owns nothing.
    ConsumerMember& m = it->second;
    const ConsumerMember before = m;
    m.assigned.clear();
    m.pending_revocation.clear();
    m.state = MemberState::kStable;
    m.previous_epoch = m.epoch;
    m.epoch = 0;
    consumer_set_owned(cg, before, m);
    bump = true;
    return &m;
  }
  auto it = cg.members.find(p.member_id);
  if (it == cg.members.end())
    return fail(ErrorCode::kUnknownMemberId,
                fmt::format("Member {} is not a member of group {}.", p.member_id, g.id));
  ConsumerMember& m = it->second;
  if (p.instance_id && m.instance_id != p.instance_id)
    return fail(ErrorCode::kFencedInstanceId, "The instance id does not match the member's.");
  if (p.member_epoch > m.epoch)
    return fail(ErrorCode::kFencedMemberEpoch,
                fmt::format("The consumer group member has a greater member epoch ({}) than the one known by "
                            "the group coordinator ({}).",
                            p.member_epoch, m.epoch));
  if (p.member_epoch < m.epoch) {
    // Allowed only if the member missed the answer that moved it to its
    // current epoch: it is at the previous epoch and owns nothing more than
    // it has now.
    const bool lost_answer =
        p.member_epoch == m.previous_epoch && p.owned && minus(*p.owned, m.assigned).empty();
    if (!lost_answer)
      return fail(
          ErrorCode::kFencedMemberEpoch,
          fmt::format("The consumer group member has a smaller member epoch ({}) than the one known by "
                      "the group coordinator ({}).",
                      p.member_epoch, m.epoch));
  }
  return &m;
}

void GroupCoordinator::consumer_leave(Group& g, const ConsumerHeartbeatParams& p,
                                      ConsumerHeartbeatResult& r) {
  auto& cg = *g.consumer;
  std::string id = p.member_id;
  if (p.instance_id) {
    auto it = cg.instances.find(*p.instance_id);
    if (it == cg.instances.end()) {
      r.error = ErrorCode::kUnknownMemberId;
      r.error_message = fmt::format("Instance id {} is unknown.", *p.instance_id);
      return;
    }
    if (it->second != p.member_id) {
      r.error = ErrorCode::kFencedInstanceId;
      r.error_message = fmt::format("Instance id {} belongs to another member.", *p.instance_id);
      return;
    }
  }
  auto it = cg.members.find(id);
  if (it == cg.members.end()) {
    r.error = ErrorCode::kUnknownMemberId;
    r.error_message = fmt::format("Member {} is not a member of group {}.", id, g.id);
    return;
  }
  r.member_id = id;
  r.member_epoch = p.member_epoch;
  if (p.member_epoch == kStaticLeaveEpoch) {
    // Leaving for a while: its partitions stay its own until it comes back
    // (another member with the instance id) or its session expires.
    spdlog::info("group {}: static member {} left temporarily", g.id, id);
    if (it->second.epoch != kStaticLeaveEpoch) it->second.previous_epoch = it->second.epoch;
    it->second.epoch = kStaticLeaveEpoch;
    cg.dirty = true;
    return;
  }
  consumer_remove_member(g, id, "left the group");
}

void GroupCoordinator::consumer_remove_member(Group& g, const std::string& member_id, const char* reason) {
  auto& cg = *g.consumer;
  auto it = cg.members.find(member_id);
  if (it == cg.members.end()) return;
  spdlog::info("group {}: member {} removed ({})", g.id, member_id, reason);
  std::erase_if(cg.owners, [&](const auto& kv) { return kv.second == member_id; });
  if (it->second.instance_id) {
    auto in = cg.instances.find(*it->second.instance_id);
    if (in != cg.instances.end() && in->second == member_id) cg.instances.erase(in);
  }
  cg.members.erase(it);
  cg.target.erase(member_id);
  cg.dirty = true;
  ++cg.group_epoch;
  consumer_refresh_topics(g);
  consumer_compute_target(g);
  if (cg.members.empty()) set_state(g, GroupState::kEmpty);
  ++stats_.rebalances;
}

std::set<cluster::TopicId> GroupCoordinator::consumer_member_topics(const ConsumerGroupState& cg,
                                                                    const ConsumerMember& m) const {
  std::set<cluster::TopicId> out;
  for (const auto& name : m.topic_names) {
    auto it = cg.subscribed_topics.find(name);
    if (it != cg.subscribed_topics.end()) out.insert(it->second.first);
  }
  if (m.regex) {
    auto re = cg.regexes.find(*m.regex);
    if (re != cg.regexes.end()) {
      for (const auto& [name, idp] : cg.subscribed_topics) {
        if (re->second.full_match(name) && (!m.may_describe || m.may_describe(name))) out.insert(idp.first);
      }
    }
  }
  return out;
}

bool GroupCoordinator::consumer_refresh_topics(Group& g) {
  auto& cg = *g.consumer;
  // Compiled regexes of the current members (compiled once; validated at the heartbeat).
  std::set<std::string> patterns;
  for (const auto& [id, m] : cg.members) {
    if (m.regex) patterns.insert(*m.regex);
  }
  std::erase_if(cg.regexes, [&](const auto& kv) { return !patterns.contains(kv.first); });
  for (const auto& pat : patterns) {
    if (cg.regexes.contains(pat)) continue;
    std::string why;
    auto re = Regex::compile(pat, why);
    if (re) cg.regexes.emplace(pat, std::move(*re));
  }
  std::set<std::string> names;
  for (const auto& [id, m] : cg.members) names.insert(m.topic_names.begin(), m.topic_names.end());
  std::map<std::string, std::pair<cluster::TopicId, std::int32_t>> now;
  for (const auto& name : names) {
    if (const auto* t = cluster_.topic(name)) now[name] = {t->record.id, t->record.partitions};
  }
  if (!cg.regexes.empty()) {
    // A topic a regex matches counts when some member with that regex may describe it.
    auto described = [&](const std::string& pattern, const std::string& topic) {
      for (const auto& [id, m] : cg.members) {
        if (m.regex == pattern && (!m.may_describe || m.may_describe(topic))) return true;
      }
      return false;
    };
    for (const auto* t : cluster_.topics()) {
      if (now.contains(t->record.name)) continue;
      for (const auto& [pat, re] : cg.regexes) {
        if (re.full_match(t->record.name) && described(pat, t->record.name)) {
          now[t->record.name] = {t->record.id, t->record.partitions};
          break;
        }
      }
    }
  }
  if (now == cg.subscribed_topics) return false;
  cg.subscribed_topics = std::move(now);
  return true;
}

void GroupCoordinator::consumer_compute_target(Group& g) {
  auto& cg = *g.consumer;
  AssignmentSpec spec;
  std::map<std::string, std::size_t> votes;
  for (const auto& [id, m] : cg.members) {
    auto& am = spec.members[id];
    am.topics = consumer_member_topics(cg, m);
    if (auto t = cg.target.find(id); t != cg.target.end()) am.previous = t->second;
    if (!m.server_assignor.empty()) ++votes[m.server_assignor];
  }
  for (const auto& [name, idp] : cg.subscribed_topics) spec.partitions[idp.first] = idp.second;
  // The assignor most members ask for; uniform by default.
  std::string assignor(kUniformAssignor);
  std::size_t best = 0;
  for (const auto& [name, n] : votes) {
    if (n > best) {
      best = n;
      assignor = name;
    }
  }
  cg.target = run_assignor(assignor, spec);
  cg.assignment_epoch = cg.group_epoch;
}

void GroupCoordinator::consumer_set_owned(ConsumerGroupState& cg, const ConsumerMember& before,
                                          const ConsumerMember& after) {
  for (const auto* a : {&before.assigned, &before.pending_revocation}) {
    for (const auto& [t, ps] : *a) {
      for (auto p : ps) {
        auto it = cg.owners.find({t, p});
        if (it != cg.owners.end() && it->second == before.id) cg.owners.erase(it);
      }
    }
  }
  for (const auto* a : {&after.assigned, &after.pending_revocation}) {
    for (const auto& [t, ps] : *a) {
      for (auto p : ps) cg.owners[{t, p}] = after.id;
    }
  }
}

bool GroupCoordinator::consumer_reconcile(ConsumerGroupState& cg, ConsumerMember& m,
                                          const std::optional<Assignment>& owned) {
  static const Assignment kNone;
  auto t = cg.target.find(m.id);
  const Assignment& target = t == cg.target.end() ? kNone : t->second;
  const std::string id = m.id;
  ConsumerMember next =
      reconcile(m, cg.assignment_epoch, target, owned, [&](const cluster::TopicId& topic, std::int32_t p) {
        auto it = cg.owners.find({topic, p});
        return it == cg.owners.end() || it->second == id;
      });
  if (next.state == MemberState::kUnrevokedPartitions && m.state != MemberState::kUnrevokedPartitions) {
    next.revocation_deadline = Clock::now() + std::chrono::milliseconds(std::max(m.rebalance_timeout_ms, 1));
  }
  const bool changed =
      next.assigned != m.assigned || next.pending_revocation != m.pending_revocation || next.epoch != m.epoch;
  if (changed || next.state != m.state || next.previous_epoch != m.previous_epoch) cg.dirty = true;
  consumer_set_owned(cg, m, next);
  m = std::move(next);
  return changed;
}

void GroupCoordinator::consumer_on_timer(Group& g) {
  auto& cg = *g.consumer;
  const auto now = Clock::now();
  std::vector<std::pair<std::string, const char*>> expired;
  for (const auto& [id, m] : cg.members) {
    if (m.session_deadline <= now) {
      expired.emplace_back(id, "session timeout expired");
    } else if (m.revocation_deadline && *m.revocation_deadline <= now) {
      expired.emplace_back(id, "did not revoke its partitions within the rebalance timeout");
    }
  }
  for (const auto& [id, why] : expired) consumer_remove_member(g, id, why);
  if (cg.dirty) {
    cg.dirty = false;
    auto it = groups_.find(g.id);
    if (it != groups_.end() && it->second.get() == &g) consumer_persist(it->second, nullptr);
  }
}

void GroupCoordinator::consumer_persist(const std::shared_ptr<Group>& g,
                                        std::function<void(const Status&)> on_done) {
  KS_ASSERT(g && g->consumer, "consumer_persist of a group without consumer state");
  StoredGroup sg;
  sg.protocol_type = "consumer";
  sg.state_ms = g->state_ms;
  sg.generation = g->consumer->group_epoch;
  sg.consumer = encode_consumer_state(*g->consumer);
  std::string value = encode_group(sg);
  // As the classic record: one value well under etcd's 1.5 MiB. A group too
  // large to store whole is stored without members (they rejoin after a
  // restart: UNKNOWN_MEMBER_ID).
  constexpr std::size_t kMaxGroupRecordBytes = 1 << 20;
  if (value.size() > kMaxGroupRecordBytes) {
    spdlog::warn("group {}: record of {} bytes stored without members", g->id, value.size());
    ConsumerGroupState empty;
    empty.group_epoch = g->consumer->group_epoch;
    empty.assignment_epoch = g->consumer->group_epoch;
    sg.consumer = encode_consumer_state(empty);
    value = encode_group(sg);
  }
  WriteItem item;
  item.kind = WriteItem::Kind::kMeta;
  item.group = g;
  item.meta = std::move(value);
  item.on_done = std::move(on_done);
  enqueue(std::move(item));
}

void GroupCoordinator::consumer_restore(Group& g, const StoredGroup& sg) {
  auto cg = decode_consumer_state(*sg.consumer);
  if (!cg.ok()) {
    spdlog::error("group {}: {}; its members rejoin", g.id, cg.status().to_string());
    g.consumer.emplace();
  } else {
    g.consumer = std::move(*cg);
  }
  g.protocol_type = "consumer";
  g.state_ms = sg.state_ms;
  // Members carry on at their epochs; those that are gone expire by session timeout.
  const auto deadline = Clock::now() + group_config(g.id).session_timeout;
  for (auto& [id, m] : g.consumer->members) m.session_deadline = deadline;
  g.state = g.consumer->members.empty() ? GroupState::kEmpty : GroupState::kStable;
}

ConsumerGroupDescription GroupCoordinator::consumer_describe(const std::string& group_id) const {
  ConsumerGroupDescription d;
  d.group_id = group_id;
  if (unavailable() || suspended_ || !owns_group(group_id)) {
    d.error = ErrorCode::kNotCoordinator;
    return d;
  }
  if (group_id.empty()) {
    d.error = ErrorCode::kInvalidGroupId;
    return d;
  }
  auto g = find(group_id);
  if (!g || g->state == GroupState::kDead) {
    d.error = ErrorCode::kGroupIdNotFound;
    d.error_message = fmt::format("Group {} not found.", group_id);
    return d;
  }
  if (!g->consumer) {
    d.error = ErrorCode::kGroupIdNotFound;
    d.error_message = fmt::format("Group {} is not a consumer group.", group_id);
    return d;
  }
  const auto& cg = *g->consumer;
  d.state = std::string(consumer_group_state(cg));
  d.group_epoch = cg.group_epoch;
  d.assignment_epoch = cg.assignment_epoch;
  d.assignor = std::string(kUniformAssignor);
  std::map<std::string, std::size_t> votes;
  for (const auto& [id, m] : cg.members) {
    if (!m.server_assignor.empty()) ++votes[m.server_assignor];
  }
  std::size_t best = 0;
  for (const auto& [name, n] : votes) {
    if (n > best) {
      best = n;
      d.assignor = name;
    }
  }
  for (const auto& [id, m] : cg.members) {
    ConsumerMemberDescription md;
    md.member_id = id;
    md.instance_id = m.instance_id;
    md.rack_id = m.rack_id;
    md.member_epoch = m.epoch;
    md.client_id = m.client_id;
    md.client_host = m.client_host;
    md.topic_names = m.topic_names;
    md.topic_regex = m.regex;
    md.assignment = m.assigned;
    if (auto t = cg.target.find(id); t != cg.target.end()) md.target = t->second;
    d.members.push_back(std::move(md));
  }
  return d;
}

ErrorCode GroupCoordinator::consumer_check_offsets(const Group& g, const std::string& member_id,
                                                   std::int32_t epoch, bool epoch_version, bool fetch) const {
  const auto& cg = *g.consumer;
  if (epoch < 0 && member_id.empty()) {
    if (fetch || cg.members.empty()) return ErrorCode::kNone;
    return ErrorCode::kUnknownMemberId;
  }
  auto it = cg.members.find(member_id);
  if (it == cg.members.end()) return ErrorCode::kUnknownMemberId;
  // A KIP-848 member commits with OffsetCommit v9+ (Kafka: UNSUPPORTED_VERSION otherwise).
  if (!epoch_version) return ErrorCode::kUnsupportedVersion;
  if (epoch != it->second.epoch) return ErrorCode::kStaleMemberEpoch;
  return ErrorCode::kNone;
}

}  // namespace ks::coordinator
