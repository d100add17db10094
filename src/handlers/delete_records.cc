#include "handlers/authorized_ops.h"
#include "handlers/handlers.h"

namespace ks::handlers {

// Moves log start offsets; the change is durable (a checkpoint) before the
// answer. Ranges wholly below the new start are dropped and their objects
// deleted once nothing refers to them.
awaitable<DeleteRecordsResponse> handle(RequestContext& ctx, DeleteRecordsRequest& req) {
  DeleteRecordsResponse resp;
  auto& log = ctx.broker.log;
  std::vector<DeleteRecordsResponse::DeleteRecordsTopicResult::DeleteRecordsPartitionResult*> changed;
  resp.topics.reserve(req.topics.size());
  for (const auto& rt : req.topics) {
    resp.topics.emplace_back();
    auto& tr = resp.topics.back();
    tr.name = rt.name;
    tr.partitions.reserve(rt.partitions.size());
    const cluster::TopicInfo* t = log.topic(rt.name);
    const bool allowed = authz::topic(ctx, authz::kDelete, rt.name);
    for (const auto& rp : rt.partitions) {
      tr.partitions.emplace_back();
      auto& pr = tr.partitions.back();
      pr.partition_index = rp.partition_index;
      pr.low_watermark = -1;
      if (!allowed) {
        pr.error_code = code(ErrorCode::kTopicAuthorizationFailed);
        continue;
      }
      const log::PartitionKey key{t ? t->record.id : log::TopicId{}, rp.partition_index};
      const log::PartitionState* st = t ? log.partition(key) : nullptr;
      if (st == nullptr) {
        pr.error_code = code(not_served(t, rp.partition_index));
        continue;
      }
      if (rp.offset != -1 && (rp.offset < 0 || rp.offset > st->hwm)) {
        pr.error_code = code(ErrorCode::kOffsetOutOfRange);
        continue;
      }
      auto r = log.delete_records(key, rp.offset);
      if (!r.ok()) {
        pr.error_code = code(r.code() == Errc::invalid_argument ? ErrorCode::kOffsetOutOfRange
                                                                : to_kafka_error(r.code()));
        continue;
      }
      pr.low_watermark = *r;
      changed.push_back(&pr);
    }
  }
  if (!changed.empty()) {
    Status s = co_await log.persist();
    if (!s.ok()) {
      for (auto* pr : changed) pr->error_code = code(to_kafka_error(s.code()));
    }
  }
  co_return resp;
}

}  // namespace ks::handlers
