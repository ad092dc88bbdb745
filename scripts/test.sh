#!/usr/bin/env bash
# The project's test command: every unit, integration and backend contract test, against the real
# PostgreSQL and Redis on this machine (started here when they are down).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-services.sh
cargo test --all-targets --locked "$@"
