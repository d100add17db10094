// Streams changing hands (see lifecycle.h): acquire() = owner key, the
// stream's checkpoint, then the commit records after it that carry the
// stream (one ranged GET of each object's footer, and of its producer digest
// when it has one); release() = a last checkpoint and the "released" mark.
// Everything read here comes from the stores: checked and reported as
// corrupt, never asserted on.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <charconv>

#include "log/checkpoint.h"
#include "log/lifecycle.h"
#include "log/records.h"

namespace ks::log {

using metastore::Op;
using metastore::TxnRequest;

namespace {

std::optional<objstore::ByteRange> footer_range(const CommitRecord& c) {
  return objstore::ByteRange{c.footer.position, c.footer.length};
}

std::optional<objstore::ByteRange> entry_range(const ObjectEntry& e) {
  return objstore::ByteRange{e.position, e.length};
}

bool is_digest(const ObjectEntry& e) {
  return e.topic == kProducerDigestTopic && e.partition == kProducerDigestPartition && e.length > 0;
}

std::shared_ptr<const ObjectRef> make_object_ref(const std::string& key, std::uint64_t size,
                                                 std::uint64_t streams) {
  auto o = std::make_shared<ObjectRef>();
  o->key = key;
  o->size = size;
  o->streams = streams;
  return o;
}

// Commit records from `from` on, a page at a time.
metastore::RangeRequest commits_page(const std::string& from, const std::string& end, bool keys_only) {
  metastore::RangeRequest rq;
  rq.key = from;
  rq.range_end = end;
  rq.limit = 500;
  rq.keys_only = keys_only;
  return rq;
}

std::optional<std::uint64_t> commit_seq(const std::string& key, const std::string& prefix) {
  if (!key.starts_with(prefix)) return std::nullopt;
  std::uint64_t v = 0;
  const char* b = key.data() + prefix.size();
  const char* e = key.data() + key.size();
  auto [p, ec] = std::from_chars(b, e, v);
  if (ec != std::errc() || p != e) return std::nullopt;
  return v;
}

}  // namespace

// ---------------------------------------------------------------- position

awaitable<Result<std::map<std::int32_t, CheckpointPointer>>> LogLifecycle::stream_pointers() {
  metastore::RangeRequest rq;
  rq.key = keys::streams_prefix();
  rq.range_end = metastore::prefix_end(rq.key);
  auto r = co_await s_.meta.range(rq);
  if (!r.ok()) co_return Status(r.code(), "reading stream checkpoints: " + r.status().message());
  std::map<std::int32_t, CheckpointPointer> out;
  for (const auto& kv : r->kvs) {
    auto stream = keys::parse_stream_checkpoint_key(kv.key);
    if (!stream) continue;  // an owner key
    auto ptr = decode_checkpoint_pointer(kv.value);
    if (!ptr.ok()) co_return Status(Errc::corrupt, kv.key + ": " + ptr.status().message());
    out[*stream] = *ptr;
  }
  co_return out;
}

awaitable<Status> LogLifecycle::init_position() {
  // The last sequence this node used: its newest commit record, or what a
  // stream's checkpoint says it covers (records are deleted once covered).
  std::uint64_t last = 0;
  std::size_t records = 0;
  const std::string prefix = keys::commits_prefix(s_.node());
  const std::string end = metastore::prefix_end(prefix);
  std::string from = prefix;
  for (;;) {
    auto r = co_await s_.meta.range(commits_page(from, end, true));
    if (!r.ok()) co_return Status(r.code(), "reading commit records: " + r.status().message());
    for (const auto& kv : r->kvs) {
      auto seq = commit_seq(kv.key, prefix);
      if (!seq) co_return Status(Errc::corrupt, kv.key + ": not a commit record key");
      last = std::max(last, *seq);
      ++records;
    }
    if (!r->more || r->kvs.empty()) break;
    from = r->kvs.back().key + '\0';
  }
  auto pointers = co_await stream_pointers();
  if (!pointers.ok()) co_return pointers.status();
  std::optional<std::uint64_t> covered;
  for (const auto& [stream, ptr] : *pointers) {
    if (ptr.node != s_.node()) continue;
    last = std::max(last, ptr.covers_seq);
    covered = std::min(covered.value_or(UINT64_MAX), ptr.covers_seq);
  }
  s_.position.last_committed = last;
  // Every stream's checkpoint holds our commits up to here.
  s_.position.checkpoint_covers = covered.value_or(0);
  s_.position.next_seq = last + 1;
  // Left over by an earlier process: the next checkpoint round deletes them.
  s_.position.since_checkpoint = records;
  co_return Status{};
}

// ---------------------------------------------------------------- acquire

awaitable<Status> LogLifecycle::take_owner_key(const Grant& g) {
  StreamOwnerRecord o;
  o.node = s_.node();
  o.leader_epoch = g.leader_epoch;
  const std::string key = keys::stream_owner(g.stream);
  TxnRequest t;
  if (g.expect_owner_revision >= 0) {
    metastore::Compare same;
    same.key = key;
    same.target = metastore::Compare::Target::mod_revision;
    same.number = g.expect_owner_revision;
    t.compare.push_back(same);
  }
  t.success.push_back(Op::put(key, encode_stream_owner(o)));
  auto r = co_await s_.meta.txn(std::move(t));
  if (!r.ok())
    co_return Status(r.code(), fmt::format("taking stream {}: {}", g.stream, r.status().message()));
  if (!r->succeeded) {
    co_return Status(Errc::already_exists,
                     fmt::format("taking stream {}: its owner key changed after revision {} (another "
                                 "broker wrote it; decided again with what it says)",
                                 g.stream, g.expect_owner_revision));
  }
  if (r->revision <= 0)
    co_return Status(Errc::corrupt, fmt::format("taking stream {}: revision {}", g.stream, r->revision));
  OwnedStream& st = s_.streams[g.stream];
  st.id = g.stream;
  st.fence.key = keys::stream_owner(g.stream);
  st.fence.revision = r->revision;
  st.leader_epoch = g.leader_epoch;
  st.loaded = false;
  st.closed = true;
  co_return Status{};
}

awaitable<Result<CheckpointPointer>> LogLifecycle::load_stream_checkpoint(std::int32_t stream) {
  const std::string pkey = keys::stream_checkpoint(stream);
  auto cp = co_await s_.meta.get(pkey);
  if (!cp.ok()) co_return Status(cp.code(), "reading " + pkey + ": " + cp.status().message());
  if (cp->kvs.empty()) co_return CheckpointPointer{};
  auto ptr = decode_checkpoint_pointer(cp->kvs[0].value);
  if (!ptr.ok()) co_return Status(Errc::corrupt, pkey + ": " + ptr.status().message());
  if (ptr->node < 0) co_return Status(Errc::corrupt, pkey + ": no node");
  if (ptr->object.empty()) co_return ptr;
  auto bytes = co_await s_.objects.get(ptr->object, std::nullopt);
  if (!bytes.ok())
    co_return Status(bytes.code(), "reading checkpoint " + ptr->object + ": " + bytes.status().message());
  auto c = decode_checkpoint(*bytes);
  if (!c.ok()) co_return Status(Errc::corrupt, ptr->object + ": " + c.status().message());
  for (auto& snap : c->partitions) {
    PartitionState* p = s_.table.find(snap.key);
    if (p == nullptr) continue;  // topic deleted
    // A format v1 checkpoint (the single-node layout, upgraded: log/upgrade.h)
    // holds every stream's partitions; each stream takes its own.
    if (p->stream != stream && c->version == 1) continue;
    if (p->stream != stream)
      co_return Status(Errc::corrupt, fmt::format("{}: partition {}-{} is not in stream {}", ptr->object,
                                                  to_hex(snap.key.topic), snap.key.partition, stream));
    if (auto st = s_.table.restore(*p, std::move(snap)); !st.ok())
      co_return Status(st.code(), ptr->object + ": " + st.message());
  }
  auto producers = decode_producer_snapshot(c->producer_state);
  if (!producers.ok()) co_return Status(Errc::corrupt, ptr->object + ": " + producers.status().message());
  for (auto& [k, ps] : *producers) {
    const PartitionState* p = s_.table.find(k);
    if (p != nullptr && p->stream == stream) s_.table.producers_for(k) = std::move(ps);
  }
  s_.streams.at(stream).checkpoint_object = ptr->object;
  co_return ptr;
}

Status LogLifecycle::apply_entries(const std::shared_ptr<const ObjectRef>& obj,
                                   const std::vector<ObjectEntry>& entries, std::uint64_t seq,
                                   const StreamStarts& from) {
  for (const auto& e : entries) {
    PartitionState* p = s_.table.find(PartitionKey{e.topic, e.partition});
    if (p == nullptr) continue;  // topic deleted since, or not a stream we own
    auto start = from.find(p->stream);
    if (start == from.end() || seq < start->second) continue;  // not being rebuilt, or in its checkpoint
    if (e.base_offset != p->hwm || e.last_offset < e.base_offset) {
      return Status(Errc::corrupt,
                    fmt::format("{}: partition {}-{} continues at {} but the log ends at {}", obj->key,
                                to_hex(e.topic), e.partition, e.base_offset, p->hwm));
    }
    s_.table.push_range(*p, IndexEntry{e.base_offset, e.last_offset, e.max_timestamp, obj, e.position,
                                       e.length, e.leader_epoch, e.batch_count});
    if (p->epochs.empty() || p->epochs.back().epoch != e.leader_epoch) {
      p->epochs.push_back(EpochStart{e.leader_epoch, e.base_offset});
    }
    p->leader_epoch = std::max(p->leader_epoch, e.leader_epoch);
  }
  return Status{};
}

void LogLifecycle::apply_digest(const ProducerDigest& d, std::uint64_t seq, const StreamStarts& from) {
  for (const auto& r : d.records) {
    const PartitionState* p = s_.table.find(r.key);
    if (p == nullptr) continue;  // topic deleted since
    auto start = from.find(p->stream);
    if (start == from.end() || seq < start->second) continue;
    ProducerBatch b{r.first_seq, r.last_seq, r.first_offset, r.last_offset, 0};
    s_.table.producers_for(r.key).record(r.pid, r.epoch, b, d.created_ms, -1,
                                         s_.opt.max_producers_per_partition);
  }
}

awaitable<Status> LogLifecycle::replay_commits(std::int32_t node, const StreamStarts& from,
                                               std::size_t& replayed) {
  std::uint64_t first = UINT64_MAX;
  std::uint64_t mask = 0;
  for (const auto& [stream, seq] : from) {
    first = std::min(first, seq);
    mask |= stream_bit(stream);
  }
  std::string key = keys::commit(node, first);
  const std::string end = metastore::prefix_end(keys::commits_prefix(node));
  std::uint64_t prev = 0;
  for (;;) {
    auto r = co_await s_.meta.range(commits_page(key, end, false));
    if (!r.ok()) co_return Status(r.code(), "reading commit records: " + r.status().message());
    for (const auto& kv : r->kvs) {
      auto c = decode_commit(kv.value);
      if (!c.ok()) co_return Status(Errc::corrupt, kv.key + ": " + c.status().message());
      if (c->seq <= prev)
        co_return Status(Errc::corrupt, fmt::format("{}: sequence {} after {}", kv.key, c->seq, prev));
      prev = c->seq;
      if ((c->streams & mask) == 0) continue;
      auto footer = co_await s_.objects.get(c->object, footer_range(*c));
      if (!footer.ok()) {
        co_return Status(footer.code(), "reading footer of committed object " + c->object + ": " +
                                            footer.status().message());
      }
      auto entries = decode_footer(*footer, c->footer_crc);
      if (!entries.ok()) co_return Status(Errc::corrupt, c->object + ": " + entries.status().message());
      auto obj = make_object_ref(c->object, c->object_size, c->streams);
      if (auto st = apply_entries(obj, *entries, c->seq, from); !st.ok()) co_return st;
      // Still referenced by its commit record until the next checkpoint.
      s_.table.note_unreferenced(*obj);
      // (An index loop: g++ 12 miscompiles co_await inside some range-for loops.)
      for (std::size_t i = 0; i < entries->size(); ++i) {
        const ObjectEntry& e = (*entries)[i];
        if (!is_digest(e)) continue;
        auto bytes = co_await s_.objects.get(c->object, entry_range(e));
        if (!bytes.ok())
          co_return Status(bytes.code(),
                           "reading producer digest of " + c->object + ": " + bytes.status().message());
        auto digest = decode_producer_digest(*bytes);
        if (!digest.ok()) co_return Status(Errc::corrupt, c->object + ": " + digest.status().message());
        apply_digest(*digest, c->seq, from);
      }
      ++replayed;
    }
    if (!r->more || r->kvs.empty()) break;
    key = r->kvs.back().key + '\0';
  }
  co_return Status{};
}

awaitable<Status> LogLifecycle::acquire(const std::vector<Grant>& grants) {
  const auto started = Clock::now();
  // Writing the owner keys first fences every earlier owner: from here on
  // nothing it commits can carry these streams.
  for (std::size_t i = 0; i < grants.size(); ++i) {
    if (auto st = co_await take_owner_key(grants[i]); !st.ok()) co_return st;
  }
  // Checkpoints; then, per node named by a pointer, its later commit records.
  std::map<std::int32_t, StreamStarts> replay;
  for (std::size_t i = 0; i < grants.size(); ++i) {
    auto ptr = co_await load_stream_checkpoint(grants[i].stream);
    if (!ptr.ok()) co_return ptr.status();
    if (ptr->node >= 0) replay[ptr->node][grants[i].stream] = ptr->covers_seq + 1;
  }
  std::size_t replayed = 0;
  for (auto it = replay.begin(); it != replay.end(); ++it) {
    const std::int32_t node = it->first;
    const StreamStarts from = it->second;
    if (auto st = co_await replay_commits(node, from, replayed); !st.ok()) co_return st;
  }
  // A new leadership term for every partition: the placement epoch when it
  // is newer (it is what clients see in Metadata).
  // One term for the whole stream (what its owner record tells Metadata on
  // every broker): newer than any partition's and at least the grant's.
  std::map<std::int32_t, std::int32_t> epochs;
  std::vector<std::int32_t> ids;
  for (const auto& g : grants) {
    epochs[g.stream] = std::max(g.leader_epoch, 1);
    ids.push_back(g.stream);
  }
  for (const auto& [k, p] : s_.table.partitions()) {
    auto e = epochs.find(p.stream);
    if (e != epochs.end()) e->second = std::max(e->second, p.leader_epoch + 1);
  }
  std::size_t partitions = 0;
  for (auto& [k, p] : s_.table.partitions()) {
    auto e = epochs.find(p.stream);
    if (e == epochs.end()) continue;
    p.leader_epoch = e->second;
    p.epochs.push_back(EpochStart{p.leader_epoch, p.hwm});
    PartitionTable::check(p);
    ++partitions;
  }
  for (const auto& [id, epoch] : epochs) s_.streams.at(id).leader_epoch = epoch;
  // Checkpointed before the first append: the stream's history is again its
  // checkpoint plus our commit records (moves never chain).
  if (auto st = co_await checkpoint_streams(ids, CheckpointMode::acquire); !st.ok()) co_return st;
  for (const auto& g : grants) {
    OwnedStream& st = s_.streams.at(g.stream);
    st.loaded = true;
    st.closed = false;
  }
  spdlog::info("took {} streams: {} partitions, {} commit records replayed in {} ms", grants.size(),
               partitions, replayed,
               std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count());
  co_return Status{};
}

// ---------------------------------------------------------------- release

awaitable<Status> LogLifecycle::release(const std::vector<std::int32_t>& streams) {
  Status st = co_await checkpoint_streams(streams, CheckpointMode::release);
  co_return st;
}

}  // namespace ks::log
