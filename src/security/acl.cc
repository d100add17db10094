#include "security/acl.h"

#include <cctype>

namespace ks::security {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// "Type:name" with both parts non-empty (Kafka's SecurityUtils.parseKafkaPrincipal).
bool valid_principal(std::string_view p) {
  std::size_t colon = p.find(':');
  return colon != std::string_view::npos && colon > 0 && colon + 1 < p.size();
}

bool in_range(int v, int lo, int hi) { return v >= lo && v <= hi; }

bool matches_principal(const AclBinding& a, const std::string& principal) {
  return a.principal == principal || a.principal == kWildcardPrincipal;
}
bool matches_host(const AclBinding& a, const std::string& host) {
  return a.host == host || a.host == kWildcard;
}

// Does an ACL (already matching the resource) apply to this principal, host and permission, for `op`
// or ALL?
bool applies(const AclBinding& a, const std::string& principal, const std::string& host, AclOperation op,
             AclPermission perm) {
  return a.permission == perm && (a.operation == op || a.operation == AclOperation::kAll) &&
         matches_principal(a, principal) && matches_host(a, host);
}

}  // namespace

std::string_view operation_name(AclOperation op) {
  switch (op) {
    case AclOperation::kUnknown:
      return "UNKNOWN";
    case AclOperation::kAny:
      return "ANY";
    case AclOperation::kAll:
      return "ALL";
    case AclOperation::kRead:
      return "READ";
    case AclOperation::kWrite:
      return "WRITE";
    case AclOperation::kCreate:
      return "CREATE";
    case AclOperation::kDelete:
      return "DELETE";
    case AclOperation::kAlter:
      return "ALTER";
    case AclOperation::kDescribe:
      return "DESCRIBE";
    case AclOperation::kClusterAction:
      return "CLUSTER_ACTION";
    case AclOperation::kDescribeConfigs:
      return "DESCRIBE_CONFIGS";
    case AclOperation::kAlterConfigs:
      return "ALTER_CONFIGS";
    case AclOperation::kIdempotentWrite:
      return "IDEMPOTENT_WRITE";
    case AclOperation::kCreateTokens:
      return "CREATE_TOKENS";
    case AclOperation::kDescribeTokens:
      return "DESCRIBE_TOKENS";
    case AclOperation::kTwoPhaseCommit:
      return "TWO_PHASE_COMMIT";
  }
  return "UNKNOWN";
}

std::string_view resource_type_name(ResourceType t) {
  switch (t) {
    case ResourceType::kAny:
      return "ANY";
    case ResourceType::kTopic:
      return "TOPIC";
    case ResourceType::kGroup:
      return "GROUP";
    case ResourceType::kCluster:
      return "CLUSTER";
    case ResourceType::kTransactionalId:
      return "TRANSACTIONAL_ID";
    case ResourceType::kDelegationToken:
      return "DELEGATION_TOKEN";
    case ResourceType::kUser:
      return "USER";
    case ResourceType::kUnknown:
      break;
  }
  return "UNKNOWN";
}

std::string_view pattern_type_name(PatternType p) {
  switch (p) {
    case PatternType::kAny:
      return "ANY";
    case PatternType::kMatch:
      return "MATCH";
    case PatternType::kLiteral:
      return "LITERAL";
    case PatternType::kPrefixed:
      return "PREFIXED";
    case PatternType::kUnknown:
      break;
  }
  return "UNKNOWN";
}

std::string_view permission_name(AclPermission p) {
  switch (p) {
    case AclPermission::kAny:
      return "ANY";
    case AclPermission::kDeny:
      return "DENY";
    case AclPermission::kAllow:
      return "ALLOW";
    case AclPermission::kUnknown:
      break;
  }
  return "UNKNOWN";
}

std::optional<std::string> validate(const AclBinding& b) {
  switch (b.resource_type) {
    case ResourceType::kTopic:
    case ResourceType::kGroup:
    case ResourceType::kCluster:
    case ResourceType::kTransactionalId:
      break;
    default:
      return "unsupported resource type " + std::to_string(static_cast<int>(b.resource_type));
  }
  if (b.pattern_type != PatternType::kLiteral && b.pattern_type != PatternType::kPrefixed) {
    return "the pattern type must be LITERAL or PREFIXED";
  }
  if (b.resource_name.empty()) return "Invalid empty resource name specified";
  if (b.resource_type == ResourceType::kCluster &&
      (b.resource_name != kClusterName || b.pattern_type != PatternType::kLiteral)) {
    return "The only valid name for the CLUSTER resource is kafka-cluster";
  }
  if (!valid_principal(b.principal)) return "the principal must be Type:name, e.g. User:alice";
  if (b.host.empty()) return "the host must be * or an IP address";
  if (!in_range(static_cast<int>(b.operation), static_cast<int>(AclOperation::kAll),
                static_cast<int>(AclOperation::kTwoPhaseCommit))) {
    return "invalid operation " + std::to_string(static_cast<int>(b.operation));
  }
  if (b.permission != AclPermission::kAllow && b.permission != AclPermission::kDeny) {
    return "the permission must be ALLOW or DENY";
  }
  return std::nullopt;
}

std::optional<std::string> validate(const AclFilter& f) {
  if (!in_range(static_cast<int>(f.resource_type), 1, 7)) return "the filter has an unknown resource type";
  if (!in_range(static_cast<int>(f.pattern_type), 1, 4)) return "the filter has an unknown pattern type";
  if (!in_range(static_cast<int>(f.operation), 1, 15)) return "the filter has an unknown operation";
  if (!in_range(static_cast<int>(f.permission), 1, 3)) return "the filter has an unknown permission";
  return std::nullopt;
}

bool AclFilter::matches(const AclBinding& b) const {
  if (resource_type != ResourceType::kAny && resource_type != b.resource_type) return false;
  if (pattern_type != PatternType::kAny && pattern_type != PatternType::kMatch &&
      pattern_type != b.pattern_type) {
    return false;
  }
  if (resource_name) {
    if (pattern_type == PatternType::kAny || pattern_type == b.pattern_type) {
      if (*resource_name != b.resource_name) return false;
    } else if (b.pattern_type == PatternType::kLiteral) {  // MATCH
      if (*resource_name != b.resource_name && b.resource_name != kWildcard) return false;
    } else if (!resource_name->starts_with(b.resource_name)) {  // MATCH, PREFIXED
      return false;
    }
  }
  if (principal && *principal != b.principal) return false;
  if (host && *host != b.host) return false;
  if (operation != AclOperation::kAny && operation != b.operation) return false;
  if (permission != AclPermission::kAny && permission != b.permission) return false;
  return true;
}

std::optional<std::set<std::string>> parse_super_users(std::string_view s) {
  std::set<std::string> out;
  while (true) {
    std::size_t semi = s.find(';');
    std::string_view item = trim(s.substr(0, semi));
    if (!item.empty()) {
      if (!valid_principal(item)) return std::nullopt;
      out.emplace(item);
    }
    if (semi == std::string_view::npos) break;
    s.remove_prefix(semi + 1);
  }
  return out;
}

void Authorizer::set_acls(const std::vector<AclBinding>& acls) {
  index_.clear();
  all_ = acls;
  for (std::size_t i = 0; i < all_.size(); ++i) {
    const AclBinding& a = all_[i];
    Index& ix = index_[a.resource_type];
    auto& m = a.pattern_type == PatternType::kPrefixed ? ix.prefixed : ix.literal;
    m[a.resource_name].push_back(i);
  }
}

std::vector<const AclBinding*> Authorizer::matching(ResourceType type, const std::string& name) const {
  std::vector<const AclBinding*> out;
  auto it = index_.find(type);
  if (it == index_.end()) return out;
  const Index& ix = it->second;
  auto add = [&](const std::map<std::string, std::vector<std::size_t>>& m, const std::string& key) {
    auto found = m.find(key);
    if (found == m.end()) return;
    for (std::size_t i : found->second) out.push_back(&all_[i]);
  };
  add(ix.literal, name);
  if (name != kWildcard) add(ix.literal, std::string(kWildcard));
  if (!ix.prefixed.empty()) {
    // Every prefix of the name that is a key (names are at most a few hundred bytes).
    for (std::size_t len = 1; len <= name.size(); ++len) add(ix.prefixed, name.substr(0, len));
  }
  return out;
}

bool Authorizer::authorize(const std::string& principal, const std::string& host, AclOperation op,
                           ResourceType type, const std::string& name) const {
  if (is_super_user(principal)) return true;
  const std::vector<const AclBinding*> acls = matching(type, name);
  if (acls.empty()) return opt_.allow_if_no_acl;
  for (const AclBinding* a : acls) {
    if (applies(*a, principal, host, op, AclPermission::kDeny)) return false;
  }
  // Operations whose ALLOW implies `op` (AclAuthorizer).
  std::vector<AclOperation> allow_ops{op};
  if (op == AclOperation::kDescribe) {
    allow_ops = {AclOperation::kDescribe, AclOperation::kRead, AclOperation::kWrite, AclOperation::kDelete,
                 AclOperation::kAlter};
  } else if (op == AclOperation::kDescribeConfigs) {
    allow_ops = {AclOperation::kDescribeConfigs, AclOperation::kAlterConfigs};
  }
  for (const AclBinding* a : acls) {
    for (AclOperation o : allow_ops) {
      if (applies(*a, principal, host, o, AclPermission::kAllow)) return true;
    }
  }
  return false;
}

bool Authorizer::authorize_any(const std::string& principal, const std::string& host, AclOperation op,
                               ResourceType type) const {
  if (is_super_user(principal)) return true;
  std::set<std::string> deny_literal, deny_prefix, allow_literal, allow_prefix;
  for (const AclBinding& a : all_) {
    if (a.resource_type != type) continue;
    const bool deny = applies(a, principal, host, op, AclPermission::kDeny);
    const bool allow = applies(a, principal, host, op, AclPermission::kAllow);
    if (!deny && !allow) continue;
    const bool literal = a.pattern_type == PatternType::kLiteral;
    auto& set = deny ? (literal ? deny_literal : deny_prefix) : (literal ? allow_literal : allow_prefix);
    set.insert(a.resource_name);
  }
  if (deny_literal.count(std::string(kWildcard))) return false;
  if (opt_.allow_if_no_acl) return true;
  auto dominated = [&deny_prefix](const std::string& name) {
    for (std::size_t len = 0; len <= name.size(); ++len) {
      if (deny_prefix.count(name.substr(0, len))) return true;
    }
    return false;
  };
  for (const std::string& p : allow_prefix) {
    if (!dominated(p)) return true;
  }
  for (const std::string& l : allow_literal) {
    if (l == kWildcard) return true;
    if (!deny_literal.count(l) && !dominated(l)) return true;
  }
  return false;
}

std::vector<AclOperation> supported_operations(ResourceType t) {
  using enum AclOperation;
  switch (t) {
    case ResourceType::kTopic:
      return {kRead, kWrite, kCreate, kDescribe, kDelete, kAlter, kDescribeConfigs, kAlterConfigs};
    case ResourceType::kGroup:
      return {kRead, kDescribe, kDelete, kDescribeConfigs, kAlterConfigs};
    case ResourceType::kCluster:
      return {kCreate, kClusterAction, kDescribeConfigs, kAlterConfigs, kIdempotentWrite, kAlter, kDescribe};
    case ResourceType::kTransactionalId:
      return {kDescribe, kWrite, kTwoPhaseCommit};
    default:
      return {};
  }
}

}  // namespace ks::security
