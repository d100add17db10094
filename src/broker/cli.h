// Command line: `kafscale broker [flags]`, `kafscale inspect PATH_OR_KEY [--object-store URL]`,
// `kafscale version`. Bad usage exits 2.
#pragma once

#include <functional>
#include <iostream>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "broker/broker.h"
#include "broker/check_config.h"
#include "broker/config.h"
#include "broker/env.h"
#include "broker/inspect.h"

namespace CLI {
class App;
}  // namespace CLI

namespace ks::broker {

// Parses a subcommand's arguments into `app`. Returns the exit code when that ends the command (help
// printed: 0; bad usage, said on `err` with the help: 2), nullopt when it should go on.
std::optional<int> parse_command(CLI::App& app, const std::vector<std::string>& args,
                                 std::string_view command, std::ostream& out, std::ostream& err);

// What each command runs; injectable so the dispatch can be tested without a broker. Each gets the
// environment run_cli was given (credentials for the stores come from it).
struct CliActions {
  std::function<int(const Config&, const EnvLookup&)> broker;
  std::function<int(const InspectOptions&, const EnvLookup&)> inspect;
  // `kafscale broker --check-config`, given the parsed settings; unset: only the parse is checked.
  std::function<int(const Config&, const EnvLookup&, std::ostream& out, std::ostream& err)> check_config;
};

// args excludes the program name. Help goes to out, errors to err. Returns the process exit code.
// `env` is the only environment the command sees.
int run_cli(const std::vector<std::string>& args, const CliActions& actions, const EnvLookup& env,
            std::ostream& out, std::ostream& err);

// The real entry point. Inline so that code using run_cli (tests) does not need run_broker/run_inspect
// at link time; only main.cc instantiates this.
inline int cli_main(int argc, char** argv) {
  std::vector<std::string> args(argv + (argc > 0 ? 1 : 0), argv + argc);
  return run_cli(args, CliActions{run_broker, run_inspect, check_config}, process_env(), std::cout,
                 std::cerr);
}

}  // namespace ks::broker
