#!/usr/bin/env bash
# Sets Remit up (.venv) and runs its main job on embedded defaults: `remit demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/remit demo "$@"
