#include "protocol/records.h"

namespace ks::protocol {

size_t Records::size() const {
  size_t n = 0;
  for (std::string_view s : slices) n += s.size();
  return n;
}

void Records::append(std::string_view slice, std::shared_ptr<const void> owner) {
  is_null = false;
  if (!slice.empty()) slices.push_back(slice);
  if (owner) owners.push_back(std::move(owner));
}

Records Records::view(std::string_view data) {
  Records r;
  r.append(data);
  return r;
}

std::string Records::flatten() const {
  std::string out;
  out.reserve(size());
  for (std::string_view s : slices) out.append(s);
  return out;
}

bool Records::operator==(const Records& other) const {
  if (is_null != other.is_null) return false;
  if (is_null) return true;
  return size() == other.size() && flatten() == other.flatten();
}

}  // namespace ks::protocol
