// DeleteAcls: ALTER on the cluster; SECURITY_DISABLED with the authorizer off (as Kafka without an
// authorizer). Per filter, the ACLs it matched and removed.
#include "handlers/acl_errors.h"
#include "handlers/authorized_ops.h"
#include "handlers/handlers.h"
#include "security/acl_store.h"

namespace ks::handlers {
namespace {

DeleteAclsResponse all_failed(const DeleteAclsRequest& req, ErrorCode e, const std::string& message) {
  DeleteAclsResponse resp;
  resp.filter_results = refused<DeleteAclsResponse::DeleteAclsFilterResult>(req.filters.size(), e, message);
  return resp;
}

std::vector<security::AclFilter> filters(const DeleteAclsRequest& req) {
  std::vector<security::AclFilter> out;
  for (const auto& x : req.filters) out.push_back(acl_filter_of(x));
  return out;
}

DeleteAclsResponse::DeleteAclsFilterResult result(const security::AclDeleteResult& d) {
  DeleteAclsResponse::DeleteAclsFilterResult r;
  r.error_code = code(acl_error(d.status));
  if (!d.status.ok()) r.error_message = d.status.message();
  for (const security::AclBinding& b : d.deleted) {
    DeleteAclsResponse::DeleteAclsFilterResult::DeleteAclsMatchingAcl m;
    m.error_code = 0;
    m.resource_type = static_cast<std::int8_t>(b.resource_type);
    m.resource_name = b.resource_name;
    m.pattern_type = static_cast<std::int8_t>(b.pattern_type);
    set_acl_entry(m, b);
    r.matching_acls.push_back(std::move(m));
  }
  return r;
}

}  // namespace

awaitable<DeleteAclsResponse> handle(RequestContext& ctx, DeleteAclsRequest& req) {
  if (auto no = acl_api_refusal(ctx, security::AclOperation::kAlter))
    co_return all_failed(req, no->error, no->message);
  const std::vector<security::AclFilter> wanted = filters(req);
  std::vector<security::AclDeleteResult> results = co_await ctx.broker.acls->remove(wanted);
  DeleteAclsResponse resp;
  for (const auto& d : results) resp.filter_results.push_back(result(d));
  co_return resp;
}

}  // namespace ks::handlers
