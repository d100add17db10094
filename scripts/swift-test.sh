#!/usr/bin/env bash
# OpenStack Swift with the s3api middleware on loopback, for S3 backend tests.
#
#   eval "$(scripts/swift-test.sh start)"   # prints KAFSCALE_TEST_S3_* assignments
#   scripts/swift-test.sh halt     # stops the Swift servers, keeps ports and data (fault tests)
#   scripts/swift-test.sh resume   # starts them again: same endpoint, same bucket and objects
#   scripts/swift-test.sh stop     # stops everything and deletes the state
#
# Single node: one-replica rings, workers = 0, mount_check = false, s3api
# before tempauth (user test:tester, key testing). All state (configs, rings,
# devices, logs, pids) lives in one directory, $KAFSCALE_SWIFT_DIR (default
# /tmp/kafscale-swift-$UID); `start` is a no-op that reprints the settings
# when that instance already answers. Ports are picked free at start.
set -euo pipefail

DIR="${KAFSCALE_SWIFT_DIR:-/tmp/kafscale-swift-$(id -u)}"
BUCKET="${KAFSCALE_SWIFT_BUCKET:-kafscale-test}"
ACCESS_KEY="test:tester"
SECRET_KEY="testing"
PY=/usr/bin/python3

log() { echo "swift-test: $*" >&2; }

install_packages() {
  local missing=()
  for p in swift-proxy swift-account swift-container swift-object memcached; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends "${missing[@]}" >&2 ||
    { $sudo apt-get update >&2 && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends "${missing[@]}" >&2; }
}

# Prints N distinct free loopback ports (bound to port 0, then released).
SCRIPTS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
free_ports() {
  "$PY" "$SCRIPTS_DIR/free-ports.py" "$1"
}

print_env() {
  cat "$DIR/env"
}

# 0 when the proxy answers an S3 request with the test credentials.
answers() {
  [ -f "$DIR/env" ] || return 1
  local endpoint
  endpoint=$(sed -n 's/^export KAFSCALE_TEST_S3_ENDPOINT=//p' "$DIR/env")
  curl -fsS -o /dev/null --max-time 2 "$endpoint/healthcheck" 2>/dev/null
}

stop() {
  if [ -d "$DIR/run" ]; then
    for f in "$DIR"/run/*.pid; do
      [ -f "$f" ] || continue
      local pid
      pid=$(cat "$f")
      kill "$pid" 2>/dev/null || true
    done
    # Wait (bounded) for them to exit, then force.
    for _ in $(seq 1 50); do
      local alive=0
      for f in "$DIR"/run/*.pid; do
        [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null && alive=1
      done
      [ "$alive" -eq 0 ] && break
      sleep 0.1
    done
    for f in "$DIR"/run/*.pid; do
      [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null || true
    done
  fi
  # Only ever delete a directory this script made.
  if [ -f "$DIR/swift.conf" ] || [ -d "$DIR/run" ]; then
    rm -rf "$DIR"
  fi
}

write_configs() {
  local proxy=$1 acct=$2 cont=$3 obj=$4 mc=$5
  mkdir -p "$DIR/run" "$DIR/log" "$DIR/srv/d1" "$DIR/cache"
  cat >"$DIR/swift.conf" <<EOF
[swift-hash]
swift_hash_path_suffix = kafscale-test-suffix
swift_hash_path_prefix = kafscale-test-prefix

[storage-policy:0]
name = Policy-0
default = yes
EOF
  local user
  user=$(id -un)
  local common="[DEFAULT]
bind_ip = 127.0.0.1
workers = 0
user = $user
swift_dir = $DIR
devices = $DIR/srv
mount_check = false
log_facility = LOG_LOCAL0
log_level = WARNING
"
  for kind in account container object; do
    local port
    case $kind in account) port=$acct ;; container) port=$cont ;; object) port=$obj ;; esac
    cat >"$DIR/$kind-server.conf" <<EOF
${common}bind_port = $port

[pipeline:main]
pipeline = $kind-server

[app:$kind-server]
use = egg:swift#$kind
EOF
  done
  cat >"$DIR/proxy-server.conf" <<EOF
${common}bind_port = $proxy

[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats s3api tempauth copy slo dlo proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true

[filter:s3api]
use = egg:swift#s3api
location = us-east-1

[filter:tempauth]
use = egg:swift#tempauth
user_test_tester = $SECRET_KEY .admin

[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:$mc

[filter:catch_errors]
use = egg:swift#catch_errors

[filter:gatekeeper]
use = egg:swift#gatekeeper

[filter:healthcheck]
use = egg:swift#healthcheck

[filter:proxy-logging]
use = egg:swift#proxy_logging

[filter:listing_formats]
use = egg:swift#listing_formats

[filter:copy]
use = egg:swift#copy

[filter:slo]
use = egg:swift#slo

[filter:dlo]
use = egg:swift#dlo
EOF
  # One-replica rings with one device each (2^8 partitions: plenty for tests).
  for kind in account container object; do
    local port
    case $kind in account) port=$acct ;; container) port=$cont ;; object) port=$obj ;; esac
    (cd "$DIR" && swift-ring-builder "$kind.builder" create 8 1 1 >/dev/null &&
      swift-ring-builder "$kind.builder" add "r1z1-127.0.0.1:$port/d1" 1 >/dev/null &&
      swift-ring-builder "$kind.builder" rebalance >/dev/null) || {
      log "ring build failed for $kind"
      return 1
    }
  done
}

spawn() {
  local name=$1
  shift
  nohup "$@" >"$DIR/log/$name.log" 2>&1 9>&- &
  echo $! >"$DIR/run/$name.pid"
}

start() {
  if answers; then
    print_env
    return 0
  fi
  [ -d "$DIR" ] && stop
  install_packages
  read -r proxy acct cont obj mc <<<"$(free_ports 5)"
  write_configs "$proxy" "$acct" "$cont" "$obj" "$mc"
  spawn memcached memcached -l 127.0.0.1 -p "$mc" -U 0 -m 64 -u "$(id -un)"
  for kind in account container object proxy; do
    spawn "$kind" "swift-$kind-server" "$DIR/$kind-server.conf"
  done
  local endpoint="http://127.0.0.1:$proxy"
  # Up in a few seconds; give it 60 s on a loaded machine.
  local deadline=$((SECONDS + 60))
  until curl -fsS -o /dev/null --max-time 2 "$endpoint/healthcheck" 2>/dev/null; do
    for f in "$DIR"/run/*.pid; do
      if ! kill -0 "$(cat "$f")" 2>/dev/null; then
        log "$(basename "$f" .pid) exited; its log:"
        tail -20 "$DIR/log/$(basename "$f" .pid).log" >&2
        return 1
      fi
    done
    if [ $SECONDS -ge $deadline ]; then
      log "proxy did not answer within 60 s"
      return 1
    fi
    sleep 0.2
  done
  # Create the bucket with a SigV4-signed request (retried: the account is
  # auto-created on first use and the servers may still be warming up).
  local code=""
  deadline=$((SECONDS + 30))
  while :; do
    # The key pair goes in the URL's user info (curl's --user would split the
    # access key "test:tester" at its ':'), passed on stdin, not argv.
    code=$(echo "url = \"http://test%3Atester:$SECRET_KEY@${endpoint#http://}/$BUCKET\"" |
      curl -sS -K - -o "$DIR/log/create-bucket.out" -w '%{http_code}' --max-time 10 -X PUT \
        --aws-sigv4 "aws:amz:us-east-1:s3" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" 2>/dev/null || true)
    case $code in 200 | 409) break ;; esac
    if [ $SECONDS -ge $deadline ]; then
      log "creating bucket $BUCKET failed (HTTP $code): $(cat "$DIR/log/create-bucket.out" 2>/dev/null)"
      return 1
    fi
    sleep 0.3
  done
  cat >"$DIR/env" <<EOF
export KAFSCALE_TEST_S3_ENDPOINT=$endpoint
export KAFSCALE_TEST_S3_ACCESS_KEY=$ACCESS_KEY
export KAFSCALE_TEST_S3_SECRET=$SECRET_KEY
export KAFSCALE_TEST_S3_BUCKET=$BUCKET
export KAFSCALE_TEST_S3_REGION=us-east-1
EOF
  print_env
}

# The Swift servers (memcached, only a cache, keeps running through halt).
SERVERS="account container object proxy"

kill_pids() {
  local files=("$@") f
  for f in "${files[@]}"; do
    [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true
  done
  for _ in $(seq 1 50); do  # up to 5 s, then force
    local alive=0
    for f in "${files[@]}"; do
      [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null && alive=1
    done
    [ "$alive" -eq 0 ] && break
    sleep 0.1
  done
  for f in "${files[@]}"; do
    [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null || true
  done
}

halt() {
  [ -f "$DIR/env" ] || {
    log "no Swift instance in $DIR"
    return 1
  }
  local files=() kind
  for kind in $SERVERS; do files+=("$DIR/run/$kind.pid"); done
  kill_pids "${files[@]}"
}

# Same configs, so same ports; the devices directory still holds the bucket.
resume() {
  [ -f "$DIR/env" ] || {
    log "no halted Swift instance in $DIR"
    return 1
  }
  local endpoint kind
  endpoint=$(sed -n 's/^export KAFSCALE_TEST_S3_ENDPOINT=//p' "$DIR/env")
  for kind in $SERVERS; do
    if ! { [ -f "$DIR/run/$kind.pid" ] && kill -0 "$(cat "$DIR/run/$kind.pid")" 2>/dev/null; }; then
      spawn "$kind" "swift-$kind-server" "$DIR/$kind-server.conf"
    fi
  done
  # The proxy answers first; the bucket answers once the account and container servers do.
  local deadline=$((SECONDS + 60)) code=""
  while :; do
    code=$(echo "url = \"http://test%3Atester:$SECRET_KEY@${endpoint#http://}/$BUCKET\"" |
      curl -sS -K - -o /dev/null -w '%{http_code}' --max-time 5 -I \
        --aws-sigv4 "aws:amz:us-east-1:s3" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" 2>/dev/null || true)
    [ "$code" = 200 ] && break
    for kind in $SERVERS; do
      if ! kill -0 "$(cat "$DIR/run/$kind.pid")" 2>/dev/null; then
        log "$kind exited on resume; its log:"
        tail -20 "$DIR/log/$kind.log" >&2
        return 1
      fi
    done
    if [ $SECONDS -ge $deadline ]; then
      log "bucket $BUCKET did not answer within 60 s of resume (HTTP $code)"
      return 1
    fi
    sleep 0.2
  done
  print_env
}

# Concurrent start/stop calls (parallel test runs) take turns.
exec 9>"$DIR.lock"
flock 9

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  halt) halt ;;
  resume) resume ;;
  env) answers && print_env ;;
  *)
    echo "usage: $0 start|stop|halt|resume|env" >&2
    exit 2
    ;;
esac
