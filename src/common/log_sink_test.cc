#include "common/log_sink.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <sstream>

namespace ks {
namespace {

TEST(LogSink, ControlBytesAreEscapedOthersKept) {
  EXPECT_EQ(escape_control_bytes("group-1"), "group-1");
  EXPECT_EQ(escape_control_bytes("g\nFAKE error line"), "g\\x0aFAKE error line");
  EXPECT_EQ(escape_control_bytes(std::string("a\0b\x1b[31m\x7f", 9)), "a\\x00b\\x1b[31m\\x7f");
  EXPECT_EQ(escape_control_bytes("caf\xc3\xa9"), "caf\xc3\xa9");  // UTF-8 stays
}

TEST(LogSink, ALoggerBehindItWritesOneLinePerMessage) {
  std::ostringstream out;
  auto inner = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
  spdlog::logger logger("t", escaping_sink(inner));
  logger.set_pattern("%l %v");
  logger.info("joined group {}", "g\n2026-12-04 info forged");
  logger.info("plain {}", 1);
  logger.flush();
  EXPECT_EQ(out.str(), "info joined group g\\x0a2026-12-04 info forged\ninfo plain 1\n");
}

}  // namespace
}  // namespace ks
