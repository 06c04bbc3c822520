"""`remit.AsyncClient`, its HTTP through the in-process app (ASGI transport) and its boto3
calls to a real moto server: the same decide / wait / report, and `async with
client.step(...)` acting with scoped credentials, reporting and revoking."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import pytest
from tests.sdk.sdkit import (
    FIND_STALE,
    LOW_CONFIDENCE,
    approving,
    async_sdk,
    attached,
    entries_for,
    open_world,
    revoked_ids,
    target,
)
from tests.support.aws_world import REASONING, ROLE_PREFIX, AwsWorld

import remit
from remit.aws.moto_server import free_port

T = TypeVar("T")
BREAK_GLASS = f"{ROLE_PREFIX}OrganizationAccountAccessRole"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AwsWorld]:
    yield from open_world(tmp_path_factory)


def run(world: AwsWorld, body: Callable[[remit.AsyncClient], Awaitable[T]], **kw: Any) -> T:
    """Run `body(client)` in a fresh event loop with an async client (closed after)."""

    async def main() -> T:
        async with async_sdk(world, **kw) as client:
            return await body(client)

    return asyncio.run(main())


def params(role: str, policy_arn: str) -> dict[str, str]:
    return {"RoleName": role, "PolicyArn": policy_arn}


def test_async_step_acts_reports_request_ids_and_revokes(world: AwsWorld) -> None:
    role_arn, policy_arn = target(world, "async-ok")

    async def body(client: remit.AsyncClient) -> tuple[str, list[str]]:
        async with client.step(
            "iam:DetachRolePolicy",
            [role_arn],
            reasoning=REASONING,
            parameters=params("async-ok", policy_arn),
        ) as aws:
            assert aws.decision["status"] == "allowed"
            assert aws.get_credentials().access_key == aws.grant["access_key_id"]
            r = aws.client("iam").detach_role_policy(RoleName="async-ok", PolicyArn=policy_arn)
            assert not entries_for(world, "outcome", aws.decision["id"])
            return aws.decision["id"], [r["ResponseMetadata"]["RequestId"]]

    did, ids = run(world, body)
    assert attached(world, "async-ok") == []
    (out,) = entries_for(world, "outcome", did)
    assert out["data"]["status"] == "succeeded" and out["data"]["cloud_request_ids"] == ids
    (rev,) = entries_for(world, "revocation", did)
    assert rev["data"]["reason"] == "outcome reported: succeeded"
    assert did in revoked_ids(world)


def test_async_step_that_raises_reports_failure_and_revokes(world: AwsWorld) -> None:
    role_arn, policy_arn = target(world, "async-raises")
    seen: list[str] = []

    async def body(client: remit.AsyncClient) -> None:
        async with client.step(
            "iam:DetachRolePolicy",
            [role_arn],
            reasoning=REASONING,
            parameters=params("async-raises", policy_arn),
        ) as aws:
            seen.append(aws.decision["id"])
            seen.append(
                aws.client("iam").get_role(RoleName="async-raises")["ResponseMetadata"]["RequestId"]
            )
            raise RuntimeError("async agent crashed")

    with pytest.raises(RuntimeError, match="async agent crashed"):
        run(world, body)
    did, request_id = seen
    (out,) = entries_for(world, "outcome", did)
    assert out["data"]["status"] == "failed"
    assert out["data"]["error"] == "RuntimeError: async agent crashed"
    assert out["data"]["cloud_request_ids"] == [request_id]
    assert [r["data"]["reason"] for r in entries_for(world, "revocation", did)] == [
        "outcome reported: failed"
    ]
    assert attached(world, "async-raises") == [policy_arn]


def test_async_decide_wait_and_report(world: AwsWorld) -> None:
    role_arn, policy_arn = target(world, "async-held")

    async def body(client: remit.AsyncClient) -> dict[str, Any]:
        d = await client.decide(
            "iam:DetachRolePolicy",
            [role_arn],
            reasoning=LOW_CONFIDENCE,
            parameters=params("async-held", policy_arn),
        )
        assert d["status"] == "pending"
        started = time.monotonic()
        with pytest.raises(remit.ApprovalTimedOut) as info:
            await client.wait_for_approval(d, timeout=0.4)
        assert time.monotonic() - started >= 0.4
        assert "CONFIDENCE_TOO_LOW" in [r["code"] for r in info.value.reasons]
        with approving(world, role_arn) as approver:
            got = await client.wait_for_approval(d, timeout=20)
        assert approver.finish()["id"] == d["id"]
        out = await client.report_outcome(d["id"], "failed", "chose not to act", [])
        return {"decision": got, "outcome": out}

    res = run(world, body)
    assert res["decision"]["status"] == "allowed"
    assert res["decision"]["approval"]["state"] == "approved"
    (out,) = entries_for(world, "outcome", res["decision"]["id"])
    assert out["_index"] == res["outcome"]["ledger_index"]
    assert (out["data"]["status"], out["data"]["error"]) == ("failed", "chose not to act")
    assert attached(world, "async-held") == [policy_arn]


def test_async_held_step_waits_for_the_approver(world: AwsWorld) -> None:
    role_arn, policy_arn = target(world, "async-step-held")

    async def body(client: remit.AsyncClient) -> str:
        async with client.step(
            "iam:DetachRolePolicy",
            [role_arn],
            reasoning=LOW_CONFIDENCE,
            parameters=params("async-step-held", policy_arn),
            approval_timeout=20,
        ) as aws:
            aws.client("iam").detach_role_policy(RoleName="async-step-held", PolicyArn=policy_arn)
            return str(aws.decision["id"])

    with approving(world, role_arn) as approver:
        did = run(world, body)
    assert approver.finish()["id"] == did
    assert attached(world, "async-step-held") == []
    assert entries_for(world, "outcome", did)[0]["data"]["status"] == "succeeded"


def test_async_typed_errors(world: AwsWorld) -> None:
    role_arn, policy_arn = target(world, "async-errors")
    ran: list[bool] = []

    async def denied(client: remit.AsyncClient) -> None:
        async with client.step("iam:DetachRolePolicy", [BREAK_GLASS], reasoning=REASONING):
            ran.append(True)

    with pytest.raises(remit.Denied) as info:
        run(world, denied)
    assert "R9-break-glass-role" in info.value.decision["rules"]

    async def held(client: remit.AsyncClient) -> None:
        async with client.step(
            "iam:DetachRolePolicy",
            [role_arn],
            reasoning=LOW_CONFIDENCE,
            parameters=params("async-errors", policy_arn),
            approval_timeout=0.3,
        ):
            ran.append(True)

    with pytest.raises(remit.ApprovalTimedOut):
        run(world, held)

    rejected_arn, rejected_policy = target(world, "async-rejected")

    async def rejected(client: remit.AsyncClient) -> None:
        async with client.step(
            "iam:DetachRolePolicy",
            [rejected_arn],
            reasoning=LOW_CONFIDENCE,
            parameters=params("async-rejected", rejected_policy),
            approval_timeout=20,
        ):
            ran.append(True)

    with approving(world, rejected_arn, "reject") as approver, pytest.raises(remit.Denied) as no:
        run(world, rejected)
    assert approver.finish()["id"] == no.value.decision_id
    assert "approval rejected" in str(no.value)
    assert ran == []


def test_async_unreachable_and_refused(world: AwsWorld) -> None:
    async def unreachable() -> None:
        async with remit.AsyncClient(
            f"http://127.0.0.1:{free_port()}", world.keys["agent"], agent="remediator", timeout=5
        ) as client:
            await client.decide("iam:GetRole", [f"{ROLE_PREFIX}x"], reasoning=REASONING)

    with pytest.raises(remit.RemitUnavailable, match="cannot reach Remit"):
        asyncio.run(unreachable())

    async def wrong_agent(client: remit.AsyncClient) -> None:
        await client.decide(
            "iam:GetRole", [f"{ROLE_PREFIX}x"], reasoning=REASONING, provenance=FIND_STALE
        )

    with pytest.raises(remit.RemitRefused) as info:
        run(world, wrong_agent, agent="scanner")
    assert info.value.status == 403
