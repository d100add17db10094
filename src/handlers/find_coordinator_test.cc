// FindCoordinator for groups: this broker when it serves the group's slot
// (one broker), or the slot's owner named by BrokerContext::coordinator_for.
#include <gtest/gtest.h>

#include "cluster/keys.h"
#include "coordinator/coordinator.h"
#include "handlers/handlers.h"
#include "log/log_test_util.h"

namespace ks::handlers {
namespace {

using log::logtest::LogHarness;

class FindCoordinatorTest : public LogHarness {};

std::int64_t no_partitions(const cluster::PartitionKey&) { return -1; }

// A group id whose slot is (want == true) or is not (want == false) `slot`.
std::string group_with_slot(const coordinator::GroupCoordinator& c, std::int32_t slot, bool want) {
  for (int i = 0;; ++i) {
    std::string id = "g" + std::to_string(i);
    if ((c.slot_of(id) == slot) == want) return id;
  }
}

FindCoordinatorRequest batch(std::vector<std::string> keys, std::int8_t key_type = 0) {
  FindCoordinatorRequest req;
  req.key_type = key_type;
  req.coordinator_keys = std::move(keys);
  return req;
}

TEST_F(FindCoordinatorTest, AnswersTheOwnerOfTheGroupsSlot) {
  run([&](log::LogManager& lm) -> awaitable<void> {
    coordinator::Options options;
    coordinator::GroupCoordinator groups(*io_, *pool_, hook_, lm.cluster(), no_partitions, options);
    Status s = co_await groups.start();
    EXPECT_TRUE(s.ok()) << s.to_string();
    // This broker serves slot 0 only.
    cluster::Fence fence;
    fence.key = cluster::keys::owner(lm.cluster().node_id());
    fence.revision = static_cast<std::int64_t>(lm.cluster().broker_epoch());
    s = co_await groups.acquire_slot(0, fence);
    EXPECT_TRUE(s.ok()) << s.to_string();
    const std::string mine = group_with_slot(groups, 0, true);
    const std::string other = group_with_slot(groups, 0, false);

    BrokerContext broker{lm, 0, "127.0.0.1", 9092};
    broker.groups = &groups;
    protocol::RequestHeader header;
    header.api_key = FindCoordinatorRequest::kApiKey;
    net::ConnectionInfo conn;

    // Unset: this broker for the slots it serves, COORDINATOR_NOT_AVAILABLE for the others.
    RequestContext v4{broker, header, conn, 4};
    std::vector<std::string> keys;
    keys.push_back(mine);
    keys.push_back(other);
    FindCoordinatorRequest req = batch(keys);
    FindCoordinatorResponse resp = co_await handle(v4, req);
    EXPECT_EQ(resp.coordinators.size(), 2u);
    if (resp.coordinators.size() == 2) {
      EXPECT_EQ(resp.coordinators[0].key, mine);
      EXPECT_EQ(resp.coordinators[0].error_code, 0);
      EXPECT_EQ(resp.coordinators[0].node_id, 0);
      EXPECT_EQ(resp.coordinators[0].host, "127.0.0.1");
      EXPECT_EQ(resp.coordinators[0].port, 9092);
      EXPECT_EQ(resp.coordinators[1].error_code, code(ErrorCode::kCoordinatorNotAvailable));
    }

    // Set: whoever owns the slot (node 7 owns the other group's slot; nobody slot 0).
    const std::int32_t other_slot = groups.slot_of(other);
    broker.coordinator_for = [other_slot](std::int32_t slot) -> std::optional<NodeEndpoint> {
      if (slot != other_slot) return std::nullopt;
      NodeEndpoint e;
      e.node = 7;
      e.host = "broker-7";
      e.port = 19092;
      return e;
    };
    resp = co_await handle(v4, req);
    EXPECT_EQ(resp.coordinators.size(), 2u);
    if (resp.coordinators.size() == 2) {
      EXPECT_EQ(resp.coordinators[0].error_code, code(ErrorCode::kCoordinatorNotAvailable));
      EXPECT_EQ(resp.coordinators[1].error_code, 0);
      EXPECT_EQ(resp.coordinators[1].node_id, 7);
      EXPECT_EQ(resp.coordinators[1].host, "broker-7");
      EXPECT_EQ(resp.coordinators[1].port, 19092);
    }
    // Before v4: one key.
    RequestContext v3{broker, header, conn, 3};
    FindCoordinatorRequest single;
    single.key = other;
    resp = co_await handle(v3, single);
    EXPECT_EQ(resp.error_code, 0);
    EXPECT_EQ(resp.node_id, 7);
    EXPECT_EQ(resp.host, "broker-7");
    // Transactions: as before, whatever the slots.
    FindCoordinatorRequest txn = batch(keys, 1);
    resp = co_await handle(v4, txn);
    EXPECT_EQ(resp.coordinators.size(), 2u);
    if (!resp.coordinators.empty()) {
      EXPECT_EQ(resp.coordinators[0].error_code, code(ErrorCode::kTransactionalIdAuthorizationFailed));
    }
    co_await groups.stop();
  });
}

}  // namespace
}  // namespace ks::handlers
