#!/usr/bin/env bash
# Makes sure the PostgreSQL and Redis that the backend tests use are up on 127.0.0.1, starting the
# machine's own servers when they are down. Exits non-zero when either cannot be reached, so that
# backend tests fail instead of being skipped.
set -u

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
redis_up() { [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = "PONG" ]; }

wait_for() {
  local name=$1 check=$2
  for _ in $(seq 1 60); do
    if $check; then return 0; fi
    sleep 0.5
  done
  echo "ensure-services: $name is still not reachable on 127.0.0.1" >&2
  return 1
}

if ! pg_up; then
  echo "ensure-services: starting PostgreSQL" >&2
  if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  fi
fi
if ! redis_up; then
  echo "ensure-services: starting Redis" >&2
  if command -v redis-server >/dev/null; then
    mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
  fi
fi
wait_for PostgreSQL pg_up && wait_for Redis redis_up
