#!/usr/bin/env bash
# Starts the release build of Ara configured for benchmarks (no rate limits, no per-IP connection cap,
# no ACK tracking, warn logs),
# detached, and prints its process id. Extra settings come from the environment, e.g.
#   QUEUE_ENABLED=true scripts/bench-server.sh
# ARA_BIN=path runs another build of the server. Stop it with: kill <pid>
set -euo pipefail
target="${CARGO_TARGET_DIR:-target}"
port="${SERVER_PORT:-18080}"
log="${ARA_BENCH_LOG:-/tmp/ara-bench-server.log}"
export SERVER_HOST=127.0.0.1 SERVER_PORT="$port" \
  RATELIMIT_ENABLED="${RATELIMIT_ENABLED:-false}" \
  SERVER_MAX_CONNECTIONS_PER_IP="${SERVER_MAX_CONNECTIONS_PER_IP:-0}" ACK_ENABLED="${ACK_ENABLED:-false}" \
  QUEUE_ENABLED="${QUEUE_ENABLED:-false}" LOG_LEVEL="${LOG_LEVEL:-warn}" LOG_FORMAT=json \
  WEBSOCKET_MAX_CONNECTIONS="${WEBSOCKET_MAX_CONNECTIONS:-200000}"
setsid nohup "${ARA_BIN:-$target/release/ara}" serve >"$log" 2>&1 </dev/null &
pid=$!
for _ in $(seq 50); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "$pid"
    exit 0
  fi
  sleep 0.1
done
echo "ara did not start; see $log" >&2
exit 1
