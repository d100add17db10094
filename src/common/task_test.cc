#include "common/task.h"

#include <gtest/gtest.h>

#include <stdexcept>

#include "common/assert.h"

namespace ks {
namespace {

awaitable<Status> throws() {
  throw std::runtime_error("boom");
  co_return Status{};
}

awaitable<Status> fails() { co_return Status(Errc::corrupt, "state went bad"); }

awaitable<Status> ends_in_order() { co_return Status{}; }

void run(awaitable<Status> (*task)()) {
  asio::io_context io;
  spawn_critical(io, "test task", [task] { return task(); });
  io.run();
}

TEST(TaskDeathTest, ExceptionExitsTheProcess) {
  EXPECT_EXIT(run(throws), testing::ExitedWithCode(kTaskDiedExitCode), "test task.*died.*boom");
}

TEST(TaskDeathTest, ErrorStatusExitsTheProcess) {
  EXPECT_EXIT(run(fails), testing::ExitedWithCode(kTaskDiedExitCode), "test task.*died.*state went bad");
}

TEST(TaskTest, OrderlyEndIsNotFatal) {
  run(ends_in_order);
  SUCCEED();
}

TEST(AssertDeathTest, FailedInvariantAbortsWithFileLineAndMessage) {
  int hwm = 5, leo = 3;
  EXPECT_DEATH(KS_ASSERT(hwm <= leo, "hwm {} past log end {}", hwm, leo),
               "task_test.cc:[0-9]+: invariant violated: hwm <= leo: hwm 5 past log end 3");
}

TEST(AssertTest, HoldsInReleaseBuildsToo) {
  bool evaluated = false;
  KS_ASSERT((evaluated = true), "never fails");
  EXPECT_TRUE(evaluated);
}

}  // namespace
}  // namespace ks
