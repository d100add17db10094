#include "metastore/embedded_store.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <utility>
#include <vector>

#include "common/binary.h"
#include "common/crc32c.h"
#include "metastore/request_checks.h"
#include "metastore/wal.h"

namespace ks::metastore {

namespace fs = std::filesystem;
using internal::WriteSet;

namespace {

constexpr char kLockName[] = "LOCK";
constexpr char kSnapshotName[] = "snapshot";
constexpr char kSnapshotTmpName[] = "snapshot.tmp";
constexpr std::string_view kSnapshotMagic = "KSMETA01";

enum class Record : std::uint8_t { write = 1, lease_grant = 2, compact = 3 };

std::string wal_name(std::uint64_t gen) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "wal-%016" PRIx64 ".log", gen);
  return buf;
}

bool is_wal_name(const std::string& name) {
  return name.size() == 24 && name.starts_with("wal-") && name.ends_with(".log");
}

bool has_writes(const std::vector<Op>& ops) {
  return std::any_of(ops.begin(), ops.end(), [](const Op& op) { return op.type != Op::Type::range; });
}

}  // namespace

// Registry of live watches, shared with the Watch handles so they can cancel
// themselves even after the store is gone.
class WatchHub {
 public:
  struct Watcher {
    std::string key;
    std::string end;
    std::int64_t next_rev = 0;
    std::shared_ptr<WatchCallback> cb;
  };

  void cancel(std::uint64_t id) {
    std::unique_lock l(mu);
    watchers.erase(id);
    // A callback cancelling its own watch cannot wait for itself.
    if (std::this_thread::get_id() == notifier) return;
    idle.wait(l, [&] { return delivering != id; });
  }

  std::mutex mu;
  std::condition_variable wake;  // notifier: new events or new watchers
  std::condition_variable idle;  // a delivery finished
  std::map<std::uint64_t, Watcher> watchers;
  std::uint64_t next_id = 1;
  std::uint64_t delivering = 0;
  std::thread::id notifier;
  bool dirty = false;
  bool stopping = false;
};

namespace {

class EmbeddedWatch final : public Watch {
 public:
  EmbeddedWatch(std::shared_ptr<WatchHub> hub, std::uint64_t id) : hub_(std::move(hub)), id_(id) {}
  ~EmbeddedWatch() override { hub_->cancel(id_); }

 private:
  std::shared_ptr<WatchHub> hub_;
  std::uint64_t id_;
};

}  // namespace

EmbeddedMetadataStore::EmbeddedMetadataStore(std::string dir, EmbeddedOptions opts, int lock_fd)
    : dir_(std::move(dir)),
      opts_(opts),
      lock_fd_(lock_fd),
      state_(opts.quota_bytes),
      hub_(std::make_shared<WatchHub>()) {}

Result<std::unique_ptr<EmbeddedMetadataStore>> EmbeddedMetadataStore::open(std::string dir,
                                                                           EmbeddedOptions opts) {
  std::error_code ec;
  const bool created = fs::create_directories(dir, ec);
  if (ec) return Status(Errc::io_error, "create metadata dir " + dir + ": " + ec.message());
  if (created) {
    // Make the new directory's own entry durable before anything is acknowledged.
    fs::path p = fs::absolute(dir, ec).lexically_normal();
    if (!p.has_filename()) p = p.parent_path();
    if (Status s = internal::fsync_dir(p.parent_path().string()); !s.ok()) return s;
  }
  std::string lock_path = dir + "/" + kLockName;
  int lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd < 0) return internal::errno_status(errno, "open " + lock_path);
  if (::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    ::close(lock_fd);
    if (err == EWOULDBLOCK) {
      return Status(Errc::unavailable, "metadata dir " + dir + " is already open (" + lock_path +
                                           " is locked by another store)");
    }
    return internal::errno_status(err, "flock " + lock_path);
  }
  std::unique_ptr<EmbeddedMetadataStore> store(new EmbeddedMetadataStore(std::move(dir), opts, lock_fd));
  if (Status s = store->recover(); !s.ok()) return s;
  store->start_threads();
  return store;
}

Status EmbeddedMetadataStore::recover() {
  auto snap = internal::read_whole_file(dir_ + "/" + kSnapshotName);
  if (snap.ok()) {
    const std::string& data = *snap;
    auto bad = [&](const std::string& what) {
      return Status(Errc::corrupt, "metadata snapshot " + dir_ + "/" + kSnapshotName + ": " + what);
    };
    if (data.size() < kSnapshotMagic.size() + 12 || !data.starts_with(kSnapshotMagic))
      return bad("bad magic");
    BinReader r(std::string_view(data).substr(kSnapshotMagic.size()));
    auto len = r.get<std::uint64_t>();
    auto crc = r.get<std::uint32_t>();
    if (len != r.remaining()) return bad("bad length");
    std::string_view payload = std::string_view(data).substr(data.size() - len);
    if (crc32c(payload) != crc) return bad("checksum mismatch");
    BinReader body(payload);
    log_gen_ = body.get<std::uint64_t>();
    if (!body.ok() || log_gen_ == 0) return bad("bad log generation");
    if (Status s = state_.load_snapshot(body); !s.ok()) return s;
  } else if (snap.code() != Errc::not_found) {
    return snap.status();
  }

  const std::string log_path = dir_ + "/" + wal_name(log_gen_);
  if (Status s = replay_log(log_path); !s.ok()) return s;

  // Leftovers of an interrupted snapshot.
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir_, ec)) {
    std::string name = entry.path().filename().string();
    if (name == kSnapshotTmpName || (is_wal_name(name) && name != wal_name(log_gen_))) {
      fs::remove(entry.path(), ec);
    }
  }

  bool existed = fs::exists(log_path, ec);
  log_fd_ = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd_ < 0) return internal::errno_status(errno, "open " + log_path);
  if (!existed) {
    if (::fsync(log_fd_) != 0) return internal::errno_status(errno, "fsync " + log_path);
    if (Status s = internal::fsync_dir(dir_); !s.ok()) return s;
  }
  snapshot_at_bytes_ = opts_.snapshot_threshold_bytes;

  // Like etcd, leases survive a restart with a fresh TTL.
  auto now = Clock::now();
  for (const auto& [id, lease] : state_.leases()) {
    timers_[id] = LeaseTimer{lease.ttl, now + std::chrono::seconds(lease.ttl)};
  }
  return {};
}

Status EmbeddedMetadataStore::replay_log(const std::string& path) {
  auto data = internal::read_whole_file(path);
  if (!data.ok()) return data.code() == Errc::not_found ? Status() : data.status();
  internal::FrameScan scan = internal::scan_frames(*data);
  if (scan.corrupt_middle) {
    return Status(Errc::corrupt, "metadata log " + path + " is damaged at offset " +
                                     std::to_string(scan.valid_bytes) + " with valid records after it");
  }
  for (std::size_t i = 0; i < scan.payloads.size(); ++i) {
    BinReader r(scan.payloads[i]);
    auto type = static_cast<Record>(r.get<std::uint8_t>());
    Status s;
    if (type == Record::write) {
      WriteSet ws;
      if (!internal::decode_write_set(r, &ws)) {
        s = Status(Errc::corrupt, "bad write record");
      } else {
        s = state_.apply(ws, true);
      }
    } else if (type == Record::lease_grant) {
      auto id = r.get<std::int64_t>();
      auto ttl = r.get<std::int64_t>();
      if (!r.ok() || id <= 0 || ttl <= 0) {
        s = Status(Errc::corrupt, "bad lease record");
      } else {
        state_.grant(id, ttl);
      }
    } else if (type == Record::compact) {
      auto rev = r.get<std::int64_t>();
      if (!r.ok() || rev > state_.revision()) {
        s = Status(Errc::corrupt, "bad compact record");
      } else {
        state_.compact(rev);
      }
    } else {
      s = Status(Errc::corrupt, "unknown record type");
    }
    if (s.ok() && r.remaining() != 0) s = Status(Errc::corrupt, "trailing bytes in record");
    if (!s.ok()) {
      return Status(Errc::corrupt,
                    "metadata log " + path + " record " + std::to_string(i) + ": " + s.message());
    }
  }
  log_bytes_ = scan.valid_bytes;
  if (scan.valid_bytes < data->size()) {
    spdlog::warn("metadata log {}: dropping {} bytes of torn tail at offset {}", path,
                 data->size() - scan.valid_bytes, scan.valid_bytes);
    int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return internal::errno_status(errno, "open " + path);
    int rc = ::ftruncate(fd, static_cast<off_t>(scan.valid_bytes));
    if (rc == 0) rc = ::fsync(fd);
    int err = errno;
    ::close(fd);
    if (rc != 0) return internal::errno_status(err, "truncate " + path);
  }
  return {};
}

void EmbeddedMetadataStore::start_threads() {
  expiry_thread_ = std::thread([this] { expiry_loop(); });
  notifier_thread_ = std::thread([this] { notifier_loop(); });
}

EmbeddedMetadataStore::~EmbeddedMetadataStore() {
  {
    std::lock_guard l(lease_mu_);
    stopping_ = true;
  }
  expiry_cv_.notify_all();
  if (expiry_thread_.joinable()) expiry_thread_.join();
  {
    std::lock_guard l(hub_->mu);
    hub_->stopping = true;
  }
  hub_->wake.notify_all();
  if (notifier_thread_.joinable()) notifier_thread_.join();
  if (log_fd_ >= 0) ::close(log_fd_);
  ::close(lock_fd_);  // releases the flock
}

// ---- reads and writes ----

Result<RangeResponse> EmbeddedMetadataStore::range(const RangeRequest& req) {
  if (Status s = check_range(req); !s.ok()) return s;
  std::shared_lock l(state_mu_);
  return state_.range(req);
}

Result<std::int64_t> EmbeddedMetadataStore::put(const std::string& key, const std::string& value,
                                                LeaseId lease) {
  if (Status s = check_put(key, value); !s.ok()) return s;
  TxnRequest req;
  req.success.push_back(Op::put(key, value, lease));
  auto resp = write_txn(req);
  if (!resp.ok()) return resp.status();
  return resp->revision;
}

Result<std::int64_t> EmbeddedMetadataStore::delete_range(const std::string& key,
                                                         const std::string& range_end) {
  if (Status s = check_delete(key); !s.ok()) return s;
  TxnRequest req;
  req.success.push_back(Op::del(key, range_end));
  auto resp = write_txn(req);
  if (!resp.ok()) return resp.status();
  return resp->results.at(0).deleted;
}

Result<TxnResponse> EmbeddedMetadataStore::txn(const TxnRequest& req) {
  if (Status s = check_txn(req); !s.ok()) return s;
  if (!has_writes(req.success) && !has_writes(req.failure)) {
    std::shared_lock l(state_mu_);
    auto plan = state_.plan_txn(req);
    if (!plan.ok()) return plan.status();
    return std::move(plan->response);
  }
  return write_txn(req);
}

Result<TxnResponse> EmbeddedMetadataStore::write_txn(const TxnRequest& req) {
  std::lock_guard wl(writer_mu_);
  // Only writers (holding writer_mu_) modify the state, so planning needs no
  // state lock.
  auto plan = state_.plan_txn(req);
  if (!plan.ok()) return plan.status();
  WriteSet& ws = plan->writes;
  if (ws.changes.empty()) return std::move(plan->response);
  std::string payload;
  BinWriter w(payload);
  w.put<std::uint8_t>(static_cast<std::uint8_t>(Record::write));
  internal::encode_write_set(ws, w);
  if (Status s = persist(payload); !s.ok()) return s;
  {
    std::unique_lock l(state_mu_);
    Status s = state_.apply(ws, true);
    assert(s.ok());  // planned against this very state
    (void)s;
  }
  notify_watchers();
  maybe_snapshot();
  return std::move(plan->response);
}

Status EmbeddedMetadataStore::persist(std::string_view payload) {
  if (failed_) return Status(Errc::unavailable, "metadata store " + dir_ + " refuses writes: " + failure_);
  std::string rec = internal::frame(payload);
  if (Status s = internal::write_all(log_fd_, rec); !s.ok()) {
    // Cut the partial record so the log stays a clean prefix.
    if (::ftruncate(log_fd_, static_cast<off_t>(log_bytes_)) == 0 && ::fdatasync(log_fd_) == 0) return s;
    failed_ = true;
    failure_ = "log append failed and could not be rolled back: " + s.message();
    return Status(Errc::timeout, failure_);
  }
  if (::fdatasync(log_fd_) != 0) {
    // After a failed fsync the page cache may be lying; the record may or
    // may not be durable, and nothing later can be trusted either.
    failed_ = true;
    failure_ = internal::errno_status(errno, "fdatasync log").message();
    return Status(Errc::timeout, failure_);
  }
  log_bytes_ += rec.size();
  return {};
}

// ---- leases ----

Result<LeaseId> EmbeddedMetadataStore::lease_grant(std::int64_t ttl_seconds) {
  if (ttl_seconds > kMaxLeaseTtlSeconds) return Status(Errc::invalid_argument, "lease TTL is too large");
  const std::int64_t ttl = std::max<std::int64_t>(ttl_seconds, 1);
  std::lock_guard wl(writer_mu_);
  const LeaseId id = state_.next_lease_id();
  std::string payload;
  BinWriter w(payload);
  w.put<std::uint8_t>(static_cast<std::uint8_t>(Record::lease_grant));
  w.put<std::int64_t>(id);
  w.put<std::int64_t>(ttl);
  if (Status s = persist(payload); !s.ok()) return s;
  {
    std::unique_lock l(state_mu_);
    state_.grant(id, ttl);
  }
  {
    std::lock_guard l(lease_mu_);
    timers_[id] = LeaseTimer{ttl, Clock::now() + std::chrono::seconds(ttl)};
  }
  expiry_cv_.notify_all();
  maybe_snapshot();
  return id;
}

Status EmbeddedMetadataStore::lease_keepalive(LeaseId id) {
  std::lock_guard l(lease_mu_);
  auto it = timers_.find(id);
  auto now = Clock::now();
  if (it == timers_.end() || it->second.deadline <= now) {
    return Status(Errc::not_found, "requested lease not found: " + std::to_string(id));
  }
  it->second.deadline = now + std::chrono::seconds(it->second.ttl);
  return {};
}

Status EmbeddedMetadataStore::lease_revoke(LeaseId id) {
  std::lock_guard wl(writer_mu_);
  return revoke_locked(id, false);
}

Status EmbeddedMetadataStore::revoke_locked(LeaseId id, bool only_if_expired) {
  if (only_if_expired) {
    std::lock_guard l(lease_mu_);
    auto it = timers_.find(id);
    if (it == timers_.end() || it->second.deadline > Clock::now()) return {};  // kept alive meanwhile
  }
  auto ws = state_.plan_revoke(id);
  if (!ws.ok()) return ws.status();
  std::string payload;
  BinWriter w(payload);
  w.put<std::uint8_t>(static_cast<std::uint8_t>(Record::write));
  internal::encode_write_set(*ws, w);
  if (Status s = persist(payload); !s.ok()) return s;
  {
    std::unique_lock l(state_mu_);
    Status s = state_.apply(*ws, true);
    assert(s.ok());  // planned against this very state
    (void)s;
  }
  {
    std::lock_guard l(lease_mu_);
    timers_.erase(id);
  }
  if (!ws->changes.empty()) notify_watchers();
  maybe_snapshot();
  return {};
}

void EmbeddedMetadataStore::expiry_loop() {
  std::unique_lock l(lease_mu_);
  while (!stopping_) {
    auto now = Clock::now();
    auto wake_at = now + opts_.lease_check_interval;
    std::vector<LeaseId> expired;
    for (const auto& [id, t] : timers_) {
      if (t.deadline <= now) {
        expired.push_back(id);
      } else {
        wake_at = std::min(wake_at, t.deadline);
      }
    }
    if (!expired.empty()) {
      l.unlock();
      bool failed = false;
      for (LeaseId id : expired) {
        std::lock_guard wl(writer_mu_);
        Status s = revoke_locked(id, true);
        if (!s.ok() && s.code() != Errc::not_found) {
          spdlog::warn("metadata store {}: revoking expired lease {}: {}", dir_, id, s.to_string());
          failed = true;
        }
      }
      l.lock();
      if (!failed) continue;
      wake_at = Clock::now() + opts_.lease_check_interval;  // retry later, don't spin
    }
    expiry_cv_.wait_until(l, wake_at, [&] { return stopping_; });
  }
}

// ---- watches ----

Result<std::unique_ptr<Watch>> EmbeddedMetadataStore::watch(const std::string& key,
                                                            const std::string& range_end,
                                                            std::int64_t start_revision, WatchCallback cb) {
  if (key.empty()) return Status(Errc::invalid_argument, "key is not provided");
  if (!cb) return Status(Errc::invalid_argument, "watch callback is empty");
  if (start_revision < 0) return Status(Errc::invalid_argument, "negative start revision");
  std::shared_lock sl(state_mu_);
  if (start_revision > 0 && start_revision < state_.compact_revision()) {
    return Status(Errc::compacted, "mvcc: required revision has been compacted (compacted at " +
                                       std::to_string(state_.compact_revision()) + ")");
  }
  std::uint64_t id;
  {
    std::lock_guard l(hub_->mu);
    if (hub_->watchers.size() >= kMaxWatches) {
      return Status(Errc::limit_exceeded, "too many watches (" + std::to_string(kMaxWatches) + ")");
    }
    id = hub_->next_id++;
    hub_->watchers[id] =
        WatchHub::Watcher{key, range_end, start_revision > 0 ? start_revision : state_.revision() + 1,
                          std::make_shared<WatchCallback>(std::move(cb))};
    hub_->dirty = true;
  }
  hub_->wake.notify_all();
  return std::unique_ptr<Watch>(new EmbeddedWatch(hub_, id));
}

void EmbeddedMetadataStore::notify_watchers() {
  {
    std::lock_guard l(hub_->mu);
    hub_->dirty = true;
  }
  hub_->wake.notify_all();
}

void EmbeddedMetadataStore::notifier_loop() {
  WatchHub& hub = *hub_;
  std::unique_lock l(hub.mu);
  hub.notifier = std::this_thread::get_id();
  while (true) {
    hub.wake.wait(l, [&] { return hub.dirty || hub.stopping; });
    if (hub.stopping) break;
    hub.dirty = false;
    std::vector<std::uint64_t> ids;
    for (const auto& [id, w] : hub.watchers) ids.push_back(id);
    for (std::uint64_t id : ids) {
      auto it = hub.watchers.find(id);
      if (it == hub.watchers.end()) continue;
      const std::string key = it->second.key;
      const std::string end = it->second.end;
      const std::int64_t from = it->second.next_rev;
      l.unlock();
      std::vector<WatchEvent> events;
      Status status;
      std::int64_t next = from;
      bool more = false;
      {
        std::shared_lock sl(state_mu_);
        if (from < state_.compact_revision()) {
          status = Status(Errc::compacted, "watch fell behind compaction at revision " +
                                               std::to_string(state_.compact_revision()));
        } else {
          next = state_.events_since(from, key, end, kMaxEventsPerCallback, &events);
          more = next <= state_.revision();
        }
      }
      l.lock();
      it = hub.watchers.find(id);
      if (it == hub.watchers.end()) continue;
      if (status.ok() && events.empty()) {
        it->second.next_rev = next;
        continue;
      }
      std::shared_ptr<WatchCallback> cb = it->second.cb;
      hub.delivering = id;
      l.unlock();
      (*cb)(events, status);
      l.lock();
      hub.delivering = 0;
      hub.idle.notify_all();
      it = hub.watchers.find(id);
      if (it == hub.watchers.end()) continue;
      if (!status.ok()) {
        hub.watchers.erase(it);
      } else {
        it->second.next_rev = next;
        if (more) hub.dirty = true;
      }
    }
  }
  // Shutdown: end every live watch with `cancelled`.
  std::vector<std::pair<std::uint64_t, std::shared_ptr<WatchCallback>>> left;
  for (const auto& [id, w] : hub.watchers) left.emplace_back(id, w.cb);
  hub.watchers.clear();
  for (auto& [id, cb] : left) {
    hub.delivering = id;
    l.unlock();
    (*cb)({}, Status(Errc::cancelled, "metadata store closed"));
    l.lock();
    hub.delivering = 0;
    hub.idle.notify_all();
  }
}

// ---- compaction and snapshots ----

Status EmbeddedMetadataStore::compact(std::int64_t revision) {
  std::lock_guard wl(writer_mu_);
  if (Status s = state_.check_compact(revision); !s.ok()) return s;
  std::string payload;
  BinWriter w(payload);
  w.put<std::uint8_t>(static_cast<std::uint8_t>(Record::compact));
  w.put<std::int64_t>(revision);
  if (Status s = persist(payload); !s.ok()) return s;
  {
    std::unique_lock l(state_mu_);
    state_.compact(revision);
  }
  notify_watchers();  // watchers behind the compaction get `compacted`
  maybe_snapshot();
  return {};
}

void EmbeddedMetadataStore::maybe_snapshot() {
  if (log_bytes_ < snapshot_at_bytes_ || failed_) return;
  if (Status s = snapshot_locked(); !s.ok()) {
    spdlog::warn("metadata store {}: snapshot failed, keeping the log: {}", dir_, s.to_string());
    snapshot_at_bytes_ = log_bytes_ + opts_.snapshot_threshold_bytes;  // back off
  }
}

Status EmbeddedMetadataStore::snapshot_now() {
  std::lock_guard wl(writer_mu_);
  if (failed_) return Status(Errc::unavailable, failure_);
  return snapshot_locked();
}

Status EmbeddedMetadataStore::snapshot_locked() {
  const std::uint64_t new_gen = log_gen_ + 1;
  const std::string new_log = dir_ + "/" + wal_name(new_gen);
  const std::string tmp = dir_ + "/" + kSnapshotTmpName;
  // 1. An empty next log. Until the snapshot naming it is renamed into place
  //    it is ignored (and deleted) by open().
  int fd = ::open(new_log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return internal::errno_status(errno, "create " + new_log);
  auto abandon = [&](Status s) {
    ::close(fd);
    ::unlink(new_log.c_str());
    ::unlink(tmp.c_str());
    return s;
  };
  if (::fsync(fd) != 0) return abandon(internal::errno_status(errno, "fsync " + new_log));

  // 2. The snapshot, written to a temp file. Writers are excluded (we hold
  //    writer_mu_), so the state is stable without state_mu_.
  std::string payload;
  BinWriter pw(payload);
  pw.put<std::uint64_t>(new_gen);
  state_.encode_snapshot(pw);
  std::string file(kSnapshotMagic);
  BinWriter fw(file);
  fw.put<std::uint64_t>(payload.size());
  fw.put<std::uint32_t>(crc32c(payload));
  fw.bytes(payload);
  int tfd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (tfd < 0) return abandon(internal::errno_status(errno, "create " + tmp));
  Status ws = internal::write_all(tfd, file);
  if (ws.ok() && ::fsync(tfd) != 0) ws = internal::errno_status(errno, "fsync " + tmp);
  ::close(tfd);
  if (!ws.ok()) return abandon(ws);

  // 3. Switch: rename, then make the rename (and the new log) durable.
  const std::string snap = dir_ + "/" + kSnapshotName;
  if (::rename(tmp.c_str(), snap.c_str()) != 0)
    return abandon(internal::errno_status(errno, "rename " + tmp));
  if (Status s = internal::fsync_dir(dir_); !s.ok()) {
    // Whether the old or the new snapshot is durable is unknown; the new one
    // names a log we are about to use, the old one the log we used. Stop.
    ::close(fd);
    failed_ = true;
    failure_ = "snapshot switch not durable: " + s.message();
    return Status(Errc::io_error, failure_);
  }
  const std::string old_log = dir_ + "/" + wal_name(log_gen_);
  ::close(log_fd_);
  ::unlink(old_log.c_str());
  log_fd_ = fd;
  log_gen_ = new_gen;
  log_bytes_ = 0;
  snapshot_at_bytes_ = opts_.snapshot_threshold_bytes;
  ++snapshots_written_;
  return {};
}

EmbeddedMetadataStore::Stats EmbeddedMetadataStore::stats() const {
  Stats st;
  {
    std::lock_guard wl(writer_mu_);
    st.log_bytes = log_bytes_;
    st.log_generation = log_gen_;
    st.snapshots_written = snapshots_written_;
  }
  {
    std::shared_lock l(state_mu_);
    st.revision = state_.revision();
    st.compact_revision = state_.compact_revision();
    st.history_events = state_.history_events();
    st.bytes_used = state_.bytes_used();
    st.leases = state_.leases().size();
  }
  std::lock_guard l(hub_->mu);
  st.watches = hub_->watchers.size();
  return st;
}

std::string EmbeddedMetadataStore::describe() const { return "embedded:" + dir_; }

}  // namespace ks::metastore
