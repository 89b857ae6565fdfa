#!/usr/bin/env bash
# pubsub.sh — pub/sub delivery, Peregrine against redis-server, in one run, on this
# machine (DESIGN §7). The target: server CPU per delivered message at most 0.7x
# redis-server's.
#
# What it does, in order:
#   1. Builds peregrine-server and peregrine-load in release
#      (`cargo build --release -p peregrine-server -p peregrine-load`).
#   2. For each server in turn — redis-server (`--save '' --appendonly no`), then
#      peregrine-server (`--shards SHARDS --appendonly no`, no snapshots either) — picks
#      a free port on 127.0.0.1 and starts the server pinned to SERVER_CPU
#      (`taskset -c 0`). A small smoke run of `peregrine-load pubsub` (2 publishers,
#      2 channels x 2 subscribers, 100 messages each) must pass first; when it fails
#      (a server that refuses SUBSCRIBE, lost or duplicated messages) that is an
#      anomaly and the server's scenarios are skipped, so the table shows only what
#      was measured. Then, pinned to CLIENT_CPU (`taskset -c 1`), one unmeasured
#      warm-up per scenario and one measured run per scenario and pipeline:
#        * fanout: 1 publisher -> 1 channel x 100 subscribers, FANOUT_MESSAGES
#                  PUBLISHes (100 deliveries each);
#        * spread: 50 publishers -> 50 channels x 2 subscribers, SPREAD_MESSAGES
#                  PUBLISHes per publisher (publisher i on channel i, 2 deliveries each).
#      `--pipeline W` keeps at most W PUBLISHes unanswered per publisher. Every run
#      checks that each message reaches each of its channel's subscribers exactly once
#      and in its publisher's order, and that PUBLISH answers the subscriber count;
#      the tool exits non-zero otherwise, which is an anomaly.
#      For every run it records delivered messages/s (from the first PUBLISH to the
#      last message received), publish latency p50/p99 and the server's CPU time per
#      delivered message: the utime+stime delta of /proc/PID/stat (all threads) over
#      the whole load run (connections and subscriptions included, a small share), in
#      clock ticks (`getconf CLK_TCK`), times 1e6 / CLK_TCK / delivered messages.
#      "Server CPU %" is that time over the delivery time: well below 100% the load
#      generator (up to 150 threads on one CPU) or the machine was the bottleneck.
#   3. Prints a markdown report: machine, versions, the table asked for (delivered/s
#      and CPU-us per delivered message for both servers, the ratio peregrine/redis and
#      whether it meets 0.7x), latencies and CPU %, and the anomalies.
#
# Absolute numbers on a shared 2-core machine are noise; the ratios inside one run are
# the figure. Every server listens on 127.0.0.1 only; the script kills only the
# processes it started (by PID, on EXIT).
#
# Usage:   benches/pubsub.sh            (from anywhere; about 30 s by default here)
# Environment (defaults in brackets):
#   FANOUT_MESSAGES [20000]  PUBLISHes of the fanout publisher (x100 deliveries)
#   SPREAD_MESSAGES [10000]  PUBLISHes per spread publisher (x50 publishers x2 deliveries)
#   SCENARIOS ["fanout spread"] / PIPELINES ["1 16"]
#   DATA_SIZE [64]           payload bytes
#   SHARDS [1]               peregrine-server --shards
#   SERVER_CPU [0] / CLIENT_CPU [1]   CPUs for taskset
#   SKIP_BUILD [0]           1: use the existing binaries
#   PEREGRINE_BIN / LOAD_BIN binaries [${CARGO_TARGET_DIR:-<repo>/target}/release/...]
#   REPORT                   also write the final markdown report to this file
set -euo pipefail

FANOUT_MESSAGES=${FANOUT_MESSAGES:-20000}
SPREAD_MESSAGES=${SPREAD_MESSAGES:-10000}
SCENARIOS=${SCENARIOS:-"fanout spread"}
PIPELINES=${PIPELINES:-"1 16"}
DATA_SIZE=${DATA_SIZE:-64}
SHARDS=${SHARDS:-1}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
SKIP_BUILD=${SKIP_BUILD:-0}
REPORT=${REPORT:-}
HOST=127.0.0.1
TARGET_RATIO=0.7

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
[[ $TARGET_DIR == /* ]] || TARGET_DIR=$ROOT/$TARGET_DIR # cargo reads it relative to $ROOT below
PEREGRINE_BIN=${PEREGRINE_BIN:-$TARGET_DIR/release/peregrine-server}
LOAD_BIN=${LOAD_BIN:-$TARGET_DIR/release/peregrine-load}
CLK_TCK=$(getconf CLK_TCK)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/pubsub.XXXXXX")
# server, scenario, pipeline, published, delivered, delivered/s, p50, p99, CPU us/msg, CPU %
RESULTS=$WORK/results.tsv
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

# ------------------------------------------------------------------------ scenarios

# shape SCENARIO — its publishers, channels and subscribers per channel, as flags.
shape() {
    case $1 in
    fanout) echo "--publishers 1 --channels 1 --subscribers-per-channel 100 --messages $FANOUT_MESSAGES" ;;
    spread) echo "--publishers 50 --channels 50 --subscribers-per-channel 2 --messages $SPREAD_MESSAGES" ;;
    *) die "unknown scenario $1 (SCENARIOS takes fanout, spread)" ;;
    esac
}

describe_scenario() {
    case $1 in
    fanout) echo "1 publisher -> 1 channel x 100 subscribers, $FANOUT_MESSAGES PUBLISHes" ;;
    spread) echo "50 publishers -> 50 channels x 2 subscribers, $SPREAD_MESSAGES PUBLISHes each" ;;
    esac
}

# ------------------------------------------------------------------------ passes

# load LABEL PIPELINE FLAGS... — one peregrine-load pubsub run against the current
# server, pinned to CLIENT_CPU; prints its result line. A non-zero exit is an anomaly
# (with the tool's own diagnosis), not the end.
load() {
    local label=$1 pipeline=$2 out
    shift 2
    if ! out=$(taskset -c "$CLIENT_CPU" "$LOAD_BIN" pubsub --host "$HOST" --port "$SERVER_PORT" \
        --data-size "$DATA_SIZE" --pipeline "$pipeline" "$@" 2>"$WORK/load.err"); then
        anomaly "$SERVER_LABEL: peregrine-load pubsub $label P$pipeline failed: $(head -n 4 "$WORK/load.err" | tr '\n' ' ')"
    fi
    printf '%s\n' "$out"
}

# smoke — a small checked run; fails (returns 1) when the server cannot do pub/sub.
smoke() {
    local out
    out=$(load smoke 4 --publishers 2 --channels 2 --subscribers-per-channel 2 --messages 100 \
        --drain-timeout-ms 2000)
    [[ -n $out && $(field missing "$out") == 0 && $(field duplicated "$out") == 0 &&
        $(field out_of_order "$out") == 0 && $(field unexpected "$out") == 0 &&
        $(field delivered "$out") == "$(field expected "$out")" ]]
}

# measure SCENARIO PIPELINE
measure() {
    local scenario=$1 pipeline=$2 before after out
    server_alive
    before=$(cpu_ticks)
    # shellcheck disable=SC2046 # shape's flags are separate words
    out=$(load "$scenario" "$pipeline" $(shape "$scenario"))
    server_alive
    after=$(cpu_ticks)
    if [[ -z $out ]]; then
        return 0
    fi
    local rate published delivered expected p50 p99 elapsed
    rate=$(field delivered_per_sec "$out")
    published=$(field published "$out")
    delivered=$(field delivered "$out")
    expected=$(field expected "$out")
    p50=$(field publish_p50_ms "$out")
    p99=$(field publish_p99_ms "$out")
    elapsed=$(field elapsed_s "$out")
    if [[ $delivered != "$expected" ]]; then
        anomaly "$SERVER_LABEL: $delivered messages delivered in $scenario P$pipeline, expected $expected"
    fi
    if ((delivered == 0)); then
        return 0
    fi
    awk -v label="$SERVER_LABEL" -v scenario="$scenario" -v pipeline="$pipeline" \
        -v published="$published" -v delivered="$delivered" -v rate="$rate" -v p50="$p50" \
        -v p99="$p99" -v ticks=$((after - before)) -v hz="$CLK_TCK" -v elapsed="$elapsed" 'BEGIN {
            seconds = ticks / hz
            # Parenthesised: a bare ">" in a printf argument list is a redirection.
            share = (elapsed > 0) ? 100 * seconds / elapsed : 0
            printf "%s\t%s\t%s\t%d\t%d\t%s\t%s\t%s\t%.3f\t%.0f\n", label, scenario, pipeline,
                published, delivered, rate, p50, p99, seconds * 1e6 / delivered, share
        }' >>"$RESULTS"
    # Below 80% CPU the server mostly waited: on the client, or on a busy machine.
    tail -n 1 "$RESULTS" | awk -F'\t' '$10 < 80 { printf "%s %s P%s (%s%%)\n", $1, $2, $3, $10 }' >>"$UNSATURATED"
    tail -n 1 "$RESULTS" | awk -F'\t' '{
        printf "    %-7s P%-3s %9s msgs/s  publish p50 %s  p99 %s ms  %s us/msg CPU (%s%%)\n",
            $2, $3, $6, $7, $8, $9, $10 }' >&2
}

load_pass() {
    if ! smoke; then
        anomaly "$SERVER_LABEL: the pub/sub smoke run failed; its scenarios were not measured"
        return 0
    fi
    local scenario pipeline
    for scenario in $SCENARIOS; do
        # Unmeasured warm-up: connections, buffers, the allocator's first pages.
        # shellcheck disable=SC2046 # shape's flags are separate words
        load "$scenario-warmup" 16 $(shape "$scenario" | sed 's/--messages [0-9]*/--messages 1000/') >/dev/null
        for pipeline in $PIPELINES; do
            measure "$scenario" "$pipeline"
        done
    done
}

# --------------------------------------------------------------------------- report

report() {
    local revision scenario
    revision=$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)
    echo
    echo "## Pub/sub: Peregrine vs redis-server, side by side"
    echo
    echo "- Date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "- Machine: $(machine_line); load average at the end $(cut -d' ' -f1-3 /proc/loadavg) (other jobs make runs noisy: read the ratios)"
    echo "- redis-server: $(redis-server --version | awk '{ print $3 }' | cut -d= -f2); peregrine: $revision (release, --shards $SHARDS); load: peregrine-load pubsub (one thread per connection)"
    echo "- Servers pinned to CPU $SERVER_CPU, load generator to CPU $CLIENT_CPU; $DATA_SIZE-byte payloads;" \
        "pipeline = most unanswered PUBLISHes per publisher"
    for scenario in $SCENARIOS; do
        echo "- $scenario: $(describe_scenario "$scenario")"
    done
    echo "- CPU-us/msg: server utime+stime (/proc/PID/stat, all threads) over the run / delivered messages;" \
        "ratio = peregrine/redis, target <= $TARGET_RATIO."
    echo
    echo "| scenario | pipeline | Redis msgs/s | Peregrine msgs/s | Redis CPU-us/msg | Peregrine CPU-us/msg | CPU ratio | <= ${TARGET_RATIO}x |"
    echo "|---|---:|---:|---:|---:|---:|---:|---|"
    awk -F'\t' -v target="$TARGET_RATIO" -v scenarios="$SCENARIOS" -v pipelines="$PIPELINES" '
        { rate[$1, $2, $3] = $6; cpu[$1, $2, $3] = $9 }
        END {
            count = split(scenarios, scenario, " ")
            depth = split(pipelines, pipeline, " ")
            for (s = 1; s <= count; s++) for (p = 1; p <= depth; p++) {
                key = scenario[s] SUBSEP pipeline[p]
                redis_rate = (("redis" SUBSEP key) in rate) ? rate["redis" SUBSEP key] : "-"
                ours_rate = (("peregrine" SUBSEP key) in rate) ? rate["peregrine" SUBSEP key] : "-"
                redis_cpu = (("redis" SUBSEP key) in cpu) ? cpu["redis" SUBSEP key] : "-"
                ours_cpu = (("peregrine" SUBSEP key) in cpu) ? cpu["peregrine" SUBSEP key] : "-"
                ratio = "-"; verdict = "-"
                if (redis_cpu != "-" && ours_cpu != "-" && redis_cpu > 0) {
                    ratio = sprintf("%.2f", ours_cpu / redis_cpu)
                    verdict = (ratio + 0 <= target) ? "yes" : "no"
                }
                printf "| %s | %s | %s | %s | %s | %s | %s | %s |\n", scenario[s], pipeline[p],
                    redis_rate, ours_rate, redis_cpu, ours_cpu, ratio, verdict
            }
        }' "$RESULTS"
    echo
    echo "Publish latency and server CPU share per run:"
    echo
    echo "| scenario | pipeline | server | published | delivered | publish p50 ms | publish p99 ms | server CPU % |"
    echo "|---|---:|---|---:|---:|---:|---:|---:|"
    awk -F'\t' '{ printf "| %s | %s | %s | %s | %s | %s | %s | %s |\n", $2, $3, $1, $4, $5, $7, $8, $10 }' "$RESULTS"
    if [[ -s $UNSATURATED ]]; then
        echo
        echo "Not server-bound (server CPU below 80%; these runs measure the client or other load" \
            "on the machine more than the server): $(paste -sd, "$UNSATURATED" | sed 's/,/, /g')."
    fi
    echo
    if [[ -s $ANOMALIES ]]; then
        echo "Anomalies:"
        echo
        cat "$ANOMALIES"
    else
        echo "Anomalies: none (every message delivered exactly once and in order, every PUBLISH" \
            "answered with its channel's subscriber count)."
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
for scenario in $SCENARIOS; do
    shape "$scenario" >/dev/null
done

build_binaries

load_both "$SHARDS"

print_report
