// Machine references for the benchmark report: memcpy and CRC32C throughput (Google Benchmark).
// Sizes: 64 KiB (cache-resident, the best case) and 4 MiB (a flush object, streams through memory).
#include <benchmark/benchmark.h>

#include <cstring>
#include <string>

#include "common/crc32c.h"

namespace {

std::string filled(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>(i * 131 + (i >> 9));
  return s;
}

void BM_Memcpy(benchmark::State& state) {
  const auto n = static_cast<size_t>(state.range(0));
  std::string src = filled(n), dst(n, '\0');
  for (auto _ : state) {
    std::memcpy(dst.data(), src.data(), n);
    benchmark::DoNotOptimize(dst.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(n));
}

void BM_Crc32c(benchmark::State& state) {
  const auto n = static_cast<size_t>(state.range(0));
  std::string src = filled(n);
  for (auto _ : state) benchmark::DoNotOptimize(ks::crc32c(src));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(n));
}

BENCHMARK(BM_Memcpy)->Arg(64 << 10)->Arg(4 << 20);
BENCHMARK(BM_Crc32c)->Arg(64 << 10)->Arg(4 << 20);

}  // namespace

BENCHMARK_MAIN();
