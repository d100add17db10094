#include "broker/users.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "broker/config.h"
#include "broker/stores.h"
#include "cluster/keys.h"
#include "security/sasl.h"

namespace ks::broker {

namespace keys = cluster::keys;

Result<std::optional<security::ScramCredential>> read_scram_credential(metastore::MetadataStore& m,
                                                                       security::ScramHash hash,
                                                                       const std::string& user) {
  metastore::RangeRequest rq;
  rq.key = keys::scram_credential(security::scram_mechanism_name(hash), user);
  auto r = m.range(rq);
  if (!r.ok()) return r.status();
  if (r->kvs.empty()) return std::optional<security::ScramCredential>();
  auto c = security::decode_scram_credential(r->kvs.front().value);
  if (!c.ok()) return c.status();
  return std::optional<security::ScramCredential>(std::move(*c));
}

Status add_scram_credential(metastore::MetadataStore& m, const std::string& user,
                            const security::ScramCredential& c) {
  const std::string key = keys::scram_credential(security::scram_mechanism_name(c.hash), user);
  metastore::TxnRequest t;
  metastore::Compare cmp;
  cmp.key = key;
  cmp.target = metastore::Compare::Target::create_revision;
  cmp.number = 0;
  t.compare.push_back(std::move(cmp));
  t.success.push_back(metastore::Op::put(key, security::encode_scram_credential(c)));
  auto r = m.txn(t);
  if (!r.ok()) return r.status();
  if (!r->succeeded) {
    return Status(Errc::already_exists, fmt::format("user '{}' already has a {} credential", user,
                                                    security::scram_mechanism_name(c.hash)));
  }
  return {};
}

Status delete_scram_credentials(metastore::MetadataStore& m, const std::string& user,
                                std::optional<security::ScramHash> hash) {
  std::int64_t deleted = 0;
  for (auto h : {security::ScramHash::kSha256, security::ScramHash::kSha512}) {
    if (hash && *hash != h) continue;
    auto r = m.delete_range(keys::scram_credential(security::scram_mechanism_name(h), user));
    if (!r.ok()) return r.status();
    deleted += *r;
  }
  if (deleted == 0) return Status(Errc::not_found, fmt::format("user '{}' has no such credential", user));
  return {};
}

Result<std::map<std::string, std::vector<std::string>>> list_scram_users(metastore::MetadataStore& m) {
  metastore::RangeRequest rq;
  rq.key = keys::scram_prefix();
  rq.range_end = metastore::prefix_end(rq.key);
  rq.keys_only = true;
  auto r = m.range(rq);
  if (!r.ok()) return r.status();
  std::map<std::string, std::vector<std::string>> out;
  for (const auto& kv : r->kvs) {
    if (auto k = keys::parse_scram_key(kv.key)) out[k->user].push_back(k->mechanism);
  }
  return out;
}

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
  try {
    app.parse(std::vector<std::string>(args.rbegin(), args.rend()));
  } catch (const CLI::CallForHelp&) {
    out << app.help();
    return 0;
  } catch (const CLI::ParseError& e) {
    err << "kafscale user: " << e.what() << "\n\n" << app.help();
    return 2;
  }
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
    Status st = add_scram_credential(**meta, name, *cred);
    if (!st.ok()) {
      err << "kafscale user: " << st.message() << "\n";
      return st.code() == Errc::already_exists ? 3 : 1;
    }
    out << fmt::format("added {} credential for user '{}' ({} iterations)\n", mechanism, name, iterations);
    return 0;
  }
  if (del->parsed()) {
    Status st = delete_scram_credentials(**meta, name, del_mech->count() > 0 ? hash : std::nullopt);
    if (!st.ok()) {
      err << "kafscale user: " << st.message() << "\n";
      return st.code() == Errc::not_found ? 3 : 1;
    }
    out << fmt::format("deleted user '{}'\n", name);
    return 0;
  }
  auto users = list_scram_users(**meta);
  if (!users.ok()) {
    err << "kafscale user: " << users.status().message() << "\n";
    return 1;
  }
  for (const auto& [user, mechs] : *users) {
    std::string line = user;
    for (const auto& m : mechs) line += " " + m;
    out << line << "\n";
  }
  return 0;
}

}  // namespace ks::broker
