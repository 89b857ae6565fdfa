#!/usr/bin/env bash
# skewed_keys.sh — Peregrine against redis-server under uniform and skewed key
# patterns, in one run, on this machine (the memtier runs of DESIGN §7, done with our
# own peregrine-load because Debian bookworm has no memtier_benchmark package).
#
# What it does, in order:
#   1. Builds peregrine-server and peregrine-load in release
#      (`cargo build --release -p peregrine-server`, then `-p peregrine-load`).
#   2. For each server in turn — redis-server (`--save "" --appendonly no`), then
#      peregrine-server (`--shards 1`, also without persistence) — picks a free port on
#      127.0.0.1, starts the server pinned to SERVER_CPU (`taskset -c 0`) and runs
#      peregrine-load pinned to CLIENT_CPU (`taskset -c 1`):
#        * a preload: `--ratio 1:0 --key-pattern P --requests <keys>`, every key of
#          KEY_MINIMUM..=KEY_MAXIMUM written once, checked with DBSIZE;
#        * then for each key pattern in PATTERNS (R uniform, G Gaussian around the
#          middle of the range with deviation range/6, Z Zipf with exponent 0.99) and
#          each pipeline depth in PIPELINES (1 and 16): `--ratio 1:10 --data-size 32
#          --clients 50`, REQUESTS requests unpipelined, REQUESTS_PIPELINED pipelined.
#      Every run uses the same SEED, so both servers answer exactly the same requests.
#      For every run it records ops/s, p50, p99, p99.9, GET hits and misses, and the
#      server's CPU time per request: the utime+stime delta of /proc/PID/stat (all
#      threads) over the run, in clock ticks (`getconf CLK_TCK`), times 1e6 / CLK_TCK
#      / requests. "Server CPU %" is that CPU time over the run's wall time: near 100%
#      the server is the bottleneck; well below, the client, the network or other load
#      on the machine is, and the report lists such runs (below 80%) as not server-bound.
#   3. Prints a markdown report: machine, versions, one row per (pattern, pipeline,
#      server), and the ratios peregrine/redis.
#
# GET misses should be 0 in every measured run: the preload wrote every key and all
# three patterns stay inside the range. Any miss, error reply or failed run is listed
# under "Anomalies".
#
# Absolute numbers on a shared 2-core machine are noise; the ratios inside one run are
# the figure. Every server listens on 127.0.0.1 only; the script kills only the
# processes it started (by PID, on EXIT).
#
# Usage:   benches/skewed_keys.sh            (from anywhere; about a minute by default)
# Environment (defaults in brackets):
#   REQUESTS [200000]                     requests per unpipelined run (all clients together)
#   REQUESTS_PIPELINED [5*REQUESTS]       requests per pipelined run, so it lasts about as long
#   CLIENTS [50]                          connections of the load generator (one thread)
#   KEY_MINIMUM [1] / KEY_MAXIMUM [100000]  key range, inclusive
#   PATTERNS ["R G Z"] / PIPELINES ["1 16"]
#   SEED [1]                              seed of every load run
#   SERVER_CPU [0] / CLIENT_CPU [1]       CPUs for taskset
#   SKIP_BUILD [0]                        1: use the existing binaries
#   PEREGRINE_BIN / LOAD_BIN              binaries [${CARGO_TARGET_DIR:-<repo>/target}/release/...]
#   REPORT                                also write the final markdown report to this file
set -euo pipefail

REQUESTS=${REQUESTS:-200000}
REQUESTS_PIPELINED=${REQUESTS_PIPELINED:-$((REQUESTS * 5))}
CLIENTS=${CLIENTS:-50}
KEY_MINIMUM=${KEY_MINIMUM:-1}
KEY_MAXIMUM=${KEY_MAXIMUM:-100000}
PATTERNS=${PATTERNS:-"R G Z"}
PIPELINES=${PIPELINES:-"1 16"}
SEED=${SEED:-1}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
SKIP_BUILD=${SKIP_BUILD:-0}
REPORT=${REPORT:-}
HOST=127.0.0.1
RATIO=1:10
DATA_SIZE=32

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
[[ $TARGET_DIR == /* ]] || TARGET_DIR=$ROOT/$TARGET_DIR # cargo reads it relative to $ROOT below
PEREGRINE_BIN=${PEREGRINE_BIN:-$TARGET_DIR/release/peregrine-server}
LOAD_BIN=${LOAD_BIN:-$TARGET_DIR/release/peregrine-load}
KEYS=$((KEY_MAXIMUM - KEY_MINIMUM + 1))
CLK_TCK=$(getconf CLK_TCK)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/skewed_keys.XXXXXX")
RESULTS=$WORK/results.tsv # server, pattern, pipeline, requests, ops/s, p50, p99, p99.9, hits, misses, errors, CPU us/op, CPU %
ANOMALIES=$WORK/anomalies.txt
UNSATURATED=$WORK/unsaturated.txt # runs whose server was not the bottleneck
: >"$RESULTS"
: >"$ANOMALIES"
: >"$UNSATURATED"
STARTED=$(date +%s)

# ---------------------------------------------------------------- processes we own

SERVER_PID=""
SERVER_LABEL=""
SERVER_PORT=""

# Shared helpers: cleanup trap, logging, server start/stop, CPU ticks, machine line.
# shellcheck source=benches/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# load ARGS... — one peregrine-load run against the current server, pinned to
# CLIENT_CPU; prints its result line. A non-zero exit is an anomaly, not the end.
load() {
    local out
    if ! out=$(taskset -c "$CLIENT_CPU" "$LOAD_BIN" --host "$HOST" --port "$SERVER_PORT" \
        --clients "$CLIENTS" --key-minimum "$KEY_MINIMUM" --key-maximum "$KEY_MAXIMUM" \
        --seed "$SEED" "$@" 2>"$WORK/load.err"); then
        anomaly "$SERVER_LABEL: peregrine-load $* failed: $(tail -n 2 "$WORK/load.err" | tr '\n' ' ')"
    fi
    printf '%s\n' "$out"
}

# ------------------------------------------------------------------------ passes

preload() {
    local out dbsize
    out=$(load --ratio 1:0 --key-pattern P --requests "$KEYS" --data-size "$DATA_SIZE")
    dbsize=$(redis-cli -h "$HOST" -p "$SERVER_PORT" DBSIZE)
    if [[ $dbsize != "$KEYS" ]]; then
        anomaly "$SERVER_LABEL: DBSIZE is $dbsize after preloading $KEYS keys"
    fi
    log "    preload: $KEYS keys, DBSIZE $dbsize ($(field ops_per_sec "$out") ops/s)"
}

# measure PATTERN PIPELINE REQUESTS
measure() {
    local pattern=$1 pipeline=$2 requests=$3 before after out
    server_alive
    before=$(cpu_ticks)
    out=$(load --ratio "$RATIO" --data-size "$DATA_SIZE" --key-pattern "$pattern" \
        --pipeline "$pipeline" --requests "$requests")
    server_alive
    after=$(cpu_ticks)
    if [[ -z $out ]]; then
        return 0
    fi
    local ops p50 p99 p999 hits misses errors elapsed
    ops=$(field ops_per_sec "$out")
    p50=$(field p50_ms "$out")
    p99=$(field p99_ms "$out")
    p999=$(field p999_ms "$out")
    hits=$(field get_hits "$out")
    misses=$(field get_misses "$out")
    errors=$(field errors "$out")
    elapsed=$(field elapsed_s "$out")
    if [[ $misses != 0 ]]; then
        anomaly "$SERVER_LABEL: $misses GET misses (against $hits hits) with pattern $pattern, pipeline $pipeline, after the preload"
    fi
    if [[ $errors != 0 ]]; then
        anomaly "$SERVER_LABEL: $errors error replies with pattern $pattern, pipeline $pipeline"
    fi
    awk -v label="$SERVER_LABEL" -v pattern="$pattern" -v pipeline="$pipeline" -v n="$requests" \
        -v ops="$ops" -v p50="$p50" -v p99="$p99" -v p999="$p999" -v hits="$hits" \
        -v misses="$misses" -v errors="$errors" -v ticks=$((after - before)) -v hz="$CLK_TCK" \
        -v elapsed="$elapsed" 'BEGIN {
            seconds = ticks / hz
            # Parenthesised: a bare ">" in a printf argument list is a redirection.
            share = (elapsed > 0) ? 100 * seconds / elapsed : 0
            printf "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.2f\t%.0f\n", label, pattern,
                pipeline, n, ops, p50, p99, p999, hits, misses, errors, seconds * 1e6 / n, share
        }' >>"$RESULTS"
    # Below 80% CPU the server mostly waited: on the client, or on a busy machine.
    tail -n 1 "$RESULTS" | awk -F'\t' '$13 < 80 {
        printf "%s %s P%s (%s%%)\n", $1, $2, $3, $13 }' >>"$UNSATURATED"
    tail -n 1 "$RESULTS" | awk -F'\t' '{
        printf "    %s P%-3s %9s ops/s  p50 %s  p99 %s  p99.9 %s ms  misses %s  %s us/op CPU (%s%%)\n",
            $2, $3, $5, $6, $7, $8, $10, $12, $13 }' >&2
}

load_pass() {
    preload
    local pattern pipeline requests
    for pattern in $PATTERNS; do
        for pipeline in $PIPELINES; do
            requests=$REQUESTS
            if ((pipeline > 1)); then
                requests=$REQUESTS_PIPELINED
            fi
            measure "$pattern" "$pipeline" "$requests"
        done
    done
}

# --------------------------------------------------------------------------- report

report() {
    local revision
    revision=$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)
    echo
    echo "## Skewed keys: Peregrine vs redis-server, side by side"
    echo
    echo "- Date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "- Machine: $(machine_line)"
    echo "- redis-server: $(redis-server --version | awk '{ print $3 }' | cut -d= -f2); peregrine: $revision (release, --shards 1); load: peregrine-load (closed loop, 1 thread)"
    echo "- Servers pinned to CPU $SERVER_CPU, load generator to CPU $CLIENT_CPU; $CLIENTS clients," \
        "SET:GET $RATIO, $DATA_SIZE-byte values, keys $KEY_MINIMUM..=$KEY_MAXIMUM preloaded;" \
        "$REQUESTS requests per unpipelined run, $REQUESTS_PIPELINED per pipelined run; seed $SEED"
    echo "- Key patterns: R uniform; G Gaussian, mean mid-range, deviation range/6; Z Zipf, exponent 0.99" \
        "(top 1% of keys take ~60% of requests)."
    echo "- CPU/op: server utime+stime (/proc/PID/stat, all threads) over the run / requests, in microseconds;" \
        "CPU % is that time over the run's wall time."
    echo
    echo "| keys | pipeline | server | ops/s | p50 ms | p99 ms | p99.9 ms | GET misses | CPU us/op | server CPU % |"
    echo "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|"
    # Runs in the order they were made, each run's rows (one per server) together.
    awk -F'\t' '
        !(($2 FS $3) in seen) { seen[$2 FS $3] = 1; order[++runs] = $2 FS $3 }
        { rows[$2 FS $3] = rows[$2 FS $3] sprintf("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
            $2, $3, $1, $5, $6, $7, $8, $10, $12, $13) }
        END { for (r = 1; r <= runs; r++) printf "%s", rows[order[r]] }' "$RESULTS"
    echo
    echo "Ratios peregrine/redis (ops/s above 1 is faster; latency and CPU/op below 1 are better):"
    echo
    echo "| keys | pipeline | ops/s | p50 | p99 | p99.9 | CPU/op |"
    echo "|---|---:|---:|---:|---:|---:|---:|"
    awk -F'\t' '
        function ratio(a, b) { return b > 0 ? sprintf("%.2f", a / b) : "-" }
        $1 == "redis" { for (i = 5; i <= 12; i++) redis[$2 FS $3, i] = $i; next }
        { rows[++count] = $0 }
        END {
            for (r = 1; r <= count; r++) {
                split(rows[r], f, "\t")
                key = f[2] FS f[3]
                if (!((key, 5) in redis)) continue
                printf "| %s | %s | %s | %s | %s | %s | %s |\n", f[2], f[3],
                    ratio(f[5], redis[key, 5]), ratio(f[6], redis[key, 6]),
                    ratio(f[7], redis[key, 7]), ratio(f[8], redis[key, 8]),
                    ratio(f[12], redis[key, 12])
            }
        }' "$RESULTS"
    if [[ -s $UNSATURATED ]]; then
        echo
        echo "Not server-bound (server CPU below 80%; the ratios of these runs measure the client or" \
            "other load on the machine more than the server — rerun): $(paste -sd, "$UNSATURATED" | sed 's/,/, /g')."
    fi
    echo
    if [[ -s $ANOMALIES ]]; then
        echo "Anomalies:"
        echo
        cat "$ANOMALIES"
    else
        echo "Anomalies: none (DBSIZE matched after every preload, no GET misses, no error replies)."
    fi
    echo
    echo "Total runtime: $(($(date +%s) - STARTED)) s."
}

# ----------------------------------------------------------------------------- main

require redis-server "apt-get install redis-server"
require redis-cli "apt-get install redis-tools"
require taskset "apt-get install util-linux"
require python3 "to pick free ports"
((KEYS > 0)) || die "KEY_MAXIMUM ($KEY_MAXIMUM) is below KEY_MINIMUM ($KEY_MINIMUM)"
[[ $(nproc) -ge 2 ]] || log "warning: fewer than 2 CPUs; server and load generator share CPU $SERVER_CPU"

build_binaries

load_both 1

print_report
