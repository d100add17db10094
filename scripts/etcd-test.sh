#!/usr/bin/env bash
# A single-node etcd on loopback, for the etcd metadata-store tests.
#
#   export KAFSCALE_TEST_ETCD="$(scripts/etcd-test.sh start)"   # prints the client URL
#   scripts/etcd-test.sh stop
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
free_ports() {
  "$PY" - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
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
    local client peer url
    read -r client peer <<<"$(free_ports 2)"
    url="http://127.0.0.1:$client"
    nohup etcd --name kafscale-test --data-dir "$DIR/data" \
      --listen-client-urls "$url" --advertise-client-urls "$url" \
      --listen-peer-urls "http://127.0.0.1:$peer" --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
      --initial-cluster "kafscale-test=http://127.0.0.1:$peer" --initial-cluster-state new \
      >"$DIR/etcd.log" 2>&1 &
    echo $! >"$DIR/pid"
    # Wait (bounded: 30 s) until it answers /health.
    for _ in $(seq 1 300); do
      if healthy "$url"; then
        echo "$url" >"$DIR/url"
        echo "$url"
        return 0
      fi
      running || break
      sleep 0.1
    done
    log "attempt $attempt failed; last log lines:"
    tail -n 5 "$DIR/etcd.log" >&2 || true
  done
  stop
  return 1
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  url) cat "$DIR/url" ;;
  *)
    echo "usage: $0 start|stop|url" >&2
    exit 2
    ;;
esac
