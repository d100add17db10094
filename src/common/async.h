// Coroutine helpers for the broker's threading model: broker state lives on
// one Asio loop thread; blocking backend calls run on a worker pool.
#pragma once

#include <algorithm>
#include <boost/asio.hpp>
#include <chrono>
#include <exception>
#include <string>
#include <type_traits>
#include <vector>

namespace ks {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;
template <class T>
using awaitable = asio::awaitable<T>;

// Ends the process when a critical task (or a call on the worker pool) dies;
// see task.h. Never returns.
[[noreturn]] void task_died(const std::string& task, const std::string& why);

namespace detail {

std::string describe_exception(std::exception_ptr e);

// The work of one offload() call, owned by the pool task. Only a raw pointer
// to it travels through Asio's coroutine machinery: g++ 12 mishandles some
// non-trivial objects passed by value through coroutine frames.
template <class F>
struct OffloadJob {
  asio::thread_pool* pool;
  F fn;
};

template <class F, class R>
struct OffloadInit {
  OffloadJob<F>* job;
  template <class Handler>
  void operator()(Handler handler) const {
    auto ex = asio::get_associated_executor(handler);
    std::unique_ptr<OffloadJob<F>> owned(job);
    asio::thread_pool& pool = *owned->pool;
    asio::post(pool, [owned = std::move(owned), handler = std::move(handler), ex]() mutable {
      // Backends report failures as Status; an exception here is a bug that
      // must not strand the coroutine waiting for this result.
      R r = [&]() -> R {
        try {
          return owned->fn();
        } catch (...) {
          task_died("a call on the worker pool", describe_exception(std::current_exception()));
        }
      }();
      owned.reset();
      asio::post(ex, [handler = std::move(handler), r = std::move(r)]() mutable { handler(std::move(r)); });
    });
  }
};

}  // namespace detail

// Runs `f` on `pool` and resumes the awaiting coroutine on its own executor.
template <class F>
awaitable<std::invoke_result_t<F>> offload(asio::thread_pool& pool, F f) {
  using R = std::invoke_result_t<F>;
  auto* job = new detail::OffloadJob<F>{&pool, std::move(f)};
  return asio::async_initiate<decltype(asio::use_awaitable), void(R)>(detail::OffloadInit<F, R>{job},
                                                                      asio::use_awaitable);
}

// Wakes every coroutine waiting on it (loop thread only). Waiters re-check
// their condition after waking, so spurious wake-ups are harmless.
class Notifier {
 public:
  // Returns when notified or at `deadline`, whichever comes first.
  awaitable<void> wait_until(Clock::time_point deadline);
  void notify_all() {
    for (auto* t : waiters_) t->cancel();
  }
  std::size_t waiting() const { return waiters_.size(); }

 private:
  std::vector<asio::steady_timer*> waiters_;
};

// A one-shot event: once set, waits return at once.
class Event {
 public:
  void set() {
    set_ = true;
    n_.notify_all();
  }
  bool is_set() const { return set_; }
  // True when set, false at the deadline.
  awaitable<bool> wait_until(Clock::time_point deadline);
  // Waits until set, however long that takes.
  awaitable<void> wait();

 private:
  bool set_ = false;
  Notifier n_;
};

}  // namespace ks
