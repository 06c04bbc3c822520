"""`remit.Client` against the in-process app and a real moto server: decide, wait for
approval, report outcomes; `with client.step(...)` deciding, waiting, yielding a boto3
session with the decision's credentials, capturing request ids, reporting and revoking
whether the block succeeds or raises; `@client.governed`; and the typed errors."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError
from fastapi.testclient import TestClient
from tests.sdk.sdkit import (
    FIND_STALE,
    LOW_CONFIDENCE,
    approving,
    attached,
    decision_entry,
    entries_for,
    open_world,
    revoked_ids,
    sdk,
    target,
)
from tests.support.aws_world import PROVENANCE, REASONING, ROLE_PREFIX, AwsWorld

import remit
from remit.aws.moto_server import free_port
from remit.identity.model import Role
from remit.sdk.session import GovernedSession
from remit.server.app import create_app
from remit.server.runtime import Runtime

pytestmark = pytest.mark.filterwarnings("ignore:You should not use the 'timeout' argument")
BREAK_GLASS = f"{ROLE_PREFIX}OrganizationAccountAccessRole"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AwsWorld]:
    yield from open_world(tmp_path_factory)


@pytest.fixture
def client(world: AwsWorld) -> remit.Client:
    return sdk(world)


def detach_params(role_arn: str, policy_arn: str) -> dict[str, str]:
    return {"RoleName": role_arn.rsplit("/", 1)[1], "PolicyArn": policy_arn}


def codes(err_or_decision: Any) -> list[str]:
    reasons = getattr(err_or_decision, "reasons", None)
    if reasons is None:
        reasons = err_or_decision["reasons"]
    return [r["code"] for r in reasons]


def one_outcome(world: AwsWorld, decision_id: str) -> dict[str, Any]:
    (outcome,) = entries_for(world, "outcome", decision_id)
    return outcome["data"]  # type: ignore[no-any-return]


def assert_revoked(world: AwsWorld, decision_id: str, reason: str) -> None:
    revs = entries_for(world, "revocation", decision_id)
    assert [r["data"]["reason"] for r in revs] == [reason]
    assert revs[0]["data"]["applied"] is True
    assert decision_id in revoked_ids(world)


# -- decide / wait_for_approval / report_outcome -------------------------------------------


def test_decide_returns_the_recorded_decision(world: AwsWorld, client: remit.Client) -> None:
    role_arn, policy_arn = target(world, "decide-only")
    d = client.decide(
        "iam:DetachRolePolicy",
        [role_arn],
        reasoning=REASONING,
        parameters=detach_params(role_arn, policy_arn),
    )
    assert (d["status"], d["tier"], d["allowed"]) == ("allowed", "notify", True)
    assert d["rules"] == ["R7-revoke-stale"]
    e = decision_entry(world, d["id"])
    assert e["_index"] == d["ledger_index"]
    req = e["data"]["request"]
    assert req["action"] == "iam:DetachRolePolicy"
    assert [r["arn"] for r in req["resources"]] == [role_arn]
    assert req["provenance"]["workflow"] == PROVENANCE["workflow"]
    assert req["reasoning"]["confidence"] == REASONING["confidence"]
    # Deciding is not acting: no credentials, and AWS is untouched.
    assert not entries_for(world, "grant", d["id"])
    assert attached(world, "decide-only") == [policy_arn]
    # A deny is returned by decide (not raised); wait_for_approval turns it into Denied.
    denied = client.decide("iam:DetachRolePolicy", [BREAK_GLASS], reasoning=REASONING)
    assert denied["status"] == "denied"
    with pytest.raises(remit.Denied) as info:
        client.wait_for_approval(denied, timeout=1)
    assert info.value.decision_id == denied["id"]


def test_wait_for_approval_times_out_then_returns_once_approved(
    world: AwsWorld, client: remit.Client
) -> None:
    role_arn, policy_arn = target(world, "wait-direct")
    d = client.decide(
        "iam:DetachRolePolicy",
        [role_arn],
        reasoning=LOW_CONFIDENCE,
        parameters=detach_params(role_arn, policy_arn),
    )
    assert (d["status"], d["tier"]) == ("pending", "approve")
    started = time.monotonic()
    with pytest.raises(remit.ApprovalTimedOut) as info:
        client.wait_for_approval(d, timeout=0.5)
    assert 0.5 <= time.monotonic() - started < 10
    assert "CONFIDENCE_TOO_LOW" in codes(info.value)
    assert info.value.decision_id == d["id"]
    with approving(world, role_arn) as approver:
        got = client.wait_for_approval(d, timeout=20)
    assert approver.finish()["id"] == d["id"]
    assert (got["id"], got["status"], got["allowed"]) == (d["id"], "allowed", True)
    assert got["approval"]["state"] == "approved"


def test_report_outcome_is_recorded(world: AwsWorld, client: remit.Client) -> None:
    role_arn, _ = target(world, "report-direct")
    d = client.decide("iam:GetRole", [role_arn], reasoning=REASONING, provenance=FIND_STALE)
    assert d["status"] == "allowed"
    out = client.report_outcome(d["id"], "succeeded", None, ["req-1", "req-2"])
    assert out["decision_id"] == d["id"] and out["ran_without_allow"] is False
    (e,) = entries_for(world, "outcome", d["id"])
    assert e["_index"] == out["ledger_index"]
    assert e["data"]["cloud_request_ids"] == ["req-1", "req-2"]
    assert e["data"]["status"] == "succeeded"
    # Reporting success for something that was not allowed is recorded as such.
    denied = client.decide("iam:GetRole", [BREAK_GLASS], reasoning=REASONING, provenance=FIND_STALE)
    out = client.report_outcome(denied["id"], "succeeded")
    assert out["ran_without_allow"] is True
    assert one_outcome(world, denied["id"])["ran_without_allow"] is True


# -- step ----------------------------------------------------------------------------------


def test_step_acts_with_scoped_credentials_reports_request_ids_and_revokes(
    world: AwsWorld, client: remit.Client
) -> None:
    role_arn, policy_arn = target(world, "step-ok")
    with client.step(
        action="iam:DetachRolePolicy",
        resources=[role_arn],
        reasoning=REASONING,
        provenance={"workflow": PROVENANCE["workflow"]},
        parameters=detach_params(role_arn, policy_arn),
    ) as aws:
        did = aws.decision["id"]
        assert isinstance(aws, GovernedSession) and aws.decision["status"] == "allowed"
        assert aws.grant["decision_id"] == did
        creds = aws.get_credentials()
        assert creds.access_key == aws.grant["access_key_id"]
        assert creds.access_key != world.boot["remit_access_key_id"]
        assert creds.token == aws.grant["session_token"]
        who = aws.client("sts").get_caller_identity()
        assert who["Arn"].endswith(f":assumed-role/{world.boot['role_name']}/remit-{did}")
        r = aws.client("iam").detach_role_policy(RoleName="step-ok", PolicyArn=policy_arn)
        ids = [who["ResponseMetadata"]["RequestId"], r["ResponseMetadata"]["RequestId"]]
        assert aws.request_ids == ids
        assert not entries_for(world, "outcome", did)  # nothing reported before the end
    assert attached(world, "step-ok") == []  # the call reached moto and took effect
    out = one_outcome(world, did)
    assert (out["status"], out["error"], out["decision_status"]) == ("succeeded", None, "allowed")
    assert out["cloud_request_ids"] == ids
    (grant,) = entries_for(world, "grant", did)
    assert grant["_index"] < entries_for(world, "outcome", did)[0]["_index"]
    assert_revoked(world, did, "outcome reported: succeeded")


def test_step_that_raises_reports_failure_and_still_revokes(
    world: AwsWorld, client: remit.Client
) -> None:
    role_arn, policy_arn = target(world, "step-raises")
    with (
        pytest.raises(RuntimeError, match="agent crashed"),
        client.step(
            "iam:DetachRolePolicy",
            [role_arn],
            reasoning=REASONING,
            parameters=detach_params(role_arn, policy_arn),
        ) as aws,
    ):
        did = aws.decision["id"]
        seen = aws.client("iam").get_role(RoleName="step-raises")["ResponseMetadata"]["RequestId"]
        raise RuntimeError("agent crashed")
    out = one_outcome(world, did)
    assert out["status"] == "failed"
    assert out["error"] == "RuntimeError: agent crashed"
    assert out["cloud_request_ids"] == [seen]
    assert_revoked(world, did, "outcome reported: failed")
    assert attached(world, "step-raises") == [policy_arn]


def test_an_aws_error_other_than_access_denied_is_not_a_fallback(
    world: AwsWorld, client: remit.Client
) -> None:
    role_arn, policy_arn = target(world, "step-aws-error")
    world.iam().detach_role_policy(RoleName="step-aws-error", PolicyArn=policy_arn)
    with (
        pytest.raises(ClientError) as info,
        client.step(
            "iam:DetachRolePolicy",
            [role_arn],
            reasoning=REASONING,
            parameters=detach_params(role_arn, policy_arn),
        ) as aws,
    ):
        did = aws.decision["id"]
        aws.client("iam").detach_role_policy(RoleName="step-aws-error", PolicyArn=policy_arn)
    assert not isinstance(info.value, remit.FallbackRequired)
    assert info.value.response["Error"]["Code"] == "NoSuchEntity"
    out = one_outcome(world, did)
    assert out["status"] == "failed" and "NoSuchEntity" in out["error"]
    assert out["cloud_request_ids"] == [info.value.response["ResponseMetadata"]["RequestId"]]
    assert_revoked(world, did, "outcome reported: failed")


def test_held_step_waits_for_the_approver_then_acts(world: AwsWorld, client: remit.Client) -> None:
    role_arn, policy_arn = target(world, "step-held")
    with (
        approving(world, role_arn) as approver,
        client.step(
            "iam:DetachRolePolicy",
            [role_arn],
            reasoning=LOW_CONFIDENCE,
            parameters=detach_params(role_arn, policy_arn),
            approval_timeout=20,
        ) as aws,
    ):
        did = aws.decision["id"]
        assert aws.decision["tier"] == "approve" and aws.decision["status"] == "allowed"
        assert aws.decision["approval"]["state"] == "approved"
        aws.client("iam").detach_role_policy(RoleName="step-held", PolicyArn=policy_arn)
    assert approver.finish()["id"] == did
    assert attached(world, "step-held") == []
    (approval,) = [e for e in entries_for(world, "approval", did)]
    (grant,) = entries_for(world, "grant", did)
    assert approval["data"]["state"] == "approved"
    assert approval["_index"] < grant["_index"]  # credentials only after the human said yes
    assert one_outcome(world, did)["status"] == "succeeded"
    assert_revoked(world, did, "outcome reported: succeeded")


def test_governed_decorator_runs_the_tool_inside_a_step(
    world: AwsWorld, client: remit.Client
) -> None:
    role_arn, policy_arn = target(world, "governed-ok")
    calls: list[tuple[str, GovernedSession]] = []

    @client.governed(
        action="iam:DetachRolePolicy",
        resources=lambda role, policy: [f"{ROLE_PREFIX}{role}"],
        reasoning=REASONING,
        parameters=detach_params(role_arn, policy_arn),
    )
    def detach(role: str, policy: str, *, aws: GovernedSession) -> str:
        calls.append((role, aws))
        r = aws.client("iam").detach_role_policy(RoleName=role, PolicyArn=policy)
        return str(r["ResponseMetadata"]["RequestId"])

    assert detach.__name__ == "detach"
    request_id = detach("governed-ok", policy_arn)
    ((role, aws),) = calls
    did = aws.decision["id"]
    assert role == "governed-ok" and aws.grant["decision_id"] == did
    assert [r["arn"] for r in decision_entry(world, did)["data"]["request"]["resources"]] == [
        role_arn
    ]
    assert attached(world, "governed-ok") == []
    out = one_outcome(world, did)
    assert out["status"] == "succeeded" and out["cloud_request_ids"] == [request_id]
    assert_revoked(world, did, "outcome reported: succeeded")


def test_governed_tool_that_raises_reports_failure(world: AwsWorld, client: remit.Client) -> None:
    role_arn, policy_arn = target(world, "governed-raises")
    seen: list[str] = []

    @client.governed(
        "iam:DetachRolePolicy",
        [role_arn],
        reasoning=REASONING,
        parameters=detach_params(role_arn, policy_arn),
    )
    def broken(*, aws: GovernedSession) -> None:
        seen.append(aws.decision["id"])
        raise ValueError("tool bug")

    with pytest.raises(ValueError, match="tool bug"):
        broken()
    (did,) = seen
    out = one_outcome(world, did)
    assert (out["status"], out["error"]) == ("failed", "ValueError: tool bug")
    assert_revoked(world, did, "outcome reported: failed")
    assert attached(world, "governed-raises") == [policy_arn]


# -- typed errors -------------------------------------------------------------------------


def test_deny_raises_denied_with_the_reasons_and_nothing_runs(
    world: AwsWorld, client: remit.Client
) -> None:
    ran = []
    with (
        pytest.raises(remit.Denied) as info,
        client.step("iam:DetachRolePolicy", [BREAK_GLASS], reasoning=REASONING),
    ):
        ran.append(True)
    err = info.value
    assert ran == []
    assert "RULE_MATCHED" in codes(err)
    assert "R9-break-glass-role" in err.decision["rules"]
    assert any("R9-break-glass-role" in r["message"] for r in err.reasons)
    assert "R9-break-glass-role" in str(err)
    assert err.decision["tier"] == "deny"
    assert decision_entry(world, err.decision_id)["data"]["decision"]["tier"] == "deny"
    assert not entries_for(world, "grant", err.decision_id)

    @client.governed("iam:DetachRolePolicy", [BREAK_GLASS], reasoning=REASONING)
    def tool(*, aws: GovernedSession) -> None:
        ran.append(True)

    with pytest.raises(remit.Denied):
        tool()
    assert ran == []


def test_held_and_not_approved_in_time_raises_approval_timed_out(
    world: AwsWorld, client: remit.Client
) -> None:
    role_arn, policy_arn = target(world, "held-timeout")
    ran = []
    started = time.monotonic()
    with (
        pytest.raises(remit.ApprovalTimedOut) as info,
        client.step(
            "iam:DetachRolePolicy",
            [role_arn],
            reasoning=LOW_CONFIDENCE,
            parameters=detach_params(role_arn, policy_arn),
            approval_timeout=0.5,
        ),
    ):
        ran.append(True)
    assert 0.5 <= time.monotonic() - started < 10
    assert ran == []
    assert "CONFIDENCE_TOO_LOW" in codes(info.value)
    assert info.value.decision["status"] == "pending"
    assert not entries_for(world, "grant", info.value.decision_id)
    assert attached(world, "held-timeout") == [policy_arn]


def test_client_default_approval_timeout_applies_to_steps(world: AwsWorld) -> None:
    role_arn, _ = target(world, "held-default-timeout")
    impatient = sdk(world, approval_timeout=0.3)
    with (
        pytest.raises(remit.ApprovalTimedOut),
        impatient.step("iam:DetachRolePolicy", [role_arn], reasoning=LOW_CONFIDENCE),
    ):
        pass


def test_a_rejected_approval_raises_denied(world: AwsWorld, client: remit.Client) -> None:
    role_arn, policy_arn = target(world, "held-rejected")
    ran = []
    with (
        approving(world, role_arn, "reject") as approver,
        pytest.raises(remit.Denied) as info,
        client.step(
            "iam:DetachRolePolicy",
            [role_arn],
            reasoning=LOW_CONFIDENCE,
            parameters=detach_params(role_arn, policy_arn),
            approval_timeout=20,
        ),
    ):
        ran.append(True)
    assert approver.finish()["id"] == info.value.decision_id
    assert ran == []
    assert "approval rejected" in str(info.value)
    assert info.value.decision["approval"]["state"] == "rejected"
    assert "CONFIDENCE_TOO_LOW" in codes(info.value)
    assert not entries_for(world, "grant", info.value.decision_id)
    assert attached(world, "held-rejected") == [policy_arn]


def test_remit_unreachable_raises_remit_unavailable(world: AwsWorld) -> None:
    closed = remit.Client(
        f"http://127.0.0.1:{free_port()}", world.keys["agent"], agent="remediator", timeout=5
    )
    ran = []
    with closed:
        with pytest.raises(remit.RemitUnavailable, match="cannot reach Remit"):
            closed.decide("iam:GetRole", [f"{ROLE_PREFIX}x"], reasoning=REASONING)
        with (
            pytest.raises(remit.RemitUnavailable),
            closed.step("iam:GetRole", [f"{ROLE_PREFIX}x"], reasoning=REASONING),
        ):
            ran.append(True)
    assert ran == []


def test_remit_answering_503_raises_remit_unavailable(world: AwsWorld, tmp_path: Path) -> None:
    """A Remit whose ledger cannot be read cannot check the API key: 503, never proceed."""
    rt = Runtime(world.runtime.config.model_copy(update={"db": str(tmp_path / "other.db")}))
    key = rt.keys.create("agent", Role.AGENT, "remediator", rt.clock(), "test-setup")[1]
    rt.store.close()
    c = remit.Client("http://testserver", key, agent="remediator", provenance=PROVENANCE)
    c._http.close()
    c._http = TestClient(create_app(rt), base_url="http://testserver", headers=c.headers)  # type: ignore[assignment]
    with pytest.raises(remit.RemitUnavailable, match="503"):
        c.decide("iam:GetRole", [f"{ROLE_PREFIX}x"], reasoning=REASONING)


def test_an_unrecordable_ledger_fails_closed(world: AwsWorld) -> None:
    """With the ledger file replaced under the service: deciding is a recorded-nowhere deny
    (Denied, LEDGER_UNAVAILABLE); a step whose outcome cannot be recorded raises
    RemitUnavailable at its end — and its credentials are still revoked in AWS."""
    client = sdk(world, raise_server_exceptions=False)  # a server error is a 500, as over HTTP
    db = Path(world.runtime.config.db)
    moved = db.with_name(db.name + ".moved")
    role_arn, policy_arn = target(world, "ledger-down")
    with (
        pytest.raises(remit.RemitUnavailable, match="503"),
        client.step(
            "iam:DetachRolePolicy",
            [role_arn],
            reasoning=REASONING,
            parameters=detach_params(role_arn, policy_arn),
        ) as aws,
    ):
        did = aws.decision["id"]
        aws.client("iam").detach_role_policy(RoleName="ledger-down", PolicyArn=policy_arn)
        db.rename(moved)
    try:
        assert did in revoked_ids(world)  # the SDK's fallback revoke reached AWS
        with (
            pytest.raises(remit.Denied) as info,
            client.step("iam:GetRole", [role_arn], reasoning=REASONING, provenance=FIND_STALE),
        ):
            pytest.fail("a step ran without a recorded decision")
        assert "LEDGER_UNAVAILABLE" in codes(info.value)
        assert info.value.decision["recorded"] is False
    finally:
        moved.rename(db)
    assert not entries_for(world, "outcome", did)


def test_remit_refusing_the_call_raises_remit_refused(world: AwsWorld) -> None:
    role_arn = f"{ROLE_PREFIX}refused"
    wrong_agent = sdk(world, agent="scanner")  # the key is bound to remediator
    with pytest.raises(remit.RemitRefused) as info:
        wrong_agent.decide("iam:GetRole", [role_arn], reasoning=REASONING)
    assert info.value.status == 403 and "remediator" in str(info.value.detail)
    ran = []
    with (
        pytest.raises(remit.RemitRefused),
        wrong_agent.step("iam:GetRole", [role_arn], reasoning=REASONING, provenance=FIND_STALE),
    ):
        ran.append(True)
    assert ran == []
    # Refused, not unavailable: the caller must fix the call, retrying will not help.
    assert not isinstance(info.value, remit.RemitUnavailable)
    with pytest.raises(remit.RemitRefused) as info:
        sdk(world, "approver").decide("iam:GetRole", [role_arn], reasoning=REASONING)
    assert info.value.status == 403
    bad_key = sdk(world)
    bad_key._http.headers["Authorization"] = "Bearer rk_nope_nope"
    with pytest.raises(remit.RemitRefused) as info:
        bad_key.decide("iam:GetRole", [role_arn], reasoning=REASONING)
    assert info.value.status == 401
    # A decision is granted once: asking for its credentials again is refused (409).
    c = sdk(world)
    d = c.decide("iam:GetRole", [role_arn], reasoning=REASONING, provenance=FIND_STALE)
    c.grant(d["id"])
    with pytest.raises(remit.RemitRefused) as info:
        c.grant(d["id"])
    assert info.value.status == 409
    c.revoke(d["id"])


def test_an_unreachable_remit_is_named_even_when_the_error_has_no_message() -> None:
    """httpx's timeouts and disconnects can carry an empty message: the error then names
    its type, so 'cannot reach Remit at …:' never ends in nothing."""
    from remit.sdk.client import _why

    assert _why(httpx.ReadTimeout("")) == "ReadTimeout"
    assert _why(httpx.ConnectError("connection refused")) == "connection refused"
