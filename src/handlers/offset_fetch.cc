#include "coordinator/coordinator.h"
#include "handlers/authorized_ops.h"
#include "handlers/handlers.h"

namespace ks::handlers {
namespace {

using Resp = OffsetFetchResponse;

// Kafka's answer for a partition without a committed offset.
constexpr std::int64_t kNoOffset = -1;

template <class Topics>
std::optional<coordinator::TopicPartitions> wanted(const std::optional<Topics>& topics) {
  if (!topics) return std::nullopt;
  coordinator::TopicPartitions out;
  for (const auto& t : *topics) out.emplace_back(t.name, t.partition_indexes);
  return out;
}

coordinator::FetchResult fetch_one(
    RequestContext& ctx, const std::string& group, const std::optional<coordinator::TopicPartitions>& topics,
    const std::optional<std::pair<std::string, std::int32_t>>& member = std::nullopt) {
  coordinator::FetchResult r;
  if (!authz::group(ctx, authz::kDescribe, group)) {
    r.error = ErrorCode::kGroupAuthorizationFailed;
    return r;
  }
  if (ctx.broker.groups == nullptr) {
    r.error = ErrorCode::kCoordinatorNotAvailable;
    return r;
  }
  r = ctx.broker.groups->fetch(group, topics, member);
  if (!authz::on(ctx)) return r;
  // Topics the caller may not describe: left out of an all-topics answer, refused when named.
  std::vector<coordinator::FetchedTopic> kept;
  for (auto& t : r.topics) {
    if (authz::topic(ctx, authz::kDescribe, t.name, /*audit=*/topics.has_value())) {
      kept.push_back(std::move(t));
    } else if (topics) {
      for (auto& p : t.partitions) {
        p.offset = kNoOffset;
        p.leader_epoch = -1;
        p.metadata.clear();
        p.error = ErrorCode::kTopicAuthorizationFailed;
      }
      kept.push_back(std::move(t));
    }
  }
  r.topics = std::move(kept);
  return r;
}

// One topic of the answer (the v0-7 and the v8+ layouts have their own types with the same fields).
template <class Topic>
Topic response_topic(const coordinator::FetchedTopic& t) {
  Topic rt;
  rt.name = t.name;
  for (const auto& p : t.partitions) {
    typename decltype(rt.partitions)::value_type rp;
    rp.partition_index = p.partition;
    rp.committed_offset = p.offset;
    rp.committed_leader_epoch = p.leader_epoch;
    rp.metadata = p.metadata;
    rp.error_code = code(p.error);
    rt.partitions.push_back(std::move(rp));
  }
  return rt;
}

Resp build(RequestContext& ctx, const OffsetFetchRequest& req) {
  Resp resp;
  if (ctx.version >= 8) {
    for (const auto& g : req.groups) {
      // v9: a KIP-848 member names itself; its epoch is checked.
      std::optional<std::pair<std::string, std::int32_t>> member;
      if (ctx.version >= 9 && (g.member_id || g.member_epoch >= 0))
        member.emplace(g.member_id.value_or(""), g.member_epoch);
      coordinator::FetchResult r = fetch_one(ctx, g.group_id, wanted(g.topics), member);
      Resp::OffsetFetchResponseGroup out;
      out.group_id = g.group_id;
      out.error_code = code(r.error);
      for (const auto& t : r.topics) {
        out.topics.push_back(response_topic<Resp::OffsetFetchResponseGroup::OffsetFetchResponseTopics>(t));
      }
      resp.groups.push_back(std::move(out));
    }
    return resp;
  }
  // v0-1 cannot ask for all topics (null is read as empty there).
  std::optional<coordinator::TopicPartitions> topics = wanted(req.topics);
  if (ctx.version < 2 && !topics) topics = coordinator::TopicPartitions{};
  coordinator::FetchResult r = fetch_one(ctx, req.group_id, topics);
  resp.error_code = code(r.error);
  if (r.error != ErrorCode::kNone && ctx.version < 2 && topics) {
    // No top-level error before v2: report it on every partition.
    for (const auto& [name, parts] : *topics) {
      coordinator::FetchedTopic ft;
      ft.name = name;
      for (auto p : parts) {
        coordinator::FetchedOffset f;
        f.partition = p;
        f.offset = kNoOffset;
        f.error = r.error;
        ft.partitions.push_back(f);
      }
      r.topics.push_back(std::move(ft));
    }
  }
  for (const auto& t : r.topics) resp.topics.push_back(response_topic<Resp::OffsetFetchResponseTopic>(t));
  return resp;
}

}  // namespace

awaitable<OffsetFetchResponse> handle(RequestContext& ctx, OffsetFetchRequest& req) {
  co_return build(ctx, req);
}

}  // namespace ks::handlers
