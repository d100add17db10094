#include "log/upgrade.h"

#include <spdlog/spdlog.h>

#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "cluster/streams.h"
#include "common/assert.h"
#include "log/records.h"

namespace ks::log {

namespace {

using metastore::Compare;
using metastore::Op;

// Puts (or deletes) in transactions of at most kMaxTxnOps operations.
Status batched(metastore::MetadataStore& meta, const std::vector<Op>& ops, const char* what) {
  for (std::size_t i = 0; i < ops.size();) {
    metastore::TxnRequest t;
    for (; i < ops.size() && t.success.size() < metastore::kMaxTxnOps; ++i) t.success.push_back(ops[i]);
    auto r = meta.txn(t);
    if (!r.ok()) return Status(r.code(), fmt::format("upgrade: {}: {}", what, r.status().message()));
  }
  return Status{};
}

// The slotted key of an old group key, nullopt for a key already slotted or not a group key.
std::optional<std::string> slotted_group_key(const std::string& key, std::int32_t streams) {
  if (auto k = keys::parse_group_key(key); k && k->slot == cluster::group_slot(k->group, streams)) {
    return std::nullopt;  // copied by an earlier, interrupted upgrade
  }
  const std::string prefix = keys::groups_prefix();
  if (!key.starts_with(prefix)) return std::nullopt;
  const std::string rest = key.substr(prefix.size());  // <enc>/meta or <enc>/offsets/<topic>/<chunk>
  const auto slash = rest.find('/');
  if (slash == std::string::npos) return std::nullopt;
  auto group = keys::decode_group_id(rest.substr(0, slash));
  if (!group) return std::nullopt;
  const std::string tail = rest.substr(slash + 1);
  if (tail != "meta" && !tail.starts_with("offsets/")) return std::nullopt;
  return fmt::format("{}{:04}/{}", prefix, cluster::group_slot(*group, streams), rest);
}

}  // namespace

Result<UpgradeReport> upgrade_single_node_layout(metastore::MetadataStore& meta, std::int32_t streams) {
  KS_ASSERT(streams >= 1 && streams <= cluster::kMaxStreams, "bad stream count {}", streams);
  UpgradeReport rep;
  metastore::RangeRequest crq;
  crq.key = keys::cluster();
  auto cr = meta.range(crq);
  if (!cr.ok()) return Status(cr.code(), "upgrade: reading the cluster record: " + cr.status().message());
  if (cr->kvs.empty()) return rep;  // a new cluster
  auto record = nlohmann::json::parse(cr->kvs[0].value, nullptr, false);
  if (record.is_discarded() || !record.is_object())
    return Status(Errc::corrupt, "upgrade: cluster record unreadable");
  if (record.contains("streams")) return rep;  // already the stream layout
  const std::int64_t cluster_rev = cr->kvs[0].mod_revision;

  // The old log: one node with a checkpoint pointer and/or commit records.
  metastore::RangeRequest brq;
  brq.key = keys::brokers_prefix();
  brq.range_end = metastore::prefix_end(brq.key);
  auto br = meta.range(brq);
  if (!br.ok()) return Status(br.code(), "upgrade: reading the brokers: " + br.status().message());
  std::set<std::int32_t> nodes;
  std::map<std::int32_t, CheckpointPointer> pointers;
  for (const auto& kv : br->kvs) {
    if (auto n = keys::parse_commit_node(kv.key)) nodes.insert(*n);
  }
  for (const auto& kv : br->kvs) {
    auto n = keys::parse_node_checkpoint_key(kv.key);
    if (!n) continue;
    auto p = decode_checkpoint_pointer(kv.value);
    if (!p.ok()) return Status(Errc::corrupt, "upgrade: " + kv.key + ": " + p.status().message());
    p->node = *n;
    pointers[*n] = *p;
    nodes.insert(*n);
  }
  if (nodes.size() > 1) {
    return Status(Errc::invalid_argument,
                  fmt::format("upgrade: the single-node layout holds the logs of {} nodes; only one can be "
                              "upgraded (use a new prefix)",
                              nodes.size()));
  }
  if (!nodes.empty()) rep.node = *nodes.begin();

  // 1. Group keys copied to their slots.
  metastore::RangeRequest grq;
  grq.key = keys::groups_prefix();
  grq.range_end = metastore::prefix_end(grq.key);
  auto gr = meta.range(grq);
  if (!gr.ok()) return Status(gr.code(), "upgrade: reading the groups: " + gr.status().message());
  std::vector<Op> copies;
  std::vector<Op> removals;
  for (const auto& kv : gr->kvs) {
    auto to = slotted_group_key(kv.key, streams);
    if (!to) continue;
    copies.push_back(Op::put(*to, kv.value));
    removals.push_back(Op::del(kv.key));
  }
  rep.group_keys = copies.size();
  if (Status s = batched(meta, copies, "copying group keys"); !s.ok()) return s;

  // 2. The cluster record and every stream's pointer, at once.
  metastore::TxnRequest t;
  Compare same;
  same.key = keys::cluster();
  same.target = Compare::Target::mod_revision;
  same.result = Compare::Result::equal;
  same.number = cluster_rev;
  t.compare.push_back(std::move(same));
  record["streams"] = streams;
  t.success.push_back(Op::put(keys::cluster(), record.dump()));
  if (rep.node >= 0) {
    CheckpointPointer p;
    p.node = rep.node;
    if (auto it = pointers.find(rep.node); it != pointers.end()) p = it->second;  // else: no checkpoint yet
    for (std::int32_t s = 0; s < streams; ++s) {
      t.success.push_back(Op::put(keys::stream_checkpoint(s), encode_checkpoint_pointer(p)));
    }
  }
  auto r = meta.txn(t);
  if (!r.ok()) return Status(r.code(), "upgrade: writing the stream layout: " + r.status().message());
  if (!r->succeeded) return rep;  // another broker upgraded it meanwhile

  // 3. The old group keys (their copies are what the coordinator reads now).
  if (Status s = batched(meta, removals, "deleting old group keys"); !s.ok()) {
    spdlog::warn("{} (left behind; nothing reads them)", s.message());
  }
  rep.upgraded = true;
  spdlog::info("upgraded the single-node layout to {} streams: log of node {}, {} group keys moved to slots",
               streams, rep.node, rep.group_keys);
  return rep;
}

}  // namespace ks::log
