"""Batch sizes from the envelope's blast radius: the smallest max_resources among the rules
that would decide the agent's action on the ARNs; rules for other agents, actions or
resources do not count."""

from __future__ import annotations

from pathlib import Path

from remit.custodian.limits import batch_limit
from remit.envelope import load_envelope

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "envelope.yaml"
ROLE = "arn:aws:iam::111122223333:role/"


def test_the_rules_blast_radius_limits_the_batch() -> None:
    env = load_envelope(EXAMPLE).envelope
    # R7-revoke-stale: remediator, iam:DetachRolePolicy on role/*, max_resources 3
    assert batch_limit(env, "remediator", "iam:DetachRolePolicy", [f"{ROLE}a"]) == 3
    assert batch_limit(env, "remediator", "iam:detachrolepolicy", [f"{ROLE}a"]) == 3


def test_other_agents_actions_and_resources_do_not_limit() -> None:
    env = load_envelope(EXAMPLE).envelope
    assert batch_limit(env, "someone-else", "iam:DetachRolePolicy", [f"{ROLE}a"]) is None
    assert batch_limit(env, "remediator", "iam:DeleteRole", [f"{ROLE}a"]) is None
    assert batch_limit(env, "remediator", "iam:DetachRolePolicy", ["arn:aws:s3:::b"]) is None
