#include <spdlog/spdlog.h>

#include <chrono>

#include "common/assert.h"
#include "common/clock.h"
#include "handlers/authorized_ops.h"
#include "handlers/handlers.h"
#include "protocol/compression.h"

namespace ks::handlers {
using log::LogManager;
namespace {

using PartitionResponse = ProduceResponse::TopicProduceResponse::PartitionProduceResponse;

// How often a produce waiting for its commit looks whether the broker passed
// its lease deadline.
constexpr auto kSuspendCheck = std::chrono::milliseconds(200);

// Waits at most this long for durability even when a client asks for more:
// the answer then says REQUEST_TIMED_OUT and the client retries.
constexpr std::int32_t kMaxProduceTimeoutMs = 300'000;
// Never wait less than this, so a tiny client timeout does not turn every
// produce into REQUEST_TIMED_OUT.
constexpr std::int32_t kMinProduceTimeoutMs = 1'000;

// v13+ (KIP-516) names topics by id; older versions by name.
const cluster::TopicInfo* find_topic(LogManager& log, std::int16_t version,
                                     const ProduceRequest::TopicProduceData& td) {
  return version >= 13 ? log.topic_by_id(td.topic_id.bytes) : log.topic(td.name);
}

// A topic with compression.type other than "producer" stores every batch with
// that codec, as Kafka's LogValidator does: batches with another codec are
// decompressed, their records checked, and compressed again into `owned`.
// Returns false (with `error` set) when a batch cannot be recompressed;
// otherwise `records`/`batches` describe what to store (unchanged when every
// batch already has the topic's codec: the zero-copy path).
bool apply_topic_compression(int codec, std::uint64_t max_decompressed, std::string_view& records,
                             std::vector<protocol::BatchInfo>& batches, std::string& owned,
                             protocol::BatchError& error) {
  bool differs = false;
  for (const auto& b : batches) differs = differs || b.header.compression() != codec;
  if (!differs) return true;
  owned.clear();
  std::uint64_t raw_bytes = 0;
  for (const auto& b : batches) {
    std::string_view one = records.substr(b.position, b.size);
    if (b.header.compression() == codec) {
      owned.append(one);
      continue;
    }
    auto out = protocol::recompress_batch(one, codec, max_decompressed);
    if (auto* e = std::get_if<protocol::BatchError>(&out)) {
      error = std::move(*e);
      return false;
    }
    produce_recompressed_batches().inc();
    raw_bytes += one.size();
    owned.append(std::get<std::string>(out));
  }
  produce_recompressed_bytes().add(raw_bytes);
  auto revalidated = protocol::validate_record_set(owned);
  // What recompress_batch built passed validation already; a failure here is a bug.
  KS_ASSERT(std::holds_alternative<std::vector<protocol::BatchInfo>>(revalidated),
            "recompressed record set does not validate: {}",
            std::get<protocol::BatchError>(revalidated).message);
  batches = std::move(std::get<std::vector<protocol::BatchInfo>>(revalidated));
  records = owned;
  return true;
}

}  // namespace

awaitable<std::optional<ProduceResponse>> handle(RequestContext& ctx, ProduceRequest& req) {
  produce_requests().inc();
  auto& log = ctx.broker.log;
  const ApiSpec* spec = find_api(ProduceRequest::kApiKey);
  ProduceResponse resp;
  // Error for every partition, decided before touching the log.
  ErrorCode whole = ErrorCode::kNone;
  if (!spec->accepted(ctx.version)) {
    whole = ErrorCode::kUnsupportedVersion;  // message format v2 needs Produce v3+
  } else if (req.transactional_id.has_value()) {
    whole = ErrorCode::kTransactionalIdAuthorizationFailed;  // transactions are not supported
  } else if (req.acks != 0 && req.acks != 1 && req.acks != -1) {
    whole = ErrorCode::kInvalidRequiredAcks;
  } else if (ctx.broker.writes_unavailable && ctx.broker.writes_unavailable()) {
    // Object store unavailable: fail fast rather than buffer. NOT_ENOUGH_REPLICAS is retriable in
    // every client and tells them nothing was written (librdkafka: MSG_NOT_PERSISTED).
    whole = ErrorCode::kNotEnoughReplicas;
  }
  const auto timeout =
      std::chrono::milliseconds(std::clamp(req.timeout_ms, kMinProduceTimeoutMs, kMaxProduceTimeoutMs));
  const auto deadline = Clock::now() + timeout;
  if (whole == ErrorCode::kNone && !co_await log.wait_buffer_space(deadline))
    whole = ErrorCode::kRequestTimedOut;

  struct Pending {
    PartitionResponse* out;
    log::LogManager::Ticket ticket;
  };
  std::vector<Pending> pending;
  std::string recompressed;  // a partition's batches in its topic's codec (copied by append_batches)
  // Reserved up front: `pending` keeps pointers into these vectors.
  resp.responses.reserve(req.topic_data.size());
  for (auto& td : req.topic_data) {
    resp.responses.emplace_back();
    auto& tr = resp.responses.back();
    tr.name = td.name;
    tr.topic_id = td.topic_id;  // v13+ (KIP-516): topics are named by id only
    tr.partition_responses.reserve(td.partition_data.size());
    const cluster::TopicInfo* topic = whole == ErrorCode::kNone ? find_topic(log, ctx.version, td) : nullptr;
    // WRITE on the topic, checked before whether it exists (a topic id names it only when known).
    const bool allowed =
        whole != ErrorCode::kNone ||
        (ctx.version >= 13 ? topic == nullptr || authz::topic(ctx, authz::kWrite, topic->record.name)
                           : authz::topic(ctx, authz::kWrite, td.name));
    for (auto& pd : td.partition_data) {
      tr.partition_responses.emplace_back();
      PartitionResponse& pr = tr.partition_responses.back();
      pr.index = pd.index;
      pr.base_offset = -1;
      auto fail = [&](ErrorCode e, std::string msg = {}) {
        pr.error_code = code(e);
        if (!msg.empty()) pr.error_message = std::move(msg);
      };
      if (whole != ErrorCode::kNone) {
        fail(whole);
        continue;
      }
      if (!allowed) {
        fail(ErrorCode::kTopicAuthorizationFailed);
        continue;
      }
      if (topic == nullptr) {
        fail(ctx.version >= 13 ? ErrorCode::kUnknownTopicId : ErrorCode::kUnknownTopicOrPartition);
        continue;
      }
      log::PartitionKey key{topic->record.id, pd.index};
      const auto* st = log.partition(key);
      if (st == nullptr) {
        fail(not_served(topic, pd.index));
        continue;
      }
      std::string_view records = pd.records.slices.empty() ? std::string_view{} : pd.records.slices.front();
      auto validated = validate_record_set(records);
      if (auto* err = std::get_if<BatchError>(&validated)) {
        fail(static_cast<ErrorCode>(err->error_code), err->message);
        continue;
      }
      auto& batches = std::get<std::vector<BatchInfo>>(validated);
      if (topic->settings.compression >= 0) {
        BatchError bad;
        if (!apply_topic_compression(topic->settings.compression, ctx.broker.max_decompressed_batch_bytes,
                                     records, batches, recompressed, bad)) {
          fail(static_cast<ErrorCode>(bad.error_code), bad.message);
          continue;
        }
      }
      bool too_large = false;
      for (const auto& b : batches) {
        too_large = too_large || static_cast<std::int64_t>(b.size) > topic->settings.max_message_bytes;
      }
      if (too_large) {
        fail(ErrorCode::kMessageTooLarge, "batch larger than max.message.bytes (" +
                                              std::to_string(topic->settings.max_message_bytes) + ")");
        continue;
      }
      const std::int64_t append_time = topic->settings.log_append_time ? wall_clock_ms() : -1;
      auto appended = log.append_batches(key, records, batches, append_time);
      if (!appended.ok()) {
        fail(to_kafka_error(appended.code()), appended.status().message());
        continue;
      }
      // Idempotent producer checks (Kafka's answers).
      switch (appended->check) {
        case LogManager::ProducerCheck::kOk:
          produce_bytes().add(records.size());
          pr.log_append_time_ms = append_time;
          break;
        case LogManager::ProducerCheck::kDuplicate:
          break;  // answered with the original batch's offset once it is committed
        case LogManager::ProducerCheck::kOutOfOrder:
          fail(ErrorCode::kOutOfOrderSequenceNumber, appended->message);
          continue;
        case LogManager::ProducerCheck::kInvalidEpoch:
          fail(ErrorCode::kInvalidProducerEpoch, appended->message);
          continue;
        case LogManager::ProducerCheck::kInvalidRecord:
          fail(ErrorCode::kInvalidRecord, appended->message);
          continue;
      }
      pending.push_back(Pending{&pr, appended->ticket});
    }
  }
  if (req.acks == 0) co_return std::nullopt;
  // Acknowledge only once the data is in the object store and committed.
  // (An index loop: g++ 12 miscompiles co_await inside some range-for loops.)
  for (std::size_t i = 0; i < pending.size(); ++i) {
    Pending& p = pending[i];
    Status s = LogManager::timed_out();
    // Waited for in slices: a broker past its lease deadline (suspended) stops
    // waiting at once and answers NOT_LEADER_OR_FOLLOWER, as Kafka completes
    // pending acks on a leader change. The client retries at the new owner,
    // which restored the idempotent-producer state (a retried batch that did
    // commit is answered as a duplicate).
    bool done = false;
    while (!done && Clock::now() < deadline && !log.suspended()) {
      done = co_await p.ticket.done->event.wait_until(std::min(deadline, Clock::now() + kSuspendCheck));
    }
    if (done) {
      s = p.ticket.done->result;
    } else if (log.suspended()) {
      s = Status(Errc::fenced, "this broker passed its lease deadline; its partitions move");
    }
    if (s.ok()) {
      p.out->base_offset = p.ticket.base_offset;
    } else {
      p.out->error_code = code(to_kafka_error(s.code()));
      p.out->error_message = s.message();
    }
  }
  for (auto& tr : resp.responses) {
    const cluster::TopicInfo* topic =
        ctx.version >= 13 ? log.topic_by_id(tr.topic_id.bytes) : log.topic(tr.name);
    for (auto& pr : tr.partition_responses) {
      const auto* st = topic ? log.partition(log::PartitionKey{topic->record.id, pr.index}) : nullptr;
      if (st != nullptr) pr.log_start_offset = st->log_start;
      if (pr.error_code == code(ErrorCode::kNotLeaderOrFollower)) {
        // KIP-951: the new leader, so the client retries there without a Metadata round.
        if (auto h = leader_hint(ctx.broker, topic, pr.index, ctx.connection.listener())) {
          pr.current_leader.leader_id = h->leader.node;
          pr.current_leader.leader_epoch = h->leader.epoch;
          add_endpoint(resp.node_endpoints, h->endpoint);
        }
      }
    }
  }
  co_return resp;
}

}  // namespace ks::handlers
