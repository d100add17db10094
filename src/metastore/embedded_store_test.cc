#include "metastore/embedded_store.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>

#define KS_METASTORE_CONFORMANCE_SUITE EmbeddedConformance
#include "metastore/metadata_store_conformance.h"

namespace ks::metastore {
namespace {

using testing::MetadataStoreBackend;
using testing::TempDir;
namespace fs = std::filesystem;

std::shared_ptr<MetadataStore> make_embedded() {
  auto dir = std::make_shared<TempDir>();
  auto store = EmbeddedMetadataStore::open(dir->path());
  if (!store.ok()) {
    ADD_FAILURE() << store.status().to_string();
    return nullptr;
  }
  // The deleter owns the directory, so it is removed after the store closes.
  return std::shared_ptr<MetadataStore>(store->release(), [dir](MetadataStore* s) { delete s; });
}

INSTANTIATE_TEST_SUITE_P(Embedded, EmbeddedConformance,
                         ::testing::Values(MetadataStoreBackend{"embedded", make_embedded, true}),
                         testing::backend_name);

std::unique_ptr<EmbeddedMetadataStore> open_ok(const std::string& dir, EmbeddedOptions opts = {}) {
  auto s = EmbeddedMetadataStore::open(dir, opts);
  EXPECT_TRUE(s.ok()) << s.status().to_string();
  return s.ok() ? std::move(s).value() : nullptr;
}

std::vector<KeyValue> all_kvs(MetadataStore& s, std::int64_t rev = 0) {
  RangeRequest req;
  req.key = std::string(1, '\0');
  req.range_end = std::string(1, '\0');
  req.revision = rev;
  auto r = s.range(req);
  EXPECT_TRUE(r.ok()) << r.status().to_string();
  return r.ok() ? r->kvs : std::vector<KeyValue>{};
}

std::optional<KeyValue> get1(MetadataStore& s, const std::string& key) {
  RangeRequest req;
  req.key = key;
  auto r = s.range(req);
  if (!r.ok() || r->kvs.empty()) return std::nullopt;
  return r->kvs[0];
}

std::string only_wal(const std::string& dir) {
  std::string found;
  int n = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    std::string name = e.path().filename().string();
    if (name.starts_with("wal-")) {
      found = e.path().string();
      ++n;
    }
  }
  EXPECT_EQ(n, 1);
  return found;
}

void flip_byte(const std::string& path, std::uintmax_t offset) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(static_cast<std::streamoff>(offset));
  char c = 0;
  f.read(&c, 1);
  c = static_cast<char>(c ^ 0x5a);
  f.seekp(static_cast<std::streamoff>(offset));
  f.write(&c, 1);
}

bool same(const std::vector<KeyValue>& a, const std::vector<KeyValue>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].key != b[i].key || a[i].value != b[i].value || a[i].create_revision != b[i].create_revision ||
        a[i].mod_revision != b[i].mod_revision || a[i].version != b[i].version || a[i].lease != b[i].lease) {
      return false;
    }
  }
  return true;
}

TEST(EmbeddedStore, SecondOpenOfSameDirIsRefused) {
  TempDir dir;
  auto first = open_ok(dir.path());
  ASSERT_NE(first, nullptr);
  auto second = EmbeddedMetadataStore::open(dir.path());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.code(), Errc::unavailable);
  EXPECT_NE(second.status().message().find("already open"), std::string::npos) << second.status().message();
  first.reset();
  auto third = EmbeddedMetadataStore::open(dir.path());
  EXPECT_TRUE(third.ok()) << third.status().to_string();
}

TEST(EmbeddedStore, OpenCreatesMissingDirectories) {
  TempDir dir;
  const std::string nested = dir.path() + "/a/b/meta/";
  {
    auto s = open_ok(nested);
    ASSERT_NE(s, nullptr);
    ASSERT_TRUE(s->put("k", "v").ok());
    EXPECT_EQ(s->describe(), "embedded:" + nested);
  }
  auto s = open_ok(nested);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(get1(*s, "k")->value, "v");
}

TEST(EmbeddedStore, SecondOpenFromAnotherProcessIsRefused) {
  TempDir dir;
  auto first = open_ok(dir.path());
  ASSERT_NE(first, nullptr);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto s = EmbeddedMetadataStore::open(dir.path());
    _exit(!s.ok() && s.code() == Errc::unavailable ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(EmbeddedDurability, ReopenKeepsEverything) {
  TempDir dir;
  std::vector<KeyValue> before;
  std::vector<KeyValue> at_old;
  std::int64_t rev = 0, old_rev = 0, compact_rev = 0;
  LeaseId lease = 0;
  {
    auto s = open_ok(dir.path());
    ASSERT_NE(s, nullptr);
    ASSERT_TRUE(s->put("a", "1").ok());
    compact_rev = *s->put("a", "2");
    ASSERT_TRUE(s->put("b", "x").ok());
    old_rev = *s->put("c", "y");
    ASSERT_TRUE(s->delete_range("b").ok());
    auto l = s->lease_grant(30);
    ASSERT_TRUE(l.ok());
    lease = *l;
    ASSERT_TRUE(s->put("leased", "v", lease).ok());
    ASSERT_TRUE(s->compact(compact_rev).ok());
    before = all_kvs(*s);
    at_old = all_kvs(*s, old_rev);
    rev = s->stats().revision;
  }
  auto s = open_ok(dir.path());
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->stats().revision, rev);
  EXPECT_EQ(s->stats().compact_revision, compact_rev);
  EXPECT_TRUE(same(all_kvs(*s), before));
  EXPECT_TRUE(same(all_kvs(*s, old_rev), at_old));
  RangeRequest req;
  req.key = "a";
  req.revision = compact_rev - 1;
  EXPECT_EQ(s->range(req).code(), Errc::compacted);
  // The lease survived with its keys attached; revoking still deletes them.
  EXPECT_TRUE(s->lease_keepalive(lease).ok());
  EXPECT_EQ(get1(*s, "leased")->lease, lease);
  ASSERT_TRUE(s->lease_revoke(lease).ok());
  EXPECT_FALSE(get1(*s, "leased").has_value());
  // New writes continue the revision sequence, new leases get new ids.
  EXPECT_EQ(*s->put("d", "z"), rev + 2);
  auto l2 = s->lease_grant(30);
  ASSERT_TRUE(l2.ok());
  EXPECT_NE(*l2, lease);
}

TEST(EmbeddedDurability, LeaseExpiresAfterRestartWithFreshTtl) {
  TempDir dir;
  LeaseId lease = 0;
  {
    auto s = open_ok(dir.path());
    ASSERT_NE(s, nullptr);
    lease = *s->lease_grant(2);
    ASSERT_TRUE(s->put("k", "v", lease).ok());
  }
  auto s = open_ok(dir.path());
  ASSERT_NE(s, nullptr);
  testing::WatchRecorder rec;
  auto w = s->watch("k", {}, 0, rec.callback());
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE(get1(*s, "k").has_value());
  ASSERT_TRUE(rec.wait_events(1, std::chrono::seconds(10)));
  EXPECT_EQ(rec.events()[0].type, WatchEvent::Type::del);
  EXPECT_EQ(s->lease_keepalive(lease).code(), Errc::not_found);
  // The expiry was persisted.
  const std::int64_t rev = s->stats().revision;
  w->reset();
  s.reset();
  s = open_ok(dir.path());
  ASSERT_NE(s, nullptr);
  EXPECT_FALSE(get1(*s, "k").has_value());
  EXPECT_EQ(s->stats().revision, rev);
  EXPECT_EQ(s->stats().leases, 0u);
}

TEST(EmbeddedDurability, CorruptTailByteIsTruncated) {
  TempDir dir;
  {
    auto s = open_ok(dir.path());
    ASSERT_NE(s, nullptr);
    ASSERT_TRUE(s->put("a", "1").ok());
    ASSERT_TRUE(s->put("b", "2").ok());
    ASSERT_EQ(*s->put("c", "3"), 4);
  }
  const std::string wal = only_wal(dir.path());
  const auto size = fs::file_size(wal);
  flip_byte(wal, size - 1);
  {
    auto s = open_ok(dir.path());
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(s->stats().revision, 3);
    EXPECT_TRUE(get1(*s, "b").has_value());
    EXPECT_FALSE(get1(*s, "c").has_value());
    EXPECT_LT(fs::file_size(wal), size);
    EXPECT_EQ(*s->put("d", "4"), 4);
  }
  auto s = open_ok(dir.path());
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->stats().revision, 4);
  EXPECT_EQ(get1(*s, "d")->value, "4");
  EXPECT_FALSE(get1(*s, "c").has_value());
}

TEST(EmbeddedDurability, TornTailIsTolerated) {
  // Cut the last record at several points, or leave zero-filled garbage after
  // it (as a file extended but not written before a power loss).
  for (int variant = 0; variant < 6; ++variant) {
    SCOPED_TRACE(variant);
    TempDir dir;
    std::size_t two = 0, three = 0;
    {
      auto s = open_ok(dir.path());
      ASSERT_NE(s, nullptr);
      ASSERT_TRUE(s->put("a", "1").ok());
      ASSERT_TRUE(s->put("b", std::string(100, 'b')).ok());
      two = s->stats().log_bytes;
      ASSERT_TRUE(s->put("c", std::string(100, 'c')).ok());
      three = s->stats().log_bytes;
    }
    const std::string wal = only_wal(dir.path());
    ASSERT_EQ(fs::file_size(wal), three);
    bool keeps_c = false;
    switch (variant) {
      case 0:
        fs::resize_file(wal, two + 1);
        break;
      case 1:
        fs::resize_file(wal, two + 7);
        break;
      case 2:
        fs::resize_file(wal, two + 8);
        break;
      case 3:
        fs::resize_file(wal, three - 1);
        break;
      case 4:
        fs::resize_file(wal, three + 4096);
        keeps_c = true;
        break;
      case 5:
        fs::resize_file(wal, three + 3);
        keeps_c = true;
        break;
    }
    auto s = open_ok(dir.path());
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(get1(*s, "c").has_value(), keeps_c);
    EXPECT_TRUE(get1(*s, "b").has_value());
    EXPECT_EQ(s->stats().revision, keeps_c ? 4 : 3);
    EXPECT_EQ(fs::file_size(wal), keeps_c ? three : two);
    auto r = s->put("e", "5");
    ASSERT_TRUE(r.ok());
    s.reset();
    s = open_ok(dir.path());
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(get1(*s, "e")->mod_revision, *r);
  }
}

TEST(EmbeddedDurability, DamageBeforeTheTailIsRefused) {
  TempDir dir;
  {
    auto s = open_ok(dir.path());
    ASSERT_NE(s, nullptr);
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(s->put("k" + std::to_string(i), std::string(50, 'x')).ok());
  }
  flip_byte(only_wal(dir.path()), 20);  // inside the first record's payload
  auto s = EmbeddedMetadataStore::open(dir.path());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Errc::corrupt);
}

TEST(EmbeddedDurability, SnapshotPlusLogReplay) {
  TempDir dir;
  EmbeddedOptions opts;
  opts.snapshot_threshold_bytes = 4096;
  std::vector<KeyValue> expect, expect_old;
  std::int64_t rev = 0, old_rev = 0, compact_rev = 0;
  std::size_t leases = 0;
  {
    auto s = open_ok(dir.path(), opts);
    ASSERT_NE(s, nullptr);
    std::mt19937 rng(7);
    LeaseId lease = *s->lease_grant(600);
    for (int i = 0; i < 400; ++i) {
      const std::string key = "key/" + std::to_string(rng() % 50);
      switch (rng() % 6) {
        case 0:
          ASSERT_TRUE(s->delete_range(key).ok());
          break;
        case 1: {
          TxnRequest t;
          t.compare.push_back(testing::cmp(key, Compare::Target::version, Compare::Result::greater, 0));
          t.success = {Op::put(key, "txn" + std::to_string(i)), Op::put("txn/count", std::to_string(i))};
          t.failure = {Op::put(key, "created" + std::to_string(i), lease)};
          ASSERT_TRUE(s->txn(t).ok());
          break;
        }
        case 2:
          if (i % 50 == 2) {
            ASSERT_TRUE(s->lease_revoke(lease).ok());
            lease = *s->lease_grant(600);
          }
          break;
        default:
          ASSERT_TRUE(s->put(key, std::string(20 + rng() % 40, 'a' + i % 26)).ok());
      }
      if (i == 200) compact_rev = s->stats().revision;
      if (i == 250) {
        ASSERT_TRUE(s->compact(compact_rev).ok());
        old_rev = s->stats().revision;
      }
    }
    auto st = s->stats();
    EXPECT_GE(st.snapshots_written, 2u);
    EXPECT_GT(st.log_bytes, 0u);  // some records after the last snapshot
    rev = st.revision;
    leases = st.leases;
    expect = all_kvs(*s);
    expect_old = all_kvs(*s, compact_rev);
  }
  only_wal(dir.path());  // old logs were removed
  auto s = open_ok(dir.path(), opts);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->stats().revision, rev);
  EXPECT_EQ(s->stats().compact_revision, compact_rev);
  EXPECT_EQ(s->stats().leases, leases);
  EXPECT_TRUE(same(all_kvs(*s), expect));
  EXPECT_TRUE(same(all_kvs(*s, compact_rev), expect_old));
  // History since the compaction still feeds watches.
  testing::WatchRecorder rec;
  auto w = s->watch("key/", prefix_end("key/"), compact_rev, rec.callback());
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE(rec.wait_events(1));
  EXPECT_GE(rec.events()[0].kv.mod_revision, compact_rev);
  EXPECT_EQ(s->watch("key/", prefix_end("key/"), compact_rev - 1, rec.callback()).code(), Errc::compacted);
  (void)old_rev;
}

TEST(EmbeddedDurability, InterruptedSnapshotLeftoversAreIgnored) {
  TempDir dir;
  {
    auto s = open_ok(dir.path());
    ASSERT_NE(s, nullptr);
    ASSERT_TRUE(s->put("a", "1").ok());
    ASSERT_TRUE(s->snapshot_now().ok());
    ASSERT_TRUE(s->put("b", "2").ok());
  }
  // A crash mid-snapshot leaves a temp file and the next (empty) log.
  std::ofstream(dir.path() + "/snapshot.tmp") << "partial";
  std::ofstream(dir.path() + "/wal-00000000000000ff.log") << "";
  auto s = open_ok(dir.path());
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->stats().revision, 3);
  EXPECT_TRUE(get1(*s, "b").has_value());
  EXPECT_FALSE(fs::exists(dir.path() + "/snapshot.tmp"));
  only_wal(dir.path());
}

TEST(EmbeddedDurability, CorruptSnapshotIsRefused) {
  TempDir dir;
  {
    auto s = open_ok(dir.path());
    ASSERT_NE(s, nullptr);
    ASSERT_TRUE(s->put("a", "1").ok());
    ASSERT_TRUE(s->snapshot_now().ok());
  }
  flip_byte(dir.path() + "/snapshot", 30);
  auto s = EmbeddedMetadataStore::open(dir.path());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Errc::corrupt);
}

// ---- real crashes ----

struct Ack {
  std::int64_t index;
  std::int64_t revision;
};

std::string crash_key(std::int64_t i) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "crash/%08lld", static_cast<long long>(i));
  return buf;
}

EmbeddedOptions crash_options() {
  EmbeddedOptions o;
  o.snapshot_threshold_bytes = 16 * 1024;  // snapshots happen often, so kills hit them too
  return o;
}

// Runs in the forked child: txns forever, each acknowledged one reported.
[[noreturn]] void crash_child(const std::string& dir, std::int64_t start, int fd) {
  auto s = EmbeddedMetadataStore::open(dir, crash_options());
  if (!s.ok()) _exit(2);
  for (std::int64_t i = start;; ++i) {
    TxnRequest t;
    if (i == 0) {
      t.compare.push_back(testing::cmp("count", Compare::Target::create_revision, Compare::Result::equal, 0));
    } else {
      t.compare.push_back(
          testing::cmp("count", Compare::Target::value, Compare::Result::equal, 0, std::to_string(i)));
    }
    t.success = {Op::put(crash_key(i), "value-" + std::to_string(i) + std::string(200, 'v')),
                 Op::put("count", std::to_string(i + 1))};
    auto r = (*s)->txn(t);
    if (!r.ok() || !r->succeeded) _exit(3);
    Ack a{i, r->revision};
    if (::write(fd, &a, sizeof(a)) != static_cast<ssize_t>(sizeof(a))) _exit(4);
  }
}

TEST(EmbeddedDurability, SigkillLosesNothingAcknowledged) {
  TempDir dir;
  const unsigned seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  std::int64_t committed = 0;
  std::size_t total_acks = 0;
  for (int round = 0; round < 6; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(fds[0]);
      crash_child(dir.path(), committed, fds[1]);
    }
    ::close(fds[1]);
    const auto kill_at = std::chrono::steady_clock::now() + std::chrono::milliseconds(30 + rng() % 300);
    std::string buf;
    char chunk[4096];
    while (true) {
      auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(kill_at - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      pollfd p{fds[0], POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) > 0) {
        ssize_t n = ::read(fds[0], chunk, sizeof(chunk));
        if (n <= 0) break;  // child died on its own
        buf.append(chunk, static_cast<std::size_t>(n));
      }
    }
    ::kill(pid, SIGKILL);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ssize_t n;
    while ((n = ::read(fds[0], chunk, sizeof(chunk))) > 0) buf.append(chunk, static_cast<std::size_t>(n));
    ::close(fds[0]);
    ASSERT_TRUE(WIFSIGNALED(status)) << "child exited with " << WEXITSTATUS(status);
    ASSERT_EQ(buf.size() % sizeof(Ack), 0u);
    std::vector<Ack> acks(buf.size() / sizeof(Ack));
    std::memcpy(acks.data(), buf.data(), buf.size());
    total_acks += acks.size();

    auto s = open_ok(dir.path(), crash_options());
    ASSERT_NE(s, nullptr);
    auto count = get1(*s, "count");
    const std::int64_t n_txns = count ? std::stoll(count->value) : 0;
    EXPECT_GE(n_txns, committed + static_cast<std::int64_t>(acks.size()));
    for (const Ack& a : acks) {
      auto kv = get1(*s, crash_key(a.index));
      ASSERT_TRUE(kv.has_value()) << "acknowledged txn " << a.index << " lost";
      EXPECT_EQ(kv->mod_revision, a.revision);
      EXPECT_TRUE(kv->value.starts_with("value-" + std::to_string(a.index)));
    }
    // Exactly the txns 0..n-1, one revision each, nothing half-applied.
    RangeRequest req;
    req.key = "crash/";
    req.range_end = prefix_end("crash/");
    req.count_only = true;
    EXPECT_EQ(s->range(req)->count, n_txns);
    EXPECT_EQ(s->stats().revision, 1 + n_txns);
    if (n_txns > 0) {
      EXPECT_EQ(get1(*s, crash_key(n_txns - 1))->mod_revision, 1 + n_txns);
    }
    committed = n_txns;
  }
  EXPECT_GT(total_acks, 0u);
  RecordProperty("committed", static_cast<int>(committed));
}

// ---- watches and limits specific to the embedded store ----

TEST(EmbeddedStore, WatchBehindCompactionEndsWithCompacted) {
  TempDir dir;
  auto s = open_ok(dir.path());
  ASSERT_NE(s, nullptr);
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  bool entered = false;
  testing::WatchRecorder rec;
  auto inner = rec.callback();
  auto w = s->watch("k", {}, 0, [&](const std::vector<WatchEvent>& ev, const Status& st) {
    inner(ev, st);
    std::unique_lock l(mu);
    entered = true;
    cv.notify_all();
    cv.wait(l, [&] { return release; });
  });
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE(s->put("k", "1").ok());
  {
    std::unique_lock l(mu);
    ASSERT_TRUE(cv.wait_for(l, std::chrono::seconds(10), [&] { return entered; }));
  }
  // While the callback is blocked, the watcher falls behind a compaction.
  ASSERT_TRUE(s->put("k", "2").ok());
  auto r3 = s->put("k", "3");
  ASSERT_TRUE(s->compact(*r3).ok());
  {
    std::lock_guard l(mu);
    release = true;
  }
  cv.notify_all();
  auto end = rec.wait_end();
  ASSERT_TRUE(end.has_value());
  EXPECT_EQ(end->code(), Errc::compacted);
  EXPECT_EQ(rec.events().size(), 1u);
}

TEST(EmbeddedStore, NoCallbackAfterWatchDestructorReturns) {
  TempDir dir;
  auto s = open_ok(dir.path());
  ASSERT_NE(s, nullptr);
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (int i = 0; !stop; ++i) {
      if (!s->put("w/" + std::to_string(i % 10), "v").ok()) return;
    }
  });
  for (int round = 0; round < 20; ++round) {
    auto destroyed = std::make_shared<std::atomic<bool>>(false);
    auto violations = std::make_shared<std::atomic<int>>(0);
    testing::WatchRecorder rec;
    auto cb = rec.callback();
    auto w = s->watch("w/", prefix_end("w/"), 0, [=](const std::vector<WatchEvent>& ev, const Status& st) {
      if (*destroyed) ++*violations;
      cb(ev, st);
    });
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE(rec.wait_events(1));
    w->reset();
    *destroyed = true;
    // Let more events flow through the notifier.
    testing::WatchRecorder after;
    auto w2 = s->watch("w/", prefix_end("w/"), 0, after.callback());
    ASSERT_TRUE(after.wait_events(5));
    EXPECT_EQ(violations->load(), 0);
  }
  stop = true;
  writer.join();
}

TEST(EmbeddedStore, WatchCanCancelItselfFromItsCallback) {
  TempDir dir;
  auto s = open_ok(dir.path());
  ASSERT_NE(s, nullptr);
  std::unique_ptr<Watch> self;
  std::mutex mu;
  std::atomic<int> calls{0};
  auto w = s->watch("k", {}, 0, [&](const std::vector<WatchEvent>&, const Status&) {
    ++calls;
    std::lock_guard l(mu);
    self.reset();
  });
  ASSERT_TRUE(w.ok());
  {
    std::lock_guard l(mu);
    self = std::move(w).value();
  }
  testing::WatchRecorder sync;
  auto ws = s->watch("k", {}, 0, sync.callback());
  ASSERT_TRUE(s->put("k", "1").ok());
  ASSERT_TRUE(s->put("k", "2").ok());
  ASSERT_TRUE(sync.wait_events(2));
  EXPECT_EQ(calls.load(), 1);
  EXPECT_EQ(s->stats().watches, 1u);
}

TEST(EmbeddedStore, CloseEndsLiveWatchesWithCancelled) {
  TempDir dir;
  testing::WatchRecorder rec;
  auto s = open_ok(dir.path());
  ASSERT_NE(s, nullptr);
  auto w = s->watch("k", {}, 0, rec.callback());
  ASSERT_TRUE(w.ok());
  s.reset();
  auto end = rec.wait_end(std::chrono::milliseconds(0));
  ASSERT_TRUE(end.has_value());
  EXPECT_EQ(end->code(), Errc::cancelled);
  w->reset();  // safe after the store is gone
}

TEST(EmbeddedStore, QuotaExceededUntilCompaction) {
  TempDir dir;
  EmbeddedOptions opts;
  opts.quota_bytes = 64 * 1024;
  auto s = open_ok(dir.path(), opts);
  ASSERT_NE(s, nullptr);
  Result<std::int64_t> r = std::int64_t{0};
  int puts = 0;
  for (; puts < 100; ++puts) {
    r = s->put("k", std::string(4096, 'x'));
    if (!r.ok()) break;
  }
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.code(), Errc::nospace);
  EXPECT_GT(puts, 3);
  // Deletes are still allowed; compaction frees the history.
  ASSERT_TRUE(s->compact(s->stats().revision).ok());
  EXPECT_TRUE(s->put("k", std::string(4096, 'y')).ok());
}

TEST(EmbeddedStore, LeaseTtlBounds) {
  TempDir dir;
  auto s = open_ok(dir.path());
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->lease_grant(EmbeddedMetadataStore::kMaxLeaseTtlSeconds + 1).code(), Errc::invalid_argument);
  auto l = s->lease_grant(0);  // raised to the 1 s minimum
  ASSERT_TRUE(l.ok());
  EXPECT_TRUE(s->lease_keepalive(*l).ok());
}

}  // namespace
}  // namespace ks::metastore
