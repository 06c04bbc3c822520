#!/usr/bin/env bash
# Creates .venv (Python 3.11, or $PYTHON) and installs Remit with the extras the README's
# commands and the tests need (REMIT_EXTRAS, default
# server,postgres,demo,dev,custodian,langchain), at the exact versions in constraints.txt.
# Idempotent: re-installs only when pyproject.toml, constraints.txt or the extras asked for
# changed since the last run. A .venv made by another Python, or one whose python no longer
# runs, is made again.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib/pythons.sh
source scripts/lib/pythons.sh
PY=${PYTHON:-python3.11}
if ! "$PY" -c "" >/dev/null 2>&1; then # not on PATH, or a pyenv shim not selected
  case "$PY" in
  python3.*) found=$(find_python "${PY#python}") ;;
  *) found="" ;;
  esac
  if [ -n "$found" ]; then
    PY=$found
  elif [ -n "${PYTHON:-}" ]; then
    echo "remit: PYTHON=$PYTHON does not run here" >&2
    exit 2
  else
    PY=python3
  fi
fi
EXTRAS=${REMIT_EXTRAS-server,postgres,demo,dev,custodian,langchain}
version='import sys; print("%d.%d" % sys.version_info[:2])'
wanted=$("$PY" -c "$version")
have=$(.venv/bin/python -c "$version" 2>/dev/null || echo "none")
if [ "$have" != "$wanted" ]; then
  if [ "$have" = "none" ] && [ -e .venv ]; then
    echo "remit: .venv/bin/python does not run: making .venv again" >&2
  elif [ -e .venv ]; then
    echo "remit: .venv runs Python $have, not $wanted: making it again" >&2
  fi
  rm -rf .venv
  "$PY" -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip 2> >(grep -v "^WARNING: Location" >&2)
fi
stamp=.venv/.remit-installed
want=$(cat pyproject.toml constraints.txt | sha256sum | cut -d' ' -f1)-$EXTRAS
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "remit: installing dependencies into .venv (first run takes about a minute)…" >&2
  .venv/bin/python -m pip install -q -c constraints.txt -e ".${EXTRAS:+[$EXTRAS]}" 2> >(grep -v "^WARNING: Location" >&2)
  echo "$want" > "$stamp"
fi
