#!/usr/bin/env bash
# Builds the libFuzzer targets declared in tests/fuzz/targets with clang (ASan + UBSan) and runs each
# for FUZZ_SECONDS (default 600), printing executions, coverage and findings per target.
#   bash tests/fuzz/run.sh                  # every target, 10 minutes each
#   FUZZ_SECONDS=60 bash tests/fuzz/run.sh request s3_xml
# A unit running over FUZZ_UNIT_TIMEOUT seconds (default 30) is a finding (a hang).
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
declare -A sources flags
names=()
while IFS='|' read -r name srcs libs _; do
  [[ $name =~ ^[[:space:]]*(#|$) ]] && continue
  name=${name//[[:space:]]/}
  names+=("$name")
  sources[$name]=$srcs
  flags[$name]=$libs
done <tests/fuzz/targets
targets=("$@")
((${#targets[@]})) || targets=("${names[@]}")

# The generated protocol codecs, as the CMake build makes them.
gen="$out/gen/protocol/generated"
/usr/bin/python3 tools/gen_protocol.py --messages src/protocol/messages --out "$gen" >/dev/null

summary=()
found=0
for t in "${targets[@]}"; do
  [[ -n ${sources[$t]+x} ]] || { echo "fuzz: unknown target $t (see tests/fuzz/targets)" >&2; exit 2; }
  srcs=(tests/fuzz/"${t}"_fuzz.cc)
  for s in ${sources[$t]}; do
    if [[ $s == @generated ]]; then srcs+=("$gen"/*.cc); else srcs+=("$s"); fi
  done
  echo "fuzz: building $t"
  # shellcheck disable=SC2086  # the link flags are words
  "$CXX" -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -Isrc \
    -I"$out/gen" "${srcs[@]}" -o "$out/$t" ${flags[$t]}
  mkdir -p "$out/corpus/$t"
  [[ -d tests/fuzz/corpus/$t ]] || { echo "fuzz: no committed corpus tests/fuzz/corpus/$t" >&2; exit 1; }
  echo "fuzz: running $t for $seconds s"
  log="$out/$t.log"
  set +e
  "$out/$t" -max_total_time="$seconds" -timeout="${FUZZ_UNIT_TIMEOUT:-30}" -max_len=65536 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$out/crash-$t-" "$out/corpus/$t" "tests/fuzz/corpus/$t" >"$log" 2>&1
  set -e
  grep -E "ERROR|SUMMARY|Test unit written" "$log" || true
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  cov=$({ grep -oE 'cov: [0-9]+' "$log" || true; } | tail -1 | cut -d' ' -f2)
  # Findings: crashes, leaks, timeouts, out-of-memory. A slow unit (> 10 s, usually a loaded machine) is
  # reported for a look, not counted: replay it alone to see whether it is slow by itself.
  crashes=$({ compgen -G "$out/crash-$t-*" || true; } | { grep -v -- '-slow-unit-' || true; } | wc -l)
  slow=$({ compgen -G "$out/crash-$t-slow-unit-*" || true; } | wc -l)
  summary+=("$(printf '%-13s %12s executions  coverage %6s  crashes %s  slow units %s' "$t" "${execs:-?}" \
    "${cov:-?}" "$crashes" "$slow")")
  ((crashes == 0)) || found=1
done
echo "fuzz: ${seconds} s per target"
printf '%s\n' "${summary[@]}"
if ((found)); then
  echo "fuzz: findings: $(ls "$out"/crash-* 2>/dev/null | grep -v -- '-slow-unit-' | tr '\n' ' ')" >&2
  exit 1
fi
