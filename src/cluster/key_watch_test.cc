// KeyWatch's health as /metrics shows it: up while its stream is open, down
// (with a growing down time) while the store is unreachable, up again after.
#include "cluster/key_watch.h"

#include <gtest/gtest.h>

#include <string>

#include "cluster/cluster_test_util.h"
#include "common/metrics.h"

namespace ks::cluster {
namespace {

using testing::run_loop;
using testing::until;

// The rendered value of a series of /metrics ("" when absent).
std::string metric_line(const std::string& series) {
  const std::string text = metrics::registry().render();
  auto at = text.find("\n" + series + " ");
  if (at == std::string::npos) return "";
  auto end = text.find('\n', at + 1);
  return text.substr(at + 1 + series.size() + 1, end - at - series.size() - 2);
}

TEST(KeyWatchTest, HealthShowsWhetherTheStreamIsOpen) {
  testing::StoreEnv env;
  auto fault = env.fault();
  const std::string up = R"(kafscale_watch_up{watch="health-test"})";
  const std::string down = R"(kafscale_watch_down_seconds{watch="health-test"})";
  run_loop([&](asio::io_context& io, asio::thread_pool& pool) -> awaitable<void> {
    KeyWatch w(io, metastore::AsyncMetadataStore(pool, fault), "/ks/test/", "/ks/test0", "health-test");
    EXPECT_TRUE((co_await w.load()).ok());
    EXPECT_EQ(metric_line(up), "");  // registered when started
    auto is_up = [&] { return w.up(); };
    auto is_down = [&] { return !w.up(); };
    auto down_a_while = [&] {
      const std::string v = metric_line(down);
      return !v.empty() && std::stod(v) > 0.2;
    };
    auto mirrored = [&] { return w.find("/ks/test/a") != nullptr; };
    w.start();
    EXPECT_TRUE(co_await until(is_up));
    EXPECT_EQ(metric_line(up), "1");
    EXPECT_EQ(metric_line(down), "0");
    // The store goes away and the stream breaks: down until it answers again.
    fault->set_unavailable(true);
    fault->break_watches();
    EXPECT_TRUE(co_await until(is_down));
    EXPECT_EQ(metric_line(up), "0");
    EXPECT_TRUE(co_await until(down_a_while));
    fault->set_unavailable(false);
    EXPECT_TRUE(co_await until(is_up));
    EXPECT_EQ(metric_line(down), "0");
    // What changed meanwhile reaches the mirror once the stream is back.
    EXPECT_TRUE(env.store()->put("/ks/test/a", "1").ok());
    EXPECT_TRUE(co_await until(mirrored));
    co_await w.stop();
  });
  EXPECT_EQ(metric_line(up), "");  // removed with the watch
}

}  // namespace
}  // namespace ks::cluster
