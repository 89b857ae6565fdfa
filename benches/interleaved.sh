#!/usr/bin/env bash
# interleaved.sh — server CPU per request of several servers, measured in turns.
#
# On a shared machine a server's cost drifts by tens of percent within minutes, so two
# builds measured one after the other can differ by more than the change between them.
# This script starts each server in turn (fresh, pinned to SERVER_CPU), runs the same
# redis-benchmark tests against it (pinned to CLIENT_CPU), and repeats for ROUNDS rounds,
# rotating the order; it prints each server's median user, system and total CPU time per
# request (utime and stime of /proc/PID/stat over each test, divided by requests).
#
# Usage: benches/interleaved.sh SERVER... -- TEST...
#   SERVER: `redis` (redis-server on PATH) or a peregrine-server binary
#   TEST:   redis-benchmark test names, run in order on one server (e.g. `zadd zpopmin`:
#           ZPOPMIN then pops what ZADD added); each is reported
# Environment (defaults in brackets): N [200000] requests per test, PIPELINE [1],
#   ROUNDS [5], CLIENTS [50], SHARDS [1], SERVER_CPU [0], CLIENT_CPU [1].
# Example: benches/interleaved.sh redis target/release/peregrine-server /tmp/old/peregrine-server -- get
set -euo pipefail
SERVERS=()
while [[ $# -gt 0 && $1 != -- ]]; do SERVERS+=("$1"); shift; done
[[ $# -gt 0 ]] && shift
TESTS=("$@")
if [[ ${#SERVERS[@]} -eq 0 || ${#TESTS[@]} -eq 0 ]]; then
    sed -n '2,20p' "$0" >&2
    exit 2
fi
N=${N:-200000}; PIPELINE=${PIPELINE:-1}; ROUNDS=${ROUNDS:-5}; CLIENTS=${CLIENTS:-50}
SHARDS=${SHARDS:-1}; SERVER_CPU=${SERVER_CPU:-0}; CLIENT_CPU=${CLIENT_CPU:-1}
HOST=127.0.0.1
WORK=$(mktemp -d "${TMPDIR:-/tmp}/interleaved.XXXXXX")
ANOMALIES=$WORK/anomalies.txt
: >"$ANOMALIES"
SERVER_PID=""
# Shared helpers: cleanup trap, logging, server start/stop.
# shellcheck source=benches/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# The current server's utime and stime, in ticks.
user_and_system_ticks() { awk '{ print $14, $15 }' "/proc/$SERVER_PID/stat"; }

# measure SERVER: one fresh server, every test once; appends "server test user sys" lines.
measure() {
    local server=$1 test user0 sys0 user1 sys1
    start_subject "$server" "$SHARDS"
    for test in "${TESTS[@]}"; do
        read -r user0 sys0 < <(user_and_system_ticks)
        taskset -c "$CLIENT_CPU" redis-benchmark -h "$HOST" -p "$SERVER_PORT" -t "$test" -d 16 \
            -c "$CLIENTS" -r 100000 -n "$N" -P "$PIPELINE" -q >/dev/null
        read -r user1 sys1 < <(user_and_system_ticks)
        echo "$server $test $((user1 - user0)) $((sys1 - sys0))" >>"$WORK/results"
    done
    stop_server
}

order=("${SERVERS[@]}")
for ((round = 1; round <= ROUNDS; round++)); do
    for server in "${order[@]}"; do measure "$server"; done
    order=("${order[@]:1}" "${order[0]}")
done

echo "CPU us per request, median of $ROUNDS rounds ($N requests per test, -P $PIPELINE, $CLIENTS clients):"
python3 - "$WORK/results" "$(getconf CLK_TCK)" "$N" <<'PY'
import collections, statistics, sys
path, hz, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
runs = collections.defaultdict(list)
for line in open(path):
    server, test, user, system = line.split()
    runs[(server, test)].append((int(user), int(system)))
for (server, test), values in runs.items():
    per = lambda ticks: ticks * 1e6 / hz / n
    user = statistics.median(per(u) for u, _ in values)
    system = statistics.median(per(s) for _, s in values)
    total = statistics.median(per(u + s) for u, s in values)
    print(f"{test:10} {server:50} user {user:6.2f}  sys {system:6.2f}  total {total:6.2f}")
PY
[[ -s $ANOMALIES ]] && cat "$ANOMALIES" >&2
exit 0
