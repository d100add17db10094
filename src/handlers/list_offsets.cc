#include "handlers/authorized_ops.h"
#include "handlers/handlers.h"

namespace ks::handlers {
namespace {

// Special timestamps of ListOffsets.
constexpr std::int64_t kLatest = -1;
constexpr std::int64_t kEarliest = -2;
constexpr std::int64_t kMaxTimestamp = -3;   // v7+
constexpr std::int64_t kEarliestLocal = -4;  // v8+: all data is "local" to us
// v9+ (KIP-1005): highest offset copied to tiered (remote) storage. We have no
// second tier, so like Kafka with remote storage disabled: offset -1, epoch -1.
constexpr std::int64_t kLatestTiered = -5;

}  // namespace

awaitable<ListOffsetsResponse> handle(RequestContext& ctx, ListOffsetsRequest& req) {
  ListOffsetsResponse resp;
  auto& log = ctx.broker.log;
  for (const auto& rt : req.topics) {
    resp.topics.emplace_back();
    auto& tr = resp.topics.back();
    tr.name = rt.name;
    const bool allowed = authz::topic(ctx, authz::kDescribe, rt.name);
    for (const auto& rp : rt.partitions) {
      ListOffsetsResponse::ListOffsetsTopicResponse::ListOffsetsPartitionResponse pr;
      pr.partition_index = rp.partition_index;
      if (!allowed) {
        pr.error_code = code(ErrorCode::kTopicAuthorizationFailed);
        tr.partitions.push_back(std::move(pr));
        continue;
      }
      const cluster::TopicInfo* t = log.topic(rt.name);
      log::PartitionKey key{t ? t->record.id : log::TopicId{}, rp.partition_index};
      const log::PartitionState* st = t ? log.partition(key) : nullptr;
      if (st == nullptr) {
        pr.error_code = code(not_served(t, rp.partition_index));
        tr.partitions.push_back(std::move(pr));
        continue;
      }
      if (rp.current_leader_epoch >= 0 && rp.current_leader_epoch != st->leader_epoch) {
        pr.error_code = code(rp.current_leader_epoch < st->leader_epoch ? ErrorCode::kFencedLeaderEpoch
                                                                        : ErrorCode::kUnknownLeaderEpoch);
        tr.partitions.push_back(std::move(pr));
        continue;
      }
      pr.leader_epoch = st->leader_epoch;
      if (rp.timestamp == kLatestTiered && ctx.version >= 9) {
        pr.offset = -1;
        pr.leader_epoch = -1;
      } else if (rp.timestamp == kLatest) {
        pr.offset = st->hwm;  // last stable offset == high watermark (no transactions)
      } else if (rp.timestamp == kEarliest || rp.timestamp == kEarliestLocal) {
        pr.offset = st->log_start;
      } else if (rp.timestamp == kMaxTimestamp || rp.timestamp >= 0) {
        auto r = rp.timestamp == kMaxTimestamp ? co_await log.max_timestamp(key)
                                               : co_await log.offset_for_timestamp(key, rp.timestamp);
        if (!r.ok()) {
          pr.error_code = code(to_kafka_error(r.code()));
        } else {
          pr.offset = r->offset;
          pr.timestamp = r->timestamp;
        }
      } else {
        pr.error_code = code(ErrorCode::kInvalidRequest);
      }
      tr.partitions.push_back(std::move(pr));
    }
  }
  co_return resp;
}

}  // namespace ks::handlers
