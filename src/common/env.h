// EnvLookup: how code below the broker sees environment variables.
//
// Only the broker reads the process environment (broker/env.h
// process_env()); backends that need a variable (the AWS credential chain)
// take a lookup as an argument, so tests pass a map and no module reads the
// environment behind its caller's back.
#pragma once

#include <functional>
#include <optional>
#include <string>

namespace ks {

// The value of the variable `name`, or nullopt when it is unset. An empty
// value is returned as "" (callers decide whether empty means unset).
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;

}  // namespace ks
