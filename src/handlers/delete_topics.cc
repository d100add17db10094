#include "handlers/authorized_ops.h"
#include "handlers/handlers.h"

namespace ks::handlers {

awaitable<DeleteTopicsResponse> handle(RequestContext& ctx, DeleteTopicsRequest& req) {
  DeleteTopicsResponse resp;
  auto& log = ctx.broker.log;
  // v0-5 name topics; v6 names or ids.
  std::vector<DeleteTopicsRequest::DeleteTopicState> wanted = req.topics;
  for (const auto& n : req.topic_names) {
    DeleteTopicsRequest::DeleteTopicState s;
    s.name = n;
    wanted.push_back(std::move(s));
  }
  for (const auto& w : wanted) {
    DeleteTopicsResponse::DeletableTopicResult out;
    const cluster::TopicInfo* t = nullptr;
    ErrorCode missing = ErrorCode::kUnknownTopicOrPartition;
    if (w.name.has_value()) {
      t = log.topic(*w.name);
      out.name = w.name;
    } else {
      t = log.topic_by_id(w.topic_id.bytes);
      missing = ErrorCode::kUnknownTopicId;
    }
    out.topic_id = w.topic_id;
    // DELETE on the topic (by name even when it is unknown; by id only when known).
    std::optional<std::string> checked = w.name;
    if (t != nullptr) checked = t->record.name;
    if (checked && !authz::topic(ctx, authz::kDelete, *checked)) {
      out.error_code = code(ErrorCode::kTopicAuthorizationFailed);
      out.error_message = "Authorization failed.";
    } else if (t == nullptr) {
      out.error_code = code(missing);
      out.error_message = "This server does not host this topic.";
    } else {
      std::string name = t->record.name;
      out.name = name;
      out.topic_id.bytes = t->record.id;
      auto s = co_await log.delete_topic(name);
      if (!s.ok()) {
        out.error_code = code(to_kafka_error(s.code()));
        out.error_message = s.message();
      }
    }
    resp.responses.push_back(std::move(out));
  }
  co_return resp;
}

}  // namespace ks::handlers
