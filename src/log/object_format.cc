#include "log/object_format.h"

#include <fmt/format.h>
#include <sys/mman.h>

#include <cassert>
#include <cstring>

#include "common/binary.h"
#include "common/crc32c.h"

namespace ks::log {
namespace {

constexpr char kHeaderMagic[4] = {'K', 'S', 'O', 'B'};
constexpr char kTrailerMagic[4] = {'K', 'S', 'O', 'F'};

void put_entry(BinWriter& w, const ObjectEntry& e) {
  w.bytes(std::string_view(reinterpret_cast<const char*>(e.topic.data()), e.topic.size()));
  w.put<std::int32_t>(e.partition);
  w.put<std::int64_t>(e.base_offset);
  w.put<std::int64_t>(e.last_offset);
  w.put<std::int64_t>(e.max_timestamp);
  w.put<std::int32_t>(e.leader_epoch);
  w.put<std::uint32_t>(e.batch_count);
  w.put<std::uint64_t>(e.position);
  w.put<std::uint32_t>(e.length);
}

ObjectEntry get_entry(BinReader& r) {
  ObjectEntry e;
  auto id = r.bytes(16);
  if (id.size() == 16) std::memcpy(e.topic.data(), id.data(), 16);
  e.partition = r.get<std::int32_t>();
  e.base_offset = r.get<std::int64_t>();
  e.last_offset = r.get<std::int64_t>();
  e.max_timestamp = r.get<std::int64_t>();
  e.leader_epoch = r.get<std::int32_t>();
  e.batch_count = r.get<std::uint32_t>();
  e.position = r.get<std::uint64_t>();
  e.length = r.get<std::uint32_t>();
  return e;
}

}  // namespace

namespace {

// Faults in the pages of a fresh buffer with one call: filling a new
// multi-MiB object page by page took a page-fault exception per 4 KiB, which
// cost several times the copy itself (on VMs especially). Advice only: the
// contents are untouched, and failure (old kernels) changes nothing.
void prefault(std::string& s) {
  constexpr std::uintptr_t kPage = 4096;
  if (s.capacity() < 64 * kPage) return;
  auto begin = (reinterpret_cast<std::uintptr_t>(s.data()) + kPage - 1) & ~(kPage - 1);
  auto end = (reinterpret_cast<std::uintptr_t>(s.data()) + s.capacity()) & ~(kPage - 1);
  if (end > begin) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_POPULATE_WRITE);
}

}  // namespace

std::size_t object_size(const std::vector<ChunkRef>& chunks) {
  std::size_t data_bytes = 0;
  for (const auto& c : chunks) data_bytes += c.data.size();
  return kObjectHeaderSize + data_bytes + 4 + chunks.size() * kObjectEntrySize + kObjectTrailerSize;
}

BuiltObject build_object_into(const ObjectHeader& header, const std::vector<ChunkRef>& chunks, char* out,
                              std::size_t size) {
  assert(size == object_size(chunks));
  BuiltObject built;
  std::string head;
  BinWriter hw(head);
  hw.bytes(std::string_view(kHeaderMagic, 4));
  hw.put<std::uint16_t>(header.version);
  hw.put<std::uint16_t>(0);  // flags
  hw.put<std::uint64_t>(header.broker_epoch);
  hw.put<std::uint64_t>(header.flush_seq);
  hw.put<std::uint64_t>(header.created_ms);
  assert(head.size() == kObjectHeaderSize);
  std::memcpy(out, head.data(), head.size());
  std::size_t pos = head.size();
  built.entries.reserve(chunks.size());
  for (const auto& c : chunks) {
    ObjectEntry e = c.entry;
    e.position = pos;
    e.length = static_cast<std::uint32_t>(c.data.size());
    if (!c.data.empty()) std::memcpy(out + pos, c.data.data(), c.data.size());
    pos += c.data.size();
    built.entries.push_back(e);
  }
  std::string tail;
  tail.reserve(4 + built.entries.size() * kObjectEntrySize + kObjectTrailerSize);
  BinWriter w(tail);
  built.footer.position = pos;
  w.put<std::uint32_t>(static_cast<std::uint32_t>(built.entries.size()));
  for (const auto& e : built.entries) put_entry(w, e);
  built.footer.length = static_cast<std::uint32_t>(tail.size());
  std::uint32_t crc = crc32c(std::string_view(tail));
  w.put<std::uint64_t>(built.footer.position);
  w.put<std::uint32_t>(built.footer.length);
  w.put<std::uint32_t>(crc);
  w.put<std::uint32_t>(0);
  w.bytes(std::string_view(kTrailerMagic, 4));
  assert(pos + tail.size() == size);
  std::memcpy(out + pos, tail.data(), tail.size());
  return built;
}

BuiltObject build_object(const ObjectHeader& header, const std::vector<ChunkRef>& chunks) {
  std::string bytes;
  const std::size_t size = object_size(chunks);
  bytes.reserve(size);
  prefault(bytes);
  bytes.resize(size);
  BuiltObject out = build_object_into(header, chunks, bytes.data(), size);
  out.bytes = std::move(bytes);
  return out;
}

Result<std::vector<ObjectEntry>> decode_footer(std::string_view footer, std::uint32_t expected_crc) {
  if (crc32c(footer) != expected_crc) return Status(Errc::corrupt, "object footer checksum mismatch");
  BinReader r(footer);
  std::uint32_t n = r.get<std::uint32_t>();
  if (!r.ok() || n > kMaxObjectEntries || r.remaining() != std::size_t{n} * kObjectEntrySize) {
    return Status(Errc::corrupt, fmt::format("object footer: bad entry count {}", n));
  }
  std::vector<ObjectEntry> entries;
  entries.reserve(n);
  for (std::uint32_t i = 0; i < n; ++i) entries.push_back(get_entry(r));
  if (!r.ok()) return Status(Errc::corrupt, "object footer truncated");
  return entries;
}

Result<ParsedObject> parse_trailer(std::string_view t) {
  if (t.size() != kObjectTrailerSize || t.substr(20) != std::string_view(kTrailerMagic, 4)) {
    return Status(Errc::corrupt, "not a KafScale object (bad trailer)");
  }
  BinReader r(t);
  ParsedObject p;
  p.footer.position = r.get<std::uint64_t>();
  p.footer.length = r.get<std::uint32_t>();
  p.footer_crc = r.get<std::uint32_t>();
  return p;
}

Result<ParsedObject> parse_object(std::string_view bytes) {
  if (bytes.size() < kObjectHeaderSize + kObjectTrailerSize ||
      bytes.substr(0, 4) != std::string_view(kHeaderMagic, 4)) {
    return Status(Errc::corrupt, "not a KafScale object (bad header)");
  }
  auto p = parse_trailer(bytes.substr(bytes.size() - kObjectTrailerSize));
  if (!p.ok()) return p;
  BinReader r(bytes.substr(4));
  p->header.version = r.get<std::uint16_t>();
  r.get<std::uint16_t>();
  p->header.broker_epoch = r.get<std::uint64_t>();
  p->header.flush_seq = r.get<std::uint64_t>();
  p->header.created_ms = r.get<std::uint64_t>();
  if (p->header.version != kObjectFormatVersion) {
    return Status(Errc::corrupt, fmt::format("unsupported object format version {}", p->header.version));
  }
  // Bounds compared without sums: the trailer has no checksum and a footer's
  // CRC only shows it is undamaged, not sane; a sum that wraps would pass
  // (and substr would then throw).
  const auto& f = p->footer;
  const std::size_t footer_end = bytes.size() - kObjectTrailerSize;
  if (f.position < kObjectHeaderSize || f.position > footer_end || f.length != footer_end - f.position) {
    return Status(Errc::corrupt, "object footer location out of bounds");
  }
  auto entries = decode_footer(bytes.substr(f.position, f.length), p->footer_crc);
  if (!entries.ok()) return entries.status();
  for (const auto& e : *entries) {
    if (e.position < kObjectHeaderSize || e.position > f.position || e.length > f.position - e.position) {
      return Status(Errc::corrupt, "object entry out of bounds");
    }
  }
  p->entries = std::move(entries).value();
  return p;
}

}  // namespace ks::log
