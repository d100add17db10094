#include "cluster/placement.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <utility>

#include "cluster/keys.h"
#include "cluster/record_json.h"
#include "cluster/streams.h"
#include "common/assert.h"
#include "common/versioned_json.h"

namespace ks::cluster {

using nlohmann::json;

std::string encode_placement(const Placement& p) {
  KS_ASSERT(p.streams.size() <= static_cast<std::size_t>(kMaxStreams), "placement of {} streams",
            p.streams.size());
  json streams = json::array();
  for (const auto& s : p.streams) {
    json e;
    e["node"] = s.node;
    e["epoch"] = s.epoch;
    streams.push_back(std::move(e));
  }
  json j;
  j["v"] = 1;
  j["controller_epoch"] = p.controller_epoch;
  j["streams"] = std::move(streams);
  return j.dump();
}

Result<Placement> decode_placement(const std::string& text) {
  return parse_versioned(text, "placement record", [](const json& j) -> Result<Placement> {
    Placement p;
    auto ce = record_json::int_field(j, "controller_epoch", 0);
    if (!ce) return Status(Errc::corrupt, "placement record: bad controller_epoch");
    p.controller_epoch = *ce;
    const json& streams = j.at("streams");
    if (!streams.is_array() || streams.size() > static_cast<std::size_t>(kMaxStreams)) {
      return Status(Errc::corrupt,
                    "placement record: streams is not an array of at most " + std::to_string(kMaxStreams));
    }
    for (const json& e : streams) {
      if (!e.is_object()) return Status(Errc::corrupt, "placement record: a stream is not an object");
      auto node = record_json::int_field(e, "node", -1, std::numeric_limits<std::int32_t>::max());
      auto epoch = record_json::int_field(e, "epoch", 0, std::numeric_limits<std::int32_t>::max());
      if (!node || !epoch) return Status(Errc::corrupt, "placement record: bad node or epoch");
      p.streams.push_back(
          StreamPlacement{static_cast<std::int32_t>(*node), static_cast<std::int32_t>(*epoch)});
    }
    return p;
  });
}

namespace {

// The node with the fewest (most) streams, ties to the lowest id.
std::int32_t least_loaded(const std::map<std::int32_t, std::int32_t>& load) {
  auto it = std::min_element(load.begin(), load.end(),
                             [](const auto& a, const auto& b) { return a.second < b.second; });
  return it->first;
}
std::int32_t most_loaded(const std::map<std::int32_t, std::int32_t>& load) {
  auto it = std::max_element(load.begin(), load.end(),
                             [](const auto& a, const auto& b) { return a.second < b.second; });
  return it->first;
}

}  // namespace

Placement plan_placement(const Placement& current, const std::map<std::int32_t, MemberInfo>& live,
                         std::int32_t streams) {
  KS_ASSERT(streams >= 0 && streams <= kMaxStreams, "plan of {} streams", streams);
  Placement next;
  next.controller_epoch = current.controller_epoch;
  next.mod_revision = current.mod_revision;
  next.streams.resize(static_cast<std::size_t>(streams));
  for (std::size_t i = 0; i < next.streams.size() && i < current.streams.size(); ++i) {
    next.streams[i] = current.streams[i];
  }
  std::map<std::int32_t, std::int32_t> load;  // eligible node -> streams
  for (const auto& [node, m] : live) {
    if (!m.draining) load.emplace(node, 0);
  }
  if (load.empty()) return next;

  const std::vector<StreamPlacement> before = next.streams;
  for (const auto& s : next.streams) {
    if (auto it = load.find(s.node); it != load.end()) ++it->second;
  }
  // Orphans, in stream order.
  for (auto& s : next.streams) {
    if (load.contains(s.node)) continue;
    s.node = least_loaded(load);
    ++load[s.node];
  }
  // Balance.
  while (true) {
    const std::int32_t hi = most_loaded(load), lo = least_loaded(load);
    if (load[hi] - load[lo] <= 1) break;
    std::int32_t pick = -1;
    for (std::int32_t i = streams - 1; i >= 0; --i) {
      const auto idx = static_cast<std::size_t>(i);
      if (next.streams[idx].node != hi) continue;
      if (next.streams[idx].node != before[idx].node) {
        pick = i;  // already moved by this plan: moving it again costs nothing
        break;
      }
      if (pick < 0) pick = i;
    }
    KS_ASSERT(pick >= 0, "node {} has {} streams but none found", hi, load[hi]);
    next.streams[static_cast<std::size_t>(pick)].node = lo;
    --load[hi];
    ++load[lo];
  }
  for (std::size_t i = 0; i < next.streams.size(); ++i) {
    if (next.streams[i].node != before[i].node) next.streams[i].epoch = before[i].epoch + 1;
  }
  return next;
}

std::string encode_controller(std::int32_t node) {
  json j;
  j["v"] = 1;
  j["node"] = node;
  return j.dump();
}

Result<std::int32_t> decode_controller(const std::string& text) {
  return parse_versioned(text, "controller record", [](const json& j) -> Result<std::int32_t> {
    auto node = record_json::int_field(j, "node", 0, std::numeric_limits<std::int32_t>::max());
    if (!node) return Status(Errc::corrupt, "controller record: bad node");
    return static_cast<std::int32_t>(*node);
  });
}

// ---------------------------------------------------------------- PlacementView

PlacementView::PlacementView(asio::io_context& io, asio::thread_pool& pool,
                             std::shared_ptr<metastore::MetadataStore> meta)
    : placement_watch_(io, metastore::AsyncMetadataStore(pool, meta), keys::placement(), "", "placement"),
      controller_watch_(io, metastore::AsyncMetadataStore(pool, meta), keys::controller(), "", "controller") {
  placement_watch_.on_change([this] { placement_changed(); });
  controller_watch_.on_change([this] { controller_changed(); });
}

PlacementView::~PlacementView() = default;

std::int64_t PlacementView::placement_revision() const { return placement_watch_.revision(); }
std::int64_t PlacementView::controller_revision() const { return controller_watch_.revision(); }

awaitable<Status> PlacementView::start() {
  KS_ASSERT(!started_, "placement view started twice");
  Status st = co_await placement_watch_.load();
  if (st.ok()) st = co_await controller_watch_.load();
  if (!st.ok()) co_return st;
  started_ = true;
  placement_watch_.start();
  controller_watch_.start();
  co_return Status{};
}

awaitable<void> PlacementView::stop() {
  if (!started_) co_return;
  co_await placement_watch_.stop();
  co_await controller_watch_.stop();
}

void PlacementView::placement_changed() {
  const metastore::KeyValue* kv = placement_watch_.find(keys::placement());
  if (kv == nullptr) {
    // Never deleted by us; an operator wiping it makes the controller start afresh.
    if (current_.mod_revision == 0) return;
    current_ = Placement{};
  } else {
    if (kv->mod_revision == current_.mod_revision) return;
    auto p = decode_placement(kv->value);
    if (!p.ok()) {
      spdlog::error("placement: ignoring the record at revision {}: {}", kv->mod_revision,
                    p.status().to_string());
      return;
    }
    current_ = std::move(p).value();
    current_.mod_revision = kv->mod_revision;
  }
  changed_.notify_all();
}

void PlacementView::controller_changed() {
  const metastore::KeyValue* kv = controller_watch_.find(keys::controller());
  std::int32_t node = -1;
  std::int64_t epoch = 0;
  if (kv != nullptr) {
    epoch = kv->create_revision;
    auto n = decode_controller(kv->value);
    if (n.ok()) {
      node = *n;
    } else {
      spdlog::error("placement: unreadable controller record: {}", n.status().to_string());
    }
  }
  if (node == controller_node_ && epoch == controller_epoch_) return;
  controller_node_ = node;
  controller_epoch_ = epoch;
  changed_.notify_all();
}

}  // namespace ks::cluster
