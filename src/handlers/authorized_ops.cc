#include "handlers/authorized_ops.h"

#include <spdlog/spdlog.h>

#include "common/clock.h"
#include "common/log_budget.h"
#include "common/metrics.h"
#include "handlers/context.h"
#include "security/acl_store.h"

namespace ks::handlers::authz {
namespace {

const std::string& principal(const RequestContext& ctx) {
  return ctx.connection.session ? ctx.connection.session->principal : security::kAnonymous;
}

// The client's IP as ACL hosts name it ("10.0.0.1", "::1").
std::string host(const RequestContext& ctx) { return client_host(ctx.connection.peer).substr(1); }

std::int32_t allowed_bits(const RequestContext& ctx, ResourceType type, const std::string& name) {
  const security::Authorizer& a = ctx.broker.acls->authorizer();
  const std::string h = host(ctx);
  std::int32_t out = 0;
  for (AclOperation op : security::supported_operations(type)) {
    if (a.authorize(principal(ctx), h, op, type, name)) out |= std::int32_t{1} << static_cast<int>(op);
  }
  return out;
}

// Denial lines: at most kAuditBurst per kAuditWindow; the others are counted and reported when the
// next window opens (a client retrying a refused request cannot flood the log).
constexpr int kAuditBurst = 20;
constexpr auto kAuditWindow = std::chrono::seconds(10);

metrics::Counter& denials() {
  static auto& c = metrics::registry().counter("kafscale_authorizer_denials_total",
                                               "Requests or resources the ACLs refused");
  return c;
}

void audit_denial(const RequestContext& ctx, AclOperation op, ResourceType type, const std::string& name) {
  denials().inc();
  static LogBudget budget(kAuditBurst, kAuditWindow);
  log_limited(budget, spdlog::level::info, "authorizer denials",
              "authorizer: denied {} from {} (listener {}): {} on {} {}", security::printable(principal(ctx)),
              host(ctx), ctx.connection.listener(), security::operation_name(op),
              security::resource_type_name(type), security::printable(name));
}

}  // namespace

bool on(const RequestContext& ctx) { return ctx.broker.acls != nullptr; }

bool authorized(const RequestContext& ctx, AclOperation op, ResourceType type, const std::string& name,
                bool audit) {
  if (!on(ctx)) return true;
  if (ctx.broker.acls->authorizer().authorize(principal(ctx), host(ctx), op, type, name)) return true;
  if (audit) audit_denial(ctx, op, type, name);
  return false;
}

bool cluster(const RequestContext& ctx, AclOperation op, bool audit) {
  static const std::string kName(security::kClusterName);
  return authorized(ctx, op, ResourceType::kCluster, kName, audit);
}

std::optional<protocol::ErrorCode> group_refusal(const RequestContext& ctx, AclOperation op,
                                                 const std::string& group_id) {
  if (!group(ctx, op, group_id)) return protocol::ErrorCode::kGroupAuthorizationFailed;
  if (ctx.broker.groups == nullptr) return protocol::ErrorCode::kCoordinatorNotAvailable;
  return std::nullopt;
}

std::function<bool(const std::string& topic)> topic_filter(const RequestContext& ctx, AclOperation op) {
  if (!on(ctx)) return nullptr;
  // The store lives as long as the broker, longer than the coordinator's members.
  const security::AclStore* acls = ctx.broker.acls;
  return [acls, op, who = principal(ctx), from = host(ctx)](const std::string& topic) {
    return acls->authorizer().authorize(who, from, op, ResourceType::kTopic, topic);
  };
}

bool any(const RequestContext& ctx, AclOperation op, ResourceType type) {
  if (!on(ctx)) return true;
  return ctx.broker.acls->authorizer().authorize_any(principal(ctx), host(ctx), op, type);
}

std::int32_t topic_operations(const RequestContext& ctx, bool requested, const std::string& name) {
  if (!requested || !on(ctx)) return topic_operations(requested);
  return allowed_bits(ctx, ResourceType::kTopic, name);
}

std::int32_t group_operations(const RequestContext& ctx, bool requested, const std::string& name) {
  if (!requested || !on(ctx)) return group_operations(requested);
  return allowed_bits(ctx, ResourceType::kGroup, name);
}

std::int32_t cluster_operations(const RequestContext& ctx, bool requested) {
  if (!requested || !on(ctx)) return cluster_operations(requested);
  // Kafka's AuthHelper: nothing unless the caller may DESCRIBE the cluster.
  if (!cluster(ctx, kDescribe, /*audit=*/false)) return 0;
  return allowed_bits(ctx, ResourceType::kCluster, std::string(security::kClusterName));
}

}  // namespace ks::handlers::authz
