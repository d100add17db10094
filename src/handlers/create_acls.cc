// CreateAcls: ALTER on the cluster; SECURITY_DISABLED with the authorizer off (as Kafka without an
// authorizer). Each creation gets its own result; an invalid one is INVALID_REQUEST.
#include "handlers/acl_errors.h"
#include "handlers/authorized_ops.h"
#include "handlers/handlers.h"
#include "security/acl_store.h"

namespace ks::handlers {
namespace {

CreateAclsResponse all_failed(const CreateAclsRequest& req, ErrorCode e, const std::string& message) {
  CreateAclsResponse resp;
  resp.results = refused<CreateAclsResponse::AclCreationResult>(req.creations.size(), e, message);
  return resp;
}

std::vector<security::AclBinding> bindings(const CreateAclsRequest& req) {
  std::vector<security::AclBinding> out;
  for (const auto& c : req.creations) {
    security::AclBinding b;
    b.resource_type = static_cast<security::ResourceType>(c.resource_type);
    b.resource_name = c.resource_name;
    b.pattern_type = static_cast<security::PatternType>(c.resource_pattern_type);
    b.principal = c.principal;
    b.host = c.host;
    b.operation = static_cast<security::AclOperation>(c.operation);
    b.permission = static_cast<security::AclPermission>(c.permission_type);
    out.push_back(std::move(b));
  }
  return out;
}

}  // namespace

awaitable<CreateAclsResponse> handle(RequestContext& ctx, CreateAclsRequest& req) {
  if (auto no = acl_api_refusal(ctx, security::AclOperation::kAlter))
    co_return all_failed(req, no->error, no->message);
  const std::vector<security::AclBinding> wanted = bindings(req);
  std::vector<Status> results = co_await ctx.broker.acls->create(wanted);
  CreateAclsResponse resp;
  for (const Status& s : results) {
    CreateAclsResponse::AclCreationResult r;
    r.error_code = code(acl_error(s));
    if (!s.ok()) r.error_message = s.message();
    resp.results.push_back(std::move(r));
  }
  co_return resp;
}

}  // namespace ks::handlers
