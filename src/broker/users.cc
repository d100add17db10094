#include "broker/users.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "broker/cli.h"
#include "broker/config.h"
#include "broker/stores.h"
#include "security/sasl.h"

namespace ks::broker {

Result<std::map<std::string, std::string>> load_plain_users(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    return Status(Errc::invalid_argument,
                  fmt::format("sasl-plain-users-file {}: cannot read: {}", path, std::strerror(errno)));
  }
  std::stringstream ss;
  ss << f.rdbuf();
  auto users = security::parse_plain_users(ss.str());
  if (!users.ok()) {
    return Status(Errc::invalid_argument,
                  fmt::format("sasl-plain-users-file {}: {}", path, users.status().message()));
  }
  return users;
}

namespace {

// The password from a file or stdin ("-"): its first line, without the newline.
Result<std::string> read_password(const std::string& source, std::istream& in) {
  std::string text;
  if (source == "-") {
    std::getline(in, text);
  } else {
    std::ifstream f(source, std::ios::binary);
    if (!f) {
      return Status(Errc::invalid_argument, fmt::format("cannot read {}: {}", source, std::strerror(errno)));
    }
    std::getline(f, text);
  }
  if (!text.empty() && text.back() == '\r') text.pop_back();
  if (text.empty()) return Status(Errc::invalid_argument, "the password is empty");
  return text;
}

}  // namespace

int user_command(const std::vector<std::string>& args, const EnvLookup& env, std::istream& in,
                 std::ostream& out, std::ostream& err) {
  CLI::App app("Manage SCRAM users in the metadata store.", "kafscale user");
  app.require_subcommand(1);
  std::string metadata, name, mechanism = "SCRAM-SHA-256", password_file;
  int iterations = 8192;
  auto metadata_opt = [&](CLI::App* a) {
    return a->add_option("--metadata", metadata,
                         "Metadata store URL (env KAFSCALE_METADATA; default: the broker's)");
  };
  CLI::App* add = app.add_subcommand("add", "Create a user's SCRAM credential (fails if it exists).");
  add->add_option("name", name, "User name")->required();
  add->add_option("--mechanism", mechanism, "SCRAM-SHA-256 (default) or SCRAM-SHA-512");
  add->add_option("--iterations", iterations, "PBKDF2 iterations, 4096..16384 (default 8192)");
  add->add_option("--password-file", password_file, "File whose first line is the password; - reads stdin")
      ->required();
  CLI::Option* add_meta = metadata_opt(add);
  CLI::App* del = app.add_subcommand("delete", "Delete a user's SCRAM credentials.");
  del->add_option("name", name, "User name")->required();
  CLI::Option* del_mech = del->add_option("--mechanism", mechanism, "Only this mechanism (default: all)");
  CLI::Option* del_meta = metadata_opt(del);
  CLI::App* list = app.add_subcommand("list", "List users and their mechanisms (never keys or salts).");
  CLI::Option* list_meta = metadata_opt(list);
  if (auto done = parse_command(app, args, "kafscale user", out, err)) return *done;
  if (add_meta->count() + del_meta->count() + list_meta->count() == 0) {
    auto v = env("KAFSCALE_METADATA");
    metadata = v ? *v : default_config().metadata;
  }
  std::optional<security::ScramHash> hash = security::scram_mechanism(mechanism);
  if ((add->parsed() || del_mech->count() > 0) && !hash) {
    err << "kafscale user: --mechanism must be SCRAM-SHA-256 or SCRAM-SHA-512\n";
    return 2;
  }
  auto meta = open_metadata_store(metadata, env);
  if (!meta.ok()) {
    err << "kafscale user: metadata: " << meta.status().message() << "\n";
    return 2;
  }
  if (add->parsed()) {
    auto password = read_password(password_file, in);
    if (!password.ok()) {
      err << "kafscale user: --password-file: " << password.status().message() << "\n";
      return 2;
    }
    auto cred = security::new_scram_credential(*hash, *password, iterations);
    if (!cred.ok()) {
      err << "kafscale user: " << cred.status().message() << "\n";
      return 2;
    }
    Status st = security::add_scram_credential(**meta, name, *cred);
    if (!st.ok()) {
      err << "kafscale user: " << st.message() << "\n";
      return st.code() == Errc::already_exists ? 3 : 1;
    }
    out << fmt::format("added {} credential for user '{}' ({} iterations)\n", mechanism, name, iterations);
    return 0;
  }
  if (del->parsed()) {
    Status st = security::delete_scram_credentials(**meta, name, del_mech->count() > 0 ? hash : std::nullopt);
    if (!st.ok()) {
      err << "kafscale user: " << st.message() << "\n";
      return st.code() == Errc::not_found ? 3 : 1;
    }
    out << fmt::format("deleted user '{}'\n", name);
    return 0;
  }
  auto users = security::list_scram_credentials(**meta);
  if (!users.ok()) {
    err << "kafscale user: " << users.status().message() << "\n";
    return 1;
  }
  for (const auto& [user, creds] : *users) {
    std::string line = user;
    for (const auto& c : creds) line += fmt::format(" {}", security::scram_mechanism_name(c.hash));
    out << line << "\n";
  }
  return 0;
}

}  // namespace ks::broker
