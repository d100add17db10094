// Background tasks that must not die quietly.
//
// The committer, checkpointer, object PUTs, GC and the group-offset writer are
// coroutines nobody awaits. If one of them ended by an exception or an
// unexpected error while the process kept running, producers would time out
// while /readyz stayed green. spawn_critical() makes such an end fatal: the
// process logs which task died and why, and exits with kTaskDiedExitCode (an
// orchestrator restarts it; brokers keep no state that needs saving).
//
// A task reports an orderly end (stop requested, or this broker was fenced)
// by returning an ok Status; any other Status or an exception is fatal.
#pragma once

#include <exception>
#include <functional>
#include <string>

#include "common/async.h"
#include "common/status.h"

namespace ks {

// EX_SOFTWARE: an internal error; distinct from bad settings (2) and
// unreachable backends at start-up (1).
inline constexpr int kTaskDiedExitCode = 70;

// Called when a critical task dies; must not return. The default logs at
// critical level, flushes the log and exits with kTaskDiedExitCode.
using TaskDiedHandler = std::function<void(const std::string& task, const std::string& why)>;
void set_task_died_handler(TaskDiedHandler h);
// task_died() (declared in async.h) runs it.

// Starts `make()` (returning awaitable<Status>) from the loop's queue, never
// inline inside the coroutine that asks for it.
template <class F>
void spawn_critical(asio::io_context& io, const char* what, F make) {
  asio::post(io, [&io, make = std::move(make), what]() mutable {
    asio::co_spawn(io, make(), [what](std::exception_ptr e, Status s) {
      if (e) task_died(what, detail::describe_exception(e));
      if (!s.ok()) task_died(what, s.to_string());
    });
  });
}

}  // namespace ks
