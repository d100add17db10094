// Identifiers shared by the partition log modules.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <functional>
#include <string>

namespace ks::cluster {

// A topic's 16-byte id (Kafka's topic UUID). Data in objects is keyed by id,
// never by name, so a re-created topic never sees the old topic's records.
using TopicId = std::array<std::uint8_t, 16>;

std::string to_hex(const TopicId& id);
bool from_hex(std::string_view hex, TopicId& out);
TopicId random_topic_id();

struct PartitionKey {
  TopicId topic{};
  std::int32_t partition = 0;
  auto operator<=>(const PartitionKey&) const = default;
};

struct PartitionKeyHash {
  std::size_t operator()(const PartitionKey& k) const {
    std::size_t h = 1469598103934665603ull;
    for (auto b : k.topic) h = (h ^ b) * 1099511628211ull;
    return h ^ (static_cast<std::size_t>(k.partition) * 0x9e3779b97f4a7c15ull);
  }
};

}  // namespace ks::cluster
