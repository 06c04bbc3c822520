"""The scripted AI agent of the demo: the requests an IAM-hygiene remediator makes in one
run, each chosen to show one part of the envelope working (autonomy, severity floors,
confidence, protected and regulated resources, blast radius, break-glass denial, model
binding, workflow conformance, fallbacks, reasoning requirements, re-validation).
"""

from __future__ import annotations

from copy import deepcopy
from dataclasses import dataclass
from typing import Any

ACCOUNT = "111122223333"

BASE: dict[str, Any] = {
    "agent": "remediator",
    "origin": "ai",
    "on_behalf_of": None,
    "action": "iam:DetachRolePolicy",
    "resources": [
        {"arn": f"arn:aws:iam::{ACCOUNT}:role/legacy-batch", "tags": {"owner": "acquired-co"}}
    ],
    "environment": "prod",
    "reasoning": {
        "summary": "Role unused for 42 days and writes to 5 buckets",
        "signals": [{"name": "unused_days", "value": 42, "source": "cloudtrail"}],
        "confidence": 0.87,
        "alternatives": [
            {"action": "alert-only", "rejected_because": "severity threshold exceeded"}
        ],
    },
    "provenance": {
        "model": {"name": "claude-sonnet", "version": "2026-10-01"},
        "prompt_sha256": "9f2c4e1d7a",
        "workflow": {"name": "iam-hygiene", "run": "r-123", "step": "revoke-stale"},
        "parent_decision": None,
    },
    "fallback": None,
}


@dataclass(frozen=True)
class Step:
    """One request of the scripted agent and what it is meant to show."""

    title: str
    request: dict[str, Any]
    expect: str


def _req(**changes: Any) -> dict[str, Any]:
    r = deepcopy(BASE)
    for key, value in changes.items():
        if key in ("model", "workflow"):
            r["provenance"][key] = value
        elif key in ("confidence", "summary", "alternatives", "signals"):
            r["reasoning"][key] = value
        else:
            r[key] = value
    return r


POLICY = f"arn:aws:iam::{ACCOUNT}:policy/legacy-s3-writer"
"""The over-broad managed policy the stale roles carry in the demo's AWS (moto)."""


def detach(role_name: str) -> dict[str, Any]:
    """The API parameters of detaching POLICY from a role."""
    return {"RoleName": role_name, "PolicyArn": POLICY}


def role(name: str, **tags: str) -> dict[str, Any]:
    return {"arn": f"arn:aws:iam::{ACCOUNT}:role/{name}", "tags": tags}


def steps() -> list[Step]:
    """The run, in order."""
    find = {"name": "iam-hygiene", "run": "r-123", "step": "find-stale"}
    return [
        Step(
            "List the legacy roles to find stale ones",
            _req(
                action="iam:ListRoles",
                resources=[{"arn": f"arn:aws:iam::{ACCOUNT}:role/legacy-*", "tags": {}}],
                workflow=find,
            ),
            "autonomous",
        ),
        Step(
            "Detach a policy from a stale role (the example request)",
            _req(parameters=detach("legacy-batch")),
            "notify",
        ),
        Step(
            "Same for another role, but the model is only 62% sure",
            _req(confidence=0.62, resources=[role("legacy-etl")], parameters=detach("legacy-etl")),
            "approve",
        ),
        Step(
            "Detach from a role of the payments system",
            _req(resources=[role("payments-batch", system="payments")]),
            "approve",
        ),
        Step(
            "Detach from a PCI-scoped role",
            _req(resources=[role("card-vault-reader", **{"pci-scope": "true"})]),
            "approve",
        ),
        Step(
            "Touch the break-glass role",
            _req(resources=[role("OrganizationAccountAccessRole")]),
            "deny",
        ),
        Step(
            "Detach from four roles at once",
            _req(resources=[role(f"stale-{i}") for i in range(4)]),
            "deny",
        ),
        Step(
            "A model version nobody validated",
            _req(model={"name": "claude-sonnet", "version": "2026-11-15"}),
            "approve",
        ),
        Step(
            "Create an access key (not in the workflow, no rule)",
            _req(
                action="iam:CreateAccessKey",
                resources=[{"arn": f"arn:aws:iam::{ACCOUNT}:user/ops", "tags": {}}],
            ),
            "deny",
        ),
        Step(
            "Reasoning without signals or alternatives",
            _req(signals=[], alternatives=[], action="iam:GetRole", workflow=find),
            "deny",
        ),
        Step(
            "Fallback: read the archive after GetObject was denied",
            _req(
                action="s3:GetObject",
                resources=[{"arn": "arn:aws:s3:::reports-archive/2026/q3.csv", "tags": {}}],
                workflow={"name": "iam-hygiene", "run": "r-123", "step": "find-stale"},
                fallback={
                    "of": "dec_previous",
                    "failed_action": "s3:GetObject",
                    "error": "AccessDenied",
                },
            ),
            "approve",
        ),
    ]


AFTER_ACQUISITION = Step(
    "List roles again, after an acquisition was recorded",
    _req(
        action="iam:ListRoles",
        resources=[{"arn": f"arn:aws:iam::{ACCOUNT}:role/legacy-*", "tags": {}}],
        workflow={"name": "iam-hygiene", "run": "r-124", "step": "find-stale"},
    ),
    "approve",
)
AFTER_RESIGN = Step(
    "List roles once the CISO has signed off again",
    AFTER_ACQUISITION.request,
    "autonomous",
)
