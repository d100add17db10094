#include "handlers/authorized_ops.h"
#include "handlers/handlers.h"

namespace ks::handlers {
namespace {

using TopicResponse = FetchResponse::FetchableTopicResponse;
using PartitionData = TopicResponse::PartitionData;

// Longest long-poll we honour, whatever max_wait_ms says.
constexpr std::int32_t kMaxWaitMs = 60'000;

// One pass over the requested partitions. Returns the record bytes gathered.
awaitable<std::size_t> fill(RequestContext& ctx, const FetchRequest& req, FetchResponse& resp) {
  auto& log = ctx.broker.log;
  const bool by_id = ctx.version >= 13;
  std::size_t total = 0;
  const std::size_t max_bytes = req.max_bytes > 0 ? static_cast<std::size_t>(req.max_bytes) : 0;
  resp.responses.clear();
  resp.node_endpoints.clear();
  for (const auto& ft : req.topics) {
    TopicResponse tr;
    // The topic's id, not a pointer to it: reads below wait for the object
    // store, and a DeleteTopics meanwhile erases the topic (partitions looked
    // up after that are simply unknown).
    std::optional<cluster::TopicId> id;
    bool allowed = true;  // READ on the topic (an unknown topic id names nothing to check)
    if (const cluster::TopicInfo* t = by_id ? log.topic_by_id(ft.topic_id.bytes) : log.topic(ft.topic)) {
      id = t->record.id;
      allowed = authz::topic(ctx, authz::kRead, t->record.name);
    } else if (!by_id) {
      allowed = authz::topic(ctx, authz::kRead, ft.topic);
    }
    tr.topic = ft.topic;
    tr.topic_id = ft.topic_id;
    for (const auto& fp : ft.partitions) {
      PartitionData pd;
      pd.partition_index = fp.partition;
      pd.records.is_null = false;
      if (!allowed) {
        pd.error_code = code(ErrorCode::kTopicAuthorizationFailed);
        pd.high_watermark = pd.last_stable_offset = pd.log_start_offset = -1;
        tr.partitions.push_back(std::move(pd));
        continue;
      }
      const log::PartitionState* st = id ? log.partition(log::PartitionKey{*id, fp.partition}) : nullptr;
      if (st == nullptr) {
        const cluster::TopicInfo* t = id ? log.topic_by_id(*id) : nullptr;
        pd.error_code = code(!id && by_id ? ErrorCode::kUnknownTopicId : not_served(t, fp.partition));
        if (pd.error_code == code(ErrorCode::kNotLeaderOrFollower)) {
          // KIP-951: the new leader (v12+) and its address (v16+).
          if (auto h = leader_hint(ctx.broker, t, fp.partition, ctx.connection.listener())) {
            pd.current_leader.leader_id = h->leader.node;
            pd.current_leader.leader_epoch = h->leader.epoch;
            add_endpoint(resp.node_endpoints, h->endpoint);
          }
        }
        pd.high_watermark = pd.last_stable_offset = pd.log_start_offset = -1;
        tr.partitions.push_back(std::move(pd));
        continue;
      }
      pd.high_watermark = st->hwm;
      pd.last_stable_offset = st->hwm;
      pd.log_start_offset = st->log_start;
      if (fp.current_leader_epoch >= 0 && fp.current_leader_epoch != st->leader_epoch) {
        const bool fenced = fp.current_leader_epoch < st->leader_epoch;
        pd.error_code = code(fenced ? ErrorCode::kFencedLeaderEpoch : ErrorCode::kUnknownLeaderEpoch);
        // As Kafka (KIP-951): the current leader goes out only with the errors that
        // make a client look for it. A tagged field in every partition also breaks
        // clients that skip tagged fields wrongly (@platformatic/kafka 1.x).
        if (fenced) {
          pd.current_leader.leader_id = ctx.broker.node_id;
          pd.current_leader.leader_epoch = st->leader_epoch;
        }
      } else if (fp.fetch_offset < st->log_start || fp.fetch_offset > st->leo) {
        pd.error_code = code(ErrorCode::kOffsetOutOfRange);
      } else if (fp.fetch_offset < st->hwm && (total < max_bytes || total == 0)) {
        // KIP-74: the first batch of the response is returned whole even when
        // it exceeds the limits, so a consumer can always make progress.
        std::size_t limit = std::min<std::size_t>(fp.partition_max_bytes > 0 ? fp.partition_max_bytes : 0,
                                                  max_bytes > total ? max_bytes - total : 0);
        auto key = log::PartitionKey{*id, fp.partition};
        auto r =
            co_await log.read(key, fp.fetch_offset, total == 0 ? std::max<std::size_t>(limit, 1) : limit);
        if (!r.ok()) {
          pd.error_code = code(to_kafka_error(r.code()));
        } else {
          for (auto& s : r->slices) pd.records.append(s.data, s.owner);
          total += r->bytes;
        }
      }
      // (HWM, log end]: nothing visible yet; an empty answer.
      tr.partitions.push_back(std::move(pd));
    }
    resp.responses.push_back(std::move(tr));
  }
  co_return total;
}

}  // namespace

awaitable<FetchResponse> handle(RequestContext& ctx, FetchRequest& req) {
  fetch_requests().inc();
  FetchResponse resp;
  // No incremental fetch sessions: session id 0 tells clients to send full
  // fetch requests; an incremental request for a session we never created
  // gets FETCH_SESSION_ID_NOT_FOUND.
  if (ctx.version >= 7 && req.session_id != 0) {
    resp.error_code = code(ErrorCode::kFetchSessionIdNotFound);
    co_return resp;
  }
  const auto deadline = Clock::now() + std::chrono::milliseconds(std::clamp(req.max_wait_ms, 0, kMaxWaitMs));
  const std::size_t min_bytes = req.min_bytes > 0 ? static_cast<std::size_t>(req.min_bytes) : 0;
  for (;;) {
    std::size_t bytes = co_await fill(ctx, req, resp);
    bool has_error = false;
    for (const auto& t : resp.responses) {
      for (const auto& p : t.partitions) has_error = has_error || p.error_code != 0;
    }
    if (bytes >= std::max<std::size_t>(min_bytes, 1) || has_error || Clock::now() >= deadline) {
      fetch_bytes().add(bytes);
      co_return resp;
    }
    // Woken by the next commit, never by polling.
    co_await ctx.broker.log.commit_notifier().wait_until(deadline);
  }
}

}  // namespace ks::handlers
