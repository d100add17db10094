#include "protocol/record_batch.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "common/crc32c.h"

namespace ks::protocol {
namespace {

using Recs = std::vector<TestRecord>;

TestRecord rec(std::optional<std::string> key, std::optional<std::string> value) {
  TestRecord r;
  r.key = std::move(key);
  r.value = std::move(value);
  return r;
}

// Three records "a"/"b" without headers: every record body is 8 bytes, so
// record i starts at kBatchHeaderSize + 9 * i (1 length byte + body).
Recs three_simple() { return {rec("a", "b"), rec("a", "b"), rec("a", "b")}; }

std::string fixed(std::string b) {
  update_batch_crc(b.data(), b.size());
  return b;
}

void put_be32(std::string& b, size_t off, uint32_t v) {
  for (int i = 3; i >= 0; --i, v >>= 8) b[off + i] = static_cast<char>(v & 0xFF);
}

int16_t code_of(const ValidateResult& r) {
  const auto* e = std::get_if<BatchError>(&r);
  return e ? e->error_code : 0;
}

std::string message_of(const ValidateResult& r) {
  const auto* e = std::get_if<BatchError>(&r);
  return e ? e->message : "(accepted)";
}

const std::vector<BatchInfo>& batches_of(const ValidateResult& r) {
  static const std::vector<BatchInfo> kEmpty;
  const auto* v = std::get_if<std::vector<BatchInfo>>(&r);
  return v ? *v : kEmpty;
}

// A batch whose record payload is `payload` verbatim (header fields consistent
// with `count`, CRC valid): the way to feed hand-made record bytes.
std::string with_payload(std::string_view payload, int32_t count) {
  std::string b = build_batch({rec("x", "y")}, 0, 1000).substr(0, kBatchHeaderSize);
  put_be32(b, 8, static_cast<uint32_t>(kMinBatchLength + payload.size()));
  put_be32(b, 23, static_cast<uint32_t>(count - 1));
  put_be32(b, 57, static_cast<uint32_t>(count));
  b += payload;
  return fixed(b);
}

constexpr int16_t kCorrupt = BatchError::kCorruptMessage;
constexpr int16_t kInvalid = BatchError::kInvalidRecord;

TEST(RecordBatch, KafkaErrorCodes) {
  EXPECT_EQ(BatchError::kCorruptMessage, 2);
  EXPECT_EQ(BatchError::kInvalidRecord, 87);
}

TEST(RecordBatch, BuilderMatchesHandEncodedLayout) {
  std::string b = build_batch({rec("k", "v")}, 0, 1000);
  std::string expected;
  expected += std::string(8, '\0');                    // baseOffset
  expected += std::string("\x00\x00\x00\x3a", 4);      // batchLength 49 + 9
  expected += std::string(4, '\xff');                  // partitionLeaderEpoch -1
  expected += '\x02';                                  // magic
  expected += std::string(4, '\0');                    // CRC placeholder
  expected += std::string(2, '\0');                    // attributes
  expected += std::string(4, '\0');                    // lastOffsetDelta
  expected += std::string("\0\0\0\0\0\0\x03\xe8", 8);  // baseTimestamp 1000
  expected += std::string("\0\0\0\0\0\0\x03\xe8", 8);  // maxTimestamp 1000
  expected += std::string(8, '\xff');                  // producerId -1
  expected += std::string(2, '\xff');                  // producerEpoch -1
  expected += std::string(4, '\xff');                  // baseSequence -1
  expected += std::string("\0\0\0\x01", 4);            // recordsCount 1
  // length 8 (zigzag 0x10), attrs, tsDelta 0, offsetDelta 0, key "k", value "v", 0 headers
  expected += std::string("\x10\x00\x00\x00\x02k\x02v\x00", 9);
  ASSERT_EQ(b.size(), expected.size());
  EXPECT_EQ(b.substr(0, 17), expected.substr(0, 17));
  EXPECT_EQ(b.substr(21), expected.substr(21));
  // The stored CRC is the standard CRC32C of bytes 21..end.
  uint32_t crc = crc32c(std::string_view(expected).substr(21));
  EXPECT_EQ(parse_batch_header(b).crc, crc);
}

TEST(RecordBatch, ValidSingleBatch) {
  Recs recs = three_simple();
  recs[1].timestamp_delta = 7;
  recs[2].timestamp_delta = 3;
  std::string b = build_batch(recs, 0, 5000);
  auto r = validate_record_set(b);
  ASSERT_EQ(code_of(r), 0) << message_of(r);
  const auto& v = batches_of(r);
  ASSERT_EQ(v.size(), 1u);
  const BatchHeader& h = v[0].header;
  EXPECT_EQ(v[0].position, 0u);
  EXPECT_EQ(v[0].size, b.size());
  EXPECT_EQ(h.total_size(), b.size());
  EXPECT_EQ(h.batch_length, static_cast<int32_t>(b.size() - 12));
  EXPECT_EQ(h.base_offset, 0);
  EXPECT_EQ(h.partition_leader_epoch, -1);
  EXPECT_EQ(h.magic, 2);
  EXPECT_EQ(h.records_count, 3);
  EXPECT_EQ(h.last_offset_delta, 2);
  EXPECT_EQ(h.last_offset(), 2);
  EXPECT_EQ(h.base_timestamp, 5000);
  EXPECT_EQ(h.max_timestamp, 5007);
  EXPECT_EQ(h.compression(), kCompressionNone);
  EXPECT_EQ(h.timestamp_type(), 0);
  EXPECT_FALSE(h.is_transactional());
  EXPECT_FALSE(h.is_control());
  EXPECT_EQ(h.crc, compute_batch_crc(b));
}

TEST(RecordBatch, ValidMultiBatchSet) {
  std::string b1 = build_batch({rec("a", "1")}, 0, 100);
  std::string b2 = build_batch(three_simple(), 0, 200);
  std::string b3 = build_batch({rec(std::nullopt, std::string(300, 'z'))}, 0, 300);
  auto r = validate_record_set(b1 + b2 + b3);
  ASSERT_EQ(code_of(r), 0) << message_of(r);
  const auto& v = batches_of(r);
  ASSERT_EQ(v.size(), 3u);
  EXPECT_EQ(v[0].position, 0u);
  EXPECT_EQ(v[0].size, b1.size());
  EXPECT_EQ(v[1].position, b1.size());
  EXPECT_EQ(v[1].size, b2.size());
  EXPECT_EQ(v[2].position, b1.size() + b2.size());
  EXPECT_EQ(v[2].size, b3.size());
  EXPECT_EQ(v[1].header.records_count, 3);
  EXPECT_EQ(v[2].header.base_timestamp, 300);
}

TEST(RecordBatch, EmptyRecordSetRejected) { EXPECT_EQ(code_of(validate_record_set("")), kInvalid); }

TEST(RecordBatch, NullKeyAndValue) {
  std::string b = build_batch({rec(std::nullopt, std::nullopt), rec("", ""), rec(std::nullopt, "v")}, 0, 1);
  // First record: length, attrs, tsDelta, offsetDelta, then key length -1 (zigzag 0x01).
  EXPECT_EQ(b[kBatchHeaderSize + 4], '\x01');
  EXPECT_EQ(b[kBatchHeaderSize + 5], '\x01');
  auto r = validate_record_set(b);
  EXPECT_EQ(code_of(r), 0) << message_of(r);
}

TEST(RecordBatch, Headers) {
  TestRecord r1 = rec("k", "v");
  r1.headers = {{"h1", "x"}, {"h2", std::nullopt}, {"", ""}};
  TestRecord r2 = rec("k2", std::nullopt);
  r2.headers = {{"trace", std::string(200, 't')}};
  std::string b = build_batch({r1, r2}, 0, 1);
  auto r = validate_record_set(b);
  EXPECT_EQ(code_of(r), 0) << message_of(r);
}

TEST(RecordBatch, EverySingleByteCorruptionRejected) {
  TestRecord r1 = rec("key", "value");
  r1.headers = {{"h", "v"}};
  std::string b = build_batch({r1, rec(std::nullopt, "x")}, 0, 1234);
  ASSERT_EQ(code_of(validate_record_set(b)), 0);
  for (size_t i = 0; i < b.size(); ++i) {
    for (unsigned mask : {0x01u, 0x80u, 0xFFu}) {
      std::string c = b;
      c[i] = static_cast<char>(c[i] ^ mask);
      auto r = validate_record_set(c);
      if (i >= 12 && i < 16) {
        // partitionLeaderEpoch is outside the CRC; the broker ignores and
        // overwrites the client's value (stamp_batch), as Kafka does.
        EXPECT_EQ(code_of(r), 0) << "byte " << i;
        continue;
      }
      // baseOffset must be 0 from clients; magic must be 2; everything else
      // is framing or CRC-covered.
      int16_t want = (i < 8 || i == 16) ? kInvalid : kCorrupt;
      EXPECT_EQ(code_of(r), want) << "byte " << i << " mask " << mask << ": " << message_of(r);
    }
  }
}

TEST(RecordBatch, RecordByteCorruptionWithResealedCrcNeverCrashes) {
  // Corrupt record bytes but fix the CRC, so only the structural checks stand
  // between the bytes and acceptance. Some corruptions stay well-formed
  // (e.g. a key byte); structural ones must come back as INVALID_RECORD.
  TestRecord r1 = rec("key", "value");
  r1.headers = {{"h", "v"}};
  std::string b = build_batch({r1, rec(std::nullopt, "x")}, 0, 1234);
  int rejected = 0;
  for (size_t i = kBatchHeaderSize; i < b.size(); ++i) {
    for (unsigned mask : {0x01u, 0x02u, 0x40u, 0x80u, 0xFFu}) {
      std::string c = b;
      c[i] = static_cast<char>(c[i] ^ mask);
      int16_t code = code_of(validate_record_set(fixed(c)));
      EXPECT_TRUE(code == 0 || code == kInvalid) << "byte " << i << " code " << code;
      rejected += code == kInvalid;
    }
  }
  EXPECT_GT(rejected, 20);
}

TEST(RecordBatch, TruncationAtEveryLengthRejected) {
  std::string b1 = build_batch(three_simple(), 0, 1);
  std::string b2 = build_batch({rec("k", "v")}, 0, 2);
  std::string set = b1 + b2;
  for (size_t n = 0; n < set.size(); ++n) {
    auto r = validate_record_set(std::string_view(set).substr(0, n));
    if (n == b1.size()) {
      EXPECT_EQ(code_of(r), 0);  // exactly the first batch: a valid set
    } else {
      EXPECT_EQ(code_of(r), n == 0 ? kInvalid : kCorrupt) << "length " << n;
    }
  }
}

TEST(RecordBatch, TrailingGarbageRejected) {
  std::string b = build_batch({rec("k", "v")}, 0, 1);
  EXPECT_EQ(code_of(validate_record_set(b + std::string(5, '\0'))), kCorrupt);
  EXPECT_EQ(code_of(validate_record_set(b + std::string(70, '\0'))), kCorrupt);
}

TEST(RecordBatch, BadMagicRejected) {
  for (int magic : {0, 1, 3, -1}) {
    std::string b = build_batch({rec("k", "v")}, 0, 1);
    b[16] = static_cast<char>(magic);
    auto r = validate_record_set(fixed(b));
    EXPECT_EQ(code_of(r), kInvalid) << "magic " << magic;
  }
}

TEST(RecordBatch, TransactionalAndControlRejected) {
  EXPECT_EQ(code_of(validate_record_set(build_batch({rec("k", "v")}, 0, 1, kAttrTransactional, 5, 0, 0))),
            kInvalid);
  EXPECT_EQ(code_of(validate_record_set(build_batch({rec("k", "v")}, 0, 1, kAttrControl))), kInvalid);
  EXPECT_EQ(
      code_of(validate_record_set(build_batch({rec("k", "v")}, 0, 1, kAttrControl | kAttrTransactional))),
      kInvalid);
}

TEST(RecordBatch, LogAppendTimeBitAllowed) {
  auto r = validate_record_set(build_batch({rec("k", "v")}, 0, 1, kAttrLogAppendTime));
  ASSERT_EQ(code_of(r), 0) << message_of(r);
  EXPECT_EQ(batches_of(r)[0].header.timestamp_type(), 1);
}

TEST(RecordBatch, NonZeroBaseOffsetRejected) {
  EXPECT_EQ(code_of(validate_record_set(build_batch({rec("k", "v")}, 42, 1))), kInvalid);
}

TEST(RecordBatch, ProducerIdNeedsSequence) {
  auto ok = validate_record_set(build_batch({rec("k", "v")}, 0, 1, 0, 77, 3, 10));
  ASSERT_EQ(code_of(ok), 0) << message_of(ok);
  const BatchHeader& h = batches_of(ok)[0].header;
  EXPECT_EQ(h.producer_id, 77);
  EXPECT_EQ(h.producer_epoch, 3);
  EXPECT_EQ(h.base_sequence, 10);
  EXPECT_EQ(code_of(validate_record_set(build_batch({rec("k", "v")}, 0, 1, 0, 77, 3, -1))), kInvalid);
}

TEST(RecordBatch, OffsetDeltaMismatchRejected) {
  std::string b = build_batch(three_simple(), 0, 1);
  ASSERT_EQ(code_of(validate_record_set(b)), 0);
  {
    std::string c = b;  // header lastOffsetDelta 1 with 3 records
    put_be32(c, 23, 1);
    EXPECT_EQ(code_of(validate_record_set(fixed(c))), kInvalid);
  }
  {
    std::string c = b;  // header lastOffsetDelta negative
    put_be32(c, 23, static_cast<uint32_t>(-1));
    EXPECT_EQ(code_of(validate_record_set(fixed(c))), kInvalid);
  }
  const size_t od1 = kBatchHeaderSize + 9 + 3;  // record 1's offsetDelta byte
  ASSERT_EQ(b[od1], '\x02');                    // zigzag(1)
  {
    std::string c = b;
    c[od1] = '\x04';  // record 1 claims offsetDelta 2
    EXPECT_EQ(code_of(validate_record_set(fixed(c))), kInvalid);
  }
  {
    std::string c = b;  // records 0 and 1 swapped deltas
    c[kBatchHeaderSize + 3] = '\x02';
    c[od1] = '\x00';
    EXPECT_EQ(code_of(validate_record_set(fixed(c))), kInvalid);
  }
}

TEST(RecordBatch, RecordsCountMismatchRejected) {
  std::string b = build_batch(three_simple(), 0, 1);
  auto with_counts = [&](int32_t lod, int32_t count) {
    std::string c = b;
    put_be32(c, 23, static_cast<uint32_t>(lod));
    put_be32(c, 57, static_cast<uint32_t>(count));
    return code_of(validate_record_set(fixed(c)));
  };
  EXPECT_EQ(with_counts(2, 3), 0);
  EXPECT_EQ(with_counts(2, 2), kInvalid);   // header fields disagree
  EXPECT_EQ(with_counts(3, 4), kInvalid);   // declares more records than present
  EXPECT_EQ(with_counts(1, 2), kInvalid);   // bytes left after the declared records
  EXPECT_EQ(with_counts(-1, 0), kInvalid);  // empty batch
  EXPECT_EQ(with_counts(0x7FFFFFFE, 0x7FFFFFFF), kInvalid);
  EXPECT_EQ(code_of(validate_record_set(build_batch({}, 0, 1))), kInvalid);
}

TEST(RecordBatch, RecordLengthMismatchRejected) {
  std::string b = build_batch(three_simple(), 0, 1);
  ASSERT_EQ(b[kBatchHeaderSize], '\x10');  // zigzag(8)
  std::string longer = b;
  longer[kBatchHeaderSize] = '\x12';  // 9: one byte more than the record holds
  EXPECT_EQ(code_of(validate_record_set(fixed(longer))), kInvalid);
  // A declared length with one byte of padding the record does not use.
  std::string padded("\x0e\x00\x00\x00\x01\x01\x00X", 8);
  EXPECT_EQ(code_of(validate_record_set(with_payload(padded, 1))), kInvalid);
  padded[0] = '\x0c';  // the same record with its true length (and no padding)
  EXPECT_EQ(code_of(validate_record_set(with_payload(padded.substr(0, 7), 1))), 0);
  std::string shorter = b;
  shorter[kBatchHeaderSize] = '\x0e';  // 7: cuts off the header count
  EXPECT_EQ(code_of(validate_record_set(fixed(shorter))), kInvalid);
}

TEST(RecordBatch, CompressedPayloadIsOpaque) {
  for (int codec = kCompressionGzip; codec <= kCompressionZstd; ++codec) {
    std::string b = build_batch({rec("k", "v"), rec("k", "v")}, 0, 1, static_cast<int16_t>(codec));
    for (size_t i = kBatchHeaderSize; i < b.size(); ++i) b[i] = '\xff';  // not parseable as records
    b = fixed(b);
    auto r = validate_record_set(b);
    ASSERT_EQ(code_of(r), 0) << "codec " << codec << ": " << message_of(r);
    EXPECT_EQ(batches_of(r)[0].header.compression(), codec);
    // The CRC still guards compressed payloads.
    std::string c = b;
    c[b.size() - 1] = '\0';
    EXPECT_EQ(code_of(validate_record_set(c)), kCorrupt);
    // The same bytes marked uncompressed are parsed and rejected.
    std::string plain = b;
    plain[22] = '\0';
    EXPECT_EQ(code_of(validate_record_set(fixed(plain))), kInvalid);
  }
  // Codec ids 5..7 do not exist.
  EXPECT_EQ(code_of(validate_record_set(build_batch({rec("k", "v")}, 0, 1, 5))), kInvalid);
  EXPECT_EQ(code_of(validate_record_set(build_batch({rec("k", "v")}, 0, 1, 7))), kInvalid);
}

TEST(RecordBatch, StampKeepsCrcValid) {
  std::string b = build_batch(three_simple(), 0, 1);
  uint32_t crc = parse_batch_header(b).crc;
  stamp_batch(b.data(), 0x0102030405060708LL, 0x0A0B0C0D);
  EXPECT_EQ(b.substr(0, 8), std::string("\x01\x02\x03\x04\x05\x06\x07\x08", 8));
  EXPECT_EQ(b.substr(12, 4), std::string("\x0a\x0b\x0c\x0d", 4));
  BatchHeader h = parse_batch_header(b);
  EXPECT_EQ(h.base_offset, 0x0102030405060708LL);
  EXPECT_EQ(h.partition_leader_epoch, 0x0A0B0C0D);
  EXPECT_EQ(h.last_offset(), 0x0102030405060708LL + 2);
  EXPECT_EQ(h.crc, crc);
  EXPECT_EQ(compute_batch_crc(b), crc);
  // Stamping back to offset 0 with any epoch yields a batch the validator accepts.
  stamp_batch(b.data(), 0, 17);
  auto r = validate_record_set(b);
  ASSERT_EQ(code_of(r), 0) << message_of(r);
  EXPECT_EQ(batches_of(r)[0].header.partition_leader_epoch, 17);
  stamp_batch(b.data(), -1, -1);
  EXPECT_EQ(parse_batch_header(b).base_offset, -1);
  EXPECT_EQ(parse_batch_header(b).partition_leader_epoch, -1);
}

TEST(RecordBatch, HandMadePayloadAccepted) {
  // Sanity check for with_payload: a minimal record (all-null, no headers).
  std::string body("\x00\x00\x00\x01\x01\x00", 6);
  auto r = validate_record_set(with_payload(std::string("\x0c", 1) + body, 1));
  EXPECT_EQ(code_of(r), 0) << message_of(r);
}

TEST(RecordBatch, HostileVarintsFailCleanly) {
  auto check = [](std::string_view body, const char* what) {
    std::string len;
    len.push_back(static_cast<char>(body.size() * 2));  // zigzag, bodies here are < 64 bytes
    auto r = validate_record_set(with_payload(len + std::string(body), 1));
    EXPECT_EQ(code_of(r), kInvalid) << what;
  };
  // Record length: 11 continuation bytes, then a 5-byte varint overflowing 32 bits.
  EXPECT_EQ(code_of(validate_record_set(with_payload(std::string(11, '\xff') + '\x01', 1))), kInvalid);
  EXPECT_EQ(code_of(validate_record_set(with_payload(std::string("\xff\xff\xff\xff\x7f", 5), 1))), kInvalid);
  // A varint that runs off the end of the batch.
  EXPECT_EQ(code_of(validate_record_set(with_payload(std::string(3, '\x80'), 1))), kInvalid);
  // Negative record length, record length far beyond the batch.
  EXPECT_EQ(code_of(validate_record_set(with_payload(std::string("\x09", 1), 1))), kInvalid);
  EXPECT_EQ(code_of(validate_record_set(with_payload(std::string("\xfe\xff\xff\xff\x07", 5), 1))), kInvalid);

  std::string tail("\x01\x01\x00", 3);  // null key, null value, no headers
  check(std::string("\x00", 1) + std::string(10, '\xff') + '\x01' + std::string("\x00", 1) + tail,
        "timestamp varlong with 11 bytes");
  check(std::string("\x00", 1) + std::string(9, '\xff') + '\x02' + std::string("\x00", 1) + tail,
        "timestamp varlong overflowing 64 bits");
  check(std::string("\x00\x00", 2) + std::string(6, '\x80') + '\x00' + tail,
        "offsetDelta varint with 7 bytes");
  // 2^32 as a 5-byte varint: would wrap to a plausible offsetDelta 0 if the
  // overflow bits were dropped.
  check(std::string("\x00\x00\x80\x80\x80\x80\x10", 7) + tail, "offsetDelta varint overflowing 32 bits");
  check(std::string("\x00\x00\x00\x80\x80\x80\x80\x08\x01\x00", 10), "key length 2^30");
  check(std::string("\x00\x00\x00\x03\x01\x00", 6), "key length -2");
  check(std::string("\x00\x00\x00\x01\xfe\xff\xff\xff\x0f\x00", 10), "value length INT32_MAX");
  check(std::string("\x00\x00\x00\x01\x01\x80\xa8\xd6\xb9\x07", 10), "header count 1e9");
  check(std::string("\x00\x00\x00\x01\x01\x01", 6), "header count -1");
  check(std::string("\x00\x00\x00\x01\x01\x02\x01\x01", 8), "null header key");
  check(std::string("\x00\x00\x00\x01\x01\x02\x02h\xff\xff\xff\xff\xff\xff\x01", 15),
        "header value varint 7 bytes");
  check(std::string("\x00\x00\x00\x01\x01\x02\x02h\x20zz", 11), "header value beyond record");
}

TEST(RecordBatch, RandomRecordBytesWithValidCrcNeverCrash) {
  std::mt19937 rng(12345);
  int accepted = 0;
  for (int iter = 0; iter < 3000; ++iter) {
    std::string payload(rng() % 40, '\0');
    for (char& c : payload) c = static_cast<char>(rng());
    int16_t code = code_of(validate_record_set(with_payload(payload, 1 + static_cast<int32_t>(rng() % 3))));
    EXPECT_TRUE(code == 0 || code == kInvalid) << code;
    accepted += code == 0;
  }
  EXPECT_LT(accepted, 3000);
}

TEST(RecordBatch, ScanBatchesStopsAtTruncatedTail) {
  std::string b1 = build_batch({rec("a", "1")}, 0, 1);
  std::string b2 = build_batch(three_simple(), 0, 2);
  std::string b3 = build_batch({rec("c", "3")}, 0, 3);
  stamp_batch(b2.data(), 1, 5);
  stamp_batch(b3.data(), 4, 5);
  std::string stored = b1 + b2 + b3;
  auto v = scan_batches(stored);
  ASSERT_EQ(v.size(), 3u);
  EXPECT_EQ(v[1].position, b1.size());
  EXPECT_EQ(v[1].size, b2.size());
  EXPECT_EQ(v[1].header.base_offset, 1);
  EXPECT_EQ(v[1].header.last_offset(), 3);
  EXPECT_EQ(v[2].header.base_offset, 4);
  EXPECT_EQ(v[2].header.partition_leader_epoch, 5);

  for (size_t cut : {size_t{1}, size_t{30}, size_t{61}, b3.size() - 1}) {
    auto t = scan_batches(std::string_view(stored).substr(0, stored.size() - cut));
    EXPECT_EQ(t.size(), 2u) << "cut " << cut;
  }
  EXPECT_TRUE(scan_batches("").empty());
  // An implausible length stops the scan instead of reading past the data.
  std::string bad = b1 + b2;
  put_be32(bad, b1.size() + 8, 10);
  EXPECT_EQ(scan_batches(bad).size(), 1u);
  put_be32(bad, b1.size() + 8, 0x7FFFFFFF);
  EXPECT_EQ(scan_batches(bad).size(), 1u);
}

TEST(RecordBatch, ParseHeaderReadsAllFields) {
  std::string b = build_batch({rec("k", "v")}, 0, -5, kAttrLogAppendTime | kCompressionLz4,
                              0x1122334455667788LL, 0x1234, 0x0BADBEEF);
  BatchHeader h = parse_batch_header(b);
  EXPECT_EQ(h.attributes, kAttrLogAppendTime | kCompressionLz4);
  EXPECT_EQ(h.compression(), kCompressionLz4);
  EXPECT_EQ(h.timestamp_type(), 1);
  EXPECT_EQ(h.base_timestamp, -5);
  EXPECT_EQ(h.max_timestamp, -5);
  EXPECT_EQ(h.producer_id, 0x1122334455667788LL);
  EXPECT_EQ(h.producer_epoch, 0x1234);
  EXPECT_EQ(h.base_sequence, 0x0BADBEEF);
}

}  // namespace
}  // namespace ks::protocol
