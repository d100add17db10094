// What the ACL APIs share: the error for a Status of the ACL store, and the
// conversions between the messages' ACL fields and security::AclBinding. The
// SCRAM credential APIs use refused() too.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "handlers/authorized_ops.h"
#include "protocol/errors.h"
#include "security/acl.h"

namespace ks::handlers {

inline protocol::ErrorCode acl_error(const Status& s) {
  switch (s.code()) {
    case Errc::ok:
      return protocol::ErrorCode::kNone;
    case Errc::invalid_argument:
      return protocol::ErrorCode::kInvalidRequest;
    case Errc::limit_exceeded:
      return protocol::ErrorCode::kPolicyViolation;
    default:
      return protocol::ErrorCode::kUnknownServerError;
  }
}

// A DescribeAcls request or one DeleteAcls filter (the same field names) as a filter.
template <class Message>
security::AclFilter acl_filter_of(const Message& m) {
  security::AclFilter f;
  f.resource_type = static_cast<security::ResourceType>(m.resource_type_filter);
  f.resource_name = m.resource_name_filter;
  f.pattern_type = static_cast<security::PatternType>(m.pattern_type_filter);
  f.principal = m.principal_filter;
  f.host = m.host_filter;
  f.operation = static_cast<security::AclOperation>(m.operation);
  f.permission = static_cast<security::AclPermission>(m.permission_type);
  return f;
}

// Fills the entry fields every ACL answer has (principal, host, operation, permission).
template <class Entry>
void set_acl_entry(Entry& e, const security::AclBinding& b) {
  e.principal = b.principal;
  e.host = b.host;
  e.operation = static_cast<std::int8_t>(b.operation);
  e.permission_type = static_cast<std::int8_t>(b.permission);
}

// `n` results (error_code, error_message) of one refusal: every entry of a request refused as a whole.
template <class Result>
std::vector<Result> refused(std::size_t n, protocol::ErrorCode e, const std::string& message) {
  std::vector<Result> out(n);
  for (Result& r : out) {
    r.error_code = static_cast<std::int16_t>(e);
    r.error_message = message;
  }
  return out;
}

inline constexpr const char* kNoAuthorizer = "No Authorizer is configured on the broker";

// Why an ACL API may not run: SECURITY_DISABLED with the authorizer off (as
// Kafka without an authorizer), CLUSTER_AUTHORIZATION_FAILED without `op` on
// the cluster; nullopt when it may.
struct AclApiRefusal {
  protocol::ErrorCode error = protocol::ErrorCode::kNone;
  std::string message;
};
inline std::optional<AclApiRefusal> acl_api_refusal(const RequestContext& ctx, security::AclOperation op) {
  if (!authz::on(ctx)) return AclApiRefusal{protocol::ErrorCode::kSecurityDisabled, kNoAuthorizer};
  if (!authz::cluster(ctx, op)) {
    return AclApiRefusal{protocol::ErrorCode::kClusterAuthorizationFailed,
                         "Cluster authorization failed (" + std::string(security::operation_name(op)) +
                             " on the cluster is needed)."};
  }
  return std::nullopt;
}

}  // namespace ks::handlers
