#!/usr/bin/env bash
# Re-resolves every dependency (all extras) to the newest versions pyproject.toml allows,
# in a throw-away venv, and writes them to constraints.txt. Run the tests after it.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$PY" -m venv "$tmp/venv"
"$tmp/venv/bin/python" -m pip install -q --upgrade pip 2> >(grep -v "^WARNING: Location" >&2)
"$tmp/venv/bin/python" -m pip install -q ".[server,postgres,demo,dev,bench,custodian,langchain]" 2> >(grep -v "^WARNING: Location" >&2)
{
  sed -n '1,3p' constraints.txt
  "$tmp/venv/bin/python" -m pip freeze | grep -v "^remit[= @]"
} > "$tmp/constraints.txt"
mv "$tmp/constraints.txt" constraints.txt
echo "constraints.txt: $(grep -c '==' constraints.txt) pinned packages; now run ./scripts/test.sh" >&2
