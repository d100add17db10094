#include "cluster/membership.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>
#include <utility>

#include "cluster/keys.h"
#include "cluster/record_json.h"
#include "common/assert.h"
#include "common/task.h"
#include "common/versioned_json.h"

namespace ks::cluster {

using nlohmann::json;
using namespace std::chrono_literals;

namespace {

// Automatic ids: attempts before giving up when other brokers keep winning the id we chose.
constexpr int kClaimAttempts = 100;

// ---- store calls as awaitables (plain functions: no lambda inside a co_await)

awaitable<Result<metastore::LeaseId>> lease_grant(metastore::AsyncMetadataStore& meta,
                                                  std::int64_t ttl_seconds) {
  return offload(meta.pool(), [m = meta.store(), ttl_seconds] { return m->lease_grant(ttl_seconds); });
}

awaitable<Status> lease_keepalive(metastore::AsyncMetadataStore& meta, metastore::LeaseId id) {
  return offload(meta.pool(), [m = meta.store(), id] { return m->lease_keepalive(id); });
}

awaitable<Status> lease_revoke(metastore::AsyncMetadataStore& meta, metastore::LeaseId id) {
  return offload(meta.pool(), [m = meta.store(), id] { return m->lease_revoke(id); });
}

// ---- transactions (built outside coroutine bodies)

metastore::TxnRequest put_member_txn(const MemberInfo& m, metastore::LeaseId lease) {
  metastore::TxnRequest t;
  t.success.push_back(metastore::Op::put(keys::member(m.node), encode_member(m), lease));
  return t;
}

// The put, done only if the member key's `target` equals `number`.
metastore::TxnRequest put_member_if(const MemberInfo& m, metastore::LeaseId lease,
                                    metastore::Compare::Target target, std::int64_t number) {
  metastore::TxnRequest t = put_member_txn(m, lease);
  metastore::Compare c;
  c.key = keys::member(m.node);
  c.target = target;
  c.result = metastore::Compare::Result::equal;
  c.number = number;
  t.compare.push_back(std::move(c));
  return t;
}

// Create-if-absent: the id is ours only if nobody holds its key.
metastore::TxnRequest claim_member_txn(const MemberInfo& m, metastore::LeaseId lease) {
  return put_member_if(m, lease, metastore::Compare::Target::create_revision, 0);
}

// Rewrite while the key is still held under our lease.
metastore::TxnRequest rewrite_member_txn(const MemberInfo& m, metastore::LeaseId lease) {
  return put_member_if(m, lease, metastore::Compare::Target::lease, lease);
}

metastore::RangeRequest member_ids_request() {
  metastore::RangeRequest rq;
  rq.key = keys::members_prefix();
  rq.range_end = metastore::prefix_end(rq.key);
  rq.keys_only = true;
  return rq;
}

}  // namespace

std::string encode_member(const MemberInfo& m) {
  json j;
  j["v"] = 1;
  j["node"] = m.node;
  j["host"] = m.host;
  j["port"] = m.port;
  j["rack"] = m.rack;
  j["draining"] = m.draining;
  if (!m.listeners.empty()) {
    json ls = json::array();
    for (const auto& l : m.listeners)
      ls.push_back(json{{"name", l.name}, {"host", l.host}, {"port", l.port}});
    j["listeners"] = std::move(ls);
  }
  return j.dump();
}

Result<MemberInfo> decode_member(const std::string& text) {
  return parse_versioned(text, "member record", [](const json& j) -> Result<MemberInfo> {
    auto node = record_json::int_field(j, "node", 0, INT32_MAX);
    auto port = record_json::int_field(j, "port", 0, 65535);
    if (!node || !port) return Status(Errc::corrupt, "member record: bad node or port");
    MemberInfo m;
    m.node = static_cast<std::int32_t>(*node);
    m.port = static_cast<std::int32_t>(*port);
    m.host = j.at("host").get<std::string>();
    m.rack = j.at("rack").get<std::string>();
    m.draining = j.at("draining").get<bool>();
    if (auto it = j.find("listeners"); it != j.end()) {
      if (!it->is_array()) return Status(Errc::corrupt, "member record: listeners is not a list");
      for (const auto& l : *it) {
        auto lport = record_json::int_field(l, "port", 0, 65535);
        if (!lport) return Status(Errc::corrupt, "member record: bad listener port");
        MemberListener ml;
        ml.name = l.at("name").get<std::string>();
        ml.host = l.at("host").get<std::string>();
        ml.port = static_cast<std::int32_t>(*lport);
        m.listeners.push_back(std::move(ml));
      }
    }
    return m;
  });
}

Membership::Membership(asio::io_context& io, asio::thread_pool& pool,
                       std::shared_ptr<metastore::MetadataStore> meta, MembershipOptions options)
    : io_(io), meta_(pool, std::move(meta)), opt_(std::move(options)) {
  const std::int64_t ms = std::max<std::int64_t>(opt_.lease_ttl.count(), 1);
  ttl_ = std::chrono::seconds((ms + 999) / 1000);
  margin_ = std::max<std::chrono::milliseconds>(ttl_ / 4, 500ms);
}

Membership::~Membership() = default;

bool Membership::alive() const { return started_ && !stopping_ && !lost_ && Clock::now() < deadline_; }

void Membership::set_deadline(Clock::time_point sent) {
  deadline_ = std::max(deadline_, sent + ttl_ - margin_);
  if (started_ && !was_alive_ && alive()) {
    was_alive_ = true;
    changed_.notify_all();
  }
  wake_.notify_all();
}

awaitable<Status> Membership::grant() {
  const auto sent = Clock::now();
  auto r = co_await lease_grant(meta_, ttl_.count() / 1000);
  if (!r.ok()) co_return Status(r.code(), "membership: lease grant: " + r.status().message());
  lease_ = *r;
  set_deadline(sent);
  co_return Status{};
}

awaitable<Status> Membership::register_explicit(std::int32_t node) {
  self_.node = node;
  auto r = co_await meta_.txn(put_member_txn(self_, lease_));
  if (!r.ok()) co_return Status(r.code(), "membership: register: " + r.status().message());
  node_ = node;
  reg_rev_ = r->revision;
  co_return Status{};
}

awaitable<Status> Membership::register_lowest_free() {
  for (int attempt = 0; attempt < kClaimAttempts; ++attempt) {
    auto ids = co_await meta_.range(member_ids_request());
    if (!ids.ok()) co_return Status(ids.code(), "membership: list members: " + ids.status().message());
    std::set<std::int32_t> taken;
    for (const auto& kv : ids->kvs) {
      if (auto n = keys::parse_member_key(kv.key)) taken.insert(*n);
    }
    if (opt_.holds_state) {
      metastore::RangeRequest rq;
      rq.key = keys::streams_prefix();
      rq.range_end = metastore::prefix_end(rq.key);
      auto held = co_await meta_.range(rq);
      if (!held.ok())
        co_return Status(held.code(), "membership: list stream owners: " + held.status().message());
      for (const auto& kv : held->kvs) {
        if (auto n = opt_.holds_state(kv)) taken.insert(*n);
      }
    }
    std::int32_t id = 0;
    while (taken.contains(id)) ++id;
    if (id > opt_.max_node_id) {
      co_return Status(Errc::limit_exceeded,
                       fmt::format("membership: every node id up to {} is taken", opt_.max_node_id));
    }
    self_.node = id;
    auto r = co_await meta_.txn(claim_member_txn(self_, lease_));
    if (!r.ok()) co_return Status(r.code(), "membership: claim node id: " + r.status().message());
    if (r->succeeded) {
      node_ = id;
      reg_rev_ = r->revision;
      co_return Status{};
    }
    // Another broker took this id between our read and our claim.
  }
  co_return Status(Errc::unavailable,
                   fmt::format("membership: lost the race for a node id {} times", kClaimAttempts));
}

awaitable<Status> Membership::start() {
  KS_ASSERT(!started_ && lease_ == 0, "membership started twice");
  self_.host = opt_.host;
  self_.port = opt_.port;
  self_.rack = opt_.rack;
  self_.listeners = opt_.listeners;
  Status st = co_await grant();
  if (!st.ok()) co_return st;
  if (opt_.node_id) {
    st = co_await register_explicit(*opt_.node_id);
  } else {
    st = co_await register_lowest_free();
  }
  if (st.ok()) {
    const std::string prefix = keys::members_prefix();
    watch_ = std::make_unique<KeyWatch>(io_, meta_, prefix, metastore::prefix_end(prefix), "members");
    watch_->on_change([this] { members_changed(); });
    st = co_await watch_->load();
  }
  if (!st.ok()) {
    Status r = co_await lease_revoke(meta_, lease_);
    if (!r.ok()) spdlog::warn("membership: revoking lease {:x}: {}", lease_, r.to_string());
    watch_.reset();
    lease_ = 0;
    co_return st;
  }
  started_ = true;
  was_alive_ = alive();
  members_changed();
  spdlog::info("membership: registered as node {} (lease {:x}, ttl {} ms, revision {})", node_, lease_,
               ttl_.count(), reg_rev_);
  watch_->start();
  spawn_critical(io_, "membership keepalive", [this] { return keepalive_loop(); });
  spawn_critical(io_, "membership deadline", [this] { return deadline_loop(); });
  co_return Status{};
}

awaitable<void> Membership::stop() {
  if (!started_ || stopping_) co_return;
  stopping_ = true;
  wake_.notify_all();
  co_await keepalive_done_.wait();
  co_await deadline_done_.wait();
  co_await watch_->stop();
  Status st = co_await lease_revoke(meta_, lease_);
  if (!st.ok() && st.code() != Errc::not_found) {
    spdlog::warn("membership: revoking lease {:x}: {} (the member key expires with it)", lease_,
                 st.to_string());
  }
  changed_.notify_all();
}

void Membership::mark_lost(const Status& why) {
  if (lost_ || stopping_) return;
  lost_ = true;
  spdlog::error("membership: node {} lost its registration: {}", node_, why.to_string());
  was_alive_ = false;
  changed_.notify_all();
  wake_.notify_all();
  if (on_lost_) on_lost_(why);
}

void Membership::members_changed() {
  std::map<std::int32_t, MemberInfo> next;
  for (const auto& [key, kv] : watch_->kvs()) {
    auto node = keys::parse_member_key(key);
    if (!node) continue;
    auto m = decode_member(kv.value);
    if (!m.ok() || m->node != *node) {
      spdlog::warn("membership: ignoring member key {}: {}", key,
                   m.ok() ? "node id differs from the key" : m.status().to_string());
      continue;
    }
    next.emplace(*node, std::move(m).value());
  }
  const bool differ = next != members_;
  members_ = std::move(next);
  if (started_ && !lost_ && !stopping_) {
    const metastore::KeyValue* mine = watch_->find(keys::member(node_));
    if (mine == nullptr) {
      mark_lost(Status(Errc::fenced, fmt::format("member key of node {} was deleted", node_)));
    } else if (mine->lease != lease_) {
      mark_lost(Status(Errc::fenced, fmt::format("member key of node {} was rewritten at revision {} by "
                                                 "another process (lease {:x})",
                                                 node_, mine->mod_revision, mine->lease)));
    }
  }
  if (differ) changed_.notify_all();
}

awaitable<Status> Membership::set_draining() {
  KS_ASSERT(started_, "set_draining before start");
  if (lost_) co_return Status(Errc::fenced, "membership: registration lost");
  MemberInfo next = self_;
  next.draining = true;
  auto r = co_await meta_.txn(rewrite_member_txn(next, lease_));
  if (!r.ok()) co_return Status(r.code(), "membership: set draining: " + r.status().message());
  if (!r->succeeded) {
    co_return Status(Errc::fenced, fmt::format("membership: member key of node {} is no longer ours", node_));
  }
  self_.draining = true;
  reg_rev_ = r->revision;
  co_return Status{};
}

awaitable<Status> Membership::keepalive_loop() {
  const auto interval = std::max<std::chrono::milliseconds>(
      std::chrono::duration_cast<std::chrono::milliseconds>(ttl_) / 3, 1ms);
  const auto retry = std::min<std::chrono::milliseconds>(interval, 250ms);
  auto next = deadline_ - ttl_ + margin_ + interval;  // the grant's send time + interval
  while (!stopping_ && !lost_) {
    if (Clock::now() < next) {
      co_await wake_.wait_until(next);
      continue;
    }
    const auto sent = Clock::now();
    Status st = co_await lease_keepalive(meta_, lease_);
    if (stopping_ || lost_) break;
    if (st.ok()) {
      set_deadline(sent);
      next = sent + interval;
    } else if (st.code() == Errc::not_found) {
      mark_lost(Status(Errc::fenced,
                       fmt::format("lease {:x} of node {} expired: {}", lease_, node_, st.message())));
    } else {
      spdlog::warn("membership: keepalive of lease {:x} failed: {} (deadline in {} ms)", lease_,
                   st.to_string(),
                   std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - Clock::now()).count());
      next = Clock::now() + retry;
    }
  }
  keepalive_done_.set();
  co_return Status{};
}

awaitable<Status> Membership::deadline_loop() {
  while (!stopping_ && !lost_) {
    const bool a = alive();
    if (a != was_alive_) {
      was_alive_ = a;
      if (!a) spdlog::warn("membership: node {} passed its lease deadline", node_);
      changed_.notify_all();
    }
    co_await wake_.wait_until(a ? deadline_ : Clock::now() + std::chrono::hours(1));
  }
  deadline_done_.set();
  co_return Status{};
}

}  // namespace ks::cluster
