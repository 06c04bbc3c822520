#!/usr/bin/env bash
# The long schemathesis run against the service's OpenAPI document (every operation,
# positive and negative cases, several keys; no 5xx allowed). About 3-4 minutes.
# REMIT_FUZZ_LONG_EXAMPLES sets the examples per operation (default 300).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/pytest -m slow tests/server/test_schemathesis.py -p no:cacheprovider "$@"
