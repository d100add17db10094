#include "common/task.h"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>

namespace ks {
namespace {

std::mutex handler_mu;
TaskDiedHandler& handler() {
  static TaskDiedHandler h;
  return h;
}

}  // namespace

void set_task_died_handler(TaskDiedHandler h) {
  std::lock_guard l(handler_mu);
  handler() = std::move(h);
}

void task_died(const std::string& task, const std::string& why) {
  TaskDiedHandler h;
  {
    std::lock_guard l(handler_mu);
    h = handler();
  }
  if (h) h(task, why);
  spdlog::critical("background task '{}' died: {}; exiting so that the broker is restarted", task, why);
  spdlog::default_logger()->flush();
  // Also on stderr, unformatted, in case the log goes somewhere else.
  std::fprintf(stderr, "kafscale: background task '%s' died: %s\n", task.c_str(), why.c_str());
  std::fflush(stderr);
  std::_Exit(kTaskDiedExitCode);
}

namespace detail {

std::string describe_exception(std::exception_ptr e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    return std::string("exception: ") + ex.what();
  } catch (...) {
    return "unknown exception";
  }
}

}  // namespace detail
}  // namespace ks
