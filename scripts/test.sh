#!/usr/bin/env bash
# Sets Remit up (.venv), starts the local services the tests need, then runs the whole
# test suite: pytest on the .venv's 3.11 and, beside it, lint (ruff), types (mypy --strict
# on all of src), the SDK-only install on Python 3.11-3.13 (scripts/check-sdk-install.sh)
# and an install-and-smoke run of the command line on Python 3.12 and 3.13
# (scripts/check-cli-install.sh). Exit status: pytest's, or 1 if only a check failed.
# Slow soak/fuzz tests are skipped here; run them with scripts/test-slow.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/services.sh
# The checks that need no services run beside pytest (which mostly waits on the servers
# it starts): their output is kept and shown after it, and any failure fails the run.
checks=$(mktemp -d)
trap 'rm -rf "$checks"' EXIT
(
  set -e
  echo "== ruff"
  .venv/bin/ruff check src tests benchmarks examples
  .venv/bin/ruff format --check src tests benchmarks examples
  echo "== mypy --strict (all of src)"
  .venv/bin/mypy
  echo "== SDK-only install (no extras)"
  scripts/check-sdk-install.sh
  echo "== CLI install and smoke on Python 3.12 and 3.13"
  scripts/check-cli-install.sh
) >"$checks/out" 2>&1 &
pid=$!
echo "== pytest (lint, types and install checks run beside it)" >&2
status=0
# Two workers (pytest-xdist): the suite mostly waits on the servers it starts, so on a
# 2-core machine two run in about 9 minutes what one runs in 16 (REMIT_TEST_WORKERS=1 for
# one process).
.venv/bin/pytest -n "${REMIT_TEST_WORKERS:-2}" "$@" || status=$?
checked=0
wait "$pid" || checked=$?
cat "$checks/out" >&2
if [ "$checked" -ne 0 ]; then
  echo "== lint, types or install checks failed (exit $checked): see above" >&2
  [ "$status" -ne 0 ] || status=1
fi
exit "$status"
