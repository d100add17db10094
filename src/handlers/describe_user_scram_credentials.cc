// DescribeUserScramCredentials (KIP-554): DESCRIBE on the cluster. The users
// asked for (null or empty: every user with a credential) with the mechanism
// and iterations of each credential; never a salt or key. Kafka's per-user
// errors: DUPLICATE_RESOURCE for a name asked twice, RESOURCE_NOT_FOUND for a
// user without credentials.
#include <map>
#include <set>

#include "handlers/acl_errors.h"
#include "handlers/authorized_ops.h"
#include "handlers/handlers.h"
#include "handlers/scram_admin.h"

namespace ks::handlers {
namespace {

using Result_ = DescribeUserScramCredentialsResponse::DescribeUserScramCredentialsResult;

DescribeUserScramCredentialsResponse failed(const DescribeUserScramCredentialsRequest& req, ErrorCode e,
                                            const std::string& message) {
  DescribeUserScramCredentialsResponse resp;
  resp.error_code = code(e);
  resp.error_message = message;
  if (req.users) {
    resp.results = refused<Result_>(req.users->size(), e, message);
    for (std::size_t i = 0; i < req.users->size(); ++i) resp.results[i].user = (*req.users)[i].name;
  }
  return resp;
}

Result_ described(const std::string& user, const std::vector<security::ScramCredentialInfo>& creds) {
  Result_ r;
  r.user = user;
  for (const auto& c : creds) {
    Result_::CredentialInfo info;
    info.mechanism = scram_mechanism_code(c.hash);
    info.iterations = c.iterations;
    r.credential_infos.push_back(info);
  }
  return r;
}

DescribeUserScramCredentialsResponse answer(const DescribeUserScramCredentialsRequest& req,
                                            const ScramCredentials& all) {
  DescribeUserScramCredentialsResponse resp;
  if (!req.users || req.users->empty()) {
    for (const auto& [user, creds] : all) resp.results.push_back(described(user, creds));
    return resp;
  }
  std::map<std::string, int> asked;
  for (const auto& u : *req.users) ++asked[u.name];
  for (const auto& u : *req.users) {
    Result_ r;
    r.user = u.name;
    auto it = all.find(u.name);
    if (asked[u.name] > 1) {
      r.error_code = code(ErrorCode::kDuplicateResource);
      r.error_message =
          "Cannot describe SCRAM credentials for the same user twice in a single request: " + u.name;
    } else if (it == all.end()) {
      r.error_code = code(ErrorCode::kResourceNotFound);
      r.error_message = "Attempt to describe a user credential that does not exist: " + u.name;
    } else {
      r = described(u.name, it->second);
    }
    resp.results.push_back(std::move(r));
  }
  return resp;
}

}  // namespace

awaitable<DescribeUserScramCredentialsResponse> handle(RequestContext& ctx,
                                                       DescribeUserScramCredentialsRequest& req) {
  if (!authz::cluster(ctx, security::AclOperation::kDescribe)) {
    co_return failed(req, ErrorCode::kClusterAuthorizationFailed,
                     "Cluster authorization failed (DESCRIBE on the cluster is needed).");
  }
  if (ctx.broker.meta == nullptr) co_return failed(req, ErrorCode::kUnknownServerError, kNoMetadataStore);
  Result<ScramCredentials> all = co_await list_scram(*ctx.broker.meta);
  if (!all.ok()) co_return failed(req, to_kafka_error(all.code()), all.status().message());
  co_return answer(req, *all);
}

}  // namespace ks::handlers
