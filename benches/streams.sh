#!/usr/bin/env bash
# streams.sh — Redis streams, Peregrine against redis-server, in one run, on this machine
# (DESIGN §7). The targets: server CPU per operation at most 0.7x redis-server's, and the
# memory of a 1M-entry stream at most redis-server's.
#
# What it does, in order:
#   1. Builds peregrine-server and peregrine-load in release
#      (`cargo build --release -p peregrine-server -p peregrine-load`).
#   2. For each server in turn — redis-server (`--save '' --appendonly no`), then
#      peregrine-server (`--shards SHARDS --appendonly no`, no snapshots either) — picks
#      a free port on 127.0.0.1, starts the server pinned to SERVER_CPU (`taskset -c 0`),
#      and:
#        * smoke-tests the stream commands with redis-cli on the key `smoke` (XADD with
#          explicit IDs, XGROUP CREATE, XREADGROUP, XACK, XPENDING, XLEN) and keeps the
#          replies, which must be identical on both servers; a server that answers an
#          error there (no stream commands yet) is an anomaly and its workloads are
#          skipped, so the table shows only what was measured;
#        * memory, on the fresh server: INFO memory `used_memory` before and after
#          MEM_ENTRIES x `XADD stream:memory * f value-NNNNNNN` (one field `f`, a distinct
#          13-byte value, 1000000 upwards) sent by peregrine-load (`--sequence`, 50
#          clients, pipeline 64), with a check that XLEN is MEM_ENTRIES; the figure is
#          the difference (read once the load generator's connections are gone), per
#          server, and bytes per entry. Both servers keep their default stream node
#          sizes (redis: stream-node-max-bytes 4096, stream-node-max-entries 100). The
#          IDs, hence the listpack deltas, depend on timing: the same server measured
#          twice differs by up to about 2 KB (0.01%), and the verdict is strict;
#        * xadd: peregrine-load pinned to CLIENT_CPU (`taskset -c 1`), CLIENTS clients,
#          `--sequence 'XADD __key__ * f <DATA_SIZE-byte value>'` on keys
#          stream:xadd:1..=KEYSPACE drawn uniformly with a fixed SEED; one unmeasured
#          warm-up, then pipeline 1 (N operations) and 16 (NP operations). One operation
#          is one XADD of one entry. With the default 1,000 keys each stream takes
#          about 2,000 entries, so the runs measure appending to a stream, not creating
#          one;
#        * xreadgroup+xack: `peregrine-load streams`, for each COUNT in COUNTS: FLUSHALL,
#          then (unmeasured) `--phase fill`: READ_STREAMS streams stream:read:0.. with
#          N/READ_STREAMS entries each for COUNT 1, NP/READ_STREAMS for larger COUNTs
#          (`XADD key * f <DATA_SIZE-byte value>`) and the group at their start; then the
#          measured `--phase consume`: CLIENTS consumers of the group, consumer i on
#          stream i mod READ_STREAMS, each in a closed loop of `XREADGROUP GROUP g
#          consumer-i COUNT <COUNT> STREAMS key >` and `XACK key g <the IDs read>`
#          until its stream has nothing left. One operation is one entry delivered by
#          XREADGROUP and acknowledged by an XACK whose reply arrived: at COUNT 1 that
#          is two round trips per operation, at COUNT 16 two per 16. The tool checks
#          that every entry is delivered once, in order per consumer, acknowledged, and
#          that XPENDING counts nothing at the end; anything else is an anomaly. The
#          streams are filled before, not during, the measured phase, so the CPU
#          measured is the consumers' alone (XADD has its own rows) and the run ends
#          when the streams are drained.
#      For every run it records ops/s, p50, p99 (for xreadgroup+xack one read-and-ack
#      cycle) and the server's CPU time per operation: the utime+stime delta of
#      /proc/PID/stat (all threads) over the run, in clock ticks (`getconf CLK_TCK`),
#      times 1e6 / CLK_TCK / operations. "Server CPU %" is that time over the run's wall
#      time: well below 100% the client or the machine, not the server, was the
#      bottleneck, and the report lists such runs.
#   3. Prints a markdown report: machine, versions, the table asked for (ops/s and
#      CPU-us/op for both servers, the ratio peregrine/redis and whether it meets 0.7x),
#      latencies and CPU %, the memory table (used_memory growth, bytes per entry, the
#      ratio and whether it is at most 1x), and the anomalies.
#
# Absolute numbers on a shared 2-core machine are noise; the ratios inside one run are
# the figure. Every server listens on 127.0.0.1 only; the script kills only the
# processes it started (by PID, on EXIT).
#
# Usage:   benches/streams.sh            (from anywhere; under a minute by default here)
# Environment (defaults in brackets):
#   N [300000]               operations per unpipelined XADD run and per COUNT 1 consumer run
#   NP [5*N]                 operations per pipelined XADD run and per larger-COUNT consumer run
#   CLIENTS [50]             connections of the load generator (one thread): XADD clients, consumers
#   KEYSPACE [1000]          XADD stream keys stream:xadd:1..=KEYSPACE
#   READ_STREAMS [10]        streams the consumers share (CLIENTS must be at least this)
#   DATA_SIZE [16]           bytes of the one value of each XADD and consumer-stream entry
#   MEM_ENTRIES [1000000]    entries of the memory stream (at most 9000000)
#   WORKLOADS ["memory xadd xreadgroup"]  which parts run (always in that order)
#   PIPELINES ["1 16"] / COUNTS ["1 16"]  XADD pipeline depths / XREADGROUP COUNTs
#   SHARDS [1]               peregrine-server --shards
#   SEED [1]                 seed of every XADD run
#   SERVER_CPU [0] / CLIENT_CPU [1]   CPUs for taskset
#   SKIP_BUILD [0]           1: use the existing binaries
#   PEREGRINE_BIN / LOAD_BIN binaries [${CARGO_TARGET_DIR:-<repo>/target}/release/...]
#   REPORT                   also write the final markdown report to this file
set -euo pipefail

N=${N:-300000}
NP=${NP:-$((N * 5))}
CLIENTS=${CLIENTS:-50}
KEYSPACE=${KEYSPACE:-1000}
READ_STREAMS=${READ_STREAMS:-10}
DATA_SIZE=${DATA_SIZE:-16}
MEM_ENTRIES=${MEM_ENTRIES:-1000000}
WORKLOADS=${WORKLOADS:-"memory xadd xreadgroup"}
PIPELINES=${PIPELINES:-"1 16"}
COUNTS=${COUNTS:-"1 16"}
SHARDS=${SHARDS:-1}
SEED=${SEED:-1}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
SKIP_BUILD=${SKIP_BUILD:-0}
REPORT=${REPORT:-}
HOST=127.0.0.1
TARGET_RATIO=0.7
GROUP=bench
# value-1000000 upwards: MEM_ENTRIES distinct 13-byte values.
MEM_FIRST_VALUE=1000000

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
[[ $TARGET_DIR == /* ]] || TARGET_DIR=$ROOT/$TARGET_DIR # cargo reads it relative to $ROOT below
PEREGRINE_BIN=${PEREGRINE_BIN:-$TARGET_DIR/release/peregrine-server}
LOAD_BIN=${LOAD_BIN:-$TARGET_DIR/release/peregrine-load}
CLK_TCK=$(getconf CLK_TCK)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/streams.XXXXXX")
RESULTS=$WORK/results.tsv # server, workload, batch, operations, ops/s, p50, p99, CPU us/op, CPU %
MEMORY=$WORK/memory.tsv   # server, used_memory before, after, XLEN
ANOMALIES=$WORK/anomalies.txt
UNSATURATED=$WORK/unsaturated.txt # runs whose server was not the bottleneck
: >"$RESULTS"
: >"$MEMORY"
: >"$ANOMALIES"
: >"$UNSATURATED"
STARTED=$(date +%s)

# ---------------------------------------------------------------- processes we own

SERVER_PID=""
SERVER_LABEL=""
SERVER_PORT=""

# Shared helpers: cleanup trap, logging, server start/stop, CPU ticks, result table.
# shellcheck source=benches/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# ------------------------------------------------------------------------ workloads

# DATA_SIZE bytes of printable filler, as peregrine-load streams writes its values.
VALUE=$(awk -v n="$DATA_SIZE" 'BEGIN {
    pattern = "0123456789abcdefghijklmnopqrstuvwxyz"
    for (i = 0; i < n; i++) printf "%s", substr(pattern, i % 36 + 1, 1)
}')

XADD_SEQUENCE="XADD __key__ * f $VALUE"

wants() {
    [[ " $WORKLOADS " == *" $1 "* ]]
}

# ------------------------------------------------------------------------ checks

# Runs the stream commands once on the key `smoke` in one redis-cli session and keeps
# the replies in $WORK/smoke.LABEL (and $WORK/smoke.LABEL.ok when all were accepted);
# fails (returns 1) when the server refused any.
smoke_test() {
    local out=$WORK/smoke.$SERVER_LABEL
    printf '%s\n' "DEL smoke" "XADD smoke 1-1 f v1" "XADD smoke 1-2 f v2" \
        "XGROUP CREATE smoke g 0" "XREADGROUP GROUP g c COUNT 1 STREAMS smoke >" \
        "XACK smoke g 1-1" "XPENDING smoke g" "XLEN smoke" "DEL smoke" |
        redis-cli -h "$HOST" -p "$SERVER_PORT" >"$out" 2>&1 || true
    if grep -qE '^(ERR|NOGROUP|WRONGTYPE)|Error|error' "$out"; then
        anomaly "$SERVER_LABEL: the stream smoke test answered $(tr '\n' ' ' <"$out")"
        return 1
    fi
    : >"$out.ok"
}

# Compares the smoke replies when both servers accepted every command (a refusal is an
# anomaly of its own).
compare_smoke_tests() {
    [[ -f $WORK/smoke.redis.ok && -f $WORK/smoke.peregrine.ok ]] || return 0
    if ! cmp -s "$WORK/smoke.redis" "$WORK/smoke.peregrine"; then
        anomaly "the stream smoke replies differ: redis \`$(tr '\n' ' ' <"$WORK/smoke.redis")\`," \
            "peregrine \`$(tr '\n' ' ' <"$WORK/smoke.peregrine")\`"
    fi
}

# ------------------------------------------------------------------------ passes

# load LABEL FLAGS... — one peregrine-load run against the current server, pinned to
# CLIENT_CPU; prints its result line. A non-zero exit is an anomaly (with the tool's own
# diagnosis), not the end.
load() {
    local label=$1 out
    shift
    if ! out=$(taskset -c "$CLIENT_CPU" "$LOAD_BIN" "$@" 2>"$WORK/load.err"); then
        anomaly "$SERVER_LABEL: peregrine-load $label failed: $(head -n 4 "$WORK/load.err" | tr '\n' ' ')"
    fi
    printf '%s\n' "$out"
}

# xadd_load PIPELINE OPERATIONS
xadd_load() {
    load "xadd P$1" --host "$HOST" --port "$SERVER_PORT" --clients "$CLIENTS" \
        --key-prefix stream:xadd: --key-minimum 1 --key-maximum "$KEYSPACE" --key-pattern R \
        --seed "$SEED" --pipeline "$1" --requests "$2" --sequence "$XADD_SEQUENCE"
}

# streams_load PHASE ENTRIES_PER_STREAM COUNT
streams_load() {
    load "streams --phase $1 --count $3" streams --host "$HOST" --port "$SERVER_PORT" \
        --streams "$READ_STREAMS" --key-prefix stream:read: --group "$GROUP" \
        --consumers "$CLIENTS" --entries "$2" --count "$3" --data-size "$DATA_SIZE" --phase "$1"
}

# Waits up to 5 s until the only client left is the one asking (when the server reports
# connected_clients), so that used_memory no longer counts the load generator's
# connections.
settle_clients() {
    local tries=0 clients
    while clients=$(info_field connected_clients clients) && [[ -n $clients && $clients != 1 ]]; do
        if ((++tries >= 50)); then
            anomaly "$SERVER_LABEL: $clients clients still connected 5 s after the memory fill"
            return 0
        fi
        sleep 0.1
    done
}

memory_pass() {
    local before after length out
    cli FLUSHALL >/dev/null
    before=$(info_field used_memory)
    out=$(load "memory fill" --host "$HOST" --port "$SERVER_PORT" --clients "$CLIENTS" \
        --pipeline 64 --requests "$MEM_ENTRIES" --key-prefix value- --key-minimum "$MEM_FIRST_VALUE" \
        --key-maximum $((MEM_FIRST_VALUE + MEM_ENTRIES - 1)) --key-pattern P \
        --sequence "XADD stream:memory * f __key__")
    server_alive
    settle_clients
    length=$(cli XLEN stream:memory 2>&1) || true
    after=$(info_field used_memory)
    if [[ -n $out && $(field errors "$out") != 0 ]]; then
        anomaly "$SERVER_LABEL: $(field errors "$out") error replies while filling stream:memory"
    fi
    if [[ $length != "$MEM_ENTRIES" ]]; then
        anomaly "$SERVER_LABEL: XLEN stream:memory is \`$length\` after $MEM_ENTRIES XADDs"
        return 0
    fi
    printf '%s\t%s\t%s\t%s\n' "$SERVER_LABEL" "$before" "$after" "$length" >>"$MEMORY"
    log "    memory: used_memory $before -> $after for $length entries" \
        "($(((after - before) / length)) B/entry)"
    cli FLUSHALL >/dev/null
}

# measure_xadd PIPELINE OPERATIONS
measure_xadd() {
    local pipeline=$1 operations=$2 before after out
    server_alive
    before=$(cpu_ticks)
    out=$(xadd_load "$pipeline" "$operations")
    server_alive
    after=$(cpu_ticks)
    [[ -n $out ]] || return 0
    if [[ $(field errors "$out") != 0 ]]; then
        anomaly "$SERVER_LABEL: $(field errors "$out") error replies in xadd P$pipeline"
    fi
    if [[ $(field replies "$out") != "$operations" ]]; then
        anomaly "$SERVER_LABEL: $(field replies "$out") replies in xadd P$pipeline, expected $operations"
    fi
    record_run xadd "P$pipeline" "$operations" $((after - before)) "$out"
}

xadd_pass() {
    # Unmeasured warm-up: connections, buffers, the allocator's first pages.
    xadd_load 16 $((N / 10 > 0 ? N / 10 : 1)) >/dev/null
    local pipeline operations
    for pipeline in $PIPELINES; do
        operations=$N
        if ((pipeline > 1)); then
            operations=$NP
        fi
        measure_xadd "$pipeline" "$operations"
    done
    cli FLUSHALL >/dev/null
}

# measure_xreadgroup COUNT OPERATIONS — fills (unmeasured), then measures the consumers.
measure_xreadgroup() {
    local count=$1 per_stream=$(($2 / READ_STREAMS)) before after out entries name
    cli FLUSHALL >/dev/null
    out=$(streams_load fill "$per_stream" "$count")
    if [[ -z $out || $(field filled "$out") != $((per_stream * READ_STREAMS)) ]]; then
        anomaly "$SERVER_LABEL: the fill before xreadgroup+xack COUNT $count failed; not measured"
        return 0
    fi
    server_alive
    before=$(cpu_ticks)
    out=$(streams_load consume "$per_stream" "$count")
    server_alive
    after=$(cpu_ticks)
    [[ -n $out ]] || return 0
    entries=$(field entries "$out")
    # The tool's exit status already flagged any problem; name the counts as well.
    for name in errors ack_mismatches out_of_order pending; do
        if [[ $(field "$name" "$out") != 0 ]]; then
            anomaly "$SERVER_LABEL: xreadgroup+xack COUNT $count: $name=$(field "$name" "$out")"
        fi
    done
    if [[ $entries != "$(field expected "$out")" || $(field acked "$out") != "$entries" ]]; then
        anomaly "$SERVER_LABEL: xreadgroup+xack COUNT $count: entries=$entries" \
            "acked=$(field acked "$out") expected=$(field expected "$out")"
    fi
    if ((entries > 0)); then
        record_run xreadgroup+xack "COUNT $count" "$entries" $((after - before)) "$out"
    fi
}

xreadgroup_pass() {
    # Unmeasured warm-up: a small fill and drain.
    streams_load both $((N / 10 / READ_STREAMS > 0 ? N / 10 / READ_STREAMS : 1)) 16 >/dev/null
    local count operations
    for count in $COUNTS; do
        operations=$N
        if ((count > 1)); then
            operations=$NP
        fi
        measure_xreadgroup "$count" "$operations"
    done
    cli FLUSHALL >/dev/null
}

load_pass() {
    if ! smoke_test; then
        log "    $SERVER_LABEL cannot run the stream commands; its workloads are skipped"
        return 0
    fi
    # Memory first, while the server is fresh.
    if wants memory && ((MEM_ENTRIES > 0)); then
        memory_pass
    fi
    if wants xadd; then
        xadd_pass
    fi
    if wants xreadgroup; then
        xreadgroup_pass
    fi
}

# --------------------------------------------------------------------------- report

memory_table() {
    echo "| dataset | Redis used_memory growth | Peregrine used_memory growth | Redis B/entry | Peregrine B/entry | memory ratio | <= 1x |"
    echo "|---|---:|---:|---:|---:|---:|---|"
    awk -F'\t' -v entries="$MEM_ENTRIES" '
        { growth[$1] = $3 - $2 }
        END {
            redis = ("redis" in growth) ? growth["redis"] : "-"
            ours = ("peregrine" in growth) ? growth["peregrine"] : "-"
            redis_entry = (redis != "-") ? sprintf("%.1f", redis / entries) : "-"
            ours_entry = (ours != "-") ? sprintf("%.1f", ours / entries) : "-"
            ratio = "-"; verdict = "-"
            if (redis != "-" && ours != "-" && redis > 0) {
                # Three decimals: the verdict is strict, and one server measured twice
                # differs by a few hundred bytes.
                ratio = sprintf("%.3f", ours / redis)
                verdict = (ours <= redis) ? "yes" : "no"
            }
            printf "| 1 stream x %d entries | %s | %s | %s | %s | %s | %s |\n", entries,
                redis, ours, redis_entry, ours_entry, ratio, verdict
        }' "$MEMORY"
}

report() {
    local revision
    revision=$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)
    echo
    echo "## Streams: Peregrine vs redis-server, side by side"
    echo
    echo "- Date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "- Machine: $(machine_line); load average at the end $(cut -d' ' -f1-3 /proc/loadavg) (other jobs make runs noisy: read the ratios)"
    echo "- redis-server: $(redis-server --version | awk '{ print $3 }' | cut -d= -f2); peregrine: $revision (release, --shards $SHARDS); load: peregrine-load (closed loop, 1 thread)"
    echo "- Servers pinned to CPU $SERVER_CPU, load generator to CPU $CLIENT_CPU; $CLIENTS clients;" \
        "$N operations per P1 / COUNT 1 run, $NP per pipelined / larger-COUNT run"
    if wants xadd; then
        echo "- xadd: \`XADD stream:xadd:<1..=$KEYSPACE, uniform, seed $SEED> * f <$DATA_SIZE-byte value>\`;" \
            "one operation = one XADD"
    fi
    if wants xreadgroup; then
        echo "- xreadgroup+xack: $READ_STREAMS streams filled beforehand (unmeasured) with \`f <$DATA_SIZE-byte value>\`" \
            "entries, $CLIENTS consumers of one group (consumer i on stream i mod $READ_STREAMS), each looping" \
            "\`XREADGROUP GROUP $GROUP consumer-i COUNT <COUNT> STREAMS key >\` then \`XACK key $GROUP <IDs>\`" \
            "until drained; one operation = one entry delivered and acknowledged (2 round trips per COUNT entries);" \
            "latency = one read-and-ack cycle"
    fi
    echo "- CPU-us/op: server utime+stime (/proc/PID/stat, all threads) over the run / operations;" \
        "ratio = peregrine/redis, target <= $TARGET_RATIO."
    echo
    if [[ -s $RESULTS ]]; then
        cpu_tables batch
        echo
    fi
    if wants memory && ((MEM_ENTRIES > 0)); then
        echo "Memory: INFO memory used_memory after minus before $MEM_ENTRIES x" \
            "\`XADD stream:memory * f value-NNNNNNN\` (one field, distinct 13-byte values) on a fresh server;" \
            "both servers with their default stream node limits; ratio = peregrine/redis, target <= 1."
        echo
        memory_table
        echo
    fi
    if [[ -s $ANOMALIES ]]; then
        echo "Anomalies:"
        echo
        cat "$ANOMALIES"
    else
        echo "Anomalies: none (smoke replies identical on both servers, no error replies, every entry" \
            "delivered once and acknowledged, nothing pending, every XLEN as expected)."
    fi
    echo
    echo "Total runtime: $(($(date +%s) - STARTED)) s."
}

# ----------------------------------------------------------------------------- main

require redis-server "apt-get install redis-server"
require redis-cli "apt-get install redis-tools"
require taskset "apt-get install util-linux"
require python3 "to pick free ports"
[[ $(nproc) -ge 2 ]] || log "warning: fewer than 2 CPUs; server and load generator share CPU $SERVER_CPU"
for workload in $WORKLOADS; do
    case $workload in
    memory | xadd | xreadgroup) ;;
    *) die "unknown workload $workload (WORKLOADS takes memory, xadd, xreadgroup)" ;;
    esac
done
((MEM_ENTRIES <= 9000000)) || die "MEM_ENTRIES is at most 9000000 (the values keep 7 digits)"
((CLIENTS >= READ_STREAMS)) || die "CLIENTS ($CLIENTS) must be at least READ_STREAMS ($READ_STREAMS)"
((N >= READ_STREAMS)) || die "N ($N) must be at least READ_STREAMS ($READ_STREAMS): one entry per stream"

build_binaries

load_both "$SHARDS"
compare_smoke_tests

print_report
