// The coalescing writer: every write of the coordinator (offset chunks, group
// records, group deletions) goes through one queue; each round takes what is
// queued and packs it into as few fenced transactions as etcd's limits allow.
// A transaction carries the fence of every slot it writes (distinct fences
// once); a rejected one loses the slots whose fence failed.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <set>

#include "common/assert.h"
#include "common/metrics.h"
#include "coordinator/coordinator.h"
#include "metastore/request_checks.h"

namespace ks::coordinator {

using metastore::Op;
using metastore::TxnRequest;

namespace {

// Budget of one transaction: etcd allows 128 operations (counted here with
// the compares) and 1.5 MiB.
constexpr std::size_t kTxnMaxOps = metastore::kMaxTxnOps;
constexpr std::size_t kTxnMaxBytes = 1 << 20;
// Items taken into one writer round (bounds the memory of one round).
constexpr std::size_t kMaxItemsPerRound = 10000;

metrics::Counter& txns_counter() {
  static auto& c = metrics::registry().counter("kafscale_group_store_txns_total",
                                               "Metadata transactions written by the group coordinator");
  return c;
}
metrics::Counter& keys_counter() {
  static auto& c = metrics::registry().counter("kafscale_group_store_keys_written_total",
                                               "Keys put or deleted by the group coordinator");
  return c;
}

bool same_fence(const cluster::Fence& a, const cluster::Fence& b) {
  return a.key == b.key && a.revision == b.revision;
}

}  // namespace

// One writer round: transactions to run in order, and per transaction the
// fences it carries and the chunk images to install once it applied.
struct GroupCoordinator::Round {
  struct Install {
    std::shared_ptr<Group> group;
    std::string topic;
    std::int32_t chunk = 0;
    std::optional<Chunk> image;  // nullopt: the key was deleted
  };
  std::vector<TxnRequest> txns;
  std::vector<std::vector<cluster::Fence>> fences;  // per transaction, distinct
  std::vector<std::vector<Install>> installs;
  std::vector<std::set<std::size_t>> item_txns;  // per item: the transactions holding its keys
  bool delete_group = false;
};

const cluster::Fence* GroupCoordinator::write_fence(std::int32_t slot) const {
  auto it = slots_.find(slot);
  if (it == slots_.end()) return nullptr;
  if (it->second.state != Slot::State::kServing && it->second.state != Slot::State::kReleasing)
    return nullptr;
  return &it->second.fence;
}

void GroupCoordinator::enqueue(WriteItem item) {
  if (writer_exited_) {
    if (item.on_done) item.on_done(Status(Errc::cancelled, "group coordinator stopped"));
    return;
  }
  // Only a served slot takes new writes; what was queued before a release is still written.
  auto it = slots_.find(item.group->slot);
  if (it == slots_.end() || it->second.state != Slot::State::kServing) {
    if (item.on_done) item.on_done(Status(Errc::fenced, "not the coordinator of this group any more"));
    return;
  }
  ++item.group->writes_in_flight;
  queue_.push_back(std::move(item));
  queue_wakeup_.notify_all();
}

void GroupCoordinator::finish_item(WriteItem& item, const Status& s) {
  --item.group->writes_in_flight;
  if (item.on_done) item.on_done(s);
}

awaitable<Result<metastore::TxnResponse>> GroupCoordinator::run_txn(TxnRequest t) {
  return offload(pool_, [m = meta_, t = std::move(t)] { return m->txn(t); });
}

GroupCoordinator::Round GroupCoordinator::build_round(std::vector<WriteItem>& items) const {
  Round round;
  round.item_txns.resize(items.size());
  struct Pending {
    std::optional<std::string> value;  // nullopt: delete
    std::optional<Round::Install> install;
    std::vector<std::size_t> items;
    std::int32_t slot = 0;
  };
  std::map<std::string, Pending> ops;
  // Chunk images being built in this round, starting from the durable state.
  std::map<std::string, Round::Install> images;
  if (items.size() == 1 && items[0].kind == WriteItem::Kind::kDeleteGroup) {
    // A group deletion is a round of its own: one range delete of all its keys.
    const Group& g = *items[0].group;
    const cluster::Fence* fence = write_fence(g.slot);
    KS_ASSERT(fence != nullptr, "group {}: deletion queued for slot {} not served", g.id, g.slot);
    round.delete_group = true;
    TxnRequest t;
    t.compare.push_back(fence->compare());
    t.failure.push_back(fence->read());
    const std::string prefix = group_prefix(g.slot, g.id);
    t.success.push_back(Op::del(prefix, metastore::prefix_end(prefix)));
    round.txns.push_back(std::move(t));
    round.fences.emplace_back(1, *fence);
    round.installs.emplace_back();
    round.item_txns[0].insert(0);
    return round;
  }
  for (std::size_t i = 0; i < items.size(); ++i) {
    WriteItem& item = items[i];
    const Group& g = *item.group;
    if (item.kind == WriteItem::Kind::kMeta) {
      auto& p = ops[meta_key(g.slot, g.id)];
      p.value = item.meta;
      p.items.push_back(i);
      p.slot = g.slot;
      continue;
    }
    for (auto& u : item.updates) {
      const std::int32_t c = chunk_of(u.partition);
      std::string key = offsets_key(g.slot, g.id, u.topic, c);
      auto it = images.find(key);
      if (it == images.end()) {
        Round::Install in;
        in.group = item.group;
        in.topic = u.topic;
        in.chunk = c;
        Chunk image;
        auto tit = g.offsets.find(u.topic);
        if (tit != g.offsets.end()) {
          auto cit = tit->second.find(c);
          if (cit != tit->second.end()) image = cit->second;
        }
        in.image = std::move(image);
        it = images.emplace(key, std::move(in)).first;
      }
      Chunk& image = *it->second.image;
      if (u.value) {
        // A re-created topic starts over: drop the old incarnation's offsets.
        if (image.topic_id != u.topic_id) {
          image.parts.clear();
          image.topic_id = u.topic_id;
        }
        image.parts[u.partition] = *u.value;
      } else {
        image.parts.erase(u.partition);
      }
      auto& p = ops[key];
      p.slot = g.slot;
      if (p.items.empty() || p.items.back() != i) p.items.push_back(i);
    }
  }
  for (auto& [key, in] : images) {
    auto& p = ops[key];
    if (!in.image->parts.empty()) p.value = encode_chunk(in.topic, *in.image);
    if (in.image->parts.empty()) in.image.reset();
    p.install = std::move(in);
  }
  // Pack the keys (sorted, so a slot's keys are together) into as few
  // transactions as the limits allow, each with the fences of its slots.
  TxnRequest cur;
  std::vector<cluster::Fence> cur_fences;
  std::vector<Round::Install> cur_installs;
  std::size_t cur_bytes = 0;
  auto flush = [&] {
    if (cur.success.empty()) return;
    for (const auto& f : cur_fences) {
      cur.compare.push_back(f.compare());
      cur.failure.push_back(f.read());
    }
    round.txns.push_back(std::move(cur));
    round.fences.push_back(std::move(cur_fences));
    round.installs.push_back(std::move(cur_installs));
    cur = TxnRequest{};
    cur_fences.clear();
    cur_installs.clear();
    cur_bytes = 0;
  };
  for (auto& [key, p] : ops) {
    const cluster::Fence* fence = write_fence(p.slot);
    KS_ASSERT(fence != nullptr, "write queued for slot {} not served", p.slot);
    auto has_fence = [&] {
      return std::any_of(cur_fences.begin(), cur_fences.end(),
                         [&](const cluster::Fence& f) { return same_fence(f, *fence); });
    };
    const std::size_t bytes = metastore::approx_put_bytes(key, p.value.value_or(""));
    const std::size_t cost = 1 + (has_fence() ? 0 : 1);
    if (cur_fences.size() + cur.success.size() + cost > kTxnMaxOps ||
        (cur_bytes + bytes > kTxnMaxBytes && !cur.success.empty())) {
      flush();
    }
    if (!has_fence()) cur_fences.push_back(*fence);
    cur.success.push_back(p.value ? Op::put(key, *p.value) : Op::del(key));
    cur_bytes += bytes;
    if (p.install) cur_installs.push_back(std::move(*p.install));
    for (std::size_t i : p.items) round.item_txns[i].insert(round.txns.size());
  }
  flush();
  return round;
}

void GroupCoordinator::fences_rejected(const std::vector<cluster::Fence>& failed, const Status& why) {
  std::vector<std::int32_t> lost;
  for (auto& [slot, st] : slots_) {
    if (st.state == Slot::State::kLost) continue;
    for (const auto& f : failed) {
      if (same_fence(st.fence, f)) {
        lost.push_back(slot);
        break;
      }
    }
  }
  for (std::int32_t slot : lost) {
    spdlog::error("group coordinator: slot {} lost: {}", slot, why.message());
    Slot& st = slots_.at(slot);
    st.state = Slot::State::kLost;
    ++st.token;  // a load under way for it ends
    answer_waiting(slot);
    forget_groups(slot);
  }
  if (!lost.empty()) refresh_lag();
}

awaitable<Status> GroupCoordinator::writer() {
  for (;;) {
    if (queue_.empty()) {
      round_done_.notify_all();
      if (stopping_) break;
      co_await queue_wakeup_.wait_until(Clock::now() + std::chrono::hours(1));
      continue;
    }
    if (opt_.commit_linger.count() > 0 && !stopping_) {
      // Let commits arriving together share the transaction.
      auto ex = co_await asio::this_coro::executor;
      asio::steady_timer t(ex, opt_.commit_linger);
      boost::system::error_code ec;
      co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    std::vector<WriteItem> items;
    auto take = [&] {
      WriteItem item = std::move(queue_.front());
      queue_.pop_front();
      if (write_fence(item.group->slot) == nullptr) {
        // Its slot was lost while it waited: nothing of it may be written.
        finish_item(item, Status(Errc::fenced, "not the coordinator of this group any more"));
        return;
      }
      items.push_back(std::move(item));
    };
    while (items.empty() && !queue_.empty() && queue_.front().kind == WriteItem::Kind::kDeleteGroup) {
      take();
    }
    if (items.empty()) {
      while (!queue_.empty() && queue_.front().kind != WriteItem::Kind::kDeleteGroup &&
             items.size() < kMaxItemsPerRound) {
        take();
      }
    }
    if (items.empty()) continue;
    Round round = build_round(items);
    std::vector<Status> results(round.txns.size());
    for (std::size_t t = 0; t < round.txns.size(); ++t) {
      if (cluster_.fenced()) {
        results[t] = Status(Errc::fenced, "group coordinator lost ownership");
        continue;
      }
      // A fence rejected earlier in this round fails the transactions carrying it unsent.
      bool stale = false;
      for (const auto& f : round.fences[t]) {
        bool current = false;
        for (const auto& [slot, st] : slots_) {
          if (st.state != Slot::State::kLost && st.state != Slot::State::kLoading && same_fence(st.fence, f))
            current = true;
        }
        if (!current) stale = true;
      }
      if (stale) {
        results[t] = Status(Errc::fenced, "the slot's coordinator moved");
        continue;
      }
      const std::size_t keys = round.txns[t].success.size();
      auto r = co_await run_txn(std::move(round.txns[t]));
      if (!r.ok()) {
        results[t] = r.status();
        spdlog::warn("group coordinator: metadata write failed: {}", r.status().to_string());
        continue;
      }
      if (!r->succeeded) {
        // Which fences failed: the failure branch read each fence key.
        std::vector<cluster::Fence> failed;
        const auto& fences = round.fences[t];
        for (std::size_t i = 0; i < fences.size(); ++i) {
          std::int64_t rev = 0;
          if (i < r->results.size() && !r->results[i].range.kvs.empty())
            rev = r->results[i].range.kvs[0].mod_revision;
          if (rev != fences[i].revision) failed.push_back(fences[i]);
        }
        if (failed.empty()) failed = fences;  // cannot tell: every fence of it is suspect
        results[t] = Status(Errc::fenced, "slot ownership key changed: another broker coordinates the slot");
        fences_rejected(failed, results[t]);
        continue;
      }
      ++stats_.txns;
      stats_.keys_written += keys;
      txns_counter().inc();
      keys_counter().add(keys);
      for (auto& in : round.installs[t]) {
        Group& g = *in.group;
        if (in.image) {
          g.offsets[in.topic][in.chunk] = std::move(*in.image);
        } else {
          auto tit = g.offsets.find(in.topic);
          if (tit != g.offsets.end()) {
            tit->second.erase(in.chunk);
            if (tit->second.empty()) g.offsets.erase(tit);
          }
        }
      }
      if (round.delete_group) items[0].group->offsets.clear();
    }
    for (std::size_t i = 0; i < items.size(); ++i) {
      Status s;
      for (std::size_t t : round.item_txns[i]) {
        if (!results[t].ok()) {
          s = results[t];
          break;
        }
      }
      // Rejected only for another slot's fence (a transaction mixing slots):
      // this slot is still ours, the client retries.
      if (s.code() == Errc::fenced && !cluster_.fenced() && owns_slot(items[i].group->slot))
        s = Status(Errc::unavailable, "written together with a slot that moved; retry");
      finish_item(items[i], s);
    }
    round_done_.notify_all();
  }
  writer_exited_ = true;
  writer_done_.set();
  co_return Status{};
}

}  // namespace ks::coordinator
