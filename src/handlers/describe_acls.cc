// DescribeAcls: DESCRIBE on the cluster; SECURITY_DISABLED with the authorizer off (as Kafka
// without an authorizer). The matching ACLs grouped by resource pattern.
#include <map>
#include <tuple>

#include "handlers/acl_errors.h"
#include "handlers/authorized_ops.h"
#include "handlers/handlers.h"
#include "security/acl_store.h"

namespace ks::handlers {
namespace {

DescribeAclsResponse failed(ErrorCode e, const std::string& message) {
  DescribeAclsResponse resp;
  resp.error_code = code(e);
  resp.error_message = message;
  return resp;
}

DescribeAclsResponse describe(const security::AclStore& acls, const security::AclFilter& f) {
  using Pattern = std::tuple<std::int8_t, std::string, std::int8_t>;
  std::map<Pattern, std::vector<DescribeAclsResponse::DescribeAclsResource::AclDescription>> by_pattern;
  for (const security::AclBinding& b : acls.describe(f)) {
    DescribeAclsResponse::DescribeAclsResource::AclDescription d;
    set_acl_entry(d, b);
    by_pattern[Pattern(static_cast<std::int8_t>(b.resource_type), b.resource_name,
                       static_cast<std::int8_t>(b.pattern_type))]
        .push_back(std::move(d));
  }
  DescribeAclsResponse resp;
  for (auto& [pattern, list] : by_pattern) {
    DescribeAclsResponse::DescribeAclsResource r;
    r.resource_type = std::get<0>(pattern);
    r.resource_name = std::get<1>(pattern);
    r.pattern_type = std::get<2>(pattern);
    r.acls = std::move(list);
    resp.resources.push_back(std::move(r));
  }
  return resp;
}

}  // namespace

awaitable<DescribeAclsResponse> handle(RequestContext& ctx, DescribeAclsRequest& req) {
  if (auto no = acl_api_refusal(ctx, security::AclOperation::kDescribe))
    co_return failed(no->error, no->message);
  const security::AclFilter f = acl_filter_of(req);
  if (auto why = security::validate(f)) co_return failed(ErrorCode::kInvalidRequest, *why);
  co_return describe(*ctx.broker.acls, f);
}

}  // namespace ks::handlers
