#include "metastore/wal.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/binary.h"
#include "common/crc32c.h"

namespace ks::metastore::internal {

namespace {

struct Header {
  std::uint32_t len = 0;
  std::uint32_t crc = 0;
};

// True if a complete frame with a matching CRC starts at `off`.
bool frame_at(std::string_view data, std::size_t off, Header* h) {
  if (data.size() - off < kFrameHeaderBytes) return false;
  BinReader r(data.substr(off, kFrameHeaderBytes));
  h->len = r.get<std::uint32_t>();
  h->crc = r.get<std::uint32_t>();
  if (h->len == 0 || h->len > data.size() - off - kFrameHeaderBytes) return false;
  return crc32c(data.substr(off + kFrameHeaderBytes, h->len)) == h->crc;
}

}  // namespace

std::string frame(std::string_view payload) {
  std::string out;
  out.reserve(kFrameHeaderBytes + payload.size());
  BinWriter w(out);
  w.put<std::uint32_t>(static_cast<std::uint32_t>(payload.size()));
  w.put<std::uint32_t>(crc32c(payload));
  w.bytes(payload);
  return out;
}

FrameScan scan_frames(std::string_view data) {
  FrameScan scan;
  std::size_t off = 0;
  Header h;
  while (off < data.size()) {
    if (!frame_at(data, off, &h)) {
      // A CRC mismatch on a frame whose length fits, followed by a valid
      // frame, is damage in the middle; anything else is a torn tail.
      if (data.size() - off >= kFrameHeaderBytes) {
        BinReader r(data.substr(off, 4));
        std::uint64_t len = r.get<std::uint32_t>();
        std::uint64_t next = off + kFrameHeaderBytes + len;
        Header nh;
        if (len > 0 && next < data.size() && frame_at(data, next, &nh)) scan.corrupt_middle = true;
      }
      break;
    }
    scan.payloads.push_back(data.substr(off + kFrameHeaderBytes, h.len));
    off += kFrameHeaderBytes + h.len;
  }
  scan.valid_bytes = off;
  return scan;
}

Status errno_status(int err, const std::string& what) {
  Errc code = (err == ENOSPC || err == EDQUOT) ? Errc::nospace : Errc::io_error;
  return Status(code, what + ": " + std::strerror(err));
}

Result<std::string> read_whole_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return Status(Errc::not_found, path + " does not exist");
    return errno_status(errno, "open " + path);
  }
  std::string out;
  char buf[1 << 16];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return errno_status(err, "read " + path);
    }
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return out;
}

Status write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_status(errno, "write");
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

Status fsync_dir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno_status(errno, "open dir " + dir);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return errno_status(err, "fsync dir " + dir);
  return {};
}

}  // namespace ks::metastore::internal
