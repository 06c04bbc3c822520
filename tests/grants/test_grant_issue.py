"""Issuing credentials (`POST /v1/decisions/{id}/grant`) with the STS backend against a real
moto server: what Remit sends to sts:AssumeRole, who gets credentials and when, what the
ledger records, and failing closed when the cloud refuses.

moto does not keep SourceIdentity, session tags or session policies, so the tests capture
the parameters Remit SENT from botocore's events on the backend's own STS client."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import boto3
import pytest
from tests.grants.gkit import (
    Clock,
    assume_role_calls,
    decide,
    entries,
    entries_for,
    grant,
    rule,
)
from tests.support.aws_world import ROLE_PREFIX, AwsWorld, envelope_changed

from remit.domain.clock import parse_ts

SESSION_POLICY_MAX = 2048


def _target_role(world: AwsWorld, name: str) -> tuple[str, str]:
    """A role with a managed policy attached (what the agent detaches): (role ARN, policy ARN)."""
    policy_arn = world.managed_policy(f"{name}-s3")
    return world.role(name, policy_arn), policy_arn


def _expected_policy(action: str, arns: list[str]) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "RemitDecision", "Effect": "Allow", "Action": [action], "Resource": arns}
        ],
    }


# -- what is sent to sts:AssumeRole ------------------------------------------------------


def test_assume_role_carries_decision_identity_tags_duration_and_exact_policy(
    world: AwsWorld,
) -> None:
    role_arn, policy_arn = _target_role(world, "legacy-batch")
    d = decide(
        world,
        "iam:DetachRolePolicy",
        [role_arn],
        parameters={"RoleName": "legacy-batch", "PolicyArn": policy_arn},
    )
    assert d["status"] == "allowed", d
    with assume_role_calls(world) as calls:
        r = grant(world, d["id"])
    assert r.status_code == 200, r.text
    g = r.json()

    (sent,) = calls
    assert sent["RoleArn"] == world.boot["role_arn"]
    assert sent["SourceIdentity"] == d["id"]
    assert d["id"] in sent["RoleSessionName"]
    assert sent["RoleSessionName"] == f"remit-{d['id']}"
    assert len(sent["RoleSessionName"]) <= 64
    assert {t["Key"]: t["Value"] for t in sent["Tags"]} == {
        "remit:agent": "remediator",
        "remit:workflow": "iam-hygiene",
        "remit:step": "revoke-stale",
    }
    assert sent["DurationSeconds"] == 900  # defaults.grant_duration PT15M
    policy_text = sent["Policy"]
    assert json.loads(policy_text) == _expected_policy("iam:DetachRolePolicy", [role_arn])
    assert "*" not in policy_text
    assert g["session_policy"] == json.loads(policy_text)

    # The credentials are the assumed role's, named after the decision (real moto STS).
    sts = boto3.client(
        "sts",
        endpoint_url=world.moto.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id=g["access_key_id"],
        aws_secret_access_key=g["secret_access_key"],
        aws_session_token=g["session_token"],
    )
    who = sts.get_caller_identity()["Arn"]
    assert (
        who == f"arn:aws:sts::123456789012:assumed-role/{world.boot['role_name']}/remit-{d['id']}"
    )
    assert g["role_arn"] == world.boot["role_arn"]
    assert g["session_name"] == f"remit-{d['id']}"
    assert g["endpoint_url"] == world.moto.endpoint_url


@pytest.mark.parametrize(
    ("default", "rule_duration", "sts_seconds", "lifetime"),
    [
        ("PT1H", None, 3600, 3600),  # the default when the rule says nothing
        ("PT1H", "PT30M", 1800, 1800),  # the rule caps the default
        ("PT15M", "PT2H", 900, 900),  # a rule cannot lengthen the default
        ("PT1H", "PT5M", 900, 300),  # STS minimum 900 s; Remit revokes at the rule's time
    ],
)
def test_duration_comes_from_the_rule(
    world: AwsWorld,
    default: str,
    rule_duration: str | None,
    sts_seconds: int,
    lifetime: int,
) -> None:
    def change(data: dict[str, Any]) -> None:
        data["defaults"]["grant_duration"] = default
        if rule_duration is not None:
            rule(data, "R1-read")["grant_duration"] = rule_duration

    arn = ROLE_PREFIX + "app-reader"
    with envelope_changed(world, change):
        d = decide(world, "iam:GetRole", [arn])
        assert d["status"] == "allowed", d
        with assume_role_calls(world) as calls:
            r = grant(world, d["id"])
    assert r.status_code == 200, r.text
    (sent,) = calls
    assert sent["DurationSeconds"] == sts_seconds
    issued = entries_for(world, "grant", d["id"])[-1]
    granted_at = parse_ts(issued["ts"])
    assert parse_ts(r.json()["revoke_at"]) - granted_at == timedelta(seconds=lifetime)
    assert issued["data"]["duration_seconds"] == sts_seconds


def _allow_wildcards_on_r1(data: dict[str, Any]) -> None:
    rule(data, "R1-read")["allow_wildcards"] = True
    # A wildcard's members' tags are unknown, so the tag-based `payments` set and PCI
    # regulation would hold it for approval; these tests are about the credential.
    data["protected"] = []
    data["regulations"] = []


def test_session_policy_names_exactly_the_requests_resources(world: AwsWorld) -> None:
    arns = [ROLE_PREFIX + "a", ROLE_PREFIX + "path/b", ROLE_PREFIX + "app-*"]
    with envelope_changed(world, _allow_wildcards_on_r1):
        d = decide(world, "iam:GetRole", arns)
        assert d["status"] == "allowed", d
        with assume_role_calls(world) as calls:
            r = grant(world, d["id"])
    assert r.status_code == 200, r.text
    (sent,) = calls
    doc = json.loads(sent["Policy"])
    assert doc == _expected_policy("iam:GetRole", arns)
    # The only wildcard is the one the request carried (and R1 explicitly allowed).
    assert sent["Policy"].count("*") == 1


def _forbid_wildcards_on_r1(data: dict[str, Any]) -> None:
    rule(data, "R1-read")["allow_wildcards"] = False


def test_wildcard_request_is_denied_unless_the_rule_allows_wildcards(world: AwsWorld) -> None:
    with envelope_changed(world, _forbid_wildcards_on_r1):
        d = decide(world, "iam:GetRole", [ROLE_PREFIX + "app-*"])
    assert d["status"] == "denied", d
    assert "WILDCARD_RESOURCE" in [r["code"] for r in d["reasons"]]


def test_a_wildcard_grant_follows_the_version_that_decided(world: AwsWorld) -> None:
    # Decided while R1 allowed wildcards; by grant time a newer signed version no longer
    # does. Grant terms are those of the deciding version (recorded with the decision).
    with envelope_changed(world, _allow_wildcards_on_r1):
        d = decide(world, "iam:GetRole", [ROLE_PREFIX + "app-*"])
        assert d["status"] == "allowed", d
    found = world.runtime.store.reads.decision(d["id"])
    assert found is not None and found.record.grant_terms is not None
    assert found.record.grant_terms.allow_wildcards is True
    r = grant(world, d["id"])
    assert r.status_code == 200, r.text
    assert r.json()["session_policy"]["Statement"][0]["Resource"] == [ROLE_PREFIX + "app-*"]


def test_a_decision_without_wildcard_terms_gets_no_wildcard_grant(world: AwsWorld) -> None:
    d = decide(world, "iam:DetachRolePolicy", [ROLE_PREFIX + "app-x"])
    assert d["tier"] != "deny", d
    found = world.runtime.store.reads.decision(d["id"])
    assert found is not None and found.record.grant_terms is not None
    assert found.record.grant_terms.allow_wildcards is False


def test_action_iam_cannot_scope_is_refused_not_widened(world: AwsWorld) -> None:
    d = decide(world, "iam:ListRoles", [ROLE_PREFIX + "x"])
    assert d["status"] == "allowed", d
    with assume_role_calls(world) as calls:
        r = grant(world, d["id"])
    assert r.status_code == 422, r.text
    assert "cannot be scoped" in r.json()["detail"]
    assert calls == []
    (refusal,) = entries_for(world, "grant", d["id"])
    assert refusal["data"]["status"] == "refused"
    assert refusal["data"]["error"] == "unprocessable"


def _arns_for_policy_length(length: int) -> list[str]:
    """Role ARNs whose session policy (compact JSON, as AWS counts it) is `length` chars."""
    arns = [ROLE_PREFIX + f"svc-{i:02d}-" + "x" * 50 for i in range(25)]

    def size(a: list[str]) -> int:
        doc = _expected_policy("iam:GetRole", a)
        return len(json.dumps(doc, separators=(",", ":")))

    while size(arns) > length:
        arns.pop()
    pad = length - size(arns)
    if 0 < pad < len(ROLE_PREFIX) + 4:  # too short to add an ARN: lengthen the last one
        arns[-1] += "y" * pad
    elif pad:
        arns.append(ROLE_PREFIX + "z" * (pad - len(ROLE_PREFIX) - 3))
    assert size(arns) == length
    return arns


def test_session_policy_at_the_size_limit_is_granted(world: AwsWorld) -> None:
    arns = _arns_for_policy_length(SESSION_POLICY_MAX)
    d = decide(world, "iam:GetRole", arns)
    assert d["status"] == "allowed", d
    with assume_role_calls(world) as calls:
        r = grant(world, d["id"])
    assert r.status_code == 200, r.text
    (sent,) = calls
    assert len(sent["Policy"]) == SESSION_POLICY_MAX
    assert json.loads(sent["Policy"]) == _expected_policy("iam:GetRole", arns)


def test_session_policy_over_the_size_limit_is_refused_and_recorded(world: AwsWorld) -> None:
    arns = _arns_for_policy_length(SESSION_POLICY_MAX + 1)
    d = decide(world, "iam:GetRole", arns)
    assert d["status"] == "allowed", d
    with assume_role_calls(world) as calls:
        r = grant(world, d["id"])
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert str(SESSION_POLICY_MAX + 1) in detail
    assert "2048" in detail
    assert "never widens" in detail
    assert calls == []  # nothing (wider or otherwise) was sent to STS
    (refusal,) = entries_for(world, "grant", d["id"])
    assert refusal["kind"] == "grant"
    assert refusal["data"]["status"] == "refused"
    assert refusal["data"]["error"] == "unprocessable"
    assert "2048" in refusal["data"]["reason"]


# -- who, once, when ---------------------------------------------------------------------


def test_credentials_go_only_to_the_key_that_asked_and_only_once(world: AwsWorld) -> None:
    d = decide(world, "iam:GetRole", [ROLE_PREFIX + "once"])
    assert d["status"] == "allowed", d
    with assume_role_calls(world) as calls:
        refused = {
            key: grant(world, d["id"], key) for key in ("scanner", "agent-2", "approver", "auditor")
        }
        for key, r in refused.items():
            assert r.status_code == 403, (key, r.text)
            assert "secret_access_key" not in r.text
        assert calls == []
        first = grant(world, d["id"])
        assert first.status_code == 200, first.text
        second = grant(world, d["id"])
        assert second.status_code == 409, second.text
        assert "already granted" in second.json()["detail"]
        assert "secret_access_key" not in second.text
        assert len(calls) == 1  # the second ask never reached STS

    recorded = entries_for(world, "grant", d["id"])
    statuses = [(e["actor"], e["data"]["status"], e["data"].get("error")) for e in recorded]
    refusals = [s for s in statuses if s[1] == "refused"]
    # Every refusal is on the ledger: four wrong keys and the second ask.
    assert [s[2] for s in refusals] == ["forbidden"] * 4 + ["conflict"], statuses
    assert [s[1] for s in statuses].count("issued") == 1


def test_denied_decision_gets_no_credentials(world: AwsWorld) -> None:
    d = decide(world, "iam:GetRole", [ROLE_PREFIX + "OrganizationAccountAccessRole"])
    assert d["status"] == "denied", d
    with assume_role_calls(world) as calls:
        r = grant(world, d["id"])
    assert r.status_code == 409, r.text
    assert calls == []
    (refusal,) = entries_for(world, "grant", d["id"])
    assert refusal["data"]["status"] == "refused"
    assert refusal["data"]["error"] == "conflict"


def test_pending_then_rejected_decision_gets_no_credentials(world: AwsWorld) -> None:
    role_arn, policy_arn = _target_role(world, "held-batch")
    d = decide(
        world,
        "iam:DetachRolePolicy",
        [role_arn],
        confidence=0.5,
        parameters={"RoleName": "held-batch", "PolicyArn": policy_arn},
    )
    assert d["status"] == "pending", d
    with assume_role_calls(world) as calls:
        pending = grant(world, d["id"])
        assert pending.status_code == 409, pending.text
        assert "pending" in pending.json()["detail"]
        rej = world.http.post(
            f"/v1/approvals/{d['id']}/reject",
            json={"comment": "no"},
            headers=world.headers("approver"),
        )
        assert rej.status_code == 200, rej.text
        rejected = grant(world, d["id"])
        assert rejected.status_code == 409, rejected.text
    assert calls == []
    assert [e["data"]["error"] for e in entries_for(world, "grant", d["id"])] == ["conflict"] * 2


def test_approved_decision_gets_credentials(world: AwsWorld) -> None:
    role_arn, policy_arn = _target_role(world, "approved-batch")
    d = decide(
        world,
        "iam:DetachRolePolicy",
        [role_arn],
        confidence=0.5,
        parameters={"RoleName": "approved-batch", "PolicyArn": policy_arn},
    )
    assert d["status"] == "pending", d
    ok = world.http.post(
        f"/v1/approvals/{d['id']}/approve",
        json={"comment": "ok"},
        headers=world.headers("approver"),
    )
    assert ok.status_code == 200, ok.text
    r = grant(world, d["id"])
    assert r.status_code == 200, r.text


def test_grant_window_passed(world: AwsWorld, clock: Clock) -> None:
    d = decide(world, "iam:GetRole", [ROLE_PREFIX + "late"])
    assert d["status"] == "allowed", d
    clock.advance(minutes=15, seconds=1)  # defaults.grant_window PT15M
    with assume_role_calls(world) as calls:
        r = grant(world, d["id"])
    assert r.status_code == 410, r.text
    assert "grant window" in r.json()["detail"]
    assert calls == []
    (refusal,) = entries_for(world, "grant", d["id"])
    assert refusal["data"]["status"] == "refused"
    assert refusal["data"]["error"] == "gone"


def test_grant_within_the_window(world: AwsWorld, clock: Clock) -> None:
    d = decide(world, "iam:GetRole", [ROLE_PREFIX + "in-time"])
    clock.advance(minutes=14)
    assert grant(world, d["id"]).status_code == 200


# -- what the ledger keeps ---------------------------------------------------------------


def test_grant_entry_describes_the_credential_but_never_holds_the_secret(world: AwsWorld) -> None:
    arn = ROLE_PREFIX + "audited"
    d = decide(world, "iam:GetRole", [arn])
    r = grant(world, d["id"])
    assert r.status_code == 200, r.text
    g = r.json()
    secret, token = g["secret_access_key"], g["session_token"]
    assert secret and token

    (entry,) = entries_for(world, "grant", d["id"])
    assert entry["kind"] == "grant"
    raw = entry["_raw"]
    assert secret.encode() not in raw
    assert token.encode() not in raw
    # ...nor anywhere else on the ledger.
    for e in entries(world):
        assert secret.encode() not in e["_raw"]
        assert token.encode() not in e["_raw"]

    data = entry["data"]
    assert data["status"] == "issued"
    assert data["decision_id"] == d["id"]
    assert data["source_identity"] == d["id"]
    assert data["role_arn"] == world.boot["role_arn"]
    assert data["session_name"] == f"remit-{d['id']}"
    assert data["duration_seconds"] == 900
    assert data["revoke_at"] == g["revoke_at"]
    assert data["session_policy"] == _expected_policy("iam:GetRole", [arn])
    assert data["effective_permissions"] == [{"action": "iam:GetRole", "resource": arn}]
    assert data["effective_summary"] == f"this credential can do exactly: iam:GetRole on {arn}"
    assert data["rollback"] == {"status": "not_needed"}
    assert data["access_key_id"] == g["access_key_id"]
    assert data["tags"]["remit:agent"] == "remediator"


# -- the cloud refuses ------------------------------------------------------------------


def test_sts_failure_fails_closed_and_is_recorded(world: AwsWorld) -> None:
    missing = ROLE_PREFIX + "no-such-execution-role"

    def change(data: dict[str, Any]) -> None:
        data["agents"]["remediator"]["execution_role"] = missing

    with envelope_changed(world, change):
        d = decide(world, "iam:GetRole", [ROLE_PREFIX + "anything"])
        assert d["status"] == "allowed", d
        r = grant(world, d["id"])
    assert r.status_code == 502, r.text
    body = r.json()
    assert "secret_access_key" not in body and "session_token" not in body
    (failed,) = entries_for(world, "grant", d["id"])
    assert failed["data"]["status"] == "failed"
    assert failed["data"]["error"] == "upstream"
    assert "no-such-execution-role" in failed["data"]["reason"]
    # Not recorded as issued, so nothing to revoke and no second chance at a grant row.
    assert not world.runtime.grants.has_grant(d["id"])
