#include "objstore/s3_store.h"

#include <curl/curl.h>
#include <openssl/evp.h>

#include <algorithm>
#include <map>
#include <random>
#include <thread>

#include "common/base64.h"
#include "common/curl_init.h"
#include "objstore/s3_responses.h"

namespace ks::objstore {

// One HTTP exchange. `object` is the full key in the bucket ("" for bucket
// requests); query values are raw (encoded when the URL is built, sorted by
// name as curl's SigV4 signer needs).
struct S3ObjectStore::Request {
  const char* method = "GET";
  std::string object;
  std::map<std::string, std::string> query;
  std::vector<std::string> headers;
  std::string_view body;
  bool body_md5 = false;
  bool mutating = false;  // a lost response leaves the outcome unknown
  // Body bytes accepted; 64 KiB covers error documents and small XML answers.
  std::uint64_t max_response = 64 << 10;
};

struct S3ObjectStore::Response {
  long status = 0;
  std::string body;
  std::string etag;
};

namespace {

std::string base64_md5(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_md5(), nullptr);
  return base64_encode(std::string_view(reinterpret_cast<const char*>(md), len));
}

bool iequals_prefix(std::string_view line, std::string_view name) {
  if (line.size() < name.size()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(line[i])) != name[i]) return false;
  }
  return true;
}

std::string_view trim_ws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\r' || s.back() == '\n')) s.remove_suffix(1);
  return s;
}

// State shared with the curl callbacks of one attempt.
struct Transfer {
  CURL* handle;
  S3ObjectStore::Response* resp;
  std::uint64_t max_body;
  bool too_big = false;
  bool timed_out = false;
  std::chrono::steady_clock::time_point start;
  std::chrono::milliseconds base_timeout;
  std::uint64_t min_throughput;
};

std::size_t on_body(char* p, std::size_t size, std::size_t n, void* ud) {
  auto* t = static_cast<Transfer*>(ud);
  std::size_t len = size * n;
  if (t->resp->body.size() + len > t->max_body) {
    // The limit is for the data asked for; an error document (a few hundred
    // bytes, XML) may be longer than a small range.
    long status = 0;
    curl_easy_getinfo(t->handle, CURLINFO_RESPONSE_CODE, &status);
    constexpr std::size_t kMaxErrorBody = 64 << 10;
    if (status / 100 == 2 || t->resp->body.size() + len > kMaxErrorBody) {
      t->too_big = true;
      return 0;  // aborts with CURLE_WRITE_ERROR
    }
  }
  t->resp->body.append(p, len);
  return len;
}

std::size_t on_header(char* p, std::size_t size, std::size_t n, void* ud) {
  auto* t = static_cast<Transfer*>(ud);
  std::string_view line(p, size * n);
  if (line.rfind("HTTP/", 0) == 0) {
    t->resp->etag.clear();  // a new response (after 100 Continue or a redirect)
  } else if (iequals_prefix(line, "etag:")) {
    t->resp->etag = std::string(trim_ws(line.substr(5)));
  } else if (iequals_prefix(line, "content-length:")) {
    std::string v(trim_ws(line.substr(15)));
    std::uint64_t len = std::strtoull(v.c_str(), nullptr, 10);
    // Reserve only what the caller accepts: the header is untrusted.
    if (len <= t->max_body && len <= (256ull << 20)) t->resp->body.reserve(static_cast<std::size_t>(len));
  }
  return size * n;
}

// Per-attempt deadline: base timeout plus the time the known body sizes take
// at the minimum throughput (the download size is known once headers arrive).
int on_progress(void* ud, curl_off_t dltotal, curl_off_t, curl_off_t ultotal, curl_off_t) {
  auto* t = static_cast<Transfer*>(ud);
  auto bytes =
      static_cast<std::uint64_t>(std::max<curl_off_t>(dltotal, 0) + std::max<curl_off_t>(ultotal, 0));
  auto limit = t->base_timeout +
               std::chrono::milliseconds(bytes * 1000 / std::max<std::uint64_t>(t->min_throughput, 1));
  if (std::chrono::steady_clock::now() - t->start > limit) {
    t->timed_out = true;
    return 1;
  }
  return 0;
}

bool parse_bool(std::string_view v, bool& out) {
  if (v == "true" || v == "1")
    out = true;
  else if (v == "false" || v == "0")
    out = false;
  else
    return false;
  return true;
}

// S3 bucket naming rules (the subset that matters for URLs and hostnames).
bool valid_bucket(std::string_view b) {
  if (b.size() < 3 || b.size() > 63) return false;
  for (char c : b) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.')) return false;
  }
  return b.front() != '-' && b.front() != '.' && b.back() != '-' && b.back() != '.';
}

std::string s3_error_detail(const S3ObjectStore::Response& r) {
  s3::ErrorBody e = s3::parse_error(r.body);
  std::string out = "HTTP " + std::to_string(r.status);
  if (!e.code.empty()) out += " " + e.code;
  if (!e.message.empty()) out += ": " + e.message;
  return out;
}

}  // namespace

Result<S3Location> parse_s3_url(const std::string& url) {
  constexpr std::string_view kScheme = "s3://";
  if (url.rfind(kScheme, 0) != 0)
    return Status(Errc::invalid_argument, "s3 URL must start with s3://: " + url);
  std::string_view rest = std::string_view(url).substr(kScheme.size());
  std::string_view query;
  if (std::size_t q = rest.find('?'); q != std::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  S3Location loc;
  std::size_t slash = rest.find('/');
  loc.bucket = std::string(rest.substr(0, slash));
  if (!valid_bucket(loc.bucket)) {
    return Status(Errc::invalid_argument, "s3 URL: bad bucket name '" + loc.bucket +
                                              "' (3-63 characters: lowercase letters, digits, '-', '.')");
  }
  if (slash != std::string_view::npos) {
    std::string_view prefix = rest.substr(slash + 1);
    while (!prefix.empty() && prefix.back() == '/') prefix.remove_suffix(1);
    if (!prefix.empty()) {
      if (!valid_key(prefix)) {
        return Status(Errc::invalid_argument, "s3 URL: bad prefix '" + std::string(prefix) + "'");
      }
      loc.prefix = std::string(prefix) + "/";
    }
  }
  bool have_path_style = false;
  while (!query.empty()) {
    std::size_t amp = query.find('&');
    std::string_view param = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (param.empty()) continue;
    std::size_t eq = param.find('=');
    std::string name(param.substr(0, eq));
    auto value = aws::uri_decode(eq == std::string_view::npos ? std::string_view() : param.substr(eq + 1));
    if (!value) return Status(Errc::invalid_argument, "s3 URL: bad percent-encoding in '" + name + "'");
    if (name == "endpoint") {
      std::string ep = *value;
      while (!ep.empty() && ep.back() == '/') ep.pop_back();
      if (ep.rfind("http://", 0) != 0 && ep.rfind("https://", 0) != 0) {
        return Status(Errc::invalid_argument,
                      "s3 URL: endpoint must be http:// or https://, got '" + ep + "'");
      }
      std::string_view host = std::string_view(ep).substr(ep.find("://") + 3);
      if (host.empty() || host.find('/') != std::string_view::npos) {
        return Status(Errc::invalid_argument,
                      "s3 URL: endpoint must be scheme://host[:port], got '" + ep + "'");
      }
      loc.endpoint = ep;
    } else if (name == "region") {
      if (value->empty()) return Status(Errc::invalid_argument, "s3 URL: empty region");
      for (char c : *value) {
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
          return Status(Errc::invalid_argument, "s3 URL: bad region '" + *value + "'");
        }
      }
      loc.region = *value;
    } else if (name == "path_style") {
      if (!parse_bool(*value, loc.path_style)) {
        return Status(Errc::invalid_argument, "s3 URL: path_style must be true or false");
      }
      have_path_style = true;
    } else {
      return Status(Errc::invalid_argument, "s3 URL: unknown parameter '" + name + "'");
    }
  }
  if (loc.endpoint.empty()) {
    loc.endpoint = "https://s3." + loc.region + ".amazonaws.com";
    if (!have_path_style) loc.path_style = false;
  } else if (!have_path_style) {
    loc.path_style = true;
  }
  if (!loc.path_style && loc.bucket.find('.') != std::string::npos &&
      loc.endpoint.rfind("https://", 0) == 0) {
    // *.s3 wildcard certificates do not cover dotted bucket names.
    return Status(Errc::invalid_argument, "s3 URL: bucket names with '.' need path_style=true over https");
  }
  return loc;
}

S3ObjectStore::S3ObjectStore(S3Location loc, S3Options opts) : loc_(std::move(loc)), opts_(std::move(opts)) {}

S3ObjectStore::~S3ObjectStore() {
  std::lock_guard lock(pool_mu_);
  for (void* h : idle_) curl_easy_cleanup(static_cast<CURL*>(h));
}

Result<std::unique_ptr<S3ObjectStore>> S3ObjectStore::open(const std::string& url, S3Options options) {
  auto loc = parse_s3_url(url);
  if (!loc.ok()) return loc.status();
  return open(std::move(*loc), std::move(options));
}

Result<std::unique_ptr<S3ObjectStore>> S3ObjectStore::open(S3Location location, S3Options options) {
  if (!options.credentials) return Status(Errc::invalid_argument, "s3: no credentials provider");
  if (options.max_connections < 1 || options.max_attempts < 1 || options.list_page_size < 1 ||
      options.list_page_size > 1000) {
    return Status(Errc::invalid_argument, "s3: bad options (connections, attempts or page size)");
  }
  // S3 parts are >= 5 MiB (except the last) and at most 10,000 per object.
  if (options.part_size < (5ull << 20) || options.multipart_threshold < options.part_size ||
      kMaxObjectSize / options.part_size > 10000) {
    return Status(Errc::invalid_argument,
                  "s3: part_size must be >= 5 MiB, <= threshold, and 5 GiB / part_size <= 10000");
  }
  init_curl_once();
  std::unique_ptr<S3ObjectStore> store(new S3ObjectStore(std::move(location), std::move(options)));
  if (store->opts_.verify_on_open) {
    if (Status st = store->check_access(); !st.ok()) return st;
  }
  return store;
}

std::string S3ObjectStore::describe() const {
  return "s3://" + loc_.bucket + "/" + loc_.prefix + " (" + loc_.endpoint + ", " + loc_.region + ")";
}

std::string S3ObjectStore::url_for(const std::string& object, const std::string& query) const {
  std::string url;
  if (loc_.path_style) {
    url = loc_.endpoint + "/" + loc_.bucket + "/";
  } else {
    std::size_t sep = loc_.endpoint.find("://") + 3;
    url = loc_.endpoint.substr(0, sep) + loc_.bucket + "." + loc_.endpoint.substr(sep) + "/";
  }
  url += aws::uri_encode(object, /*keep_slash=*/true);
  if (!query.empty()) url += "?" + query;
  return url;
}

void* S3ObjectStore::acquire() {
  std::unique_lock lock(pool_mu_);
  pool_cv_.wait(lock, [&] { return !idle_.empty() || created_ < opts_.max_connections; });
  if (!idle_.empty()) {
    void* h = idle_.back();
    idle_.pop_back();
    return h;
  }
  CURL* h = curl_easy_init();
  if (h != nullptr) ++created_;
  return h;
}

void S3ObjectStore::release(void* handle) {
  {
    std::lock_guard lock(pool_mu_);
    idle_.push_back(handle);
  }
  pool_cv_.notify_one();
}

Result<S3ObjectStore::Response> S3ObjectStore::attempt(const Request& req, bool& outcome_unknown) {
  auto creds = opts_.credentials->get();
  if (!creds.ok()) {
    return Status(Errc::unavailable,
                  "s3: credentials (" + opts_.credentials->describe() + "): " + creds.status().message());
  }
  std::string query;
  for (const auto& [name, value] : req.query) {
    if (!query.empty()) query += "&";
    query += aws::uri_encode(name) + "=" + aws::uri_encode(value);
  }
  const std::string url = url_for(req.object, query);
  const std::string sigv4 = "aws:amz:" + loc_.region + ":s3";

  // Never blank a header here: curl would still sign it (403 for everything).
  curl_slist* headers = curl_slist_append(nullptr, "x-amz-content-sha256: UNSIGNED-PAYLOAD");
  if (!creds->session_token.empty()) {
    headers = curl_slist_append(headers, ("x-amz-security-token: " + creds->session_token).c_str());
  }
  if (req.body_md5) headers = curl_slist_append(headers, ("Content-MD5: " + base64_md5(req.body)).c_str());
  for (const std::string& h : req.headers) headers = curl_slist_append(headers, h.c_str());

  auto* h = static_cast<CURL*>(acquire());
  if (h == nullptr) {
    curl_slist_free_all(headers);
    return Status(Errc::unavailable, "s3: curl_easy_init failed");
  }
  Response resp;
  Transfer t{h,
             &resp,
             req.max_response,
             false,
             false,
             std::chrono::steady_clock::now(),
             opts_.request_timeout,
             opts_.min_throughput};
  curl_easy_reset(h);  // keeps the pooled connection
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(h, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
  curl_easy_setopt(h, CURLOPT_BUFFERSIZE, 256L << 10);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(opts_.connect_timeout.count()));
  if (req.max_response <= (16u << 20)) {
    // Bounded exchange: a hard timeout too (the progress check below runs
    // only about once a second while nothing moves).
    auto ms = opts_.request_timeout.count() +
              static_cast<std::int64_t>((req.body.size() + req.max_response) * 1000 /
                                        std::max<std::uint64_t>(opts_.min_throughput, 1));
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(ms));
  }
  curl_easy_setopt(h, CURLOPT_AWS_SIGV4, sigv4.c_str());
  curl_easy_setopt(h, CURLOPT_USERNAME, creds->access_key_id.c_str());
  curl_easy_setopt(h, CURLOPT_PASSWORD, creds->secret_access_key.c_str());
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(h, CURLOPT_XFERINFODATA, &t);
  std::string_view method = req.method;
  if (method == "PUT" || method == "POST") {
    // In-memory body via POSTFIELDS under a custom method: no chunked
    // encoding, no read callback, and curl's default form Content-Type is
    // overridden by the caller's explicit one.
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req.method);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, req.body.empty() ? "" : req.body.data());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
  } else if (method == "HEAD") {
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  } else if (method != "GET") {
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req.method);
  }
  CURLcode rc = curl_easy_perform(h);
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp.status);
  // Drop the headers list (it points into this frame) before pooling.
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, nullptr);
  release(h);
  curl_slist_free_all(headers);

  const std::string where = std::string(req.method) + " " + url;
  switch (rc) {
    case CURLE_OK:
      return resp;
    case CURLE_WRITE_ERROR:
      if (t.too_big) {
        return Status(Errc::limit_exceeded, "s3: " + where + ": response larger than " +
                                                std::to_string(req.max_response) + " bytes");
      }
      break;
    case CURLE_ABORTED_BY_CALLBACK:
    case CURLE_OPERATION_TIMEDOUT:
      if (rc == CURLE_OPERATION_TIMEDOUT || t.timed_out) {
        outcome_unknown = outcome_unknown || req.mutating;
        return Status(Errc::timeout, "s3: " + where + ": timed out");
      }
      break;
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
      return Status(Errc::unavailable, "s3: " + where + ": " + curl_easy_strerror(rc));
    default:
      break;
  }
  // Connection lost mid-exchange (reset, empty reply, ...): the server may
  // have acted on it.
  outcome_unknown = outcome_unknown || req.mutating;
  return Status(Errc::unavailable, "s3: " + where + ": " + curl_easy_strerror(rc));
}

Result<S3ObjectStore::Response> S3ObjectStore::execute(const Request& req) {
  thread_local std::mt19937_64 rng(std::random_device{}());
  bool unknown = false;
  for (int i = 1;; ++i) {
    auto r = attempt(req, unknown);
    bool retry = false;
    if (!r.ok()) {
      // Transport errors: timeouts, connection failures. Not our own limits.
      retry = r.code() == Errc::timeout || r.code() == Errc::unavailable;
    } else if (r->status >= 500 && r->status != 501) {
      retry = true;  // InternalError, SlowDown (503), gateway errors
    }
    if (!retry) return r;
    if (i >= opts_.max_attempts) {
      if (!r.ok()) {
        Errc code = unknown ? Errc::timeout : r.code();
        return Status(code, r.status().message() + " (after " + std::to_string(i) + " attempts)");
      }
      // A 503 was rejected before doing anything; other 5xx may not be.
      if (r->status != 503) unknown = unknown || req.mutating;
      return Status(unknown ? Errc::timeout : Errc::unavailable,
                    "s3: " + std::string(req.method) + " " + req.object + ": " + s3_error_detail(*r) +
                        " (after " + std::to_string(i) + " attempts)");
    }
    if (r.ok() && r->status != 503) unknown = unknown || req.mutating;
    // Exponential backoff with full jitter.
    auto cap = std::min<std::int64_t>(opts_.retry_max_delay.count(), opts_.retry_base_delay.count()
                                                                         << std::min(i - 1, 20));
    std::uniform_int_distribution<std::int64_t> dist(0, std::max<std::int64_t>(cap, 0));
    std::this_thread::sleep_for(std::chrono::milliseconds(dist(rng)));
  }
}

namespace {

// Maps a non-2xx S3 answer (4xx, or 501) to a Status.
Status s3_status(const S3ObjectStore::Response& r, const S3Location& loc, const CredentialsProvider& creds,
                 std::string_view what) {
  std::string detail = s3_error_detail(r);
  std::string code = s3::parse_error(r.body).code;
  std::string prefix = "s3: " + std::string(what) + ": ";
  if (r.status == 404 && code == "NoSuchBucket") {
    return Status(Errc::unavailable, prefix + "bucket '" + loc.bucket + "' does not exist at " +
                                         loc.endpoint + " (" + detail + ")");
  }
  if (r.status == 404) return Status(Errc::not_found, prefix + detail);
  if (r.status == 403) {
    std::string hint;
    if (code == "SignatureDoesNotMatch")
      hint = "the secret access key is wrong";
    else if (code == "InvalidAccessKeyId")
      hint = "the access key id is unknown";
    else if (code == "RequestTimeTooSkewed")
      hint = "the local clock is off";
    else if (code == "ExpiredToken" || code == "InvalidToken")
      hint = "the session token is expired or invalid";
    else
      hint = "the credentials are not allowed to access bucket '" + loc.bucket + "'";
    return Status(Errc::unavailable, prefix + "access denied (" + detail + "): " + hint +
                                         "; credentials from " + creds.describe());
  }
  if (r.status == 416)
    return Status(Errc::invalid_argument, prefix + "range not satisfiable (" + detail + ")");
  return Status(Errc::io_error, prefix + detail);
}

}  // namespace

Status S3ObjectStore::check_key(std::string_view key) const {
  if (!valid_key(key)) return Status(Errc::invalid_argument, "s3: invalid key '" + std::string(key) + "'");
  // S3 limits whole object keys, our prefix included, to 1024 bytes.
  if (loc_.prefix.size() + key.size() > 1024) {
    return Status(Errc::invalid_argument, "s3: key plus prefix '" + loc_.prefix + "' longer than 1024 bytes");
  }
  return Status::ok_status();
}

Status S3ObjectStore::put(std::string_view key, std::string_view data) {
  if (Status st = check_key(key); !st.ok()) return st;
  if (data.size() > kMaxObjectSize) return Status(Errc::limit_exceeded, "s3: object larger than 5 GiB");
  std::string object = loc_.prefix + std::string(key);
  if (data.size() > opts_.multipart_threshold) return put_multipart(object, data);
  Request req;
  req.method = "PUT";
  req.object = object;
  req.body = data;
  req.body_md5 = true;
  req.mutating = true;
  req.headers.push_back("Content-Type: application/octet-stream");
  auto r = execute(req);
  if (!r.ok()) return r.status();
  if (r->status / 100 != 2) return s3_status(*r, loc_, *opts_.credentials, "PUT " + object);
  return Status::ok_status();
}

Status S3ObjectStore::put_multipart(const std::string& object, std::string_view data) {
  const std::string what = "multipart PUT " + object;
  Request init;
  init.method = "POST";
  init.object = object;
  init.query["uploads"] = "";
  init.headers.push_back("Content-Type: application/octet-stream");
  auto r = execute(init);
  if (!r.ok()) return r.status();
  if (r->status / 100 != 2) return s3_status(*r, loc_, *opts_.credentials, what);
  auto upload_id = s3::parse_upload_id(r->body);
  if (!upload_id) return Status(Errc::io_error, "s3: " + what + ": no UploadId in answer");

  auto abort_upload = [&](Status why) {
    Request abort;
    abort.method = "DELETE";
    abort.object = object;
    abort.query["uploadId"] = *upload_id;
    (void)execute(abort);  // best effort; lifecycle rules clean up leftovers
    return why;
  };

  std::string complete = "<CompleteMultipartUpload>";
  int part = 0;
  for (std::uint64_t off = 0; off < data.size(); off += opts_.part_size) {
    ++part;
    Request put;
    put.method = "PUT";
    put.object = object;
    put.query["partNumber"] = std::to_string(part);
    put.query["uploadId"] = *upload_id;
    put.body = data.substr(off, opts_.part_size);
    put.body_md5 = true;
    put.mutating = true;
    put.headers.push_back("Content-Type: application/octet-stream");
    auto pr = execute(put);
    if (!pr.ok()) return abort_upload(pr.status());
    if (pr->status / 100 != 2) return abort_upload(s3_status(*pr, loc_, *opts_.credentials, what));
    if (pr->etag.empty()) return abort_upload(Status(Errc::io_error, "s3: " + what + ": part without ETag"));
    complete += "<Part><PartNumber>" + std::to_string(part) + "</PartNumber><ETag>" +
                aws::xml_escape(pr->etag) + "</ETag></Part>";
  }
  complete += "</CompleteMultipartUpload>";

  Request done;
  done.method = "POST";
  done.object = object;
  done.query["uploadId"] = *upload_id;
  done.body = complete;
  done.mutating = true;
  done.headers.push_back("Content-Type: application/xml");
  auto dr = execute(done);
  if (!dr.ok()) {
    // Timed out: the upload may have completed; aborting then is harmless
    // (S3 answers NoSuchUpload) and it is the safe side otherwise.
    return abort_upload(dr.status());
  }
  if (dr->status / 100 != 2) return abort_upload(s3_status(*dr, loc_, *opts_.credentials, what));
  // CompleteMultipartUpload can fail with 200 and an <Error> body.
  if (s3::parse_key_errors(dr->body).count != 0) {
    Response as_error = *dr;
    as_error.status = 500;
    return abort_upload(Status(Errc::io_error, "s3: " + what + ": " + s3_error_detail(as_error)));
  }
  return Status::ok_status();
}

Result<std::string> S3ObjectStore::get(std::string_view key, std::optional<ByteRange> range) {
  if (Status st = check_key(key); !st.ok()) return st;
  if (range && range->length == 0) return Status(Errc::invalid_argument, "s3: empty range");
  Request req;
  req.method = "GET";
  req.object = loc_.prefix + std::string(key);
  req.max_response = kMaxObjectSize;
  std::uint64_t want = kMaxObjectSize;
  if (range) {
    if (range->offset >= kMaxObjectSize) {
      return Status(Errc::invalid_argument, "s3: range starts past the end of " + req.object);
    }
    // Clamp without overflow; S3 clamps the end at the object's size.
    want = std::min(range->length, kMaxObjectSize);
    std::uint64_t last = range->offset + want - 1;
    req.headers.push_back("Range: bytes=" + std::to_string(range->offset) + "-" + std::to_string(last));
    req.max_response = want;
  }
  auto r = execute(req);
  if (!r.ok()) {
    // A server ignoring Range sends the whole object; allow that below.
    if (range && r.code() == Errc::limit_exceeded) {
      req.headers.clear();
      req.max_response = kMaxObjectSize;
      r = execute(req);
      if (!r.ok()) return r.status();
    } else {
      return r.status();
    }
  }
  if (r->status == 206) {
    if (r->body.size() > want) r->body.resize(static_cast<std::size_t>(want));
    return std::move(r->body);
  }
  if (r->status == 200) {
    if (!range) return std::move(r->body);
    // Range ignored (e.g. a zero-length object): cut it out ourselves.
    if (range->offset >= r->body.size()) {
      return Status(Errc::invalid_argument, "s3: range starts past the end of " + req.object);
    }
    return r->body.substr(static_cast<std::size_t>(range->offset), static_cast<std::size_t>(want));
  }
  if (r->status == 416)
    return Status(Errc::invalid_argument, "s3: range starts past the end of " + req.object);
  return s3_status(*r, loc_, *opts_.credentials, "GET " + req.object);
}

Result<std::vector<ObjectInfo>> S3ObjectStore::list(std::string_view prefix) {
  std::vector<ObjectInfo> out;
  const std::string full = loc_.prefix + std::string(prefix);
  std::string token;
  while (true) {
    Request req;
    req.method = "GET";
    req.query["list-type"] = "2";
    req.query["max-keys"] = std::to_string(opts_.list_page_size);
    req.query["prefix"] = full;
    if (!token.empty()) req.query["continuation-token"] = token;
    // A page of 1000 keys of <= 1 KiB each plus markup fits easily.
    req.max_response = 16 << 20;
    auto r = execute(req);
    if (!r.ok()) return r.status();
    if (r->status != 200) return s3_status(*r, loc_, *opts_.credentials, "LIST " + full);
    // S3 sends at most max-keys entries (and never more than 1000).
    auto page = s3::parse_list_page(r->body, std::max<std::size_t>(opts_.list_page_size, 1000));
    if (!page.ok()) return Status(Errc::io_error, "s3: LIST " + full + ": " + page.status().message());
    for (s3::ListEntry& e : page->entries) {
      if (e.key.rfind(loc_.prefix, 0) != 0) continue;
      std::string rel = e.key.substr(loc_.prefix.size());
      if (!valid_key(rel)) continue;  // foreign objects: not ours
      if (out.size() >= kMaxListResults) {
        return Status(Errc::limit_exceeded, "s3: LIST " + full + ": more than 1,000,000 objects");
      }
      out.push_back(ObjectInfo{std::move(rel), e.size});
    }
    if (!page->truncated) break;
    if (page->next_token.empty() || page->next_token == token) {
      return Status(Errc::io_error, "s3: LIST " + full + ": truncated page without a new continuation token");
    }
    token = std::move(page->next_token);
  }
  std::sort(out.begin(), out.end(), [](const ObjectInfo& a, const ObjectInfo& b) { return a.key < b.key; });
  return out;
}

Status S3ObjectStore::remove(std::string_view key) {
  if (Status st = check_key(key); !st.ok()) return st;
  Request req;
  req.method = "DELETE";
  req.object = loc_.prefix + std::string(key);
  req.mutating = true;
  auto r = execute(req);
  if (!r.ok()) return r.status();
  if (r->status / 100 == 2) return Status::ok_status();
  Status st = s3_status(*r, loc_, *opts_.credentials, "DELETE " + req.object);
  return st.code() == Errc::not_found ? Status::ok_status() : st;
}

Status S3ObjectStore::remove_many(const std::vector<std::string>& keys) {
  constexpr std::size_t kBatch = 1000;  // S3's DeleteObjects maximum
  for (const std::string& k : keys) {
    if (Status st = check_key(k); !st.ok()) return st;
  }
  for (std::size_t start = 0; start < keys.size(); start += kBatch) {
    std::string body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Delete><Quiet>true</Quiet>";
    for (std::size_t i = start; i < std::min(keys.size(), start + kBatch); ++i) {
      body += "<Object><Key>" + aws::xml_escape(loc_.prefix + keys[i]) + "</Key></Object>";
    }
    body += "</Delete>";
    Request req;
    req.method = "POST";
    req.query["delete"] = "";
    req.body = body;
    req.body_md5 = true;
    req.mutating = true;
    req.max_response = 1 << 20;  // room for up to 1000 per-key errors
    req.headers.push_back("Content-Type: application/xml");
    auto r = execute(req);
    if (!r.ok()) return r.status();
    if (r->status / 100 != 2) return s3_status(*r, loc_, *opts_.credentials, "multi-object DELETE");
    // Quiet mode lists only failures.
    s3::KeyErrors errors = s3::parse_key_errors(r->body);
    if (errors.first) {
      return Status(Errc::io_error, "s3: multi-object DELETE: " + std::to_string(errors.count) +
                                        " keys failed, first " + errors.first->key + ": " +
                                        errors.first->code);
    }
  }
  return Status::ok_status();
}

Status S3ObjectStore::check_access() {
  Request req;
  req.method = "GET";
  req.query["list-type"] = "2";
  req.query["max-keys"] = "1";
  req.query["prefix"] = loc_.prefix;
  auto r = execute(req);
  if (!r.ok()) return r.status();
  if (r->status != 200)
    return s3_status(*r, loc_, *opts_.credentials, "checking bucket '" + loc_.bucket + "'");
  return Status::ok_status();
}

Status S3ObjectStore::create_bucket() {
  std::string body;
  if (loc_.region != "us-east-1") {
    body = "<CreateBucketConfiguration><LocationConstraint>" + loc_.region +
           "</LocationConstraint></CreateBucketConfiguration>";
  }
  Request req;
  req.method = "PUT";
  req.body = body;
  req.mutating = true;
  req.headers.push_back("Content-Type: application/xml");
  auto r = execute(req);
  if (!r.ok()) return r.status();
  if (r->status / 100 == 2) return Status::ok_status();
  if (s3::parse_error(r->body).code == "BucketAlreadyOwnedByYou") return Status::ok_status();
  if (r->status == 409) {
    return Status(Errc::already_exists, "s3: bucket '" + loc_.bucket + "': " + s3_error_detail(*r));
  }
  return s3_status(*r, loc_, *opts_.credentials, "creating bucket '" + loc_.bucket + "'");
}

Status S3ObjectStore::delete_bucket() {
  Request req;
  req.method = "DELETE";
  req.mutating = true;
  auto r = execute(req);
  if (!r.ok()) return r.status();
  if (r->status / 100 == 2) return Status::ok_status();
  return s3_status(*r, loc_, *opts_.credentials, "deleting bucket '" + loc_.bucket + "'");
}

}  // namespace ks::objstore
