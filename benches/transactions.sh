#!/usr/bin/env bash
# transactions.sh — MULTI/EXEC blocks and EVALSHA, Peregrine against redis-server, in one
# run, on this machine (DESIGN §7). The target: server CPU per operation at most 0.7x
# redis-server's.
#
# What it does, in order:
#   1. Builds peregrine-server and peregrine-load in release
#      (`cargo build --release -p peregrine-server -p peregrine-load`).
#   2. For each server in turn — redis-server (`--save '' --appendonly no`), then
#      peregrine-server (`--shards 1 --appendonly no`, no snapshots either) — picks a
#      free port on 127.0.0.1, starts the server pinned to SERVER_CPU (`taskset -c 0`),
#      and with redis-cli:
#        * loads the script `return {redis.call('INCR', KEYS[1]), redis.call('GET',
#          KEYS[1])}` with SCRIPT LOAD and checks that the digest is the script's SHA1;
#        * smoke-tests both workloads on the key `smoke` and keeps the replies, which
#          must be identical on both servers (a cheap differential check: peregrine-load
#          only counts error replies, it cannot see an error inside EXEC's array).
#      Then it runs peregrine-load pinned to CLIENT_CPU (`taskset -c 1`), 50 clients,
#      keys `tx:1..=KEYSPACE` drawn uniformly with a fixed SEED (both servers answer the
#      same requests), one unmeasured warm-up per workload, then each workload with
#      pipeline 1 (N operations) and 16 (NP operations):
#        * multi:   `MULTI;INCR {K}:a;GET {K}:a;SET {K}:b v;INCR {K}:a;GET {K}:a;EXEC`,
#                   five commands on keys sharing the hash tag {K} (7 replies);
#        * evalsha: `EVALSHA <sha> 1 {K}:k` (1 reply).
#      One operation is one whole MULTI..EXEC block or one EVALSHA: `--pipeline 16` keeps
#      16 of them in flight per connection, ops/s and latency count them.
#      For every run it records ops/s, p50, p99 and the server's CPU time per operation:
#      the utime+stime delta of /proc/PID/stat (all threads) over the run, in clock
#      ticks (`getconf CLK_TCK`), times 1e6 / CLK_TCK / operations. "Server CPU %" is that
#      time over the run's wall time: well below 100% the client or the machine, not the
#      server, was the bottleneck, and the report lists such runs.
#   3. Prints a markdown report: machine, versions, the table asked for (ops/s and
#      CPU-us/op for both servers, the ratio peregrine/redis and whether it meets 0.7x),
#      latencies and CPU %, and the anomalies (failed runs, error replies, reply counts
#      that do not match, smoke replies that differ between the servers).
#
# Absolute numbers on a shared 2-core machine are noise; the ratios inside one run are
# the figure. Every server listens on 127.0.0.1 only; the script kills only the
# processes it started (by PID, on EXIT).
#
# Usage:   benches/transactions.sh            (from anywhere; about a minute by default, 80 s with N=500000 here)
# Environment (defaults in brackets):
#   N [300000]               operations per unpipelined run (all clients together)
#   NP [5*N]                 operations per pipelined run (-P 16)
#   CLIENTS [50]             connections of the load generator (one thread)
#   KEYSPACE [100000]        hash tags tx:1..=KEYSPACE
#   WORKLOADS ["multi evalsha"] / PIPELINES ["1 16"]; also setbit bitcount pfadd pfcount
#                            geoadd geosearch (issue 7's data types, one command each;
#                            geosearch: `GEOSEARCH geo:points FROMMEMBER tx:N BYRADIUS 1 km
#                            ASC COUNT 10 WITHDIST` over KEYSPACE points loaded first)
#   SEED [1]                 seed of every load run
#   SERVER_CPU [0] / CLIENT_CPU [1]   CPUs for taskset
#   SKIP_BUILD [0]           1: use the existing binaries
#   PEREGRINE_BIN / LOAD_BIN binaries [${CARGO_TARGET_DIR:-<repo>/target}/release/...]
#   REPORT                   also write the final markdown report to this file
set -euo pipefail

N=${N:-300000}
NP=${NP:-$((N * 5))}
CLIENTS=${CLIENTS:-50}
KEYSPACE=${KEYSPACE:-100000}
WORKLOADS=${WORKLOADS:-"multi evalsha"}
PIPELINES=${PIPELINES:-"1 16"}
SEED=${SEED:-1}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
SKIP_BUILD=${SKIP_BUILD:-0}
REPORT=${REPORT:-}
HOST=127.0.0.1
TARGET_RATIO=0.7
SCRIPT="return {redis.call('INCR', KEYS[1]), redis.call('GET', KEYS[1])}"

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
[[ $TARGET_DIR == /* ]] || TARGET_DIR=$ROOT/$TARGET_DIR # cargo reads it relative to $ROOT below
PEREGRINE_BIN=${PEREGRINE_BIN:-$TARGET_DIR/release/peregrine-server}
LOAD_BIN=${LOAD_BIN:-$TARGET_DIR/release/peregrine-load}
CLK_TCK=$(getconf CLK_TCK)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/transactions.XXXXXX")
RESULTS=$WORK/results.tsv # server, workload, pipeline, operations, ops/s, p50, p99, CPU us/op, CPU %
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

# ------------------------------------------------------------------------ workloads

SHA=$(printf '%s' "$SCRIPT" | sha1sum | awk '{ print $1 }')

# sequence WORKLOAD — the workload's commands for peregrine-load --sequence.
sequence() {
    case $1 in
    multi) echo 'MULTI;INCR {__key__}:a;GET {__key__}:a;SET {__key__}:b v;INCR {__key__}:a;GET {__key__}:a;EXEC' ;;
    evalsha) echo "EVALSHA $SHA 1 {__key__}:k" ;;
    # Issue 7's data types (run setbit before bitcount and pfadd before pfcount: the
    # readers read what the writers left). GEOADD puts every member on one point;
    # GEOSEARCH searches the spread-out set that prepare_workload loads.
    setbit) echo 'SETBIT {__key__}:bits 1000 1' ;;
    bitcount) echo 'BITCOUNT {__key__}:bits' ;;
    pfadd) echo 'PFADD {__key__}:hll a b c __key__' ;;
    pfcount) echo 'PFCOUNT {__key__}:hll' ;;
    geoadd) echo 'GEOADD geo 13.361389 38.115556 __key__' ;;
    geosearch) echo 'GEOSEARCH geo:points FROMMEMBER __key__ BYRADIUS 1 km ASC COUNT 10 WITHDIST' ;;
    *) die "unknown workload $1 (WORKLOADS takes multi, evalsha, setbit, bitcount, pfadd, pfcount, geoadd, geosearch)" ;;
    esac
}

# The commands the smoke test of WORKLOAD runs before it (the data it reads).
smoke_prelude() {
    case $1 in
    geosearch) echo 'GEOADD geo:points 13.361389 38.115556 smoke 13.365 38.118 near 13.4 38.2 far' ;;
    esac
}

# prepare_workload WORKLOAD — loads the data WORKLOAD reads, the same on both servers:
# for geosearch, KEYSPACE members tx:1..=KEYSPACE (the keys the load draws) spread over a 1 x 1 degree square
# of Sicily (about 10 per square km, so a 1 km radius holds about 30 of them).
prepare_workload() {
    [[ $1 == geosearch ]] || return 0
    local out
    awk -v n="$KEYSPACE" 'BEGIN {
        for (i = 1; i <= n; i++) {
            member = "tx:" i
            lon = sprintf("%.6f", 13 + ((i * 7919) % 1000003) / 1000003)
            lat = sprintf("%.6f", 37.5 + ((i * 104729) % 999983) / 999983)
            printf "*5\r\n$6\r\nGEOADD\r\n$10\r\ngeo:points\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n",
                length(lon), lon, length(lat), lat, length(member), member
        }
    }' >"$WORK/geo.resp"
    out=$(redis-cli -h "$HOST" -p "$SERVER_PORT" --pipe <"$WORK/geo.resp" 2>&1) || true
    grep -q "errors: 0," <<<"$out" || anomaly "$SERVER_LABEL: loading the geosearch points: $(tail -n 1 <<<"$out")"
    [[ $(cli ZCARD geo:points) == "$KEYSPACE" ]] || anomaly "$SERVER_LABEL: geo:points does not hold $KEYSPACE members"
}

# Replies per operation: one per command of the sequence.
replies_per_operation() {
    awk -F';' '{ print NF }' <<<"$(sequence "$1")"
}

# ------------------------------------------------------------------------ checks

load_script() {
    local reply
    reply=$(cli SCRIPT LOAD "$SCRIPT" 2>&1) || true
    [[ $reply == "$SHA" ]] || anomaly "$SERVER_LABEL: SCRIPT LOAD answered \`$reply\`, expected $SHA"
}

# Runs each workload once on the key `smoke` in one redis-cli session and keeps the
# replies in $WORK/smoke.LABEL.WORKLOAD for the comparison between the servers.
smoke_test() {
    local workload out
    cli FLUSHALL >/dev/null
    for workload in $WORKLOADS; do
        out=$WORK/smoke.$SERVER_LABEL.$workload
        { smoke_prelude "$workload"; sequence "$workload" | sed 's/__key__/smoke/g' | tr ';' '\n'; } |
            redis-cli -h "$HOST" -p "$SERVER_PORT" >"$out" 2>&1 ||
            anomaly "$SERVER_LABEL: the $workload smoke test failed: $(tail -n 2 "$out" | tr '\n' ' ')"
        if grep -q 'ERR' "$out"; then
            anomaly "$SERVER_LABEL: the $workload smoke test answered $(tr '\n' ' ' <"$out")"
        fi
    done
    cli FLUSHALL >/dev/null
}

compare_smoke_tests() {
    local workload
    for workload in $WORKLOADS; do
        if ! cmp -s "$WORK/smoke.redis.$workload" "$WORK/smoke.peregrine.$workload"; then
            anomaly "the $workload smoke replies differ: redis \`$(tr '\n' ' ' <"$WORK/smoke.redis.$workload")\`," \
                "peregrine \`$(tr '\n' ' ' <"$WORK/smoke.peregrine.$workload")\`"
        fi
    done
}

# ------------------------------------------------------------------------ passes

# load WORKLOAD PIPELINE OPERATIONS — one peregrine-load run against the current server,
# pinned to CLIENT_CPU; prints its result line. A non-zero exit is an anomaly, not the end.
load() {
    local workload=$1 pipeline=$2 operations=$3 out
    if ! out=$(taskset -c "$CLIENT_CPU" "$LOAD_BIN" --host "$HOST" --port "$SERVER_PORT" \
        --clients "$CLIENTS" --key-prefix tx: --key-minimum 1 --key-maximum "$KEYSPACE" \
        --key-pattern R --seed "$SEED" --pipeline "$pipeline" --requests "$operations" \
        --sequence "$(sequence "$workload")" 2>"$WORK/load.err"); then
        anomaly "$SERVER_LABEL: peregrine-load $workload P$pipeline failed: $(tail -n 2 "$WORK/load.err" | tr '\n' ' ')"
    fi
    printf '%s\n' "$out"
}

# measure WORKLOAD PIPELINE OPERATIONS
measure() {
    local workload=$1 pipeline=$2 operations=$3 before after out
    server_alive
    before=$(cpu_ticks)
    out=$(load "$workload" "$pipeline" "$operations")
    server_alive
    after=$(cpu_ticks)
    if [[ -z $out ]]; then
        return 0
    fi
    local errors replies expected
    errors=$(field errors "$out")
    replies=$(field replies "$out")
    expected=$((operations * $(replies_per_operation "$workload")))
    if [[ $errors != 0 ]]; then
        anomaly "$SERVER_LABEL: $errors error replies in $workload P$pipeline"
    fi
    if [[ $replies != "$expected" ]]; then
        anomaly "$SERVER_LABEL: $replies replies in $workload P$pipeline, expected $expected"
    fi
    record_run "$workload" "P$pipeline" "$operations" $((after - before)) "$out"
}

load_pass() {
    load_script
    smoke_test
    local workload pipeline operations
    for workload in $WORKLOADS; do
        prepare_workload "$workload"
        # Unmeasured warm-up: connections, buffers, the allocator's first pages.
        load "$workload" 16 $((N / 10 > 0 ? N / 10 : 1)) >/dev/null
        for pipeline in $PIPELINES; do
            operations=$N
            if ((pipeline > 1)); then
                operations=$NP
            fi
            measure "$workload" "$pipeline" "$operations"
        done
    done
}

# --------------------------------------------------------------------------- report

report() {
    local revision
    revision=$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)
    echo
    echo "## Transactions and scripts: Peregrine vs redis-server, side by side"
    echo
    echo "- Date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "- Machine: $(machine_line)"
    echo "- redis-server: $(redis-server --version | awk '{ print $3 }' | cut -d= -f2); peregrine: $revision (release, --shards 1); load: peregrine-load --sequence (closed loop, 1 thread)"
    echo "- Servers pinned to CPU $SERVER_CPU, load generator to CPU $CLIENT_CPU; $CLIENTS clients;" \
        "hash tags tx:1..=$KEYSPACE drawn uniformly, seed $SEED; $N operations per unpipelined run, $NP per pipelined run"
    echo "- multi: \`$(sequence multi)\` (one operation = the whole block, 7 replies)"
    echo "- evalsha: \`EVALSHA <sha1> 1 {__key__}:k\` of \`$SCRIPT\` (sha1 $SHA)"
    echo "- CPU-us/op: server utime+stime (/proc/PID/stat, all threads) over the run / operations;" \
        "ratio = peregrine/redis, target <= $TARGET_RATIO."
    echo
    cpu_tables pipeline
    echo
    if [[ -s $ANOMALIES ]]; then
        echo "Anomalies:"
        echo
        cat "$ANOMALIES"
    else
        echo "Anomalies: none (SCRIPT LOAD digests matched, smoke replies identical on both servers," \
            "no error replies, every reply counted)."
    fi
    echo
    echo "Total runtime: $(($(date +%s) - STARTED)) s."
}

# ----------------------------------------------------------------------------- main

require redis-server "apt-get install redis-server"
require redis-cli "apt-get install redis-tools"
require taskset "apt-get install util-linux"
require sha1sum "coreutils"
require python3 "to pick free ports"
[[ $(nproc) -ge 2 ]] || log "warning: fewer than 2 CPUs; server and load generator share CPU $SERVER_CPU"
for workload in $WORKLOADS; do
    sequence "$workload" >/dev/null
done

build_binaries

load_both 1
compare_smoke_tests

print_report
