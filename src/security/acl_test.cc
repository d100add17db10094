#include "security/acl.h"

#include <gtest/gtest.h>

#include "security/acl_store.h"

namespace ks::security {
namespace {

using enum AclOperation;

AclBinding acl(ResourceType t, std::string name, PatternType p, std::string principal, AclOperation op,
               AclPermission perm = AclPermission::kAllow, std::string host = "*") {
  AclBinding b;
  b.resource_type = t;
  b.resource_name = std::move(name);
  b.pattern_type = p;
  b.principal = std::move(principal);
  b.host = std::move(host);
  b.operation = op;
  b.permission = perm;
  return b;
}

AclBinding topic(std::string name, std::string principal, AclOperation op,
                 AclPermission perm = AclPermission::kAllow) {
  return acl(ResourceType::kTopic, std::move(name), PatternType::kLiteral, std::move(principal), op, perm);
}

constexpr const char* kAlice = "User:alice";
constexpr const char* kHost = "10.0.0.1";

struct AuthorizerTest : ::testing::Test {
  Authorizer authz{AuthorizerOptions{{"User:admin"}, false}};

  bool can(AclOperation op, std::string topic_name, std::string principal = kAlice,
           std::string host = kHost) {
    return authz.authorize(principal, host, op, ResourceType::kTopic, topic_name);
  }
};

TEST_F(AuthorizerTest, NoAclDeniesUnlessAllowEveryone) {
  EXPECT_FALSE(can(kRead, "t"));
  Authorizer open(AuthorizerOptions{{}, true});
  EXPECT_TRUE(open.authorize(kAlice, kHost, kRead, ResourceType::kTopic, "t"));
  // An ACL on the resource for someone else: the resource has ACLs, so no fallback.
  open.set_acls({topic("t", "User:bob", kRead)});
  EXPECT_FALSE(open.authorize(kAlice, kHost, kRead, ResourceType::kTopic, "t"));
  EXPECT_TRUE(open.authorize(kAlice, kHost, kRead, ResourceType::kTopic, "other"));
}

TEST_F(AuthorizerTest, SuperUserMayDoEverything) {
  authz.set_acls({topic("t", "User:*", kAll, AclPermission::kDeny)});
  EXPECT_TRUE(can(kDelete, "t", "User:admin"));
  EXPECT_TRUE(authz.authorize("User:admin", kHost, kAlter, ResourceType::kCluster, "kafka-cluster"));
  EXPECT_FALSE(can(kRead, "t"));
}

TEST_F(AuthorizerTest, LiteralWildcardAndPrefixedPatterns) {
  authz.set_acls({topic("orders", kAlice, kRead),
                  acl(ResourceType::kTopic, "logs-", PatternType::kPrefixed, kAlice, kWrite),
                  topic("*", "User:bob", kRead)});
  EXPECT_TRUE(can(kRead, "orders"));
  EXPECT_FALSE(can(kRead, "orders2"));
  EXPECT_TRUE(can(kWrite, "logs-a"));
  EXPECT_TRUE(can(kWrite, "logs-"));
  EXPECT_FALSE(can(kWrite, "logs"));
  EXPECT_FALSE(can(kRead, "logs-a"));
  EXPECT_TRUE(can(kRead, "anything", "User:bob"));
  // A resource type's ACLs do not apply to another type.
  EXPECT_FALSE(authz.authorize(kAlice, kHost, kRead, ResourceType::kGroup, "orders"));
}

TEST_F(AuthorizerTest, DenyWinsOverAllow) {
  authz.set_acls({acl(ResourceType::kTopic, "p-", PatternType::kPrefixed, kAlice, kAll),
                  topic("p-secret", kAlice, kRead, AclPermission::kDeny)});
  EXPECT_TRUE(can(kRead, "p-public"));
  EXPECT_FALSE(can(kRead, "p-secret"));
  EXPECT_TRUE(can(kWrite, "p-secret"));  // only READ is denied
  // DENY ALL denies every operation.
  authz.set_acls({topic("t", kAlice, kRead), topic("t", "User:*", kAll, AclPermission::kDeny)});
  EXPECT_FALSE(can(kRead, "t"));
  EXPECT_FALSE(can(kDescribe, "t"));
}

TEST_F(AuthorizerTest, ImpliedOperationsAsKafka) {
  for (AclOperation granted : {kRead, kWrite, kDelete, kAlter}) {
    authz.set_acls({topic("t", kAlice, granted)});
    EXPECT_TRUE(can(kDescribe, "t")) << static_cast<int>(granted);
    EXPECT_FALSE(can(kDescribeConfigs, "t"));
  }
  authz.set_acls({topic("t", kAlice, kCreate)});
  EXPECT_FALSE(can(kDescribe, "t"));
  authz.set_acls({topic("t", kAlice, kAlterConfigs)});
  EXPECT_TRUE(can(kDescribeConfigs, "t"));
  EXPECT_FALSE(can(kDescribe, "t"));
  authz.set_acls({topic("t", kAlice, kDescribe)});
  EXPECT_FALSE(can(kRead, "t"));  // implication goes one way
  authz.set_acls({topic("t", kAlice, kAll)});
  for (AclOperation op : supported_operations(ResourceType::kTopic)) EXPECT_TRUE(can(op, "t"));
  // A DENY of READ does not deny DESCRIBE implied by an ALLOW of WRITE.
  authz.set_acls({topic("t", kAlice, kWrite), topic("t", kAlice, kRead, AclPermission::kDeny)});
  EXPECT_TRUE(can(kDescribe, "t"));
}

TEST_F(AuthorizerTest, ACopyDecidesOnItsOwn) {
  authz.set_acls({topic("t", kAlice, kRead)});
  Authorizer copy = authz;
  authz.set_acls({});
  EXPECT_TRUE(copy.authorize(kAlice, kHost, kRead, ResourceType::kTopic, "t"));
  EXPECT_FALSE(can(kRead, "t"));
}

TEST_F(AuthorizerTest, PrincipalAndHostMatching) {
  AclBinding host_bound = topic("t", kAlice, kRead);
  host_bound.host = "10.0.0.1";
  authz.set_acls({host_bound, topic("u", "User:*", kRead)});
  EXPECT_TRUE(can(kRead, "t", kAlice, "10.0.0.1"));
  EXPECT_FALSE(can(kRead, "t", kAlice, "10.0.0.2"));
  EXPECT_FALSE(can(kRead, "t", "User:bob", "10.0.0.1"));
  EXPECT_TRUE(can(kRead, "u", "User:anyone"));
}

TEST_F(AuthorizerTest, AuthorizeAnyResourceOfType) {
  EXPECT_FALSE(authz.authorize_any(kAlice, kHost, kWrite, ResourceType::kTopic));
  authz.set_acls({topic("t", kAlice, kWrite)});
  EXPECT_TRUE(authz.authorize_any(kAlice, kHost, kWrite, ResourceType::kTopic));
  EXPECT_FALSE(authz.authorize_any("User:bob", kHost, kWrite, ResourceType::kTopic));
  // A literal DENY of the same name, or a prefix DENY covering it, takes it back.
  authz.set_acls({topic("t", kAlice, kWrite), topic("t", kAlice, kWrite, AclPermission::kDeny)});
  EXPECT_FALSE(authz.authorize_any(kAlice, kHost, kWrite, ResourceType::kTopic));
  authz.set_acls(
      {acl(ResourceType::kTopic, "a-", PatternType::kPrefixed, kAlice, kWrite),
       acl(ResourceType::kTopic, "a", PatternType::kPrefixed, kAlice, kAll, AclPermission::kDeny)});
  EXPECT_FALSE(authz.authorize_any(kAlice, kHost, kWrite, ResourceType::kTopic));
  authz.set_acls({topic("t", kAlice, kWrite), topic("*", "User:*", kWrite, AclPermission::kDeny)});
  EXPECT_FALSE(authz.authorize_any(kAlice, kHost, kWrite, ResourceType::kTopic));
  EXPECT_TRUE(authz.authorize_any("User:admin", kHost, kWrite, ResourceType::kTopic));
}

TEST(Acl, Validate) {
  AclBinding ok = topic("t", kAlice, kRead);
  EXPECT_EQ(validate(ok), std::nullopt);
  AclBinding b = ok;
  b.resource_name.clear();
  EXPECT_NE(validate(b), std::nullopt);
  b = ok;
  b.principal = "alice";
  EXPECT_NE(validate(b), std::nullopt);
  b = ok;
  b.pattern_type = PatternType::kMatch;
  EXPECT_NE(validate(b), std::nullopt);
  b = ok;
  b.operation = kAny;
  EXPECT_NE(validate(b), std::nullopt);
  b = ok;
  b.permission = AclPermission::kAny;
  EXPECT_NE(validate(b), std::nullopt);
  b = ok;
  b.resource_type = ResourceType::kAny;
  EXPECT_NE(validate(b), std::nullopt);
  b = acl(ResourceType::kCluster, "other", PatternType::kLiteral, kAlice, kAlter);
  EXPECT_NE(validate(b), std::nullopt);
  b.resource_name = "kafka-cluster";
  EXPECT_EQ(validate(b), std::nullopt);
}

TEST(Acl, FilterMatching) {
  const AclBinding lit = topic("orders", kAlice, kRead);
  const AclBinding wild = topic("*", kAlice, kRead);
  const AclBinding pre = acl(ResourceType::kTopic, "ord", PatternType::kPrefixed, kAlice, kRead);
  AclFilter any;
  EXPECT_TRUE(any.matches(lit));
  EXPECT_TRUE(any.matches(pre));
  AclFilter f;
  f.resource_name = "orders";
  f.pattern_type = PatternType::kMatch;
  EXPECT_TRUE(f.matches(lit));
  EXPECT_TRUE(f.matches(wild));
  EXPECT_TRUE(f.matches(pre));
  f.pattern_type = PatternType::kLiteral;
  EXPECT_TRUE(f.matches(lit));
  EXPECT_FALSE(f.matches(wild));
  EXPECT_FALSE(f.matches(pre));
  f.pattern_type = PatternType::kAny;
  EXPECT_TRUE(f.matches(lit));
  EXPECT_FALSE(f.matches(pre));
  f.resource_name = "ord";
  EXPECT_TRUE(f.matches(pre));
  AclFilter by_entry;
  by_entry.principal = "User:bob";
  EXPECT_FALSE(by_entry.matches(lit));
  by_entry.principal = kAlice;
  by_entry.operation = kWrite;
  EXPECT_FALSE(by_entry.matches(lit));
  by_entry.operation = kRead;
  by_entry.permission = AclPermission::kDeny;
  EXPECT_FALSE(by_entry.matches(lit));
  by_entry.permission = AclPermission::kAllow;
  by_entry.resource_type = ResourceType::kGroup;
  EXPECT_FALSE(by_entry.matches(lit));
  AclFilter bad;
  bad.pattern_type = PatternType::kUnknown;
  EXPECT_NE(validate(bad), std::nullopt);
  EXPECT_EQ(validate(any), std::nullopt);
}

TEST(Acl, SuperUsers) {
  auto s = parse_super_users(" User:a ; User:b;;");
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(*s, (std::set<std::string>{"User:a", "User:b"}));
  EXPECT_FALSE(parse_super_users("admin").has_value());
  EXPECT_TRUE(parse_super_users("")->empty());
}

TEST(Acl, StoredFormRoundTripsAndKeysAreOnePerBinding) {
  AclBinding b = acl(ResourceType::kGroup, "g/1", PatternType::kPrefixed, "User:a b", kRead,
                     AclPermission::kDeny, "10.0.0.1");
  auto back = decode_acl(encode_acl(b));
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  EXPECT_EQ(*back, b);
  EXPECT_EQ(acl_key(b), "/ks/acls/3/4/3/2/g%2F1/User%3Aa%20b/10.0.0.1");
  AclBinding other = b;
  other.permission = AclPermission::kAllow;
  EXPECT_NE(acl_key(other), acl_key(b));
  EXPECT_FALSE(decode_acl("{\"v\":1}").ok());
  EXPECT_FALSE(decode_acl("not json").ok());
}

TEST(AclNames, KafkasNamesByWireValueAndUnknownOutside) {
  EXPECT_EQ(operation_name(AclOperation::kAll), "ALL");
  EXPECT_EQ(operation_name(AclOperation::kTwoPhaseCommit), "TWO_PHASE_COMMIT");
  EXPECT_EQ(operation_name(static_cast<AclOperation>(16)), "UNKNOWN");
  EXPECT_EQ(operation_name(static_cast<AclOperation>(-1)), "UNKNOWN");
  EXPECT_EQ(resource_type_name(ResourceType::kTransactionalId), "TRANSACTIONAL_ID");
  EXPECT_EQ(resource_type_name(static_cast<ResourceType>(99)), "UNKNOWN");
  EXPECT_EQ(pattern_type_name(PatternType::kPrefixed), "PREFIXED");
  EXPECT_EQ(permission_name(AclPermission::kDeny), "DENY");
  AclFilter f;
  f.resource_type = ResourceType::kAny;
  f.pattern_type = PatternType::kAny;
  f.operation = AclOperation::kTwoPhaseCommit;
  f.permission = AclPermission::kAllow;
  EXPECT_EQ(validate(f), std::nullopt);
  f.operation = static_cast<AclOperation>(16);
  EXPECT_EQ(validate(f), "the filter has an unknown operation");
  f.operation = AclOperation::kAny;
  f.permission = AclPermission::kUnknown;
  EXPECT_EQ(validate(f), "the filter has an unknown permission");
}

}  // namespace
}  // namespace ks::security
