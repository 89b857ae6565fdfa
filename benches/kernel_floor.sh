#!/usr/bin/env bash
# kernel_floor.sh — the share of a server's CPU that is the kernel's TCP work, per test.
#
# A server that answers over the kernel's TCP stack pays, for every reply it writes, the
# kernel's send path (`tcp_sendmsg`: segmentation, copy, and on loopback the delivery into
# the client's socket, which runs in the sender's context) and, for every request it
# reads, the receive path (`tcp_recvmsg`). Both servers write the same bytes in the same
# number of system calls per request (one per request unpipelined, one per batch of 16
# with -P 16), so this work costs them the same, and no server-side change reduces it
# short of sending fewer bytes. Its share of redis-server's own CPU per request is thus the
# lowest CPU-per-request ratio against redis-server that any such server can reach.
#
# For each server and test: a fresh server pinned to SERVER_CPU, `perf record -e cpu-clock
# -g` of it while redis-benchmark (pinned to CLIENT_CPU) runs the test, and the server's
# utime+stime over the test. Prints, per test: each server's CPU µs per request and the µs
# of it spent inside tcp_sendmsg + tcp_recvmsg (their inclusive sample shares times the CPU
# per request), and `floor` = the smaller of the two servers' TCP µs divided by
# redis-server's CPU µs per request.
#
# Usage: benches/kernel_floor.sh PEREGRINE_BINARY TEST...
#   TEST: a redis-benchmark test name (get, set, lpush, lrange_100, ...)
# Environment (defaults in brackets): N [300000] requests per test, PIPELINE [1],
#   CLIENTS [50], SERVER_CPU [0], CLIENT_CPU [1].
# Needs perf (linux-perf) with kernel symbols readable (perf_event_paranoid <= 1 or root).
# Example: PIPELINE=16 N=2000000 benches/kernel_floor.sh target/release/peregrine-server get lpush
set -euo pipefail
PEREGRINE=${1:-}
[[ $# -gt 0 ]] && shift
TESTS=("$@")
if [[ -z $PEREGRINE || ${#TESTS[@]} -eq 0 ]]; then
    sed -n '2,26p' "$0" >&2
    exit 2
fi
N=${N:-300000}; PIPELINE=${PIPELINE:-1}; CLIENTS=${CLIENTS:-50}
SERVER_CPU=${SERVER_CPU:-0}; CLIENT_CPU=${CLIENT_CPU:-1}
command -v perf >/dev/null || { echo "perf is not on PATH" >&2; exit 1; }
HOST=127.0.0.1
WORK=$(mktemp -d "${TMPDIR:-/tmp}/kernel_floor.XXXXXX")
ANOMALIES=$WORK/anomalies.txt
: >"$ANOMALIES"
SERVER_PID=""
# Shared helpers: cleanup trap, logging, server start/stop, CPU ticks.
# shellcheck source=benches/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# inclusive_share PERF_DATA SYMBOL — the percentage of samples with SYMBOL on their stack.
inclusive_share() {
    perf report -i "$1" --children --sort sym --stdio -g none 2>/dev/null |
        awk -v symbol="$2" '$3 == "[k]" && $4 == symbol { sub("%", "", $1); share = $1 }
            END { print share + 0 }'
}

# bench_fill PORT TEST — runs redis-benchmark's TEST unmeasured (what a pop test pops).
bench_fill() {
    taskset -c "$CLIENT_CPU" redis-benchmark -p "$1" -t "$2" -d 16 -c "$CLIENTS" -r 100000 \
        -n "$N" -P "$PIPELINE" -q >/dev/null
}

# measure SERVER TEST — prints "cpu_us_per_request tcp_us_per_request".
measure() {
    local server=$1 test=$2 ticks0 ticks1 perf_pid send recv
    start_subject "$server" 1
    local port=$SERVER_PORT
    # What the test reads or pops, and its redis-benchmark arguments (as side_by_side.sh:
    # lrange_N is a custom LRANGE of a 600-element list, measured without a prefill).
    local -a bench=(-t "$test")
    case $test in
        lpop | rpop) bench_fill "$port" lpush ;;
        spop) bench_fill "$port" sadd ;;
        zpopmin) bench_fill "$port" zadd ;;
        lrange_*)
            redis-cli -p "$port" RPUSH mylist $(seq -f "element-%09g" 1 600) >/dev/null
            bench=(LRANGE mylist 0 $((${test#lrange_} - 1)))
            ;;
    esac
    perf record -e cpu-clock -F 4000 -g -p "$SERVER_PID" -o "$WORK/perf.data" >/dev/null 2>&1 &
    perf_pid=$!
    sleep 0.3
    ticks0=$(cpu_ticks)
    taskset -c "$CLIENT_CPU" redis-benchmark -p "$port" -d 16 -c "$CLIENTS" -r 100000 -n "$N" \
        -P "$PIPELINE" -q "${bench[@]}" >/dev/null
    ticks1=$(cpu_ticks)
    kill -INT "$perf_pid"
    wait "$perf_pid" 2>/dev/null || true
    stop_server
    send=$(inclusive_share "$WORK/perf.data" tcp_sendmsg)
    recv=$(inclusive_share "$WORK/perf.data" tcp_recvmsg)
    awk -v ticks=$((ticks1 - ticks0)) -v hz="$(getconf CLK_TCK)" -v n="$N" -v send="$send" \
        -v recv="$recv" 'BEGIN { cpu = ticks / hz / n * 1e6
            printf "%.3f %.3f\n", cpu, cpu * (send + recv) / 100 }'
}

printf '| test | redis CPU µs/req | redis TCP µs/req | Peregrine CPU µs/req | Peregrine TCP µs/req | floor |\n'
printf '|---|---:|---:|---:|---:|---:|\n'
for test in "${TESTS[@]}"; do
    read -r redis_cpu redis_tcp < <(measure redis "$test")
    read -r ours_cpu ours_tcp < <(measure "$PEREGRINE" "$test")
    label=$test
    ((PIPELINE > 1)) && label="$test -P$PIPELINE"
    awk -v label="$label" -v rc="$redis_cpu" -v rt="$redis_tcp" -v oc="$ours_cpu" -v ot="$ours_tcp" \
        'BEGIN { low = (rt < ot) ? rt : ot;
                 printf "| %s | %.2f | %.2f | %.2f | %.2f | %.2f |\n", label, rc, rt, oc, ot, low / rc }'
done
