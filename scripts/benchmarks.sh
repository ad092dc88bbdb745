#!/usr/bin/env bash
# Runs the benchmark set recorded in docs/BENCHMARKS.md against a release build of Ara started by
# scripts/bench-server.sh (ARA_BIN picks another server binary), and writes one JSON report per run
# into OUT (default /tmp/ara-bench). Every run is bounded; all traffic stays on loopback.
#   scripts/benchmarks.sh [idle|fanout|http|e2e|slow|soak|all]...
set -uo pipefail
target="${CARGO_TARGET_DIR:-target}"
load="$target/release/ara-load"
out="${OUT:-/tmp/ara-bench}"
url="http://127.0.0.1:${SERVER_PORT:-18080}"
here="$(cd "$(dirname "$0")" && pwd)"
mkdir -p "$out"

# run NAME [SERVER_ENV=...] -- ARA_LOAD_ARGS...: a fresh server per run, so RSS figures start clean.
run() {
  local name=$1; shift
  local envs=()
  while [[ $# -gt 0 && $1 != -- ]]; do envs+=("$1"); shift; done
  shift
  local pid
  pid=$(env "${envs[@]}" "$here/bench-server.sh") || return 1
  echo "== $name (load average $(cut -d' ' -f1-3 /proc/loadavg))" >&2
  "$load" "$@" --url "$url" --server-pid "$pid" --json -q >"$out/$name.json"
  echo "   exit $?" >&2
  kill "$pid"
  sleep 1
}

idle() {
  run idle-10k -- ws -c 10000 --connect-rate 2500 --rate 0 -d 10s --settle 5s
  run held-19900 -- ws -c 19900 --connect-rate 2500 --rate 0 -d 10s --settle 5s
}
fanout() {
  for i in 1 2; do
    run "fanout-channel-$i" -- fanout -c 10000 --connect-rate 2500 --rate 0 --window 4 -m 600 -d 60s
  done
  run fanout-broadcast -- fanout -c 10000 --connect-rate 2500 --rate 0 --window 4 -m 600 -d 60s --broadcast
  run fanout-paced-250k -- fanout -c 10000 --connect-rate 2500 --rate 25 -d 20s
  run fanout-sse -- sse -c 10000 --connect-rate 2500 --rate 0 --window 4 -m 300 -d 60s
}
http() {
  for i in 1 2; do
    run "http-$i" -- http -c 1000 --connect-rate 2000 --rate 0 --senders 64 -d 15s
  done
  run batch -- batch -c 1000 --connect-rate 2000 --rate 0 --senders 16 --batch-size 50 -d 15s
}
e2e() {
  run e2e-10k-1000 -- e2e -c 10000 --connect-rate 2500 --rate 1000 --senders 32 -d 30s --max-p99-ms 5
}
slow() {
  run slow-clean -- fanout -c 2000 --connect-rate 2000 --rate 50 -d 60s --payload-bytes 4000
  run slow-1pct -- fanout -c 2000 --connect-rate 2000 --rate 50 -d 60s --payload-bytes 4000 --stall-fraction 0.01
}
soak() {
  # SOAK_DURATION=20m makes it longer than the profile's 10 minutes.
  run soak -- e2e -p soak ${SOAK_DURATION:+-d "$SOAK_DURATION"}
}

[[ $# -eq 0 ]] && set -- all
for what in "$@"; do
  case $what in
    all) idle; fanout; http; e2e; slow ;;
    idle | fanout | http | e2e | slow | soak) $what ;;
    *) echo "unknown set: $what" >&2; exit 2 ;;
  esac
done
