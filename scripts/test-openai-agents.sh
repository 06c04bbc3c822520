#!/usr/bin/env bash
# The OpenAI Agents SDK adapter's conformance cases (marker `openai_agents`), in a venv of
# its own: every openai-agents release that supports mcp 2.x needs websockets<17, and the
# main environment pins websockets 17.4 (uvicorn[standard]), so it cannot be installed
# there (docs/adapters.md). This venv takes constraints.txt except websockets, plus the
# `openai-agents` extra. Not part of the default run.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
VENV=.venv-openai-agents
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
pins=$(mktemp)
trap 'rm -f "$pins"' EXIT
grep -v '^websockets==' constraints.txt > "$pins"
"$VENV/bin/python" -m pip install -q -c "$pins" -e ".[server,postgres,demo,dev,langchain,openai-agents]" \
  2> >(grep -v "^WARNING: Location" >&2)
exec "$VENV/bin/pytest" -m openai_agents tests/adapters "$@"
