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
#include "security/scram_store.h"

namespace ks::broker {

// PLAIN users from a "name:password" file (security::parse_plain_users); the message names the file.
Result<std::map<std::string, std::string>> load_plain_users(const std::string& path);

// `kafscale user add|delete|list ...` (args after "user"). `in` is stdin (--password-file -).
int user_command(const std::vector<std::string>& args, const EnvLookup& env, std::istream& in,
                 std::ostream& out, std::ostream& err);

}  // namespace ks::broker
