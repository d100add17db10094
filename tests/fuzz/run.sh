#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs each for FUZZ_SECONDS (default 600).
#   bash tests/fuzz/run.sh                  # every target, 10 minutes each
#   FUZZ_SECONDS=60 bash tests/fuzz/run.sh record_batch
# Seeds are committed in tests/fuzz/corpus/<target>/; new inputs go to build-fuzz/corpus/<target>/ and a
# crash to build-fuzz/crash-<target>-* (add it to the committed corpus once fixed, as a regression input).
set -euo pipefail
cd "$(dirname "$0")/../.."
CXX=${FUZZ_CXX:-clang++-14}
if ! command -v "$CXX" >/dev/null; then
  echo "fuzz: $CXX is missing (apt-get install clang-14 libclang-rt-14-dev)" >&2
  exit 1
fi
out=build-fuzz
mkdir -p "$out"
seconds=${FUZZ_SECONDS:-600}
targets=("$@")
((${#targets[@]})) || targets=(record_batch)
for t in "${targets[@]}"; do
  case $t in
    record_batch)
      srcs=(tests/fuzz/record_batch_fuzz.cc src/protocol/compression.cc src/protocol/record_batch.cc
        src/common/crc32c.cc src/common/assert.cc)
      libs=(-lz -lsnappy -llz4 -lzstd -lisal -lfmt) ;;
    *) echo "fuzz: unknown target $t" >&2; exit 2 ;;
  esac
  echo "fuzz: building $t"
  "$CXX" -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -Isrc \
    "${srcs[@]}" -o "$out/$t" "${libs[@]}"
  mkdir -p "$out/corpus/$t"
  echo "fuzz: running $t for $seconds s"
  "$out/$t" -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$out/crash-$t-" "$out/corpus/$t" "tests/fuzz/corpus/$t" 2>&1 |
    grep -E "DONE|^stat::|ERROR|SUMMARY|Test unit written" || true
  if compgen -G "$out/crash-$t-*" >/dev/null; then
    echo "fuzz: $t found crashes: $(ls "$out"/crash-"$t"-*)" >&2
    exit 1
  fi
done
