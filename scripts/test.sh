#!/usr/bin/env bash
# Sets Remit up (.venv), starts the local services the tests need, then runs the whole
# test suite: lint (ruff), types (mypy --strict on the core), the SDK-only install on
# Python 3.11-3.13 (scripts/check-sdk-install.sh), an install-and-smoke run of the command
# line on Python 3.12 and 3.13 (scripts/check-cli-install.sh; the suite itself runs on the
# .venv's 3.11) and pytest.
# Slow soak/fuzz tests are skipped here; run them with scripts/test-slow.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/services.sh
echo "== ruff" >&2
.venv/bin/ruff check src tests benchmarks examples
.venv/bin/ruff format --check src tests benchmarks examples
echo "== mypy --strict (all of src)" >&2
.venv/bin/mypy
echo "== SDK-only install (no extras)" >&2
scripts/check-sdk-install.sh
echo "== CLI install and smoke on Python 3.12 and 3.13" >&2
scripts/check-cli-install.sh
echo "== pytest" >&2
exec .venv/bin/pytest "$@"
