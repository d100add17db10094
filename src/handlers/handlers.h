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
// Idempotent producers, retention and admin (issue 3).
awaitable<InitProducerIdResponse> handle(RequestContext& ctx, InitProducerIdRequest& req);
awaitable<DeleteRecordsResponse> handle(RequestContext& ctx, DeleteRecordsRequest& req);
awaitable<OffsetForLeaderEpochResponse> handle(RequestContext& ctx, OffsetForLeaderEpochRequest& req);
awaitable<CreatePartitionsResponse> handle(RequestContext& ctx, CreatePartitionsRequest& req);
awaitable<DescribeConfigsResponse> handle(RequestContext& ctx, DescribeConfigsRequest& req);
awaitable<AlterConfigsResponse> handle(RequestContext& ctx, AlterConfigsRequest& req);
awaitable<IncrementalAlterConfigsResponse> handle(RequestContext& ctx, IncrementalAlterConfigsRequest& req);
awaitable<DescribeClusterResponse> handle(RequestContext& ctx, DescribeClusterRequest& req);
// Consumer groups (the coordinator in ctx.broker.groups).
awaitable<FindCoordinatorResponse> handle(RequestContext& ctx, FindCoordinatorRequest& req);
awaitable<JoinGroupResponse> handle(RequestContext& ctx, JoinGroupRequest& req);
awaitable<SyncGroupResponse> handle(RequestContext& ctx, SyncGroupRequest& req);
awaitable<HeartbeatResponse> handle(RequestContext& ctx, HeartbeatRequest& req);
awaitable<LeaveGroupResponse> handle(RequestContext& ctx, LeaveGroupRequest& req);
awaitable<OffsetCommitResponse> handle(RequestContext& ctx, OffsetCommitRequest& req);
awaitable<OffsetFetchResponse> handle(RequestContext& ctx, OffsetFetchRequest& req);
awaitable<DescribeGroupsResponse> handle(RequestContext& ctx, DescribeGroupsRequest& req);
awaitable<ListGroupsResponse> handle(RequestContext& ctx, ListGroupsRequest& req);
awaitable<DeleteGroupsResponse> handle(RequestContext& ctx, DeleteGroupsRequest& req);
awaitable<OffsetDeleteResponse> handle(RequestContext& ctx, OffsetDeleteRequest& req);
// KIP-848 consumer groups.
awaitable<ConsumerGroupHeartbeatResponse> handle(RequestContext& ctx, ConsumerGroupHeartbeatRequest& req);
awaitable<ConsumerGroupDescribeResponse> handle(RequestContext& ctx, ConsumerGroupDescribeRequest& req);
// ACLs (security/acl_store.h; BrokerContext::acls).
awaitable<DescribeAclsResponse> handle(RequestContext& ctx, DescribeAclsRequest& req);
awaitable<CreateAclsResponse> handle(RequestContext& ctx, CreateAclsRequest& req);
awaitable<DeleteAclsResponse> handle(RequestContext& ctx, DeleteAclsRequest& req);
// SCRAM credentials (scram_admin.h; security/scram_store.h).
awaitable<DescribeUserScramCredentialsResponse> handle(RequestContext& ctx,
                                                       DescribeUserScramCredentialsRequest& req);
awaitable<AlterUserScramCredentialsResponse> handle(RequestContext& ctx,
                                                    AlterUserScramCredentialsRequest& req);
// Authentication on SASL listeners (sasl.cc; the mechanisms in security/sasl.h).
awaitable<SaslHandshakeResponse> handle(RequestContext& ctx, SaslHandshakeRequest& req);
awaitable<SaslAuthenticateResponse> handle(RequestContext& ctx, SaslAuthenticateRequest& req);

}  // namespace ks::handlers
