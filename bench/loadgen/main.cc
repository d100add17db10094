// kafscale-loadgen: produce and/or consume one topic, print one JSON object with throughput and latency.
// Exit code 0 on success, 1 when the run failed (the JSON's "error" says why), 2 on bad arguments.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "loadgen/loadgen.h"

namespace {

using ks::bench::Histogram;
using nlohmann::json;

json latency_json(const Histogram& h, bool cdf) {
  json j = {{"count", h.count()},         {"mean_us", h.mean()},        {"p50_us", h.quantile(0.50)},
            {"p90_us", h.quantile(0.90)}, {"p99_us", h.quantile(0.99)}, {"p999_us", h.quantile(0.999)},
            {"max_us", h.max()}};
  if (cdf) {
    json points = json::array();
    for (const auto& [us, f] : h.cdf()) points.push_back({us, f});
    j["cdf"] = std::move(points);
  }
  return j;
}

double per_second(double x, double seconds) { return seconds > 0 ? x / seconds : 0.0; }

}  // namespace

int main(int argc, char** argv) {
  ks::bench::Options opt;
  std::string out_path;
  std::vector<std::string> extra;
  CLI::App app{"KafScale load generator (librdkafka): produce and/or consume one topic, report JSON"};
  app.add_option("--bootstrap", opt.bootstrap, "HOST:PORT")->required();
  app.add_option("--topic", opt.topic)->required();
  app.add_option("--partitions", opt.partitions)->check(CLI::Range(1, 100000));
  app.add_flag("--create-topic", opt.create_topic, "Create the topic first (an existing one is fine)");
  app.add_option("--produce-messages", opt.produce_messages, "Messages to produce (0: no count limit)");
  app.add_option("--produce-seconds", opt.produce_seconds, "Produce for this long (0: no time limit)");
  app.add_flag("--consume", opt.consume, "Run a consumer (with a producer: end-to-end latency)");
  app.add_option("--consume-messages", opt.consume_messages, "Messages a consume-only run expects");
  app.add_option("--consume-offset", opt.consume_offset, "Offset the consumer starts at in every partition");
  app.add_option("--consume-idle-s", opt.consume_idle_s, "Give up after this long without a message");
  app.add_option("--message-bytes", opt.message_bytes, "Value size (>= 16: send time + sequence)");
  app.add_option("--acks", opt.acks)->check(CLI::IsMember({"all", "-1", "1", "0"}));
  app.add_option("--idempotence", opt.idempotence, "enable.idempotence");
  app.add_option("--compression", opt.compression)
      ->check(CLI::IsMember({"none", "gzip", "snappy", "lz4", "zstd"}));
  app.add_option("--linger-ms", opt.linger_ms);
  app.add_option("--batch-bytes", opt.batch_bytes, "batch.size");
  app.add_option("--rate", opt.rate, "Messages per second (0: unlimited)");
  app.add_option("--warmup-s", opt.warmup_s, "Latencies of messages sent earlier are not recorded");
  app.add_flag("--cdf", opt.cdf, "Include latency CDF points");
  app.add_option("--set", extra, "Extra librdkafka setting KEY=VALUE (repeatable)");
  app.add_option("--out", out_path, "Write the JSON here instead of stdout");
  CLI11_PARSE(app, argc, argv);
  for (const auto& kv : extra) {
    auto eq = kv.find('=');
    if (eq == std::string::npos) {
      std::cerr << "--set wants KEY=VALUE, got " << kv << "\n";
      return 2;
    }
    opt.extra.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
  }
  if (opt.consume_messages > 0) opt.consume = true;
  const bool produce = opt.produce_messages > 0 || opt.produce_seconds > 0;
  if (!produce && !(opt.consume && opt.consume_messages > 0)) {
    std::cerr
        << "nothing to do: give --produce-messages/--produce-seconds and/or --consume --consume-messages\n";
    return 2;
  }

  json out = {{"topic", opt.topic},
              {"partitions", opt.partitions},
              {"message_bytes", opt.message_bytes},
              {"acks", opt.acks},
              {"idempotence", opt.idempotence},
              {"compression", opt.compression},
              {"linger_ms", opt.linger_ms},
              {"rate", opt.rate}};
  std::string error;
  if (opt.create_topic) error = ks::bench::create_topic(opt);

  ks::bench::RunState state;
  std::optional<ks::bench::ProduceResult> pr;
  std::optional<ks::bench::ConsumeResult> cr;
  if (error.empty()) {
    std::thread consumer;
    if (opt.consume) {
      consumer = std::thread([&] { cr = ks::bench::run_consumer(opt, state, produce); });
      // The consumer must be positioned before the first message is sent, or e2e misses the start.
      while (!state.consumer_ready.load()) std::this_thread::yield();
    }
    if (produce) pr = ks::bench::run_producer(opt, state);
    if (consumer.joinable()) {
      if (pr && !pr->error.empty()) state.produced_acked.store(0);  // do not wait for messages never sent
      state.producer_done.store(true);
      consumer.join();
    }
  }
  if (pr) {
    out["produce"] = {{"messages", pr->acked},
                      {"failed", pr->failed},
                      {"bytes", pr->bytes},
                      {"seconds", pr->seconds},
                      {"mb_per_s", per_second(static_cast<double>(pr->bytes), pr->seconds) / 1e6},
                      {"records_per_s", per_second(static_cast<double>(pr->acked), pr->seconds)},
                      {"ack_latency", latency_json(pr->ack_us, opt.cdf)}};
    if (error.empty()) error = pr->error;
  }
  if (cr) {
    out["consume"] = {{"messages", cr->messages},
                      {"bytes", cr->bytes},
                      {"seconds", cr->seconds},
                      {"wall_seconds", cr->wall_seconds},
                      {"mb_per_s", per_second(static_cast<double>(cr->bytes), cr->seconds) / 1e6},
                      {"records_per_s", per_second(static_cast<double>(cr->messages), cr->seconds)},
                      {"e2e_latency", latency_json(cr->e2e_us, opt.cdf)}};
    if (error.empty()) error = cr->error;
  }
  out["error"] = error;
  std::string text = out.dump() + "\n";
  if (out_path.empty()) {
    std::cout << text;
  } else {
    std::ofstream f(out_path);
    f << text;
    if (!f) {
      std::cerr << "cannot write " << out_path << "\n";
      return 1;
    }
  }
  return error.empty() ? 0 : 1;
}
