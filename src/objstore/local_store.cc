#include "objstore/local_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <utility>

namespace ks::objstore {

namespace {

constexpr const char* kTmpDir = ".tmp";

Status errno_status(int err, std::string_view what, std::string_view path) {
  Errc code = (err == ENOSPC || err == EDQUOT) ? Errc::nospace : Errc::io_error;
  std::string msg(what);
  msg += " ";
  msg += path;
  msg += ": ";
  msg += std::error_code(err, std::generic_category()).message();
  return Status(code, std::move(msg));
}

Status conflict_status(std::string_view key) {
  return Status(Errc::invalid_argument,
                "key " + std::string(key) + " conflicts with an object/directory in the local store");
}

bool in_tmp_dir(std::string_view key) { return key == kTmpDir || key.starts_with(".tmp/"); }

std::string parent_of(std::string_view path) {
  std::size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? std::string() : std::string(path.substr(0, slash));
}

Status write_all(int fd, std::string_view data, std::string_view path) {
  // Linux writes at most ~2 GiB per call; loop on short writes.
  constexpr std::size_t kChunk = 1 << 30;
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), std::min(data.size(), kChunk));
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_status(errno, "write", path);
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

// Direct I/O: objects are written once and read rarely (the broker caches
// what it reads), so the page-cache copy of a buffered write is wasted work
// that cost more CPU than the rest of the produce path together. Writes go
// through a small aligned buffer (reused per thread) straight to the device.
constexpr std::size_t kDirectAlign = 4096;                  // covers 512 B and 4 KiB logical blocks
constexpr std::size_t kBounceBytes = std::size_t{4} << 20;  // one device request per 4 MiB object

char* bounce_buffer() {
  struct Buffer {
    char* p = nullptr;
    Buffer() {
      void* v = nullptr;
      if (::posix_memalign(&v, kDirectAlign, kBounceBytes) == 0) p = static_cast<char*>(v);
    }
    ~Buffer() { std::free(p); }
  };
  // One per backend thread that PUTs: the pool is small and fixed.
  static thread_local Buffer b;
  return b.p;
}

enum class Direct { written, unsupported };

// Writes `data` at offset 0 of the empty file `fd` with O_DIRECT. Returns
// unsupported (file left empty, O_DIRECT cleared) when the file system
// refuses direct I/O, so the caller writes normally; errors in `st`.
Direct write_direct(int fd, std::string_view data, std::string_view path, Status& st) {
  char* buf = bounce_buffer();
  const int flags = ::fcntl(fd, F_GETFL);
  if (buf == nullptr || flags < 0 || ::fcntl(fd, F_SETFL, flags | O_DIRECT) != 0) return Direct::unsupported;
  auto unsupported = [&] {
    ::fcntl(fd, F_SETFL, flags);
    if (::ftruncate(fd, 0) != 0) st = errno_status(errno, "truncate", path);
    return Direct::unsupported;
  };
  // Aligned callers' memory (the log's object buffers) goes to the device as
  // is; only what is left after the last whole block goes through the bounce
  // buffer.
  const bool aligned = reinterpret_cast<std::uintptr_t>(data.data()) % kDirectAlign == 0;
  std::size_t off = 0;
  while (off < data.size()) {
    std::size_t n = std::min(kBounceBytes, data.size() - off);
    const char* src = buf;
    std::size_t padded = n;
    if (aligned && n >= kDirectAlign) {
      n = n / kDirectAlign * kDirectAlign;
      padded = n;
      src = data.data() + off;
    } else {
      std::memcpy(buf, data.data() + off, n);
      padded = (n + kDirectAlign - 1) / kDirectAlign * kDirectAlign;
      std::memset(buf + n, 0, padded - n);  // the tail is cut off by ftruncate below
    }
    std::size_t done = 0;
    while (done < padded) {
      ssize_t w = ::pwrite(fd, src + done, padded - done, static_cast<off_t>(off + done));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0 && errno == EINVAL && off == 0 && done == 0) return unsupported();
      if (w < 0) {
        st = errno_status(errno, "write", path);
        return Direct::written;
      }
      if (w == 0 || static_cast<std::size_t>(w) % kDirectAlign != 0) {
        st = Status(Errc::io_error, "short direct write to " + std::string(path));
        return Direct::written;
      }
      done += static_cast<std::size_t>(w);
    }
    off += n;
  }
  if (data.size() % kDirectAlign != 0 && ::ftruncate(fd, static_cast<off_t>(data.size())) != 0)
    st = errno_status(errno, "truncate", path);
  return Direct::written;
}

Status fsync_path(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno_status(errno, "open", dir);
  Status st;
  if (::fsync(fd) != 0) st = errno_status(errno, "fsync", dir);
  ::close(fd);
  return st;
}

// mkdir -p for the store root; fsyncs the parent of every directory it creates.
Status make_root(const std::string& root) {
  std::size_t pos = 1;  // root is absolute; skip the leading '/'
  while (pos <= root.size()) {
    std::size_t slash = root.find('/', pos);
    if (slash == std::string::npos) slash = root.size();
    std::string dir = root.substr(0, slash);
    if (::mkdir(dir.c_str(), 0755) == 0) {
      std::string parent = parent_of(dir);
      Status st = fsync_path(parent.empty() ? "/" : parent);
      if (!st.ok()) return st;
    } else if (errno != EEXIST) {
      return errno_status(errno, "mkdir", dir);
    }
    pos = slash + 1;
  }
  return {};
}

struct DirCloser {
  void operator()(DIR* d) const { ::closedir(d); }
};
using DirPtr = std::unique_ptr<DIR, DirCloser>;

// Deletes every entry of root/.tmp (temp files of puts interrupted by a crash).
Status clean_tmp(int tmp_fd, const std::string& tmp_path) {
  // A fresh open file description: a dup() would share (and advance) the
  // directory offset of tmp_fd.
  int fd = ::openat(tmp_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno_status(errno, "open", tmp_path);
  DirPtr d(::fdopendir(fd));
  if (!d) {
    int err = errno;
    ::close(fd);
    return errno_status(err, "opendir", tmp_path);
  }
  while (true) {
    errno = 0;
    dirent* e = ::readdir(d.get());
    if (e == nullptr) {
      if (errno != 0) return errno_status(errno, "readdir", tmp_path);
      break;
    }
    std::string_view name = e->d_name;
    if (name == "." || name == "..") continue;
    if (::unlinkat(tmp_fd, e->d_name, 0) != 0 && errno != ENOENT) {
      return errno_status(errno, "unlink", tmp_path + "/" + std::string(name));
    }
  }
  if (::fsync(tmp_fd) != 0) return errno_status(errno, "fsync", tmp_path);
  return {};
}

}  // namespace

Result<std::unique_ptr<LocalObjectStore>> LocalObjectStore::open(std::string root) {
  if (root.empty()) return Status(Errc::invalid_argument, "empty local store root");
  std::error_code ec;
  std::filesystem::path abs = std::filesystem::absolute(root, ec);
  if (ec) return Status(Errc::io_error, "absolute path of " + root + ": " + ec.message());
  std::string path = abs.lexically_normal().string();
  while (path.size() > 1 && path.back() == '/') path.pop_back();

  Status st = make_root(path);
  if (!st.ok()) return st;
  int root_fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (root_fd < 0) return errno_status(errno, "open", path);
  std::string tmp_path = path + "/" + kTmpDir;
  if (::mkdirat(root_fd, kTmpDir, 0755) != 0 && errno != EEXIST) {
    int err = errno;
    ::close(root_fd);
    return errno_status(err, "mkdir", tmp_path);
  }
  int tmp_fd = ::openat(root_fd, kTmpDir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (tmp_fd < 0) {
    int err = errno;
    ::close(root_fd);
    return errno_status(err, "open", tmp_path);
  }
  // From here the store owns both descriptors.
  std::unique_ptr<LocalObjectStore> store(new LocalObjectStore(path, root_fd, tmp_fd));
  st = clean_tmp(tmp_fd, tmp_path);
  if (!st.ok()) return st;
  return store;
}

LocalObjectStore::LocalObjectStore(std::string root, int root_fd, int tmp_fd)
    : root_(std::move(root)), root_fd_(root_fd), tmp_fd_(tmp_fd) {}

LocalObjectStore::~LocalObjectStore() {
  ::close(tmp_fd_);
  ::close(root_fd_);
}

std::string LocalObjectStore::describe() const { return "file://" + root_; }

Status LocalObjectStore::fsync_dir(std::string_view dir) {
  if (dir.empty()) {
    if (::fsync(root_fd_) != 0) return errno_status(errno, "fsync", root_);
    return {};
  }
  std::string d(dir);
  int fd = ::openat(root_fd_, d.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno_status(errno, "open", root_ + "/" + d);
  Status st;
  if (::fsync(fd) != 0) st = errno_status(errno, "fsync", root_ + "/" + d);
  ::close(fd);
  return st;
}

void LocalObjectStore::forget_dirs() {
  std::lock_guard<std::mutex> lock(dirs_mu_);
  known_dirs_.clear();
}

// Creates the parent directories of `key`. A directory counts as done only
// after its entry in its parent is fsynced, whoever created it: a concurrent
// put that merely saw EEXIST must not rename into a directory whose own entry
// could still vanish in a power loss.
Status LocalObjectStore::ensure_parent_dirs(std::string_view key) {
  for (std::size_t slash = key.find('/'); slash != std::string_view::npos; slash = key.find('/', slash + 1)) {
    std::string dir(key.substr(0, slash));
    {
      std::lock_guard<std::mutex> lock(dirs_mu_);
      if (known_dirs_.contains(dir)) continue;
    }
    if (::mkdirat(root_fd_, dir.c_str(), 0755) != 0) {
      if (errno == ENOTDIR) return conflict_status(key);
      if (errno != EEXIST) return errno_status(errno, "mkdir", root_ + "/" + dir);
      struct stat st;
      if (::fstatat(root_fd_, dir.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        return errno_status(errno, "stat", root_ + "/" + dir);
      }
      if (!S_ISDIR(st.st_mode)) return conflict_status(key);
    }
    Status st = fsync_dir(parent_of(dir));
    if (!st.ok()) return st;
    std::lock_guard<std::mutex> lock(dirs_mu_);
    if (known_dirs_.size() >= kMaxKnownDirs) known_dirs_.clear();
    known_dirs_.insert(std::move(dir));
  }
  return {};
}

Status LocalObjectStore::put(std::string_view key, std::string_view data) {
  if (!valid_key(key) || in_tmp_dir(key)) {
    return Status(Errc::invalid_argument, "invalid object key: " + std::string(key.substr(0, 64)));
  }
  if (data.size() > kMaxObjectSize) return Status(Errc::limit_exceeded, "object larger than 5 GiB");

  // Unique temp name: pid (distinct processes) + a process-wide counter
  // (distinct instances and threads). O_EXCL guards against anything else.
  static std::atomic<std::uint64_t> counter{0};
  std::string tmp_name;
  int fd = -1;
  for (int attempt = 0; attempt < 3 && fd < 0; ++attempt) {
    tmp_name = std::to_string(::getpid()) + "." + std::to_string(counter.fetch_add(1));
    fd = ::openat(tmp_fd_, tmp_name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0 && errno != EEXIST) break;
  }
  std::string tmp_path = root_ + "/" + kTmpDir + "/" + tmp_name;
  if (fd < 0) return errno_status(errno, "create", tmp_path);

  Status st;
  if (data.empty() || write_direct(fd, data, tmp_path, st) == Direct::unsupported) {
    if (st.ok()) st = write_all(fd, data, tmp_path);
  }
  if (st.ok() && ::fsync(fd) != 0) st = errno_status(errno, "fsync", tmp_path);
  if (::close(fd) != 0 && st.ok()) st = errno_status(errno, "close", tmp_path);
  if (st.ok()) st = ensure_parent_dirs(key);
  if (st.ok()) {
    std::string target(key);
    int rc = ::renameat(tmp_fd_, tmp_name.c_str(), root_fd_, target.c_str());
    if (rc != 0 && errno == ENOENT) {
      // A parent directory vanished behind our cache's back; rebuild and retry once.
      forget_dirs();
      st = ensure_parent_dirs(key);
      if (st.ok()) rc = ::renameat(tmp_fd_, tmp_name.c_str(), root_fd_, target.c_str());
    }
    if (st.ok() && rc != 0) {
      if (errno == EISDIR || errno == ENOTDIR || errno == ENOTEMPTY || errno == EEXIST) {
        st = conflict_status(key);
      } else {
        st = errno_status(errno, "rename", root_ + "/" + target);
      }
    }
    if (st.ok()) return fsync_dir(parent_of(key));
  }
  ::unlinkat(tmp_fd_, tmp_name.c_str(), 0);
  return st;
}

Result<std::string> LocalObjectStore::get(std::string_view key, std::optional<ByteRange> range) {
  if (!valid_key(key) || in_tmp_dir(key)) {
    return Status(Errc::invalid_argument, "invalid object key: " + std::string(key.substr(0, 64)));
  }
  std::string path(key);
  int fd = ::openat(root_fd_, path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP) return Status(Errc::not_found, path);
    return errno_status(errno, "open", root_ + "/" + path);
  }
  struct FdCloser {
    int fd;
    ~FdCloser() { ::close(fd); }
  } closer{fd};
  struct stat sb;
  if (::fstat(fd, &sb) != 0) return errno_status(errno, "stat", root_ + "/" + path);
  if (!S_ISREG(sb.st_mode)) return Status(Errc::not_found, path);
  std::uint64_t size = static_cast<std::uint64_t>(sb.st_size);

  std::uint64_t offset = 0;
  std::uint64_t length = size;
  if (range) {
    if (range->length == 0) return Status(Errc::invalid_argument, "empty byte range");
    if (range->offset >= size) {
      return Status(Errc::invalid_argument, "range offset " + std::to_string(range->offset) +
                                                " at or past object size " + std::to_string(size));
    }
    offset = range->offset;
    length = std::min(range->length, size - offset);
  }
  if (length > kMaxObjectSize) return Status(Errc::limit_exceeded, "read larger than 5 GiB");

  std::string buf(length, '\0');
  std::uint64_t done = 0;
  while (done < length) {
    ssize_t n = ::pread(fd, buf.data() + done, length - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_status(errno, "read", root_ + "/" + path);
    }
    if (n == 0) return Status(Errc::io_error, "short read of " + root_ + "/" + path);
    done += static_cast<std::uint64_t>(n);
  }
  return buf;
}

Status LocalObjectStore::list_dir(int dir_fd, std::string rel, std::string_view prefix,
                                  std::vector<ObjectInfo>& out) {
  DirPtr d(::fdopendir(dir_fd));
  if (!d) {
    int err = errno;
    ::close(dir_fd);
    return errno_status(err, "opendir", root_ + "/" + rel);
  }
  while (true) {
    errno = 0;
    dirent* e = ::readdir(d.get());
    if (e == nullptr) {
      if (errno != 0) return errno_status(errno, "readdir", root_ + "/" + rel);
      return {};
    }
    std::string_view name = e->d_name;
    if (name == "." || name == "..") continue;
    if (rel.empty() && name == kTmpDir) continue;
    std::string full = rel + std::string(name);
    if (!valid_key(full)) continue;  // not one of ours
    struct stat sb;
    if (::fstatat(::dirfd(d.get()), e->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT) continue;  // removed concurrently
      return errno_status(errno, "stat", root_ + "/" + full);
    }
    if (S_ISDIR(sb.st_mode)) {
      std::string sub = full + "/";
      if (!sub.starts_with(prefix) && !prefix.starts_with(sub)) continue;
      int child = ::openat(::dirfd(d.get()), e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
      if (child < 0) {
        if (errno == ENOENT) continue;
        return errno_status(errno, "open", root_ + "/" + full);
      }
      Status st = list_dir(child, std::move(sub), prefix, out);
      if (!st.ok()) return st;
    } else if (S_ISREG(sb.st_mode) && full.starts_with(prefix)) {
      if (out.size() >= kMaxListResults) {
        return Status(Errc::limit_exceeded, "more than " + std::to_string(kMaxListResults) + " objects");
      }
      out.push_back({std::move(full), static_cast<std::uint64_t>(sb.st_size)});
    }
  }
}

Result<std::vector<ObjectInfo>> LocalObjectStore::list(std::string_view prefix) {
  std::vector<ObjectInfo> out;
  // Walk only the directory named by the prefix's complete segments. If they
  // cannot be part of a valid key, nothing can match.
  std::size_t slash = prefix.rfind('/');
  std::string dir = slash == std::string_view::npos ? std::string() : std::string(prefix.substr(0, slash));
  if (!dir.empty() && (!valid_key(dir) || in_tmp_dir(dir))) return out;
  if (slash == 0) return out;  // leading '/'
  // Always a fresh open: a dup() of root_fd_ would share its directory offset
  // across concurrent lists.
  int fd =
      ::openat(root_fd_, dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP) return out;
    return errno_status(errno, "open", root_ + "/" + dir);
  }
  Status st = list_dir(fd, dir.empty() ? std::string() : dir + "/", prefix, out);
  if (!st.ok()) return st;
  std::sort(out.begin(), out.end(), [](const ObjectInfo& a, const ObjectInfo& b) { return a.key < b.key; });
  return out;
}

Status LocalObjectStore::remove(std::string_view key) {
  if (!valid_key(key) || in_tmp_dir(key)) {
    return Status(Errc::invalid_argument, "invalid object key: " + std::string(key.substr(0, 64)));
  }
  // Deletes are not fsynced: the interface promises durability for puts only,
  // and an object that reappears after power loss is garbage deleted again.
  // Empty parent directories stay (removing them would race with puts).
  std::string path(key);
  if (::unlinkat(root_fd_, path.c_str(), 0) == 0) return {};
  int err = errno;
  if (err == ENOENT || err == ENOTDIR) return {};
  if (err == EISDIR || err == EPERM) {
    struct stat sb;
    if (::fstatat(root_fd_, path.c_str(), &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(sb.st_mode)) return {};
  }
  return errno_status(err, "unlink", root_ + "/" + path);
}

}  // namespace ks::objstore
