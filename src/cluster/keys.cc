#include "cluster/keys.h"

#include <fmt/format.h>

#include <charconv>

#include "common/hex.h"

namespace ks::cluster::keys {

std::string cluster() { return kRoot + "cluster"; }
std::string topics_prefix() { return kRoot + "topics/"; }
std::string topic(const std::string& name) { return topics_prefix() + name; }
std::string producer_ids() { return kRoot + "producer-ids"; }

std::string brokers_prefix() { return kRoot + "brokers/"; }
std::string broker_prefix(std::int32_t node) { return fmt::format("{}{}/", brokers_prefix(), node); }
std::string owner(std::int32_t node) { return broker_prefix(node) + "owner"; }
std::string broker_config(std::int32_t node) { return broker_prefix(node) + "config"; }
std::string broker_defaults() { return kRoot + "broker-defaults"; }
std::string commits_prefix(std::int32_t node) { return broker_prefix(node) + "commits/"; }
std::string commit(std::int32_t node, std::uint64_t seq) {
  return fmt::format("{}{:020}", commits_prefix(node), seq);
}
std::string checkpoint(std::int32_t node) { return broker_prefix(node) + "checkpoint"; }

// ---------------------------------------------------------------- streams, members

std::string streams_prefix() { return kRoot + "streams/"; }
std::string stream_owner(std::int32_t stream) {
  return fmt::format("{}{:04}/owner", streams_prefix(), stream);
}
std::string stream_checkpoint(std::int32_t stream) {
  return fmt::format("{}{:04}/checkpoint", streams_prefix(), stream);
}
std::string members_prefix() { return kRoot + "members/"; }
std::string member(std::int32_t node) { return fmt::format("{}{}", members_prefix(), node); }
std::string controller() { return kRoot + "controller"; }
std::string placement() { return kRoot + "placement"; }

std::string scram_prefix() { return kRoot + "scram/"; }
std::string scram_credential(std::string_view mechanism, std::string_view user) {
  return scram_prefix() + std::string(mechanism) + "/" + encode_group_id(user);
}
std::optional<ScramKey> parse_scram_key(std::string_view key) {
  if (!key.starts_with(scram_prefix())) return std::nullopt;
  key.remove_prefix(scram_prefix().size());
  std::size_t slash = key.find('/');
  if (slash == std::string_view::npos || slash == 0) return std::nullopt;
  auto user = decode_group_id(key.substr(slash + 1));
  if (!user || user->empty()) return std::nullopt;
  return ScramKey{std::string(key.substr(0, slash)), std::move(*user)};
}

std::optional<std::int32_t> parse_stream_checkpoint_key(std::string_view key) {
  const std::string prefix = streams_prefix();
  constexpr std::string_view kSuffix = "/checkpoint";
  if (!key.starts_with(prefix) || !key.ends_with(kSuffix)) return std::nullopt;
  std::string_view id = key.substr(prefix.size(), key.size() - prefix.size() - kSuffix.size());
  std::int32_t stream = -1;
  auto [p, ec] = std::from_chars(id.data(), id.data() + id.size(), stream);
  if (ec != std::errc() || p != id.data() + id.size() || stream < 0) return std::nullopt;
  return stream;
}

std::optional<std::int32_t> parse_member_key(std::string_view key) {
  const std::string prefix = members_prefix();
  if (!key.starts_with(prefix)) return std::nullopt;
  std::string_view rest = key.substr(prefix.size());
  std::int32_t node = -1;
  auto [p, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), node);
  if (ec != std::errc() || p != rest.data() + rest.size() || node < 0) return std::nullopt;
  return node;
}

namespace {
// A non-negative decimal node id at the start of `s`, followed by '/'.
std::optional<std::int32_t> node_then_slash(std::string_view s, std::string_view& rest) {
  std::int32_t node = -1;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), node);
  if (ec != std::errc() || node < 0 || p == s.data() + s.size() || *p != '/') return std::nullopt;
  rest = s.substr(static_cast<std::size_t>(p - s.data()) + 1);
  return node;
}
}  // namespace

std::optional<std::int32_t> parse_node_checkpoint_key(std::string_view key) {
  const std::string prefix = brokers_prefix();
  if (!key.starts_with(prefix)) return std::nullopt;
  std::string_view rest;
  auto node = node_then_slash(key.substr(prefix.size()), rest);
  if (!node || rest != "checkpoint") return std::nullopt;
  return node;
}

std::optional<std::int32_t> parse_commit_node(std::string_view key) {
  const std::string prefix = brokers_prefix();
  if (!key.starts_with(prefix)) return std::nullopt;
  std::string_view rest;
  auto node = node_then_slash(key.substr(prefix.size()), rest);
  if (!node || !rest.starts_with("commits/") || rest.size() == 8) return std::nullopt;
  return node;
}

// ---------------------------------------------------------------- groups

namespace {

bool plain(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
         c == '-';
}

}  // namespace

std::string groups_prefix() { return kRoot + "groups/"; }
std::string group_slot_prefix(std::int32_t slot) { return fmt::format("{}{:04}/", groups_prefix(), slot); }
std::string group_prefix(std::int32_t slot, std::string_view group) {
  return group_slot_prefix(slot) + encode_group_id(group) + "/";
}
std::string group_meta(std::int32_t slot, std::string_view group) {
  return group_prefix(slot, group) + "meta";
}
std::string group_offsets(std::int32_t slot, std::string_view group, std::string_view topic,
                          std::int32_t chunk) {
  return fmt::format("{}offsets/{}/{:06}", group_prefix(slot, group), topic, chunk);
}

std::string group_configs_prefix() { return kRoot + "group-configs/"; }

std::string acls_prefix() { return kRoot + "acls/"; }
std::string acl(int resource_type, int pattern_type, int operation, int permission, std::string_view name,
                std::string_view principal, std::string_view host) {
  return fmt::format("{}{}/{}/{}/{}/{}/{}/{}", acls_prefix(), resource_type, pattern_type, operation,
                     permission, encode_group_id(name), encode_group_id(principal), encode_group_id(host));
}
std::string group_config(std::string_view group) { return group_configs_prefix() + encode_group_id(group); }
std::optional<std::string> parse_group_config_key(std::string_view key) {
  const std::string prefix = group_configs_prefix();
  if (key.substr(0, prefix.size()) != prefix) return std::nullopt;
  return decode_group_id(key.substr(prefix.size()));
}

std::string encode_group_id(std::string_view group) {
  std::string out;
  out.reserve(group.size());
  for (unsigned char c : group) {
    if (plain(c)) {
      out.push_back(static_cast<char>(c));
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  // An empty id still needs a path segment.
  return out.empty() ? "%" : out;
}

std::optional<std::string> decode_group_id(std::string_view enc) {
  if (enc == "%") return std::string();
  std::string out;
  for (std::size_t i = 0; i < enc.size(); ++i) {
    if (enc[i] != '%') {
      out.push_back(enc[i]);
      continue;
    }
    if (i + 2 >= enc.size()) return std::nullopt;
    int hi = hex_digit(enc[i + 1]), lo = hex_digit(enc[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

std::optional<GroupKey> parse_group_key(std::string_view key) {
  const std::string prefix = groups_prefix();
  if (!key.starts_with(prefix)) return std::nullopt;
  key.remove_prefix(prefix.size());
  // <slot:04>/: exactly four digits.
  if (key.size() < 5 || key[4] != '/') return std::nullopt;
  std::int32_t slot = 0;
  for (std::size_t i = 0; i < 4; ++i) {
    if (key[i] < '0' || key[i] > '9') return std::nullopt;
    slot = slot * 10 + (key[i] - '0');
  }
  key.remove_prefix(5);
  auto slash = key.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto group = decode_group_id(key.substr(0, slash));
  if (!group) return std::nullopt;
  std::string_view rest = key.substr(slash + 1);
  GroupKey k;
  k.slot = slot;
  k.group = std::move(*group);
  if (rest == "meta") return k;
  constexpr std::string_view kOffsets = "offsets/";
  if (!rest.starts_with(kOffsets)) return std::nullopt;
  rest.remove_prefix(kOffsets.size());
  slash = rest.rfind('/');
  if (slash == std::string_view::npos || slash == 0) return std::nullopt;
  k.kind = GroupKey::Kind::kOffsets;
  k.topic = std::string(rest.substr(0, slash));
  std::string_view num = rest.substr(slash + 1);
  auto [p, ec] = std::from_chars(num.data(), num.data() + num.size(), k.chunk);
  if (ec != std::errc() || p != num.data() + num.size() || k.chunk < 0) return std::nullopt;
  return k;
}

// ---------------------------------------------------------------- objects

std::string all_objects_prefix() { return "objects/"; }
std::string all_stream_checkpoints_prefix() { return "streams/"; }
std::string all_checkpoints_prefix() { return "checkpoints/"; }
std::optional<std::int32_t> object_node(std::string_view key) {
  std::string_view rest;
  if (key.starts_with(all_objects_prefix()))
    return node_then_slash(key.substr(all_objects_prefix().size()), rest);
  if (!key.starts_with(all_stream_checkpoints_prefix())) return std::nullopt;
  std::string_view after;
  if (!node_then_slash(key.substr(all_stream_checkpoints_prefix().size()), after)) return std::nullopt;
  return node_then_slash(after, rest);
}
std::optional<std::int32_t> stream_checkpoint_object_stream(std::string_view key) {
  if (!object_node(key) || !key.starts_with(all_stream_checkpoints_prefix())) return std::nullopt;
  std::string_view rest;
  return node_then_slash(key.substr(all_stream_checkpoints_prefix().size()), rest);
}
std::string objects_prefix(std::int32_t node) { return fmt::format("{}{}/", all_objects_prefix(), node); }
std::string checkpoints_prefix(std::int32_t node) {
  return fmt::format("{}{}/", all_checkpoints_prefix(), node);
}
std::string object(std::int32_t node, std::uint64_t epoch, std::uint64_t seq) {
  return fmt::format("{}{:016x}-{:016x}.kso", objects_prefix(node), epoch, seq);
}
std::string stream_checkpoints_prefix(std::int32_t stream) {
  return fmt::format("{}{:04}/", all_stream_checkpoints_prefix(), stream);
}
std::string stream_checkpoint_object(std::int32_t stream, std::int32_t node, std::uint64_t epoch,
                                     std::uint64_t seq) {
  return fmt::format("{}{}/{:016x}-{:016x}.ksc", stream_checkpoints_prefix(stream), node, epoch, seq);
}
std::string checkpoint_object(std::int32_t node, std::uint64_t epoch, std::uint64_t seq) {
  return fmt::format("{}{:016x}-{:016x}.ksc", checkpoints_prefix(node), epoch, seq);
}

std::optional<ObjectName> parse_object_name(std::string_view key) {
  auto slash = key.rfind('/');
  if (slash == std::string_view::npos) return std::nullopt;
  std::string_view name = key.substr(slash + 1);
  if (name.size() != 16 + 1 + 16 + 4 || name[16] != '-') return std::nullopt;
  auto hex = [](std::string_view h, std::uint64_t& out) {
    auto [p, ec] = std::from_chars(h.data(), h.data() + h.size(), out, 16);
    return ec == std::errc() && p == h.data() + h.size();
  };
  ObjectName n;
  if (!hex(name.substr(0, 16), n.epoch) || !hex(name.substr(17, 16), n.seq)) return std::nullopt;
  return n;
}

}  // namespace ks::cluster::keys
