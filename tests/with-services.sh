#!/usr/bin/env bash
# Runs a command with the real services the tests need, started on loopback:
# etcd 3.4 (Debian etcd-server) and OpenStack Swift with s3api (verifies SigV4).
# Exports KAFSCALE_TEST_ETCD and KAFSCALE_TEST_S3_* for the tests; stops both
# services afterwards, whatever the command's outcome.
#
# Each run gets services of its own (directories named after this shell's pid) unless
# KAFSCALE_SWIFT_DIR / KAFSCALE_ETCD_DIR say otherwise: two runs at once (two worktrees)
# must not share a Swift or an etcd, since the first to finish stops them.
set -uo pipefail
cd "$(dirname "$0")/.."
export KAFSCALE_SWIFT_DIR="${KAFSCALE_SWIFT_DIR:-/tmp/kafscale-swift-$(id -u)-$$}"
export KAFSCALE_ETCD_DIR="${KAFSCALE_ETCD_DIR:-/dev/shm/kafscale-etcd-$(id -u)-$$}"

stop_all() {
  scripts/swift-test.sh stop >/dev/null 2>&1 || true
  scripts/etcd-test.sh stop >/dev/null 2>&1 || true
}
trap stop_all EXIT

if ! KAFSCALE_TEST_ETCD=$(scripts/etcd-test.sh start); then
  echo "with-services: etcd did not start" >&2
  exit 1
fi
export KAFSCALE_TEST_ETCD
if ! swift_env=$(scripts/swift-test.sh start); then
  echo "with-services: Swift (S3 API) did not start" >&2
  exit 1
fi
eval "$swift_env"
export KAFSCALE_TEST_S3_ENDPOINT KAFSCALE_TEST_S3_ACCESS_KEY KAFSCALE_TEST_S3_SECRET KAFSCALE_TEST_S3_BUCKET
echo "with-services: etcd at $KAFSCALE_TEST_ETCD, S3 (Swift) at $KAFSCALE_TEST_S3_ENDPOINT"
"$@"
