"""Issue 11, finding 7 (first half): three concurrent grant calls for one decision — the
losers' emergency revocation put the winner's SourceIdentity on the deny list. Now
exactly one call reaches the cloud and issues credentials; the others are refused (409)
before asking it, and nothing touches the winner's session."""

from __future__ import annotations

import threading
from typing import Any

from tests.grants.gkit import assume_role_calls, decide, entries_for, grant, revoked_ids
from tests.support.aws_world import AwsWorld


def test_exactly_one_of_concurrent_grants_issues(world: AwsWorld) -> None:
    policy = world.managed_policy("race-target-policy")
    role = world.role("race-target", policy)
    d = decide(
        world,
        "iam:DetachRolePolicy",
        [role],
        parameters={"RoleName": "race-target", "PolicyArn": policy},
    )
    assert d["status"] == "allowed", d
    start = threading.Barrier(3)
    answers: list[Any] = []

    def ask() -> None:
        start.wait()
        answers.append(grant(world, d["id"]))

    with assume_role_calls(world) as calls:
        threads = [threading.Thread(target=ask) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    codes = sorted(r.status_code for r in answers)
    assert codes == [200, 409, 409], [r.text for r in answers]
    assert len(calls) == 1  # only the claimant asked STS
    assert d["id"] not in (revoked_ids(world) or [])  # nobody revoked the winner
    issued = [e for e in entries_for(world, "grant", d["id"]) if e["data"]["status"] == "issued"]
    assert len(issued) == 1
    claims = entries_for(world, "grant_claim", d["id"])
    assert [c["data"]["released"] for c in claims] == [False]
