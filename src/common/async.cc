#include "common/async.h"

namespace ks {

// Defined here rather than inline in the header: every coroutine body has one
// definition in one object file.
awaitable<void> Notifier::wait_until(Clock::time_point deadline) {
  // time_point::max() overflows inside the timer (it would fire at once).
  const auto cap = Clock::now() + std::chrono::hours(24);
  auto ex = co_await asio::this_coro::executor;
  asio::steady_timer t(ex, std::min(deadline, cap));
  waiters_.push_back(&t);
  boost::system::error_code ec;
  co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  std::erase(waiters_, &t);
}

awaitable<bool> Event::wait_until(Clock::time_point deadline) {
  while (!set_ && Clock::now() < deadline) co_await n_.wait_until(deadline);
  co_return set_;
}

awaitable<void> Event::wait() {
  while (!set_) co_await n_.wait_until(Clock::now() + std::chrono::hours(24));
}

}  // namespace ks
