// Offset retention (offsets.retention.minutes, as Kafka) and the lag metrics.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/clock.h"
#include "common/metrics.h"
#include "coordinator/coordinator.h"

namespace ks::coordinator {
namespace {

metrics::Counter& expired_counter() {
  static auto& c =
      metrics::registry().counter("kafscale_offsets_expired_total", "Committed offsets removed by retention");
  return c;
}
metrics::Gauge& groups_gauge(GroupState s) {
  return metrics::registry().gauge("kafscale_groups", "Consumer groups by state",
                                   {{"state", std::string(state_name(s))}});
}
metrics::Gauge& lag_dropped_gauge() {
  static auto& g = metrics::registry().gauge("kafscale_group_lag_series_dropped",
                                             "Group/topic pairs whose lag is not exported (series limit)");
  return g;
}

}  // namespace

// ---------------------------------------------------------------- retention

void GroupCoordinator::expire_offsets() {
  if (unavailable()) return;
  const std::int64_t now = wall_clock_ms();
  const std::int64_t retention_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(opt_.offsets_retention).count();
  std::vector<std::shared_ptr<Group>> drop;
  for (auto& [id, gp] : groups_) {
    Group& g = *gp;
    // Groups with members joining or writes under way are left for the next pass.
    if (g.state == GroupState::kDead || g.writes_in_flight > 0 || !g.pending.empty() || !owns_slot(g.slot))
      continue;
    // Which offsets may expire, and from when (as Kafka: empty groups from
    // the time they became empty; stable consumer groups only for topics no
    // member subscribes to; simple groups from each commit).
    std::optional<std::vector<std::string>> keep_topics;
    bool use_state_time = false;
    if (g.state == GroupState::kEmpty) {
      use_state_time = !g.protocol_type.empty();
    } else if (g.state == GroupState::kStable && g.protocol_type == "consumer") {
      keep_topics = subscribed(g);
      if (!keep_topics) continue;
    } else {
      continue;
    }
    WriteItem item;
    item.kind = WriteItem::Kind::kOffsets;
    item.group = gp;
    std::size_t total = 0;
    for (const auto& [topic, chunks] : g.offsets) {
      const bool kept = keep_topics && std::binary_search(keep_topics->begin(), keep_topics->end(), topic);
      for (const auto& [c, chunk] : chunks) {
        for (const auto& [p, v] : chunk.parts) {
          ++total;
          const std::int64_t base = use_state_time && g.state_ms > 0 ? g.state_ms : v.commit_ms;
          if (!kept && base + retention_ms <= now) {
            item.updates.push_back(OffsetUpdate{topic, chunk.topic_id, p, std::nullopt});
          }
        }
      }
    }
    if (g.state == GroupState::kEmpty && item.updates.size() == total) {
      // Nothing left: the group itself goes (all its keys in one delete).
      drop.push_back(gp);
      continue;
    }
    if (item.updates.empty()) continue;
    const std::size_t n = item.updates.size();
    item.on_done = [this, n](const Status& s) {
      if (!s.ok()) return;
      stats_.expired_offsets += n;
      expired_counter().add(n);
    };
    enqueue(std::move(item));
  }
  for (auto& gp : drop) {
    std::size_t n = 0;
    for (const auto& [topic, chunks] : gp->offsets) {
      for (const auto& [c, chunk] : chunks) n += chunk.parts.size();
    }
    spdlog::info("group {}: removing (empty, {} offsets expired)", gp->id, n);
    set_state(*gp, GroupState::kDead);
    WriteItem item;
    item.kind = WriteItem::Kind::kDeleteGroup;
    item.group = gp;
    item.on_done = [this, gp, n](const Status& s) {
      if (!s.ok()) {
        set_state(*gp, GroupState::kEmpty);
        return;
      }
      stats_.expired_offsets += n;
      expired_counter().add(n);
      remove_group(gp);
    };
    enqueue(std::move(item));
  }
}

awaitable<Status> GroupCoordinator::retention_loop() {
  while (!stopping_) {
    co_await loop_wakeup_.wait_until(Clock::now() + opt_.retention_check_interval);
    if (stopping_) break;
    expire_offsets();
  }
  retention_done_.set();
  co_return Status{};
}

// ---------------------------------------------------------------- lag

void GroupCoordinator::refresh_lag() {
  std::map<std::pair<std::string, std::string>, double> lag;
  std::size_t counts[5] = {0, 0, 0, 0, 0};
  for (const auto& [id, g] : groups_) {
    counts[static_cast<int>(g->state)]++;
    for (const auto& [topic, chunks] : g->offsets) {
      const cluster::TopicInfo* t = cluster_.topic(topic);
      if (t == nullptr) continue;
      double sum = 0;
      bool any = false;
      for (const auto& [c, chunk] : chunks) {
        if (chunk.topic_id != t->record.id) continue;
        for (const auto& [p, v] : chunk.parts) {
          const std::int64_t hwm = high_watermark_(cluster::PartitionKey{t->record.id, p});
          if (hwm < 0 || v.offset < 0) continue;
          sum += static_cast<double>(std::max<std::int64_t>(0, hwm - v.offset));
          any = true;
        }
      }
      if (any) lag[{id, topic}] = sum;
    }
  }
  for (GroupState s : {GroupState::kEmpty, GroupState::kPreparingRebalance, GroupState::kCompletingRebalance,
                       GroupState::kStable, GroupState::kDead}) {
    groups_gauge(s).set(static_cast<double>(counts[static_cast<int>(s)]));
  }
  // Drop series that no longer exist, then add new ones up to the limit.
  for (auto it = lag_series_.begin(); it != lag_series_.end();) {
    if (lag.contains(it->first)) {
      ++it;
      continue;
    }
    metrics::registry().remove_gauge_fn("kafscale_group_lag",
                                        {{"group", it->first.first}, {"topic", it->first.second}});
    it = lag_series_.erase(it);
  }
  std::size_t dropped = 0;
  for (const auto& [key, value] : lag) {
    auto it = lag_series_.find(key);
    if (it == lag_series_.end()) {
      if (lag_series_.size() >= opt_.max_lag_series) {
        ++dropped;
        continue;
      }
      auto cell = std::make_shared<std::atomic<double>>(value);
      metrics::registry().gauge_fn("kafscale_group_lag",
                                   "Records between the high watermark and the group's committed offset",
                                   {{"group", key.first}, {"topic", key.second}},
                                   [cell] { return cell->load(std::memory_order_relaxed); });
      lag_series_.emplace(key, std::move(cell));
    } else {
      it->second->store(value, std::memory_order_relaxed);
    }
  }
  lag_dropped_gauge().set(static_cast<double>(dropped));
}

awaitable<Status> GroupCoordinator::lag_loop() {
  while (!stopping_) {
    co_await loop_wakeup_.wait_until(Clock::now() + opt_.lag_interval);
    if (stopping_) break;
    refresh_lag();
  }
  lag_done_.set();
  co_return Status{};
}

}  // namespace ks::coordinator
