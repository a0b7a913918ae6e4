#!/usr/bin/env bash
# bench/cpu-per-request.sh — the server's CPU time per request on the sold-out grab path and on
# the baseline (`stampede baseline`, minimal hyper), from `perf stat -e task-clock` on the
# server's process while wrk drives it: where the server's time goes, per request, beside
# the baseline's in the same run (the ratio). Other load inflates it as it does throughput:
# a process busy on both cores inflated both figures by 30-60 %
# here (baseline 7.7 µs on a lightly loaded machine, 10.7-14.7 µs beside a test run), so
# compare builds only in the same run, alternating, and leave throughput verdicts to
# bench/compare.sh.
#
#   bench/cpu-per-request.sh [BIN]        # default target/release/stampede; RUNS (default 3)
#
# The server runs on core $SERVER_CPU (0) with one worker thread, wrk on $CLIENT_CPU (1) with
# 256 connections and 100,000 users' tokens (bench/tokens.py), 1 s of warm-up, then 3 s
# measured. Needs perf (Debian `linux-perf`), wrk, jq, curl, python3.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${1:-$ROOT/target/release/stampede}
RUNS=${RUNS:-3}
# NICE=-20 runs the servers and wrk at that niceness (as root), ahead of other work on the
# machine (e.g. builds) that would otherwise share their cores.
PRIO=${NICE:+nice -n $NICE}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
PORT=${PORT:-18094}
SECRET=compare-token-secret-0123456789abcdef
ADMIN=compare-admin-key-0123456789abcdef
WORK=$(mktemp -d /tmp/stampede-cpu.XXXXXX)
SERVER_PID=
stop() { [[ -n $SERVER_PID ]] && { kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=; }; }
trap 'stop; rm -rf "$WORK"' EXIT
python3 "$ROOT/bench/tokens.py" "$SECRET" 100000 u 7200 >"$WORK/tokens.txt"

wait_up() {
    local _
    for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$PORT$1" && return 0; sleep 0.1; done
    echo "server did not start" >&2; exit 1
}

# measure PATH → "requests cpu_us_per_request wrk_rps"
measure() {
    WRK_TOKENS=$WORK/tokens.txt $PRIO taskset -c "$CLIENT_CPU" wrk -t1 -c256 -d1s -s "$ROOT/bench/wrk-grab.lua" "http://127.0.0.1:$PORT$1" >/dev/null
    perf stat -x, -e task-clock -p "$SERVER_PID" -o "$WORK/stat" -- sleep 3.5 &
    local perf_pid=$! summary
    summary=$(WRK_TOKENS=$WORK/tokens.txt $PRIO taskset -c "$CLIENT_CPU" wrk -t1 -c256 -d3s -s "$ROOT/bench/wrk-grab.lua" "http://127.0.0.1:$PORT$1" | grep wrk-summary)
    wait "$perf_pid"
    local requests cpu_ms
    requests=$(awk '{ print $9 }' <<<"$summary")
    cpu_ms=$(grep task-clock "$WORK/stat" | cut -d, -f1)
    awk -v r="$requests" -v t="$cpu_ms" -v s="$(awk '{ print $3 }' <<<"$summary")" 'BEGIN { printf "%d %.2f %d\n", r, t * 1000 / r, s }'
}

for run in $(seq "$RUNS"); do
    $PRIO taskset -c "$SERVER_CPU" "$BIN" baseline --listen "127.0.0.1:$PORT" --worker-threads 1 >/dev/null 2>&1 &
    SERVER_PID=$!
    wait_up /
    read -r _ base_cpu base_rps < <(measure /v1/campaigns/baseline/grab)
    stop
    STAMPEDE_TOKEN_SECRET=$SECRET STAMPEDE_ADMIN_KEY=$ADMIN $PRIO taskset -c "$SERVER_CPU" "$BIN" serve \
        --listen "127.0.0.1:$PORT" --worker-threads 1 --data-dir "$WORK/data-$run" --log warn >/dev/null 2>&1 &
    SERVER_PID=$!
    wait_up /healthz
    id=$(curl -sf -X POST "http://127.0.0.1:$PORT/v1/campaigns" -H "Authorization: Bearer $ADMIN" \
        -H 'Content-Type: application/json' \
        -d '{"kind":"seckill","name":"cpu","stock":1,"per_user_limit":1,"price_cents":990}' | jq -r .id)
    curl -sf -X POST "http://127.0.0.1:$PORT/v1/campaigns/$id/grab" \
        -H "Authorization: Bearer $(python3 "$ROOT/bench/tokens.py" "$SECRET" 1 buyer 3600)" >/dev/null
    read -r _ sold_cpu sold_rps < <(measure "/v1/campaigns/$id/grab")
    stop
    printf 'run %d: server CPU per request: baseline %6.2f µs (%d req/s) | sold-out grab %6.2f µs (%d req/s) | ratio %.3f\n' \
        "$run" "$base_cpu" "$base_rps" "$sold_cpu" "$sold_rps" "$(awk -v a="$sold_cpu" -v b="$base_cpu" 'BEGIN { print a / b }')"
done
