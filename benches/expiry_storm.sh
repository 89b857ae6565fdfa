#!/usr/bin/env bash
# Expiry storm: 1M keys that expire at the same moment.
#
# Loads KEYS keys (default 1,000,000) with the same absolute deadline (PXAT) into a server,
# then, across the deadline, measures
#   * request stalls: redis-benchmark PING latency (max and p99.9) while the keys expire;
#   * residency: how long after the deadline DBSIZE reaches 0 (expired keys still resident).
# Runs against peregrine-server (--shards 1) and redis-server in turn, each pinned to CPU 0
# with the clients on CPU 1. Usage: benches/expiry_storm.sh [KEYS]
set -euo pipefail
cd "$(dirname "$0")/.."
KEYS=${1:-1000000}
cargo build --release -q -p peregrine-server
PEREGRINE=${CARGO_TARGET_DIR:-target}/release/peregrine-server
WORK=$(mktemp -d)
PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

measure() {
    local name=$1 port=$2
    local deadline_ms=$(( $(date +%s%3N) + 20000 ))
    python3 - "$KEYS" "$deadline_ms" > "$WORK/load.resp" <<'PY'
import sys
keys, deadline = int(sys.argv[1]), sys.argv[2]
out = sys.stdout.buffer
for i in range(keys):
    key = b"key:%012d" % i
    out.write(b"*5\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$16\r\n0123456789abcdef\r\n$4\r\nPXAT\r\n$%d\r\n%s\r\n" % (len(key), key, len(deadline), deadline.encode()))
PY
    taskset -c 1 redis-cli -p "$port" --pipe < "$WORK/load.resp" > /dev/null
    local loaded; loaded=$(redis-cli -p "$port" dbsize)
    # Wait until 1 s before the deadline, then ping continuously across it.
    while [ $(( $(date +%s%3N) )) -lt $(( deadline_ms - 1000 )) ]; do sleep 0.1; done
    taskset -c 1 redis-benchmark -p "$port" -t ping_mbulk -c 1 -n 60000 --precision 3 > "$WORK/ping.txt" 2>&1 &
    local bench=$!
    local emptied=""
    while true; do
        local now; now=$(date +%s%3N)
        local size; size=$(redis-cli -p "$port" dbsize)
        if [ "$size" = 0 ] && [ "$now" -ge "$deadline_ms" ]; then emptied=$(( now - deadline_ms )); break; fi
        if [ $(( now - deadline_ms )) -gt 60000 ]; then emptied="> 60000 (dbsize $size)"; break; fi
        sleep 0.01
    done
    wait "$bench" || true
    local max; max=$(grep -A2 "latency summary" "$WORK/ping.txt" | tail -1 | awk "{print \$NF}" || true)
    local p999; p999=$(grep -E '^99\.9[0-9]*% <=' "$WORK/ping.txt" | head -1 | awk '{print $3}' || true)
    printf '| %-10s | %9s | %26s | %18s | %14s |\n' "$name" "$loaded" "$emptied" "${max:-?}" "${p999:-?}"
}

echo "Expiry storm: $KEYS keys with one shared deadline ($(date -u +%F), $(nproc) CPUs: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs))"
printf '| %-10s | %9s | %26s | %18s | %14s |\n' server "keys" "ms after deadline to DBSIZE 0" "PING max ms" "PING p99.9 ms"
printf '|%s|%s|%s|%s|%s|\n' ------------ ----------- ---------------------------- -------------------- ----------------

port=$(free_port)
taskset -c 0 "$PEREGRINE" --port "$port" --shards 1 --save "" --appendonly no --dir "$WORK" > "$WORK/peregrine.log" 2>&1 &
PIDS+=($!)
until redis-cli -p "$port" ping > /dev/null 2>&1; do sleep 0.05; done
measure peregrine "$port"

port=$(free_port)
taskset -c 0 redis-server --port "$port" --save "" --appendonly no --dir "$WORK" > "$WORK/redis.log" 2>&1 &
PIDS+=($!)
until redis-cli -p "$port" ping > /dev/null 2>&1; do sleep 0.05; done
measure redis "$port"
