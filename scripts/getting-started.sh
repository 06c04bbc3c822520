#!/usr/bin/env bash
# docs/getting-started.md as one script: from nothing to an approved, credentialed,
# recorded and verified action against a local moto cloud (nothing leaves the machine).
# Usage: scripts/getting-started.sh [FOLDER]   (default: a new temporary folder)
# Needs `remit` with the server and demo extras on PATH (source .venv/bin/activate).
# Ports: MOTO_PORT (default 5000) and REMIT_PORT (default 8700).
set -euo pipefail
MOTO_PORT=${MOTO_PORT:-5000}
REMIT_PORT=${REMIT_PORT:-8700}
here=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-$(mktemp -d)}
mkdir -p "$work" && cd "$work"
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT

# 1. A working set-up: envelope, keys (separate purposes), config, ledger, .gitignore.
remit init quickstart --org acme.example --account 123456789012
cd quickstart

# 2. A local AWS (moto) with the layout docs/aws-setup.md describes: the broker user, the
#    agent's execution role (trusting only the broker), and a stale role to clean up.
moto_server -p "$MOTO_PORT" >moto.log 2>&1 &
pids+=($!)
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$MOTO_PORT/moto-api/" >/dev/null && break; sleep 0.2; done
MOTO_PORT=$MOTO_PORT python "$here/examples/getting-started/bootstrap_aws.py" >aws.env
source aws.env   # the broker's credentials: remit serve runs as the broker

# 3. Name the execution role in the envelope, check it, sign it off.
sed -i 's|    models: \[|    execution_role: arn:aws:iam::123456789012:role/remit-exec-my-agent\n    models: [|' envelope.yaml
remit envelope check envelope.yaml
remit envelope sign envelope.yaml --key keys/signoff.key --signer you@acme.example --role CISO

# 4. API keys: one for the agent (checked against the envelope), one for an approver.
AGENT_KEY=$(remit keys create --role agent --agent my-agent --name my-agent --envelope envelope.yaml | tail -1)
APPROVER_KEY=$(remit keys create --role approver --name alice | tail -1)

# 5. Check everything the service needs, then start it.
aws_flags=(--aws-backend sts --aws-endpoint-url "http://127.0.0.1:$MOTO_PORT")
remit doctor --config remit.yaml "${aws_flags[@]}"
remit serve --config remit.yaml "${aws_flags[@]}" --port "$REMIT_PORT" 2>serve.log &
pids+=($!)
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$REMIT_PORT/readyz" >/dev/null && break; sleep 0.2; done
head -6 serve.log

# 6. The agent asks (the SDK); the change is held for a person, so it waits.
REMIT_URL=http://127.0.0.1:$REMIT_PORT AGENT_KEY=$AGENT_KEY \
  python "$here/examples/getting-started/agent.py" >agent.out 2>&1 &
agent=$!
export REMIT_URL=http://127.0.0.1:$REMIT_PORT REMIT_API_KEY=$APPROVER_KEY
for _ in $(seq 100); do
  [ "$(remit approvals list --format json)" != "[]" ] && break
  sleep 0.2
done

# 7. A person approves exactly what was asked; the agent gets credentials for that one
#    action on that one role, acts, reports the outcome; Remit revokes the credentials.
remit approvals list
id=$(remit approvals list --format json | python -c 'import json,sys; print(json.load(sys.stdin)[0]["decision_id"])')
remit approvals approve "$id" --comment "checked: unused for 90 days"
wait "$agent"
cat agent.out

# 8. What the ledger says, and that it holds.
remit decisions show "$id"
remit ledger checkpoint --log-key keys/log.key >/dev/null
remit ledger verify --public-key keys/log.pub
