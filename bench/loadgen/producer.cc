// Producer side: rate-limited (or unlimited) sends, delivery reports -> ack latency.
#include <librdkafka/rdkafka.h>

#include <chrono>
#include <cstring>
#include <ctime>
#include <string>
#include <thread>

#include "loadgen/client.h"
#include "loadgen/loadgen.h"

namespace ks::bench {

uint64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

namespace {

struct ProducerCtx {
  ProduceResult* result;
  RunState* state;
  uint64_t record_after_ns;  // warm-up end
  uint64_t last_ack_ns = 0;
};

void on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
  auto* ctx = static_cast<ProducerCtx*>(opaque);
  uint64_t now = now_ns();
  if (m->err) {
    ++ctx->result->failed;
    if (ctx->result->error.empty()) ctx->result->error = std::string("delivery: ") + rd_kafka_err2str(m->err);
    return;
  }
  ++ctx->result->acked;
  ctx->result->bytes += static_cast<int64_t>(m->len);
  ctx->last_ack_ns = now;
  ctx->state->produced_acked.fetch_add(1, std::memory_order_relaxed);
  if (m->len >= kValueHeaderBytes) {
    uint64_t sent = 0;
    std::memcpy(&sent, m->payload, sizeof(sent));
    if (sent >= ctx->record_after_ns && now >= sent) ctx->result->ack_us.record((now - sent) / 1000);
  }
}

// Filler that compresses roughly like text logs: words from a small vocabulary.
std::string make_value_template(size_t size) {
  static const char* kWords[] = {"alpha ", "broker ", "commit ",    "delta ",  "epoch ",  "fetch ",
                                 "group ", "offset ", "partition ", "record ", "stream ", "topic "};
  std::string v;
  v.reserve(size);
  uint32_t x = 2463534242u;  // xorshift: deterministic, no <random> state to seed
  while (v.size() < size) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    v += kWords[x % 12];
  }
  v.resize(size);
  return v;
}

}  // namespace

ProduceResult run_producer(const Options& opt, RunState& state) {
  ProduceResult result;
  ProducerCtx ctx{&result, &state, 0};
  std::string err;
  rd_kafka_conf_t* conf = base_conf(opt, err);
  if (!conf) {
    result.error = err;
    return result;
  }
  const std::pair<const char*, std::string> settings[] = {
      {"acks", opt.acks},
      {"enable.idempotence", opt.idempotence ? "true" : "false"},
      {"compression.codec", opt.compression},
      {"linger.ms", std::to_string(opt.linger_ms)},
      {"batch.size", std::to_string(opt.batch_bytes)},
      {"queue.buffering.max.messages", "1000000"},
      {"queue.buffering.max.kbytes", "1048576"},
      {"message.timeout.ms", "120000"},
  };
  for (const auto& [k, v] : settings) {
    if (!set_conf(conf, k, v, err)) {
      rd_kafka_conf_destroy(conf);
      result.error = err;
      return result;
    }
  }
  if (!apply_extra(conf, opt, err)) {
    rd_kafka_conf_destroy(conf);
    result.error = err;
    return result;
  }
  rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
  rd_kafka_conf_set_opaque(conf, &ctx);
  char errstr[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
  if (!rk) {
    result.error = errstr;
    return result;
  }

  std::string value = make_value_template(std::max(opt.message_bytes, kValueHeaderBytes));
  const uint64_t start = now_ns();
  ctx.record_after_ns = start + static_cast<uint64_t>(opt.warmup_s * 1e9);
  state.record_after_ns.store(ctx.record_after_ns);
  const uint64_t end = opt.produce_seconds > 0 ? start + static_cast<uint64_t>(opt.produce_seconds * 1e9) : 0;
  const double ns_per_msg = opt.rate > 0 ? 1e9 / opt.rate : 0;
  int64_t sent = 0;
  while (opt.produce_messages == 0 || sent < opt.produce_messages) {
    uint64_t now = now_ns();
    if (end && now >= end) break;
    if (ns_per_msg > 0) {
      auto due = start + static_cast<uint64_t>(static_cast<double>(sent) * ns_per_msg);
      if (now < due) {
        rd_kafka_poll(rk, 0);
        uint64_t wait = due - now_ns();
        if (static_cast<int64_t>(wait) > 0) std::this_thread::sleep_for(std::chrono::nanoseconds(wait));
        now = now_ns();
      }
    }
    uint64_t seq = static_cast<uint64_t>(sent);
    std::memcpy(value.data(), &now, sizeof(now));
    std::memcpy(value.data() + 8, &seq, sizeof(seq));
    auto partition = static_cast<int32_t>(sent % opt.partitions);
    rd_kafka_resp_err_t e;
    while ((e = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(opt.topic.c_str()), RD_KAFKA_V_PARTITION(partition),
                                  RD_KAFKA_V_VALUE(value.data(), value.size()),
                                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END)) ==
           RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      rd_kafka_poll(rk, 1);  // the local queue drains as the broker acknowledges
    }
    if (e) {
      result.error = std::string("produce: ") + rd_kafka_err2str(e);
      break;
    }
    ++sent;
    if (sent % 256 == 0) rd_kafka_poll(rk, 0);
    if (rd_kafka_fatal_error(rk, errstr, sizeof(errstr))) {
      result.error = std::string("fatal: ") + errstr;
      break;
    }
  }
  // Outstanding messages: a bounded wait (message.timeout.ms fails them anyway); after an error, drop them.
  if (!result.error.empty()) rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
  rd_kafka_flush(rk, 150000);
  rd_kafka_poll(rk, 0);
  if (result.error.empty() && rd_kafka_fatal_error(rk, errstr, sizeof(errstr))) {
    result.error = std::string("fatal: ") + errstr;
  }
  result.seconds = ctx.last_ack_ns > start ? static_cast<double>(ctx.last_ack_ns - start) / 1e9 : 0;
  state.producer_done.store(true);
  rd_kafka_destroy(rk);
  return result;
}

}  // namespace ks::bench
