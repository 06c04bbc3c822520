#!/usr/bin/env bash
# Install-and-smoke of the command line on the Pythons CI does not run the test suite on
# (default 3.12 and 3.13; the suite itself runs on 3.11 in .venv). For each, it installs
# this tree with the `server` extra into a throw-away venv (-c constraints.txt), then, from
# a scratch folder and without PYTHONPATH, runs the README's first steps with the
# installed `remit`: --version, keygen, envelope check and sign of the example envelope,
# `decide --init` of the example request (must be autonomous and recorded), ledger
# checkpoint and verify, and a bad-input run that must exit 2.
# A Python that is not installed (PATH or pyenv) is skipped with a note, except under CI
# (CI set), where it is an error.
# Usage: scripts/check-cli-install.sh [VERSION...]     (default: 3.12 3.13)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
versions=("$@")
[ ${#versions[@]} -gt 0 ] || versions=(3.12 3.13)

# shellcheck source=lib/pythons.sh
source scripts/lib/pythons.sh

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/src"
cp -r pyproject.toml README.md src "$tmp/src/"
find "$tmp/src" -name __pycache__ -prune -exec rm -rf {} +

wheel=""
failed=0
for v in "${versions[@]}"; do
  py=$(find_python "$v")
  if [ -z "$py" ]; then
    if [ -n "${CI:-}" ]; then
      echo "check-cli-install: python$v not found, and CI is set: it is required" >&2
      failed=1
    else
      echo "check-cli-install: python$v not installed; skipped" >&2
    fi
    continue
  fi
  venv="$tmp/venv-$v"
  "$py" -m venv "$venv"
  if [ -z "$wheel" ]; then
    quiet "$venv/bin/python" -m pip wheel -q --no-deps -w "$tmp/dist" "$tmp/src"
    wheel=$(ls "$tmp"/dist/remit-*.whl)
  fi
  quiet "$venv/bin/python" -m pip install -q -c "$repo/constraints.txt" "$wheel[server]"
  work="$tmp/work-$v"
  mkdir "$work"
  cp examples/envelope.yaml examples/request.json "$work/"
  if (
    cd "$work"
    export PATH="$venv/bin:$PATH"
    unset PYTHONPATH REMIT_DB REMIT_LOG_KEY
    set -x
    remit --version
    remit keygen --out ciso --name example.com/ciso >/dev/null
    remit keygen --out log --name example.com/remit-log >/dev/null
    remit envelope check envelope.yaml >/dev/null
    remit envelope sign envelope.yaml --key ciso.key --signer ciso@example.com --role CISO \
      --at 2026-11-01T00:00:00Z >/dev/null
    remit decide --envelope envelope.yaml --trusted-keys ciso.pub --request request.json \
      --now 2026-11-10T12:00:00Z --db remit.db --init --format json >decision.json
    grep -q '"tier": "autonomous"' decision.json
    REMIT_LOG_KEY=log.key remit ledger checkpoint --db remit.db >/dev/null
    remit ledger verify --public-key log.pub --db remit.db >/dev/null
    rc=0
    remit decide --envelope envelope.yaml --request nosuch.json --db remit.db 2>/dev/null || rc=$?
    [ "$rc" -eq 2 ]
  ) >"$work/log" 2>&1; then
    echo "check-cli-install: python$v ($("$venv/bin/python" -c 'import platform; print(platform.python_version())')): CLI install and smoke OK" >&2
  else
    echo "check-cli-install: python$v: the smoke run failed:" >&2
    tail -n 30 "$work/log" >&2
    failed=1
  fi
done
exit "$failed"
