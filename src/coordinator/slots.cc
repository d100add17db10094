// Slots: start/stop, acquiring a slot (loading its groups from
// /ks/groups/<slot>/) and releasing it (answering its waits, writing what is
// queued for it, forgetting its groups).
//
// A group can be forgotten while a coroutine waits (its slot released or
// lost): after every co_await, state is looked up again by slot and token.
#include <spdlog/spdlog.h>

#include <chrono>

#include "common/assert.h"
#include "common/task.h"
#include "coordinator/coordinator.h"

namespace ks::coordinator {
namespace {

// Keys per range read when loading.
constexpr std::int64_t kLoadPageKeys = 1000;

}  // namespace

// What one slot's keys hold, read before its groups are installed.
struct GroupCoordinator::LoadedSlot {
  std::map<std::string, StoredGroup> metas;
  std::map<std::string, std::map<std::string, std::map<std::int32_t, Chunk>>> offsets;
  std::size_t keys = 0;
};

bool GroupCoordinator::owns_slot(std::int32_t slot) const {
  if (unavailable() || suspended_) return false;
  auto it = slots_.find(slot);
  return it != slots_.end() && it->second.state == Slot::State::kServing;
}

bool GroupCoordinator::slot_lost(std::int32_t slot) const {
  auto it = slots_.find(slot);
  return it != slots_.end() && it->second.state == Slot::State::kLost;
}

bool GroupCoordinator::slot_current(std::int32_t slot, std::uint64_t token) const {
  auto it = slots_.find(slot);
  return it != slots_.end() && it->second.token == token && it->second.state != Slot::State::kLost;
}

void GroupCoordinator::answer_waiting(std::int32_t slot) {
  for (auto& [id, g] : groups_) {
    if (g->slot != slot) continue;
    for (auto& [mid, m] : g->members) {
      if (m.join_wait) {
        m.join_wait->result.error = ErrorCode::kNotCoordinator;
        m.join_wait->result.member_id = mid;
        m.join_wait->done.set();
        m.join_wait.reset();
      }
      if (m.sync_wait) {
        m.sync_wait->result.error = ErrorCode::kNotCoordinator;
        m.sync_wait->done.set();
        m.sync_wait.reset();
      }
    }
    g->wake.notify_all();
  }
}

void GroupCoordinator::forget_groups(std::int32_t slot) {
  std::vector<std::shared_ptr<Group>> gone;
  for (const auto& [id, g] : groups_) {
    if (g->slot == slot) gone.push_back(g);
  }
  for (const auto& g : gone) remove_group(g);
}

std::size_t GroupCoordinator::slot_writes(std::int32_t slot) const {
  std::size_t n = 0;
  for (const auto& [id, g] : groups_) {
    if (g->slot == slot) n += g->writes_in_flight;
  }
  return n;
}

// ---------------------------------------------------------------- loading

awaitable<Result<metastore::RangeResponse>> GroupCoordinator::run_range(metastore::RangeRequest r) {
  return offload(pool_, [m = meta_, r = std::move(r)] { return m->range(r); });
}

Status GroupCoordinator::load_kv(std::int32_t slot, const metastore::KeyValue& kv, LoadedSlot& out) const {
  auto k = parse_key(kv.key);
  if (!k || k->slot != slot || slot_of(k->group) != slot) {
    spdlog::warn("group coordinator: ignoring unknown key {}", kv.key);
    return {};
  }
  if (k->kind == ParsedKey::Kind::kMeta) {
    auto g = decode_group(kv.value);
    if (!g.ok()) return Status(g.code(), kv.key + ": " + g.status().message());
    out.metas[k->group] = std::move(*g);
    return {};
  }
  auto c = decode_chunk(kv.value);
  if (!c.ok()) return Status(c.code(), kv.key + ": " + c.status().message());
  out.offsets[k->group][k->topic][k->chunk] = std::move(*c);
  return {};
}

awaitable<Result<GroupCoordinator::LoadedSlot>> GroupCoordinator::load_slot(std::int32_t slot,
                                                                            std::uint64_t token) {
  LoadedSlot out;
  metastore::RangeRequest rq;
  rq.key = group_slot_prefix(slot);
  rq.range_end = metastore::prefix_end(rq.key);
  rq.limit = kLoadPageKeys;
  for (;;) {
    auto r = co_await run_range(rq);
    if (!slot_current(slot, token)) co_return Status(Errc::cancelled, "slot released while loading");
    if (!r.ok()) co_return Status(r.code(), "loading groups: " + r.status().message());
    for (const auto& kv : r->kvs) {
      Status s = load_kv(slot, kv, out);
      // A damaged record loses that group's state, not the broker.
      if (!s.ok()) spdlog::error("group coordinator: {}", s.to_string());
    }
    out.keys += r->kvs.size();
    if (!r->more || r->kvs.empty()) break;
    rq.key = r->kvs.back().key + '\0';
    rq.revision = r->revision;  // one consistent snapshot across pages
  }
  co_return out;
}

void GroupCoordinator::restore(Group& g, StoredGroup sg) {
  if (sg.consumer) {
    consumer_restore(g, sg);
    return;
  }
  g.protocol_type = std::move(sg.protocol_type);
  g.generation = sg.generation;
  g.state_ms = sg.state_ms;
  if (sg.members.empty() || !sg.protocol) {
    g.state = GroupState::kEmpty;
    return;
  }
  // The group carries on with the stored generation: members heartbeat and
  // commit as before; those that are gone expire by their session timeout.
  g.protocol = std::move(sg.protocol);
  g.leader = std::move(sg.leader);
  const auto now = Clock::now();
  for (auto& sm : sg.members) {
    Member m;
    m.id = sm.member_id;
    m.instance_id = sm.instance_id;
    m.client_id = std::move(sm.client_id);
    m.client_host = std::move(sm.client_host);
    m.protocols.push_back(Protocol{*g.protocol, std::move(sm.subscription)});
    m.session_timeout_ms = sm.session_timeout_ms;
    m.rebalance_timeout_ms = sm.rebalance_timeout_ms;
    m.assignment = std::move(sm.assignment);
    m.heartbeat_deadline = now + std::chrono::milliseconds(m.session_timeout_ms);
    if (m.instance_id) g.instances[*m.instance_id] = m.id;
    g.members.emplace(m.id, std::move(m));
  }
  if (!g.members.contains(g.leader)) g.leader = g.members.begin()->first;
  g.state = GroupState::kStable;
}

// ---------------------------------------------------------------- acquire / release

awaitable<Status> GroupCoordinator::acquire_slot(std::int32_t slot, cluster::Fence fence) {
  KS_ASSERT(started_, "acquire_slot before start");
  if (slot < 0 || slot >= slot_count()) {
    co_return Status(Errc::invalid_argument, fmt::format("slot {} outside [0, {})", slot, slot_count()));
  }
  if (stopping_) co_return Status(Errc::cancelled, "group coordinator stopping");
  auto it = slots_.find(slot);
  if (it != slots_.end() && it->second.state != Slot::State::kLost) {
    co_return Status(Errc::already_exists, fmt::format("slot {} is already acquired here", slot));
  }
  // A lost slot's groups were forgotten when it was lost.
  const std::uint64_t token = ++next_slot_token_;
  Slot& st = slots_[slot];
  st.state = Slot::State::kLoading;
  st.fence = std::move(fence);
  st.token = token;
  auto loaded = co_await load_slot(slot, token);
  // Released or lost while loading: whoever did that owns the entry now.
  if (!slot_current(slot, token)) {
    co_return Status(Errc::cancelled, fmt::format("slot {} released while it was being acquired", slot));
  }
  if (!loaded.ok()) {
    slots_.erase(slot);
    co_return loaded.status();
  }
  slots_.at(slot).state = Slot::State::kServing;
  LoadedSlot& l = *loaded;
  std::size_t skipped = 0;
  for (auto& [id, topics] : l.offsets) {
    ErrorCode e = ErrorCode::kNone;
    auto g = get_or_create(id, e);
    if (!g) {
      ++skipped;
      continue;
    }
    g->offsets = std::move(topics);
  }
  for (auto& [id, sg] : l.metas) {
    ErrorCode e = ErrorCode::kNone;
    auto g = get_or_create(id, e);
    if (!g) {
      ++skipped;
      continue;
    }
    restore(*g, std::move(sg));
  }
  std::size_t n = 0;
  for (const auto& [id, g] : groups_) {
    if (g->slot != slot) continue;
    ++n;
    if (!g->members.empty() || (g->consumer && !g->consumer->members.empty())) ensure_timer(g);
  }
  if (skipped > 0)
    spdlog::error("group coordinator: slot {}: {} groups not loaded (max-groups)", slot, skipped);
  if (n > 0) {
    spdlog::info("group coordinator: slot {} acquired: {} groups ({} keys)", slot, n, l.keys);
  } else {
    spdlog::debug("group coordinator: slot {} acquired (no groups)", slot);
  }
  refresh_lag();
  co_return Status{};
}

awaitable<void> GroupCoordinator::release_slot(std::int32_t slot) {
  std::vector<std::int32_t> one;
  one.push_back(slot);
  co_await release_slots(std::move(one));
}

awaitable<void> GroupCoordinator::release_slots(std::vector<std::int32_t> slots) {
  std::vector<std::pair<std::int32_t, std::uint64_t>> releasing;
  for (std::int32_t slot : slots) {
    auto it = slots_.find(slot);
    if (it == slots_.end()) continue;
    if (it->second.state != Slot::State::kServing) {
      // Loading (the acquisition ends), lost (nothing left) or already releasing.
      if (it->second.state == Slot::State::kReleasing) continue;
      forget_groups(slot);
      slots_.erase(it);
      continue;
    }
    it->second.state = Slot::State::kReleasing;
    answer_waiting(slot);
    releasing.emplace_back(slot, it->second.token);
  }
  // What is queued for these slots is written (with their fences) before their groups go.
  for (;;) {
    std::size_t pending = 0;
    for (const auto& [slot, token] : releasing) {
      if (slot_current(slot, token)) pending += slot_writes(slot);
    }
    if (pending == 0 || writer_exited_) break;
    queue_wakeup_.notify_all();
    co_await round_done_.wait_until(Clock::now() + std::chrono::seconds(1));
  }
  for (const auto& [slot, token] : releasing) {
    auto it = slots_.find(slot);
    if (it == slots_.end()) continue;
    // Lost meanwhile: released all the same. Acquired again since: not ours to end.
    if (it->second.token != token && it->second.state != Slot::State::kLost) continue;
    forget_groups(slot);
    slots_.erase(it);
    spdlog::debug("group coordinator: slot {} released", slot);
  }
  if (!releasing.empty()) refresh_lag();
}

// ---------------------------------------------------------------- start / stop

awaitable<Status> GroupCoordinator::start() {
  KS_ASSERT(!started_, "group coordinator started twice");
  if (Status s = co_await start_config_mirror(); !s.ok()) co_return s;
  started_ = true;
  spawn_critical(io_, "group-offset writer", [this] { return writer(); });
  spawn_critical(io_, "offsets retention", [this] { return retention_loop(); });
  spawn_critical(io_, "group lag", [this] { return lag_loop(); });
  refresh_lag();
  co_return Status{};
}

awaitable<void> GroupCoordinator::stop() {
  if (!started_ || stopping_) co_return;
  stopping_ = true;
  std::vector<std::int32_t> all;
  for (const auto& [slot, st] : slots_) all.push_back(slot);
  co_await release_slots(std::move(all));
  queue_wakeup_.notify_all();
  loop_wakeup_.notify_all();
  co_await writer_done_.wait();
  co_await retention_done_.wait();
  co_await lag_done_.wait();
  co_await stop_config_mirror();
}

}  // namespace ks::coordinator
