// Load generator on the public librdkafka C API: a producer and/or a consumer against one topic.
//
// Every message value starts with a 16-byte header: the send time (CLOCK_MONOTONIC nanoseconds, shared by
// every process on the host) and a sequence number. The producer's delivery report turns the send time into
// the produce-ack latency; a consumer turns it into the end-to-end latency. A zero send time (null source
// batches) means "no timestamp".
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "loadgen/histogram.h"

namespace ks::bench {

inline constexpr size_t kValueHeaderBytes = 16;

struct Options {
  std::string bootstrap;
  std::string topic;
  int partitions = 1;
  bool create_topic = false;
  // Producer: stops at whichever of the two limits comes first (0 = no limit; at least one must be set).
  int64_t produce_messages = 0;
  double produce_seconds = 0;
  // Consumer: reads from consume_offset in every partition until it has consume_messages messages (or, with a
  // producer in the same run, every acknowledged message), or nothing arrived for consume_idle_s.
  bool consume = false;
  int64_t consume_messages = 0;
  int64_t consume_offset = 0;
  double consume_idle_s = 20;
  size_t message_bytes = 1024;
  std::string acks = "all";
  bool idempotence = false;
  std::string compression = "none";
  int linger_ms = 5;
  int batch_bytes = 1000000;
  double rate = 0;      // messages per second, 0 = as fast as the broker takes them
  double warmup_s = 1;  // latencies of messages sent in the first warmup_s are not recorded
  bool cdf = false;     // include CDF points in the output
  std::vector<std::pair<std::string, std::string>> extra;  // raw librdkafka settings
};

struct ProduceResult {
  int64_t acked = 0;
  int64_t failed = 0;
  int64_t bytes = 0;   // payload bytes acknowledged
  double seconds = 0;  // first send to last acknowledgement
  Histogram ack_us;
  std::string error;  // first error (fatal or delivery), empty if none
};

struct ConsumeResult {
  int64_t messages = 0;
  int64_t bytes = 0;
  double seconds = 0;       // first to last message
  double wall_seconds = 0;  // start to end, connection set-up included
  Histogram e2e_us;
  std::string error;
};

// Shared by the producer and an end-to-end consumer in the same process.
struct RunState {
  std::atomic<bool> producer_done{false};
  std::atomic<int64_t> produced_acked{0};
  std::atomic<bool> consumer_ready{false};
  // Send times before this are warm-up: not recorded by either side (UINT64_MAX until the producer starts).
  std::atomic<uint64_t> record_after_ns{UINT64_MAX};
};

uint64_t now_ns();

// Both return an error string in result.error instead of throwing; they never call exit().
ProduceResult run_producer(const Options& opt, RunState& state);
ConsumeResult run_consumer(const Options& opt, RunState& state, bool with_producer);
// Creates the topic (an existing one is fine); returns an error message or "".
std::string create_topic(const Options& opt);

}  // namespace ks::bench
