#!/usr/bin/env bash
# Runs the integration suite: real clients (kcat, confluent-kafka-python, kafka-python, kafkajs, @platformatic/kafka)
# against build/kafscale (override with KAFSCALE_BIN). Extra arguments go to pytest.
# Needs `scripts/install-deps.sh --test` first; a missing tool fails the tests that need it.
#
# Two passes, because a process loads one librdkafka:
#   1. every test except those that need librdkafka 2.15, with Debian's librdkafka (2.0.2);
#   2. the tests marked `librdkafka` (they run in both passes) and those marked `librdkafka_2_15`, with the
#      librdkafka 2.15 built in tests/integration/node-rdkafka first on LD_LIBRARY_PATH (confluent-kafka-python
#      and kcat both load it: the C ABI is stable).
# LIBRDKAFKA=2.0.2 or LIBRDKAFKA=2.15 runs one pass only (for local work; CI runs both).
set -uo pipefail
cd "$(dirname "$0")/.."

# Debian's python3, which sees python3-confluent-kafka, python3-kafka and python3-pytest.
PY=/usr/bin/python3
if ! "$PY" -c 'import pytest, confluent_kafka, kafka' 2>/dev/null; then
  echo "run-integration: $PY lacks pytest, confluent_kafka or kafka; run scripts/install-deps.sh --test" >&2
  exit 1
fi
RDK_215_DIR=$PWD/tests/integration/node-rdkafka/node_modules/@confluentinc/kafka-javascript/build/deps
which=${LIBRDKAFKA:-both}

# A pass takes 5-15 minutes on 2 cores (pass 1 about 13 in the last rehearsals); the timeout only stops a
# hang. SIGINT lets pytest print its summary. A sanitized Debug broker (KAFSCALE_SANITIZED=1, make
# test-sanitize) is several times slower, but runs a subset: it gets 2700 s.
pass_timeout_s=1800
if [[ ${KAFSCALE_SANITIZED:-} == 1 ]]; then pass_timeout_s=2700; fi
run_pass() {
  local name=$1
  shift
  echo "=== integration tests, pass: $name ==="
  timeout --signal=INT --kill-after=30 "$pass_timeout_s" "$PY" -m pytest -v -rfE -p no:cacheprovider tests/integration "$@"
  local status=$?
  if ((status == 124)); then echo "run-integration: pass $name timed out after $pass_timeout_s s" >&2; fi
  return "$status"
}

statuses=()
if [[ $which == both || $which == 2.0.2 ]]; then
  run_pass "librdkafka 2.0.2 (Debian)" -m "not librdkafka_2_15" "$@"
  statuses+=($?)
fi
if [[ $which == both || $which == 2.15 ]]; then
  if [[ ! -e $RDK_215_DIR/librdkafka.so.1 ]]; then
    echo "run-integration: librdkafka 2.15 is not built ($RDK_215_DIR/librdkafka.so.1 is missing):" \
      "run scripts/install-deps.sh --test and read why its build failed" >&2
    statuses+=(1)
  else
    LD_LIBRARY_PATH=$RDK_215_DIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} KAFSCALE_EXPECT_LIBRDKAFKA=2.15 \
      run_pass "librdkafka 2.15" -m "librdkafka or librdkafka_2_15" "$@"
    statuses+=($?)
  fi
fi

# pytest exits 5 when a pass selected no test (e.g. -k matched only tests of the other pass): that is
# fine as long as some pass ran tests.
ran=0 failed=0
for s in "${statuses[@]}"; do
  if ((s == 0)); then ran=1; elif ((s != 5)); then failed=1; fi
done
if ((failed)); then exit 1; fi
if ((!ran)); then echo "run-integration: no test was selected" >&2; exit 5; fi
exit 0
