#!/usr/bin/env bash
# The JS client and the admin dashboard: the client's build and unit tests (vitest), then both in
# headless Chromium against the ara binary (e2e/, node's test runner). Needs Node 20+, npm (packages
# from the committed lock files only) and Debian's chromium, installed here when missing; the browser
# is never downloaded by playwright. Screenshots of the dashboard land in target/browser-screenshots/.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || need_apt+=(nodejs npm)
[ -x "${CHROMIUM:-/usr/bin/chromium}" ] || need_apt+=(chromium)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "test-js: installing ${need_apt[*]}" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

target="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build --locked --quiet --bin ara
export ARA_BIN="$target/debug/ara"

export npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false
echo "== JS client: build and unit tests"
(cd clients/js && npm ci --silent && npm run --silent build && npx vitest run)
echo "== browser tests (client and dashboard)"
(cd e2e && npm ci --silent && node --test --test-concurrency=1 --test-reporter=spec tests/)
