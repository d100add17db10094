#include "handlers/handlers.h"

namespace ks::handlers {

// The ranges come from the API table, itself generated from the message
// declarations; the unsupported-version reply is built by the dispatcher.
awaitable<ApiVersionsResponse> handle(RequestContext& ctx, ApiVersionsRequest& req) {
  co_return make_api_versions_response(ctx.version);
}

}  // namespace ks::handlers
