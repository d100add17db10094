#include "coordinator/coordinator.h"
#include "handlers/authorized_ops.h"
#include "handlers/handlers.h"

namespace ks::handlers {
namespace {

// Per request topic: may the caller READ it (Kafka commits only those; the others get
// TOPIC_AUTHORIZATION_FAILED).
std::vector<bool> readable(const RequestContext& ctx, const OffsetCommitRequest& req) {
  std::vector<bool> out;
  for (const auto& t : req.topics) out.push_back(authz::topic(ctx, authz::kRead, t.name));
  return out;
}

coordinator::CommitParams params(const RequestContext& ctx, const OffsetCommitRequest& req,
                                 const std::vector<bool>& allowed) {
  coordinator::CommitParams p;
  p.group_id = req.group_id;
  // v0 has no generation: a simple commit.
  p.generation = ctx.version >= 1 ? req.generation_id_or_member_epoch : -1;
  p.member_id = req.member_id;
  p.instance_id = req.group_instance_id;
  p.group_not_found_error = ctx.version >= 9;
  p.member_epoch_version = ctx.version >= 9;
  for (std::size_t ti = 0; ti < req.topics.size(); ++ti) {
    const auto& t = req.topics[ti];
    if (!allowed[ti]) continue;
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

// `errors`: the coordinator's, one per partition of an allowed topic; `whole`: one error for all.
OffsetCommitResponse response(const OffsetCommitRequest& req, const std::vector<bool>& allowed,
                              const std::vector<ErrorCode>& errors,
                              ErrorCode whole = ErrorCode::kCoordinatorNotAvailable) {
  OffsetCommitResponse resp;
  std::size_t i = 0;
  for (std::size_t ti = 0; ti < req.topics.size(); ++ti) {
    const auto& t = req.topics[ti];
    OffsetCommitResponse::OffsetCommitResponseTopic rt;
    rt.name = t.name;
    for (const auto& part : t.partitions) {
      OffsetCommitResponse::OffsetCommitResponseTopic::OffsetCommitResponsePartition rp;
      rp.partition_index = part.partition_index;
      if (ti < allowed.size() && !allowed[ti]) {
        rp.error_code = code(ErrorCode::kTopicAuthorizationFailed);
      } else {
        rp.error_code = code(i < errors.size() ? errors[i] : whole);
        ++i;
      }
      rt.partitions.push_back(rp);
    }
    resp.topics.push_back(std::move(rt));
  }
  return resp;
}

OffsetCommitResponse failed(const OffsetCommitRequest& req, ErrorCode e) { return response(req, {}, {}, e); }

}  // namespace

awaitable<OffsetCommitResponse> handle(RequestContext& ctx, OffsetCommitRequest& req) {
  // READ on the group (every partition fails without it), then READ on each topic.
  if (auto refused = authz::group_refusal(ctx, authz::kRead, req.group_id)) co_return failed(req, *refused);
  const std::vector<bool> allowed = readable(ctx, req);
  // Answered once the offsets are durable in the metadata store.
  std::shared_ptr<coordinator::CommitWait> w = ctx.broker.groups->commit(params(ctx, req, allowed));
  co_await w->done.wait();
  co_return response(req, allowed, w->errors);
}

}  // namespace ks::handlers
