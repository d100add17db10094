// A budget of log lines: at most `burst` lines per `window`; lines over it are
// counted, and the first line of a later window learns how many were dropped.
// For lines a client can cause at will (denials, failed logins), so a flood
// of bad requests cannot flood the log. Thread-safe.
#pragma once

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdint>
#include <mutex>
#include <utility>

namespace ks {

class LogBudget {
 public:
  using Clock = std::chrono::steady_clock;

  LogBudget(int burst, Clock::duration window) : burst_(burst), window_(window) {}

  struct Take {
    bool allowed = false;       // write this line
    std::uint64_t dropped = 0;  // lines dropped in the windows before (report them first)
  };
  Take take() {
    std::lock_guard l(mu_);
    Take t;
    const auto now = Clock::now();
    if (now - start_ >= window_) {
      t.dropped = dropped_;
      dropped_ = 0;
      start_ = now;
      lines_ = 0;
    }
    if (lines_ >= burst_) {
      ++dropped_;
      return t;
    }
    ++lines_;
    t.allowed = true;
    return t;
  }

 private:
  const int burst_;
  const Clock::duration window_;
  std::mutex mu_;
  Clock::time_point start_{};
  int lines_ = 0;
  std::uint64_t dropped_ = 0;
};

// One line through `budget` at `level`; when lines were dropped before, a line
// first says how many ("N more <what> not logged").
template <class... Args>
void log_limited(LogBudget& budget, spdlog::level::level_enum level, const char* what,
                 fmt::format_string<Args...> f, Args&&... args) {
  const LogBudget::Take t = budget.take();
  if (t.dropped > 0) spdlog::log(level, "{} more {} not logged", t.dropped, what);
  if (t.allowed) spdlog::log(level, f, std::forward<Args>(args)...);
}

}  // namespace ks
