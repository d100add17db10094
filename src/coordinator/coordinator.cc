// Membership: JoinGroup / SyncGroup / Heartbeat / LeaveGroup, the group state
// machine and its timers. Offsets and storage are in offsets.cc.
#include "coordinator/coordinator.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/assert.h"
#include "common/clock.h"
#include "common/metrics.h"
#include "common/task.h"
#include "protocol/uuid.h"

namespace ks::coordinator {
namespace {

// Longest client id kept in a generated member id (the id is persisted).
constexpr std::size_t kMaxMemberIdPrefix = 128;

metrics::Counter& rebalances_counter() {
  static auto& c = metrics::registry().counter("kafscale_group_rebalances_total", "Group rebalances started");
  return c;
}

bool same_protocols(const std::vector<Protocol>& a, const std::vector<Protocol>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].name != b[i].name || a[i].metadata != b[i].metadata) return false;
  }
  return true;
}

std::shared_ptr<JoinWait> join_error(std::shared_ptr<JoinWait> w, ErrorCode e, std::string member_id = {}) {
  w->result.error = e;
  w->result.member_id = std::move(member_id);
  w->done.set();
  return w;
}

std::shared_ptr<SyncWait> sync_error(std::shared_ptr<SyncWait> w, ErrorCode e) {
  w->result.error = e;
  w->done.set();
  return w;
}

void finish_join(Member& m, ErrorCode e) {
  if (!m.join_wait) return;
  m.join_wait->result.error = e;
  m.join_wait->result.member_id = m.id;
  m.join_wait->done.set();
  m.join_wait.reset();
}

void finish_sync(Member& m, ErrorCode e) {
  if (!m.sync_wait) return;
  m.sync_wait->result.error = e;
  m.sync_wait->done.set();
  m.sync_wait.reset();
}

}  // namespace

std::string_view state_name(GroupState s) {
  switch (s) {
    case GroupState::kEmpty:
      return "Empty";
    case GroupState::kPreparingRebalance:
      return "PreparingRebalance";
    case GroupState::kCompletingRebalance:
      return "CompletingRebalance";
    case GroupState::kStable:
      return "Stable";
    case GroupState::kDead:
      return "Dead";
  }
  return "Unknown";
}

GroupCoordinator::GroupCoordinator(asio::io_context& io, asio::thread_pool& pool,
                                   std::shared_ptr<metastore::MetadataStore> meta,
                                   cluster::ClusterState& cluster, HighWatermarkFn high_watermark,
                                   Options options)
    : io_(io),
      pool_(pool),
      meta_(std::move(meta)),
      cluster_(cluster),
      high_watermark_(std::move(high_watermark)),
      opt_(options) {
  rebalances_counter();
}

GroupCoordinator::~GroupCoordinator() {
  for (auto& [key, v] : lag_series_) {
    metrics::registry().remove_gauge_fn("kafscale_group_lag", {{"group", key.first}, {"topic", key.second}});
  }
}

std::shared_ptr<Group> GroupCoordinator::find(const std::string& id) const {
  auto it = groups_.find(id);
  return it == groups_.end() ? nullptr : it->second;
}

std::shared_ptr<Group> GroupCoordinator::get_or_create(const std::string& id, ErrorCode& error) {
  if (auto g = find(id)) return g;
  if (groups_.size() >= opt_.max_groups) {
    error = ErrorCode::kCoordinatorNotAvailable;
    return nullptr;
  }
  auto g = std::make_shared<Group>();
  g->id = id;
  g->slot = slot_of(id);
  KS_ASSERT(write_fence(g->slot) != nullptr, "group {} created in slot {} not served here", id, g->slot);
  g->state_ms = wall_clock_ms();
  groups_.emplace(id, g);
  return g;
}

std::string GroupCoordinator::new_member_id(const std::string& prefix) const {
  auto u = protocol::Uuid::random();
  std::string hex;
  static constexpr char kHex[] = "0123456789abcdef";
  for (std::size_t i = 0; i < u.bytes.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) hex.push_back('-');
    hex.push_back(kHex[u.bytes[i] >> 4]);
    hex.push_back(kHex[u.bytes[i] & 15]);
  }
  return prefix.substr(0, kMaxMemberIdPrefix) + "-" + hex;
}

void GroupCoordinator::set_state(Group& g, GroupState s) {
  g.state = s;
  g.state_ms = wall_clock_ms();
}

bool GroupCoordinator::supports(const Group& g, const JoinParams& p) const {
  if (p.protocol_type.empty() || p.protocols.empty()) return false;
  bool others = false;
  for (const auto& [id, m] : g.members) {
    if (id != p.member_id) others = true;
  }
  if (!others) return true;
  if (p.protocol_type != g.protocol_type) return false;
  // At least one of the member's protocols must be supported by every other member.
  for (const auto& proto : p.protocols) {
    bool all = true;
    for (const auto& [id, m] : g.members) {
      if (id != p.member_id && m.metadata_for(proto.name) == nullptr) {
        all = false;
        break;
      }
    }
    if (all) return true;
  }
  return false;
}

std::optional<std::string> GroupCoordinator::select_protocol(const Group& g) const {
  if (g.members.empty()) return std::nullopt;
  // Candidates: protocols every member supports, in the first member's order.
  std::vector<std::string> candidates;
  for (const auto& p : g.members.begin()->second.protocols) {
    bool all = std::all_of(g.members.begin(), g.members.end(),
                           [&](const auto& kv) { return kv.second.metadata_for(p.name) != nullptr; });
    if (all) candidates.push_back(p.name);
  }
  if (candidates.empty()) return std::nullopt;
  // Each member votes for its most preferred candidate; the most votes win.
  std::map<std::string, int> votes;
  for (const auto& [id, m] : g.members) {
    for (const auto& p : m.protocols) {
      if (std::find(candidates.begin(), candidates.end(), p.name) != candidates.end()) {
        ++votes[p.name];
        break;
      }
    }
  }
  std::string best = candidates.front();
  for (const auto& c : candidates) {
    if (votes[c] > votes[best]) best = c;
  }
  return best;
}

void GroupCoordinator::update_member(Member& m, const JoinParams& p) {
  m.protocols = p.protocols;
  m.session_timeout_ms = p.session_timeout_ms;
  m.rebalance_timeout_ms = p.rebalance_timeout_ms > 0 ? p.rebalance_timeout_ms : p.session_timeout_ms;
  m.client_id = p.client_id;
  m.client_host = p.client_host;
  m.heartbeat_deadline = Clock::now() + std::chrono::milliseconds(m.session_timeout_ms);
}

ErrorCode GroupCoordinator::validate_member(const Group& g, const std::string& member_id,
                                            const std::optional<std::string>& instance_id) const {
  if (instance_id) {
    auto it = g.instances.find(*instance_id);
    if (it == g.instances.end()) return ErrorCode::kUnknownMemberId;
    if (it->second != member_id) return ErrorCode::kFencedInstanceId;
  }
  return g.members.contains(member_id) ? ErrorCode::kNone : ErrorCode::kUnknownMemberId;
}

std::shared_ptr<JoinWait> GroupCoordinator::join(JoinParams p) {
  auto w = std::make_shared<JoinWait>();
  if (!owns_group(p.group_id)) return join_error(w, ErrorCode::kNotCoordinator, p.member_id);
  if (p.group_id.empty()) return join_error(w, ErrorCode::kInvalidGroupId, p.member_id);
  if (p.session_timeout_ms < opt_.min_session_timeout.count() ||
      p.session_timeout_ms > opt_.max_session_timeout.count()) {
    return join_error(w, ErrorCode::kInvalidSessionTimeout, p.member_id);
  }
  if (p.rebalance_timeout_ms <= 0) p.rebalance_timeout_ms = p.session_timeout_ms;
  std::shared_ptr<Group> gp = find(p.group_id);
  if (!gp) {
    if (!p.member_id.empty()) return join_error(w, ErrorCode::kUnknownMemberId, p.member_id);
    ErrorCode e = ErrorCode::kNone;
    gp = get_or_create(p.group_id, e);
    if (!gp) return join_error(w, e, p.member_id);
  }
  Group& g = *gp;
  if (g.state == GroupState::kDead) return join_error(w, ErrorCode::kCoordinatorNotAvailable, p.member_id);
  if (g.consumer) {
    // A KIP-848 group: classic members may not join it while it has members
    // (Kafka answers so when it cannot host classic members); an empty one
    // becomes a classic group again.
    if (!g.consumer->members.empty())
      return join_error(w, ErrorCode::kInconsistentGroupProtocol, p.member_id);
    spdlog::info("group {}: empty consumer group converted to a classic group", g.id);
    g.consumer.reset();
    g.protocol_type.clear();
  }
  if (!supports(g, p)) return join_error(w, ErrorCode::kInconsistentGroupProtocol, p.member_id);

  if (p.member_id.empty()) {
    if (p.instance_id) {
      auto it = g.instances.find(*p.instance_id);
      if (it != g.instances.end()) return static_rejoin(g, it->second, p, std::move(w));
      return add_member_and_rebalance(g, new_member_id(*p.instance_id), p, std::move(w));
    }
    std::string id = new_member_id(p.client_id);
    if (p.require_known_member_id) {
      // KIP-394: hand out the id first; the member joins again with it.
      if (g.members.size() + g.pending.size() >= opt_.max_group_size) {
        return join_error(w, ErrorCode::kGroupMaxSizeReached);
      }
      g.pending[id] = Clock::now() + std::chrono::milliseconds(p.session_timeout_ms);
      ensure_timer(gp);
      return join_error(w, ErrorCode::kMemberIdRequired, id);
    }
    return add_member_and_rebalance(g, id, p, std::move(w));
  }

  if (auto pit = g.pending.find(p.member_id); pit != g.pending.end()) {
    g.pending.erase(pit);
    return add_member_and_rebalance(g, p.member_id, p, std::move(w));
  }
  if (ErrorCode e = validate_member(g, p.member_id, p.instance_id); e != ErrorCode::kNone) {
    return join_error(w, e, p.member_id);
  }
  auto mit = g.members.find(p.member_id);
  KS_ASSERT(mit != g.members.end(), "group {}: validated member {} missing", g.id, p.member_id);
  Member& m = mit->second;
  switch (g.state) {
    case GroupState::kPreparingRebalance:
      update_member(m, p);
      // A re-sent join replaces the one already waiting.
      finish_join(m, ErrorCode::kRebalanceInProgress);
      m.join_wait = w;
      maybe_complete_join(g);
      return w;
    case GroupState::kCompletingRebalance:
      if (same_protocols(m.protocols, p.protocols)) {
        // The join response was lost: send it again.
        w->result = current_join_result(g, m, m.id == g.leader);
        w->done.set();
        return w;
      }
      update_member(m, p);
      m.join_wait = w;
      prepare_rebalance(g, "member changed its protocols");
      return w;
    case GroupState::kStable:
      if (m.id == g.leader || !same_protocols(m.protocols, p.protocols)) {
        // The leader rejoining (e.g. metadata changed) or new subscriptions: rebalance.
        update_member(m, p);
        m.join_wait = w;
        prepare_rebalance(g, m.id == g.leader ? "leader rejoined" : "member changed its protocols");
        return w;
      }
      m.heartbeat_deadline = Clock::now() + std::chrono::milliseconds(m.session_timeout_ms);
      w->result = current_join_result(g, m, false);
      w->done.set();
      return w;
    case GroupState::kEmpty:
    case GroupState::kDead:
      break;
  }
  return join_error(w, ErrorCode::kUnknownMemberId, p.member_id);
}

std::shared_ptr<JoinWait> GroupCoordinator::add_member_and_rebalance(Group& g, const std::string& member_id,
                                                                     const JoinParams& p,
                                                                     std::shared_ptr<JoinWait> w) {
  if (g.members.size() >= opt_.max_group_size)
    return join_error(w, ErrorCode::kGroupMaxSizeReached, member_id);
  if (g.members.empty()) {
    g.protocol_type = p.protocol_type;
    g.leader = member_id;
  }
  Member& m = g.members[member_id];
  m.id = member_id;
  m.instance_id = p.instance_id;
  update_member(m, p);
  m.join_wait = w;
  if (p.instance_id) g.instances[*p.instance_id] = member_id;
  if (g.state == GroupState::kPreparingRebalance && g.initial_delay) g.new_member_added = true;
  if (g.state == GroupState::kPreparingRebalance) {
    maybe_complete_join(g);
  } else {
    prepare_rebalance(g, "member joined");
  }
  return w;
}

std::shared_ptr<JoinWait> GroupCoordinator::static_rejoin(Group& g, const std::string& old_id,
                                                          const JoinParams& p, std::shared_ptr<JoinWait> w) {
  auto node = g.members.extract(old_id);
  if (node.empty()) return join_error(w, ErrorCode::kUnknownMemberId);
  // The previous incarnation's waiting calls are fenced.
  finish_join(node.mapped(), ErrorCode::kFencedInstanceId);
  finish_sync(node.mapped(), ErrorCode::kFencedInstanceId);
  const std::string new_id = new_member_id(*p.instance_id);
  node.key() = new_id;
  Member& m = g.members.insert(std::move(node)).position->second;
  m.id = new_id;
  g.instances[*p.instance_id] = new_id;
  if (g.leader == old_id) g.leader = new_id;
  const bool unchanged = g.protocol && m.metadata_for(*g.protocol) != nullptr && [&] {
    for (const auto& proto : p.protocols) {
      if (proto.name == *g.protocol) return proto.metadata == *m.metadata_for(*g.protocol);
    }
    return false;
  }();
  update_member(m, p);
  if (g.state == GroupState::kStable && unchanged) {
    // KIP-345: a known static member coming back gets its old assignment
    // without a rebalance. The new member id is persisted right away.
    const bool leader = m.id == g.leader;
    w->result = current_join_result(g, m, leader && p.supports_skip_assignment);
    w->result.skip_assignment = leader && p.supports_skip_assignment;
    w->done.set();
    persist_group(find(g.id), nullptr, nullptr);
    return w;
  }
  m.join_wait = w;
  if (g.state == GroupState::kPreparingRebalance) {
    maybe_complete_join(g);
  } else {
    prepare_rebalance(g, "static member rejoined with new metadata");
  }
  return w;
}

JoinResult GroupCoordinator::current_join_result(const Group& g, const Member& m, bool with_members) const {
  JoinResult r;
  r.generation = g.generation;
  r.protocol_type = g.protocol_type;
  r.protocol_name = g.protocol;
  r.leader = g.leader;
  r.member_id = m.id;
  if (with_members && g.protocol) {
    for (const auto& [id, other] : g.members) {
      const std::string* md = other.metadata_for(*g.protocol);
      r.members.push_back(JoinMember{id, other.instance_id, md ? *md : std::string()});
    }
  }
  return r;
}

void GroupCoordinator::prepare_rebalance(Group& g, const char* reason) {
  if (g.state == GroupState::kCompletingRebalance) {
    // The assignment being synced is void: members must rejoin.
    for (auto& [id, m] : g.members) {
      m.assignment.clear();
      finish_sync(m, ErrorCode::kRebalanceInProgress);
    }
  }
  const bool initial = g.state == GroupState::kEmpty;
  set_state(g, GroupState::kPreparingRebalance);
  std::int32_t timeout = 0;
  for (const auto& [id, m] : g.members) timeout = std::max(timeout, m.rebalance_timeout_ms);
  const auto now = Clock::now();
  g.rebalance_deadline = now + std::chrono::milliseconds(std::max(timeout, 1));
  g.initial_delay = initial && opt_.initial_rebalance_delay.count() > 0;
  g.new_member_added = false;
  if (g.initial_delay) g.delay_deadline = std::min(now + opt_.initial_rebalance_delay, g.rebalance_deadline);
  ++stats_.rebalances;
  rebalances_counter().inc();
  spdlog::info("group {}: preparing rebalance (generation {}): {}", g.id, g.generation, reason);
  ensure_timer(find(g.id));
  maybe_complete_join(g);
}

void GroupCoordinator::maybe_complete_join(Group& g) {
  if (g.state != GroupState::kPreparingRebalance || g.initial_delay) return;
  if (!g.pending.empty()) return;
  for (const auto& [id, m] : g.members) {
    if (!m.join_wait) return;
  }
  complete_join(g);
}

void GroupCoordinator::complete_join(Group& g) {
  g.initial_delay = false;
  std::vector<std::string> gone;
  for (const auto& [id, m] : g.members) {
    if (!m.join_wait) gone.push_back(id);
  }
  for (const auto& id : gone) {
    Member& m = g.members.at(id);
    finish_sync(m, ErrorCode::kUnknownMemberId);
    if (m.instance_id) g.instances.erase(*m.instance_id);
    g.members.erase(id);
  }
  ++g.generation;
  if (g.members.empty()) {
    g.protocol.reset();
    g.leader.clear();
    set_state(g, GroupState::kEmpty);
    spdlog::info("group {}: empty (generation {})", g.id, g.generation);
    persist_group(find(g.id), nullptr, nullptr);
    return;
  }
  g.protocol = select_protocol(g);
  if (!g.members.contains(g.leader)) g.leader = g.members.begin()->first;
  set_state(g, GroupState::kCompletingRebalance);
  spdlog::info("group {}: generation {} with {} members, protocol {}, leader {}", g.id, g.generation,
               g.members.size(), g.protocol.value_or("?"), g.leader);
  const auto now = Clock::now();
  for (auto& [id, m] : g.members) {
    auto w = std::move(m.join_wait);
    m.join_wait.reset();
    m.heartbeat_deadline = now + std::chrono::milliseconds(m.session_timeout_ms);
    w->result = current_join_result(g, m, id == g.leader);
    w->done.set();
  }
  ensure_timer(find(g.id));
}

std::shared_ptr<SyncWait> GroupCoordinator::sync(SyncParams p) {
  auto w = std::make_shared<SyncWait>();
  if (!owns_group(p.group_id)) return sync_error(w, ErrorCode::kNotCoordinator);
  auto gp = find(p.group_id);
  if (!gp) return sync_error(w, ErrorCode::kUnknownMemberId);
  Group& g = *gp;
  if (g.state == GroupState::kDead) return sync_error(w, ErrorCode::kCoordinatorNotAvailable);
  if (ErrorCode e = validate_member(g, p.member_id, p.instance_id); e != ErrorCode::kNone) {
    return sync_error(w, e);
  }
  auto mit = g.members.find(p.member_id);
  if (p.generation != g.generation) return sync_error(w, ErrorCode::kIllegalGeneration);
  if ((p.protocol_type && *p.protocol_type != g.protocol_type) ||
      (p.protocol_name && *p.protocol_name != g.protocol.value_or(""))) {
    return sync_error(w, ErrorCode::kInconsistentGroupProtocol);
  }
  Member& m = mit->second;
  w->result.protocol_type = g.protocol_type;
  w->result.protocol_name = g.protocol;
  switch (g.state) {
    case GroupState::kEmpty:
    case GroupState::kDead:
      return sync_error(w, ErrorCode::kUnknownMemberId);
    case GroupState::kPreparingRebalance:
      return sync_error(w, ErrorCode::kRebalanceInProgress);
    case GroupState::kStable:
      m.heartbeat_deadline = Clock::now() + std::chrono::milliseconds(m.session_timeout_ms);
      w->result.assignment = m.assignment;
      w->done.set();
      return w;
    case GroupState::kCompletingRebalance:
      break;
  }
  finish_sync(m, ErrorCode::kRebalanceInProgress);
  m.sync_wait = w;
  m.heartbeat_deadline = Clock::now() + std::chrono::milliseconds(m.session_timeout_ms);
  if (m.id != g.leader) return w;
  // The leader's assignment: persist the group with it, then hand it out.
  auto assignments = std::make_shared<std::map<std::string, std::string>>();
  for (auto& [member, bytes] : p.assignments) {
    if (g.members.contains(member)) (*assignments)[member] = std::move(bytes);
  }
  const std::int32_t generation = g.generation;
  persist_group(gp, assignments.get(), [this, gp, assignments, generation](const Status& s) {
    Group& g = *gp;
    if (g.removed || g.generation != generation || g.state != GroupState::kCompletingRebalance) return;
    if (!s.ok()) {
      spdlog::warn("group {}: storing generation {} failed: {}", g.id, generation, s.to_string());
      ErrorCode e = write_error(s);
      for (auto& [id, m] : g.members) finish_sync(m, e);
      prepare_rebalance(g, "storing the assignment failed");
      return;
    }
    for (auto& [id, m] : g.members) {
      auto it = assignments->find(id);
      m.assignment = it == assignments->end() ? std::string() : it->second;
    }
    set_state(g, GroupState::kStable);
    for (auto& [id, m] : g.members) {
      if (!m.sync_wait) continue;
      m.sync_wait->result.assignment = m.assignment;
      m.sync_wait->done.set();
      m.sync_wait.reset();
    }
  });
  return w;
}

ErrorCode GroupCoordinator::heartbeat(const std::string& group_id, std::int32_t generation,
                                      const std::string& member_id,
                                      const std::optional<std::string>& instance_id) {
  if (!owns_group(group_id)) return ErrorCode::kNotCoordinator;
  auto gp = find(group_id);
  if (!gp) return ErrorCode::kUnknownMemberId;
  Group& g = *gp;
  if (g.state == GroupState::kDead) return ErrorCode::kCoordinatorNotAvailable;
  if (ErrorCode e = validate_member(g, member_id, instance_id); e != ErrorCode::kNone) return e;
  auto mit = g.members.find(member_id);
  if (generation != g.generation) return ErrorCode::kIllegalGeneration;
  Member& m = mit->second;
  switch (g.state) {
    case GroupState::kEmpty:
    case GroupState::kDead:
      return ErrorCode::kUnknownMemberId;
    case GroupState::kPreparingRebalance:
      m.heartbeat_deadline = Clock::now() + std::chrono::milliseconds(m.session_timeout_ms);
      return ErrorCode::kRebalanceInProgress;
    case GroupState::kCompletingRebalance:
    case GroupState::kStable:
      m.heartbeat_deadline = Clock::now() + std::chrono::milliseconds(m.session_timeout_ms);
      return ErrorCode::kNone;
  }
  return ErrorCode::kNone;
}

LeaveResult GroupCoordinator::leave(const std::string& group_id, const std::vector<LeaveMember>& members) {
  LeaveResult r;
  r.members.assign(members.size(), ErrorCode::kNone);
  if (!owns_group(group_id)) {
    r.error = ErrorCode::kNotCoordinator;
    return r;
  }
  auto gp = find(group_id);
  if (!gp) {
    r.members.assign(members.size(), ErrorCode::kUnknownMemberId);
    return r;
  }
  Group& g = *gp;
  if (g.state == GroupState::kDead) {
    r.error = ErrorCode::kCoordinatorNotAvailable;
    return r;
  }
  for (std::size_t i = 0; i < members.size(); ++i) {
    const auto& lm = members[i];
    if (lm.instance_id) {
      auto it = g.instances.find(*lm.instance_id);
      if (it == g.instances.end()) {
        r.members[i] = ErrorCode::kUnknownMemberId;
      } else if (!lm.member_id.empty() && lm.member_id != it->second) {
        r.members[i] = ErrorCode::kFencedInstanceId;
      } else {
        remove_member(g, std::string(it->second), "static member left");
      }
      continue;
    }
    if (g.pending.erase(lm.member_id) > 0) {
      maybe_complete_join(g);
    } else if (g.members.contains(lm.member_id)) {
      remove_member(g, lm.member_id, "member left");
    } else {
      r.members[i] = ErrorCode::kUnknownMemberId;
    }
  }
  return r;
}

void GroupCoordinator::remove_member(Group& g, const std::string& member_id, const char* reason) {
  auto it = g.members.find(member_id);
  if (it == g.members.end()) return;
  finish_join(it->second, ErrorCode::kUnknownMemberId);
  finish_sync(it->second, ErrorCode::kUnknownMemberId);
  if (it->second.instance_id) {
    auto iit = g.instances.find(*it->second.instance_id);
    if (iit != g.instances.end() && iit->second == member_id) g.instances.erase(iit);
  }
  spdlog::info("group {}: member {} removed: {}", g.id, member_id, reason);
  g.members.erase(it);
  if (g.leader == member_id) g.leader = g.members.empty() ? std::string() : g.members.begin()->first;
  switch (g.state) {
    case GroupState::kStable:
    case GroupState::kCompletingRebalance:
      prepare_rebalance(g, reason);
      break;
    case GroupState::kPreparingRebalance:
      maybe_complete_join(g);
      break;
    case GroupState::kEmpty:
    case GroupState::kDead:
      break;
  }
}

void GroupCoordinator::ensure_timer(const std::shared_ptr<Group>& g) {
  if (!g || g->removed || !owns_slot(g->slot)) return;
  if (g->timer_running) {
    g->wake.notify_all();
    return;
  }
  g->timer_running = true;
  spawn_critical(io_, "group timer", [this, g] { return group_timer(g); });
}

std::optional<Clock::time_point> GroupCoordinator::next_deadline(const Group& g) const {
  std::optional<Clock::time_point> next;
  auto consider = [&](Clock::time_point t) {
    if (!next || t < *next) next = t;
  };
  for (const auto& [id, m] : g.members) {
    // Members waiting in a join or sync count as alive (as in Kafka).
    if (!m.join_wait && !m.sync_wait) consider(m.heartbeat_deadline);
  }
  for (const auto& [id, deadline] : g.pending) consider(deadline);
  if (g.consumer) {
    for (const auto& [id, m] : g.consumer->members) {
      consider(m.session_deadline);
      if (m.revocation_deadline) consider(*m.revocation_deadline);
    }
  }
  if (g.state == GroupState::kPreparingRebalance)
    consider(g.initial_delay ? g.delay_deadline : g.rebalance_deadline);
  return next;
}

awaitable<Status> GroupCoordinator::group_timer(std::shared_ptr<Group> g) {
  // A group whose slot is released or lost changes no more (its waits are answered).
  while (!g->removed && owns_slot(g->slot)) {
    auto next = next_deadline(*g);
    if (!next) break;
    if (*next > Clock::now()) co_await g->wake.wait_until(*next);
    if (g->removed || !owns_slot(g->slot)) break;
    on_timer(*g);
  }
  g->timer_running = false;
  co_return Status{};
}

void GroupCoordinator::on_timer(Group& g) {
  if (g.consumer) {
    consumer_on_timer(g);
    return;
  }
  const auto now = Clock::now();
  std::erase_if(g.pending, [&](const auto& kv) { return kv.second <= now; });
  std::vector<std::string> expired;
  for (const auto& [id, m] : g.members) {
    if (!m.join_wait && !m.sync_wait && m.heartbeat_deadline <= now) expired.push_back(id);
  }
  for (const auto& id : expired) remove_member(g, id, "session timeout expired");
  if (g.state != GroupState::kPreparingRebalance) return;
  if (g.initial_delay) {
    if (now < g.delay_deadline) return;
    if (g.new_member_added && g.delay_deadline < g.rebalance_deadline) {
      // More members arrived during the delay: wait once more (bounded by the rebalance timeout).
      g.new_member_added = false;
      g.delay_deadline = std::min(now + opt_.initial_rebalance_delay, g.rebalance_deadline);
      return;
    }
    complete_join(g);
    return;
  }
  if (now >= g.rebalance_deadline) {
    complete_join(g);
  } else {
    maybe_complete_join(g);
  }
}

std::optional<std::vector<std::string>> GroupCoordinator::subscribed(const Group& g) const {
  if (g.consumer) {
    // KIP-848: the topics the members' names and regexes resolve to.
    if (g.consumer->members.empty()) return std::nullopt;
    std::vector<std::string> topics;
    for (const auto& [name, idp] : g.consumer->subscribed_topics) topics.push_back(name);
    return topics;  // sorted (map order)
  }
  if (g.protocol_type != "consumer" || g.members.empty()) return std::nullopt;
  std::vector<std::string> topics;
  for (const auto& [id, m] : g.members) {
    const std::string* md = g.protocol ? m.metadata_for(*g.protocol) : nullptr;
    if (md == nullptr && !m.protocols.empty()) md = &m.protocols.front().metadata;
    if (md == nullptr) return std::nullopt;
    auto t = subscribed_topics(*md);
    if (!t) return std::nullopt;
    topics.insert(topics.end(), t->begin(), t->end());
  }
  std::sort(topics.begin(), topics.end());
  topics.erase(std::unique(topics.begin(), topics.end()), topics.end());
  return topics;
}

void GroupCoordinator::persist_group(const std::shared_ptr<Group>& g,
                                     const std::map<std::string, std::string>* assignments,
                                     std::function<void(const Status&)> on_done) {
  if (!g) return;
  WriteItem item;
  item.kind = WriteItem::Kind::kMeta;
  item.group = g;
  StoredGroup sg;
  sg.protocol_type = g->protocol_type;
  sg.protocol = g->protocol;
  sg.generation = g->generation;
  sg.leader = g->leader;
  sg.state_ms = g->state_ms;
  for (const auto& [id, m] : g->members) {
    StoredMember sm;
    sm.member_id = id;
    sm.instance_id = m.instance_id;
    sm.client_id = m.client_id;
    sm.client_host = m.client_host;
    sm.session_timeout_ms = m.session_timeout_ms;
    sm.rebalance_timeout_ms = m.rebalance_timeout_ms;
    const std::string* md = g->protocol ? m.metadata_for(*g->protocol) : nullptr;
    if (md) sm.subscription = *md;
    if (assignments) {
      auto it = assignments->find(id);
      if (it != assignments->end()) sm.assignment = it->second;
    } else {
      sm.assignment = m.assignment;
    }
    sg.members.push_back(std::move(sm));
  }
  std::string value = encode_group(sg);
  // Keep one value well under etcd's 1.5 MiB: a group too large to store
  // whole is stored without members (they rejoin after a restart).
  constexpr std::size_t kMaxGroupRecordBytes = 1 << 20;
  if (value.size() > kMaxGroupRecordBytes) {
    sg.members.clear();
    value = encode_group(sg);
  }
  item.meta = std::move(value);
  item.on_done = std::move(on_done);
  enqueue(std::move(item));
}

void GroupCoordinator::remove_group(const std::shared_ptr<Group>& g) {
  g->removed = true;
  g->wake.notify_all();
  auto it = groups_.find(g->id);
  if (it != groups_.end() && it->second == g) groups_.erase(it);
}

}  // namespace ks::coordinator
