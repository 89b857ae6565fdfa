#!/usr/bin/env bash
# Helpers shared by the load scripts in benches/ (sourced, not run). The sourcing script
# defines WORK, ANOMALIES, HOST, SERVER_CPU and SERVER_PID before calling them, and for
# record_run and cpu_tables also RESULTS, UNSATURATED, CLK_TCK and TARGET_RATIO.

cleanup() {
    if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
anomaly() {
    log "ANOMALY: $*"
    printf -- '- %s\n' "$*" >>"$ANOMALIES"
}
die() {
    log "error: $*"
    exit 1
}

require() {
    command -v "$1" >/dev/null 2>&1 || die "$1 is not on PATH ($2)"
}

# start_server LABEL PORT COMMAND... — runs COMMAND pinned to SERVER_CPU and waits for PONG.
start_server() {
    local label=$1 port=$2
    shift 2
    if redis-cli -h "$HOST" -p "$port" ping >/dev/null 2>&1; then
        die "something already answers on $HOST:$port; set REDIS_PORT/PEREGRINE_PORT"
    fi
    # taskset execs the server, so $! is the server's own PID.
    taskset -c "$SERVER_CPU" "$@" >"$WORK/$label.log" 2>&1 &
    SERVER_PID=$!
    SERVER_LABEL=$label
    # shellcheck disable=SC2034 # read by the sourcing scripts
    SERVER_PORT=$port
    local tries=0
    until [[ $(redis-cli -h "$HOST" -p "$port" ping 2>/dev/null) == PONG ]]; do
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            tail -n 20 "$WORK/$label.log" >&2 || true
            die "$label exited during startup"
        fi
        tries=$((tries + 1))
        ((tries < 200)) || die "$label did not answer PING within 20 s"
        sleep 0.1
    done
    log "$label ready (pid $SERVER_PID, port $port, CPU $SERVER_CPU)"
}

stop_server() {
    [[ -n $SERVER_PID ]] || return 0
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        anomaly "$SERVER_LABEL died during the run (log tail: $(tail -n 3 "$WORK/$SERVER_LABEL.log" | tr '\n' ' '))"
    fi
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
}

server_alive() {
    kill -0 "$SERVER_PID" 2>/dev/null || die "$SERVER_LABEL (pid $SERVER_PID) is gone; log: $WORK/$SERVER_LABEL.log"
}

cli() { redis-cli -h "$HOST" -p "$SERVER_PORT" "$@"; }

# info_field NAME [SECTION] — the value of NAME in the current server's INFO SECTION
# (memory by default).
info_field() {
    cli INFO "${2:-memory}" | tr -d '\r' | awk -F: -v f="$1" '$1 == f { print $2 }'
}

# CPU ticks (utime + stime, all threads) of the current server. Fields after the
# parenthesised command name start at field 3, so utime (14) and stime (15) are 12 and 13.
cpu_ticks() {
    local stat
    stat=$(<"/proc/$SERVER_PID/stat")
    stat=${stat##*) }
    awk '{ print $12 + $13 }' <<<"$stat"
}

# A port nobody listens on right now (the kernel's pick for an ephemeral bind).
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

machine_line() {
    local model
    model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
    printf '%s CPUs (nproc), %s, Linux %s' "$(nproc)" "${model:-unknown CPU}" "$(uname -r)"
}

# field NAME LINE — the value of NAME=... in a peregrine-load result line.
field() {
    tr ' ' '\n' <<<"$2" | awk -F= -v name="$1" '$1 == name { print $2; found = 1 } END { if (!found) print "" }'
}

# build_binaries — builds peregrine-server and peregrine-load in release (unless
# SKIP_BUILD=1) and checks that PEREGRINE_BIN and LOAD_BIN are there.
build_binaries() {
    if [[ $SKIP_BUILD != 1 ]]; then
        log "building peregrine-server and peregrine-load (release)"
        (cd "$ROOT" && cargo build --release -p peregrine-server -p peregrine-load)
    fi
    [[ -x $PEREGRINE_BIN ]] || die "no peregrine-server binary at $PEREGRINE_BIN"
    [[ -x $LOAD_BIN ]] || die "no peregrine-load binary at $LOAD_BIN"
}

# start_subject SERVER SHARDS — starts `redis` (redis-server) or the peregrine-server binary
# SERVER with SHARDS shards, without persistence, on a free port (see start_server).
start_subject() {
    local server=$1 shards=$2 port
    port=$(free_port)
    if [[ $server == redis ]]; then
        start_server redis "$port" redis-server --port "$port" --bind "$HOST" \
            --save "" --appendonly no --dir "$WORK"
    else
        start_server peregrine "$port" "$server" --port "$port" --bind "$HOST" \
            --shards "$shards" --save "" --appendonly no --dir "$WORK"
    fi
}

# load_both SHARDS — the sourcing script's load_pass against redis-server, then against
# peregrine-server with SHARDS shards, each started without persistence on a free port.
load_both() {
    log "redis-server"
    start_subject redis 1
    load_pass
    stop_server

    log "peregrine-server --shards $1"
    start_subject "$PEREGRINE_BIN" "$1"
    load_pass
    stop_server
}

# print_report — the sourcing script's report on standard output, and into REPORT when set.
print_report() {
    if [[ -n $REPORT ]]; then
        report | tee "$REPORT"
    else
        report
    fi
}

# record_run WORKLOAD BATCH OPERATIONS TICKS LINE — appends one run of the current server
# to RESULTS (server, workload, batch, operations, ops/s, p50, p99, CPU us/op, CPU %) from
# peregrine-load's result LINE (ops_per_sec, p50_ms, p99_ms, elapsed_s) and the server's
# CPU TICKS over the run; lists it in UNSATURATED when the server's CPU share stayed below
# 80%, and logs it. BATCH is a label such as P16.
record_run() {
    local workload=$1 batch=$2 operations=$3 ticks=$4 line=$5
    awk -v label="$SERVER_LABEL" -v workload="$workload" -v batch="$batch" \
        -v n="$operations" -v ops="$(field ops_per_sec "$line")" -v p50="$(field p50_ms "$line")" \
        -v p99="$(field p99_ms "$line")" -v ticks="$ticks" -v hz="$CLK_TCK" \
        -v elapsed="$(field elapsed_s "$line")" 'BEGIN {
            seconds = ticks / hz
            # Parenthesised: a bare ">" in a printf argument list is a redirection.
            share = (elapsed > 0) ? 100 * seconds / elapsed : 0
            printf "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%.2f\t%.0f\n", label, workload, batch, n,
                ops, p50, p99, (n > 0) ? seconds * 1e6 / n : 0, share
        }' >>"$RESULTS"
    # Below 80% CPU the server mostly waited: on the client, or on a busy machine.
    tail -n 1 "$RESULTS" | awk -F'\t' '$9 < 80 { printf "%s %s %s (%s%%)\n", $1, $2, $3, $9 }' >>"$UNSATURATED"
    tail -n 1 "$RESULTS" | awk -F'\t' '{
        printf "    %-15s %-9s %9s ops/s  p50 %s  p99 %s ms  %s us/op CPU (%s%%)\n",
            $2, $3, $5, $6, $7, $8, $9 }' >&2
}

# cpu_tables BATCH_HEADER — the report's tables from RESULTS: ops/s and CPU-us/op of both
# servers with the ratio peregrine/redis against TARGET_RATIO, then latency and CPU share
# per run, then the runs that were not server-bound. BATCH_HEADER names the batch column.
cpu_tables() {
    echo "| workload | $1 | Redis ops/s | Peregrine ops/s | Redis CPU-us/op | Peregrine CPU-us/op | CPU ratio | <= ${TARGET_RATIO}x |"
    echo "|---|---:|---:|---:|---:|---:|---:|---|"
    awk -F'\t' -v target="$TARGET_RATIO" '
        !(($2 FS $3) in seen) { seen[$2 FS $3] = 1; order[++runs] = $2 FS $3 }
        { ops[$1, $2 FS $3] = $5; cpu[$1, $2 FS $3] = $8 }
        END {
            for (r = 1; r <= runs; r++) {
                key = order[r]
                split(key, part, FS)
                redis_ops = ((("redis", key) in ops)) ? ops["redis", key] : "-"
                ours_ops = ((("peregrine", key) in ops)) ? ops["peregrine", key] : "-"
                redis_cpu = ((("redis", key) in cpu)) ? cpu["redis", key] : "-"
                ours_cpu = ((("peregrine", key) in cpu)) ? cpu["peregrine", key] : "-"
                ratio = "-"; verdict = "-"
                if (redis_cpu != "-" && ours_cpu != "-" && redis_cpu > 0) {
                    ratio = sprintf("%.2f", ours_cpu / redis_cpu)
                    verdict = (ratio + 0 <= target) ? "yes" : "no"
                }
                printf "| %s | %s | %s | %s | %s | %s | %s | %s |\n", part[1], part[2],
                    redis_ops, ours_ops, redis_cpu, ours_cpu, ratio, verdict
            }
        }' "$RESULTS"
    echo
    echo "Latency and server CPU share per run:"
    echo
    echo "| workload | $1 | server | p50 ms | p99 ms | server CPU % |"
    echo "|---|---:|---|---:|---:|---:|"
    awk -F'\t' '{ printf "| %s | %s | %s | %s | %s | %s |\n", $2, $3, $1, $6, $7, $9 }' "$RESULTS"
    if [[ -s $UNSATURATED ]]; then
        echo
        echo "Not server-bound (server CPU below 80%; these runs measure the client or other load" \
            "on the machine more than the server): $(paste -sd, "$UNSATURATED" | sed 's/,/, /g')."
    fi
}
