// One configurable broker setting (config.cc declares them; security_config.cc the listener,
// TLS and SASL ones). apply() parses a raw value into the config; its error message says what the
// allowed form is. show() prints the current value in a form apply() accepts.
#pragma once

#include <cctype>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "broker/config.h"

namespace ks::broker {

struct Setting {
  std::string name;
  std::string form;          // e.g. "SIZE"
  std::string help;          // one line
  std::string default_text;  // for --help
  std::function<Status(Config&, std::string_view)> apply;
  std::function<std::string(const Config&)> show;
  // Computes a default that depends on settings resolved earlier; nullptr keeps Config{}'s value.
  std::function<void(Config&)> set_default;
  // Another accepted flag/YAML name ("" = none); the environment variable always uses `name`.
  std::string alias = "";
};

inline std::string env_name(std::string_view name) {
  std::string out = "KAFSCALE_";
  for (char c : name) out += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// Value helpers (config_values.cc).
bool iequals(std::string_view a, std::string_view b);
// Unsigned decimal without sign or spaces.
std::optional<uint64_t> parse_uint(std::string_view s);
// Shortest exact spelling of a size: "4MiB", "1500".
std::string format_size(uint64_t v);

// The setting named `name` or aliased so (config.cc); nullptr when none.
const Setting* find_setting(std::string_view name);

// Kafka's dotted name as the alias, so a Kafka user's spelling works as flag and YAML key.
inline Setting kafka_named(Setting s, std::string kafka_name) {
  s.alias = std::move(kafka_name);
  return s;
}

}  // namespace ks::broker
