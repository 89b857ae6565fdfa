#!/usr/bin/env bash
# side_by_side.sh — Peregrine against redis-server, in one run, on this machine (DESIGN §7).
#
# What it does, in order:
#   1. Builds peregrine-server in release (`cargo build --release -p peregrine-server`).
#   2. For each server in turn — redis-server (`--save "" --appendonly no`), then
#      peregrine-server with `--shards 1`, then with `--shards 2` — starts it pinned to
#      SERVER_CPU (`taskset -c 0`), smoke-tests the commands used, and runs the load
#      generator pinned to CLIENT_CPU (`taskset -c 1`):
#        * redis-benchmark, one invocation per test of `-t set,get,incr,mset`,
#          `-c 50 -r 100000 -d 16`, without pipelining (N requests) and with `-P 16`
#          (NP requests);
#        * memtier_benchmark when it is on PATH: a preload (`--ratio=1:0
#          --key-pattern=P:P`, every key once) with a check that GET misses are ~0, then
#          `--ratio=1:10 --data-size=32 -c 50 -t 1 --distinct-client-seed
#          --key-pattern=R:R` with and without `--pipeline=16`, and a skewed run with
#          `--key-pattern=G:G`, percentiles 50,99,99.9. When it is not installed the run
#          says so and skips it (Debian bookworm has no memtier package).
#      For every (server, test) it records ops/s, p50, p99 (redis-benchmark `--csv`) and
#      the server's CPU time per request: the utime+stime delta of /proc/PID/stat (all
#      threads) over the test, in clock ticks (`getconf CLK_TCK`), divided by requests.
#      A 2-shard Peregrine pinned to one CPU runs both shards on that CPU: it measures the
#      cost of the cross-shard hops, not parallel speed-up.
#   3. Memory: into a fresh instance of each server, loads exactly MEM_KEYS distinct keys
#      `key:%012d` (16 bytes) with 16-byte values through `redis-cli --pipe` from a
#      generated RESP file, then reports DBSIZE, INFO used_memory and VmRSS, both
#      absolute and per key above the empty server's baseline. With COLLECTIONS=1 it
#      does the same for three collection datasets (each in a fresh server): 100k hashes
#      of 10 small fields, 100k sets of 10 integers, and one sorted set of 1M members,
#      reporting bytes per element. Each dataset is then loaded a second time, into
#      database 1 of the same server: what that second copy adds is the marginal cost
#      per element, without the one-time costs of a first load (code paged in, the
#      allocator's caches and first arenas).
#   The list tests lrange_100 / lrange_600 run as custom `LRANGE mylist 0 99|599`
#   commands on a list prefilled with 600 16-byte elements, so that their CPU/op is the
#   LRANGE's alone (redis-benchmark's own lrange tests add an unmeasured LPUSH prefill).
#   4. Prints a markdown report: date, machine (nproc, CPU model, kernel), versions, and
#      the tables with the ratios peregrine/redis for ops/s, CPU/op and memory.
#
# Absolute numbers on a shared 2-core machine are noise; the ratios inside one run are
# the figure. Every server listens on 127.0.0.1 only; the script kills only the
# processes it started (by PID, on EXIT).
#
# Usage:   benches/side_by_side.sh            (from anywhere; ~3-4 minutes by default)
# Environment (defaults in brackets):
#   N [200000]          requests per non-pipelined redis-benchmark test
#   NP [5*N]            requests per pipelined (-P 16) redis-benchmark test
#   CLIENTS [50]        connections of the load generator
#   KEYSPACE [100000]   key range (-r for redis-benchmark, --key-maximum for memtier)
#   TESTS [set,get,incr,mset]  e.g. lpush,rpush,lpop,rpop,sadd,hset,spop,zadd,zpopmin,lrange_100,lrange_600
#   COLLECTIONS [0]     1: also measure the collection memory datasets
#   SHARDS ["1 2"]      Peregrine shard counts to measure, each as its own pass
#   MEM_KEYS [1000000]  keys for the memory test (0 skips it)
#   MEMTIER_N [N]       requests per memtier run (all clients together)
#   SERVER_CPU [0] / CLIENT_CPU [1]   CPUs for taskset
#   REDIS_PORT [16379] / PEREGRINE_PORT [16380]
#   SKIP_BUILD [0]      1: use the existing binary
#   PEREGRINE_BIN       binary to run [${CARGO_TARGET_DIR:-<repo>/target}/release/peregrine-server]
#   REPORT              also write the final markdown report to this file
set -euo pipefail

N=${N:-200000}
NP=${NP:-$((N * 5))}
CLIENTS=${CLIENTS:-50}
KEYSPACE=${KEYSPACE:-100000}
TESTS=${TESTS:-set,get,incr,mset}
SHARDS=${SHARDS:-"1 2"}
MEM_KEYS=${MEM_KEYS:-1000000}
COLLECTIONS=${COLLECTIONS:-0}
MEMTIER_N=${MEMTIER_N:-$N}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
REDIS_PORT=${REDIS_PORT:-16379}
PEREGRINE_PORT=${PEREGRINE_PORT:-16380}
SKIP_BUILD=${SKIP_BUILD:-0}
REPORT=${REPORT:-}
HOST=127.0.0.1

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PEREGRINE_BIN=${PEREGRINE_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/peregrine-server}
CLK_TCK=$(getconf CLK_TCK)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/side_by_side.XXXXXX")
RESULTS=$WORK/results.tsv   # label, tool, test, requests, ops/s, p50 ms, p99 ms, cpu us/op
MEMORY=$WORK/memory.tsv     # label, dbsize, used_memory, rss, base used, base rss, dataset, elements, used and rss after a second copy
ANOMALIES=$WORK/anomalies.txt
: >"$RESULTS"
: >"$MEMORY"
: >"$ANOMALIES"
STARTED=$(date +%s)

# ---------------------------------------------------------------- processes we own

SERVER_PID=""
SERVER_LABEL=""
SERVER_PORT=""

# Shared helpers: cleanup trap, logging, server start/stop, CPU ticks, machine line.
# shellcheck source=benches/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# microseconds of server CPU per request, from a tick delta
cpu_per_op() {
    awk -v t="$1" -v hz="$CLK_TCK" -v n="$2" 'BEGIN { printf "%.2f", t * 1e6 / hz / n }'
}

rss_bytes() {
    awk '/^VmRSS:/ { print $2 * 1024 }' "/proc/$SERVER_PID/status"
}

# ------------------------------------------------------------------------- checks

smoke_test() {
    local reply
    for command in "SET bench:smoke abcdefghijklmnop" "GET bench:smoke" "INCR bench:counter" \
        "MSET bench:a 1 bench:b 2" "ECHO hello" "DBSIZE" "DEL bench:smoke bench:counter bench:a bench:b"; do
        # shellcheck disable=SC2086 # the command is split into words on purpose
        reply=$(cli $command 2>&1) || true
        if [[ $reply == ERR* || $reply == *"Error"* || $reply == WRONGTYPE* || -z $reply ]]; then
            anomaly "$SERVER_LABEL: \`$command\` answered \`$reply\`"
        fi
    done
    # redis-benchmark asks for these at start; a failure only prints a warning there.
    reply=$(cli CONFIG GET save 2>&1) || true
    [[ $reply == save* ]] || anomaly "$SERVER_LABEL: \`CONFIG GET save\` answered \`$reply\`"
}

# ------------------------------------------------------------------ redis-benchmark

# The redis-benchmark arguments for TEST: `-t TEST`, or for lrange_N a custom LRANGE on
# a list prefilled here with 600 elements (so the prefill is not measured).
benchmark_args() {
    local test=$1
    case $test in
    lrange_*)
        cli DEL mylist >/dev/null
        # shellcheck disable=SC2046 # 600 separate elements on purpose
        cli RPUSH mylist $(seq -f "element-%09g" 1 600) >/dev/null
        echo "LRANGE mylist 0 $((${test#lrange_} - 1))"
        ;;
    *) echo "-t $test" ;;
    esac
}

# run_redis_benchmark TEST PIPELINE REQUESTS
run_redis_benchmark() {
    local test=$1 pipeline=$2 requests=$3 before after csv errors name args
    # shellcheck disable=SC2207 # word splitting of the argument list on purpose
    args=($(benchmark_args "$test"))
    server_alive
    before=$(cpu_ticks)
    csv=$(taskset -c "$CLIENT_CPU" redis-benchmark -h "$HOST" -p "$SERVER_PORT" \
        -c "$CLIENTS" -n "$requests" -r "$KEYSPACE" -d 16 -P "$pipeline" --csv "${args[@]}" \
        2>"$WORK/rb.err") || anomaly "$SERVER_LABEL: redis-benchmark -t $test -P $pipeline exited non-zero"
    server_alive
    after=$(cpu_ticks)
    errors=$(grep -v -i "^WARNING.*CONFIG\|^$" "$WORK/rb.err" | head -n 3 || true)
    [[ -z $errors ]] || anomaly "$SERVER_LABEL: redis-benchmark -t $test -P $pipeline: $(tr '\n' ' ' <<<"$errors")"
    name=$test
    if ((pipeline > 1)); then
        name="$test -P$pipeline"
    fi
    # The header names the columns; the data line's first field is the test's title.
    awk -F, -v label="$SERVER_LABEL" -v name="$name" -v n="$requests" \
        -v cpu="$(cpu_per_op $((after - before)) "$requests")" '
        { gsub(/"/, "") }
        NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
        NF >= 8 && $col["rps"] ~ /^[0-9.]+$/ {
            printf "%s\tredis-benchmark\t%s\t%d\t%.0f\t%.3f\t%.3f\t%s\n",
                label, name, n, $col["rps"], $col["p50_latency_ms"], $col["p99_latency_ms"], cpu
            found = 1
        }
        END { if (!found) exit 1 }' <<<"$csv" >>"$RESULTS" ||
        anomaly "$SERVER_LABEL: no CSV result for redis-benchmark -t $test -P $pipeline"
    tail -n 1 "$RESULTS" | awk -F'\t' '{ printf "    %-22s %10s ops/s  p50 %s ms  p99 %s ms  %s us/op CPU\n", $3, $5, $6, $7, $8 }' >&2
}

# ------------------------------------------------------------------------ memtier

MEMTIER=$(command -v memtier_benchmark || true)

# run_memtier NAME REQUESTS ARGS... — one memtier run; records its Totals line.
run_memtier() {
    local name=$1 requests=$2 before after out
    shift 2
    server_alive
    before=$(cpu_ticks)
    out=$(taskset -c "$CLIENT_CPU" "$MEMTIER" -s "$HOST" -p "$SERVER_PORT" --protocol=redis \
        -c "$CLIENTS" -t 1 --hide-histogram --print-percentiles=50,99,99.9 "$@" 2>"$WORK/mt.err") ||
        anomaly "$SERVER_LABEL: memtier $name exited non-zero: $(tail -n 2 "$WORK/mt.err" | tr '\n' ' ')"
    server_alive
    after=$(cpu_ticks)
    printf '%s\n' "$out" >"$WORK/memtier.$SERVER_LABEL.$name.txt"
    # Totals: Type Ops/sec Hits/sec Misses/sec Avg.Latency p50 p99 p99.9 KB/sec
    awk -v label="$SERVER_LABEL" -v name="$name" -v n="$requests" \
        -v cpu="$(cpu_per_op $((after - before)) "$requests")" '
        $1 == "Totals" {
            printf "%s\tmemtier\t%s\t%d\t%.0f\t%.3f\t%.3f\t%s\n", label, name, n, $2, $6, $7, cpu
            found = 1
        }
        END { if (!found) exit 1 }' <<<"$out" >>"$RESULTS" ||
        anomaly "$SERVER_LABEL: no Totals line from memtier $name"
    tail -n 1 "$RESULTS" | awk -F'\t' '{ printf "    %-22s %10s ops/s  p50 %s ms  p99 %s ms  %s us/op CPU\n", $3, $5, $6, $7, $8 }' >&2
}

memtier_suite() {
    local per_client=$((MEMTIER_N / CLIENTS)) misses hits
    ((per_client > 0)) || per_client=1
    local requests=$((per_client * CLIENTS))
    local common=(--data-size=32 --distinct-client-seed --key-minimum=1 --key-maximum="$KEYSPACE")
    # Preload every key once so that the R:R runs' GETs hit.
    taskset -c "$CLIENT_CPU" "$MEMTIER" -s "$HOST" -p "$SERVER_PORT" --protocol=redis -c 1 -t 1 \
        --hide-histogram --ratio=1:0 --key-pattern=P:P --requests=allkeys \
        --data-size=32 --key-minimum=1 --key-maximum="$KEYSPACE" >"$WORK/mt.preload" 2>&1 ||
        anomaly "$SERVER_LABEL: memtier preload failed: $(tail -n 2 "$WORK/mt.preload" | tr '\n' ' ')"
    local dbsize
    dbsize=$(cli DBSIZE)
    ((dbsize >= KEYSPACE)) || anomaly "$SERVER_LABEL: after the memtier preload DBSIZE is $dbsize, expected $KEYSPACE"
    run_memtier "mt 1:10 R:R" "$requests" "${common[@]}" --ratio=1:10 --key-pattern=R:R --requests="$per_client"
    # Gets: Type Ops/sec Hits/sec Misses/sec ...; misses above 1% mean the preload missed keys.
    read -r hits misses < <(awk '$1 == "Gets" { print $3, $4 }' "$WORK/memtier.$SERVER_LABEL.mt 1:10 R:R.txt")
    if awk -v h="${hits:-0}" -v m="${misses:-0}" 'BEGIN { exit !(m > 0.01 * (h + m)) }'; then
        anomaly "$SERVER_LABEL: memtier GET misses/s $misses against hits/s $hits after preload"
    fi
    run_memtier "mt 1:10 R:R P16" "$requests" "${common[@]}" --ratio=1:10 --key-pattern=R:R \
        --pipeline=16 --requests="$per_client"
    run_memtier "mt 1:10 G:G" "$requests" "${common[@]}" --ratio=1:10 --key-pattern=G:G --requests="$per_client"
}

# --------------------------------------------------------------------- load passes

load_pass() {
    smoke_test
    # Unmeasured warm-up: connections, buffers and the allocator's first pages.
    taskset -c "$CLIENT_CPU" redis-benchmark -h "$HOST" -p "$SERVER_PORT" -t ping_mbulk \
        -c "$CLIENTS" -n 20000 -q >/dev/null 2>&1 || anomaly "$SERVER_LABEL: warm-up PING failed"
    cli FLUSHALL >/dev/null
    local test
    IFS=, read -r -a test_list <<<"$TESTS"
    for test in "${test_list[@]}"; do
        run_redis_benchmark "$test" 1 "$N"
    done
    for test in "${test_list[@]}"; do
        run_redis_benchmark "$test" 16 "$NP"
    done
    if [[ -n $MEMTIER ]]; then
        cli FLUSHALL >/dev/null
        memtier_suite
    fi
}

# ---------------------------------------------------------------------- memory test

# RESP-encodes each input line's space-separated words as one command.
to_resp() {
    awk '{
        printf "*%d\r\n", NF
        for (i = 1; i <= NF; i++) printf "$%d\r\n%s\r\n", length($i), $i
    }'
}

# Writes $WORK/memory.DATASET.resp for every dataset measured, and DATASETS (name,
# expected DBSIZE, elements per dataset).
make_memory_files() {
    DATASETS=()
    if ((MEM_KEYS > 0)); then
        log "generating $MEM_KEYS SET requests (key:%012d, 16-byte values)"
        awk -v n="$MEM_KEYS" 'BEGIN {
            for (i = 0; i < n; i++)
                printf "*3\r\n$3\r\nSET\r\n$16\r\nkey:%012d\r\n$16\r\nv-%014x\r\n", i, i
        }' >"$WORK/memory.strings.resp"
        DATASETS+=("strings $MEM_KEYS $MEM_KEYS")
    fi
    if [[ $COLLECTIONS == 1 ]]; then
        log "generating the collection datasets"
        awk 'BEGIN { for (i = 0; i < 100000; i++) {
            line = sprintf("HSET hash:%08d", i)
            for (f = 0; f < 10; f++) line = line sprintf(" field:%d value-%04d", f, (i + f) % 10000)
            print line } }' | to_resp >"$WORK/memory.hashes.resp"
        DATASETS+=("hashes-100kx10 100000 1000000")
        awk 'BEGIN { for (i = 0; i < 100000; i++) {
            line = sprintf("SADD set:%08d", i)
            for (m = 0; m < 10; m++) line = line sprintf(" %d", (i * 7 + m * 13) % 100000)
            print line } }' | to_resp >"$WORK/memory.sets.resp"
        DATASETS+=("sets-100kx10-ints 100000 1000000")
        awk 'BEGIN { for (i = 0; i < 10000; i++) {
            line = "ZADD bigzset"
            for (m = 0; m < 100; m++) { n = i * 100 + m; line = line sprintf(" %d member:%08d", (n * 7919) % 1000003, n) }
            print line } }' | to_resp >"$WORK/memory.zset.resp"
        DATASETS+=("zset-1M 1 1000000")
    fi
}

# memory_pass DATASET DBSIZE ELEMENTS — loads a dataset into the (fresh) server.
memory_pass() {
    local dataset=$1 expected=$2 elements=$3 base_used base_rss dbsize used rss
    base_used=$(info_field used_memory)
    base_rss=$(rss_bytes)
    load_memory_file "$dataset" "$WORK/memory.${dataset%%-*}.resp"
    dbsize=$(cli DBSIZE)
    used=$(info_field used_memory)
    rss=$(rss_bytes)
    [[ $dbsize == "$expected" ]] || anomaly "$SERVER_LABEL: DBSIZE $dbsize after loading $dataset, expected $expected"
    load_memory_file "$dataset (second copy)" <(printf '*2\r\n$6\r\nSELECT\r\n$1\r\n1\r\n'; cat "$WORK/memory.${dataset%%-*}.resp")
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$SERVER_LABEL" "$dbsize" "$used" "$rss" "$base_used" \
        "$base_rss" "$dataset" "$elements" "$(info_field used_memory)" "$(rss_bytes)" >>"$MEMORY"
    log "    $dataset: DBSIZE $dbsize  used_memory $used  VmRSS $rss"
}

# load_memory_file WHAT FILE — pipes a RESP file into the server, noting any error.
load_memory_file() {
    local what=$1 file=$2 pipe_out
    pipe_out=$(taskset -c "$CLIENT_CPU" redis-cli -h "$HOST" -p "$SERVER_PORT" --pipe <"$file" 2>&1) ||
        anomaly "$SERVER_LABEL: redis-cli --pipe failed: $(tail -n 2 <<<"$pipe_out" | tr '\n' ' ')"
    grep -q "errors: 0," <<<"$pipe_out" ||
        anomaly "$SERVER_LABEL: redis-cli --pipe ($what) reported: $(tail -n 1 <<<"$pipe_out")"
    server_alive
}

# memory_passes LABEL PORT COMMAND... — every dataset, each in a fresh server.
memory_passes() {
    local label=$1 port=$2 dataset
    shift 2
    for dataset in "${DATASETS[@]}"; do
        start_server "$label" "$port" "$@"
        # shellcheck disable=SC2086
        memory_pass $dataset
        stop_server
    done
}

# --------------------------------------------------------------------------- report

report() {
    local revision
    revision=$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)
    echo
    echo "## Peregrine vs redis-server, side by side"
    echo
    echo "- Date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "- Machine: $(machine_line)"
    echo "- redis-server: $(redis-server --version | awk '{ print $3 }' | cut -d= -f2); peregrine: $revision (release); load: $(redis-benchmark --version | awk '{ print $1, $2 }')"
    echo "- Servers pinned to CPU $SERVER_CPU, load generator to CPU $CLIENT_CPU; $CLIENTS clients," \
        "-r $KEYSPACE, 16-byte values; N=$N (non-pipelined), NP=$NP (-P 16) requests per test"
    if [[ -z $MEMTIER ]]; then
        echo "- memtier_benchmark: **skipped** (not on PATH; Debian has no memtier-benchmark package)"
    fi
    echo "- CPU/op: server utime+stime (/proc/PID/stat, all threads) over the test / requests, in microseconds."
    echo "  Ratios are peregrine/redis: ops/s above 1 is faster, CPU/op below 1 is cheaper."
    echo
    echo "| server | tool | test | ops/s | p50 ms | p99 ms | CPU us/op | ops/s ratio | CPU/op ratio |"
    echo "|---|---|---|---:|---:|---:|---:|---:|---:|"
    awk -F'\t' '
        $1 == "redis" { ops[$2 FS $3] = $5; cpu[$2 FS $3] = $8 }
        { rows[++count] = $0 }
        END {
            for (i = 1; i <= count; i++) {
                split(rows[i], f, "\t")
                key = f[2] FS f[3]
                ops_ratio = "-"; cpu_ratio = "-"
                if (f[1] != "redis" && ops[key] > 0) ops_ratio = sprintf("%.2f", f[5] / ops[key])
                if (f[1] != "redis" && cpu[key] > 0) cpu_ratio = sprintf("%.2f", f[8] / cpu[key])
                printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
                    f[1], f[2], f[3], f[5], f[6], f[7], f[8], ops_ratio, cpu_ratio
            }
        }' "$RESULTS"
    if [[ -s $MEMORY ]]; then
        echo
        echo "Memory: each dataset loaded with redis-cli --pipe into a fresh server: strings ="
        echo "\`SET key:%012d\` with 16-byte values; hashes = 100k hashes of 10 fields"
        echo "(\`field:N\` = \`value-NNNN\`); sets = 100k sets of 10 integers; zset = one sorted set"
        echo "of 1M members \`member:%08d\`. Bytes/element are above the empty server's own"
        echo "baseline; ratios are peregrine/redis for the same dataset. \"2nd copy\" is what the"
        echo "same dataset loaded again into database 1 added: the marginal cost per element."
        echo
        echo "| server | dataset | DBSIZE | used_memory MiB | VmRSS MiB | used B/elem | RSS B/elem | used ratio | RSS ratio | 2nd copy RSS B/elem | 2nd copy RSS ratio |"
        echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        awk -F'\t' '
            $1 == "redis" { used0[$7] = $3 - $5; rss0[$7] = $4 - $6; again0[$7] = $10 - $4 }
            { rows[++count] = $0 }
            END {
                for (i = 1; i <= count; i++) {
                    split(rows[i], f, "\t")
                    used = f[3] - f[5]; rss = f[4] - f[6]; again = f[10] - f[4]
                    other = f[1] != "redis"
                    used_ratio = (other && used0[f[7]] > 0) ? sprintf("%.2f", used / used0[f[7]]) : "-"
                    rss_ratio = (other && rss0[f[7]] > 0) ? sprintf("%.2f", rss / rss0[f[7]]) : "-"
                    again_ratio = (other && again0[f[7]] > 0) ? sprintf("%.2f", again / again0[f[7]]) : "-"
                    printf "| %s | %s | %s | %.1f | %.1f | %.1f | %.1f | %s | %s | %.1f | %s |\n", f[1], f[7], f[2],
                        f[3] / 1048576, f[4] / 1048576, used / f[8], rss / f[8], used_ratio, rss_ratio,
                        again / f[8], again_ratio
                }
            }' "$MEMORY"
    fi
    echo
    if [[ -s $ANOMALIES ]]; then
        echo "Anomalies:"
        echo
        cat "$ANOMALIES"
    else
        echo "Anomalies: none (every smoke-tested command answered, no benchmark errors)."
    fi
    echo
    echo "Total runtime: $(($(date +%s) - STARTED)) s."
}

# ----------------------------------------------------------------------------- main

require redis-server "apt-get install redis-server"
require redis-benchmark "apt-get install redis-tools"
require redis-cli "apt-get install redis-tools"
require taskset "apt-get install util-linux"
redis-benchmark --help 2>&1 | grep -q -- --csv || die "this redis-benchmark has no --csv"
if [[ -z $MEMTIER ]]; then
    log "memtier_benchmark not on PATH: memtier runs SKIPPED (Debian has no package; build it from source to include them)"
fi
[[ $(nproc) -ge 2 ]] || log "warning: fewer than 2 CPUs; server and load generator share CPU $SERVER_CPU"

if [[ $SKIP_BUILD != 1 ]]; then
    log "building peregrine-server (release)"
    (cd "$ROOT" && cargo build --release -p peregrine-server)
fi
[[ -x $PEREGRINE_BIN ]] || die "no peregrine-server binary at $PEREGRINE_BIN"
make_memory_files

log "redis-server: load"
start_server redis "$REDIS_PORT" redis-server --port "$REDIS_PORT" --bind "$HOST" \
    --save "" --appendonly no --dir "$WORK"
load_pass
stop_server
log "redis-server: memory"
memory_passes redis "$REDIS_PORT" redis-server --port "$REDIS_PORT" --bind "$HOST" \
    --save "" --appendonly no --dir "$WORK"

for shards in $SHARDS; do
    label="peregrine-${shards}sh"
    log "$label: load"
    start_server "$label" "$PEREGRINE_PORT" "$PEREGRINE_BIN" --port "$PEREGRINE_PORT" \
        --bind "$HOST" --shards "$shards" --save "" --appendonly no --dir "$WORK"
    load_pass
    stop_server
    log "$label: memory"
    memory_passes "$label" "$PEREGRINE_PORT" "$PEREGRINE_BIN" --port "$PEREGRINE_PORT" \
        --bind "$HOST" --shards "$shards" --save "" --appendonly no --dir "$WORK"
done

if [[ -n $REPORT ]]; then
    report | tee "$REPORT"
else
    report
fi
