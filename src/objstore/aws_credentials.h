// AWS credentials for the S3 backend (its text helpers are in aws_text.h).
//
// Credentials never come from the command line, and this module never reads
// the process environment itself: the caller passes an EnvLookup (the
// broker's, or a map in tests). The default chain, first match wins:
//   1. AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN);
//   2. the shared credentials file (AWS_SHARED_CREDENTIALS_FILE, else
//      ~/.aws/credentials), profile AWS_PROFILE or "default";
//   3. web identity: AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN exchanged via
//      STS AssumeRoleWithWebIdentity at AWS_STS_ENDPOINT (else the regional
//      STS URL for AWS_REGION, else https://sts.amazonaws.com), refreshed
//      before the temporary credentials expire.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/env.h"
#include "common/status.h"
#include "objstore/aws_text.h"

namespace ks::objstore {

struct AwsCredentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // empty unless temporary credentials
  // Set for temporary credentials; the provider refreshes ahead of it.
  std::optional<std::chrono::system_clock::time_point> expiration;
};

// Thread-safe source of the current credentials.
class CredentialsProvider {
 public:
  virtual ~CredentialsProvider() = default;
  // Current credentials, refreshed first when they are about to expire.
  virtual Result<AwsCredentials> get() = 0;
  // Where they come from, without secrets ("environment", "file ~/.aws/credentials [default]").
  virtual std::string describe() const = 0;
};

std::shared_ptr<CredentialsProvider> static_credentials(AwsCredentials creds,
                                                        std::string description = "static");

// The chain above, reading the variables through `env` (an empty value
// counts as unset). unavailable when nothing is configured;
// invalid_argument for half-configured sources (a key id without its
// secret, a missing profile, an unreadable token file).
Result<std::shared_ptr<CredentialsProvider>> default_credentials_provider(const EnvLookup& env);

// Parses the INI-style shared credentials file text and returns `profile`
// (aws_access_key_id, aws_secret_access_key, optional aws_session_token).
// not_found when the profile is absent, invalid_argument when incomplete.
Result<AwsCredentials> parse_shared_credentials(std::string_view text, std::string_view profile);

struct WebIdentityConfig {
  std::string token_file;  // re-read on every refresh (it is rotated)
  std::string role_arn;
  std::string session_name;  // default: "kafscale-<pid>"
  std::string sts_endpoint;  // full URL, e.g. https://sts.amazonaws.com
  std::chrono::seconds duration{3600};
  // Refresh this long before expiry.
  std::chrono::seconds refresh_margin{300};
  std::chrono::milliseconds timeout{10000};  // per STS request
};
std::shared_ptr<CredentialsProvider> web_identity_credentials(WebIdentityConfig config);

// Parses an AssumeRoleWithWebIdentity response body (or its ErrorResponse).
Result<AwsCredentials> parse_assume_role_response(std::string_view xml);

}  // namespace ks::objstore
