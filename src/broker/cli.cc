#include "broker/cli.h"

#include <CLI/CLI.hpp>
#include <algorithm>

#include "broker/users.h"

namespace ks::broker {
namespace {

#ifndef KS_VERSION
#define KS_VERSION "unknown"
#endif

constexpr const char* kUsage =
    "Usage: kafscale COMMAND [ARGS]\n"
    "\n"
    "Commands:\n"
    "  broker [--SETTING VALUE]...                 Run a broker ('kafscale broker --help' lists settings).\n"
    "  broker --check-config [--SETTING VALUE]...  Validate the settings offline and exit (0: valid).\n"
    "  inspect PATH_OR_KEY [--object-store URL]    Print an object's or checkpoint's contents.\n"
    "  inspect placement [--metadata URL]          Print brokers, controller and where each stream is "
    "served.\n"
    "  user add|delete|list [--metadata URL] ...   Manage SCRAM users ('kafscale user --help').\n"
    "  version                                     Print the version.\n";

int usage_error(std::ostream& err, const std::string& msg) {
  err << "kafscale: " << msg << "\n\n" << kUsage;
  return 2;
}

int inspect_command(const std::vector<std::string>& args, const CliActions& actions, const EnvLookup& env,
                    std::ostream& out, std::ostream& err) {
  CLI::App app("Print an object's or checkpoint's contents.", "kafscale inspect");
  InspectOptions opts;
  app.add_option("target", opts.target, "Object key or local path of an object or checkpoint")->required();
  CLI::Option* store = app.add_option(
      "--object-store", opts.object_store,
      "Object store URL (env KAFSCALE_OBJECT_STORE; default: the broker's default object store)");
  CLI::Option* metadata =
      app.add_option("--metadata", opts.metadata,
                     "Metadata store URL, for 'placement' (env KAFSCALE_METADATA; default: the broker's)");
  if (auto done = parse_command(app, args, "kafscale inspect", out, err)) return *done;
  if (store->count() == 0) {
    auto v = env("KAFSCALE_OBJECT_STORE");
    opts.object_store = v ? *v : default_config().object_store;
  }
  if (metadata->count() == 0) {
    auto v = env("KAFSCALE_METADATA");
    opts.metadata = v ? *v : default_config().metadata;
  }
  if (opts.object_store.empty() || opts.metadata.empty()) {
    err << "kafscale inspect: --object-store and --metadata must not be empty\n";
    return 2;
  }
  return actions.inspect(opts, env);
}

}  // namespace

std::optional<int> parse_command(CLI::App& app, const std::vector<std::string>& args,
                                 std::string_view command, std::ostream& out, std::ostream& err) {
  try {
    app.parse(std::vector<std::string>(args.rbegin(), args.rend()));
  } catch (const CLI::CallForHelp&) {
    out << app.help();
    return 0;
  } catch (const CLI::ParseError& e) {
    err << command << ": " << e.what() << "\n\n" << app.help();
    return 2;
  }
  return std::nullopt;
}

int run_cli(const std::vector<std::string>& args, const CliActions& actions, const EnvLookup& env,
            std::ostream& out, std::ostream& err) {
  if (args.empty()) return usage_error(err, "missing command");
  const std::string& cmd = args[0];
  std::vector<std::string> rest(args.begin() + 1, args.end());
  if (cmd == "-h" || cmd == "--help" || cmd == "help") {
    out << kUsage;
    return 0;
  }
  if (cmd == "version" || cmd == "--version") {
    if (!rest.empty()) return usage_error(err, "version takes no arguments");
    out << "kafscale " << KS_VERSION << "\n";
    return 0;
  }
  if (cmd == "broker") {
    // --check-config is not a setting: it turns the command into a check of the others.
    const auto check = std::find(rest.begin(), rest.end(), kCheckConfigFlag);
    const bool check_only = check != rest.end();
    if (check_only) rest.erase(check);
    ParseOutcome p = parse_broker_config(rest, env);
    if (!p.config) {
      if (p.exit_code == 0) {
        out << p.message;
      } else {
        err << "kafscale broker: " << p.message << "\n";
      }
      return p.exit_code;
    }
    if (check_only) {
      if (!actions.check_config) {
        out << "configuration OK\n";
        return 0;
      }
      return actions.check_config(*p.config, env, out, err);
    }
    return actions.broker(*p.config, env);
  }
  if (cmd == "inspect") return inspect_command(rest, actions, env, out, err);
  if (cmd == "user") return user_command(rest, env, std::cin, out, err);
  return usage_error(err, "unknown command '" + cmd + "'");
}

}  // namespace ks::broker
