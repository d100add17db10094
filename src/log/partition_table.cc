#include "log/partition_table.h"

#include <fmt/format.h>

#include "common/assert.h"

namespace ks::log {

PartitionState* PartitionTable::find(const PartitionKey& key) {
  auto it = partitions_.find(key);
  return it == partitions_.end() ? nullptr : &it->second;
}

const PartitionState* PartitionTable::find(const PartitionKey& key) const {
  auto it = partitions_.find(key);
  return it == partitions_.end() ? nullptr : &it->second;
}

void PartitionTable::add(const PartitionKey& k, std::int32_t stream, bool fresh) {
  auto [it, inserted] = partitions_.try_emplace(k);
  PartitionState& p = it->second;
  if (inserted) {
    p.key = k;
    p.stream = stream;
  }
  KS_ASSERT(p.stream == stream, "partition {}-{} in stream {} and {}", to_hex(k.topic), k.partition, p.stream,
            stream);
  if (fresh) {
    KS_ASSERT(p.index.empty() && p.hwm == 0, "partition {}-{} created twice (hwm {})", to_hex(k.topic),
              k.partition, p.hwm);
    p.leader_epoch = 0;
    p.epochs.assign(1, EpochStart{0, 0});
  }
}

void PartitionTable::remove_stream(std::int32_t stream) {
  for (auto it = partitions_.begin(); it != partitions_.end();) {
    if (it->second.stream != stream) {
      ++it;
      continue;
    }
    for (const auto& e : it->second.index) unref_object(e.object->key, false);
    producers_.erase(it->first);
    it = partitions_.erase(it);
  }
}

void PartitionTable::remove_topic(const TopicId& topic, std::int32_t partitions) {
  for (std::int32_t i = 0; i < partitions; ++i) {
    PartitionKey k{topic, i};
    auto p = partitions_.find(k);
    if (p != partitions_.end()) {
      for (const auto& e : p->second.index) unref_object(e.object->key);
      partitions_.erase(p);
    }
    producers_.erase(k);
  }
}

void PartitionTable::push_range(PartitionState& p, IndexEntry e) {
  KS_ASSERT(e.object != nullptr, "partition {}-{}: range without object", to_hex(p.key.topic),
            p.key.partition);
  KS_ASSERT(e.last_offset >= e.base_offset && e.base_offset == p.hwm,
            "partition {}-{}: range [{}, {}] of {} does not continue the log at {}", to_hex(p.key.topic),
            p.key.partition, e.base_offset, e.last_offset, e.object->key, p.hwm);
  KS_ASSERT(p.index.empty() || p.index.back().last_offset + 1 == e.base_offset,
            "partition {}-{}: index not contiguous at {}", to_hex(p.key.topic), p.key.partition,
            e.base_offset);
  auto [it, fresh] = object_uses_.try_emplace(e.object->key);
  if (fresh) {
    it->second.size = e.object->size;
    it->second.streams = e.object->streams;
    dead_objects_.erase(e.object->key);  // referenced again (recovery order)
  }
  ++it->second.ranges;
  p.hwm = e.last_offset + 1;
  if (p.leo < p.hwm) p.leo = p.hwm;
  p.index.push_back(std::move(e));
}

Status PartitionTable::restore(PartitionState& p, PartitionSnapshot&& s) {
  auto bad = [&](const char* what) {
    return Status(Errc::corrupt,
                  fmt::format("checkpoint: partition {}-{}: {}", to_hex(s.key.topic), s.key.partition, what));
  };
  if (s.log_start < 0 || s.log_start > s.hwm) return bad("log start beyond the high watermark");
  for (std::size_t i = 0; i < s.index.size(); ++i) {
    const IndexEntry& e = s.index[i];
    if (e.object == nullptr || e.last_offset < e.base_offset) return bad("malformed range");
    if (i > 0 && s.index[i - 1].last_offset + 1 != e.base_offset) return bad("ranges not contiguous");
  }
  if (!s.index.empty() &&
      (s.index.back().last_offset + 1 != s.hwm || s.index.front().last_offset < s.log_start)) {
    return bad("ranges do not match log start and high watermark");
  }
  for (const auto& e : p.index) unref_object(e.object->key);
  p.index.clear();
  p.hwm = p.leo = s.index.empty() ? s.hwm : s.index.front().base_offset;
  for (auto& e : s.index) push_range(p, std::move(e));
  p.log_start = s.log_start;
  p.leader_epoch = s.leader_epoch;
  p.epochs = std::move(s.epochs);
  check(p);
  return Status{};
}

bool PartitionTable::advance_log_start(PartitionState& p, std::int64_t offset) {
  KS_ASSERT(offset <= p.hwm, "partition {}-{}: log start {} past the high watermark {}", to_hex(p.key.topic),
            p.key.partition, offset, p.hwm);
  if (offset <= p.log_start) return false;
  p.log_start = offset;
  // Drops the ranges wholly below the log start.
  while (!p.index.empty() && p.index.front().last_offset < p.log_start) {
    std::string key = p.index.front().object->key;
    p.index.pop_front();
    unref_object(key);
  }
  // Leader epochs that ended before the log start are no longer answerable.
  while (p.epochs.size() >= 2 && p.epochs[1].start_offset <= p.log_start) p.epochs.erase(p.epochs.begin());
  return true;
}

ProducerStates* PartitionTable::producers(const PartitionKey& key) {
  auto it = producers_.find(key);
  return it == producers_.end() ? nullptr : &it->second;
}

const ProducerStates* PartitionTable::producers(const PartitionKey& key) const {
  auto it = producers_.find(key);
  return it == producers_.end() ? nullptr : &it->second;
}

bool PartitionTable::object_known(const std::string& key) const {
  return object_uses_.count(key) > 0 || dead_objects_.count(key) > 0;
}

void PartitionTable::note_unreferenced(const ObjectRef& o) {
  if (object_uses_.count(o.key) == 0) dead_objects_[o.key] = o;
}

std::vector<ObjectRef> PartitionTable::take_dead_objects(std::uint64_t owned) {
  std::vector<ObjectRef> out;
  for (auto& [k, o] : dead_objects_) {
    if ((o.streams & ~owned) == 0) out.push_back(std::move(o));
  }
  dead_objects_.clear();
  return out;
}

void PartitionTable::unref_object(const std::string& key, bool may_die) {
  auto it = object_uses_.find(key);
  KS_ASSERT(it != object_uses_.end() && it->second.ranges > 0, "object {}: a range was dropped twice", key);
  if (--it->second.ranges == 0) {
    if (may_die) dead_objects_[key] = ObjectRef{key, it->second.size, it->second.streams};
    object_uses_.erase(it);
  }
}

void PartitionTable::check(const PartitionState& p) {
  KS_ASSERT(p.log_start <= p.hwm && p.hwm <= p.leo, "partition {}-{}: log start {}, hwm {}, log end {}",
            to_hex(p.key.topic), p.key.partition, p.log_start, p.hwm, p.leo);
  KS_ASSERT(p.index.empty() || p.index.back().last_offset + 1 == p.hwm,
            "partition {}-{}: index ends at {} but hwm is {}", to_hex(p.key.topic), p.key.partition,
            p.index.back().last_offset, p.hwm);
}

}  // namespace ks::log
