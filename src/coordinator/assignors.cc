#include "coordinator/assignors.h"

#include <algorithm>
#include <limits>

namespace ks::coordinator {

std::size_t partition_count(const Assignment& a) {
  std::size_t n = 0;
  for (const auto& [t, ps] : a) n += ps.size();
  return n;
}

bool contains(const Assignment& a, const cluster::TopicId& t, std::int32_t p) {
  auto it = a.find(t);
  return it != a.end() && it->second.contains(p);
}

Assignment minus(const Assignment& a, const Assignment& b) {
  Assignment out;
  for (const auto& [t, ps] : a) {
    for (auto p : ps) {
      if (!contains(b, t, p)) out[t].insert(p);
    }
  }
  return out;
}

Assignment intersect(const Assignment& a, const Assignment& b) {
  Assignment out;
  for (const auto& [t, ps] : a) {
    for (auto p : ps) {
      if (contains(b, t, p)) out[t].insert(p);
    }
  }
  return out;
}

Assignment unite(const Assignment& a, const Assignment& b) {
  Assignment out = a;
  for (const auto& [t, ps] : b) out[t].insert(ps.begin(), ps.end());
  return out;
}

namespace {

// Members subscribed to each topic, in member-id order.
std::map<cluster::TopicId, std::vector<std::string>> subscribers(const AssignmentSpec& spec) {
  std::map<cluster::TopicId, std::vector<std::string>> out;
  for (const auto& [id, m] : spec.members) {
    for (const auto& t : m.topics) {
      if (spec.partitions.contains(t)) out[t].push_back(id);
    }
  }
  return out;
}

}  // namespace

TargetAssignment assign_uniform(const AssignmentSpec& spec) {
  TargetAssignment out;
  for (const auto& [id, m] : spec.members) out[id];
  const auto subs = subscribers(spec);
  std::map<std::string, std::size_t> count;
  for (const auto& [id, m] : spec.members) count[id] = 0;
  struct Slot {
    cluster::TopicId topic;
    std::int32_t partition;
    const std::vector<std::string>* eligible;
    std::string owner;  // empty: unassigned
  };
  std::vector<Slot> slots;
  for (const auto& [t, n] : spec.partitions) {
    auto it = subs.find(t);
    if (it == subs.end()) continue;
    for (std::int32_t p = 0; p < n; ++p) slots.push_back(Slot{t, p, &it->second, {}});
  }
  // 1. Stickiness: a partition stays with its previous owner if still subscribed.
  for (auto& s : slots) {
    for (const auto& id : *s.eligible) {
      if (contains(spec.members.at(id).previous, s.topic, s.partition)) {
        s.owner = id;
        ++count[id];
        break;
      }
    }
  }
  auto least = [&](const std::vector<std::string>& eligible) -> const std::string& {
    const std::string* best = &eligible.front();
    for (const auto& id : eligible) {
      if (count[id] < count[*best]) best = &id;
    }
    return *best;
  };
  // 2. Unassigned partitions go to the least loaded eligible member.
  for (auto& s : slots) {
    if (!s.owner.empty()) continue;
    s.owner = least(*s.eligible);
    ++count[s.owner];
  }
  // 3. Balance: move a partition while its owner has two or more partitions
  // more than the least loaded member that could take it. Each move lowers
  // the sum of squared counts, so this ends; rounds are bounded anyway.
  constexpr int kMaxRounds = 64;
  for (int round = 0; round < kMaxRounds; ++round) {
    bool moved = false;
    for (auto& s : slots) {
      const std::string& to = least(*s.eligible);
      if (count[s.owner] > count[to] + 1) {
        --count[s.owner];
        ++count[to];
        s.owner = to;
        moved = true;
      }
    }
    if (!moved) break;
  }
  for (const auto& s : slots) out[s.owner][s.topic].insert(s.partition);
  return out;
}

TargetAssignment assign_range(const AssignmentSpec& spec) {
  TargetAssignment out;
  for (const auto& [id, m] : spec.members) out[id];
  for (const auto& [t, members] : subscribers(spec)) {
    const std::int32_t n = spec.partitions.at(t);
    const auto m = static_cast<std::int32_t>(members.size());
    const std::int32_t base = n / m, extra = n % m;
    std::int32_t p = 0;
    for (std::int32_t i = 0; i < m; ++i) {
      const std::int32_t take = base + (i < extra ? 1 : 0);
      for (std::int32_t k = 0; k < take; ++k) out[members[static_cast<std::size_t>(i)]][t].insert(p++);
    }
  }
  return out;
}

bool known_assignor(std::string_view name) { return name == kUniformAssignor || name == kRangeAssignor; }

TargetAssignment run_assignor(std::string_view name, const AssignmentSpec& spec) {
  return name == kRangeAssignor ? assign_range(spec) : assign_uniform(spec);
}

}  // namespace ks::coordinator
