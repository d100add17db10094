// Helpers shared by the handler tests (test code only).
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "protocol/wire.h"

namespace ks::handlers::test_util {

// Encodes `m` at `version` and decodes it back, as a client would read the answer.
template <class Message>
Message round_trip(const Message& m, std::int16_t version) {
  protocol::Writer w;
  m.encode(w, version);
  std::string bytes = w.release();
  protocol::Reader r(bytes);
  Message out;
  EXPECT_TRUE(out.decode(r, version));
  return out;
}

}  // namespace ks::handlers::test_util
