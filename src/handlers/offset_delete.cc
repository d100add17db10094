#include "coordinator/coordinator.h"
#include "handlers/handlers.h"

namespace ks::handlers {
namespace {

coordinator::TopicPartitions wanted(const OffsetDeleteRequest& req) {
  coordinator::TopicPartitions out;
  for (const auto& t : req.topics) {
    std::vector<std::int32_t> parts;
    for (const auto& p : t.partitions) parts.push_back(p.partition_index);
    out.emplace_back(t.name, std::move(parts));
  }
  return out;
}

OffsetDeleteResponse response(const coordinator::OffsetDeleteWait& w) {
  OffsetDeleteResponse resp;
  resp.error_code = code(w.error);
  if (w.error != ErrorCode::kNone) return resp;
  for (const auto& [name, parts] : w.topics) {
    OffsetDeleteResponse::OffsetDeleteResponseTopic t;
    t.name = name;
    for (const auto& [p, e] : parts) {
      OffsetDeleteResponse::OffsetDeleteResponseTopic::OffsetDeleteResponsePartition rp;
      rp.partition_index = p;
      rp.error_code = code(e);
      t.partitions.push_back(rp);
    }
    resp.topics.push_back(std::move(t));
  }
  return resp;
}

OffsetDeleteResponse unavailable() {
  OffsetDeleteResponse resp;
  resp.error_code = code(ErrorCode::kCoordinatorNotAvailable);
  return resp;
}

}  // namespace

awaitable<OffsetDeleteResponse> handle(RequestContext& ctx, OffsetDeleteRequest& req) {
  if (ctx.broker.groups == nullptr) co_return unavailable();
  std::shared_ptr<coordinator::OffsetDeleteWait> w =
      ctx.broker.groups->delete_offsets(req.group_id, wanted(req));
  co_await w->done.wait();
  co_return response(*w);
}

}  // namespace ks::handlers
