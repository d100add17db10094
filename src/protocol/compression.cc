#include "protocol/compression.h"

#include <lz4frame.h>
#include <snappy.h>
#include <zlib.h>
#include <zstd.h>

#include <cstring>
#include <memory>

#include "common/assert.h"

namespace ks::protocol {
namespace {

constexpr std::size_t kChunk = 64 * 1024;  // output grows by this much at a time
constexpr char kXerialMagic[8] = {'\x82', 'S', 'N', 'A', 'P', 'P', 'Y', '\0'};
constexpr std::size_t kXerialHeader = 16;        // magic + version + compatible version
constexpr std::size_t kXerialBlock = 32 * 1024;  // Kafka's Java client writes 32 KiB blocks

std::uint32_t load_be32(const char* p) {
  return (static_cast<std::uint32_t>(static_cast<unsigned char>(p[0])) << 24) |
         (static_cast<std::uint32_t>(static_cast<unsigned char>(p[1])) << 16) |
         (static_cast<std::uint32_t>(static_cast<unsigned char>(p[2])) << 8) |
         static_cast<std::uint32_t>(static_cast<unsigned char>(p[3]));
}

void append_be32(std::string& out, std::uint32_t v) {
  char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
               static_cast<char>(v)};
  out.append(b, 4);
}

std::string too_large(std::size_t max_out) {
  return "decompressed records exceed " + std::to_string(max_out) + " bytes";
}

std::optional<std::string> gunzip(std::string_view in, std::size_t max_out, std::string& error) {
  z_stream z{};
  if (inflateInit2(&z, 15 + 32) != Z_OK) {  // +32: gzip or zlib header, detected
    error = "gzip: cannot initialise zlib";
    return std::nullopt;
  }
  std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&z, inflateEnd);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  std::string out;
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    if (out.size() >= max_out) {
      error = too_large(max_out);
      return std::nullopt;
    }
    const std::size_t have = out.size();
    out.resize(std::min(max_out, have + kChunk));
    z.next_out = reinterpret_cast<Bytef*>(out.data() + have);
    z.avail_out = static_cast<uInt>(out.size() - have);
    rc = inflate(&z, Z_NO_FLUSH);
    out.resize(out.size() - z.avail_out);
    if (rc == Z_BUF_ERROR && z.avail_in == 0) {
      error = "gzip: truncated stream";
      return std::nullopt;
    }
    if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
      error = std::string("gzip: ") + (z.msg ? z.msg : "corrupt stream");
      return std::nullopt;
    }
  }
  return out;
}

std::optional<std::string> gzip(std::string_view in, std::string& error) {
  z_stream z{};
  if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    error = "gzip: cannot initialise zlib";
    return std::nullopt;
  }
  std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&z, deflateEnd);
  std::string out(deflateBound(&z, static_cast<uLong>(in.size())) + 32, '\0');  // +32: the gzip wrapper
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  if (deflate(&z, Z_FINISH) != Z_STREAM_END) {
    error = "gzip: deflate did not finish";
    return std::nullopt;
  }
  out.resize(z.total_out);
  return out;
}

bool snappy_block(std::string_view block, std::size_t max_out, std::string& out, std::string& error) {
  std::size_t n = 0;
  if (!snappy::GetUncompressedLength(block.data(), block.size(), &n)) {
    error = "snappy: corrupt block";
    return false;
  }
  if (n > max_out - out.size()) {
    error = too_large(max_out);
    return false;
  }
  const std::size_t have = out.size();
  out.resize(have + n);
  if (!snappy::RawUncompress(block.data(), block.size(), out.data() + have)) {
    error = "snappy: corrupt block";
    return false;
  }
  return true;
}

std::optional<std::string> unsnappy(std::string_view in, std::size_t max_out, std::string& error) {
  std::string out;
  if (in.size() < kXerialHeader || std::memcmp(in.data(), kXerialMagic, sizeof kXerialMagic) != 0) {
    if (!snappy_block(in, max_out, out, error)) return std::nullopt;
    return out;
  }
  std::size_t pos = kXerialHeader;
  while (pos < in.size()) {
    if (in.size() - pos < 4) {
      error = "snappy: truncated xerial block length";
      return std::nullopt;
    }
    const std::size_t len = load_be32(in.data() + pos);
    pos += 4;
    if (len > in.size() - pos) {
      error = "snappy: xerial block longer than the payload";
      return std::nullopt;
    }
    if (!snappy_block(in.substr(pos, len), max_out, out, error)) return std::nullopt;
    pos += len;
  }
  return out;
}

std::string snappy_xerial(std::string_view in) {
  std::string out(kXerialMagic, sizeof kXerialMagic);
  append_be32(out, 1);  // version
  append_be32(out, 1);  // minimum compatible version
  std::string block;
  for (std::size_t pos = 0; pos < in.size(); pos += kXerialBlock) {
    block.clear();
    snappy::Compress(in.data() + pos, std::min(kXerialBlock, in.size() - pos), &block);
    append_be32(out, static_cast<std::uint32_t>(block.size()));
    out += block;
  }
  return out;
}

std::optional<std::string> unlz4(std::string_view in, std::size_t max_out, std::string& error) {
  LZ4F_dctx* dctx = nullptr;
  if (LZ4F_isError(LZ4F_createDecompressionContext(&dctx, LZ4F_VERSION))) {
    error = "lz4: cannot create a decompression context";
    return std::nullopt;
  }
  std::unique_ptr<LZ4F_dctx, LZ4F_errorCode_t (*)(LZ4F_dctx*)> guard(dctx, LZ4F_freeDecompressionContext);
  std::string out;
  std::size_t pos = 0;
  std::size_t hint = 1;
  while (hint != 0) {
    if (pos >= in.size()) {
      error = "lz4: truncated frame";
      return std::nullopt;
    }
    if (out.size() >= max_out) {
      error = too_large(max_out);
      return std::nullopt;
    }
    const std::size_t have = out.size();
    out.resize(std::min(max_out, have + kChunk));
    std::size_t out_n = out.size() - have;
    std::size_t in_n = in.size() - pos;
    hint = LZ4F_decompress(dctx, out.data() + have, &out_n, in.data() + pos, &in_n, nullptr);
    out.resize(have + out_n);
    pos += in_n;
    if (LZ4F_isError(hint)) {
      error = std::string("lz4: ") + LZ4F_getErrorName(hint);
      return std::nullopt;
    }
  }
  return out;
}

std::optional<std::string> lz4(std::string_view in, std::string& error) {
  LZ4F_preferences_t prefs{};
  prefs.frameInfo.blockSizeID = LZ4F_max64KB;  // as Kafka's Java client
  std::string out(LZ4F_compressFrameBound(in.size(), &prefs), '\0');
  const std::size_t n = LZ4F_compressFrame(out.data(), out.size(), in.data(), in.size(), &prefs);
  if (LZ4F_isError(n)) {
    error = std::string("lz4: ") + LZ4F_getErrorName(n);
    return std::nullopt;
  }
  out.resize(n);
  return out;
}

std::optional<std::string> unzstd(std::string_view in, std::size_t max_out, std::string& error) {
  std::unique_ptr<ZSTD_DCtx, std::size_t (*)(ZSTD_DCtx*)> dctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
  if (!dctx) {
    error = "zstd: cannot create a decompression context";
    return std::nullopt;
  }
  ZSTD_inBuffer src{in.data(), in.size(), 0};
  std::string out;
  std::size_t rc = 1;
  while (rc != 0) {
    if (out.size() >= max_out) {
      error = too_large(max_out);
      return std::nullopt;
    }
    const std::size_t have = out.size();
    out.resize(std::min(max_out, have + kChunk));
    ZSTD_outBuffer dst{out.data() + have, out.size() - have, 0};
    rc = ZSTD_decompressStream(dctx.get(), &dst, &src);
    out.resize(have + dst.pos);
    if (ZSTD_isError(rc)) {
      error = std::string("zstd: ") + ZSTD_getErrorName(rc);
      return std::nullopt;
    }
    if (rc != 0 && src.pos == src.size && dst.pos < dst.size) {
      error = "zstd: truncated frame";
      return std::nullopt;
    }
  }
  return out;
}

std::optional<std::string> zstd(std::string_view in, std::string& error) {
  std::string out(ZSTD_compressBound(in.size()), '\0');
  const std::size_t n = ZSTD_compress(out.data(), out.size(), in.data(), in.size(), ZSTD_CLEVEL_DEFAULT);
  if (ZSTD_isError(n)) {
    error = std::string("zstd: ") + ZSTD_getErrorName(n);
    return std::nullopt;
  }
  out.resize(n);
  return out;
}

void store_be32(char* p, std::uint32_t v) {
  p[0] = static_cast<char>(v >> 24);
  p[1] = static_cast<char>(v >> 16);
  p[2] = static_cast<char>(v >> 8);
  p[3] = static_cast<char>(v);
}

// Header bytes of `batch` followed by `records`, with the codec bits set to
// `codec`, batchLength fixed and the CRC recomputed.
std::string rebuild(std::string_view batch, int codec, std::string_view records) {
  std::string out;
  out.reserve(kBatchHeaderSize + records.size());
  out.append(batch.substr(0, kBatchHeaderSize));
  out.append(records);
  store_be32(out.data() + kBatchLogOverhead - 4, static_cast<std::uint32_t>(out.size() - kBatchLogOverhead));
  const auto attrs = static_cast<std::uint16_t>(
      (static_cast<unsigned char>(out[21]) << 8 | static_cast<unsigned char>(out[22])) &
      ~kAttrCompressionMask);
  const auto with_codec = static_cast<std::uint16_t>(attrs | static_cast<std::uint16_t>(codec));
  out[21] = static_cast<char>(with_codec >> 8);
  out[22] = static_cast<char>(with_codec & 0xFF);
  update_batch_crc(out.data(), out.size());
  return out;
}

}  // namespace

const char* codec_name(int codec) {
  switch (codec) {
    case kCompressionNone:
      return "none";
    case kCompressionGzip:
      return "gzip";
    case kCompressionSnappy:
      return "snappy";
    case kCompressionLz4:
      return "lz4";
    case kCompressionZstd:
      return "zstd";
    default:
      return "unknown";
  }
}

std::optional<std::string> decompress(int codec, std::string_view in, std::size_t max_out,
                                      std::string& error) {
  switch (codec) {
    case kCompressionNone:
      if (in.size() > max_out) {
        error = too_large(max_out);
        return std::nullopt;
      }
      return std::string(in);
    case kCompressionGzip:
      return gunzip(in, max_out, error);
    case kCompressionSnappy:
      return unsnappy(in, max_out, error);
    case kCompressionLz4:
      return unlz4(in, max_out, error);
    case kCompressionZstd:
      return unzstd(in, max_out, error);
    default:
      error = "unknown compression codec " + std::to_string(codec);
      return std::nullopt;
  }
}

std::optional<std::string> compress(int codec, std::string_view in, std::string& error) {
  switch (codec) {
    case kCompressionNone:
      return std::string(in);
    case kCompressionGzip:
      return gzip(in, error);
    case kCompressionSnappy:
      return snappy_xerial(in);
    case kCompressionLz4:
      return lz4(in, error);
    case kCompressionZstd:
      return zstd(in, error);
    default:
      error = "unknown compression codec " + std::to_string(codec);
      return std::nullopt;
  }
}

std::variant<std::string, BatchError> recompress_batch(std::string_view batch, int codec,
                                                       std::size_t max_decompressed) {
  KS_ASSERT(batch.size() >= kBatchHeaderSize, "batch of {} bytes has no header", batch.size());
  KS_ASSERT(codec >= kCompressionNone && codec <= kCompressionZstd, "codec {}", codec);
  const BatchHeader h = parse_batch_header(batch);
  KS_ASSERT(h.total_size() == batch.size(), "batch of {} bytes says {}", batch.size(), h.total_size());
  std::string error;
  auto records = decompress(h.compression(), batch.substr(kBatchHeaderSize), max_decompressed, error);
  if (!records) {
    const bool big = error.rfind("decompressed records exceed", 0) == 0;
    return BatchError{big ? static_cast<int16_t>(ErrorCode::kMessageTooLarge) : BatchError::kCorruptMessage,
                      std::string(codec_name(h.compression())) + " batch: " + error};
  }
  // Parsed as an uncompressed batch: every record is checked (lengths, offset
  // deltas, count) before it is stored under another codec.
  std::string plain = rebuild(batch, kCompressionNone, *records);
  auto checked = validate_record_set(plain);
  if (auto* err = std::get_if<BatchError>(&checked)) {
    return BatchError{err->error_code,
                      std::string("records of a ") + codec_name(h.compression()) + " batch: " + err->message};
  }
  if (codec == kCompressionNone) return plain;
  auto packed = compress(codec, *records, error);
  if (!packed) return BatchError{BatchError::kCorruptMessage, "recompressing: " + error};
  return rebuild(batch, codec, *packed);
}

}  // namespace ks::protocol
