"""Fallback (T3) with moto enforcing IAM: inside a governed step, AWS refusing a call for
lack of permission raises `FallbackRequired` naming the failed action; nothing is retried;
`client.fallback(...)` files a new request that the envelope's `fallbacks` decide, linked
on the ledger to the decision it follows.

moto evaluates the assumed role's own policies (not session policies), and it ignores the
Condition of the RemitRevokedSessions Deny — so in moto that Deny refuses every session
of the role. Each test starts with it removed."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
from tests.sdk.sdkit import (
    FIND_STALE,
    decision_entry,
    entries,
    entries_for,
    open_world,
    sdk,
)
from tests.support.aws_world import REASONING, ROLE_PREFIX, AwsWorld

import remit

pytestmark = pytest.mark.filterwarnings("ignore:You should not use the 'timeout' argument")

REPORT = "arn:aws:s3:::reports-archive/2026/q3.csv"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AwsWorld]:
    for world in open_world(tmp_path_factory, enforce_iam=True):
        world.moto.client("s3").create_bucket(Bucket="reports-archive")
        world.moto.set_no_auth_requests(0)  # from here on, every AWS request is authorized
        yield world


@pytest.fixture(autouse=True)
def _no_revocation_deny(world: AwsWorld) -> None:
    with world.moto.without_enforcement():
        iam = world.iam()
        with contextlib.suppress(iam.exceptions.NoSuchEntityException):
            iam.delete_role_policy(
                RoleName=world.boot["role_name"], PolicyName="RemitRevokedSessions"
            )


def count_sends(client: Any, operation: str) -> list[str]:
    """Every HTTP request `client` sends for `operation` (retries included)."""
    sent: list[str] = []
    client.meta.events.register(
        f"before-send.*.{operation}", lambda request, **_: sent.append(request.url)
    )
    return sent


def test_access_denied_in_a_step_requires_a_fallback_that_the_envelope_decides(
    world: AwsWorld,
) -> None:
    client = sdk(world)
    role_arn = f"{ROLE_PREFIX}{world.boot['role_name']}"
    grants_before = len(entries(world, "grant"))
    with (
        pytest.raises(remit.FallbackRequired) as info,
        client.step(
            "iam:GetRole",
            [role_arn],
            reasoning=REASONING,
            provenance=FIND_STALE,
            parameters={"RoleName": world.boot["role_name"]},
        ) as aws,
    ):
        did = aws.decision["id"]
        # The step's own action works with the granted credentials (IAM enforced) …
        assert aws.client("iam").get_role(RoleName=world.boot["role_name"])["Role"]["Arn"]
        s3 = aws.client("s3")
        sends = count_sends(s3, "GetObject")
        # … one the execution role does not allow is refused by AWS.
        s3.get_object(Bucket="reports-archive", Key="2026/q3.csv")
    err = info.value
    assert (err.failed_action, err.error, err.decision_id) == ("s3:GetObject", "AccessDenied", did)
    assert "RULE_MATCHED" in [r["code"] for r in err.reasons]  # the step decision's reasons
    assert isinstance(err.__cause__, Exception) and "AccessDenied" in str(err.__cause__)
    assert len(sends) == 1  # one attempt; the SDK retried nothing
    out = entries_for(world, "outcome", did)[0]["data"]
    assert out["status"] == "failed" and "AccessDenied" in out["error"]
    assert len(out["cloud_request_ids"]) == 2  # GetRole and the refused GetObject
    assert [r["data"]["reason"] for r in entries_for(world, "revocation", did)] == [
        "outcome reported: failed"
    ]

    fb = client.fallback(err, "s3:GetObject", [REPORT], reasoning=REASONING, provenance=FIND_STALE)
    assert (fb["tier"], fb["status"], fb["fallback_rule"]) == ("approve", "pending", "F1")
    assert "FALLBACK_MATCHED" in [r["code"] for r in fb["reasons"]]
    req = decision_entry(world, fb["id"])["data"]["request"]
    assert req["fallback"] == {"of": did, "failed_action": "s3:GetObject", "error": "AccessDenied"}
    assert req["action"] == "s3:GetObject" and [r["arn"] for r in req["resources"]] == [REPORT]
    # Filing the fallback executed nothing: no credentials, no second attempt.
    assert len(entries(world, "grant")) == grants_before + 1
    assert not entries_for(world, "grant", fb["id"])
    assert len(sends) == 1
    # It is held for a human; an agent that waits is told so, with the reasons.
    with pytest.raises(remit.ApprovalTimedOut) as held:
        client.wait_for_approval(fb, timeout=0.2)
    assert "FALLBACK_MATCHED" in [r["code"] for r in held.value.reasons]


def test_a_fallback_no_rule_covers_is_denied(world: AwsWorld) -> None:
    client = sdk(world)
    role_arn = f"{ROLE_PREFIX}{world.boot['role_name']}"
    with pytest.raises(remit.FallbackRequired) as info, client.step(
        "iam:GetRole", [role_arn], reasoning=REASONING, provenance=FIND_STALE,
        parameters={"RoleName": world.boot["role_name"]},
    ) as aws:  # fmt: skip
        aws.client("iam").create_user(UserName="shadow-admin")
    err = info.value
    assert (err.failed_action, err.error) == ("iam:CreateUser", "AccessDenied")
    with world.moto.without_enforcement():
        iam = world.iam()
        with pytest.raises(iam.exceptions.NoSuchEntityException):
            iam.get_user(UserName="shadow-admin")
    fb = client.fallback(
        err, "iam:CreateUser", ["arn:aws:iam::123456789012:user/shadow-admin"], reasoning=REASONING
    )
    assert fb["status"] == "denied" and fb["fallback_rule"] is None
    assert decision_entry(world, fb["id"])["data"]["request"]["fallback"]["of"] == err.decision_id


def test_fallback_needs_the_decision_it_follows(world: AwsWorld) -> None:
    with pytest.raises(ValueError, match="no decision"):
        sdk(world).fallback(
            remit.FallbackRequired("s3:GetObject", "AccessDenied"), "s3:GetObject", [REPORT]
        )
