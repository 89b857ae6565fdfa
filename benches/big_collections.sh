#!/usr/bin/env bash
# Long operations on huge collections: does the server stall?
#
# Builds a set of MEMBERS members (default 10,000,000) in a fresh server, then for each
# operation below measures, with a PING probe running on another connection the whole
# time, how long the operation took and the longest a PING waited (the stall other
# clients see):
#   SUNIONSTORE dest big small   (a 10M-member union)
#   SINTERSTORE dest2 big dest   (a 10M x 10M intersection)
#   SUNION big small             (a 10M-member union, replied: 10M bulk strings)
#   SINTERCARD 2 big dest        (a 10M x 10M intersection, counted)
#   SMEMBERS dest                (a 10M-member reply)
#   DEL dest                     (freeing 10M members)
#   UNLINK dest2                 (freeing 10M members)
#   FLUSHALL ASYNC               (freeing the rest)
# then for a list of MEMBERS elements:
#   LRANGE biglist 0 -1          (a 10M-element reply)
#   DEL biglist                  (freeing 10M elements)
# and the same for a sorted set of MEMBERS members (score = member number):
#   ZUNIONSTORE zdest 2 zbig small   (a 10M-member union, `small` a plain set)
#   ZINTERSTORE zdest2 2 zbig zdest  (a 10M x 10M intersection)
#   ZUNION 2 zbig small WITHSCORES   (a 10M-member union, replied with scores)
#   ZRANGE zbig 0 -1 WITHSCORES      (a 10M-member range, replied with scores)
#   ZRANGEBYSCORE zbig -inf +inf     (a 10M-member range by score)
#   ZRANGESTORE zdest zbig 0 -1      (a 10M-member range, stored)
#   DEL zdest                        (freeing 10M members)
#   ZREMRANGEBYRANK zbig 0 -1001     (removing all but the highest 1,000 members)
# Runs against peregrine-server (--shards 1) and redis-server in turn, each pinned to
# CPU 0, clients on CPU 1. Usage: benches/big_collections.sh [MEMBERS]
# Environment: APPENDONLY [no]: `yes` runs both servers with their write logs on (each
# server's own default fsync policy), to see what logging a huge write costs.
set -euo pipefail
cd "$(dirname "$0")/.."
MEMBERS=${1:-10000000}
APPENDONLY=${APPENDONLY:-no}
if [[ ${SKIP_BUILD:-0} != 1 ]]; then
    cargo build --release -q -p peregrine-server
fi
PEREGRINE=${PEREGRINE_BIN:-${CARGO_TARGET_DIR:-target}/release/peregrine-server}
WORK=$(mktemp -d)
PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# The PING probe: pings until the stop file appears, then prints the longest wait in ms.
cat > "$WORK/probe.py" <<'PY'
import os, socket, sys, time
port, stop = int(sys.argv[1]), sys.argv[2]
sock = socket.create_connection(("127.0.0.1", port))
sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
worst = 0.0
while not os.path.exists(stop):
    started = time.perf_counter()
    sock.sendall(b"PING\r\n")
    reply = b""
    while not reply.endswith(b"\r\n"):
        reply += sock.recv(64)
    worst = max(worst, time.perf_counter() - started)
    time.sleep(0.0005)
print("%.1f" % (worst * 1000))
PY

# load.py MEMBERS COMMAND KEY FORMAT [scored]: `COMMAND KEY FORMAT%n ...` for n from 0 to
# MEMBERS-1 in requests of 1,000, as RESP ("scored": each preceded by n, its score).
cat > "$WORK/load.py" <<'PY'
import sys
members, command, key, form = int(sys.argv[1]), *(arg.encode() for arg in sys.argv[2:5])
scored = sys.argv[5:] == ["scored"]
out = sys.stdout.buffer
for start in range(0, members, 1000):
    args = [command, key]
    for n in range(start, min(start + 1000, members)):
        args += [b"%d" % n, form % n] if scored else [form % n]
    out.write(b"*%d\r\n" % len(args))
    for arg in args:
        out.write(b"$%d\r\n%s\r\n" % (len(arg), arg))
PY
small=$'*5\r\n$4\r\nSADD\r\n$5\r\nsmall\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n'
{ python3 "$WORK/load.py" "$MEMBERS" SADD big 'member:%010d'; printf '%s' "$small"; } > "$WORK/load.resp"
python3 "$WORK/load.py" "$MEMBERS" RPUSH biglist 'element:%010d' > "$WORK/lload.resp"
{ python3 "$WORK/load.py" "$MEMBERS" ZADD zbig 'member:%010d' scored; printf '%s' "$small"; } > "$WORK/zload.resp"

# operation PORT NAME COMMAND... — runs COMMAND with the probe running; prints a row.
operation() {
    local port=$1 name=$2 server=$3
    shift 3
    rm -f "$WORK/stop"
    taskset -c 1 python3 "$WORK/probe.py" "$port" "$WORK/stop" > "$WORK/probe.out" &
    local probe=$!
    sleep 0.3
    local started ended reply
    started=$(date +%s%3N)
    # A long reply is shown as its count of lines.
    reply=$(redis-cli -p "$port" "$@" 2>&1 | awk '{ last = $0 } END { print (NR > 1 ? NR " lines" : last) }')
    ended=$(date +%s%3N)
    sleep 0.3
    touch "$WORK/stop"
    wait "$probe"
    printf '| %-10s | %-32s | %12s | %10s | %16s |\n' "$server" "$name" "$reply" "$((ended - started))" "$(cat "$WORK/probe.out")"
}

measure() {
    local server=$1 port=$2
    taskset -c 1 redis-cli -p "$port" --pipe < "$WORK/load.resp" > /dev/null
    operation "$port" "SUNIONSTORE dest big small" "$server" SUNIONSTORE dest big small
    operation "$port" "SINTERSTORE dest2 big dest" "$server" SINTERSTORE dest2 big dest
    operation "$port" "SUNION big small" "$server" SUNION big small
    operation "$port" "SINTERCARD 2 big dest" "$server" SINTERCARD 2 big dest
    operation "$port" "SMEMBERS dest" "$server" SMEMBERS dest
    operation "$port" "DEL dest" "$server" DEL dest
    operation "$port" "UNLINK dest2" "$server" UNLINK dest2
    operation "$port" "FLUSHALL ASYNC" "$server" FLUSHALL ASYNC
    taskset -c 1 redis-cli -p "$port" --pipe < "$WORK/lload.resp" > /dev/null
    operation "$port" "LRANGE biglist 0 -1" "$server" LRANGE biglist 0 -1
    operation "$port" "DEL biglist" "$server" DEL biglist
    taskset -c 1 redis-cli -p "$port" --pipe < "$WORK/zload.resp" > /dev/null
    operation "$port" "ZUNIONSTORE zdest 2 zbig small" "$server" ZUNIONSTORE zdest 2 zbig small
    operation "$port" "ZINTERSTORE zdest2 2 zbig zdest" "$server" ZINTERSTORE zdest2 2 zbig zdest
    operation "$port" "ZUNION 2 zbig small WITHSCORES" "$server" ZUNION 2 zbig small WITHSCORES
    operation "$port" "ZRANGE zbig 0 -1 WITHSCORES" "$server" ZRANGE zbig 0 -1 WITHSCORES
    operation "$port" "ZRANGEBYSCORE zbig -inf +inf" "$server" ZRANGEBYSCORE zbig -inf +inf
    operation "$port" "ZRANGESTORE zdest zbig 0 -1" "$server" ZRANGESTORE zdest zbig 0 -1
    operation "$port" "DEL zdest" "$server" DEL zdest
    operation "$port" "ZREMRANGEBYRANK zbig 0 -1001" "$server" ZREMRANGEBYRANK zbig 0 -1001
}

echo "Huge collections: one set, then one sorted set, of $MEMBERS members ($(date -u +%F), $(nproc) CPUs: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs))"
printf '| %-10s | %-32s | %12s | %10s | %16s |\n' server operation reply "took ms" "longest PING ms"
printf '|%s|%s|%s|%s|%s|\n' ------------ ---------------------------------- -------------- ------------ ------------------

port=$(free_port)
taskset -c 0 "$PEREGRINE" --port "$port" --shards 1 --save "" --appendonly "$APPENDONLY" --dir "$WORK" > "$WORK/peregrine.log" 2>&1 &
PIDS+=($!)
until redis-cli -p "$port" ping > /dev/null 2>&1; do sleep 0.05; done
measure peregrine "$port"

port=$(free_port)
taskset -c 0 redis-server --port "$port" --save "" --appendonly "$APPENDONLY" --dir "$WORK" > "$WORK/redis.log" 2>&1 &
PIDS+=($!)
until redis-cli -p "$port" ping > /dev/null 2>&1; do sleep 0.05; done
measure redis "$port"
