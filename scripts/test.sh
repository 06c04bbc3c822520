#!/usr/bin/env bash
# Sets Remit up (.venv), starts the local services the tests need, then runs the whole
# test suite: lint (ruff), types (mypy --strict on the core) and pytest.
# Slow soak/fuzz tests are skipped here; run them with scripts/test-slow.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/services.sh
echo "== ruff" >&2
.venv/bin/ruff check src tests benchmarks
.venv/bin/ruff format --check src tests benchmarks
echo "== mypy --strict (core)" >&2
.venv/bin/mypy
echo "== pytest" >&2
exec .venv/bin/pytest "$@"
