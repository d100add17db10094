#include "log/cluster_sweep.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <set>

#include "common/assert.h"
#include "log/checkpoint.h"
#include "log/records.h"

namespace ks::log {

namespace {

// One consistent view of the metadata the mark needs.
struct Snapshot {
  std::map<std::int32_t, CheckpointPointer> pointers;  // by stream
  struct Commit {
    std::string key;
    std::int32_t node = -1;
    CommitRecord record;
  };
  std::vector<Commit> commits;
  std::set<std::int32_t> live;
};

metastore::Op range_op(const std::string& prefix) {
  return metastore::Op::get(prefix, metastore::prefix_end(prefix));
}

Result<Snapshot> read_snapshot(metastore::MetadataStore& meta) {
  metastore::TxnRequest t;
  t.success.push_back(range_op(keys::streams_prefix()));
  t.success.push_back(range_op(keys::brokers_prefix()));
  t.success.push_back(range_op(keys::members_prefix()));
  auto r = meta.txn(t);
  if (!r.ok()) return Status(r.code(), "cluster sweep: reading the metadata: " + r.status().message());
  KS_ASSERT(r->succeeded && r->results.size() == 3, "an unconditional txn of three ranges");
  Snapshot s;
  for (const auto& kv : r->results[0].range.kvs) {
    auto stream = keys::parse_stream_checkpoint_key(kv.key);
    if (!stream) continue;
    auto p = decode_checkpoint_pointer(kv.value);
    if (!p.ok()) return Status(Errc::corrupt, kv.key + ": " + p.status().message());
    s.pointers.emplace(*stream, std::move(p).value());
  }
  for (const auto& kv : r->results[1].range.kvs) {
    auto node = keys::parse_commit_node(kv.key);
    if (!node) continue;
    auto c = decode_commit(kv.value);
    if (!c.ok()) return Status(Errc::corrupt, kv.key + ": " + c.status().message());
    s.commits.push_back(Snapshot::Commit{kv.key, *node, std::move(c).value()});
  }
  for (const auto& kv : r->results[2].range.kvs) {
    if (auto node = keys::parse_member_key(kv.key)) s.live.insert(*node);
  }
  return s;
}

// Whether every stream of a dead node's commit record has its data elsewhere.
bool commit_taken_over(const Snapshot& s, const Snapshot::Commit& c, std::int32_t streams) {
  for (std::int32_t st = 0; st < streams && st < 64; ++st) {
    if ((c.record.streams & (std::uint64_t{1} << st)) == 0) continue;
    auto it = s.pointers.find(st);
    if (it == s.pointers.end()) return false;
    if (it->second.node == c.node && it->second.covers_seq < c.record.seq) return false;
  }
  return true;
}

}  // namespace

ClusterSweep::ClusterSweep(std::shared_ptr<objstore::ObjectStore> objects,
                           std::shared_ptr<metastore::MetadataStore> meta, ClusterSweepOptions options)
    : objects_(std::move(objects)), meta_(std::move(meta)), opt_(options) {
  KS_ASSERT(opt_.streams >= 1 && opt_.streams <= 64, "stream count out of range: {}", opt_.streams);
  KS_ASSERT(opt_.max_deletes_per_pass > 0, "a sweep that may delete nothing");
}

Result<ClusterSweepStats> ClusterSweep::run_once(Clock::time_point now) {
  ClusterSweepStats stats;
  auto snap = read_snapshot(*meta_);
  if (!snap.ok()) return snap.status();

  // ---- mark
  std::set<std::string> referenced;
  std::set<std::string> current_checkpoints;
  std::map<std::int32_t, std::uint64_t> last_commit;  // per node: highest seq committed or covered
  for (const auto& c : snap->commits) {
    referenced.insert(c.record.object);
    last_commit[c.node] = std::max(last_commit[c.node], c.record.seq);
  }
  for (const auto& [stream, p] : snap->pointers) {
    last_commit[p.node] = std::max(last_commit[p.node], p.covers_seq);
    if (p.object.empty()) continue;
    current_checkpoints.insert(p.object);
    auto bytes = objects_->get(p.object);
    if (!bytes.ok()) {
      return Status(bytes.code(), fmt::format("cluster sweep: reading checkpoint {} of stream {}: {}",
                                              p.object, stream, bytes.status().message()));
    }
    auto cp = decode_checkpoint(*bytes);
    if (!cp.ok()) return Status(Errc::corrupt, "cluster sweep: " + p.object + ": " + cp.status().message());
    for (const auto& part : cp->partitions) {
      for (const auto& e : part.index) referenced.insert(e.object->key);
    }
  }
  stats.referenced = referenced.size();
  std::size_t budget = opt_.max_deletes_per_pass;

  // ---- commit records of dead nodes whose streams were taken over
  std::map<std::int32_t, std::vector<std::string>> dead_commits;
  for (const auto& c : snap->commits) {
    if (snap->live.count(c.node) > 0) continue;
    if (commit_taken_over(*snap, c, opt_.streams)) dead_commits[c.node].push_back(c.key);
  }
  for (auto& [node, ks] : dead_commits) {
    for (std::size_t i = 0; i < ks.size() && budget > 0;) {
      metastore::TxnRequest t;
      metastore::Compare absent;
      absent.key = keys::member(node);
      absent.target = metastore::Compare::Target::version;
      absent.result = metastore::Compare::Result::equal;
      absent.number = 0;
      t.compare.push_back(std::move(absent));
      for (; i < ks.size() && t.success.size() < metastore::kMaxTxnOps && budget > 0; ++i, --budget) {
        t.success.push_back(metastore::Op::del(ks[i]));
      }
      auto r = meta_->txn(t);
      if (!r.ok()) return Status(r.code(), "cluster sweep: deleting commit records: " + r.status().message());
      if (!r->succeeded) break;  // the node came back: its records are its own again
      stats.commits_deleted += t.success.size();
    }
  }

  // ---- sweep the bucket
  std::vector<objstore::ObjectInfo> listed;
  for (const std::string& prefix :
       {keys::all_objects_prefix(), keys::all_stream_checkpoints_prefix(), keys::all_checkpoints_prefix()}) {
    auto l = objects_->list(prefix);
    if (!l.ok()) return Status(l.code(), "cluster sweep: listing " + prefix + ": " + l.status().message());
    for (auto& i : *l) listed.push_back(std::move(i));
  }
  stats.listed = listed.size();
  std::unordered_map<std::string, Clock::time_point> still;
  std::vector<objstore::ObjectInfo> doomed;
  for (auto& info : listed) {
    auto node = keys::object_node(info.key);
    auto name = keys::parse_object_name(info.key);
    // checkpoints/<node>/...: the single-node layout's checkpoints, read by
    // streams upgraded from it until each was checkpointed again; nothing
    // writes there any more.
    const bool legacy = info.key.starts_with(keys::all_checkpoints_prefix());
    if (legacy && name) node = -1;  // never a live node's (a current one is skipped below)
    if (!node || !name) continue;   // not ours
    const bool is_object = info.key.starts_with(keys::all_objects_prefix());
    if (is_object ? referenced.count(info.key) > 0 : current_checkpoints.count(info.key) > 0) continue;
    if (snap->live.count(*node) > 0) {
      if (is_object && name->seq > last_commit[*node]) continue;  // a flush in flight
      if (!is_object) {
        // streams/<s>/<node>/...: a newer checkpoint of the stream's pointer node, being written.
        auto p = snap->pointers.find(keys::stream_checkpoint_object_stream(info.key).value_or(-1));
        if (p == snap->pointers.end() || (p->second.node == *node && name->seq >= p->second.covers_seq))
          continue;
      }
    }
    auto seen = candidates_.find(info.key);
    const auto first = seen == candidates_.end() ? now : seen->second;
    if (now - first >= opt_.grace && doomed.size() < budget) {
      doomed.push_back(std::move(info));
    } else {
      still.emplace(info.key, first);
    }
  }
  candidates_ = std::move(still);
  stats.candidates = candidates_.size();
  for (const auto& d : doomed) {
    Status st = objects_->remove(d.key);
    if (!st.ok() && st.code() != Errc::not_found) {
      spdlog::warn("cluster sweep: deleting {}: {}", d.key, st.to_string());
      candidates_.emplace(d.key, now);  // retried next pass
      continue;
    }
    (d.key.starts_with(keys::all_objects_prefix()) ? stats.objects_deleted : stats.checkpoints_deleted)++;
    stats.bytes_deleted += d.size;
  }
  return stats;
}

}  // namespace ks::log
