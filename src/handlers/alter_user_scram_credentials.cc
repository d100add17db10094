// AlterUserScramCredentials (KIP-554): ALTER on the cluster, and only over TLS
// (SSL or SASL_SSL listeners): the salted password it carries logs in as the
// user to anyone who reads it. One result per user named in the request, in
// the order of first appearance; a user's changes apply together or not at all.
// Kafka's per-user errors: UNACCEPTABLE_CREDENTIAL (empty name, iterations
// outside 4096..16384), UNSUPPORTED_SASL_MECHANISM, DUPLICATE_RESOURCE (a user
// and mechanism twice in one request), RESOURCE_NOT_FOUND (deleting what does
// not exist).
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>
#include <utility>

#include "handlers/acl_errors.h"
#include "handlers/authorized_ops.h"
#include "handlers/handlers.h"
#include "handlers/scram_admin.h"
#include "net/server.h"
#include "security/session.h"

namespace ks::handlers {
namespace {

using UserResult = AlterUserScramCredentialsResponse::AlterUserScramCredentialsResult;

// One user's part of the request, validated.
struct UserChanges {
  std::string user;
  ErrorCode error = ErrorCode::kNone;
  std::string message;
  std::vector<security::ScramHash> remove;
  std::vector<security::ScramCredential> upsert;
  std::set<security::ScramHash> seen;

  void fail(ErrorCode e, std::string m) {
    if (error != ErrorCode::kNone) return;  // the first problem is the answer
    error = e;
    message = std::move(m);
  }
  // The mechanism of one deletion or upsertion; fails the user for an unknown one or a repeat.
  std::optional<security::ScramHash> mechanism(std::int8_t code) {
    auto h = scram_mechanism_of(code);
    if (!h) {
      fail(ErrorCode::kUnsupportedSaslMechanism, "Unknown SCRAM mechanism");
      return std::nullopt;
    }
    if (!seen.insert(*h).second) {
      fail(ErrorCode::kDuplicateResource, "A user credential cannot be altered twice in the same request");
      return std::nullopt;
    }
    return h;
  }
};

std::vector<UserChanges> by_user(const AlterUserScramCredentialsRequest& req) {
  std::vector<UserChanges> users;
  std::map<std::string, std::size_t> index;
  auto of = [&](const std::string& name) -> UserChanges& {
    auto [it, added] = index.emplace(name, users.size());
    if (added) {
      users.emplace_back();
      users.back().user = name;
      if (name.empty()) users.back().fail(ErrorCode::kUnacceptableCredential, "Username must not be empty");
    }
    return users[it->second];
  };
  for (const auto& d : req.deletions) {
    UserChanges& u = of(d.name);
    if (auto h = u.mechanism(d.mechanism)) u.remove.push_back(*h);
  }
  for (const auto& x : req.upsertions) {
    UserChanges& u = of(x.name);
    auto h = u.mechanism(x.mechanism);
    if (!h) continue;
    if (x.iterations < security::kMinScramIterations) {
      u.fail(ErrorCode::kUnacceptableCredential, "Too few iterations");
      continue;
    }
    if (x.iterations > security::kMaxScramIterations) {
      u.fail(ErrorCode::kUnacceptableCredential, "Too many iterations");
      continue;
    }
    auto cred = security::scram_credential_from_salted(*h, x.salt, x.salted_password, x.iterations);
    if (!cred.ok()) {
      u.fail(ErrorCode::kUnacceptableCredential, cred.status().message());
      continue;
    }
    u.upsert.push_back(std::move(*cred));
  }
  return users;
}

AlterUserScramCredentialsResponse all_failed(const std::vector<UserChanges>& users, ErrorCode e,
                                             const std::string& message) {
  AlterUserScramCredentialsResponse resp;
  resp.results = refused<UserResult>(users.size(), e, message);
  for (std::size_t i = 0; i < users.size(); ++i) resp.results[i].user = users[i].user;
  return resp;
}

// Upsertions of `u` for mechanisms it has no credential for yet.
std::size_t new_credentials(const ScramCredentials& existing, const UserChanges& u) {
  auto it = existing.find(u.user);
  std::size_t n = 0;
  for (const auto& c : u.upsert) {
    const bool has =
        it != existing.end() && std::any_of(it->second.begin(), it->second.end(),
                                            [&](const auto& info) { return info.hash == c.hash; });
    if (!has) ++n;
  }
  return n;
}

bool over_tls(const RequestContext& ctx) {
  const auto& s = ctx.connection.session;
  return s != nullptr && security::uses_tls(s->protocol);
}

}  // namespace

awaitable<AlterUserScramCredentialsResponse> handle(RequestContext& ctx,
                                                    AlterUserScramCredentialsRequest& req) {
  std::vector<UserChanges> users = by_user(req);
  if (!authz::cluster(ctx, security::AclOperation::kAlter)) {
    co_return all_failed(users, ErrorCode::kClusterAuthorizationFailed,
                         "Cluster authorization failed (ALTER on the cluster is needed).");
  }
  if (!over_tls(ctx)) {
    co_return all_failed(
        users, ErrorCode::kUnacceptableCredential,
        fmt::format("SCRAM credentials are altered only over TLS (an SSL or SASL_SSL listener); "
                    "this connection came in on listener '{}'",
                    ctx.connection.listener()));
  }
  if (ctx.broker.meta == nullptr)
    co_return all_failed(users, ErrorCode::kUnknownServerError, kNoMetadataStore);
  // The limit is checked against what the store holds now (two brokers altering at once may pass it by
  // their requests' size: it bounds growth, it is not a quota).
  Result<ScramCredentials> existing = co_await list_scram(*ctx.broker.meta);
  if (!existing.ok())
    co_return all_failed(users, to_kafka_error(existing.code()), existing.status().message());
  std::size_t total = 0;
  for (const auto& [user, creds] : *existing) total += creds.size();
  AlterUserScramCredentialsResponse resp;
  for (std::size_t i = 0; i < users.size(); ++i) {
    UserResult r;
    r.user = users[i].user;
    const std::size_t added = new_credentials(*existing, users[i]);
    const std::size_t after = total + added - std::min(total + added, users[i].remove.size());
    if (users[i].error == ErrorCode::kNone && after > total && after > ctx.broker.max_scram_credentials) {
      users[i].fail(ErrorCode::kPolicyViolation,
                    fmt::format("SCRAM credentials are at the limit (max-scram-credentials = {})",
                                ctx.broker.max_scram_credentials));
    }
    if (users[i].error == ErrorCode::kNone) {
      Status s = co_await alter_scram(*ctx.broker.meta, users[i].user, users[i].remove, users[i].upsert);
      if (s.ok()) total = after;
      if (s.code() == Errc::not_found) {
        users[i].fail(ErrorCode::kResourceNotFound, s.message());
      } else if (!s.ok()) {
        users[i].fail(to_kafka_error(s.code()), s.message());
      }
    }
    r.error_code = code(users[i].error);
    if (users[i].error != ErrorCode::kNone) r.error_message = users[i].message;
    resp.results.push_back(std::move(r));
  }
  co_return resp;
}

}  // namespace ks::handlers
