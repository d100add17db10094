#include "metastore/etcd_watch.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>

namespace ks::metastore::etcd {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// One streamed watch message; etcd batches events, so this is generous.
constexpr std::size_t kMaxWatchMessageBytes = 64u << 20;
// Backoff between reconnect attempts of a broken watch stream.
constexpr milliseconds kWatchBackoffMin{50};
constexpr milliseconds kWatchBackoffMax{1000};

struct WatchState {
  std::shared_ptr<Transport> transport;
  KeyPrefix keys;
  std::string key;  // prefixed, base64 in requests
  std::string end;
  WatchCallback cb;
  std::int64_t next_rev = 0;  // watch-thread only: where a new stream starts (0 = now)

  std::mutex mu;
  std::condition_variable cv;
  bool stop = false;       // guarded by mu
  CURLM* multi = nullptr;  // guarded by mu: woken by stop
  bool starting = true;    // guarded by mu: watch() still waits for the first "created"
  bool start_failed = false;
  Status start_status;

  // Per stream, watch-thread only.
  std::string buf;
  bool created = false;
  long http = 0;
  std::optional<Status> ended;  // etcd ended the watch (compacted, error)

  bool stopped() {
    std::lock_guard l(mu);
    return stop;
  }
};

// Handles one streamed message. Returns false to abort the stream.
bool on_watch_message(WatchState& st, const json& msg) {
  WatchMessage m = decode_watch_message(st.keys, msg);
  if (m.created) {
    st.created = true;
    if (st.next_rev == 0) st.next_rev = m.revision + 1;
    std::lock_guard l(st.mu);
    if (st.starting) {
      st.starting = false;
      st.cv.notify_all();
    }
  }
  if (m.compact_revision != 0) {
    st.ended =
        Status(Errc::compacted, "etcd: watch from revision " + std::to_string(st.next_rev) +
                                    " is older than the compaction at " + std::to_string(m.compact_revision));
    return false;
  }
  if (m.end) {
    st.ended = std::move(m.end);
    return false;
  }
  if (m.events.empty()) return true;
  st.next_rev = m.events.back().kv.mod_revision + 1;
  if (st.stopped()) return false;
  st.cb(m.events, Status());
  return !st.stopped();
}

std::size_t watch_write(char* ptr, std::size_t size, std::size_t n, void* user) {
  auto& st = *static_cast<WatchState*>(user);
  const std::size_t bytes = size * n;
  if (st.http != 200) {  // an error body: kept for the end of the stream
    if (st.buf.size() + bytes > kMaxWatchMessageBytes) return 0;
    st.buf.append(ptr, bytes);
    return bytes;
  }
  st.buf.append(ptr, bytes);
  std::size_t start = 0;
  for (std::size_t nl; (nl = st.buf.find('\n', start)) != std::string::npos; start = nl + 1) {
    json msg = json::parse(std::string_view(st.buf).substr(start, nl - start), nullptr, false);
    if (msg.is_discarded()) {
      st.ended = corrupt("unparsable watch message");
      return 0;
    }
    if (!on_watch_message(st, msg)) return 0;
  }
  st.buf.erase(0, start);
  if (st.buf.size() > kMaxWatchMessageBytes) {
    st.ended = Status(Errc::limit_exceeded,
                      "etcd: watch message larger than " + std::to_string(kMaxWatchMessageBytes) + " bytes");
    return 0;
  }
  return bytes;
}

std::size_t watch_header(char* ptr, std::size_t size, std::size_t n, void* user) {
  auto& st = *static_cast<WatchState*>(user);
  std::string_view line(ptr, size * n);
  if (line.rfind("HTTP/", 0) == 0) {  // status line: "HTTP/1.1 200 OK"
    std::size_t sp = line.find(' ');
    if (sp != std::string_view::npos) {
      long code = 0;
      std::from_chars(line.data() + sp + 1, line.data() + line.size(), code);
      st.http = code;
    }
  }
  return size * n;
}

// Runs one watch stream on endpoint `ep` until it ends, breaks or stop.
// Returns a description of the transport failure when it broke.
std::string stream_once(WatchState& st, std::size_t ep) {
  Transport& transport = *st.transport;
  const EtcdOptions& opts = transport.options();
  st.buf.clear();
  st.created = false;
  st.http = 0;
  st.ended.reset();

  std::string tok;
  if (!opts.username.empty()) {
    auto t = transport.auth_token();
    if (!t.ok()) {
      if (t.code() != Errc::unavailable && t.code() != Errc::timeout) st.ended = t.status();
      return t.status().message();
    }
    tok = std::move(t).value();
  }
  const std::string body = dump(encode_watch_create(st.key, st.end, st.next_rev));
  const std::string url = opts.endpoints[ep] + "/v3/watch";

  CURL* h = curl_easy_init();
  CURLM* m = curl_multi_init();
  if (h == nullptr || m == nullptr) {
    if (h != nullptr) curl_easy_cleanup(h);
    if (m != nullptr) curl_multi_cleanup(m);
    return "curl init failed";
  }
  Headers headers;
  char errbuf[CURL_ERROR_SIZE] = {};
  transport.setup(h, url, body, headers, tok, errbuf, /*require_leader=*/false);  // see kRequireLeaderHeader
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, watch_write);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &st);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, watch_header);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &st);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(opts.connect_timeout.count()));
  // A dead peer without a RST is noticed by keepalive probes.
  curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(h, CURLOPT_TCP_KEEPIDLE, 10L);
  curl_easy_setopt(h, CURLOPT_TCP_KEEPINTVL, 5L);
  curl_multi_add_handle(m, h);
  {
    std::lock_guard l(st.mu);
    st.multi = m;
  }
  // etcd must confirm the watch within the request timeout.
  const auto create_deadline = Clock::now() + opts.timeout;
  std::string failure;
  for (;;) {
    int running = 0;
    curl_multi_perform(m, &running);
    if (running == 0 || st.stopped()) break;
    if (!st.created && Clock::now() >= create_deadline) {
      failure = "no watch confirmation within " + std::to_string(opts.timeout.count()) + " ms";
      break;
    }
    curl_multi_poll(m, nullptr, 0, 1000, nullptr);
  }
  CURLcode rc = CURLE_OK;
  int left = 0;
  while (CURLMsg* msg = curl_multi_info_read(m, &left)) {
    if (msg->msg == CURLMSG_DONE) rc = msg->data.result;
  }
  {
    std::lock_guard l(st.mu);
    st.multi = nullptr;
  }
  curl_multi_remove_handle(m, h);
  curl_easy_cleanup(h);
  curl_multi_cleanup(m);

  if (st.ended) return {};
  if (st.http != 0 && st.http != 200) {
    json j = json::parse(st.buf, nullptr, false);
    Status s = !j.is_discarded() && j.is_object()
                   ? error_from_body(j)
                   : Status(Errc::unavailable, "HTTP " + std::to_string(st.http));
    if (is_auth_token_error(s)) {
      transport.drop_token(tok);
      return s.message();
    }
    if (s.code() != Errc::unavailable && s.code() != Errc::timeout) st.ended = s;
    return s.message();
  }
  if (!failure.empty()) return failure + " (" + url + ")";
  if (rc != CURLE_OK)
    return std::string(errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc)) + " (" + url + ")";
  return "stream closed by server (" + url + ")";
}

// Ends the watch: during start_watch the status goes back to the caller,
// afterwards to the callback (unless the watch is being destroyed).
void finish(WatchState& st, const Status& s) {
  {
    std::lock_guard l(st.mu);
    if (st.starting) {
      st.starting = false;
      st.start_failed = true;
      st.start_status = s;
      st.cv.notify_all();
      return;
    }
    if (st.stop) return;
  }
  st.cb({}, s);
}

void run_watch(std::shared_ptr<WatchState> st) {
  const EtcdOptions& opts = st->transport->options();
  const std::size_t n = opts.endpoints.size();
  std::size_t ep = st->transport->preferred();
  auto deadline = Clock::now() + opts.timeout;  // to (re)establish the stream
  milliseconds backoff = kWatchBackoffMin;
  for (;;) {
    std::string failure = stream_once(*st, ep);
    if (st->stopped()) return;
    if (st->ended) {
      finish(*st, *st->ended);
      return;
    }
    if (st->created) {  // it was healthy: a fresh retry window
      deadline = Clock::now() + opts.timeout;
      backoff = kWatchBackoffMin;
    }
    if (Clock::now() >= deadline) {
      finish(*st, Status(Errc::unavailable, "etcd: watch stream lost: " + failure));
      return;
    }
    ep = (ep + 1) % n;
    std::unique_lock l(st->mu);
    if (st->cv.wait_for(l, backoff, [&] { return st->stop; })) return;
    backoff = std::min(backoff * 2, kWatchBackoffMax);
  }
}

class EtcdWatch final : public Watch {
 public:
  EtcdWatch(std::shared_ptr<WatchState> st, std::thread th, std::function<void()> on_close)
      : st_(std::move(st)), th_(std::move(th)), on_close_(std::move(on_close)) {}
  ~EtcdWatch() override {
    {
      std::lock_guard l(st_->mu);
      st_->stop = true;
      if (st_->multi != nullptr) curl_multi_wakeup(st_->multi);
      st_->cv.notify_all();
    }
    // Destroyed from its own callback: the thread ends by itself.
    if (th_.get_id() == std::this_thread::get_id()) {
      th_.detach();
    } else {
      th_.join();
    }
    if (on_close_) on_close_();
  }

 private:
  std::shared_ptr<WatchState> st_;
  std::thread th_;
  std::function<void()> on_close_;
};

}  // namespace

Result<std::unique_ptr<Watch>> start_watch(std::shared_ptr<Transport> transport, KeyPrefix keys,
                                           std::string key, std::string end, std::int64_t start_revision,
                                           WatchCallback cb, std::function<void()> on_close) {
  auto st = std::make_shared<WatchState>();
  st->transport = std::move(transport);
  st->keys = std::move(keys);
  st->key = std::move(key);
  st->end = std::move(end);
  st->cb = std::move(cb);
  st->next_rev = start_revision;
  std::thread th(run_watch, st);
  {
    std::unique_lock l(st->mu);
    st->cv.wait(l, [&] { return !st->starting; });  // run_watch leaves `starting` within the timeout
  }
  if (st->start_failed) {
    th.join();
    return st->start_status;
  }
  return std::unique_ptr<Watch>(std::make_unique<EtcdWatch>(st, std::move(th), std::move(on_close)));
}

}  // namespace ks::metastore::etcd
