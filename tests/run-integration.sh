#!/usr/bin/env bash
# Runs the integration suite: real clients (kcat, confluent-kafka-python, kafka-python, kafkajs, @platformatic/kafka)
# against build/kafscale (override with KAFSCALE_BIN). Extra arguments go to pytest.
# Needs `scripts/install-deps.sh --test` first; a missing tool fails the tests that need it.
set -uo pipefail
cd "$(dirname "$0")/.."

# Debian's python3, which sees python3-confluent-kafka, python3-kafka and python3-pytest.
PY=/usr/bin/python3
if ! "$PY" -c 'import pytest, confluent_kafka, kafka' 2>/dev/null; then
  echo "run-integration: $PY lacks pytest, confluent_kafka or kafka; run scripts/install-deps.sh --test" >&2
  exit 1
fi

# The suite takes a few minutes; this only stops a hang. SIGINT lets pytest print its summary.
timeout --signal=INT --kill-after=30 900 \
  "$PY" -m pytest -v -rfE -p no:cacheprovider tests/integration "$@"
status=$?
if ((status == 124)); then echo "run-integration: timed out after 900 s" >&2; fi
exit "$status"
