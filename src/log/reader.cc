#include "log/reader.h"

#include <fmt/format.h>

#include <algorithm>

#include "protocol/record_batch.h"

namespace ks::log {

using protocol::first_offset_with_timestamp;
using protocol::max_timestamp_record;

// (Plain functions: keep braced temporaries out of coroutine bodies.)
std::optional<objstore::ByteRange> LogReader::fetch_range(const ObjectFetch& f, std::uint64_t object_size) {
  if (f.start == 0 && f.length == object_size) return std::nullopt;  // the whole object
  return objstore::ByteRange{f.start, f.length};
}

Slice LogReader::fetched_slice(const ObjectFetch& f, std::uint64_t pos, std::uint64_t len) {
  return Slice{f.bytes, std::string_view(*f.bytes).substr(pos - f.start, len)};
}

std::shared_ptr<LogReader::ObjectFetch> LogReader::find_fetch(const std::string& key, std::uint64_t pos,
                                                              std::uint64_t len) const {
  auto it = fetches_.find(key);
  if (it == fetches_.end()) return nullptr;
  for (const auto& f : it->second) {
    if (pos >= f->start && len <= f->length && pos - f->start <= f->length - len) return f;
  }
  return nullptr;
}

// Plans the GET for a chunk not in the cache: the whole object when it is
// small enough, else a window starting at the chunk, else the chunk alone.
std::shared_ptr<LogReader::ObjectFetch> LogReader::start_fetch(const IndexEntry& e) {
  auto f = std::make_shared<ObjectFetch>();
  f->start = e.position;
  f->length = e.length;
  const std::uint64_t limit = std::min<std::uint64_t>(s_.opt.read_ahead_bytes, s_.cache.capacity() / 4);
  const std::uint64_t size = e.object->size;
  if (size > 0 && e.position + e.length <= size && e.length < limit) {
    if (size <= limit) {
      f->start = 0;
      f->length = size;
    } else {
      f->length = std::min<std::uint64_t>(limit, size - e.position);
    }
  }
  fetches_[e.object->key].push_back(f);
  return f;
}

void LogReader::finish_fetch(const std::string& key, const std::shared_ptr<ObjectFetch>& f,
                             Result<std::string> r) {
  auto it = fetches_.find(key);
  if (it != fetches_.end()) {
    auto& v = it->second;
    v.erase(std::remove(v.begin(), v.end(), f), v.end());
    if (v.empty()) fetches_.erase(it);
  }
  if (!r.ok()) {
    f->status = r.status();
  } else if (r->size() != f->length) {
    f->status = Status(Errc::corrupt, fmt::format("{}: short read at {} ({} of {} bytes)", key, f->start,
                                                  r->size(), f->length));
  } else {
    f->bytes = std::make_shared<const std::string>(std::move(r).value());
    s_.cache.insert_span(key, f->start, Slice{f->bytes, std::string_view(*f->bytes)});
  }
  f->done.set();
}

awaitable<Result<Slice>> LogReader::chunk_data(const IndexEntry& e) {
  const std::string key = e.object->key;
  const std::uint64_t pos = e.position, len = e.length;
  Slice s = s_.cache.find(key, pos, len);
  if (s.owner) co_return s;
  std::shared_ptr<ObjectFetch> f = find_fetch(key, pos, len);
  if (f) {
    co_await f->done.wait();
  } else {
    f = start_fetch(e);
    auto r = co_await s_.objects.get(key, fetch_range(*f, e.object->size));
    finish_fetch(key, f, std::move(r));
  }
  if (!f->status.ok()) co_return f->status;
  co_return fetched_slice(*f, pos, len);
}

awaitable<Result<LogReader::ReadResult>> LogReader::read(const PartitionKey& key, std::int64_t offset,
                                                         std::size_t max_bytes) {
  ReadResult out;
  // Copy the entries we need: the partition may change while we await GETs.
  std::vector<IndexEntry> entries;
  {
    const PartitionState* p = s_.table.find(key);
    if (p == nullptr) co_return Status(Errc::not_found, "unknown partition");
    auto it = std::lower_bound(p->index.begin(), p->index.end(), offset,
                               [](const IndexEntry& e, std::int64_t o) { return e.last_offset < o; });
    // The first chunk may be used only from the middle (where `offset` is),
    // so it does not count against max_bytes when planning; the batch walk
    // below enforces the limit exactly.
    std::size_t planned = 0;
    for (; it != p->index.end() && (entries.empty() || planned < max_bytes); ++it) {
      if (!entries.empty()) planned += it->length;
      entries.push_back(*it);
    }
  }
  for (const auto& e : entries) {
    auto chunk = co_await chunk_data(e);
    if (!chunk.ok()) {
      if (!out.slices.empty()) break;  // serve what we have
      co_return chunk.status();
    }
    std::string_view d = chunk->data;
    // Walk batch headers: skip batches wholly below `offset`, stop at max_bytes.
    std::size_t pos = 0, start = std::string_view::npos, stop = 0;
    while (pos + protocol::kBatchHeaderSize <= d.size()) {
      auto h = protocol::parse_batch_header(d.substr(pos));
      std::size_t size = h.total_size();
      if (size > d.size() - pos) break;
      if (h.last_offset() >= offset) {
        if (start == std::string_view::npos) start = pos;
        if (out.bytes + (pos + size - start) > max_bytes && (out.bytes > 0 || pos > start)) break;
        stop = pos + size;
      }
      pos += size;
    }
    if (start == std::string_view::npos || stop <= start) break;
    out.slices.push_back(Slice{chunk->owner, d.substr(start, stop - start)});
    out.bytes += stop - start;
    if (stop < d.size() || out.bytes >= max_bytes) break;
  }
  co_return out;
}

awaitable<Result<OffsetAndTimestamp>> LogReader::offset_for_timestamp(const PartitionKey& key,
                                                                      std::int64_t ts) {
  // Only records at or after the log start count (as in Kafka). The range
  // holding the log start may match with older records only; then the next
  // matching range answers.
  std::int64_t from = 0;
  for (;;) {
    std::optional<IndexEntry> candidate;
    {
      const PartitionState* p = s_.table.find(key);
      if (p == nullptr) co_return Status(Errc::not_found, "unknown partition");
      from = std::max(from, p->log_start);
      for (const auto& e : p->index) {
        if (e.last_offset >= from && e.max_timestamp >= ts) {
          candidate = e;
          break;
        }
      }
    }
    if (!candidate) co_return OffsetAndTimestamp{};
    auto chunk = co_await chunk_data(*candidate);
    if (!chunk.ok()) co_return chunk.status();
    auto found = first_offset_with_timestamp(chunk->data, ts, from);
    if (found) co_return *found;
    from = candidate->last_offset + 1;
  }
}

awaitable<Result<OffsetAndTimestamp>> LogReader::max_timestamp(const PartitionKey& key) {
  std::optional<IndexEntry> best;
  {
    const PartitionState* p = s_.table.find(key);
    if (p == nullptr) co_return Status(Errc::not_found, "unknown partition");
    for (const auto& e : p->index) {
      if (e.last_offset >= p->log_start && (!best || e.max_timestamp > best->max_timestamp)) best = e;
    }
  }
  if (!best) co_return OffsetAndTimestamp{};
  auto chunk = co_await chunk_data(*best);
  if (!chunk.ok()) co_return chunk.status();
  auto found = max_timestamp_record(chunk->data);
  co_return found ? *found : OffsetAndTimestamp{};
}

}  // namespace ks::log
