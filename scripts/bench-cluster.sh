#!/usr/bin/env bash
# Cluster benchmark (docs/BENCHMARKS.md, "Cluster mode"): three release nodes on loopback sharing the
# local Redis, HTTP sends to node 2, clients spread over the nodes by ara-load --client-urls. Not CI.
#   scripts/bench-cluster.sh [fanout|latency|all]
set -uo pipefail
target="${CARGO_TARGET_DIR:-target}"
ara="${ARA_BIN:-$target/release/ara}"
load="$target/release/ara-load"
out="${OUT:-/tmp/ara-bench-cluster}"
redis="${REDIS_URL:-redis://127.0.0.1:6379}"
mkdir -p "$out"
pids=()
start_nodes() {
  local prefix="ara-bench-$RANDOM$RANDOM"
  for n in 1 2 3; do
    env -i PATH="$PATH" SERVER_HOST=127.0.0.1 SERVER_PORT=1808$n LOG_LEVEL=warn RATELIMIT_ENABLED=false \
      SERVER_MAX_CONNECTIONS_PER_IP=0 WEBSOCKET_MAX_CONNECTIONS=20000 REDIS_URL="$redis" \
      CLUSTER_ENABLED=true CLUSTER_NODE_ID=bench-$n CLUSTER_REDIS_KEY_PREFIX="$prefix" "$ara" &
    pids+=($!)
  done
  for n in 1 2 3; do
    for _ in $(seq 100); do curl -sf "http://127.0.0.1:1808$n/health/ready" >/dev/null && break; sleep 0.1; done
  done
}
stop_nodes() { kill "${pids[@]}" 2>/dev/null; wait "${pids[@]}" 2>/dev/null; pids=(); sleep 1; }
all_nodes=http://127.0.0.1:18081,http://127.0.0.1:18082,http://127.0.0.1:18083
fanout() {
  # 9,000 subscribers (3,000 per node: one descriptor each in ara-load, under its hard limit of 20,000),
  # one channel, sends to node 2, at most 4 sends in flight.
  start_nodes
  "$load" fanout -c 9000 --connect-rate 2500 --rate 0 --window 4 -m 300 -d 60s --settle 2s \
    --url http://127.0.0.1:18082 --client-urls "$all_nodes" --json -q >"$out/fanout-9000.json"
  echo "fanout exit $?" >&2
  stop_nodes
}
latency() {
  # User sends to node 2 for users connected to nodes 1 and 3 only: every send crosses the bus.
  start_nodes
  "$load" e2e -c 1000 --connect-rate 1000 --rate 500 -d 30s --settle 2s --url http://127.0.0.1:18082 \
    --client-urls http://127.0.0.1:18081,http://127.0.0.1:18083 --json -q >"$out/user-send-cross-node.json"
  echo "latency exit $?" >&2
  stop_nodes
}
for what in "${@:-all}"; do
  case $what in
    all) fanout; latency ;;
    fanout | latency) $what ;;
    *) echo "unknown: $what" >&2; exit 2 ;;
  esac
done
