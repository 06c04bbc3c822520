"""Revocation with the STS backend against a real moto server: the execution role's inline
`RemitRevokedSessions` Deny lists the decision ids (aws:SourceIdentity) whose sessions are
over — after the outcome is reported, when the agent ends the step, when the grant's time
is up — and drops them once the session itself has expired. Read back from moto."""

from __future__ import annotations

import time
from typing import Any

from tests.grants.gkit import (
    Clock,
    decide,
    entries_for,
    grant,
    revoked_ids,
    role_policy,
    rule,
)
from tests.support.aws_world import ROLE_PREFIX, AwsWorld, envelope_changed


def granted(world: AwsWorld, name: str) -> dict[str, Any]:
    d = decide(world, "iam:GetRole", [ROLE_PREFIX + name])
    r = grant(world, d["id"])
    assert r.status_code == 200, r.text
    return {**r.json(), "id": d["id"]}


def outcome(
    world: AwsWorld, decision_id: str, key: str = "agent", status: str = "succeeded"
) -> Any:
    return world.http.post(
        f"/v1/decisions/{decision_id}/outcome",
        json={"status": status, "error": None, "cloud_request_ids": []},
        headers=world.headers(key),
    )


def test_reporting_the_outcome_revokes_the_session(world: AwsWorld) -> None:
    g = granted(world, "outcome-target")
    assert g["id"] not in (revoked_ids(world) or [])
    r = outcome(world, g["id"])
    assert r.status_code == 200, r.text

    doc = role_policy(world)
    assert doc is not None
    (stmt,) = doc["Statement"]
    assert stmt["Effect"] == "Deny"
    assert stmt["Action"] == "*"
    assert stmt["Resource"] == "*"
    assert g["id"] in stmt["Condition"]["StringEquals"]["aws:SourceIdentity"]

    (rev,) = entries_for(world, "revocation", g["id"])
    assert rev["kind"] == "revocation"
    assert rev["data"]["applied"] is True
    assert rev["data"]["role_arn"] == world.boot["role_arn"]
    assert "outcome reported" in rev["data"]["reason"]


def test_every_revoked_session_stays_listed(world: AwsWorld) -> None:
    a, b = granted(world, "list-a"), granted(world, "list-b")
    assert outcome(world, a["id"]).status_code == 200
    assert outcome(world, b["id"], status="failed").status_code == 200
    ids = revoked_ids(world)
    assert ids is not None
    assert {a["id"], b["id"]} <= set(ids)
    assert ids == sorted(set(ids))


def test_revoke_endpoint_is_for_the_owning_agent_only(world: AwsWorld) -> None:
    g = granted(world, "revoke-target")
    for key in ("scanner", "approver", "auditor"):
        r = world.http.post(f"/v1/decisions/{g['id']}/revoke", headers=world.headers(key))
        assert r.status_code == 403, (key, r.text)
    assert entries_for(world, "revocation", g["id"]) == []
    assert g["id"] not in (revoked_ids(world) or [])

    r = world.http.post(f"/v1/decisions/{g['id']}/revoke", headers=world.headers("agent"))
    assert r.status_code == 200, r.text
    assert r.json() == {"decision_id": g["id"], "applied": True}
    assert g["id"] in (revoked_ids(world) or [])
    (rev,) = entries_for(world, "revocation", g["id"])
    assert rev["data"]["reason"] == "step ended"
    assert rev["data"]["applied"] is True


def test_revoke_without_a_grant_is_404(world: AwsWorld) -> None:
    d = decide(world, "iam:GetRole", [ROLE_PREFIX + "never-granted"])
    r = world.http.post(f"/v1/decisions/{d['id']}/revoke", headers=world.headers("agent"))
    assert r.status_code == 404, r.text
    assert entries_for(world, "revocation", d["id"]) == []


def test_sweep_revokes_when_the_grant_time_is_up(world: AwsWorld, clock: Clock) -> None:
    def short(data: dict[str, Any]) -> None:
        rule(data, "R1-read")["grant_duration"] = "PT5M"

    with envelope_changed(world, short):
        g = granted(world, "short-lived")
    world.runtime.grants.sweep()
    assert entries_for(world, "revocation", g["id"]) == []  # not yet
    assert g["id"] not in (revoked_ids(world) or [])

    clock.advance(minutes=5, seconds=1)
    world.runtime.grants.sweep()
    (rev,) = entries_for(world, "revocation", g["id"])
    assert rev["data"]["reason"] == "grant time is up"
    assert rev["data"]["applied"] is True
    assert g["id"] in (revoked_ids(world) or [])

    world.runtime.grants.sweep()  # a second sweep does not revoke it again
    assert len(entries_for(world, "revocation", g["id"])) == 1


def test_expired_sessions_leave_the_deny_list_and_an_empty_list_is_deleted(
    world: AwsWorld, clock: Clock
) -> None:
    world.runtime.grants.sweep()  # settle earlier tests' grants

    def long(data: dict[str, Any]) -> None:
        data["defaults"]["grant_duration"] = "PT1H"

    short = granted(world, "expiry-short")  # 900 s session
    with envelope_changed(world, long):
        lasting = granted(world, "expiry-long")  # 3600 s session
    assert outcome(world, short["id"]).status_code == 200
    assert outcome(world, lasting["id"]).status_code == 200
    assert {short["id"], lasting["id"]} <= set(revoked_ids(world) or [])

    clock.advance(seconds=900 + 60)  # past the short session's own expiry
    world.runtime.grants.sweep()
    assert revoked_ids(world) == [lasting["id"]]

    clock.advance(seconds=3600)  # past every session's expiry
    world.runtime.grants.sweep()
    assert role_policy(world) is None  # the empty deny list is deleted, not left empty


def test_the_running_service_revokes_by_itself_when_the_time_is_up(
    world: AwsWorld, clock: Clock
) -> None:
    def short(data: dict[str, Any]) -> None:
        rule(data, "R1-read")["grant_duration"] = "PT5M"

    with envelope_changed(world, short):
        g = granted(world, "unattended")
    clock.advance(minutes=5, seconds=1)
    deadline = time.monotonic() + 8  # docs/grants.md: "every few seconds"
    while time.monotonic() < deadline and not entries_for(world, "revocation", g["id"]):
        time.sleep(0.25)
    assert g["id"] in (revoked_ids(world) or [])


def test_no_credentials_once_the_outcome_is_recorded(world: AwsWorld) -> None:
    """A decision whose step has ended (its outcome recorded, e.g. an MCP call recorded as
    never forwarded) gets no grant afterwards: 410, recorded as a refusal."""
    d = decide(world, "iam:GetRole", [ROLE_PREFIX + "ended-step"])
    r = outcome(world, d["id"], status="failed")
    assert r.status_code == 200, r.text
    r = grant(world, d["id"])
    assert r.status_code == 410, r.text
    assert "outcome" in r.json()["detail"] and "ledger index" in r.json()["detail"]
    (refusal,) = entries_for(world, "grant", d["id"])
    assert refusal["data"]["status"] != "issued"
