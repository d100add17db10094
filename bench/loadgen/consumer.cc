// Consumer side: the legacy (group-less) queue API, so no group coordinator is needed. Every partition of
// the topic is started at one offset and fed into one queue.
#include <librdkafka/rdkafka.h>

#include <cstring>
#include <string>

#include "loadgen/client.h"
#include "loadgen/loadgen.h"

namespace ks::bench {

namespace {

struct ConsumeCtx {
  ConsumeResult* result;
  RunState* state;
  bool with_producer;
  uint64_t first_ns = 0, last_ns = 0;
  std::string error;
};

void on_message(rd_kafka_message_t* m, void* opaque) {
  auto* ctx = static_cast<ConsumeCtx*>(opaque);
  if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) return;  // not an error: we are ahead of the producer
  if (m->err) {
    if (ctx->error.empty()) ctx->error = std::string("consume: ") + rd_kafka_message_errstr(m);
    return;
  }
  uint64_t now = now_ns();
  if (ctx->first_ns == 0) ctx->first_ns = now;
  ctx->last_ns = now;
  ++ctx->result->messages;
  ctx->result->bytes += static_cast<int64_t>(m->len);
  uint64_t sent = 0;
  if (m->len >= kValueHeaderBytes) std::memcpy(&sent, m->payload, sizeof(sent));
  // Only messages produced in this run after its warm-up; a consume-only run would measure age.
  if (ctx->with_producer && sent >= ctx->state->record_after_ns.load() && now >= sent) {
    ctx->result->e2e_us.record((now - sent) / 1000);
  }
}

// The target count: fixed for consume-only runs; with a producer, every message it got acknowledged
// (known once it is done).
bool reached(const Options& opt, RunState& state, bool with_producer, int64_t have) {
  if (!with_producer) return have >= opt.consume_messages;
  return state.producer_done.load() && have >= state.produced_acked.load();
}

}  // namespace

ConsumeResult run_consumer(const Options& opt, RunState& state, bool with_producer) {
  ConsumeResult result;
  std::string err;
  rd_kafka_conf_t* conf = base_conf(opt, err);
  if (!conf) {
    result.error = err;
    state.consumer_ready.store(true);
    return result;
  }
  // Pre-fetch limits: every partition forwards to one queue and librdkafka checks each partition's limit
  // against that shared queue's length, so these are totals (256 MiB); a partition over them is only
  // re-checked a second later, which would stall a 1,000-partition consumer.
  if (!set_conf(conf, "queued.max.messages.kbytes", "262144", err) ||
      !set_conf(conf, "queued.min.messages", "1000000", err) ||
      !set_conf(conf, "fetch.wait.max.ms", "100", err) || !apply_extra(conf, opt, err)) {
    rd_kafka_conf_destroy(conf);
    result.error = err;
    state.consumer_ready.store(true);
    return result;
  }
  char errstr[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
  if (!rk) {
    result.error = errstr;
    state.consumer_ready.store(true);
    return result;
  }
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, opt.topic.c_str(), nullptr);
  rd_kafka_queue_t* q = rd_kafka_queue_new(rk);
  const uint64_t start = now_ns();
  for (int p = 0; p < opt.partitions; ++p) {
    if (rd_kafka_consume_start_queue(rkt, p, opt.consume_offset, q) != 0) {
      result.error = std::string("consume_start: ") + rd_kafka_err2str(rd_kafka_last_error());
      break;
    }
  }
  state.consumer_ready.store(true);

  ConsumeCtx ctx{&result, &state, with_producer, 0, 0, {}};
  uint64_t idle_since = now_ns();
  const auto idle_ns = static_cast<uint64_t>(opt.consume_idle_s * 1e9);
  while (result.error.empty() && ctx.error.empty() && !reached(opt, state, with_producer, result.messages)) {
    // Serves what is queued as soon as the first message arrives (consume_batch_queue would wait to fill
    // its whole batch, adding up to its timeout to every end-to-end latency).
    int n = rd_kafka_consume_callback_queue(q, 100, on_message, &ctx);
    uint64_t now = now_ns();
    if (n > 0) {
      idle_since = now;
    } else if (now - idle_since > idle_ns) {
      result.error = "consumer idle for " + std::to_string(opt.consume_idle_s) + " s after " +
                     std::to_string(result.messages) + " messages";
    }
  }
  if (result.error.empty()) result.error = ctx.error;
  const uint64_t first = ctx.first_ns, last = ctx.last_ns;
  result.seconds = last > first ? static_cast<double>(last - first) / 1e9 : 0;
  result.wall_seconds = static_cast<double>(now_ns() - start) / 1e9;
  for (int p = 0; p < opt.partitions; ++p) rd_kafka_consume_stop(rkt, p);
  rd_kafka_queue_destroy(q);
  rd_kafka_topic_destroy(rkt);
  rd_kafka_destroy(rk);
  return result;
}

}  // namespace ks::bench
