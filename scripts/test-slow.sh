#!/usr/bin/env bash
# The slow soak and fuzz tests (crash loops, long property runs). Not part of the default run.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/services.sh
exec .venv/bin/pytest -m slow "$@"
