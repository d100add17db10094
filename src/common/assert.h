// Invariants of our own state, checked in every build (release included).
//
//   KS_ASSERT(p.hwm <= p.leo, "partition {}: hwm {} past log end {}", name, p.hwm, p.leo);
//
// A failed check prints file, line, the condition and the message to stderr
// and aborts: state that broke an invariant must not be written anywhere.
// Use it only for what our code guarantees. Bytes from the network, the
// object store or the metadata store are never asserted on: they are checked
// and answered with an error (Status / a Kafka error code).
#pragma once

#include <fmt/format.h>

namespace ks::detail {

[[noreturn]] void assert_failed(const char* file, int line, const char* condition,
                                const std::string& message);

}  // namespace ks::detail

#define KS_ASSERT(cond, ...)                                                              \
  do {                                                                                    \
    if (!(cond)) [[unlikely]] {                                                           \
      ::ks::detail::assert_failed(__FILE__, __LINE__, #cond, ::fmt::format(__VA_ARGS__)); \
    }                                                                                     \
  } while (0)
