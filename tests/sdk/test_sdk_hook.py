"""`remit.instrument(session, client, ...)` on a plain boto3 session pointed at a real moto
server: every call is decided first; a call that is not allowed raises before the request
leaves the process; an allowed call carries the decision id in its User-Agent and its
outcome (with the AWS request id) is reported; read-only batching when both the envelope
and the caller allow it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from tests.sdk.sdkit import (
    FIND_STALE,
    LOW_CONFIDENCE,
    approving,
    attached,
    decision_entry,
    decisions_since,
    entries_for,
    open_world,
    sdk,
    target,
)
from tests.support.aws_world import PROVENANCE, REASONING, AwsWorld, envelope_changed

import remit

pytestmark = pytest.mark.filterwarnings("ignore:You should not use the 'timeout' argument")
UA_DECISION = re.compile(r"(?:^| )remit/(dec_\w+)$")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AwsWorld]:
    yield from open_world(tmp_path_factory)


class Sent:
    """What left the process: a before-send handler registered after instrument's."""

    def __init__(self, world: AwsWorld, session: boto3.Session) -> None:
        self.world = world
        self.requests: list[dict[str, Any]] = []
        session.events.register("before-send.*.*", self)

    def __call__(self, request: Any, **_: Any) -> None:
        ua = request.headers.get("User-Agent", b"")
        ua = ua.decode() if isinstance(ua, bytes) else str(ua)
        m = UA_DECISION.search(ua)
        did = m.group(1) if m else None
        on_ledger = did is not None and self.world.runtime.store.reads.decision(did) is not None
        self.requests.append(
            {"url": request.url, "ua": ua, "decision": did, "on_ledger": on_ledger}
        )

    @property
    def decisions(self) -> list[str | None]:
        return [r["decision"] for r in self.requests]


def governed_iam(world: AwsWorld, **kw: Any) -> tuple[Any, remit.sdk.hook.Instrumentation, Sent]:
    """(IAM client, instrumentation, sent requests) on a fresh plain session with the
    broker user's credentials."""
    session = boto3.Session(
        aws_access_key_id=world.boot["remit_access_key_id"],
        aws_secret_access_key=world.boot["remit_secret_access_key"],
        region_name="us-east-1",
    )
    kw.setdefault("provenance", FIND_STALE)
    kw.setdefault("reasoning", REASONING)
    inst = remit.instrument(session, sdk(world), agent="remediator", **kw)
    sent = Sent(world, session)
    return session.client("iam", endpoint_url=world.moto.endpoint_url), inst, sent


def test_an_allowed_call_is_decided_first_tagged_and_its_outcome_reported(
    world: AwsWorld,
) -> None:
    role_arn, _ = target(world, "hook-read")
    iam, inst, sent = governed_iam(world)
    r = iam.get_role(RoleName="hook-read")
    assert r["Role"]["Arn"] == role_arn
    (d,) = inst.decisions
    assert (d["action"], d["status"], d["tier"]) == ("iam:GetRole", "allowed", "autonomous")
    (req,) = sent.requests
    assert req["decision"] == d["id"] and req["ua"].endswith(f" remit/{d['id']}")
    assert req["ua"].startswith("Boto3/")  # botocore's own User-Agent is kept
    assert req["on_ledger"]  # the decision was recorded before the request was sent
    entry = decision_entry(world, d["id"])["data"]["request"]
    assert [x["arn"] for x in entry["resources"]] == [role_arn]
    assert entry["parameters"] == {"RoleName": "hook-read"}
    assert entry["reasoning"] == REASONING
    assert entry["provenance"]["workflow"] == FIND_STALE["workflow"]
    (out,) = entries_for(world, "outcome", d["id"])
    assert out["data"]["status"] == "succeeded"
    assert out["data"]["cloud_request_ids"] == [r["ResponseMetadata"]["RequestId"]]


def test_denied_calls_never_leave_the_process(world: AwsWorld) -> None:
    _, policy_arn = target(world, "OrganizationAccountAccessRole")
    iam, inst, sent = governed_iam(world, provenance=PROVENANCE)
    with pytest.raises(remit.Denied) as info:
        iam.detach_role_policy(RoleName="OrganizationAccountAccessRole", PolicyArn=policy_arn)
    assert "R9-break-glass-role" in info.value.decision["rules"]
    assert "RULE_MATCHED" in [r["code"] for r in info.value.reasons]
    with pytest.raises(remit.Denied) as unmatched:
        iam.create_user(UserName="hook-intruder")
    assert "NO_MATCHING_RULE" in [r["code"] for r in unmatched.value.reasons]
    assert sent.requests == []  # nothing was sent …
    assert attached(world, "OrganizationAccountAccessRole") == [policy_arn]  # … moto agrees
    moto_iam = world.iam()
    with pytest.raises(moto_iam.exceptions.NoSuchEntityException):
        moto_iam.get_user(UserName="hook-intruder")
    assert inst.decisions == []  # only allowed decisions are kept
    for did in (info.value.decision_id, unmatched.value.decision_id):
        assert decision_entry(world, did)["data"]["decision"]["tier"] == "deny"
        assert not entries_for(world, "outcome", did)


def test_a_held_call_waits_for_approval(world: AwsWorld) -> None:
    role_arn, policy_arn = target(world, "hook-held")
    iam, _, sent = governed_iam(
        world, provenance=PROVENANCE, reasoning=LOW_CONFIDENCE, approval_timeout=0.3
    )
    with pytest.raises(remit.ApprovalTimedOut) as info:
        iam.detach_role_policy(RoleName="hook-held", PolicyArn=policy_arn)
    assert "CONFIDENCE_TOO_LOW" in [r["code"] for r in info.value.reasons]
    assert sent.requests == [] and attached(world, "hook-held") == [policy_arn]
    # The agent gave up on that one: take it out of the queue so the approver below can
    # only find the new request.
    gone = world.http.post(
        f"/v1/approvals/{info.value.decision_id}/reject",
        json={"comment": "the agent stopped waiting"},
        headers=world.headers("approver"),
    )
    assert gone.status_code == 200, gone.text

    iam, inst, sent = governed_iam(
        world, provenance=PROVENANCE, reasoning=LOW_CONFIDENCE, approval_timeout=20
    )
    with approving(world, role_arn) as approver:
        iam.detach_role_policy(RoleName="hook-held", PolicyArn=policy_arn)
    (d,) = inst.decisions
    assert approver.finish()["id"] == d["id"] != info.value.decision_id
    assert sent.decisions == [d["id"]]
    assert attached(world, "hook-held") == []
    assert entries_for(world, "outcome", d["id"])[0]["data"]["status"] == "succeeded"


def test_a_call_aws_refuses_is_reported_failed(world: AwsWorld) -> None:
    iam, inst, sent = governed_iam(world)
    with pytest.raises(ClientError) as info:
        iam.get_role(RoleName="hook-no-such-role")
    assert info.value.response["Error"]["Code"] == "NoSuchEntity"
    (d,) = inst.decisions
    assert sent.decisions == [d["id"]]
    (out,) = entries_for(world, "outcome", d["id"])
    assert (out["data"]["status"], out["data"]["error"]) == ("failed", "NoSuchEntity")
    assert out["data"]["cloud_request_ids"] == [
        info.value.response["ResponseMetadata"]["RequestId"]
    ]


def test_reasoning_may_depend_on_the_call(world: AwsWorld) -> None:
    target(world, "hook-why")

    def why(action: str, params: Any) -> dict[str, Any]:
        return {**REASONING, "summary": f"{action} on {params['RoleName']}"}

    iam, inst, _ = governed_iam(world, reasoning=why)
    iam.get_role(RoleName="hook-why")
    (d,) = inst.decisions
    got = decision_entry(world, d["id"])["data"]["request"]["reasoning"]["summary"]
    assert got == "iam:GetRole on hook-why"


# -- read batching ----------------------------------------------------------------------------


def _batch_reads(data: dict[str, Any]) -> None:
    data["defaults"]["batch_reads"] = True


def test_without_the_envelope_allowing_it_every_read_is_decided(world: AwsWorld) -> None:
    target(world, "hook-batch-off")
    start = world.runtime.store.size()
    iam, inst, sent = governed_iam(world, batch_reads=True)
    iam.get_role(RoleName="hook-batch-off")
    iam.get_role(RoleName="hook-batch-off")
    assert len(inst.decisions) == 2 and not any(d["batchable"] for d in inst.decisions)
    assert len(set(sent.decisions)) == 2
    assert len(decisions_since(world, start)) == 2


def test_batched_reads_share_one_decision_per_step(world: AwsWorld) -> None:
    target(world, "hook-batch-a")
    target(world, "hook-batch-b")
    with envelope_changed(world, _batch_reads):
        start = world.runtime.store.size()
        iam, inst, sent = governed_iam(world, batch_reads=True)
        first = iam.get_role(RoleName="hook-batch-a")
        iam.get_role(RoleName="hook-batch-a")
        (d,) = inst.decisions
        assert d["batchable"] is True
        assert sent.decisions == [d["id"], d["id"]]
        assert len(decisions_since(world, start)) == 1
        (out,) = entries_for(world, "outcome", d["id"])
        assert out["data"]["cloud_request_ids"] == [first["ResponseMetadata"]["RequestId"]]
        # Other resources are another decision …
        iam.get_role(RoleName="hook-batch-b")
        assert len(inst.decisions) == 2
        # … and a new step decides again, even for the same read.
        inst.new_step()
        iam.get_role(RoleName="hook-batch-a")
        assert len(inst.decisions) == 3
        assert len(set(sent.decisions)) == 3
        assert len(decisions_since(world, start)) == 3


def test_with_batching_off_in_the_sdk_every_read_is_decided(world: AwsWorld) -> None:
    target(world, "hook-batch-sdk-off")
    with envelope_changed(world, _batch_reads):
        start = world.runtime.store.size()
        iam, inst, sent = governed_iam(world)  # batch_reads=False (the default)
        iam.get_role(RoleName="hook-batch-sdk-off")
        iam.get_role(RoleName="hook-batch-sdk-off")
        assert [d["batchable"] for d in inst.decisions] == [True, True]
        assert len(set(sent.decisions)) == 2
        assert len(decisions_since(world, start)) == 2


def test_writes_are_never_batched(world: AwsWorld) -> None:
    _, policy_arn = target(world, "hook-batch-write")
    with envelope_changed(world, _batch_reads):
        iam, inst, sent = governed_iam(world, provenance=PROVENANCE, batch_reads=True)
        iam.detach_role_policy(RoleName="hook-batch-write", PolicyArn=policy_arn)
        with pytest.raises(ClientError):  # already detached: AWS says NoSuchEntity
            iam.detach_role_policy(RoleName="hook-batch-write", PolicyArn=policy_arn)
    assert [d["batchable"] for d in inst.decisions] == [False, False]
    assert len(set(sent.decisions)) == 2
    statuses = [entries_for(world, "outcome", d["id"])[0]["data"]["status"] for d in inst.decisions]
    assert statuses == ["succeeded", "failed"]
