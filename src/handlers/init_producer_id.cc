#include "handlers/authorized_ops.h"
#include "handlers/handlers.h"

namespace ks::handlers {

// Idempotent producers only. As Kafka does for a producer without a
// transactional id, every call hands out a fresh producer id at epoch 0
// (also when v3+ passes its current id and epoch).
awaitable<InitProducerIdResponse> handle(RequestContext& ctx, InitProducerIdRequest& req) {
  InitProducerIdResponse resp;
  resp.producer_id = -1;
  resp.producer_epoch = -1;
  if (req.transactional_id.has_value()) {
    // Transactions are not supported: fail fast and clearly.
    resp.error_code = code(ErrorCode::kTransactionalIdAuthorizationFailed);
    co_return resp;
  }
  // An idempotent producer: IDEMPOTENT_WRITE on the cluster, or WRITE on some topic (Kafka 2.8+).
  if (!authz::cluster(ctx, authz::kIdempotentWrite, /*audit=*/false) &&
      !authz::any(ctx, authz::kWrite, security::ResourceType::kTopic)) {
    (void)authz::cluster(ctx, authz::kIdempotentWrite);  // counted and logged as the denial
    resp.error_code = code(ErrorCode::kClusterAuthorizationFailed);
    co_return resp;
  }
  auto id = co_await ctx.broker.log.allocate_producer_id();
  if (!id.ok()) {
    // Retriable for the client (it retries InitProducerId).
    resp.error_code = code(ErrorCode::kCoordinatorNotAvailable);
    co_return resp;
  }
  resp.producer_id = *id;
  resp.producer_epoch = 0;
  co_return resp;
}

}  // namespace ks::handlers
