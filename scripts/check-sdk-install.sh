#!/usr/bin/env bash
# Checks that `pip install remit` (no extras) is the SDK alone: for Python 3.11 and, when
# they are installed (PATH or pyenv), 3.12 and 3.13, it installs this tree with no extras
# into a throw-away venv (pip's cache is reused; -c constraints.txt), then checks that
# `import remit` gives remit.Client, AsyncClient and instrument without importing fastapi,
# uvicorn, psycopg or moto, that none of them is installed, and that the `remit` command
# says in one line to install remit[server] and exits 3.
# A Python that is not installed is skipped with a note, except 3.11 under CI (CI set,
# e.g. CI=true), where it is an error.
# Usage: scripts/check-sdk-install.sh [VERSION...]     (default: 3.11 3.12 3.13)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
versions=("$@")
[ ${#versions[@]} -gt 0 ] || versions=(3.11 3.12 3.13)
required=3.11 # under CI, this one must be there

# shellcheck source=lib/pythons.sh
source scripts/lib/pythons.sh

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Build from a copy, so the tree gets no build/ or egg-info.
mkdir "$tmp/src"
cp -r pyproject.toml README.md src "$tmp/src/"
find "$tmp/src" -name __pycache__ -prune -exec rm -rf {} +

wheel=""
failed=0
for v in "${versions[@]}"; do
  py=$(find_python "$v")
  if [ -z "$py" ]; then
    if [ "$v" = "$required" ] && [ -n "${CI:-}" ]; then
      echo "check-sdk-install: python$v not found, and CI is set: it is required" >&2
      failed=1
    else
      echo "check-sdk-install: python$v not installed; skipped" >&2
    fi
    continue
  fi
  venv="$tmp/venv-$v"
  "$py" -m venv "$venv"
  vpy="$venv/bin/python"
  if [ -z "$wheel" ]; then # built once, installed in each venv
    quiet "$vpy" -m pip wheel -q --no-deps -w "$tmp/dist" "$tmp/src"
    wheel=$(ls "$tmp"/dist/remit-*.whl)
  fi
  quiet "$vpy" -m pip install -q -c "$repo/constraints.txt" "$wheel"
  problems=()
  # Run outside the tree, without PYTHONPATH, so only the installed package is imported.
  if ! (cd "$tmp" && env -u PYTHONPATH "$vpy" -c '
import sys, remit
remit.Client, remit.AsyncClient, remit.instrument
loaded = [m for m in ("fastapi", "uvicorn", "psycopg", "moto") if m in sys.modules]
assert not loaded, f"import remit loaded {loaded}"
'); then
    problems+=("the SDK does not import cleanly")
  fi
  for pkg in fastapi uvicorn psycopg moto; do
    if "$vpy" -m pip show -q "$pkg" >/dev/null 2>&1; then
      problems+=("$pkg is installed")
    fi
  done
  rc=0
  out=$(cd "$tmp" && env -u PYTHONPATH "$venv/bin/remit" --help 2>&1) || rc=$?
  if [ "$rc" -ne 3 ] || [ "$(printf '%s\n' "$out" | wc -l)" -ne 1 ] ||
    ! grep -qF "pip install 'remit[server]'" <<<"$out"; then
    problems+=("'remit --help' exited $rc and said: $out")
  fi
  if [ ${#problems[@]} -gt 0 ]; then
    printf 'check-sdk-install: python%s: %s\n' "$v" "${problems[@]}" >&2
    failed=1
  else
    echo "check-sdk-install: python$v ($("$vpy" -c 'import platform; print(platform.python_version())')): SDK-only install OK" >&2
  fi
done
exit "$failed"
