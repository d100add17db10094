#include "common/log_budget.h"

#include <gtest/gtest.h>

#include <thread>

namespace ks {
namespace {

using namespace std::chrono_literals;

TEST(LogBudget, BurstThenCountedUntilTheNextWindow) {
  LogBudget b(3, 50ms);
  for (int i = 0; i < 3; ++i) {
    auto t = b.take();
    EXPECT_TRUE(t.allowed);
    EXPECT_EQ(t.dropped, 0u);
  }
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(b.take().allowed);
  // A window with nothing written can only end by time passing; the budget waits for no one.
  auto start = LogBudget::Clock::now();
  LogBudget::Take next;
  while (!(next = b.take()).allowed) {
    ASSERT_LT(LogBudget::Clock::now() - start, 10s);
    std::this_thread::yield();
  }
  EXPECT_GE(next.dropped, 5u);  // the five above, and the tries of the wait
  EXPECT_EQ(b.take().dropped, 0u);
}

}  // namespace
}  // namespace ks
