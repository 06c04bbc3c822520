"""Effective permissions, evaluated from the execution role's policies as moto stores them
intersected with the session policy: stated in the grant and in the approver's
credential preview as exactly the decision's (action, resource) pair, and empty when the
role lacks the action or the session is revoked."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from tests.grants.gkit import (
    decide,
    grant,
    open_world,
)
from tests.support.aws_world import ROLE_PREFIX, AwsWorld, envelope_changed

NOTHING = "this credential can do nothing"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AwsWorld]:
    for world, clock in open_world(tmp_path_factory):
        clock.reset()
        yield world


def _held_detach(world: AwsWorld, name: str) -> tuple[dict[str, Any], str]:
    policy_arn = world.managed_policy(f"{name}-s3")
    role_arn = world.role(name, policy_arn)
    d = decide(
        world,
        "iam:DetachRolePolicy",
        [role_arn],
        confidence=0.5,
        parameters={"RoleName": name, "PolicyArn": policy_arn},
    )
    assert d["status"] == "pending", d
    return d, role_arn


def _preview(world: AwsWorld, decision_id: str, state: str = "pending") -> dict[str, Any]:
    r = world.http.get("/v1/approvals", params={"state": state}, headers=world.headers("approver"))
    assert r.status_code == 200, r.text
    (item,) = [a for a in r.json() if a["decision"]["id"] == decision_id]
    return item["credential_preview"]  # type: ignore[no-any-return]


def _approve(world: AwsWorld, decision_id: str) -> None:
    r = world.http.post(
        f"/v1/approvals/{decision_id}/approve",
        json={"comment": "ok"},
        headers=world.headers("approver"),
    )
    assert r.status_code == 200, r.text


def test_grant_states_exactly_the_one_pair(world: AwsWorld) -> None:
    arn = ROLE_PREFIX + "exact"
    d = decide(world, "iam:GetRole", [arn])
    r = grant(world, d["id"])
    assert r.status_code == 200, r.text
    g = r.json()
    assert g["effective_permissions"] == [{"action": "iam:GetRole", "resource": arn}]
    assert g["effective_summary"] == f"this credential can do exactly: iam:GetRole on {arn}"


def test_credential_preview_states_exactly_the_one_pair(world: AwsWorld) -> None:
    d, role_arn = _held_detach(world, "preview-target")
    p = _preview(world, d["id"])
    assert p["grantable"] is True
    assert p["role_arn"] == world.boot["role_arn"]
    assert p["effective_permissions"] == [{"action": "iam:DetachRolePolicy", "resource": role_arn}]
    assert p["effective_summary"] == (
        f"this credential can do exactly: iam:DetachRolePolicy on {role_arn}"
    )
    assert p["session_policy"]["Statement"] == [
        {
            "Sid": "RemitDecision",
            "Effect": "Allow",
            "Action": ["iam:DetachRolePolicy"],
            "Resource": [role_arn],
        }
    ]
    assert p["rollback"] == "available"
    assert p["lifetime_seconds"] == 900
    # What the approver was shown is what the grant then says.
    _approve(world, d["id"])
    g = grant(world, d["id"]).json()
    assert g["effective_permissions"] == p["effective_permissions"]
    assert g["effective_summary"] == p["effective_summary"]


def test_role_without_the_action_means_the_credential_can_do_nothing(world: AwsWorld) -> None:
    iam = world.iam()
    role = world.boot["role_name"]
    saved = iam.get_role_policy(RoleName=role, PolicyName="remediation")["PolicyDocument"]
    saved = saved if isinstance(saved, dict) else json.loads(saved)
    iam.delete_role_policy(RoleName=role, PolicyName="remediation")  # leaves read-only baseline
    try:
        d, _ = _held_detach(world, "lacking-target")
        p = _preview(world, d["id"])
        assert p["grantable"] is True
        assert p["effective_permissions"] == []
        assert p["effective_summary"] == NOTHING
        _approve(world, d["id"])
        r = grant(world, d["id"])
        assert r.status_code == 200, r.text
        assert r.json()["effective_permissions"] == []
        assert r.json()["effective_summary"] == NOTHING
    finally:
        iam.put_role_policy(
            RoleName=role, PolicyName="remediation", PolicyDocument=json.dumps(saved)
        )


def test_explicit_deny_in_the_role_means_nothing(world: AwsWorld) -> None:
    iam = world.iam()
    role = world.boot["role_name"]
    deny = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Deny", "Action": "iam:Detach*", "Resource": "*"}],
    }
    iam.put_role_policy(RoleName=role, PolicyName="no-detach", PolicyDocument=json.dumps(deny))
    try:
        d, _ = _held_detach(world, "denied-target")
        p = _preview(world, d["id"])
        assert p["effective_permissions"] == []
        assert p["effective_summary"] == NOTHING
    finally:
        iam.delete_role_policy(RoleName=role, PolicyName="no-detach")


def test_a_revoked_session_can_do_nothing(world: AwsWorld) -> None:
    d, role_arn = _held_detach(world, "revoked-target")
    _approve(world, d["id"])
    g = grant(world, d["id"])
    assert g.status_code == 200, g.text
    assert g.json()["effective_permissions"] == [
        {"action": "iam:DetachRolePolicy", "resource": role_arn}
    ]
    before = _preview(world, d["id"], "approved")
    assert before["effective_permissions"] == g.json()["effective_permissions"]

    r = world.http.post(f"/v1/decisions/{d['id']}/revoke", headers=world.headers("agent"))
    assert r.status_code == 200, r.text
    after = _preview(world, d["id"], "approved")
    assert after["effective_permissions"] == []
    assert after["effective_summary"] == NOTHING


def test_preview_says_why_when_the_role_cannot_be_read(world: AwsWorld) -> None:
    def change(data: dict[str, Any]) -> None:
        data["agents"]["remediator"]["execution_role"] = ROLE_PREFIX + "gone-exec"

    with envelope_changed(world, change):
        d, _ = _held_detach(world, "unreadable-target")
        p = _preview(world, d["id"])
    assert p["grantable"] is False
    assert "gone-exec" in p["why"]
    assert "effective_permissions" not in p
