// Fetch against a real log whose object store can be held: a topic deleted
// while a fetch waits for a cold GET must not leave the handler with a
// dangling pointer (the regression this test was written for reads the
// deleted topic's record after the GET; AddressSanitizer reports it as a
// heap-use-after-free, a release build may answer garbage or crash).
#include <gtest/gtest.h>

#include "handlers/handlers.h"
#include "log/log_test_util.h"

namespace ks::handlers {
namespace {

using log::logtest::LogHarness;
using namespace std::chrono_literals;

class FetchTest : public LogHarness {};

FetchRequest fetch_two_partitions(const std::string& topic) {
  FetchRequest req;
  req.max_wait_ms = 0;
  req.min_bytes = 1;
  req.max_bytes = 1 << 20;
  FetchRequest::FetchTopic ft;
  ft.topic = topic;
  for (int p = 0; p < 2; ++p) {
    FetchRequest::FetchTopic::FetchPartition fp;
    fp.partition = p;
    fp.fetch_offset = 0;
    fp.partition_max_bytes = 1 << 20;
    ft.partitions.push_back(fp);
  }
  req.topics.push_back(ft);
  return req;
}

TEST_F(FetchTest, TopicDeletedDuringAColdReadAnswersUnknownTopicForTheRest) {
  // 1. Two partitions with one committed batch each.
  run([&](log::LogManager& lm) -> awaitable<void> {
    auto id = co_await log::logtest::make_topic(lm, "t", 2);
    for (int p = 0; p < 2; ++p) {
      auto t = log::logtest::append_batch(lm, log::logtest::pkey(id, p), log::logtest::make_batch(3, "r"));
      EXPECT_TRUE(t.ok());
      if (t.ok()) {
        EXPECT_TRUE((co_await log::logtest::wait_done(*t->done, Clock::now() + 10s)).ok());
      }
    }
  });
  // 2. A restarted broker (cold cache): the first partition's read waits on
  //    its GET while the topic is deleted.
  run([&](log::LogManager& lm) -> awaitable<void> {
    BrokerContext broker{lm, 0, "127.0.0.1", 9092};
    protocol::RequestHeader header;
    header.api_key = FetchRequest::kApiKey;
    header.api_version = 12;
    net::ConnectionInfo conn;
    RequestContext ctx{broker, header, conn, 12};
    FetchRequest req = fetch_two_partitions("t");
    std::optional<FetchResponse> resp;
    probe_->hold_gets();
    auto ex = co_await asio::this_coro::executor;
    asio::co_spawn(
        ex, [&]() -> awaitable<void> { resp = co_await handle(ctx, req); }, asio::detached);
    auto blocked = [&] { return probe_->gets_blocked() > 0; };
    EXPECT_TRUE(co_await log::logtest::poll_until(blocked, Clock::now() + 10s));
    EXPECT_TRUE((co_await lm.delete_topic("t")).ok());
    probe_->release_gets();
    auto answered = [&] { return resp.has_value(); };
    EXPECT_TRUE(co_await log::logtest::poll_until(answered, Clock::now() + 10s));
    EXPECT_TRUE(resp && resp->responses.size() == 1 && resp->responses[0].partitions.size() == 2);
    if (!resp || resp->responses.size() != 1 || resp->responses[0].partitions.size() != 2) co_return;
    const auto& parts = resp->responses[0].partitions;
    // The read that was under way completes (the object is still there).
    EXPECT_EQ(parts[0].error_code, 0);
    // The topic is gone by the time the second partition is looked at.
    EXPECT_EQ(parts[1].error_code, code(ErrorCode::kUnknownTopicOrPartition));
  });
}

}  // namespace
}  // namespace ks::handlers
