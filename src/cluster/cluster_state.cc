#include "cluster/cluster_state.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <charconv>
#include <nlohmann/json.hpp>

#include "cluster/keys.h"
#include "cluster/streams.h"
#include "common/assert.h"
#include "common/clock.h"
#include "common/metrics.h"

namespace ks::cluster {

using metastore::Compare;
using metastore::Op;
using metastore::TxnRequest;

namespace {

metrics::Counter& fencing_rejections() {
  static auto& c = metrics::registry().counter("kafscale_fencing_rejections_total",
                                               "Commits and checkpoints the metadata store refused on a "
                                               "fencing compare (another process owns this node "
                                               "id or one of the streams written)");
  return c;
}

TxnRequest cluster_txn(const std::string& cid, std::int32_t streams) {
  TxnRequest t;
  t.compare.push_back(
      Compare{keys::cluster(), Compare::Target::create_revision, Compare::Result::equal, 0, {}});
  nlohmann::json j;
  j["v"] = 1;
  j["cluster_id"] = cid;
  j["streams"] = streams;
  t.success.push_back(Op::put(keys::cluster(), j.dump()));
  t.failure.push_back(Op::get(keys::cluster()));
  return t;
}

struct ClusterRecord {
  std::string id;
  std::int32_t streams = 0;
};

Result<ClusterRecord> cluster_record_from(const metastore::TxnResponse& r, const std::string& proposed,
                                          std::int32_t streams) {
  if (r.succeeded) return ClusterRecord{proposed, streams};
  if (r.results.empty()) return Status(Errc::corrupt, "cluster record: no read in the answer");
  const auto& kvs = r.results[0].range.kvs;
  if (kvs.empty()) return Status(Errc::corrupt, "cluster record vanished");
  auto j = nlohmann::json::parse(kvs[0].value, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("cluster_id") || !j["cluster_id"].is_string()) {
    return Status(Errc::corrupt, "cluster record unreadable");
  }
  if (!j.contains("streams")) {
    return Status(Errc::invalid_argument,
                  "the metadata prefix holds a single-node layout (cluster record without streams) that "
                  "was not upgraded (log/upgrade.h; a broker upgrades it at start)");
  }
  if (!j["streams"].is_number_integer() || j["streams"].get<std::int64_t>() < 1 ||
      j["streams"].get<std::int64_t>() > kMaxStreams) {
    return Status(Errc::corrupt, "cluster record: bad stream count");
  }
  return ClusterRecord{j["cluster_id"].get<std::string>(), j["streams"].get<std::int32_t>()};
}

std::string owner_value(std::int32_t node, std::int64_t ms) {
  nlohmann::json j;
  j["v"] = 1;
  j["node"] = node;
  j["started_ms"] = ms;
  return j.dump();
}

TxnRequest create_if_absent_txn(const std::string& key, const std::string& value) {
  TxnRequest t;
  t.compare.push_back(Compare{key, Compare::Target::create_revision, Compare::Result::equal, 0, {}});
  t.success.push_back(Op::put(key, value));
  return t;
}

// Replaces the topic record if it is still the one we read (by mod revision).
TxnRequest topic_update_txn(const std::string& key, std::int64_t mod_revision, const std::string& value) {
  TxnRequest t;
  t.compare.push_back(Compare{key, Compare::Target::mod_revision, Compare::Result::equal, mod_revision, {}});
  t.success.push_back(Op::put(key, value));
  return t;
}

TxnRequest delete_txn(const std::string& key) {
  TxnRequest t;
  t.success.push_back(Op::del(key));
  return t;
}

TopicRecord new_topic(const std::string& name, std::int32_t partitions,
                      std::map<std::string, std::string> configs, std::int64_t ms, std::int32_t streams) {
  TopicRecord rec;
  rec.name = name;
  rec.id = random_topic_id();
  rec.partitions = partitions;
  rec.configs = std::move(configs);
  rec.created_ms = ms;
  rec.stream_base = static_cast<std::int32_t>(crc32c(name) % static_cast<std::uint32_t>(streams));
  return rec;
}

}  // namespace

ClusterState::ClusterState(asio::thread_pool& pool, std::shared_ptr<metastore::MetadataStore> meta,
                           ClusterOptions options)
    : meta_(pool, meta),
      opt_(options),
      producer_expiration_(options.producer_expiration),
      producer_ids_(pool, std::move(meta)) {
  fencing_rejections();  // listed from the first scrape
}

awaitable<Status> ClusterState::start() {
  if (auto s = co_await take_ownership(); !s.ok()) co_return s;
  if (auto s = co_await load_dynamic_configs(); !s.ok()) co_return s;
  if (auto s = co_await load_topics(); !s.ok()) co_return s;
  co_return Status{};
}

// ---------------------------------------------------------------- ownership

awaitable<Status> ClusterState::take_ownership() {
  // Cluster id: created once, create-if-absent.
  std::string cid = to_hex(random_topic_id());
  auto r = co_await meta_.txn(cluster_txn(cid, opt_.streams));
  if (!r.ok()) co_return Status(r.code(), "creating cluster id: " + r.status().message());
  auto rec = cluster_record_from(*r, cid, opt_.streams);
  if (!rec.ok()) co_return rec.status();
  cluster_id_ = rec->id;
  streams_ = rec->streams;
  // Ownership: writing the key fences every older process of this node id;
  // the revision of our write is our epoch.
  auto p = co_await meta_.put(keys::owner(opt_.node_id), owner_value(opt_.node_id, wall_clock_ms()));
  if (!p.ok()) co_return Status(p.code(), "taking ownership: " + p.status().message());
  if (*p <= 0)
    co_return Status(Errc::corrupt, fmt::format("taking ownership: revision {} from the store", *p));
  epoch_ = static_cast<std::uint64_t>(*p);
  co_return Status{};
}

std::int32_t ClusterState::stream_of(const TopicInfo& t, std::int32_t partition) const {
  KS_ASSERT(streams_ > 0, "stream_of before start");
  return cluster::stream_of(t.record.stream_base, partition, streams_);
}

std::int32_t ClusterState::group_slot(std::string_view group) const {
  KS_ASSERT(streams_ > 0, "group_slot before start");
  return cluster::group_slot(group, streams_);
}

metastore::Compare ClusterState::fence() const {
  KS_ASSERT(epoch_ != 0, "node {}: fenced write before ownership was taken", opt_.node_id);
  return Compare{keys::owner(opt_.node_id),
                 Compare::Target::mod_revision,
                 Compare::Result::equal,
                 static_cast<std::int64_t>(epoch_),
                 {}};
}

metastore::Op ClusterState::read_owner() const { return Op::get(keys::owner(opt_.node_id)); }

void ClusterState::set_fenced(const Status& why) {
  fencing_rejections().inc();
  if (!fenced_)
    spdlog::error("node {} fenced: {}; no more writes from this process", opt_.node_id, why.to_string());
  fenced_ = true;
}

Status ClusterState::fenced_status(std::int64_t new_revision) const {
  return Status(Errc::fenced, fmt::format("ownership key of node {} changed (epoch {} -> {})", opt_.node_id,
                                          epoch_, new_revision));
}

// ---------------------------------------------------------------- dynamic configs

void ClusterState::apply_dynamic_configs() {
  producer_expiration_ = opt_.producer_expiration;
  if (auto v = dynamic_value(dynamic_configs_, default_configs_, kProducerIdExpiration)) {
    std::int64_t ms = 0;
    auto [p, ec] = std::from_chars(v->value.data(), v->value.data() + v->value.size(), ms);
    if (ec == std::errc() && ms >= 0) producer_expiration_ = std::chrono::milliseconds(ms);
  }
  BrokerConfigMap defaults = cluster::topic_defaults(default_configs_);
  if (defaults == topic_defaults_) return;
  topic_defaults_ = std::move(defaults);
  for (auto& [name, t] : topics_) t.settings = settings_of(t.record.configs);
}

TopicSettings ClusterState::settings_of(const std::map<std::string, std::string>& configs) const {
  if (topic_defaults_.empty()) return effective_settings(configs);
  std::map<std::string, std::string> merged = topic_defaults_;
  for (const auto& [k, v] : configs) merged[k] = v;
  return effective_settings(merged);
}

awaitable<Status> ClusterState::load_dynamic_configs() {
  for (const bool per_broker : {true, false}) {
    const std::string key = per_broker ? keys::broker_config(opt_.node_id) : keys::broker_defaults();
    auto r = co_await meta_.get(key);
    if (!r.ok()) co_return Status(r.code(), "loading broker configs: " + r.status().message());
    if (r->kvs.empty()) continue;
    std::optional<BrokerConfigMap> configs = decode_broker_configs(r->kvs[0].value);
    if (!configs) co_return Status(Errc::corrupt, key + ": unreadable");
    if (per_broker) {
      dynamic_configs_ = std::move(*configs);
    } else {
      default_configs_ = std::move(*configs);
      default_configs_revision_ = r->kvs[0].mod_revision;
    }
  }
  apply_dynamic_configs();
  co_return Status{};
}

awaitable<Status> ClusterState::set_dynamic_broker_configs(
    const std::map<std::string, std::string>& configs) {
  auto r = co_await meta_.put(keys::broker_config(opt_.node_id), encode_broker_configs(configs));
  if (!r.ok()) co_return r.status();
  dynamic_configs_ = configs;
  apply_dynamic_configs();
  co_return Status{};
}

awaitable<Status> ClusterState::set_default_broker_configs(const BrokerConfigMap& configs) {
  auto r = co_await meta_.put(keys::broker_defaults(), encode_broker_configs(configs));
  if (!r.ok()) co_return r.status();
  default_configs_changed(configs, *r);
  co_return Status{};
}

void ClusterState::default_configs_changed(const BrokerConfigMap& configs, std::int64_t revision) {
  // A watch event older than a local write already applied changes nothing.
  if (revision <= default_configs_revision_) return;
  default_configs_revision_ = revision;
  default_configs_ = configs;
  apply_dynamic_configs();
}

// ---------------------------------------------------------------- topics

awaitable<Status> ClusterState::load_topics() {
  metastore::RangeRequest rq;
  rq.key = keys::topics_prefix();
  rq.range_end = metastore::prefix_end(rq.key);
  auto r = co_await meta_.range(rq);
  if (!r.ok()) co_return Status(r.code(), "loading topics: " + r.status().message());
  for (const auto& kv : r->kvs) {
    auto t = decode_topic(kv.value);
    if (!t.ok()) co_return Status(Errc::corrupt, kv.key + ": " + t.status().message());
    topic_revs_[t->name] = kv.mod_revision;
    topics_[t->name] = TopicInfo{*t, settings_of(t->configs)};
  }
  // The watch (watch_topics) goes on from here.
  topics_revision_ = r->revision;
  co_return Status{};
}

const TopicInfo* ClusterState::topic(const std::string& name) const {
  auto it = topics_.find(name);
  return it == topics_.end() ? nullptr : &it->second;
}

const TopicInfo* ClusterState::topic_by_id(const TopicId& id) const {
  for (const auto& [n, t] : topics_) {
    if (t.record.id == id) return &t;
  }
  return nullptr;
}

std::vector<const TopicInfo*> ClusterState::topics() const {
  std::vector<const TopicInfo*> out;
  out.reserve(topics_.size());
  for (const auto& [n, t] : topics_) out.push_back(&t);
  return out;
}

awaitable<Result<const TopicInfo*>> ClusterState::create_topic(std::string name, std::int32_t partitions,
                                                               std::map<std::string, std::string> configs) {
  TopicRecord rec = new_topic(name, partitions, std::move(configs), wall_clock_ms(), streams_);
  auto r = co_await meta_.txn(create_if_absent_txn(keys::topic(name), encode_topic(rec)));
  if (!r.ok()) co_return r.status();
  if (!r->succeeded) co_return Status(Errc::already_exists, "Topic '" + name + "' already exists.");
  const TopicId id = rec.id;
  apply_topic(std::move(rec), r->revision);
  spdlog::info("created topic {} ({} partitions, id {})", name, partitions, to_hex(id));
  // Absent only if the watch already applied a later deletion by another broker.
  auto it = topics_.find(name);
  if (it == topics_.end() || it->second.record.id != id)
    co_return Status(Errc::not_found, "topic " + name + " was deleted meanwhile");
  co_return &it->second;
}

awaitable<Status> ClusterState::delete_topic(const std::string& name) {
  auto it = topics_.find(name);
  if (it == topics_.end()) co_return Status(Errc::not_found, "unknown topic " + name);
  auto r = co_await meta_.txn(delete_txn(keys::topic(name)));
  if (!r.ok()) co_return r.status();
  // At r->revision the key is absent (whoever deleted it).
  apply_topic_removal(name, r->revision);
  spdlog::info("deleted topic {}", name);
  co_return Status{};
}

awaitable<Result<ClusterState::TopicUpdate>> ClusterState::read_topic_record(const std::string& name) {
  auto it = topics_.find(name);
  if (it == topics_.end()) co_return Status(Errc::not_found, "unknown topic " + name);
  TopicUpdate u;
  u.id = it->second.record.id;
  auto cur = co_await meta_.get(keys::topic(name));
  if (!cur.ok()) co_return cur.status();
  if (cur->kvs.empty()) co_return Status(Errc::not_found, "unknown topic " + name);
  auto rec = decode_topic(cur->kvs[0].value);
  if (!rec.ok()) co_return rec.status();
  if (rec->id != u.id) co_return Status(Errc::not_found, "topic " + name + " was re-created");
  u.record = std::move(*rec);
  u.mod_revision = cur->kvs[0].mod_revision;
  co_return u;
}

awaitable<Status> ClusterState::write_topic_record(const TopicUpdate& u) {
  const std::string& name = u.record.name;
  auto r = co_await meta_.txn(topic_update_txn(keys::topic(name), u.mod_revision, encode_topic(u.record)));
  if (!r.ok()) co_return r.status();
  if (!r->succeeded) co_return Status(Errc::unavailable, "topic " + name + " changed concurrently; retry");
  // Listeners hear of new partitions here (or heard already, from the watch).
  apply_topic(u.record, r->revision);
  auto it = topics_.find(name);
  if (it == topics_.end() || it->second.record.id != u.id)
    co_return Status(Errc::not_found, "unknown topic " + name);
  co_return Status{};
}

awaitable<Status> ClusterState::set_topic_configs(const std::string& name,
                                                  const std::map<std::string, std::string>& configs) {
  auto u = co_await read_topic_record(name);
  if (!u.ok()) co_return u.status();
  u->record.configs = configs;
  if (auto s = co_await write_topic_record(*u); !s.ok()) co_return s;
  spdlog::info("topic {}: configs updated", name);
  co_return Status{};
}

awaitable<Status> ClusterState::add_topic_partitions(const std::string& name, std::int32_t count) {
  auto u = co_await read_topic_record(name);
  if (!u.ok()) co_return u.status();
  const std::int32_t old = u->record.partitions;
  if (count <= old) co_return Status(Errc::invalid_argument, "the topic already has that many partitions");
  u->record.partitions = count;
  if (auto s = co_await write_topic_record(*u); !s.ok()) co_return s;
  spdlog::info("topic {}: {} -> {} partitions", name, old, count);
  co_return Status{};
}

}  // namespace ks::cluster
