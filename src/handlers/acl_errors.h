// What the ACL APIs answer for a Status of the ACL store.
#pragma once

#include "common/status.h"
#include "protocol/errors.h"

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

inline constexpr const char* kNoAuthorizer = "No Authorizer is configured on the broker";

}  // namespace ks::handlers
