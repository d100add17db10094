// `kafscale inspect`: prints a log object or a checkpoint for operators.
#include "broker/inspect.h"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "broker/stores.h"
#include "log/checkpoint.h"
#include "log/object_format.h"
#include "protocol/record_batch.h"

namespace ks::broker {
namespace {

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

}  // namespace

int run_inspect(const InspectOptions& opt, const EnvLookup& env) {
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
