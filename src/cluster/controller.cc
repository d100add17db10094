#include "cluster/controller.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <utility>

#include "cluster/keys.h"
#include "cluster/streams.h"
#include "common/assert.h"
#include "common/task.h"

namespace ks::cluster {

using namespace std::chrono_literals;

namespace {

// Pause after a store error before the next campaign or write.
constexpr auto kRetryDelay = 200ms;
// The loop re-checks its conditions at least this often, whatever it heard.
constexpr auto kRecheck = 1s;

metastore::Compare controller_epoch_is(std::int64_t epoch) {
  metastore::Compare c;
  c.key = keys::controller();
  c.target = metastore::Compare::Target::create_revision;
  c.result = metastore::Compare::Result::equal;
  c.number = epoch;
  return c;
}

metastore::TxnRequest campaign_txn(std::int32_t node, metastore::LeaseId lease) {
  metastore::TxnRequest t;
  t.compare.push_back(controller_epoch_is(0));
  t.success.push_back(metastore::Op::put(keys::controller(), encode_controller(node), lease));
  t.failure.push_back(metastore::Op::get(keys::controller()));
  return t;
}

metastore::TxnRequest placement_txn(const Placement& p, std::int64_t epoch) {
  metastore::TxnRequest t;
  t.compare.push_back(controller_epoch_is(epoch));
  metastore::Compare c;
  c.key = keys::placement();
  c.target = metastore::Compare::Target::mod_revision;
  c.result = metastore::Compare::Result::equal;
  c.number = p.mod_revision;
  t.compare.push_back(std::move(c));
  t.success.push_back(metastore::Op::put(keys::placement(), encode_placement(p)));
  t.failure.push_back(metastore::Op::get(keys::controller()));
  t.failure.push_back(metastore::Op::get(keys::placement()));
  return t;
}

metastore::TxnRequest resign_txn(std::int64_t epoch) {
  metastore::TxnRequest t;
  t.compare.push_back(controller_epoch_is(epoch));
  t.success.push_back(metastore::Op::del(keys::controller()));
  return t;
}

// The first key of a failure branch's range result (nullptr when absent).
const metastore::KeyValue* first_kv(const metastore::TxnResponse& r, std::size_t op) {
  if (op >= r.results.size() || r.results[op].range.kvs.empty()) return nullptr;
  return &r.results[op].range.kvs.front();
}

}  // namespace

Controller::Controller(asio::io_context& io, asio::thread_pool& pool,
                       std::shared_ptr<metastore::MetadataStore> meta, Membership& membership,
                       PlacementView& view, std::int32_t streams)
    : io_(io), meta_(pool, std::move(meta)), membership_(membership), view_(view), streams_(streams) {
  KS_ASSERT(streams > 0 && streams <= kMaxStreams, "controller of {} streams", streams);
}

Controller::~Controller() = default;

void Controller::start() {
  KS_ASSERT(!started_, "controller started twice");
  started_ = true;
  relays_running_ = 2;
  spawn_critical(io_, "controller", [this] { return loop(); });
  spawn_critical(io_, "controller member relay", [this, n = &membership_.changed()] { return relay(*n); });
  spawn_critical(io_, "controller placement relay", [this, n = &view_.changed()] { return relay(*n); });
}

awaitable<void> Controller::stop() {
  if (!started_ || stopping_) co_return;
  stopping_ = true;
  wake_.notify_all();
  // Spurious wake-ups are harmless to every waiter of these two.
  membership_.changed().notify_all();
  view_.changed().notify_all();
  co_await loop_done_.wait();
  co_await relays_done_.wait();
  co_await resign();
}

void Controller::set_controller(bool on, std::int64_t epoch) {
  if (on == is_controller_ && epoch == epoch_) return;
  if (on) {
    spdlog::info("controller: node {} is the controller (epoch {})", membership_.node_id(), epoch);
  } else if (is_controller_) {
    spdlog::info("controller: node {} is no longer the controller (epoch {})", membership_.node_id(), epoch_);
  }
  is_controller_ = on;
  epoch_ = on ? epoch : 0;
  wait_view_revision_ = 0;
  changed_.notify_all();
}

awaitable<Status> Controller::relay(Notifier& from) {
  while (!stopping_) {
    co_await from.wait_until(Clock::now() + std::chrono::hours(1));
    wake_.notify_all();
  }
  if (--relays_running_ == 0) relays_done_.set();
  co_return Status{};
}

awaitable<Status> Controller::loop() {
  while (!stopping_) {
    const auto now = Clock::now();
    auto wake_at = now + kRecheck;
    if (membership_.alive() && now >= retry_at_) {
      if (!is_controller_) {
        // Campaign once the view shows no controller key (and has seen
        // whatever our last lost campaign found there).
        if (view_.controller_epoch() == 0 && view_.controller_revision() >= wait_view_revision_) {
          co_await campaign();
          continue;
        }
      } else if (view_.controller_revision() >= epoch_ && view_.controller_epoch() != epoch_) {
        set_controller(false, 0);
        continue;
      } else if (view_.placement_revision() >= wait_view_revision_) {
        const Placement& cur = view_.current();
        if (plan_placement(cur, membership_.members(), streams_).streams != cur.streams) {
          if (now >= last_write_ + kMinWriteInterval) {
            co_await step();
            continue;
          }
          wake_at = last_write_ + kMinWriteInterval;
        }
      }
    } else if (now < retry_at_) {
      wake_at = retry_at_;
    }
    co_await wake_.wait_until(wake_at);
  }
  loop_done_.set();
  co_return Status{};
}

awaitable<void> Controller::campaign() {
  const std::int32_t node = membership_.node_id();
  auto r = co_await meta_.txn(campaign_txn(node, membership_.lease()));
  if (!r.ok()) {
    spdlog::warn("controller: campaign of node {} failed: {}", node, r.status().to_string());
    retry_at_ = Clock::now() + kRetryDelay;
    co_return;
  }
  if (r->succeeded) {
    set_controller(true, r->revision);
    co_return;
  }
  // Someone else holds the key: wait until the view has seen it.
  const metastore::KeyValue* kv = first_kv(*r, 0);
  wait_view_revision_ = kv != nullptr ? kv->mod_revision : r->revision;
}

awaitable<Result<std::int64_t>> Controller::write_placement(Placement p) {
  const std::int64_t epoch = p.controller_epoch;
  auto r = co_await meta_.txn(placement_txn(p, epoch));
  if (!r.ok()) co_return r.status();
  if (r->succeeded) co_return r->revision;
  const metastore::KeyValue* ctl = first_kv(*r, 0);
  if (epoch == 0 || ctl == nullptr || ctl->create_revision != epoch) {
    co_return Status(Errc::fenced, fmt::format("controller epoch {} is no longer current (now {})", epoch,
                                               ctl == nullptr ? 0 : ctl->create_revision));
  }
  const metastore::KeyValue* pl = first_kv(*r, 1);
  co_return Status(Errc::already_exists, fmt::format("placement changed since revision {} (now {})",
                                                     p.mod_revision, pl == nullptr ? 0 : pl->mod_revision));
}

awaitable<void> Controller::step() {
  Placement plan = plan_placement(view_.current(), membership_.members(), streams_);
  const std::int64_t from = plan.mod_revision;
  plan.controller_epoch = epoch_;
  last_write_ = Clock::now();
  auto r = co_await write_placement(std::move(plan));
  if (r.ok()) {
    ++writes_;
    wait_view_revision_ = *r;
    spdlog::info("controller: placement written at revision {} (epoch {})", *r, epoch_);
    changed_.notify_all();
  } else if (r.code() == Errc::fenced) {
    spdlog::warn("controller: placement write rejected: {}", r.status().to_string());
    set_controller(false, 0);
  } else if (r.code() == Errc::already_exists) {
    // Plan again once the view has caught up with the newer placement.
    wait_view_revision_ = std::max(wait_view_revision_, from + 1);
  } else {
    spdlog::warn("controller: placement write failed: {}; retrying", r.status().to_string());
    retry_at_ = Clock::now() + kRetryDelay;
  }
}

awaitable<void> Controller::resign() {
  if (!is_controller_) co_return;
  const std::int64_t epoch = epoch_;
  auto r = co_await meta_.txn(resign_txn(epoch));
  if (!r.ok()) {
    spdlog::warn("controller: resigning epoch {}: {} (the key expires with the lease)", epoch,
                 r.status().to_string());
  }
  set_controller(false, 0);
}

}  // namespace ks::cluster
