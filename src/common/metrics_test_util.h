// Test helper: reading one series back from a rendered /metrics page.
#pragma once

#include <sstream>
#include <string>

namespace ks::metrics::testing {

// The value of one rendered series (e.g. `x_bucket{le="0.01",op="put"}`), -1 when absent.
inline double series_value(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 &&
        line[series.size()] == ' ')
      return std::stod(line.substr(series.size() + 1));
  }
  return -1;
}

}  // namespace ks::metrics::testing
