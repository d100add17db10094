// kafscale-nullbroker: the reference the benchmark divides our broker's CPU by.
//
// A minimal Kafka responder that does the least any broker must do with the same client traffic: read each
// request off the socket, decode it with our codec, and answer at once. As a null SINK it acknowledges every
// Produce without keeping a byte. As a null SOURCE it answers every Fetch from one in-memory buffer of valid
// record batches (only each batch's base offset is rewritten, outside the CRC). It also answers ApiVersions,
// Metadata (any topic exists; a name ending in "-p<N>" has N partitions) and InitProducerId.
//
// One blocking thread per connection: the cheapest way to move bytes, which is what a reference should be.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "protocol/generated/api_versions.h"
#include "protocol/generated/fetch.h"
#include "protocol/generated/metadata.h"
#include "protocol/generated/produce.h"
#include "protocol/header.h"
#include "protocol/record_batch.h"

namespace {

using namespace ks::protocol;  // NOLINT

constexpr int32_t kMaxFrameBytes = 100 << 20;  // same as the broker's default --max-request-bytes
constexpr int kMaxConnections = 64;            // a benchmark opens a handful
constexpr int16_t kInitProducerIdKey = 22;
constexpr int32_t kMaxPartitions = 100000;

struct Config {
  std::string host = "127.0.0.1";
  int port = 0;
  int32_t default_partitions = 1;
  size_t source_message_bytes = 1024;
  int source_batch_records = 16;
  size_t source_buffer_bytes = 8 << 20;
};

Config g_cfg;
std::atomic<int> g_connections{0};
std::atomic<int64_t> g_next_producer_id{1000};

// Partition count of a topic: from a "-p<N>" name suffix, else the default.
int32_t partitions_of(const std::string& topic) {
  auto at = topic.rfind("-p");
  if (at != std::string::npos && at + 2 < topic.size()) {
    int32_t n = 0;
    for (size_t i = at + 2; i < topic.size(); ++i) {
      if (topic[i] < '0' || topic[i] > '9' || n > kMaxPartitions) return g_cfg.default_partitions;
      n = n * 10 + (topic[i] - '0');
    }
    if (n >= 1 && n <= kMaxPartitions) return n;
  }
  return g_cfg.default_partitions;
}

Uuid topic_id_of(const std::string& topic) {
  Uuid id;
  uint64_t h = std::hash<std::string>{}(topic);
  std::memcpy(id.bytes.data(), &h, sizeof(h));
  id.bytes[8] = 1;  // never the zero uuid
  return id;
}

bool read_full(int fd, char* p, size_t n) {
  while (n > 0) {
    ssize_t r = ::read(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

// Writes every segment, in IOV_MAX-sized groups, resuming after partial writes.
bool write_segments(int fd, std::vector<std::string_view> segs) {
  size_t i = 0;
  while (i < segs.size()) {
    iovec iov[512];
    int n = 0;
    for (size_t j = i; j < segs.size() && n < 512; ++j) {
      if (segs[j].empty()) continue;
      iov[n++] = iovec{const_cast<char*>(segs[j].data()), segs[j].size()};
    }
    if (n == 0) return true;
    ssize_t w = ::writev(fd, iov, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    auto left = static_cast<size_t>(w);
    while (i < segs.size() && left >= segs[i].size()) left -= segs[i++].size();
    if (left > 0) segs[i].remove_prefix(left);
  }
  return true;
}

// The null source's buffer: valid uncompressed batches whose base offsets get stamped per response.
struct SourceBuffer {
  std::string data;
  std::vector<size_t> starts;  // batch positions
  std::vector<size_t> sizes;
  int records_per_batch = 0;

  SourceBuffer() {
    records_per_batch = std::max(1, g_cfg.source_batch_records);
    std::vector<TestRecord> recs(records_per_batch);
    for (int i = 0; i < records_per_batch; ++i) {
      // Value header (send time 0 = "no timestamp", sequence) then filler, like the load generator's.
      std::string v(std::max<size_t>(g_cfg.source_message_bytes, 16), 'x');
      std::memset(v.data(), 0, 16);
      recs[i].value = std::move(v);
      recs[i].timestamp_delta = i;
    }
    std::string batch = build_batch(recs, 0, 1700000000000);
    size_t n = std::max<size_t>(1, g_cfg.source_buffer_bytes / batch.size());
    for (size_t i = 0; i < n; ++i) {
      starts.push_back(data.size());
      sizes.push_back(batch.size());
      data += batch;
    }
  }
};

struct Connection {
  int fd;
  std::string frame;
  std::unique_ptr<SourceBuffer> source;  // built on the first Fetch
  size_t cursor = 0;
};

void finish(Writer& w, size_t at) { w.patch_i32(at, static_cast<int32_t>(w.size() - 4)); }

template <class Resp>
bool send(Connection& c, const Resp& resp, int32_t correlation_id, int16_t version) {
  Writer w(/*reference_records=*/true);
  size_t at = w.reserve_i32();
  encode_response_header(w, correlation_id, Resp::kApiKey, version);
  resp.encode(w, version);
  finish(w, at);
  return write_segments(c.fd, w.segments());
}

bool on_api_versions(Connection& c, const RequestHeader& h) {
  ApiVersionsResponse resp;
  int16_t version = h.api_version;
  if (version < 0 || version > 3) {
    resp.error_code = static_cast<int16_t>(ErrorCode::kUnsupportedVersion);
    version = 0;
  }
  resp.api_keys = {{ApiVersionsRequest::kApiKey, 0, 3},
                   {MetadataRequest::kApiKey, MetadataRequest::kMinVersion, MetadataRequest::kMaxVersion},
                   {ProduceRequest::kApiKey, 3, ProduceRequest::kMaxVersion},
                   {FetchRequest::kApiKey, FetchRequest::kMinVersion, FetchRequest::kMaxVersion},
                   {kInitProducerIdKey, 0, 4}};
  return send(c, resp, h.correlation_id, version);
}

bool on_metadata(Connection& c, const RequestHeader& h, Reader& r) {
  MetadataRequest req;
  if (!req.decode(r, h.api_version)) return false;
  MetadataResponse resp;
  resp.brokers.push_back({0, g_cfg.host, g_cfg.port, std::nullopt});
  resp.cluster_id = "null-broker";
  resp.controller_id = 0;
  if (req.topics) {
    for (const auto& t : *req.topics) {
      if (!t.name) continue;
      MetadataResponse::MetadataResponseTopic topic;
      topic.name = *t.name;
      topic.topic_id = topic_id_of(*t.name);
      int32_t n = partitions_of(*t.name);
      topic.partitions.resize(n);
      for (int32_t p = 0; p < n; ++p) {
        auto& part = topic.partitions[p];
        part.partition_index = p;
        part.leader_id = 0;
        part.leader_epoch = 0;
        part.replica_nodes = {0};
        part.isr_nodes = {0};
      }
      resp.topics.push_back(std::move(topic));
    }
  }
  return send(c, resp, h.correlation_id, h.api_version);
}

// Acknowledges every partition at once. Offsets are a plain count of the records seen (per topic and
// partition), so clients see the same monotonic offsets a real broker would give.
bool on_produce(Connection& c, const RequestHeader& h, Reader& r) {
  static std::mutex mu;
  static std::unordered_map<std::string, std::vector<int64_t>> next;  // bounded by the topics benchmarked
  ProduceRequest req;
  if (!req.decode(r, h.api_version)) return false;
  ProduceResponse resp;
  for (const auto& t : req.topic_data) {
    auto& out = resp.responses.emplace_back();
    out.name = t.name;
    for (const auto& p : t.partition_data) {
      auto& pr = out.partition_responses.emplace_back();
      pr.index = p.index;
      pr.log_start_offset = 0;
      int64_t records = 0;
      for (std::string_view s : p.records.slices) {
        // Batch framing only (lengths and counts): a reference must not do the broker's work for it.
        while (s.size() >= kBatchHeaderSize) {
          BatchHeader bh = parse_batch_header(s);
          records += std::max(bh.records_count, 0);
          size_t n = std::max(bh.total_size(), kBatchHeaderSize);
          s.remove_prefix(std::min(n, s.size()));
        }
      }
      if (p.index < 0 || p.index >= kMaxPartitions) {
        pr.error_code = static_cast<int16_t>(ErrorCode::kUnknownTopicOrPartition);
        continue;
      }
      std::lock_guard lock(mu);
      auto& offsets = next[t.name];
      if (offsets.size() <= static_cast<size_t>(p.index)) offsets.resize(p.index + 1, 0);
      pr.base_offset = offsets[p.index];
      offsets[p.index] += records;
    }
  }
  if (req.acks == 0) return true;
  return send(c, resp, h.correlation_id, h.api_version);
}

bool on_fetch(Connection& c, const RequestHeader& h, Reader& r) {
  FetchRequest req;
  if (!req.decode(r, h.api_version)) return false;
  if (!c.source) c.source = std::make_unique<SourceBuffer>();
  SourceBuffer& src = *c.source;
  const size_t batches = src.starts.size();
  size_t used = 0;  // every batch appears at most once per response: it carries one base offset
  size_t total = 0;
  const auto max_bytes = static_cast<size_t>(std::max(req.max_bytes, 1));
  FetchResponse resp;
  for (const auto& t : req.topics) {
    auto& out = resp.responses.emplace_back();
    out.topic = t.topic;
    out.topic_id = t.topic_id;
    for (const auto& p : t.partitions) {
      auto& pd = out.partitions.emplace_back();
      pd.partition_index = p.partition;
      pd.high_watermark = int64_t{1} << 50;
      pd.last_stable_offset = pd.high_watermark;
      pd.log_start_offset = 0;
      pd.records = Records::view({});
      const auto part_max = static_cast<size_t>(std::max(p.partition_max_bytes, 1));
      size_t part = 0;
      int64_t offset = p.fetch_offset;
      while (used < batches) {
        size_t size = src.sizes[c.cursor];
        bool first = part == 0 && total == 0;  // KIP-74: the first batch goes out even if too large
        if (!first && (part + size > part_max || total + size > max_bytes)) break;
        char* batch = src.data.data() + src.starts[c.cursor];
        stamp_batch(batch, offset, 0);
        pd.records.append(std::string_view(batch, size));
        offset += src.records_per_batch;
        part += size;
        total += size;
        ++used;
        c.cursor = (c.cursor + 1) % batches;
      }
    }
  }
  return send(c, resp, h.correlation_id, h.api_version);
}

// Hand-encoded (the broker's codec may not declare this API): a fresh producer id, epoch 0.
bool on_init_producer_id(Connection& c, const RequestHeader& h) {
  const bool flexible = h.api_version >= 2;
  Writer w;
  size_t at = w.reserve_i32();
  w.write_i32(h.correlation_id);
  if (flexible) w.write_uvarint(0);
  w.write_i32(0);  // throttle
  w.write_i16(0);  // error
  w.write_i64(g_next_producer_id.fetch_add(1));
  w.write_i16(0);  // epoch
  if (flexible) w.write_uvarint(0);
  finish(w, at);
  return write_segments(c.fd, w.segments());
}

bool handle(Connection& c) {
  Reader r(c.frame);
  RequestHeader h;
  if (!decode_request_header(r, h)) return false;
  switch (h.api_key) {
    case ApiVersionsRequest::kApiKey:
      return on_api_versions(c, h);
    case MetadataRequest::kApiKey:
      return on_metadata(c, h, r);
    case ProduceRequest::kApiKey:
      return on_produce(c, h, r);
    case FetchRequest::kApiKey:
      return on_fetch(c, h, r);
    case kInitProducerIdKey:
      return on_init_producer_id(c, h);
    default:
      std::cerr << "null broker: unsupported API " << h.api_key << "; closing\n";
      return false;
  }
}

void serve(int fd) {
  Connection c{fd, {}, nullptr, 0};
  char size_buf[4];
  while (read_full(fd, size_buf, 4)) {
    int32_t size = static_cast<int32_t>(ntohl(*reinterpret_cast<uint32_t*>(size_buf)));
    if (size < 0 || size > kMaxFrameBytes) break;
    c.frame.resize(static_cast<size_t>(size));
    if (!read_full(fd, c.frame.data(), c.frame.size())) break;
    if (!handle(c)) break;
  }
  ::close(fd);
  g_connections.fetch_sub(1);
}

}  // namespace

int main(int argc, char** argv) {
  std::string listen = "127.0.0.1:0", ready_file;
  CLI::App app{"Null Kafka sink/source: answers Produce and Fetch at once, keeps nothing"};
  app.add_option("--listen", listen, "HOST:PORT (port 0 picks one)");
  app.add_option("--ready-file", ready_file, "Written as {\"kafka\": \"host:port\"} once listening");
  app.add_option("--partitions", g_cfg.default_partitions, "Partitions of topics without a -p<N> suffix")
      ->check(CLI::Range(1, kMaxPartitions));
  app.add_option("--source-message-bytes", g_cfg.source_message_bytes, "Value size of the source's records");
  app.add_option("--source-batch-records", g_cfg.source_batch_records, "Records per source batch");
  app.add_option("--source-buffer-bytes", g_cfg.source_buffer_bytes, "Size of the source's batch buffer");
  CLI11_PARSE(app, argc, argv);
  auto colon = listen.rfind(':');
  if (colon == std::string::npos) {
    std::cerr << "--listen wants HOST:PORT\n";
    return 2;
  }
  g_cfg.host = listen.substr(0, colon);
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(std::stoi(listen.substr(colon + 1))));
  if (::inet_pton(AF_INET, g_cfg.host.c_str(), &addr.sin_addr) != 1 ||
      ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || ::listen(fd, 64) != 0) {
    std::cerr << "cannot listen on " << listen << ": " << std::strerror(errno) << "\n";
    return 1;
  }
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  g_cfg.port = ntohs(addr.sin_port);
  if (!ready_file.empty()) {
    std::string tmp = ready_file + ".tmp";
    std::ofstream(tmp) << "{\"kafka\": \"" << g_cfg.host << ":" << g_cfg.port << "\"}\n";
    std::rename(tmp.c_str(), ready_file.c_str());
  }
  for (;;) {
    int c = ::accept(fd, nullptr, nullptr);
    if (c < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (g_connections.load() >= kMaxConnections) {
      ::close(c);
      continue;
    }
    ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    g_connections.fetch_add(1);
    std::thread(serve, c).detach();
  }
  return 0;
}
