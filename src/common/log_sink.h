// The process's log output with control bytes escaped: a client-supplied
// string in a log line (a group id, client id, SASL user name...) cannot add
// lines of its own or send terminal escapes. Bytes 0x00-0x1f and 0x7f become
// \xNN in the message; everything else is written as it is.
#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace spdlog::sinks {
class sink;
}

namespace ks {

// `s` with control bytes as \xNN.
std::string escape_control_bytes(std::string_view s);

// `inner` behind the escaping.
std::shared_ptr<spdlog::sinks::sink> escaping_sink(std::shared_ptr<spdlog::sinks::sink> inner);

// Replaces spdlog's default logger (stdout, colours when a terminal) with the
// same output behind the escaping. Call once at the start of main.
void install_escaping_logger();

}  // namespace ks
