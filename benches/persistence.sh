#!/usr/bin/env bash
# persistence.sh — Peregrine's persistence against redis-server's, in one run, on this
# machine's disk (issue 4; DESIGN §7: the ratios inside one run are the figure).
#
# A. Write load: redis-benchmark `-t set -d 100 -c 50 -r 1000000 -n N`, pinned to
#    CLIENT_CPU, against each server pinned to SERVER_CPU, with
#      redis-server --appendonly yes --appendfsync always|everysec --save ""
#      peregrine-server --shards 1 --appendfsync always|everysec --save ""
#    and both again without persistence (appendonly no) for reference. Reports ops/s
#    and server CPU per request (utime+stime of /proc/PID/stat, all threads, over the
#    run).
# B. Snapshot: a dataset of KEYS keys made with `DEBUG POPULATE KEYS key 100` (100-byte
#    values), then BGSAVE: wall time until rdb_bgsave_in_progress:0, bytes of the
#    snapshot on disk (Redis: dump.rdb; Peregrine: its snapshot segments), and the peak
#    extra memory: the largest sum of PSS (/proc/PID/smaps_rollup) of the server and its
#    children (Redis's fork) sampled every 20 ms, minus the server's PSS before.
# C. Restart of that dataset: time from exec until PING answers PONG (no -LOADING), for
#    Redis loading its RDB, Redis loading a pure AOF (aof-use-rdb-preamble no, written by
#    BGREWRITEAOF), Peregrine loading its snapshot with 1 shard and with 2 shards (the
#    2-shard data set is made by a 2-shard server). Restarting servers get every CPU.
#
# Usage: benches/persistence.sh   Environment: N [200000], KEYS [10000000],
#   SERVER_CPU [0], CLIENT_CPU [1], SKIP_BUILD [0], PEREGRINE_BIN, PARTS ["A B C"],
#   BENCH_DIR [$TMPDIR or /tmp]: where the data directories go (the disk measured).
# Kills only the processes it started. Needs redis-server, redis-cli, redis-benchmark.
set -euo pipefail

N=${N:-200000}
KEYS=${KEYS:-10000000}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
PARTS=${PARTS:-"A B C"}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PEREGRINE_BIN=${PEREGRINE_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/peregrine-server}
PORT=16390
WORK=$(mktemp -d -p "${BENCH_DIR:-${TMPDIR:-/tmp}}" persistence-bench.XXXXXX)
TICKS=$(getconf CLK_TCK)
PIDS=()

cleanup() {
    for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

log() { echo "[$(date +%T)] $*" >&2; }

if [[ ${SKIP_BUILD:-0} != 1 ]]; then
    log "building peregrine-server (release)"
    (cd "$ROOT" && cargo build --release -q -p peregrine-server)
fi

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

pss_kb() {
    local total=0 pid value
    for pid in "$@"; do
        value=$(awk '/^Pss:/ {print $2}' "/proc/$pid/smaps_rollup" 2>/dev/null || echo 0)
        total=$((total + ${value:-0}))
    done
    echo "$total"
}

# start NAME CPUS ARGS... : starts a server, waits until it answers PONG, prints its pid.
start() {
    local name=$1 cpus=$2
    shift 2
    # A fresh port each time: the previous server's connections may linger in TIME_WAIT.
    PORT=$((PORT + 1))
    local started
    started=$(date +%s.%N)
    if [[ $name == redis ]]; then
        taskset -c "$cpus" redis-server --port "$PORT" --bind 127.0.0.1 --enable-debug-command local "$@" >"$WORK/$name.log" 2>&1 &
    else
        taskset -c "$cpus" "$PEREGRINE_BIN" --port "$PORT" --bind 127.0.0.1 --enable-debug-command local "$@" >"$WORK/$name.log" 2>&1 &
    fi
    local pid=$!
    PIDS+=("$pid")
    until [[ $(redis-cli -p "$PORT" ping 2>/dev/null) == PONG ]]; do
        kill -0 "$pid" 2>/dev/null || { cat "$WORK/$name.log" >&2; exit 1; }
        sleep 0.01
    done
    READY_SECONDS=$(echo "$(date +%s.%N) - $started" | bc)
    SERVER_PID=$pid
}

stop() {
    redis-cli -p "$PORT" shutdown nosave >/dev/null 2>&1 || true
    for _ in $(seq 200); do kill -0 "$SERVER_PID" 2>/dev/null || return 0; sleep 0.05; done
    kill -9 "$SERVER_PID" 2>/dev/null || true
}

info_field() { redis-cli -p "$PORT" info persistence | tr -d '\r' | awk -F: -v f="$1" '$1 == f {print $2}'; }

# Part A --------------------------------------------------------------------------------
write_load() {
    local name=$1 policy=$2
    shift 2
    rm -rf "$WORK/data" && mkdir -p "$WORK/data"
    start "$name" "$SERVER_CPU" --dir "$WORK/data" --save "" "$@"
    local before after ops
    before=$(cpu_ticks "$SERVER_PID")
    ops=$(taskset -c "$CLIENT_CPU" redis-benchmark -p "$PORT" -t set -d 100 -c 50 -r 1000000 -n "$N" --csv -q |
        awk -F'"' '/SET/ {print $4}')
    after=$(cpu_ticks "$SERVER_PID")
    local cpu_us
    cpu_us=$(echo "scale=2; ($after - $before) * 1000000 / $TICKS / $N" | bc)
    printf '| %s | %s | %s | %s |\n' "$name" "$policy" "$ops" "$cpu_us"
    stop
}

if [[ $PARTS == *A* ]]; then
    echo "### A. SET -d 100 -c 50, $N requests"
    echo
    echo "| server | appendfsync | ops/s | server CPU µs/op |"
    echo "|---|---|---|---|"
    for policy in always everysec; do
        write_load redis "$policy" --appendonly yes --appendfsync "$policy"
        write_load peregrine "$policy" --shards 1 --appendfsync "$policy"
    done
    # The same load without persistence, for what the log costs on each side.
    write_load redis "off" --appendonly no
    write_load peregrine "off" --shards 1 --appendonly no
    echo
fi

# Part B --------------------------------------------------------------------------------
snapshot() {
    local name=$1
    shift
    rm -rf "$WORK/$name-data" && mkdir -p "$WORK/$name-data"
    start "$name" "$SERVER_CPU" --dir "$WORK/$name-data" --save "" "$@"
    log "$name: DEBUG POPULATE $KEYS"
    reply=$(redis-cli -p "$PORT" debug populate "$KEYS" key 100)
    [[ $reply == OK ]] || { echo "$name: DEBUG POPULATE answered: $reply" >&2; exit 1; }
    [[ $(redis-cli -p "$PORT" dbsize) == "$KEYS" ]] || { echo "$name: DBSIZE is not $KEYS" >&2; exit 1; }
    sleep 1
    local base peak=0 now started elapsed children
    base=$(pss_kb "$SERVER_PID")
    started=$(date +%s.%N)
    redis-cli -p "$PORT" bgsave >/dev/null
    while true; do
        children=$(pgrep -P "$SERVER_PID" || true)
        # shellcheck disable=SC2086
        now=$(pss_kb "$SERVER_PID" $children)
        ((now > peak)) && peak=$now
        [[ $(info_field rdb_bgsave_in_progress) == 0 && -z $children ]] && break
        sleep 0.02
    done
    elapsed=$(echo "$(date +%s.%N) - $started" | bc)
    local bytes
    if [[ $name == redis ]]; then
        bytes=$(stat -c %s "$WORK/$name-data/dump.rdb")
    else
        bytes=$(du -cb "$WORK/$name-data"/appendonlydir/snap-* | tail -1 | cut -f1)
    fi
    printf '| %s | %.2f | %s | %s | %s | %.1f%% |\n' "$name" "$elapsed" "$bytes" \
        "$((base / 1024))" "$(((peak - base) / 1024))" "$(echo "($peak - $base) * 100 / $base" | bc -l)"
    stop
}

if [[ $PARTS == *B* ]]; then
    echo "### B. BGSAVE of $KEYS keys (100-byte values)"
    echo
    echo "| server | seconds | bytes on disk | dataset PSS MiB | peak extra MiB | extra / dataset |"
    echo "|---|---|---|---|---|---|"
    snapshot redis --appendonly no
    snapshot peregrine --shards 1 --appendonly no
    echo
fi

# Part C --------------------------------------------------------------------------------
if [[ $PARTS == *C* ]]; then
    echo "### C. Restart of $KEYS keys: seconds until PING answers PONG"
    echo
    echo "| server | loads | seconds |"
    echo "|---|---|---|"
    all_cpus="0-$(($(nproc) - 1))"
    # Redis: the RDB from part B, then a pure AOF rewritten from it.
    if [[ -f $WORK/redis-data/dump.rdb ]]; then
        start redis "$all_cpus" --dir "$WORK/redis-data" --save "" --appendonly no
        printf '| redis | RDB | %.2f |\n' "$READY_SECONDS"
        redis-cli -p "$PORT" config set aof-use-rdb-preamble no >/dev/null
        redis-cli -p "$PORT" config set appendonly yes >/dev/null
        until [[ $(info_field aof_rewrite_in_progress) == 0 && $(info_field aof_rewrite_scheduled) == 0 ]]; do sleep 0.2; done
        stop
        rm -f "$WORK/redis-data/dump.rdb"
        start redis "$all_cpus" --dir "$WORK/redis-data" --save "" --appendonly yes --aof-use-rdb-preamble no
        printf '| redis | AOF (no RDB preamble) | %.2f |\n' "$READY_SECONDS"
        stop
    fi
    if [[ -d $WORK/peregrine-data ]]; then
        start peregrine "$all_cpus" --dir "$WORK/peregrine-data" --save "" --shards 1
        printf '| peregrine, 1 shard | snapshot | %.2f |\n' "$READY_SECONDS"
        stop
    fi
    rm -rf "$WORK/peregrine2-data" && mkdir -p "$WORK/peregrine2-data"
    start peregrine "$all_cpus" --dir "$WORK/peregrine2-data" --save "" --shards 2 --appendonly no
    redis-cli -p "$PORT" debug populate "$KEYS" key 100 >/dev/null
    redis-cli -p "$PORT" save >/dev/null
    stop
    start peregrine "$all_cpus" --dir "$WORK/peregrine2-data" --save "" --shards 2
    printf '| peregrine, 2 shards | snapshot | %.2f |\n' "$READY_SECONDS"
    stop
fi
