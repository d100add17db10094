// `kafscale inspect`: prints a log object or a checkpoint for operators.
#include "broker/inspect.h"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "broker/stores.h"
#include "cluster/keys.h"
#include "cluster/membership.h"
#include "cluster/placement.h"
#include "log/checkpoint.h"
#include "log/object_format.h"
#include "log/records.h"
#include "protocol/record_batch.h"

namespace ks::broker {
namespace {

namespace keys = cluster::keys;

void print_object(const log::ParsedObject& o, std::string_view bytes) {
  fmt::print("object format v{} broker_epoch {} flush_seq {} created_ms {} footer {}+{} entries {}\n",
             o.header.version, o.header.broker_epoch, o.header.flush_seq, o.header.created_ms,
             o.footer.position, o.footer.length, o.entries.size());
  for (const auto& e : o.entries) {
    fmt::print("  topic {} partition {} offsets {}..{} max_ts {} leader_epoch {} batches {} at {}+{}\n",
               log::to_hex(e.topic), e.partition, e.base_offset, e.last_offset, e.max_timestamp,
               e.leader_epoch, e.batch_count, e.position, e.length);
    for (const auto& b : protocol::scan_batches(bytes.substr(e.position, e.length))) {
      const auto& h = b.header;
      fmt::print("    batch base {} records {} compression {} ts {}..{} producer {}/{} seq {}\n",
                 h.base_offset, h.records_count, h.compression(), h.base_timestamp, h.max_timestamp,
                 h.producer_id, h.producer_epoch, h.base_sequence);
    }
  }
}

void print_checkpoint(const log::Checkpoint& c) {
  fmt::print("checkpoint broker_epoch {} covers_seq {} created_ms {} partitions {}\n", c.broker_epoch,
             c.covers_seq, c.created_ms, c.partitions.size());
  for (const auto& p : c.partitions) {
    fmt::print("  topic {} partition {} log_start {} hwm {} leader_epoch {} ranges {}\n",
               log::to_hex(p.key.topic), p.key.partition, p.log_start, p.hwm, p.leader_epoch, p.index.size());
    for (const auto& e : p.index) {
      fmt::print("    {}..{} max_ts {} in {} at {}+{}\n", e.base_offset, e.last_offset, e.max_timestamp,
                 e.object->key, e.position, e.length);
    }
  }
}

std::map<std::string, metastore::KeyValue> read_prefix(metastore::MetadataStore& m, const std::string& prefix,
                                                       Status& error) {
  metastore::RangeRequest rq;
  rq.key = prefix;
  rq.range_end = metastore::prefix_end(prefix);
  std::map<std::string, metastore::KeyValue> out;
  auto r = m.range(rq);
  if (!r.ok()) {
    error = r.status();
    return out;
  }
  for (auto& kv : r->kvs) out.emplace(kv.key, std::move(kv));
  return out;
}

// The cluster as etcd holds it: one line per member and per stream.
int print_placement(const InspectOptions& opt, const EnvLookup& env) {
  auto meta = open_metadata_store(opt.metadata, env);
  if (!meta.ok()) {
    fmt::print(stderr, "metadata: {}\n", meta.status().message());
    return 2;
  }
  Status error;
  auto members = read_prefix(**meta, keys::members_prefix(), error);
  auto streams = read_prefix(**meta, keys::streams_prefix(), error);
  auto single = read_prefix(**meta, keys::controller(), error);
  auto placed = read_prefix(**meta, keys::placement(), error);
  if (!error.ok()) {
    fmt::print(stderr, "metadata: {}\n", error.to_string());
    return 1;
  }
  auto ctl = single.find(keys::controller());
  if (ctl == single.end()) {
    fmt::print("controller: none\n");
  } else {
    auto n = cluster::decode_controller(ctl->second.value);
    fmt::print("controller: node {} (epoch {})\n", n.ok() ? std::to_string(*n) : n.status().to_string(),
               ctl->second.create_revision);
  }
  fmt::print("brokers: {}\n", members.size());
  for (const auto& [key, kv] : members) {
    auto m = cluster::decode_member(kv.value);
    if (!m.ok()) {
      fmt::print("  {}: {}\n", key, m.status().to_string());
      continue;
    }
    fmt::print("  node {} {}:{} rack '{}'{}\n", m->node, m->host, m->port, m->rack,
               m->draining ? " draining" : "");
  }
  std::optional<cluster::Placement> p;
  if (auto it = placed.find(keys::placement()); it != placed.end()) {
    auto d = cluster::decode_placement(it->second.value);
    if (!d.ok()) {
      fmt::print("placement: {}\n", d.status().to_string());
    } else {
      p = std::move(d).value();
    }
  }
  if (!p) {
    fmt::print("placement: none yet\n");
    return 0;
  }
  fmt::print("placement: {} streams, written by controller epoch {}\n", p->streams.size(),
             p->controller_epoch);
  for (std::size_t s = 0; s < p->streams.size(); ++s) {
    const auto st = static_cast<std::int32_t>(s);
    std::string owner = "no owner record";
    if (auto it = streams.find(keys::stream_owner(st)); it != streams.end()) {
      auto o = log::decode_stream_owner(it->second.value);
      owner = o.ok() ? fmt::format("owner node {} {} term {}", o->node, o->released ? "released" : "owned",
                                   o->leader_epoch)
                     : o.status().to_string();
    }
    std::string cp = "no checkpoint";
    if (auto it = streams.find(keys::stream_checkpoint(st)); it != streams.end()) {
      auto c = log::decode_checkpoint_pointer(it->second.value);
      cp = c.ok() ? fmt::format("checkpoint by node {} covers {} {}", c->node, c->covers_seq,
                                c->object.empty() ? "(empty)" : c->object)
                  : c.status().to_string();
    }
    fmt::print("  stream {:2}: placed on node {} epoch {}; {}; {}\n", st, p->streams[s].node,
               p->streams[s].epoch, owner, cp);
  }
  return 0;
}

}  // namespace

int run_inspect(const InspectOptions& opt, const EnvLookup& env) {
  if (opt.target == "placement") return print_placement(opt, env);
  std::string bytes;
  std::error_code ec;
  if (std::filesystem::is_regular_file(opt.target, ec)) {
    std::ifstream f(opt.target, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    bytes = ss.str();
  } else {
    auto store = open_object_store(opt.object_store, env);
    if (!store.ok()) {
      fmt::print(stderr, "object-store: {}\n", store.status().message());
      return 2;
    }
    auto r = (*store)->get(opt.target);
    if (!r.ok()) {
      fmt::print(stderr, "{}: {}\n", opt.target, r.status().to_string());
      return 1;
    }
    bytes = std::move(r).value();
  }
  if (bytes.rfind("KSOB", 0) == 0) {
    auto o = log::parse_object(bytes);
    if (!o.ok()) {
      fmt::print(stderr, "{}: {}\n", opt.target, o.status().to_string());
      return 1;
    }
    print_object(*o, bytes);
    return 0;
  }
  if (bytes.rfind("KSCP", 0) == 0) {
    auto c = log::decode_checkpoint(bytes);
    if (!c.ok()) {
      fmt::print(stderr, "{}: {}\n", opt.target, c.status().to_string());
      return 1;
    }
    print_checkpoint(*c);
    return 0;
  }
  fmt::print(stderr, "{}: neither a KafScale object nor a checkpoint\n", opt.target);
  return 1;
}

}  // namespace ks::broker
