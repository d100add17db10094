#include "log/checkpoint.h"

#include <fmt/format.h>

#include <map>

#include "common/assert.h"
#include "common/binary.h"
#include "common/crc32c.h"

namespace ks::log {
namespace {

constexpr std::string_view kMagic = "KSCP";
constexpr std::string_view kEndMagic = "KSCE";
constexpr std::uint16_t kMinVersion = 1;
constexpr std::uint16_t kMaxVersion = 2;
// Bounds on counts read from a checkpoint, so a corrupt file cannot make us
// allocate without limit (each is far above what a broker holds).
constexpr std::uint32_t kMaxCount = 100'000'000;

}  // namespace

std::string encode_checkpoint(const Checkpoint& c) {
  // Objects are shared by many entries: write each key once, refer by index.
  std::map<const ObjectRef*, std::uint32_t> ids;
  std::vector<const ObjectRef*> objects;
  for (const auto& p : c.partitions) {
    for (const auto& e : p.index) {
      auto [it, inserted] = ids.try_emplace(e.object.get(), static_cast<std::uint32_t>(objects.size()));
      if (inserted) objects.push_back(e.object.get());
    }
  }
  std::string out;
  BinWriter w(out);
  w.bytes(kMagic);
  KS_ASSERT(c.version >= kMinVersion && c.version <= kMaxVersion, "checkpoint version {}", c.version);
  w.put<std::uint16_t>(c.version);
  w.put<std::uint16_t>(0);
  w.put<std::uint64_t>(c.broker_epoch);
  w.put<std::uint64_t>(c.covers_seq);
  w.put<std::uint64_t>(c.created_ms);
  w.put<std::uint32_t>(static_cast<std::uint32_t>(objects.size()));
  for (const auto* o : objects) {
    w.str(o->key);
    w.put<std::uint64_t>(o->size);
    if (c.version >= 2) w.put<std::uint64_t>(o->streams);
  }
  w.put<std::uint32_t>(static_cast<std::uint32_t>(c.partitions.size()));
  for (const auto& p : c.partitions) {
    w.bytes(std::string_view(reinterpret_cast<const char*>(p.key.topic.data()), 16));
    w.put<std::int32_t>(p.key.partition);
    w.put<std::int64_t>(p.log_start);
    w.put<std::int64_t>(p.hwm);
    w.put<std::int32_t>(p.leader_epoch);
    w.put<std::uint32_t>(static_cast<std::uint32_t>(p.epochs.size()));
    for (const auto& e : p.epochs) {
      w.put<std::int32_t>(e.epoch);
      w.put<std::int64_t>(e.start_offset);
    }
    w.put<std::uint32_t>(static_cast<std::uint32_t>(p.index.size()));
    for (const auto& e : p.index) {
      w.put<std::uint32_t>(ids.at(e.object.get()));
      w.put<std::int64_t>(e.base_offset);
      w.put<std::int64_t>(e.last_offset);
      w.put<std::int64_t>(e.max_timestamp);
      w.put<std::uint64_t>(e.position);
      w.put<std::uint32_t>(e.length);
      w.put<std::int32_t>(e.leader_epoch);
      w.put<std::uint32_t>(e.batch_count);
    }
  }
  w.str(c.producer_state);
  w.put<std::uint32_t>(crc32c(out));
  w.bytes(kEndMagic);
  return out;
}

Result<Checkpoint> decode_checkpoint(std::string_view bytes) {
  if (bytes.size() < 8 + 32 || bytes.substr(0, 4) != kMagic || bytes.substr(bytes.size() - 4) != kEndMagic) {
    return Status(Errc::corrupt, "not a KafScale checkpoint");
  }
  std::string_view body = bytes.substr(0, bytes.size() - 8);
  BinReader tail(bytes.substr(bytes.size() - 8, 4));
  if (crc32c(body) != tail.get<std::uint32_t>()) return Status(Errc::corrupt, "checkpoint checksum mismatch");
  BinReader r(body.substr(4));
  Checkpoint c;
  std::uint16_t version = r.get<std::uint16_t>();
  if (version < kMinVersion || version > kMaxVersion)
    return Status(Errc::corrupt, fmt::format("unsupported checkpoint version {}", version));
  c.version = version;
  r.get<std::uint16_t>();
  c.broker_epoch = r.get<std::uint64_t>();
  c.covers_seq = r.get<std::uint64_t>();
  c.created_ms = r.get<std::uint64_t>();
  std::uint32_t nobj = r.get<std::uint32_t>();
  if (nobj > kMaxCount) return Status(Errc::corrupt, "checkpoint: object count too large");
  std::vector<std::shared_ptr<const ObjectRef>> objects;
  objects.reserve(std::min<std::size_t>(nobj, r.remaining() / 12));
  for (std::uint32_t i = 0; i < nobj && r.ok(); ++i) {
    auto o = std::make_shared<ObjectRef>();
    o->key = r.str();
    o->size = r.get<std::uint64_t>();
    if (version >= 2) o->streams = r.get<std::uint64_t>();
    objects.push_back(std::move(o));
  }
  std::uint32_t nparts = r.get<std::uint32_t>();
  if (nparts > kMaxCount) return Status(Errc::corrupt, "checkpoint: partition count too large");
  for (std::uint32_t i = 0; i < nparts && r.ok(); ++i) {
    PartitionSnapshot p;
    auto id = r.bytes(16);
    if (id.size() == 16) std::memcpy(p.key.topic.data(), id.data(), 16);
    p.key.partition = r.get<std::int32_t>();
    p.log_start = r.get<std::int64_t>();
    p.hwm = r.get<std::int64_t>();
    p.leader_epoch = r.get<std::int32_t>();
    std::uint32_t nep = r.get<std::uint32_t>();
    if (nep > r.remaining() / 12) return Status(Errc::corrupt, "checkpoint: epoch count too large");
    for (std::uint32_t k = 0; k < nep; ++k) {
      EpochStart e;
      e.epoch = r.get<std::int32_t>();
      e.start_offset = r.get<std::int64_t>();
      p.epochs.push_back(e);
    }
    std::uint32_t nent = r.get<std::uint32_t>();
    if (nent > r.remaining() / 48)  // 48 = encoded size of one entry
      return Status(Errc::corrupt, "checkpoint: entry count too large");
    p.index.reserve(nent);
    for (std::uint32_t k = 0; k < nent; ++k) {
      IndexEntry e;
      std::uint32_t oi = r.get<std::uint32_t>();
      if (oi >= objects.size()) return Status(Errc::corrupt, "checkpoint: bad object reference");
      e.object = objects[oi];
      e.base_offset = r.get<std::int64_t>();
      e.last_offset = r.get<std::int64_t>();
      e.max_timestamp = r.get<std::int64_t>();
      e.position = r.get<std::uint64_t>();
      e.length = r.get<std::uint32_t>();
      e.leader_epoch = r.get<std::int32_t>();
      e.batch_count = r.get<std::uint32_t>();
      p.index.push_back(std::move(e));
    }
    c.partitions.push_back(std::move(p));
  }
  c.producer_state = r.str();
  if (!r.ok() || r.remaining() != 0)
    return Status(Errc::corrupt, "checkpoint truncated or has trailing bytes");
  return c;
}

}  // namespace ks::log
