// GroupCoordinator's part of the GROUP config resources (group_configs.h):
// a KeyWatch mirrors /ks/group-configs/ on every broker, parsed into
// group_configs_; writes go straight to the metadata store (any broker may
// change any group's configs) and are answered once the mirror shows them.
#include <spdlog/spdlog.h>

#include "cluster/keys.h"
#include "coordinator/coordinator.h"
#include "metastore/async.h"

namespace ks::coordinator {
namespace keys = cluster::keys;

namespace {
// How long a write waits for this broker's mirror to show it.
constexpr auto kMirrorWait = std::chrono::seconds(5);
}  // namespace

awaitable<Status> GroupCoordinator::start_config_mirror() {
  const std::string prefix = keys::group_configs_prefix();
  config_watch_ = std::make_unique<cluster::KeyWatch>(io_, metastore::AsyncMetadataStore(pool_, meta_),
                                                      prefix, metastore::prefix_end(prefix), "group configs");
  config_watch_->on_change([this] { group_configs_changed(); });
  Status s = co_await config_watch_->load();
  if (!s.ok()) co_return Status(s.code(), "loading group configs: " + s.message());
  group_configs_changed();
  config_watch_->start();
  co_return Status{};
}

awaitable<void> GroupCoordinator::stop_config_mirror() {
  if (config_watch_) co_await config_watch_->stop();
}

void GroupCoordinator::group_configs_changed() {
  std::map<std::string, GroupConfigMap> next;
  for (const auto& [key, kv] : config_watch_->kvs()) {
    auto group = keys::parse_group_config_key(key);
    if (!group) {
      spdlog::warn("group configs: ignoring key {} outside the layout", key);
      continue;
    }
    auto configs = decode_group_configs(kv.value);
    if (!configs.ok()) {
      // The broker-wide values apply to that group meanwhile; an alter rewrites the key.
      spdlog::warn("group configs: {}: {}", key, configs.status().message());
      continue;
    }
    next[*group] = std::move(*configs);
  }
  group_configs_ = std::move(next);
}

const GroupConfigMap* GroupCoordinator::group_configs(const std::string& group_id) const {
  auto it = group_configs_.find(group_id);
  return it == group_configs_.end() ? nullptr : &it->second;
}

EffectiveGroupConfig GroupCoordinator::group_config(const std::string& group_id) const {
  return effective_group_config(group_configs(group_id), opt_);
}

awaitable<Status> GroupCoordinator::set_group_configs(const std::string& group_id,
                                                      const GroupConfigMap& configs) {
  if (auto error = validate_group_configs(configs, opt_)) co_return Status(Errc::invalid_argument, *error);
  if (!configs.empty() && group_configs(group_id) == nullptr &&
      group_configs_.size() >= opt_.max_group_configs) {
    co_return Status(Errc::limit_exceeded,
                     "Groups with explicit configs are at the limit (max-group-configs = " +
                         std::to_string(opt_.max_group_configs) + ")");
  }
  // Nothing to remove: no write (a delete of an absent key would give the mirror no event to wait for).
  if (configs.empty() && group_configs(group_id) == nullptr) co_return Status{};
  metastore::AsyncMetadataStore meta(pool_, meta_);
  const std::string key = keys::group_config(group_id);
  std::int64_t written = 0;
  if (configs.empty()) {
    auto rev = co_await meta.remove(key);
    if (!rev.ok()) co_return rev.status();
    written = *rev;
  } else {
    auto rev = co_await meta.put(key, encode_group_configs(configs));
    if (!rev.ok()) co_return rev.status();
    written = *rev;
  }
  const auto deadline = Clock::now() + kMirrorWait;
  while (config_watch_->revision() < written && Clock::now() < deadline) {
    co_await config_watch_->changed().wait_until(deadline);
  }
  co_return Status{};
}

}  // namespace ks::coordinator
