#include "handlers/authorized_ops.h"
#include "handlers/handlers.h"

namespace ks::handlers {
namespace {

using EpochEndOffset = OffsetForLeaderEpochResponse::OffsetForLeaderTopicResult::EpochEndOffset;

// Kafka's rule (leader epoch cache): the current epoch ends at the log end
// (here the high watermark: only committed data is visible); an older epoch
// ends where the next larger epoch starts, answered with the largest epoch
// <= the requested one; an epoch beyond every known one is undefined (-1, -1).
void end_offset_for(const log::PartitionState& st, std::int32_t requested, EpochEndOffset& out) {
  out.leader_epoch = -1;
  out.end_offset = -1;
  if (requested == st.leader_epoch) {
    out.leader_epoch = st.leader_epoch;
    out.end_offset = st.hwm;
    return;
  }
  const log::EpochStart* floor = nullptr;
  const log::EpochStart* higher = nullptr;
  for (const auto& e : st.epochs) {
    if (e.epoch <= requested) floor = &e;
    if (e.epoch > requested) {
      higher = &e;
      break;
    }
  }
  if (higher == nullptr) return;
  out.leader_epoch = floor != nullptr ? floor->epoch : requested;
  out.end_offset = higher->start_offset;
}

}  // namespace

awaitable<OffsetForLeaderEpochResponse> handle(RequestContext& ctx, OffsetForLeaderEpochRequest& req) {
  OffsetForLeaderEpochResponse resp;
  auto& log = ctx.broker.log;
  for (const auto& rt : req.topics) {
    OffsetForLeaderEpochResponse::OffsetForLeaderTopicResult tr;
    tr.topic = rt.topic;
    const cluster::TopicInfo* t = log.topic(rt.topic);
    const bool allowed = authz::topic(ctx, authz::kDescribe, rt.topic);
    for (const auto& rp : rt.partitions) {
      EpochEndOffset pr;
      pr.partition = rp.partition;
      if (!allowed) {
        pr.error_code = code(ErrorCode::kTopicAuthorizationFailed);
        tr.partitions.push_back(std::move(pr));
        continue;
      }
      const log::PartitionState* st =
          t ? log.partition(log::PartitionKey{t->record.id, rp.partition}) : nullptr;
      if (st == nullptr) {
        pr.error_code = code(not_served(t, rp.partition));
      } else if (rp.current_leader_epoch >= 0 && rp.current_leader_epoch != st->leader_epoch) {
        pr.error_code = code(rp.current_leader_epoch < st->leader_epoch ? ErrorCode::kFencedLeaderEpoch
                                                                        : ErrorCode::kUnknownLeaderEpoch);
      } else {
        end_offset_for(*st, rp.leader_epoch, pr);
      }
      tr.partitions.push_back(std::move(pr));
    }
    resp.topics.push_back(std::move(tr));
  }
  co_return resp;
}

}  // namespace ks::handlers
