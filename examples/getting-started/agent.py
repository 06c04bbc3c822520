"""The agent of docs/getting-started.md: asks Remit before detaching an over-broad policy
from a stale role, waits while a person approves, then acts with the credentials Remit
hands it for exactly that step (REMIT_URL, AGENT_KEY from the environment)."""

import os

import remit

client = remit.Client(
    os.environ.get("REMIT_URL", "http://127.0.0.1:8700"),
    os.environ["AGENT_KEY"],
    agent="my-agent",
    provenance={"model": {"name": "my-model", "version": "1"}},
)
POLICY = "arn:aws:iam::123456789012:policy/legacy-admin"
with client.step(
    "iam:DetachRolePolicy",
    ["arn:aws:iam::123456789012:role/legacy-batch"],
    reasoning={
        "summary": "legacy-batch unused for 90 days; its admin policy is a risk",
        "confidence": 0.9,
    },
    parameters={"RoleName": "legacy-batch", "PolicyArn": POLICY},
) as aws:
    aws.client("iam").detach_role_policy(RoleName="legacy-batch", PolicyArn=POLICY)
    print("done under decision", aws.decision["id"])
