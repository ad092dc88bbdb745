#!/usr/bin/env bash
# The project's test command: every unit, integration and backend contract test, against the real
# PostgreSQL and Redis on this machine (started here when they are down).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-services.sh
# The generated-client test builds a Python client from openapi/openapi.json with this generator.
if ! command -v openapi-python-client >/dev/null 2>&1; then
  python3 -m pip install --quiet --disable-pip-version-check 'openapi-python-client==0.29.*'
fi
# The schemathesis test runs this fuzzer against the served spec.
if ! command -v schemathesis >/dev/null 2>&1; then
  python3 -m pip install --quiet --disable-pip-version-check 'schemathesis==4.32.*'
fi
# Benches are built by clippy in CI and run on demand (`cargo bench`), not as tests.
cargo test --locked --lib --bins --tests "$@"
# The JS client and the dashboard, in a real browser (skip with SKIP_BROWSER_TESTS=1 for a quick run).
if [ "${SKIP_BROWSER_TESTS:-}" != 1 ]; then
  scripts/test-js.sh
fi
