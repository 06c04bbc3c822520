#!/usr/bin/env bash
# Creates .venv (Python 3.11) and installs Remit with its dev dependencies, at the exact
# versions in constraints.txt. Idempotent: re-installs only when pyproject.toml,
# constraints.txt or the extras asked for changed since the last run.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
fi
stamp=.venv/.remit-installed
want=$(cat pyproject.toml constraints.txt | sha256sum | cut -d' ' -f1)-${REMIT_EXTRAS:-dev}
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "remit: installing dependencies into .venv (first run takes about a minute)…" >&2
  .venv/bin/python -m pip install -q -c constraints.txt -e ".[${REMIT_EXTRAS:-dev}]" 2> >(grep -v "^WARNING: Location" >&2)
  echo "$want" > "$stamp"
fi
