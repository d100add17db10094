// Framing and file helpers for the embedded store's log and snapshot.
//
// A frame is: u32 payload length, u32 CRC32C of the payload, payload. The log
// is a sequence of frames appended by one writer and fsynced before a write is
// acknowledged, so after a crash only its last frame can be incomplete.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace ks::metastore::internal {

inline constexpr std::size_t kFrameHeaderBytes = 8;

std::string frame(std::string_view payload);

struct FrameScan {
  std::vector<std::string_view> payloads;  // the valid prefix, in order
  std::size_t valid_bytes = 0;             // length of that prefix
  // A bad frame is followed by a valid one: not a torn tail but damage in the
  // middle, which must not be silently truncated.
  bool corrupt_middle = false;
};

// Parses frames until the end of `data` or the first bad frame (short, zero
// length, length past the end, or CRC mismatch).
FrameScan scan_frames(std::string_view data);

// not_found if the file does not exist.
Result<std::string> read_whole_file(const std::string& path);
Status write_all(int fd, std::string_view data);
Status fsync_dir(const std::string& dir);
// Errno to Status: ENOSPC/EDQUOT -> nospace, anything else -> io_error.
Status errno_status(int err, const std::string& what);

}  // namespace ks::metastore::internal
