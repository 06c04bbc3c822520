#!/usr/bin/env bash
# Makes sure the local services the tests use are up: PostgreSQL on 127.0.0.1:5432.
# Starts it with the machine's own cluster tooling if it has stopped; never installs it.
set -uo pipefail
if command -v pg_isready >/dev/null 2>&1; then
  if ! pg_isready -q -h 127.0.0.1 -p 5432; then
    if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
      echo "services: starting PostgreSQL" >&2
      pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
      for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
    fi
  fi
  pg_isready -h 127.0.0.1 -p 5432 >&2 || echo "services: PostgreSQL is not reachable; its tests will skip (CI fails them)" >&2
fi
exit 0
