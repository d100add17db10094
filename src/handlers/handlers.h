// One handler per Kafka API (one .cc file each). The dispatcher calls
// handle(ctx, request) for the request type the API table names, so an API
// declared in protocol/messages without a handler here fails to compile.
#pragma once

#include <optional>

#include "handlers/context.h"
#include "protocol/generated/api_table.h"

namespace ks::handlers {

using namespace ks::protocol;  // NOLINT: message types

awaitable<ApiVersionsResponse> handle(RequestContext& ctx, ApiVersionsRequest& req);
awaitable<MetadataResponse> handle(RequestContext& ctx, MetadataRequest& req);
// nullopt: no response (acks=0).
awaitable<std::optional<ProduceResponse>> handle(RequestContext& ctx, ProduceRequest& req);
awaitable<FetchResponse> handle(RequestContext& ctx, FetchRequest& req);
awaitable<ListOffsetsResponse> handle(RequestContext& ctx, ListOffsetsRequest& req);
awaitable<CreateTopicsResponse> handle(RequestContext& ctx, CreateTopicsRequest& req);
awaitable<DeleteTopicsResponse> handle(RequestContext& ctx, DeleteTopicsRequest& req);

}  // namespace ks::handlers
