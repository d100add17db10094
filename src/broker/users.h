// SCRAM users in the metadata store (keys::scram_credential) and the `kafscale user` command that
// bootstraps them before any broker accepts SASL: `add` (create-if-absent; the password comes from
// a file or stdin, never the command line), `delete` and `list` (names and mechanisms only).
#pragma once

#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/env.h"
#include "common/status.h"
#include "metastore/metadata_store.h"
#include "security/scram.h"

namespace ks::broker {

Result<std::optional<security::ScramCredential>> read_scram_credential(metastore::MetadataStore& m,
                                                                       security::ScramHash hash,
                                                                       const std::string& user);
// already_exists when the user has a credential for that mechanism.
Status add_scram_credential(metastore::MetadataStore& m, const std::string& user,
                            const security::ScramCredential& c);
// Deletes the user's credential of `hash`, or of every mechanism when unset; not_found when none.
Status delete_scram_credentials(metastore::MetadataStore& m, const std::string& user,
                                std::optional<security::ScramHash> hash);
// user -> mechanisms.
Result<std::map<std::string, std::vector<std::string>>> list_scram_users(metastore::MetadataStore& m);

// PLAIN users from a "name:password" file (security::parse_plain_users); the message names the file.
Result<std::map<std::string, std::string>> load_plain_users(const std::string& path);

// `kafscale user add|delete|list ...` (args after "user"). `in` is stdin (--password-file -).
int user_command(const std::vector<std::string>& args, const EnvLookup& env, std::istream& in,
                 std::ostream& out, std::ostream& err);

}  // namespace ks::broker
