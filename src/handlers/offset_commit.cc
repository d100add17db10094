#include "coordinator/coordinator.h"
#include "handlers/handlers.h"

namespace ks::handlers {
namespace {

coordinator::CommitParams params(const RequestContext& ctx, const OffsetCommitRequest& req) {
  coordinator::CommitParams p;
  p.group_id = req.group_id;
  // v0 has no generation: a simple commit.
  p.generation = ctx.version >= 1 ? req.generation_id_or_member_epoch : -1;
  p.member_id = req.member_id;
  p.instance_id = req.group_instance_id;
  p.group_not_found_error = ctx.version >= 9;
  p.member_epoch_version = ctx.version >= 9;
  for (const auto& t : req.topics) {
    for (const auto& part : t.partitions) {
      coordinator::CommitPartition cp;
      cp.topic = t.name;
      cp.partition = part.partition_index;
      cp.offset = part.committed_offset;
      cp.leader_epoch = part.committed_leader_epoch;
      cp.metadata = part.committed_metadata;
      p.partitions.push_back(std::move(cp));
    }
  }
  return p;
}

OffsetCommitResponse response(const OffsetCommitRequest& req, const std::vector<ErrorCode>& errors) {
  OffsetCommitResponse resp;
  std::size_t i = 0;
  for (const auto& t : req.topics) {
    OffsetCommitResponse::OffsetCommitResponseTopic rt;
    rt.name = t.name;
    for (const auto& part : t.partitions) {
      OffsetCommitResponse::OffsetCommitResponseTopic::OffsetCommitResponsePartition rp;
      rp.partition_index = part.partition_index;
      rp.error_code = code(i < errors.size() ? errors[i] : ErrorCode::kCoordinatorNotAvailable);
      ++i;
      rt.partitions.push_back(rp);
    }
    resp.topics.push_back(std::move(rt));
  }
  return resp;
}

OffsetCommitResponse unavailable(const OffsetCommitRequest& req) { return response(req, {}); }

}  // namespace

awaitable<OffsetCommitResponse> handle(RequestContext& ctx, OffsetCommitRequest& req) {
  if (ctx.broker.groups == nullptr) co_return unavailable(req);
  // Answered once the offsets are durable in the metadata store.
  std::shared_ptr<coordinator::CommitWait> w = ctx.broker.groups->commit(params(ctx, req));
  co_await w->done.wait();
  co_return response(req, w->errors);
}

}  // namespace ks::handlers
