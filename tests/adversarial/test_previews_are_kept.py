"""Issue 12, finding 7: one auditor listing approvals made Remit ask the cloud for every
item, every time (credential previews), sharing AWS's throttling budget with Remit's own
revocations. A preview is computed once per decision and kept on the ledger."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.grants.gkit import decide
from tests.support.aws_world import AwsWorld


@contextmanager
def counted_policy_reads(world: AwsWorld) -> Iterator[list[str]]:
    """Record each time the grant backend reads a role's policies from IAM."""
    backend = world.runtime.grants.backend
    real = backend.identity_policies
    calls: list[str] = []

    def counting(role_arn: str) -> Any:
        calls.append(role_arn)
        return real(role_arn)

    backend.identity_policies = counting  # type: ignore[method-assign]
    try:
        yield calls
    finally:
        backend.identity_policies = real  # type: ignore[method-assign]


def test_listing_approvals_twice_reads_iam_once_per_decision(world: AwsWorld) -> None:
    held = []
    for i in range(4):
        policy = world.managed_policy(f"kept-preview-{i}")
        role = world.role(f"kept-preview-{i}", policy)
        d = decide(
            world,
            "iam:DetachRolePolicy",
            [role],
            confidence=0.5,
            parameters={"RoleName": f"kept-preview-{i}", "PolicyArn": policy},
        )
        assert d["status"] == "pending", d
        held.append(d["id"])
    with counted_policy_reads(world) as calls:
        first = world.http.get("/v1/approvals?state=pending", headers=world.headers("auditor"))
        assert first.status_code == 200, first.text
        after_first = len(calls)
        second = world.http.get("/v1/approvals?state=pending", headers=world.headers("auditor"))
        assert second.status_code == 200, second.text
    listed = {a["approval"]["decision_id"] for a in first.json()}
    assert set(held) <= listed
    assert after_first <= len(listed)  # at most once per decision
    assert len(calls) == after_first  # and never again
    previews = {a["approval"]["decision_id"]: a["credential_preview"] for a in second.json()}
    assert all(previews[d]["grantable"] for d in held), previews
    assert [a["credential_preview"] for a in first.json()] == [
        a["credential_preview"] for a in second.json()
    ]
