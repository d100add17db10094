// The handlers with the authorizer on: an AclStore over the test's metadata
// store, a SASL session for the caller, and the answers Kafka gives.
#include <gtest/gtest.h>

#include "handlers/authorized_ops.h"
#include "handlers/handlers.h"
#include "log/log_test_util.h"
#include "security/acl_store.h"
#include "security/session.h"

namespace ks::handlers {
namespace {

using log::logtest::LogHarness;
using security::AclBinding;
using security::AclOperation;
using security::AclPermission;
using security::PatternType;
using security::ResourceType;

AclBinding topic_acl(const std::string& name, AclOperation op, PatternType p = PatternType::kLiteral,
                     AclPermission perm = AclPermission::kAllow) {
  AclBinding b;
  b.resource_type = ResourceType::kTopic;
  b.resource_name = name;
  b.pattern_type = p;
  b.principal = "User:alice";
  b.host = "*";
  b.operation = op;
  b.permission = perm;
  return b;
}

MetadataRequest metadata_of(std::optional<std::vector<std::string>> topics) {
  MetadataRequest req;
  req.topics = std::nullopt;  // all topics
  if (topics) {
    req.topics.emplace();
    for (const auto& t : *topics) req.topics->emplace_back().name = t;
  }
  req.allow_auto_topic_creation = false;
  req.include_topic_authorized_operations = true;
  return req;
}

std::set<std::string> names(const MetadataResponse& m) {
  std::set<std::string> out;
  for (const auto& t : m.topics) out.insert(t.name.value_or(""));
  return out;
}

const std::set<std::string> kNone;
const std::set<std::string> kOrders{"orders"};
const std::set<std::string> kBoth{"orders", "secret"};
constexpr std::int32_t kWriteOps = authz::bits({authz::kWrite, authz::kDescribe});

// A connection from 10.0.0.1 on a SASL_PLAINTEXT listener, authenticated as `principal`.
net::ConnectionInfo sasl_connection(const std::string& principal) {
  net::ConnectionInfo c;
  c.peer = "10.0.0.1:40000";
  c.session = security::Session::make("SASL_PLAINTEXT", security::SecurityProtocol::kSaslPlaintext);
  c.session->principal = principal;
  return c;
}

class AuthorizerHandlersTest : public LogHarness {};

TEST_F(AuthorizerHandlersTest, ChecksFollowTheAcls) {
  run([&](log::LogManager& lm) -> awaitable<void> {
    co_await log::logtest::make_topic(lm, "orders", 1);
    co_await log::logtest::make_topic(lm, "secret", 1);
    security::AuthorizerOptions ao;
    ao.super_users.insert("User:admin");
    security::AclStore acls(*io_, metastore::AsyncMetadataStore(*pool_, hook_), ao, 3);
    Status started = co_await acls.start();
    EXPECT_TRUE(started.ok()) << started.to_string();
    BrokerContext broker{lm, 0, "127.0.0.1", 9092};
    broker.acls = &acls;
    protocol::RequestHeader header;
    const net::ConnectionInfo alice = sasl_connection("User:alice");
    const net::ConnectionInfo admin = sasl_connection("User:admin");
    RequestContext as_alice{broker, header, alice, 12};
    RequestContext as_admin{broker, header, admin, 12};

    // Nothing granted: all topics lists none (filtering is no denial), named topics are refused (one denial).
    metrics::Counter& denials = metrics::registry().counter("kafscale_authorizer_denials_total", "");
    const std::uint64_t denied_before = denials.value();
    MetadataRequest all = metadata_of(std::nullopt);
    MetadataResponse m = co_await handle(as_alice, all);
    EXPECT_TRUE(m.topics.empty());
    EXPECT_EQ(denials.value(), denied_before);
    std::vector<std::string> orders_only;
    orders_only.push_back("orders");
    MetadataRequest named = metadata_of(orders_only);
    m = co_await handle(as_alice, named);
    EXPECT_EQ(m.topics.at(0).error_code, code(ErrorCode::kTopicAuthorizationFailed));
    EXPECT_EQ(denials.value(), denied_before + 1);
    m = co_await handle(as_admin, all);
    EXPECT_EQ(names(m), kBoth);

    // DescribeCluster needs nothing; its operations are 0 without DESCRIBE on the cluster.
    RequestContext dc_alice{broker, header, alice, 1};
    RequestContext dc_admin{broker, header, admin, 1};
    DescribeClusterRequest dc;
    dc.include_cluster_authorized_operations = true;
    DescribeClusterResponse c = co_await handle(dc_alice, dc);
    EXPECT_EQ(c.error_code, 0);
    EXPECT_EQ(c.cluster_authorized_operations, 0);
    c = co_await handle(dc_admin, dc);
    EXPECT_EQ(c.cluster_authorized_operations, authz::kClusterOperations);

    // alice may not create ACLs; admin may (the store is capped at 3 here).
    RequestContext acl_alice{broker, header, alice, 1};
    RequestContext acl_admin{broker, header, admin, 1};
    CreateAclsRequest create;
    std::vector<AclBinding> wanted;
    wanted.push_back(topic_acl("ord", AclOperation::kWrite, PatternType::kPrefixed));
    wanted.push_back(topic_acl("secret", AclOperation::kAlterConfigs));
    for (const AclBinding& b : wanted) {
      auto& c = create.creations.emplace_back();
      c.resource_type = static_cast<std::int8_t>(b.resource_type);
      c.resource_name = b.resource_name;
      c.resource_pattern_type = static_cast<std::int8_t>(b.pattern_type);
      c.principal = b.principal;
      c.host = b.host;
      c.operation = static_cast<std::int8_t>(b.operation);
      c.permission_type = static_cast<std::int8_t>(b.permission);
    }
    CreateAclsResponse refused = co_await handle(acl_alice, create);
    EXPECT_EQ(refused.results.at(0).error_code, code(ErrorCode::kClusterAuthorizationFailed));
    CreateAclsResponse created = co_await handle(acl_admin, create);
    EXPECT_EQ(created.results.size(), 2u);
    for (const auto& r : created.results) EXPECT_EQ(r.error_code, 0);

    // WRITE on "ord*" implies DESCRIBE: orders is listed with the operations alice has;
    // ALTER_CONFIGS implies DESCRIBE_CONFIGS, not DESCRIBE: secret stays hidden.
    m = co_await handle(as_alice, all);
    EXPECT_EQ(names(m), kOrders);
    EXPECT_EQ(m.topics.at(0).topic_authorized_operations, kWriteOps);
    std::vector<std::string> secret_only;
    secret_only.push_back("secret");
    MetadataRequest secret = metadata_of(secret_only);
    m = co_await handle(as_alice, secret);
    EXPECT_EQ(m.topics.at(0).error_code, code(ErrorCode::kTopicAuthorizationFailed));

    // DescribeAcls: alice is refused; admin sees both patterns.
    DescribeAclsRequest describe;
    describe.resource_type_filter = static_cast<std::int8_t>(ResourceType::kAny);
    describe.pattern_type_filter = static_cast<std::int8_t>(PatternType::kAny);
    describe.operation = static_cast<std::int8_t>(AclOperation::kAny);
    describe.permission_type = static_cast<std::int8_t>(AclPermission::kAny);
    DescribeAclsResponse d = co_await handle(acl_alice, describe);
    EXPECT_EQ(d.error_code, code(ErrorCode::kClusterAuthorizationFailed));
    d = co_await handle(acl_admin, describe);
    EXPECT_EQ(d.error_code, 0);
    EXPECT_EQ(d.resources.size(), 2u);

    // CreateTopics through a PREFIXED WRITE: no CREATE; KIP-525 hides the configs without DESCRIBE_CONFIGS.
    RequestContext ct_alice{broker, header, alice, 5};
    CreateTopicsRequest ct;
    auto& nt = ct.topics.emplace_back();
    nt.name = "ord-new";
    nt.num_partitions = 1;
    nt.replication_factor = 1;
    CreateTopicsResponse ctr = co_await handle(ct_alice, ct);
    EXPECT_EQ(ctr.topics.at(0).error_code, code(ErrorCode::kTopicAuthorizationFailed));
    EXPECT_EQ(ctr.topics.at(0).topic_config_error_code, code(ErrorCode::kTopicAuthorizationFailed));
    RequestContext ct_admin{broker, header, admin, 5};
    ctr = co_await handle(ct_admin, ct);
    EXPECT_EQ(ctr.topics.at(0).error_code, 0);
    EXPECT_EQ(ctr.topics.at(0).topic_config_error_code, 0);
    EXPECT_EQ(ctr.topics.at(0).num_partitions, 1);

    // The cap: a third new ACL fits, a fourth does not.
    CreateAclsRequest more = create;
    more.creations.at(0).resource_name = "a";
    more.creations.at(1).resource_name = "b";
    CreateAclsResponse capped = co_await handle(acl_admin, more);
    EXPECT_EQ(capped.results.at(0).error_code, 0);
    EXPECT_EQ(capped.results.at(1).error_code, code(ErrorCode::kPolicyViolation));

    // DeleteAcls by a filter on the prefixed pattern: orders is hidden again.
    DeleteAclsRequest del;
    auto& f = del.filters.emplace_back();
    f.resource_type_filter = static_cast<std::int8_t>(ResourceType::kTopic);
    f.resource_name_filter = "ord";
    f.pattern_type_filter = static_cast<std::int8_t>(PatternType::kPrefixed);
    f.operation = static_cast<std::int8_t>(AclOperation::kAny);
    f.permission_type = static_cast<std::int8_t>(AclPermission::kAny);
    DeleteAclsResponse deleted = co_await handle(acl_admin, del);
    EXPECT_EQ(deleted.filter_results.at(0).error_code, 0);
    EXPECT_EQ(deleted.filter_results.at(0).matching_acls.size(), 1u);
    m = co_await handle(as_alice, all);
    EXPECT_EQ(names(m), kNone);
    co_await acls.stop();
  });
}

// Without a coordinator every group API answers COORDINATOR_NOT_AVAILABLE once authorized: the
// authorization comes first.
TEST_F(AuthorizerHandlersTest, GroupApisCheckBeforeActing) {
  run([&](log::LogManager& lm) -> awaitable<void> {
    co_await log::logtest::make_topic(lm, "t", 1);
    security::AuthorizerOptions ao;
    security::AclStore acls(*io_, metastore::AsyncMetadataStore(*pool_, hook_), ao, 100);
    Status started = co_await acls.start();
    EXPECT_TRUE(started.ok()) << started.to_string();
    BrokerContext broker{lm, 0, "127.0.0.1", 9092};
    broker.acls = &acls;
    protocol::RequestHeader header;
    const net::ConnectionInfo alice = sasl_connection("User:alice");
    RequestContext ctx{broker, header, alice, 1};

    JoinGroupRequest join;
    join.group_id = "g";
    JoinGroupResponse j = co_await handle(ctx, join);
    EXPECT_EQ(j.error_code, code(ErrorCode::kGroupAuthorizationFailed));
    FindCoordinatorRequest find;
    find.key = "g";
    FindCoordinatorResponse fc = co_await handle(ctx, find);
    EXPECT_EQ(fc.error_code, code(ErrorCode::kGroupAuthorizationFailed));
    ConsumerGroupHeartbeatRequest hb;
    hb.group_id = "g";
    std::vector<std::string> subscribed;
    subscribed.push_back("t");
    hb.subscribed_topic_names = subscribed;
    ConsumerGroupHeartbeatResponse h = co_await handle(ctx, hb);
    EXPECT_EQ(h.error_code, code(ErrorCode::kGroupAuthorizationFailed));

    AclBinding read_group = topic_acl("g", AclOperation::kRead);
    read_group.resource_type = ResourceType::kGroup;
    std::vector<AclBinding> grants;
    grants.push_back(read_group);
    std::vector<Status> created = co_await acls.create(grants);
    EXPECT_TRUE(created.at(0).ok()) << created.at(0).to_string();
    j = co_await handle(ctx, join);
    EXPECT_EQ(j.error_code, code(ErrorCode::kCoordinatorNotAvailable));
    fc = co_await handle(ctx, find);  // READ implies DESCRIBE
    EXPECT_EQ(fc.error_code, code(ErrorCode::kCoordinatorNotAvailable));
    h = co_await handle(ctx, hb);  // the subscribed topic is not describable
    EXPECT_EQ(h.error_code, code(ErrorCode::kTopicAuthorizationFailed));
    co_await acls.stop();
  });
}

// The SCRAM credential APIs: DESCRIBE / ALTER on the cluster first, then Alter
// only over TLS (checked before the metadata store is touched: none here).
TEST_F(AuthorizerHandlersTest, ScramCredentialApisCheckTheClusterThenTls) {
  run([&](log::LogManager& lm) -> awaitable<void> {
    security::AuthorizerOptions ao;
    ao.super_users.insert("User:admin");
    security::AclStore acls(*io_, metastore::AsyncMetadataStore(*pool_, hook_), ao, 10);
    Status started = co_await acls.start();
    EXPECT_TRUE(started.ok()) << started.to_string();
    BrokerContext broker{lm, 0, "127.0.0.1", 9092};
    broker.acls = &acls;
    protocol::RequestHeader header;
    const net::ConnectionInfo alice = sasl_connection("User:alice");
    const net::ConnectionInfo admin = sasl_connection("User:admin");
    RequestContext as_alice{broker, header, alice, 0};
    RequestContext as_admin{broker, header, admin, 0};

    DescribeUserScramCredentialsRequest describe;
    describe.users.emplace();
    describe.users->emplace_back().name = "bob";
    DescribeUserScramCredentialsResponse d = co_await handle(as_alice, describe);
    EXPECT_EQ(d.error_code, code(ErrorCode::kClusterAuthorizationFailed));
    EXPECT_EQ(d.results.at(0).user, "bob");
    EXPECT_EQ(d.results.at(0).error_code, code(ErrorCode::kClusterAuthorizationFailed));

    AlterUserScramCredentialsRequest alter;
    auto& del = alter.deletions.emplace_back();
    del.name = "bob";
    del.mechanism = 1;
    AlterUserScramCredentialsResponse a = co_await handle(as_alice, alter);
    EXPECT_EQ(a.results.at(0).error_code, code(ErrorCode::kClusterAuthorizationFailed));
    a = co_await handle(as_admin, alter);  // allowed, but SASL_PLAINTEXT is not TLS
    EXPECT_EQ(a.results.at(0).user, "bob");
    EXPECT_EQ(a.results.at(0).error_code, code(ErrorCode::kUnacceptableCredential));
    co_await acls.stop();
  });
}

TEST_F(AuthorizerHandlersTest, AclApisWithoutTheAuthorizer) {
  run([&](log::LogManager& lm) -> awaitable<void> {
    BrokerContext broker{lm, 0, "127.0.0.1", 9092};
    protocol::RequestHeader header;
    net::ConnectionInfo conn;
    RequestContext ctx{broker, header, conn, 2};
    CreateAclsRequest create;
    create.creations.emplace_back();
    CreateAclsResponse c = co_await handle(ctx, create);
    EXPECT_EQ(c.results.at(0).error_code, code(ErrorCode::kSecurityDisabled));
    DeleteAclsRequest del;
    del.filters.emplace_back();
    DeleteAclsResponse d = co_await handle(ctx, del);
    EXPECT_EQ(d.filter_results.at(0).error_code, code(ErrorCode::kSecurityDisabled));
    DescribeAclsRequest describe;
    DescribeAclsResponse r = co_await handle(ctx, describe);
    EXPECT_EQ(r.error_code, code(ErrorCode::kSecurityDisabled));
  });
}

}  // namespace
}  // namespace ks::handlers
