#include "log/producer_state.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <limits>

#include "common/binary.h"
#include "common/crc32c.h"

namespace ks::log {
namespace {

constexpr std::string_view kSnapshotMagic = "KSPS";
constexpr std::string_view kDigestMagic = "KSPD";
constexpr std::uint16_t kFormatVersion = 1;
// Encoded sizes, used to bound counts read from untrusted bytes.
constexpr std::size_t kBatchBytes = 4 + 4 + 8 + 8;
constexpr std::size_t kProducerMinBytes = 8 + 2 + 8 + 1;
constexpr std::size_t kDigestRecordBytes = 16 + 4 + 8 + 2 + 4 + 4 + 8 + 8;

bool in_sequence(std::int32_t last_seq, std::int32_t next_seq) {
  return std::int64_t{next_seq} == std::int64_t{last_seq} + 1 ||
         (next_seq == 0 && last_seq == std::numeric_limits<std::int32_t>::max());
}

void put_key(BinWriter& w, const PartitionKey& k) {
  w.bytes(std::string_view(reinterpret_cast<const char*>(k.topic.data()), k.topic.size()));
  w.put<std::int32_t>(k.partition);
}

PartitionKey get_key(BinReader& r) {
  PartitionKey k;
  auto id = r.bytes(16);
  if (id.size() == 16) std::memcpy(k.topic.data(), id.data(), 16);
  k.partition = r.get<std::int32_t>();
  return k;
}

}  // namespace

std::int32_t last_sequence(std::int32_t first_seq, std::int32_t last_offset_delta) {
  std::int64_t v = std::int64_t{first_seq} + last_offset_delta;
  constexpr std::int64_t kMax = std::numeric_limits<std::int32_t>::max();
  if (v > kMax) v -= kMax + 1;
  return static_cast<std::int32_t>(v);
}

bool ProducerStates::expired(const ProducerEntry& e, std::int64_t now_ms, std::int64_t expiration_ms) const {
  if (expiration_ms < 0) return false;
  for (const auto& b : e.batches) {
    if (b.pending_flush != 0) return false;
  }
  return now_ms - e.last_update_ms > expiration_ms;
}

const ProducerEntry* ProducerStates::find(std::int64_t pid) const {
  auto it = producers_.find(pid);
  return it == producers_.end() ? nullptr : &it->second;
}

SeqCheck ProducerStates::check(std::int64_t pid, std::int16_t epoch, std::int32_t first_seq,
                               std::int32_t last_seq, std::int64_t now_ms, std::int64_t expiration_ms) const {
  SeqCheck out;
  auto it = producers_.find(pid);
  // Unknown or expired: accepted at any sequence (Kafka >= 2.5, KIP-360).
  if (it == producers_.end() || expired(it->second, now_ms, expiration_ms)) return out;
  const ProducerEntry& e = it->second;
  if (epoch < e.epoch) {
    out.verdict = SeqVerdict::kStaleEpoch;
    out.message = fmt::format("producer {} epoch {} is older than the current epoch {}", pid, epoch, e.epoch);
    return out;
  }
  if (epoch > e.epoch) {
    if (first_seq != 0) {
      out.verdict = SeqVerdict::kOutOfOrder;
      out.message =
          fmt::format("producer {}: a new epoch {} must start at sequence 0, not {}", pid, epoch, first_seq);
    }
    return out;
  }
  for (const auto& b : e.batches) {
    if (b.first_seq == first_seq && b.last_seq == last_seq) {
      out.verdict = SeqVerdict::kDuplicate;
      out.duplicate = b;
      return out;
    }
  }
  if (e.batches.empty() || in_sequence(e.batches.back().last_seq, first_seq)) return out;
  out.verdict = SeqVerdict::kOutOfOrder;
  out.message = fmt::format("producer {} epoch {}: sequence {} does not follow {}", pid, epoch, first_seq,
                            e.batches.back().last_seq);
  return out;
}

void ProducerStates::evict_one() {
  auto victim = producers_.end();
  for (auto it = producers_.begin(); it != producers_.end(); ++it) {
    bool pending = false;
    for (const auto& b : it->second.batches) pending = pending || b.pending_flush != 0;
    if (pending) continue;
    if (victim == producers_.end() || it->second.last_update_ms < victim->second.last_update_ms) victim = it;
  }
  if (victim != producers_.end()) producers_.erase(victim);
}

void ProducerStates::record(std::int64_t pid, std::int16_t epoch, const ProducerBatch& batch,
                            std::int64_t now_ms, std::int64_t expiration_ms, std::size_t max_producers) {
  auto it = producers_.find(pid);
  if (it == producers_.end()) {
    // Bounded: the least recently used producer goes first (it then counts as
    // unknown, which is accepted at any sequence).
    if (max_producers > 0 && producers_.size() >= max_producers) evict_one();
    it = producers_.try_emplace(pid).first;
  }
  ProducerEntry& e = it->second;
  if (e.epoch != epoch || expired(e, now_ms, expiration_ms)) {
    for (const auto& b : e.batches) pending_ -= b.pending_flush != 0 ? 1 : 0;
    e.batches.clear();
    e.epoch = epoch;
  }
  e.batches.push_back(batch);
  if (batch.pending_flush != 0) ++pending_;
  while (e.batches.size() > kProducerBatchesKept) {
    if (e.batches.front().pending_flush != 0) --pending_;
    e.batches.pop_front();
  }
  e.last_update_ms = std::max(e.last_update_ms, now_ms);
}

void ProducerStates::commit(std::int64_t pid, std::uint64_t flush_id) {
  auto it = producers_.find(pid);
  if (it == producers_.end()) return;
  for (auto& b : it->second.batches) {
    if (b.pending_flush == flush_id) {
      b.pending_flush = 0;
      --pending_;
    }
  }
}

void ProducerStates::rollback() {
  if (pending_ == 0) return;
  for (auto it = producers_.begin(); it != producers_.end();) {
    auto& bs = it->second.batches;
    std::erase_if(bs, [](const ProducerBatch& b) { return b.pending_flush != 0; });
    it = bs.empty() ? producers_.erase(it) : std::next(it);
  }
  pending_ = 0;
}

std::size_t ProducerStates::expire(std::int64_t now_ms, std::int64_t expiration_ms) {
  return std::erase_if(producers_, [&](const auto& kv) { return expired(kv.second, now_ms, expiration_ms); });
}

void ProducerStates::encode(std::string& out) const {
  // In ascending producer id, so equal state always encodes to equal bytes
  // (the map's iteration order depends on its history).
  std::vector<std::pair<std::int64_t, const ProducerEntry*>> committed;
  for (const auto& [pid, e] : producers_) {
    for (const auto& b : e.batches) {
      if (b.pending_flush == 0) {
        committed.emplace_back(pid, &e);
        break;
      }
    }
  }
  std::sort(committed.begin(), committed.end());
  BinWriter w(out);
  w.put<std::uint32_t>(static_cast<std::uint32_t>(committed.size()));
  for (const auto& [pid, e] : committed) {
    std::uint8_t n = 0;
    for (const auto& b : e->batches) n += b.pending_flush == 0 ? 1 : 0;
    w.put<std::int64_t>(pid);
    w.put<std::int16_t>(e->epoch);
    w.put<std::int64_t>(e->last_update_ms);
    w.put<std::uint8_t>(n);
    for (const auto& b : e->batches) {
      if (b.pending_flush != 0) continue;
      w.put<std::int32_t>(b.first_seq);
      w.put<std::int32_t>(b.last_seq);
      w.put<std::int64_t>(b.first_offset);
      w.put<std::int64_t>(b.last_offset);
    }
  }
}

bool ProducerStates::decode(std::string_view& in) {
  BinReader r(in);
  std::uint32_t n = r.get<std::uint32_t>();
  if (!r.ok() || n > r.remaining() / kProducerMinBytes) return false;
  for (std::uint32_t i = 0; i < n; ++i) {
    std::int64_t pid = r.get<std::int64_t>();
    ProducerEntry e;
    e.epoch = r.get<std::int16_t>();
    e.last_update_ms = r.get<std::int64_t>();
    std::uint8_t nb = r.get<std::uint8_t>();
    if (!r.ok() || nb > kProducerBatchesKept || nb > r.remaining() / kBatchBytes) return false;
    for (std::uint8_t k = 0; k < nb; ++k) {
      ProducerBatch b;
      b.first_seq = r.get<std::int32_t>();
      b.last_seq = r.get<std::int32_t>();
      b.first_offset = r.get<std::int64_t>();
      b.last_offset = r.get<std::int64_t>();
      e.batches.push_back(b);
    }
    if (!r.ok()) return false;
    if (!e.batches.empty()) producers_[pid] = std::move(e);
  }
  in.remove_prefix(in.size() - r.remaining());
  return true;
}

std::string encode_producer_snapshot(
    const std::vector<std::pair<PartitionKey, const ProducerStates*>>& parts) {
  std::string out;
  BinWriter w(out);
  w.bytes(kSnapshotMagic);
  w.put<std::uint16_t>(kFormatVersion);
  w.put<std::uint32_t>(static_cast<std::uint32_t>(parts.size()));
  for (const auto& [k, s] : parts) {
    put_key(w, k);
    s->encode(out);
  }
  w.put<std::uint32_t>(crc32c(out));
  return out;
}

Result<std::vector<std::pair<PartitionKey, ProducerStates>>> decode_producer_snapshot(std::string_view blob) {
  std::vector<std::pair<PartitionKey, ProducerStates>> out;
  if (blob.empty()) return out;
  if (blob.size() < 14 || blob.substr(0, 4) != kSnapshotMagic)
    return Status(Errc::corrupt, "producer state: bad magic");
  std::string_view body = blob.substr(0, blob.size() - 4);
  BinReader tail(blob.substr(blob.size() - 4));
  if (crc32c(body) != tail.get<std::uint32_t>())
    return Status(Errc::corrupt, "producer state: checksum mismatch");
  BinReader r(body.substr(4));
  std::uint16_t version = r.get<std::uint16_t>();
  if (version != kFormatVersion)
    return Status(Errc::corrupt, fmt::format("producer state: version {}", version));
  std::uint32_t n = r.get<std::uint32_t>();
  if (n > r.remaining() / 24) return Status(Errc::corrupt, "producer state: partition count too large");
  std::string_view rest = body.substr(4 + 2 + 4);
  for (std::uint32_t i = 0; i < n; ++i) {
    BinReader kr(rest);
    PartitionKey k = get_key(kr);
    if (!kr.ok()) return Status(Errc::corrupt, "producer state truncated");
    rest.remove_prefix(20);
    ProducerStates s;
    if (!s.decode(rest)) return Status(Errc::corrupt, "producer state: bad producer list");
    out.emplace_back(k, std::move(s));
  }
  if (!rest.empty()) return Status(Errc::corrupt, "producer state has trailing bytes");
  return out;
}

std::string encode_producer_digest(const ProducerDigest& d) {
  std::string out;
  BinWriter w(out);
  w.bytes(kDigestMagic);
  w.put<std::uint16_t>(kFormatVersion);
  w.put<std::int64_t>(d.created_ms);
  w.put<std::uint32_t>(static_cast<std::uint32_t>(d.records.size()));
  for (const auto& r : d.records) {
    put_key(w, r.key);
    w.put<std::int64_t>(r.pid);
    w.put<std::int16_t>(r.epoch);
    w.put<std::int32_t>(r.first_seq);
    w.put<std::int32_t>(r.last_seq);
    w.put<std::int64_t>(r.first_offset);
    w.put<std::int64_t>(r.last_offset);
  }
  w.put<std::uint32_t>(crc32c(out));
  return out;
}

Result<ProducerDigest> decode_producer_digest(std::string_view bytes) {
  if (bytes.size() < 22 || bytes.substr(0, 4) != kDigestMagic)
    return Status(Errc::corrupt, "producer digest: bad magic");
  std::string_view body = bytes.substr(0, bytes.size() - 4);
  BinReader tail(bytes.substr(bytes.size() - 4));
  if (crc32c(body) != tail.get<std::uint32_t>())
    return Status(Errc::corrupt, "producer digest: checksum mismatch");
  BinReader r(body.substr(4));
  if (r.get<std::uint16_t>() != kFormatVersion)
    return Status(Errc::corrupt, "producer digest: unknown version");
  ProducerDigest d;
  d.created_ms = r.get<std::int64_t>();
  std::uint32_t n = r.get<std::uint32_t>();
  if (!r.ok() || n != r.remaining() / kDigestRecordBytes || r.remaining() % kDigestRecordBytes != 0) {
    return Status(Errc::corrupt, "producer digest: bad record count");
  }
  d.records.reserve(n);
  for (std::uint32_t i = 0; i < n; ++i) {
    DigestRecord rec;
    rec.key = get_key(r);
    rec.pid = r.get<std::int64_t>();
    rec.epoch = r.get<std::int16_t>();
    rec.first_seq = r.get<std::int32_t>();
    rec.last_seq = r.get<std::int32_t>();
    rec.first_offset = r.get<std::int64_t>();
    rec.last_offset = r.get<std::int64_t>();
    d.records.push_back(rec);
  }
  if (!r.ok()) return Status(Errc::corrupt, "producer digest truncated");
  return d;
}

}  // namespace ks::log
