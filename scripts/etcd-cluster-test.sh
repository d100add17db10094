#!/usr/bin/env bash
# A 3-member etcd cluster on loopback, for tests of the brokers against etcd
# member failures (leader killed, quorum lost).
#
#   URLS="$(scripts/etcd-cluster-test.sh start)"  # prints http://127.0.0.1:P0,127.0.0.1:P1,127.0.0.1:P2
#   scripts/etcd-cluster-test.sh leader            # the index (0..2) of the current leader
#   scripts/etcd-cluster-test.sh kill I            # kill -9 member I (keeps its data and ports)
#   scripts/etcd-cluster-test.sh halt I            # stops member I (SIGTERM, then force after 10 s)
#   scripts/etcd-cluster-test.sh resume I          # starts member I again: same ports, same data
#   scripts/etcd-cluster-test.sh stop              # stops every member and deletes the state
#   scripts/etcd-cluster-test.sh urls|pid I
#
# The URL list is what a broker's etcd://H:P,H:P,H:P/PREFIX wants after
# "http://" (the scheme is given once). Members are named m0..m2.
#
# State (per member: data dir, pid, log; the ports) lives in
# $KAFSCALE_ETCD_CLUSTER_DIR (default: $KAFSCALE_ETCD_DIR-cluster, or
# /dev/shm/kafscale-etcd-cluster-$UID; tmpfs because etcd fsyncs a lot).
# Ports are picked free at start. Election timing: etcd's defaults (heartbeat
# 100 ms, election 1000 ms); KAFSCALE_ETCD_EXTRA_ARGS is added to every member.
set -euo pipefail

if [ -n "${KAFSCALE_ETCD_CLUSTER_DIR:-}" ]; then
  DIR=$KAFSCALE_ETCD_CLUSTER_DIR
elif [ -n "${KAFSCALE_ETCD_DIR:-}" ]; then
  DIR="$KAFSCALE_ETCD_DIR-cluster"
else
  DIR="/dev/shm/kafscale-etcd-cluster-$(id -u)"
fi
N=3
PY=/usr/bin/python3

log() { echo "etcd-cluster-test: $*" >&2; }

# Prints N distinct free loopback ports (bound to port 0, then released).
SCRIPTS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
free_ports() {
  "$PY" "$SCRIPTS_DIR/free-ports.py" "$1"
}

# ports file: one line "client peer" per member.
client_port() { sed -n "$(($1 + 1))p" "$DIR/ports" | cut -d' ' -f1; }
peer_port() { sed -n "$(($1 + 1))p" "$DIR/ports" | cut -d' ' -f2; }
client_url() { echo "http://127.0.0.1:$(client_port "$1")"; }

# The member answers /health with true: it has a leader (a quorum).
healthy() {
  curl -fsS --max-time 2 "$(client_url "$1")/health" 2>/dev/null | grep -q '"health":"true"'
}

running() {
  [ -f "$DIR/m$1/pid" ] && kill -0 "$(cat "$DIR/m$1/pid")" 2>/dev/null
}

check_index() {
  [[ "${1:-}" =~ ^[0-9]+$ ]] && (($1 < N)) || {
    log "member index must be 0..$((N - 1)), got '${1:-}'"
    exit 2
  }
  [ -f "$DIR/ports" ] || {
    log "no etcd cluster in $DIR"
    exit 1
  }
}

initial_cluster() {
  local s="" i
  for ((i = 0; i < N; i++)); do
    s+="${s:+,}m$i=http://127.0.0.1:$(peer_port "$i")"
  done
  echo "$s"
}

# Starts member $1 in the background (data dir kept across halt/resume).
launch() {
  local i=$1 url
  url=$(client_url "$i")
  mkdir -p "$DIR/m$i"
  nohup etcd --name "m$i" --data-dir "$DIR/m$i/data" \
    --listen-client-urls "$url" --advertise-client-urls "$url" \
    --listen-peer-urls "http://127.0.0.1:$(peer_port "$i")" \
    --initial-advertise-peer-urls "http://127.0.0.1:$(peer_port "$i")" \
    --initial-cluster "$(initial_cluster)" --initial-cluster-state new \
    --initial-cluster-token "kafscale-test-$(basename "$DIR")" \
    ${KAFSCALE_ETCD_EXTRA_ARGS:-} >>"$DIR/m$i/etcd.log" 2>&1 &
  echo $! >"$DIR/m$i/pid"
}

# Waits (bounded: 30 s) until members "$@" are healthy. 0 when they are.
wait_healthy() {
  local i ok
  for _ in $(seq 1 300); do
    ok=1
    for i in "$@"; do
      running "$i" || return 1
      healthy "$i" || ok=0
    done
    ((ok)) && return 0
    sleep 0.1
  done
  return 1
}

urls() {
  local s="" i
  for ((i = 0; i < N; i++)); do
    if ((i == 0)); then s="$(client_url 0)"; else s+=",127.0.0.1:$(client_port "$i")"; fi
  done
  echo "$s"
}

# SIGTERM (or $2) to member $1, then SIGKILL after 10 s; keeps its state.
halt() {
  local i=$1 sig=${2:-TERM} pid
  running "$i" || return 0
  pid=$(cat "$DIR/m$i/pid")
  kill "-$sig" "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -9 "$pid" 2>/dev/null || true
}

stop() {
  local i
  if [ -f "$DIR/ports" ]; then
    for ((i = 0; i < N; i++)); do halt "$i"; done
  fi
  rm -rf "$DIR"
}

start() {
  if [ -f "$DIR/ports" ] && wait_healthy_now; then
    urls
    return 0
  fi
  command -v etcd >/dev/null || {
    log "etcd not installed (apt-get install etcd-server etcd-client)"
    return 1
  }
  # A port picked free can be taken before etcd binds it: retry a few times.
  local attempt i p
  for attempt in 1 2 3; do
    stop
    mkdir -p "$DIR"
    read -r -a p <<<"$(free_ports $((2 * N)))"
    : >"$DIR/ports"
    for ((i = 0; i < N; i++)); do echo "${p[2 * i]} ${p[2 * i + 1]}" >>"$DIR/ports"; done
    for ((i = 0; i < N; i++)); do launch "$i"; done
    if wait_healthy 0 1 2; then
      urls
      return 0
    fi
    log "attempt $attempt failed; last log lines:"
    for ((i = 0; i < N; i++)); do tail -n 3 "$DIR/m$i/etcd.log" >&2 || true; done
  done
  stop
  return 1
}

# Every member already running and healthy (a second `start`).
wait_healthy_now() {
  local i
  for ((i = 0; i < N; i++)); do
    running "$i" && healthy "$i" || return 1
  done
}

# Member $1 again, on its ports with its data. Waits until it answers when a
# quorum can form (with two members down it cannot: the process is left
# running and `resume` returns at once).
resume() {
  local i=$1 j up=0
  running "$i" || launch "$i"
  for ((j = 0; j < N; j++)); do running "$j" && up=$((up + 1)); done
  if ((up * 2 > N)) && ! wait_healthy "$i"; then
    log "member $i not healthy after its restart; last log lines:"
    tail -n 5 "$DIR/m$i/etcd.log" >&2 || true
    return 1
  fi
  running "$i"
}

# The index of the member the live members report as leader ("" exit 1: none).
leader() {
  local eps="" i
  for ((i = 0; i < N; i++)); do
    running "$i" && eps+="${eps:+,}$(client_url "$i")"
  done
  [ -n "$eps" ] || return 1
  ETCDCTL_API=3 etcdctl --endpoints "$eps" --command-timeout=3s endpoint status -w json 2>/dev/null |
    "$PY" -c '
import json, sys
urls = sys.argv[1:]
for st in json.load(sys.stdin):
    lead = st["Status"].get("leader")
    if lead and st["Status"]["header"]["member_id"] == lead:
        print(urls.index(st["Endpoint"]))
        sys.exit(0)
sys.exit(1)' $(for ((i = 0; i < N; i++)); do client_url "$i"; done)
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  urls) [ -f "$DIR/ports" ] && urls ;;
  leader) leader ;;
  kill) check_index "${2:-}" && halt "$2" KILL ;;
  halt) check_index "${2:-}" && halt "$2" ;;
  resume) check_index "${2:-}" && resume "$2" ;;
  pid) check_index "${2:-}" && cat "$DIR/m$2/pid" ;;
  *)
    echo "usage: $0 start|stop|urls|leader|kill I|halt I|resume I|pid I" >&2
    exit 2
    ;;
esac
