#!/usr/bin/env bash
# A single-node etcd on loopback, for the etcd metadata-store tests.
#
#   export KAFSCALE_TEST_ETCD="$(scripts/etcd-test.sh start)"   # prints the client URL
#   scripts/etcd-test.sh halt     # stops etcd, keeps its data and ports (fault tests)
#   scripts/etcd-test.sh resume   # starts it again: same URL, same data
#   scripts/etcd-test.sh stop     # stops it and deletes its state
#
# State (data dir, pid, log, URL) lives in $KAFSCALE_ETCD_DIR (default
# /dev/shm/kafscale-etcd-$UID: etcd preallocates ~120 MB of WAL and fsyncs a
# lot, so tmpfs keeps it fast). Ports are picked free at start. `start` only
# reprints the URL when that instance already answers.
set -euo pipefail

DIR="${KAFSCALE_ETCD_DIR:-/dev/shm/kafscale-etcd-$(id -u)}"
PY=/usr/bin/python3

log() { echo "etcd-test: $*" >&2; }

# Prints N distinct free loopback ports (bound to port 0, then released).
SCRIPTS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
free_ports() {
  "$PY" "$SCRIPTS_DIR/free-ports.py" "$1"
}

healthy() {
  local url=$1
  curl -fsS --max-time 2 "$url/health" 2>/dev/null | grep -q '"health":"true"'
}

running() {
  [ -f "$DIR/pid" ] && kill -0 "$(cat "$DIR/pid")" 2>/dev/null
}

stop() {
  if running; then
    local pid
    pid=$(cat "$DIR/pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do  # up to 10 s, then force
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -rf "$DIR"
}

# Launches etcd on the given ports with the data dir in $DIR (kept across
# halt/resume) and waits (bounded: 30 s) until it answers. 0 when it does.
launch() {
  local client=$1 peer=$2
  local url="http://127.0.0.1:$client"
  nohup etcd --name kafscale-test --data-dir "$DIR/data" \
    --listen-client-urls "$url" --advertise-client-urls "$url" \
    --listen-peer-urls "http://127.0.0.1:$peer" --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
    --initial-cluster "kafscale-test=http://127.0.0.1:$peer" --initial-cluster-state new \
    ${KAFSCALE_ETCD_EXTRA_ARGS:-} >>"$DIR/etcd.log" 2>&1 &
  echo $! >"$DIR/pid"
  for _ in $(seq 1 300); do
    if healthy "$url"; then
      echo "$client $peer" >"$DIR/ports"
      echo "$url" >"$DIR/url"
      return 0
    fi
    running || return 1
    sleep 0.1
  done
  return 1
}

start() {
  if running && [ -f "$DIR/url" ] && healthy "$(cat "$DIR/url")"; then
    cat "$DIR/url"
    return 0
  fi
  command -v etcd >/dev/null || {
    log "etcd not installed (apt-get install etcd-server etcd-client)"
    return 1
  }
  # A port picked free can be taken before etcd binds it: retry a few times.
  for attempt in 1 2 3; do
    stop
    mkdir -p "$DIR"
    local client peer
    read -r client peer <<<"$(free_ports 2)"
    if launch "$client" "$peer"; then
      cat "$DIR/url"
      return 0
    fi
    log "attempt $attempt failed; last log lines:"
    tail -n 5 "$DIR/etcd.log" >&2 || true
  done
  stop
  return 1
}

# Stops the process but keeps the data directory and the ports, so `resume`
# brings back the same cluster at the same URL (an outage, not a new etcd).
halt() {
  [ -f "$DIR/ports" ] || {
    log "no etcd instance in $DIR"
    return 1
  }
  if running; then
    local pid
    pid=$(cat "$DIR/pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do  # up to 10 s, then force
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
  fi
}

resume() {
  [ -f "$DIR/ports" ] || {
    log "no halted etcd instance in $DIR"
    return 1
  }
  if running && healthy "$(cat "$DIR/url")"; then
    cat "$DIR/url"
    return 0
  fi
  local client peer
  read -r client peer <"$DIR/ports"
  # The port was ours a moment ago, but another process may grab it: retry briefly.
  for attempt in 1 2 3; do
    if launch "$client" "$peer"; then
      cat "$DIR/url"
      return 0
    fi
    halt || true
    log "resume attempt $attempt failed; last log lines:"
    tail -n 5 "$DIR/etcd.log" >&2 || true
    sleep 0.5
  done
  return 1
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  halt) halt ;;
  resume) resume ;;
  url) cat "$DIR/url" ;;
  *)
    echo "usage: $0 start|stop|halt|resume|url" >&2
    exit 2
    ;;
esac
