#include "security/acl.h"

#include <array>
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

namespace {
// Kafka's names by wire value (the enums are dense from kUnknown = 0); values
// outside the table are UNKNOWN.
template <class Enum, std::size_t N>
std::string_view name_of(Enum v, const std::array<std::string_view, N>& names) {
  const auto i = static_cast<int>(v);
  return i >= 0 && static_cast<std::size_t>(i) < N ? names[static_cast<std::size_t>(i)] : names[0];
}

constexpr std::array<std::string_view, 16> kOperationNames = {"UNKNOWN",
                                                              "ANY",
                                                              "ALL",
                                                              "READ",
                                                              "WRITE",
                                                              "CREATE",
                                                              "DELETE",
                                                              "ALTER",
                                                              "DESCRIBE",
                                                              "CLUSTER_ACTION",
                                                              "DESCRIBE_CONFIGS",
                                                              "ALTER_CONFIGS",
                                                              "IDEMPOTENT_WRITE",
                                                              "CREATE_TOKENS",
                                                              "DESCRIBE_TOKENS",
                                                              "TWO_PHASE_COMMIT"};
constexpr std::array<std::string_view, 8> kResourceTypeNames = {
    "UNKNOWN", "ANY", "TOPIC", "GROUP", "CLUSTER", "TRANSACTIONAL_ID", "DELEGATION_TOKEN", "USER"};
constexpr std::array<std::string_view, 5> kPatternTypeNames = {"UNKNOWN", "ANY", "MATCH", "LITERAL",
                                                               "PREFIXED"};
constexpr std::array<std::string_view, 4> kPermissionNames = {"UNKNOWN", "ANY", "DENY", "ALLOW"};
static_assert(kOperationNames.size() == static_cast<std::size_t>(AclOperation::kTwoPhaseCommit) + 1);
static_assert(kResourceTypeNames.size() == static_cast<std::size_t>(ResourceType::kUser) + 1);
static_assert(kPatternTypeNames.size() == static_cast<std::size_t>(PatternType::kPrefixed) + 1);
static_assert(kPermissionNames.size() == static_cast<std::size_t>(AclPermission::kAllow) + 1);
}  // namespace

std::string_view operation_name(AclOperation op) { return name_of(op, kOperationNames); }
std::string_view resource_type_name(ResourceType t) { return name_of(t, kResourceTypeNames); }
std::string_view pattern_type_name(PatternType p) { return name_of(p, kPatternTypeNames); }
std::string_view permission_name(AclPermission p) { return name_of(p, kPermissionNames); }

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
  // Anything but UNKNOWN (0) and values past the tables.
  auto known = [](auto v, std::size_t n) {
    return in_range(static_cast<int>(v), 1, static_cast<int>(n) - 1);
  };
  if (!known(f.resource_type, kResourceTypeNames.size())) return "the filter has an unknown resource type";
  if (!known(f.pattern_type, kPatternTypeNames.size())) return "the filter has an unknown pattern type";
  if (!known(f.operation, kOperationNames.size())) return "the filter has an unknown operation";
  if (!known(f.permission, kPermissionNames.size())) return "the filter has an unknown permission";
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
