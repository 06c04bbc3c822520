"""With moto's IAM enforcement on: the agent's own user can do little; a grant's scoped
credentials can do what the execution role allows; after revocation the same credentials
are refused; a revocation IAM refuses is recorded (applied=false) and retried by `sweep()`
until it holds; and when IAM or STS refuse Remit itself, no credentials are issued.

moto caveats (documented where they matter): moto does not enforce session policies, and
it ignores the Condition of the `RemitRevokedSessions` Deny, so in moto that Deny refuses
EVERY session of the role (in AWS only the listed SourceIdentity values). Tests that need
working sessions after a revocation remove the Deny first (`_clear_deny`)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from tests.grants.gkit import (
    assume_role_calls,
    decide,
    entries_for,
    grant,
    open_world,
    revoked_ids,
)
from tests.support.aws_world import ROLE_PREFIX, AwsWorld, envelope_changed

from remit.aws.moto_server import BROKER_USER


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AwsWorld]:
    for world, _clock in open_world(tmp_path_factory, enforce_iam=True):
        iam = world.iam()
        iam.create_policy(
            PolicyName="s3-writer",
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
                }
            ),
        )
        world.moto.set_no_auth_requests(0)  # from here on, every AWS request is authorized
        yield world


def _iam_as(world: AwsWorld, access_key: str, secret: str, token: str | None = None) -> Any:
    return boto3.client(
        "iam",
        endpoint_url=world.moto.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id=access_key,
        aws_secret_access_key=secret,
        aws_session_token=token,
    )


def _scoped_iam(g: dict[str, Any], world: AwsWorld) -> Any:
    return _iam_as(world, g["access_key_id"], g["secret_access_key"], g["session_token"])


def _agent_iam(world: AwsWorld) -> Any:
    return _iam_as(world, world.boot["agent_access_key_id"], world.boot["agent_secret_access_key"])


def _denied(call: Any, **kw: Any) -> str:
    with pytest.raises(ClientError) as info:
        call(**kw)
    code = info.value.response["Error"]["Code"]
    assert code in ("AccessDenied", "AccessDeniedException"), info.value
    return str(info.value)


def _clear_deny(world: AwsWorld) -> None:
    """moto ignores the Deny's Condition, so it refuses every session of the role;
    remove it so later sessions can act (in AWS it would not touch them)."""
    with world.moto.without_enforcement():
        iam = world.iam()
        with contextlib.suppress(iam.exceptions.NoSuchEntityException):
            iam.delete_role_policy(
                RoleName=world.boot["role_name"], PolicyName="RemitRevokedSessions"
            )


def _revoked(world: AwsWorld) -> list[str]:
    with world.moto.without_enforcement():
        return revoked_ids(world) or []


def _target(world: AwsWorld, name: str) -> tuple[str, str]:
    policy_arn = "arn:aws:iam::123456789012:policy/s3-writer"
    with world.moto.without_enforcement():
        return world.role(name, policy_arn), policy_arn


def _attached(world: AwsWorld, role: str) -> list[str]:
    with world.moto.without_enforcement():
        got = world.iam().list_attached_role_policies(RoleName=role)["AttachedPolicies"]
    return [p["PolicyArn"] for p in got]


def test_the_agents_own_user_can_do_little_without_a_grant(world: AwsWorld) -> None:
    _, policy_arn = _target(world, "own-user-target")
    agent = _agent_iam(world)
    _denied(agent.detach_role_policy, RoleName="own-user-target", PolicyArn=policy_arn)
    _denied(agent.get_role, RoleName="own-user-target")
    _denied(agent.put_role_policy, RoleName=world.boot["role_name"], PolicyName="x",
            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}))  # fmt: skip
    assert _attached(world, "own-user-target") == [policy_arn]
    # It may say who it is, and that is all.
    sts = boto3.client(
        "sts",
        endpoint_url=world.moto.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id=world.boot["agent_access_key_id"],
        aws_secret_access_key=world.boot["agent_secret_access_key"],
    )
    assert sts.get_caller_identity()["Arn"] == world.boot["agent_user_arn"]


def test_a_grant_is_the_key_and_revocation_takes_it_back(world: AwsWorld) -> None:
    _clear_deny(world)
    role_arn, policy_arn = _target(world, "granted-target")
    d = decide(
        world,
        "iam:DetachRolePolicy",
        [role_arn],
        parameters={"RoleName": "granted-target", "PolicyArn": policy_arn},
    )
    assert d["status"] == "allowed", d
    r = grant(world, d["id"])
    assert r.status_code == 200, r.text
    g = r.json()
    scoped = _scoped_iam(g, world)

    # What the agent's own user was refused, the decision's credentials can do.
    _denied(_agent_iam(world).detach_role_policy, RoleName="granted-target", PolicyArn=policy_arn)
    scoped.detach_role_policy(RoleName="granted-target", PolicyArn=policy_arn)
    assert _attached(world, "granted-target") == []

    done = world.http.post(
        f"/v1/decisions/{d['id']}/outcome",
        json={"status": "succeeded", "cloud_request_ids": []},
        headers=world.headers("agent"),
    )
    assert done.status_code == 200, done.text
    assert d["id"] in _revoked(world)
    (rev,) = entries_for(world, "revocation", d["id"])
    assert rev["data"]["applied"] is True

    # The same credentials are refused now (moto applies the role's Deny — unconditionally,
    # see the module docstring; AWS would match aws:SourceIdentity = this decision id).
    _denied(scoped.attach_role_policy, RoleName="granted-target", PolicyArn=policy_arn)
    _denied(scoped.get_role, RoleName="granted-target")
    _clear_deny(world)


def test_a_refused_revocation_is_recorded_and_retried_until_it_holds(world: AwsWorld) -> None:
    _clear_deny(world)
    broker_policy = f"remit-broker-{world.boot['agent']}"
    with world.moto.without_enforcement():
        iam = world.iam()
        original = iam.get_user_policy(UserName=BROKER_USER, PolicyName=broker_policy)[
            "PolicyDocument"
        ]
        original = original if isinstance(original, dict) else json.loads(original)
        crippled = json.loads(json.dumps(original))
        for stmt in crippled["Statement"]:
            if isinstance(stmt["Action"], list):
                stmt["Action"] = [a for a in stmt["Action"] if a != "iam:PutRolePolicy"]
        iam.put_user_policy(
            UserName=BROKER_USER, PolicyName=broker_policy, PolicyDocument=json.dumps(crippled)
        )
    try:
        target = ROLE_PREFIX + "retry-target"
        with world.moto.without_enforcement():
            world.role("retry-target")
        d = decide(world, "iam:GetRole", [target])
        r = grant(world, d["id"])
        assert r.status_code == 200, r.text
        scoped = _scoped_iam(r.json(), world)
        assert scoped.get_role(RoleName="retry-target")["Role"]["Arn"] == target

        done = world.http.post(
            f"/v1/decisions/{d['id']}/outcome",
            json={"status": "succeeded", "cloud_request_ids": []},
            headers=world.headers("agent"),
        )
        assert done.status_code == 200, done.text
        (first,) = entries_for(world, "revocation", d["id"])
        assert first["data"]["applied"] is False
        assert "PutRolePolicy" in first["data"]["error"]
        assert d["id"] not in _revoked(world)
        scoped.get_role(RoleName="retry-target")  # not revoked: the cloud refused
        # Remit still counts the session as revoked when it evaluates what it can do.
        preview = world.runtime.grants.preview(d["id"])
        assert preview["effective_permissions"] == []
        assert preview["effective_summary"] == "this credential can do nothing"

        world.runtime.grants.sweep()  # still refused: retried, recorded again
        second = entries_for(world, "revocation", d["id"])
        assert len(second) >= 2
        assert not any(e["data"]["applied"] for e in second)
        assert "retrying" in second[-1]["data"]["reason"]
    finally:
        with world.moto.without_enforcement():
            world.iam().put_user_policy(
                UserName=BROKER_USER, PolicyName=broker_policy, PolicyDocument=json.dumps(original)
            )

    world.runtime.grants.sweep()
    third = entries_for(world, "revocation", d["id"])
    assert [e["data"]["applied"] for e in third][-1] is True
    assert [e["data"]["applied"] for e in third].count(True) == 1
    assert d["id"] in _revoked(world)
    _denied(scoped.get_role, RoleName="retry-target")
    world.runtime.grants.sweep()  # it holds: no more retries
    assert len(entries_for(world, "revocation", d["id"])) == len(third)
    _clear_deny(world)


def test_unreadable_role_policies_fail_closed(world: AwsWorld) -> None:
    """Without permission to read the role's policies, Remit cannot compute effective
    permissions: no credentials, recorded."""
    broker_policy = f"remit-broker-{world.boot['agent']}"
    with world.moto.without_enforcement():
        iam = world.iam()
        original = iam.get_user_policy(UserName=BROKER_USER, PolicyName=broker_policy)[
            "PolicyDocument"
        ]
        reads = {"iam:ListRolePolicies", "iam:ListAttachedRolePolicies", "iam:GetPolicy",
                 "iam:GetPolicyVersion", "iam:GetRolePolicy", "iam:GetRole"}  # fmt: skip
        stripped = {
            "Version": "2012-10-17",
            "Statement": [
                {**st, "Action": [a for a in st["Action"] if a not in reads]}
                for st in original["Statement"]
                if [a for a in st["Action"] if a not in reads]
            ],
        }
        iam.put_user_policy(
            UserName=BROKER_USER, PolicyName=broker_policy, PolicyDocument=json.dumps(stripped)
        )
    try:
        d = decide(world, "iam:GetRole", [ROLE_PREFIX + "unreadable"])
        with assume_role_calls(world) as calls:
            r = grant(world, d["id"])
        assert r.status_code == 502, r.text
        assert calls == []
        assert "session_token" not in r.json()
        (failed,) = entries_for(world, "grant", d["id"])
        assert failed["data"]["status"] == "failed"
        assert "AccessDenied" in failed["data"]["reason"]
    finally:
        with world.moto.without_enforcement():
            world.iam().put_user_policy(
                UserName=BROKER_USER, PolicyName=broker_policy, PolicyDocument=json.dumps(original)
            )


def test_sts_refusing_assume_role_fails_closed(world: AwsWorld) -> None:
    """An execution role whose trust policy does not name Remit's user (and which that user
    has no sts:AssumeRole permission on): STS refuses, nothing is issued, it is recorded."""
    with world.moto.without_enforcement():
        world.iam().create_role(
            RoleName="untrusting-exec",
            AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
        )

    def change(data: dict[str, Any]) -> None:
        data["agents"]["remediator"]["execution_role"] = ROLE_PREFIX + "untrusting-exec"

    with envelope_changed(world, change):
        d = decide(world, "iam:GetRole", [ROLE_PREFIX + "anything"])
        with assume_role_calls(world) as calls:
            r = grant(world, d["id"])
    assert r.status_code == 502, r.text
    assert len(calls) == 1  # STS was asked, and refused
    assert "secret_access_key" not in r.json()
    (failed,) = entries_for(world, "grant", d["id"])
    assert failed["data"]["status"] == "failed"
    assert "sts:AssumeRole" in failed["data"]["reason"]
    assert not world.runtime.grants.has_grant(d["id"])
