// ACLs and the authorizer's decision, as Kafka's AclAuthorizer makes it: a
// pure unit (no I/O); acl_store.h keeps the broker's copy current.
//
// An ACL binds a resource pattern (type, name, LITERAL or PREFIXED; the name
// "*" in a LITERAL pattern matches every resource of the type) to an entry
// (principal "User:x" or "User:*", host "*" or one IP, operation, ALLOW or
// DENY). authorize(): super users may do everything; otherwise the ACLs whose
// pattern matches the resource decide: none -> allow.everyone.if.no.acl.found;
// a matching DENY (the operation or ALL) -> denied; a matching ALLOW of the
// operation, of ALL or of an operation implying it -> allowed; else denied.
// DESCRIBE is implied by READ, WRITE, DELETE and ALTER; DESCRIBE_CONFIGS by
// ALTER_CONFIGS.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace ks::security {

// Kafka's codes (org.apache.kafka.common.acl / resource).
enum class AclOperation : std::int8_t {
  kUnknown = 0,
  kAny = 1,
  kAll = 2,
  kRead = 3,
  kWrite = 4,
  kCreate = 5,
  kDelete = 6,
  kAlter = 7,
  kDescribe = 8,
  kClusterAction = 9,
  kDescribeConfigs = 10,
  kAlterConfigs = 11,
  kIdempotentWrite = 12,
  kCreateTokens = 13,
  kDescribeTokens = 14,
  kTwoPhaseCommit = 15,
};

enum class ResourceType : std::int8_t {
  kUnknown = 0,
  kAny = 1,
  kTopic = 2,
  kGroup = 3,
  kCluster = 4,
  kTransactionalId = 5,
  kDelegationToken = 6,
  kUser = 7,
};

enum class PatternType : std::int8_t { kUnknown = 0, kAny = 1, kMatch = 2, kLiteral = 3, kPrefixed = 4 };

enum class AclPermission : std::int8_t { kUnknown = 0, kAny = 1, kDeny = 2, kAllow = 3 };

inline constexpr std::string_view kWildcard = "*";
inline constexpr std::string_view kWildcardPrincipal = "User:*";
// The only name of the CLUSTER resource.
inline constexpr std::string_view kClusterName = "kafka-cluster";

std::string_view operation_name(AclOperation op);  // "READ", ...
std::string_view resource_type_name(ResourceType t);
std::string_view pattern_type_name(PatternType p);
std::string_view permission_name(AclPermission p);

struct AclBinding {
  ResourceType resource_type = ResourceType::kUnknown;
  std::string resource_name;
  PatternType pattern_type = PatternType::kLiteral;
  std::string principal;  // "User:alice", "User:*"
  std::string host;       // "*" or an IP address
  AclOperation operation = AclOperation::kUnknown;
  AclPermission permission = AclPermission::kUnknown;

  auto operator<=>(const AclBinding&) const = default;
};

// Why `b` cannot be stored (Kafka answers INVALID_REQUEST), nullopt when it can:
// known resource type we serve (topic, group, cluster, transactional id), LITERAL
// or PREFIXED, a non-empty name ("kafka-cluster" for CLUSTER), a "Type:name"
// principal, a host, a concrete operation and permission.
std::optional<std::string> validate(const AclBinding& b);

// DescribeAcls / DeleteAcls filters: ANY (and null strings) match everything;
// pattern MATCH matches the LITERAL and PREFIXED patterns that would apply to
// the named resource (and the LITERAL wildcard).
struct AclFilter {
  ResourceType resource_type = ResourceType::kAny;
  std::optional<std::string> resource_name;
  PatternType pattern_type = PatternType::kAny;
  std::optional<std::string> principal;
  std::optional<std::string> host;
  AclOperation operation = AclOperation::kAny;
  AclPermission permission = AclPermission::kAny;

  bool matches(const AclBinding& b) const;
};

// Why `f` is not a valid filter (INVALID_REQUEST), nullopt when it is.
std::optional<std::string> validate(const AclFilter& f);

// "User:a;User:b" -> principals (trimmed, empty items dropped); nullopt when an
// item is not "Type:name".
std::optional<std::set<std::string>> parse_super_users(std::string_view s);

struct AuthorizerOptions {
  std::set<std::string> super_users;
  bool allow_if_no_acl = false;  // allow.everyone.if.no.acl.found
};

// The decision over one snapshot of the ACLs. Loop thread only.
class Authorizer {
 public:
  explicit Authorizer(AuthorizerOptions o) : opt_(std::move(o)) {}

  // Replaces the ACLs (the mirror calls this after every change).
  void set_acls(const std::vector<AclBinding>& acls);
  const std::vector<AclBinding>& acls() const { return all_; }

  bool is_super_user(const std::string& principal) const { return opt_.super_users.count(principal) > 0; }

  // May `principal` from `host` perform `op` on the resource (a concrete name)?
  bool authorize(const std::string& principal, const std::string& host, AclOperation op, ResourceType type,
                 const std::string& name) const;
  // May it perform `op` on some resource of the type (Kafka's
  // authorizeByResourceType, used by InitProducerId: WRITE on any topic)?
  bool authorize_any(const std::string& principal, const std::string& host, AclOperation op,
                     ResourceType type) const;

 private:
  // Positions in all_ by resource name (positions, not pointers: an Authorizer may be copied).
  struct Index {
    std::map<std::string, std::vector<std::size_t>> literal;
    std::map<std::string, std::vector<std::size_t>> prefixed;
  };
  std::vector<const AclBinding*> matching(ResourceType type, const std::string& name) const;

  AuthorizerOptions opt_;
  std::vector<AclBinding> all_;
  std::map<ResourceType, Index> index_;
};

// Every operation Kafka lets one grant on the resource type (AclEntry.supportedOperations).
std::vector<AclOperation> supported_operations(ResourceType t);

}  // namespace ks::security
