// Offsets and storage: OffsetCommit / OffsetFetch / OffsetDelete,
// DescribeGroups / ListGroups / DeleteGroups, the coalescing writer, loading
// at start-up. Offset retention and lag metrics are in retention.cc.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <set>

#include "common/metrics.h"
#include "common/task.h"
#include "coordinator/coordinator.h"
#include "metastore/request_checks.h"

namespace ks::coordinator {

using metastore::Compare;
using metastore::Op;
using metastore::TxnRequest;

namespace {

// Budget of one transaction: etcd allows 128 operations and 1.5 MiB; stay
// below with room for the fencing compare.
constexpr std::size_t kTxnMaxOps = metastore::kMaxTxnOps;
constexpr std::size_t kTxnMaxBytes = 1 << 20;
// Keys per range read when loading.
constexpr std::int64_t kLoadPageKeys = 1000;
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
metrics::Counter& commits_counter() {
  static auto& c =
      metrics::registry().counter("kafscale_offset_commits_total", "Partition offsets committed");
  return c;
}
std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

// One writer round: transactions to run in order, and per transaction the
// chunk images to install once it applied.
struct GroupCoordinator::Round {
  struct Install {
    std::shared_ptr<Group> group;
    std::string topic;
    std::int32_t chunk = 0;
    std::optional<Chunk> image;  // nullopt: the key was deleted
  };
  std::vector<TxnRequest> txns;
  std::vector<std::vector<Install>> installs;
  std::vector<std::set<std::size_t>> item_txns;  // per item: the transactions holding its keys
  bool delete_group = false;
};

std::int64_t GroupCoordinator::now_ms() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

ErrorCode GroupCoordinator::write_error(const Status& s) const {
  switch (s.code()) {
    case Errc::ok:
      return ErrorCode::kNone;
    case Errc::fenced:
    case Errc::cancelled:
      return ErrorCode::kNotCoordinator;
    case Errc::timeout:
      return ErrorCode::kRequestTimedOut;
    case Errc::limit_exceeded:
      return ErrorCode::kInvalidCommitOffsetSize;
    default:
      return ErrorCode::kCoordinatorNotAvailable;
  }
}

// ---------------------------------------------------------------- commits

std::shared_ptr<CommitWait> GroupCoordinator::commit(CommitParams p) {
  auto w = std::make_shared<CommitWait>();
  w->errors.assign(p.partitions.size(), ErrorCode::kNone);
  auto fail_all = [&](ErrorCode e) {
    std::fill(w->errors.begin(), w->errors.end(), e);
    w->done.set();
    return w;
  };
  if (unavailable()) return fail_all(ErrorCode::kNotCoordinator);
  if (p.group_id.empty()) return fail_all(ErrorCode::kInvalidGroupId);
  std::shared_ptr<Group> gp = find(p.group_id);
  if (!gp) {
    // Only a simple consumer (generation -1) may create a group by committing.
    if (p.generation >= 0) return fail_all(ErrorCode::kIllegalGeneration);
    ErrorCode e = ErrorCode::kNone;
    gp = get_or_create(p.group_id, e);
    if (!gp) return fail_all(e);
  } else if (gp->state == GroupState::kDead) {
    return fail_all(ErrorCode::kCoordinatorNotAvailable);
  } else if (!(p.generation < 0 && gp->state == GroupState::kEmpty)) {
    Group& g = *gp;
    if (p.instance_id) {
      auto it = g.instances.find(*p.instance_id);
      if (it != g.instances.end() && it->second != p.member_id) return fail_all(ErrorCode::kFencedInstanceId);
    }
    auto mit = g.members.find(p.member_id);
    if ((p.generation >= 0 || !p.member_id.empty() || p.instance_id) && mit == g.members.end()) {
      return fail_all(ErrorCode::kUnknownMemberId);
    }
    if (p.generation != g.generation) return fail_all(ErrorCode::kIllegalGeneration);
    if (g.state == GroupState::kCompletingRebalance) return fail_all(ErrorCode::kRebalanceInProgress);
    if (mit != g.members.end()) {
      mit->second.heartbeat_deadline =
          Clock::now() + std::chrono::milliseconds(mit->second.session_timeout_ms);
    }
  }
  WriteItem item;
  item.kind = WriteItem::Kind::kOffsets;
  item.group = gp;
  auto indexes = std::make_shared<std::vector<std::size_t>>();
  const std::int64_t now = now_ms();
  for (std::size_t i = 0; i < p.partitions.size(); ++i) {
    auto& cp = p.partitions[i];
    const cluster::TopicInfo* t = cluster_.topic(cp.topic);
    if (t == nullptr || cp.partition < 0 || cp.partition >= t->record.partitions) {
      w->errors[i] = ErrorCode::kUnknownTopicOrPartition;
      continue;
    }
    if (cp.metadata && cp.metadata->size() > opt_.max_metadata_bytes) {
      w->errors[i] = ErrorCode::kOffsetMetadataTooLarge;
      continue;
    }
    OffsetValue v;
    v.offset = cp.offset;
    v.leader_epoch = cp.leader_epoch;
    v.metadata = cp.metadata.value_or("");
    v.commit_ms = now;
    item.updates.push_back(OffsetUpdate{cp.topic, t->record.id, cp.partition, std::move(v)});
    indexes->push_back(i);
  }
  if (item.updates.empty()) {
    w->done.set();
    return w;
  }
  item.on_done = [this, w, indexes](const Status& s) {
    ErrorCode e = write_error(s);
    for (std::size_t i : *indexes) w->errors[i] = e;
    if (s.ok()) {
      stats_.committed_partitions += indexes->size();
      commits_counter().add(indexes->size());
    }
    w->done.set();
  };
  enqueue(std::move(item));
  return w;
}

FetchResult GroupCoordinator::fetch(const std::string& group_id,
                                    const std::optional<TopicPartitions>& topics) const {
  FetchResult r;
  if (unavailable()) {
    r.error = ErrorCode::kNotCoordinator;
    return r;
  }
  std::shared_ptr<Group> g = find(group_id);
  if (g && g->state == GroupState::kDead) g.reset();  // being deleted
  auto lookup = [&](const std::string& topic, std::int32_t partition) {
    FetchedOffset f;
    f.partition = partition;
    if (!g) return f;
    auto tit = g->offsets.find(topic);
    if (tit == g->offsets.end()) return f;
    auto cit = tit->second.find(chunk_of(partition));
    if (cit == tit->second.end()) return f;
    // Offsets of an earlier topic with the same name do not apply.
    const cluster::TopicInfo* t = cluster_.topic(topic);
    if (t == nullptr || t->record.id != cit->second.topic_id) return f;
    auto pit = cit->second.parts.find(partition);
    if (pit == cit->second.parts.end()) return f;
    f.offset = pit->second.offset;
    f.leader_epoch = pit->second.leader_epoch;
    f.metadata = pit->second.metadata;
    return f;
  };
  if (topics) {
    for (const auto& [name, parts] : *topics) {
      FetchedTopic ft;
      ft.name = name;
      for (std::int32_t p : parts) ft.partitions.push_back(lookup(name, p));
      r.topics.push_back(std::move(ft));
    }
    return r;
  }
  if (!g) return r;
  for (const auto& [name, chunks] : g->offsets) {
    FetchedTopic ft;
    ft.name = name;
    for (const auto& [c, chunk] : chunks) {
      for (const auto& [p, v] : chunk.parts) {
        FetchedOffset f = lookup(name, p);
        if (f.offset >= 0 || f.leader_epoch >= 0 || !f.metadata.empty())
          ft.partitions.push_back(std::move(f));
      }
    }
    if (!ft.partitions.empty()) r.topics.push_back(std::move(ft));
  }
  return r;
}

// ---------------------------------------------------------------- admin

GroupDescription GroupCoordinator::describe(const std::string& group_id) const {
  GroupDescription d;
  d.group_id = group_id;
  if (unavailable()) {
    d.error = ErrorCode::kNotCoordinator;
    return d;
  }
  auto g = find(group_id);
  if (!g) {
    d.state = "Dead";
    return d;
  }
  d.state = std::string(state_name(g->state));
  d.protocol_type = g->protocol_type;
  const bool stable = g->state == GroupState::kStable;
  if (stable) d.protocol = g->protocol.value_or("");
  for (const auto& [id, m] : g->members) {
    MemberDescription md;
    md.member_id = id;
    md.instance_id = m.instance_id;
    md.client_id = m.client_id;
    md.client_host = m.client_host;
    // Subscription and assignment are only meaningful once the group is stable.
    if (stable && g->protocol) {
      const std::string* meta = m.metadata_for(*g->protocol);
      if (meta) md.metadata = *meta;
      md.assignment = m.assignment;
    }
    d.members.push_back(std::move(md));
  }
  return d;
}

std::vector<GroupListing> GroupCoordinator::list(const std::vector<std::string>& states_filter) const {
  std::vector<GroupListing> out;
  if (unavailable()) return out;
  std::set<std::string> want;
  for (const auto& s : states_filter) want.insert(lower(s));
  for (const auto& [id, g] : groups_) {
    if (g->state == GroupState::kDead) continue;
    std::string state(state_name(g->state));
    if (!want.empty() && !want.contains(lower(state))) continue;
    out.push_back(GroupListing{id, g->protocol_type, state});
  }
  return out;
}

std::shared_ptr<DeleteGroupsWait> GroupCoordinator::delete_groups(const std::vector<std::string>& group_ids) {
  auto w = std::make_shared<DeleteGroupsWait>();
  w->errors.assign(group_ids.size(), ErrorCode::kNone);
  auto remaining = std::make_shared<std::size_t>(1);  // released below
  for (std::size_t i = 0; i < group_ids.size(); ++i) {
    if (unavailable()) {
      w->errors[i] = ErrorCode::kNotCoordinator;
      continue;
    }
    if (group_ids[i].empty()) {
      w->errors[i] = ErrorCode::kInvalidGroupId;
      continue;
    }
    auto g = find(group_ids[i]);
    if (!g || g->state == GroupState::kDead) {
      w->errors[i] = ErrorCode::kGroupIdNotFound;
      continue;
    }
    if (g->state != GroupState::kEmpty) {
      w->errors[i] = ErrorCode::kNonEmptyGroup;
      continue;
    }
    set_state(*g, GroupState::kDead);
    ++*remaining;
    WriteItem item;
    item.kind = WriteItem::Kind::kDeleteGroup;
    item.group = g;
    item.on_done = [this, w, g, i, remaining](const Status& s) {
      if (s.ok()) {
        remove_group(g);
      } else {
        set_state(*g, GroupState::kEmpty);
        w->errors[i] = write_error(s);
      }
      if (--*remaining == 0) w->done.set();
    };
    enqueue(std::move(item));
  }
  if (--*remaining == 0) w->done.set();
  return w;
}

std::shared_ptr<OffsetDeleteWait> GroupCoordinator::delete_offsets(const std::string& group_id,
                                                                   const TopicPartitions& topics) {
  auto w = std::make_shared<OffsetDeleteWait>();
  for (const auto& [name, parts] : topics) {
    std::vector<std::pair<std::int32_t, ErrorCode>> v;
    for (auto p : parts) v.emplace_back(p, ErrorCode::kNone);
    w->topics.emplace_back(name, std::move(v));
  }
  auto fail = [&](ErrorCode e) {
    w->error = e;
    w->done.set();
    return w;
  };
  if (unavailable()) return fail(ErrorCode::kNotCoordinator);
  if (group_id.empty()) return fail(ErrorCode::kInvalidGroupId);
  auto g = find(group_id);
  if (!g || g->state == GroupState::kDead) return fail(ErrorCode::kGroupIdNotFound);
  std::optional<std::vector<std::string>> subscribed_now;
  if (g->state != GroupState::kEmpty) {
    if (g->protocol_type != "consumer") return fail(ErrorCode::kNonEmptyGroup);
    subscribed_now = subscribed(*g);
  }
  WriteItem item;
  item.kind = WriteItem::Kind::kOffsets;
  item.group = g;
  for (auto& [name, parts] : w->topics) {
    const cluster::TopicInfo* t = cluster_.topic(name);
    const bool in_use =
        subscribed_now && std::binary_search(subscribed_now->begin(), subscribed_now->end(), name);
    for (auto& [p, e] : parts) {
      if (t == nullptr || p < 0 || p >= t->record.partitions) {
        e = ErrorCode::kUnknownTopicOrPartition;
      } else if (in_use || (g->state != GroupState::kEmpty && !subscribed_now)) {
        e = ErrorCode::kGroupSubscribedToTopic;
      } else {
        item.updates.push_back(OffsetUpdate{name, t->record.id, p, std::nullopt});
      }
    }
  }
  if (item.updates.empty()) {
    w->done.set();
    return w;
  }
  item.on_done = [this, w](const Status& s) {
    if (!s.ok()) w->error = write_error(s);
    w->done.set();
  };
  enqueue(std::move(item));
  return w;
}

// ---------------------------------------------------------------- writer

void GroupCoordinator::enqueue(WriteItem item) {
  if (writer_exited_) {
    if (item.on_done) item.on_done(Status(Errc::cancelled, "group coordinator stopped"));
    return;
  }
  ++item.group->writes_in_flight;
  queue_.push_back(std::move(item));
  queue_wakeup_.notify_all();
}

awaitable<Result<metastore::TxnResponse>> GroupCoordinator::run_txn(TxnRequest t) {
  return offload(pool_, [m = meta_, t = std::move(t)] { return m->txn(t); });
}

awaitable<Result<metastore::RangeResponse>> GroupCoordinator::run_range(metastore::RangeRequest r) {
  return offload(pool_, [m = meta_, r = std::move(r)] { return m->range(r); });
}

GroupCoordinator::Round GroupCoordinator::build_round(std::vector<WriteItem>& items) const {
  Round round;
  round.item_txns.resize(items.size());
  struct Pending {
    std::optional<std::string> value;  // nullopt: delete
    std::optional<Round::Install> install;
    std::vector<std::size_t> items;
  };
  std::map<std::string, Pending> ops;
  // Chunk images being built in this round, starting from the durable state.
  std::map<std::string, Round::Install> images;
  if (items.size() == 1 && items[0].kind == WriteItem::Kind::kDeleteGroup) {
    // A group deletion is a round of its own: one range delete of all its keys.
    round.delete_group = true;
    TxnRequest t;
    t.compare.push_back(cluster_.fence());
    const std::string prefix = group_prefix(items[0].group->id);
    t.success.push_back(Op::del(prefix, metastore::prefix_end(prefix)));
    round.txns.push_back(std::move(t));
    round.installs.emplace_back();
    round.item_txns[0].insert(0);
    return round;
  }
  for (std::size_t i = 0; i < items.size(); ++i) {
    WriteItem& item = items[i];
    const Group& g = *item.group;
    if (item.kind == WriteItem::Kind::kMeta) {
      auto& p = ops[meta_key(g.id)];
      p.value = item.meta;
      p.items.push_back(i);
      continue;
    }
    for (auto& u : item.updates) {
      const std::int32_t c = chunk_of(u.partition);
      std::string key = offsets_key(g.id, u.topic, c);
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
      if (p.items.empty() || p.items.back() != i) p.items.push_back(i);
    }
  }
  for (auto& [key, in] : images) {
    auto& p = ops[key];
    if (!in.image->parts.empty()) p.value = encode_chunk(in.topic, *in.image);
    if (in.image->parts.empty()) in.image.reset();
    p.install = std::move(in);
  }
  // Pack the keys (sorted) into as few transactions as the limits allow.
  TxnRequest cur;
  std::vector<Round::Install> cur_installs;
  std::size_t cur_bytes = 0;
  auto flush = [&] {
    if (cur.success.empty()) return;
    round.txns.push_back(std::move(cur));
    round.installs.push_back(std::move(cur_installs));
    cur = TxnRequest{};
    cur_installs.clear();
    cur_bytes = 0;
  };
  for (auto& [key, p] : ops) {
    const std::size_t bytes = metastore::approx_put_bytes(key, p.value.value_or(""));
    if (cur.success.size() + 1 > kTxnMaxOps || (cur_bytes + bytes > kTxnMaxBytes && !cur.success.empty()))
      flush();
    if (cur.success.empty()) {
      cur.compare.push_back(cluster_.fence());
    }
    cur.success.push_back(p.value ? Op::put(key, *p.value) : Op::del(key));
    cur_bytes += bytes;
    if (p.install) cur_installs.push_back(std::move(*p.install));
    for (std::size_t i : p.items) round.item_txns[i].insert(round.txns.size());
  }
  flush();
  return round;
}

awaitable<Status> GroupCoordinator::writer() {
  for (;;) {
    if (queue_.empty()) {
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
    if (queue_.front().kind == WriteItem::Kind::kDeleteGroup) {
      items.push_back(std::move(queue_.front()));
      queue_.pop_front();
    } else {
      while (!queue_.empty() && queue_.front().kind != WriteItem::Kind::kDeleteGroup &&
             items.size() < kMaxItemsPerRound) {
        items.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    Round round = build_round(items);
    std::vector<Status> results(round.txns.size());
    for (std::size_t t = 0; t < round.txns.size(); ++t) {
      if (cluster_.fenced()) {
        results[t] = Status(Errc::fenced, "group coordinator lost ownership");
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
        results[t] = Status(Errc::fenced, "ownership key changed: another process owns this node id");
        spdlog::error("group coordinator: fenced ({})", results[t].message());
        cluster_.set_fenced(results[t]);
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
      --items[i].group->writes_in_flight;
      if (items[i].on_done) items[i].on_done(s);
    }
  }
  writer_exited_ = true;
  writer_done_.set();
  co_return Status{};
}

// ---------------------------------------------------------------- load / stop

Status GroupCoordinator::load_kv(const metastore::KeyValue& kv, std::map<std::string, StoredGroup>& metas) {
  auto k = parse_key(kv.key);
  if (!k) {
    spdlog::warn("group coordinator: ignoring unknown key {}", kv.key);
    return {};
  }
  if (k->kind == ParsedKey::Kind::kMeta) {
    auto g = decode_group(kv.value);
    if (!g.ok()) return Status(g.code(), kv.key + ": " + g.status().message());
    metas[k->group] = std::move(*g);
    return {};
  }
  auto c = decode_chunk(kv.value);
  if (!c.ok()) return Status(c.code(), kv.key + ": " + c.status().message());
  ErrorCode e = ErrorCode::kNone;
  auto g = get_or_create(k->group, e);
  if (!g) return Status(Errc::limit_exceeded, "too many groups");
  g->offsets[k->topic][k->chunk] = std::move(*c);
  return {};
}

void GroupCoordinator::restore(Group& g, StoredGroup sg) {
  g.protocol_type = std::move(sg.protocol_type);
  g.generation = sg.generation;
  g.state_ms = sg.state_ms;
  if (sg.members.empty() || !sg.protocol) {
    g.state = GroupState::kEmpty;
    return;
  }
  // The group carries on with the stored generation: members heartbeat and
  // commit as before; those that are gone expire by their session timeout.
  g.protocol = std::move(sg.protocol);
  g.leader = std::move(sg.leader);
  const auto now = Clock::now();
  for (auto& sm : sg.members) {
    Member m;
    m.id = sm.member_id;
    m.instance_id = sm.instance_id;
    m.client_id = std::move(sm.client_id);
    m.client_host = std::move(sm.client_host);
    m.protocols.push_back(Protocol{*g.protocol, std::move(sm.subscription)});
    m.session_timeout_ms = sm.session_timeout_ms;
    m.rebalance_timeout_ms = sm.rebalance_timeout_ms;
    m.assignment = std::move(sm.assignment);
    m.heartbeat_deadline = now + std::chrono::milliseconds(m.session_timeout_ms);
    if (m.instance_id) g.instances[*m.instance_id] = m.id;
    g.members.emplace(m.id, std::move(m));
  }
  if (!g.members.contains(g.leader)) g.leader = g.members.begin()->first;
  g.state = GroupState::kStable;
}

awaitable<Status> GroupCoordinator::start() {
  assert(!started_);
  std::map<std::string, StoredGroup> metas;
  metastore::RangeRequest rq;
  rq.key = groups_prefix();
  rq.range_end = metastore::prefix_end(rq.key);
  rq.limit = kLoadPageKeys;
  std::size_t keys = 0;
  for (;;) {
    auto r = co_await run_range(rq);
    if (!r.ok()) co_return Status(r.code(), "loading groups: " + r.status().message());
    for (std::size_t i = 0; i < r->kvs.size(); ++i) {
      Status s = load_kv(r->kvs[i], metas);
      // A damaged record loses that group's state, not the broker.
      if (!s.ok()) spdlog::error("group coordinator: {}", s.to_string());
    }
    keys += r->kvs.size();
    if (!r->more || r->kvs.empty()) break;
    rq.key = r->kvs.back().key + '\0';
    rq.revision = r->revision;  // one consistent snapshot across pages
  }
  for (auto& [id, sg] : metas) {
    ErrorCode e = ErrorCode::kNone;
    auto g = get_or_create(id, e);
    if (!g) continue;
    restore(*g, std::move(sg));
    if (!g->members.empty()) ensure_timer(g);
  }
  spdlog::info("group coordinator: loaded {} groups ({} keys)", groups_.size(), keys);
  started_ = true;
  spawn_critical(io_, "group-offset writer", [this] { return writer(); });
  spawn_critical(io_, "offsets retention", [this] { return retention_loop(); });
  spawn_critical(io_, "group lag", [this] { return lag_loop(); });
  refresh_lag();
  co_return Status{};
}

awaitable<void> GroupCoordinator::stop() {
  if (!started_ || stopping_) co_return;
  stopping_ = true;
  for (auto& [id, g] : groups_) {
    for (auto& [mid, m] : g->members) {
      if (m.join_wait) {
        m.join_wait->result.error = ErrorCode::kNotCoordinator;
        m.join_wait->result.member_id = mid;
        m.join_wait->done.set();
        m.join_wait.reset();
      }
      if (m.sync_wait) {
        m.sync_wait->result.error = ErrorCode::kNotCoordinator;
        m.sync_wait->done.set();
        m.sync_wait.reset();
      }
    }
    g->wake.notify_all();
  }
  queue_wakeup_.notify_all();
  loop_wakeup_.notify_all();
  co_await writer_done_.wait();
  co_await retention_done_.wait();
  co_await lag_done_.wait();
}

}  // namespace ks::coordinator
