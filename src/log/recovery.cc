// LogLifecycle::recover(): the checkpoint, then every commit record after it
// in sequence order (one ranged GET of each object's footer, and of its
// producer digest when it has one). Everything read here comes from the
// stores: checked and reported as corrupt, never asserted on.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "log/checkpoint.h"
#include "log/lifecycle.h"
#include "log/records.h"

namespace ks::log {
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

std::shared_ptr<const ObjectRef> make_object_ref(const std::string& key, std::uint64_t size) {
  auto o = std::make_shared<ObjectRef>();
  o->key = key;
  o->size = size;
  return o;
}

// Commit records after the checkpoint, a page at a time.
metastore::RangeRequest commits_page(const std::string& from, const std::string& end) {
  metastore::RangeRequest rq;
  rq.key = from;
  rq.range_end = end;
  rq.limit = 500;
  return rq;
}

}  // namespace

Status LogLifecycle::apply_entries(const std::shared_ptr<const ObjectRef>& obj,
                                   const std::vector<ObjectEntry>& entries) {
  for (const auto& e : entries) {
    PartitionState* p = s_.table.find(PartitionKey{e.topic, e.partition});
    if (p == nullptr) continue;  // topic deleted since
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

void LogLifecycle::apply_digest(const ProducerDigest& d) {
  for (const auto& r : d.records) {
    if (s_.table.find(r.key) == nullptr) continue;  // topic deleted since
    ProducerBatch b{r.first_seq, r.last_seq, r.first_offset, r.last_offset, 0};
    s_.table.producers_for(r.key).record(r.pid, r.epoch, b, d.created_ms, -1,
                                         s_.opt.max_producers_per_partition);
  }
}

awaitable<Status> LogLifecycle::load_checkpoint() {
  auto cp = co_await s_.meta.get(keys::checkpoint(s_.node()));
  if (!cp.ok()) co_return Status(cp.code(), "reading checkpoint pointer: " + cp.status().message());
  if (cp->kvs.empty()) co_return Status{};
  auto ptr = decode_checkpoint_pointer(cp->kvs[0].value);
  if (!ptr.ok()) co_return ptr.status();
  auto bytes = co_await s_.objects.get(ptr->object, std::nullopt);
  if (!bytes.ok())
    co_return Status(bytes.code(), "reading checkpoint " + ptr->object + ": " + bytes.status().message());
  auto c = decode_checkpoint(*bytes);
  if (!c.ok()) co_return Status(Errc::corrupt, ptr->object + ": " + c.status().message());
  for (auto& snap : c->partitions) {
    PartitionState* p = s_.table.find(snap.key);
    if (p == nullptr) continue;  // topic deleted
    if (auto st = s_.table.restore(*p, std::move(snap)); !st.ok())
      co_return Status(st.code(), ptr->object + ": " + st.message());
  }
  auto producers = decode_producer_snapshot(c->producer_state);
  if (!producers.ok()) co_return Status(Errc::corrupt, ptr->object + ": " + producers.status().message());
  for (auto& [k, ps] : *producers) {
    if (s_.table.find(k) != nullptr) s_.table.producers_for(k) = std::move(ps);
  }
  s_.position.checkpoint_covers = ptr->covers_seq;
  s_.position.last_committed = ptr->covers_seq;
  checkpoint_object_ = ptr->object;
  co_return Status{};
}

awaitable<Status> LogLifecycle::replay_commits(std::size_t& replayed) {
  std::string from = keys::commit(s_.node(), s_.position.checkpoint_covers + 1);
  const std::string end = metastore::prefix_end(keys::commits_prefix(s_.node()));
  for (;;) {
    auto r = co_await s_.meta.range(commits_page(from, end));
    if (!r.ok()) co_return Status(r.code(), "reading commit records: " + r.status().message());
    for (const auto& kv : r->kvs) {
      auto c = decode_commit(kv.value);
      if (!c.ok()) co_return Status(Errc::corrupt, kv.key + ": " + c.status().message());
      if (c->seq <= s_.position.last_committed) {
        co_return Status(Errc::corrupt,
                         fmt::format("{}: sequence {} after {}", kv.key, c->seq, s_.position.last_committed));
      }
      auto footer = co_await s_.objects.get(c->object, footer_range(*c));
      if (!footer.ok()) {
        co_return Status(footer.code(), "reading footer of committed object " + c->object + ": " +
                                            footer.status().message());
      }
      auto entries = decode_footer(*footer, c->footer_crc);
      if (!entries.ok()) co_return Status(Errc::corrupt, c->object + ": " + entries.status().message());
      auto obj = make_object_ref(c->object, c->object_size);
      if (auto st = apply_entries(obj, *entries); !st.ok()) co_return st;
      // Still referenced by its commit record until the next checkpoint.
      s_.table.note_unreferenced(c->object, c->object_size);
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
        apply_digest(*digest);
      }
      s_.position.last_committed = c->seq;
      ++replayed;
    }
    if (!r->more || r->kvs.empty()) break;
    from = r->kvs.back().key + '\0';
  }
  co_return Status{};
}

awaitable<Status> LogLifecycle::recover() {
  if (auto st = co_await load_checkpoint(); !st.ok()) co_return st;
  std::size_t replayed = 0;
  if (auto st = co_await replay_commits(replayed); !st.ok()) co_return st;
  s_.position.since_checkpoint = replayed;
  s_.position.next_seq = s_.position.last_committed + 1;
  // A new leadership term for every partition.
  for (auto& [k, p] : s_.table.partitions()) {
    ++p.leader_epoch;
    p.epochs.push_back(EpochStart{p.leader_epoch, p.hwm});
    PartitionTable::check(p);
  }
  spdlog::info("recovered {} partitions of {} topics (checkpoint covers seq {}, {} commit records replayed)",
               s_.table.size(), s_.cluster.topic_count(), s_.position.checkpoint_covers, replayed);
  co_return Status{};
}

}  // namespace ks::log
