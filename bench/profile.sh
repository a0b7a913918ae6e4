#!/usr/bin/env bash
# bench/profile.sh — where the server's CPU goes on one path, under the load bench/compare.sh
# applies (server on core $SERVER_CPU with one worker thread, wrk on core $CLIENT_CPU with 256
# connections): `perf record` of the server process for $SECONDS_MEASURED s after 1 s of
# warm-up, then the flat profile (self time) grouped by crate, and the top symbols.
#
#   bench/profile.sh soldout [BIN]   # the sold-out grab, 100,000 users' tokens
#   bench/profile.sh write [BIN]     # the write path: 1,000,000 stock, every request a new user
#   bench/profile.sh baseline [BIN]  # the minimal hyper server, for reference
#
# Needs perf (Debian `linux-perf`), wrk, jq, curl, python3. Output in $WORK (printed).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WHAT=${1:?soldout|write|baseline}
BIN=${2:-$ROOT/target/release/stampede}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
PORT=${PORT:-18095}
SECONDS_MEASURED=${SECONDS_MEASURED:-4}
# NICE=-20 runs the server and wrk at that niceness (as root), ahead of other work on the
# machine (e.g. builds) that would otherwise share their cores.
PRIO=${NICE:+nice -n $NICE}
SECRET=compare-token-secret-0123456789abcdef
ADMIN=compare-admin-key-0123456789abcdef
WORK=${WORK:-$(mktemp -d /tmp/stampede-profile.XXXXXX)}
URL=http://127.0.0.1:$PORT
SERVER_PID=
stop() { [[ -n $SERVER_PID ]] && { kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=; }; }
trap stop EXIT

wait_up() {
    local _
    for _ in $(seq 100); do curl -s -o /dev/null "$URL$1" && return 0; sleep 0.1; done
    echo "server did not start" >&2; exit 1
}

users=100000
[[ $WHAT == write ]] && users=1000000
python3 "$ROOT/bench/tokens.py" "$SECRET" "$users" u 7200 >"$WORK/tokens.txt"

if [[ $WHAT == baseline ]]; then
    $PRIO taskset -c "$SERVER_CPU" "$BIN" baseline --listen "127.0.0.1:$PORT" --worker-threads 1 >/dev/null 2>&1 &
    SERVER_PID=$!
    wait_up /
    path=/v1/campaigns/baseline/grab
else
    STAMPEDE_TOKEN_SECRET=$SECRET STAMPEDE_ADMIN_KEY=$ADMIN $PRIO taskset -c "$SERVER_CPU" "$BIN" serve \
        --listen "127.0.0.1:$PORT" --worker-threads 1 --data-dir "$WORK/data" --log warn >"$WORK/server.log" 2>&1 &
    SERVER_PID=$!
    wait_up /healthz
    stock=1
    [[ $WHAT == write ]] && stock=1000000
    id=$(curl -sf -X POST "$URL/v1/campaigns" -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' \
        -d "{\"kind\":\"seckill\",\"name\":\"profile\",\"stock\":$stock,\"per_user_limit\":1,\"price_cents\":990}" | jq -r .id)
    if [[ $WHAT == soldout ]]; then
        curl -sf -X POST "$URL/v1/campaigns/$id/grab" \
            -H "Authorization: Bearer $(python3 "$ROOT/bench/tokens.py" "$SECRET" 1 buyer 3600)" >/dev/null
    fi
    path=/v1/campaigns/$id/grab
fi
# Warm-up (perf follows only the threads that exist when it attaches); on the write path with
# other users than the measured ones, so every measured request is still a new user.
warm=$WORK/tokens.txt
if [[ $WHAT == write ]]; then
    python3 "$ROOT/bench/tokens.py" "$SECRET" 20000 warm 7200 >"$WORK/warm-tokens.txt"
    warm=$WORK/warm-tokens.txt
fi
WRK_TOKENS=$warm $PRIO taskset -c "$CLIENT_CPU" wrk -t1 -c256 -d1s -s "$ROOT/bench/wrk-grab.lua" "$URL$path" >/dev/null
perf record -F 2999 -g -p "$SERVER_PID" -o "$WORK/perf.data" -- sleep "$SECONDS_MEASURED" 2>"$WORK/perf-record.log" &
perf_pid=$!
WRK_TOKENS=$WORK/tokens.txt $PRIO taskset -c "$CLIENT_CPU" wrk -t1 -c256 -d"${SECONDS_MEASURED}s" -s "$ROOT/bench/wrk-grab.lua" "$URL$path" | grep wrk-summary
wait "$perf_pid"
stop
perf report -i "$WORK/perf.data" --no-children --sort sym --stdio -g none >"$WORK/flat.txt" 2>/dev/null
grep '%' "$WORK/flat.txt" | grep -v '^#' >"$WORK/top.txt" || true
# Self time by crate: the symbol's leading path segment (kernel symbols as "kernel").
python3 "$ROOT/bench/by_crate.py" <"$WORK/top.txt" >"$WORK/by-crate.txt"
echo "== self time by crate ($WORK/by-crate.txt)"; cat "$WORK/by-crate.txt"
echo "== top symbols ($WORK/top.txt)"; head -40 "$WORK/top.txt"
