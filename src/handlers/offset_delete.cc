#include <set>

#include "coordinator/coordinator.h"
#include "handlers/authorized_ops.h"
#include "handlers/handlers.h"

namespace ks::handlers {
namespace {

// The request topics the caller may not READ (answered TOPIC_AUTHORIZATION_FAILED), decided once.
std::set<std::string> unreadable(const RequestContext& ctx, const OffsetDeleteRequest& req) {
  std::set<std::string> out;
  for (const auto& t : req.topics) {
    if (!authz::topic(ctx, authz::kRead, t.name)) out.insert(t.name);
  }
  return out;
}

coordinator::TopicPartitions wanted(const OffsetDeleteRequest& req, const std::set<std::string>& denied) {
  coordinator::TopicPartitions out;
  for (const auto& t : req.topics) {
    if (denied.count(t.name)) continue;
    std::vector<std::int32_t> parts;
    for (const auto& p : t.partitions) parts.push_back(p.partition_index);
    out.emplace_back(t.name, std::move(parts));
  }
  return out;
}

OffsetDeleteResponse response(const std::set<std::string>& denied, const OffsetDeleteRequest& req,
                              const coordinator::OffsetDeleteWait& w) {
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
  for (const auto& rt : req.topics) {
    if (!denied.count(rt.name)) continue;
    OffsetDeleteResponse::OffsetDeleteResponseTopic t;
    t.name = rt.name;
    for (const auto& p : rt.partitions) {
      OffsetDeleteResponse::OffsetDeleteResponseTopic::OffsetDeleteResponsePartition rp;
      rp.partition_index = p.partition_index;
      rp.error_code = code(ErrorCode::kTopicAuthorizationFailed);
      t.partitions.push_back(rp);
    }
    resp.topics.push_back(std::move(t));
  }
  return resp;
}

OffsetDeleteResponse failed(ErrorCode e) {
  OffsetDeleteResponse resp;
  resp.error_code = code(e);
  return resp;
}

}  // namespace

awaitable<OffsetDeleteResponse> handle(RequestContext& ctx, OffsetDeleteRequest& req) {
  if (auto refused = authz::group_refusal(ctx, authz::kDelete, req.group_id)) co_return failed(*refused);
  const std::set<std::string> denied = unreadable(ctx, req);
  std::shared_ptr<coordinator::OffsetDeleteWait> w =
      ctx.broker.groups->delete_offsets(req.group_id, wanted(req, denied));
  co_await w->done.wait();
  co_return response(denied, req, *w);
}

}  // namespace ks::handlers
