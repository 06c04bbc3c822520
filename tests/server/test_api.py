"""The HTTP API in-process (TestClient over a Runtime on SQLite with an injected clock):
each route's happy path and auth rules, recording before answering, the approval flow
with separation of duties and expiry, long-poll, outcomes, events, the ledger proofs,
health, body limits, validation, failing closed, and `remit keys`."""

from __future__ import annotations

import base64
import os
import re
import signal
import sqlite3
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.server.conftest import Pki
from tests.server.srvkit import (
    SECOND_AGENT,
    ApiKeys,
    Clock,
    bearer,
    entries,
    entries_of,
    example_request,
    held_request,
    ok,
    read_request,
    reason_codes,
    remit,
)

from remit.domain.requests import ActionRequest
from remit.envelope.signoff import signoffs_path
from remit.ledger.kinds import IdentityRecord
from remit.ledger.log import request_digest
from remit.ledger.store import LedgerUnavailable
from remit.server.config import ServerConfig
from remit.server.runtime import Runtime
from remit.tlog import merkle
from remit.tlog.checkpoint import open_checkpoint

KEY_SHAPE = re.compile(r"^rk_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$")


def decide(client: TestClient, key: str, body: dict[str, Any], status: int = 200) -> dict[str, Any]:
    r = client.post("/v1/decisions", json=body, headers=bearer(key))
    assert r.status_code == status, r.text
    out: dict[str, Any] = r.json()
    return out


def held(client: TestClient, keys: ApiKeys, **changes: Any) -> dict[str, Any]:
    d = decide(client, keys.agent, held_request(**changes))
    assert (d["tier"], d["status"]) == ("approve", "pending"), d
    return d


def resolve(client: TestClient, key: str, did: str, verb: str = "approve", **body: Any) -> Any:
    return client.post(f"/v1/approvals/{did}/{verb}", json=body, headers=bearer(key))


# -- health -----------------------------------------------------------------------------


def test_healthz_and_readyz_need_no_key(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"ok": True}
    r = client.get("/readyz")
    assert r.status_code == 200 and r.json()["ready"] is True
    assert {"uncovered_entries", "last_checkpoint_at"} <= set(r.json())


def test_readyz_503_when_signoff_removed_and_decisions_fail_closed(
    client: TestClient, rt: Runtime, api_keys: ApiKeys
) -> None:
    so = signoffs_path(rt.config.envelope)
    saved = so.read_bytes()
    so.unlink()
    r = client.get("/readyz")
    assert r.status_code == 503, r.text
    assert r.json()["ready"] is False
    assert any(p.startswith("envelope") for p in r.json()["problems"])
    # An envelope without authority allows nothing (and the decision is still recorded).
    before = rt.store.size()
    d = decide(client, api_keys.agent, read_request())
    assert d["tier"] == "deny" and d["allowed"] is False
    assert "ENVELOPE_SIGNATURE_INVALID" in reason_codes(d)
    assert rt.store.size() == before + 1
    so.write_bytes(saved)  # signed off again: ready again, and autonomy is back
    assert client.get("/readyz").status_code == 200
    assert decide(client, api_keys.agent, read_request())["tier"] == "autonomous"


def test_readyz_503_when_the_store_is_unusable(
    client: TestClient, rt: Runtime, api_keys: ApiKeys
) -> None:
    rt.store._conn.close()  # type: ignore[attr-defined]
    r = client.get("/readyz")
    assert r.status_code == 503, r.text
    assert any(p.startswith("store") for p in r.json()["problems"])

    # A request that cannot even check its key is refused, not a 500. (The store heals a
    # closed connection on its next use, as after any storage error: make reopening fail.)
    def cannot_reopen(uri: str) -> None:
        raise sqlite3.OperationalError("unable to open database file")

    rt.store._connect = cannot_reopen  # type: ignore[attr-defined]
    rt.store._conn.close()  # type: ignore[attr-defined]
    r = client.post("/v1/decisions", json=read_request(), headers=bearer(api_keys.agent))
    assert r.status_code == 503, r.text


def test_replicas_starting_together_record_the_signoff_once(
    rt: Runtime, server_config: ServerConfig, clock: Clock
) -> None:
    """Several replicas start at once and all see the same sign-off. Each checks what is
    recorded under the append lock, so it is recorded once and nobody fails (before, a
    replica exited with a unique violation)."""
    import threading

    errors: list[BaseException] = []
    started: list[Runtime] = []

    def start() -> None:
        try:
            started.append(Runtime(server_config, clock=clock))
        except BaseException as exc:  # pragma: no cover - the failure we guard against
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert not errors, errors
        assert all(r.envelope_view().trust.valid for r in started)
    finally:
        for r in started:
            r.close()
    assert len(entries_of(rt.store, "signoff")) == 1


# -- authentication and roles -------------------------------------------------------------

EVERY_ROUTE: list[tuple[str, str, dict[str, Any] | None]] = [
    ("POST", "/v1/decisions", example_request()),
    ("GET", "/v1/decisions/dec_x", None),
    ("POST", "/v1/decisions/dec_x/outcome", {"status": "succeeded"}),
    ("GET", "/v1/approvals", None),
    ("POST", "/v1/approvals/dec_x/approve", {"comment": "ok"}),
    ("POST", "/v1/approvals/dec_x/reject", {"comment": "no"}),
    ("POST", "/v1/events", {"kind": "acquisition"}),
    ("GET", "/v1/envelope/status", None),
    ("GET", "/v1/inventory", None),
    ("GET", "/v1/ledger/checkpoint", None),
    ("GET", "/v1/ledger/proof/0", None),
    ("GET", "/v1/ledger/consistency?from=1&to=1", None),
]


@pytest.mark.parametrize(("method", "path", "body"), EVERY_ROUTE)
def test_every_route_needs_a_valid_unrevoked_key(
    client: TestClient,
    rt: Runtime,
    api_keys: ApiKeys,
    clock: Clock,
    method: str,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    before = rt.store.size()
    admin_id = api_keys.labels["admin"].rsplit("#", 1)[1]
    # the key id of a real key with a wrong secret, a garbage key, another scheme
    forged = f"rk_{admin_id}_{'A' * 43}"
    cases: list[dict[str, str]] = [
        {},
        bearer("not-a-key"),
        bearer(forged),
        {"Authorization": f"Basic {api_keys.admin}"},
    ]
    for headers in cases:
        r = client.request(method, path, json=body, headers=headers)
        assert r.status_code == 401, (headers, r.status_code, r.text)
        assert r.headers.get("www-authenticate") == "Bearer"
        assert "key" in r.json()["detail"]
    assert rt.store.size() == before
    assert rt.keys.revoke(admin_id, clock(), "test-setup")
    revoked = rt.store.size()  # the revocation itself is recorded
    assert rt.store.entry(before).read().record == IdentityRecord("key_revoked", admin_id)
    r = client.request(method, path, json=body, headers=bearer(api_keys.admin))
    assert r.status_code == 401, r.text
    assert rt.store.size() == revoked


def test_every_v1_route_in_the_openapi_document_refuses_a_missing_key(
    client: TestClient, rt: Runtime
) -> None:
    """Derived from /openapi.json, so a route added later is covered too."""
    paths = client.get("/openapi.json").json()["paths"]
    routes = [
        (method.upper(), re.sub(r"\{[^}]+\}", "0", path))
        for path, ops in paths.items()
        if path.startswith("/v1/")
        for method in ops
    ]
    assert len(routes) >= len(EVERY_ROUTE), routes
    before = rt.store.size()
    for method, path in routes:
        r = client.request(method, path, json={})
        assert r.status_code == 401, (method, path, r.status_code, r.text)
    assert rt.store.size() == before


WRONG_ROLE: list[tuple[str, str, str, Callable[[], dict[str, Any] | None]]] = [
    ("alice", "POST", "/v1/decisions", example_request),
    ("auditor", "POST", "/v1/decisions", example_request),
    ("auditor", "POST", "/v1/approvals/{did}/approve", lambda: {"comment": "ok"}),
    ("auditor", "POST", "/v1/approvals/{did}/reject", lambda: {"comment": "no"}),
    ("agent", "POST", "/v1/approvals/{did}/approve", lambda: {"comment": "ok"}),
    ("agent2", "POST", "/v1/approvals/{did}/approve", lambda: {"comment": "ok"}),
    ("agent", "GET", "/v1/approvals", lambda: None),
    ("auditor", "POST", "/v1/events", lambda: {"kind": "acquisition"}),
    ("alice", "POST", "/v1/events", lambda: {"kind": "acquisition"}),
    ("agent", "POST", "/v1/events", lambda: {"kind": "acquisition"}),
    ("agent", "GET", "/v1/envelope/status", lambda: None),
    ("agent", "GET", "/v1/inventory", lambda: None),
    ("alice", "POST", "/v1/decisions/{did}/outcome", lambda: {"status": "succeeded"}),
    ("auditor", "POST", "/v1/decisions/{did}/outcome", lambda: {"status": "succeeded"}),
]


@pytest.mark.parametrize(("who", "method", "path", "body"), WRONG_ROLE)
def test_wrong_role_is_403_and_changes_nothing(
    client: TestClient,
    rt: Runtime,
    api_keys: ApiKeys,
    who: str,
    method: str,
    path: str,
    body: Callable[[], dict[str, Any] | None],
) -> None:
    did = held(client, api_keys)["id"]
    before = rt.store.size()
    r = client.request(
        method, path.format(did=did), json=body(), headers=bearer(getattr(api_keys, who))
    )
    assert r.status_code == 403, r.text
    assert "may not" in r.json()["detail"]
    assert rt.store.size() == before
    assert rt.approvals.get(did).state_at(rt.clock()).value == "pending"  # type: ignore[union-attr]


def test_agent_key_cannot_ask_as_another_agent(
    client: TestClient, rt: Runtime, api_keys: ApiKeys
) -> None:
    before = rt.store.size()
    r = client.post("/v1/decisions", json=read_request(), headers=bearer(api_keys.agent2))
    assert r.status_code == 403, r.text
    assert SECOND_AGENT in r.json()["detail"]
    r = client.post(
        "/v1/decisions", json=read_request(agent=SECOND_AGENT), headers=bearer(api_keys.agent)
    )
    assert r.status_code == 403, r.text
    assert rt.store.size() == before
    # each agent key may ask as its own agent
    assert decide(client, api_keys.agent2, read_request(agent=SECOND_AGENT))["allowed"]
    assert decide(client, api_keys.agent, read_request())["allowed"]


def test_agent_cannot_read_or_report_on_another_agents_decision(
    client: TestClient, rt: Runtime, api_keys: ApiKeys
) -> None:
    did = decide(client, api_keys.agent, example_request())["id"]
    before = rt.store.size()
    other = bearer(api_keys.agent2)
    assert client.get(f"/v1/decisions/{did}", headers=other).status_code == 403
    assert client.get(f"/v1/decisions/{did}?wait=5", headers=other).status_code == 403
    r = client.post(f"/v1/decisions/{did}/outcome", json={"status": "succeeded"}, headers=other)
    assert r.status_code == 403
    assert rt.store.size() == before
    for who in ("agent", "alice", "auditor", "admin"):
        r = client.get(f"/v1/decisions/{did}", headers=bearer(getattr(api_keys, who)))
        assert r.status_code == 200, (who, r.text)
        assert r.json()["id"] == did


# -- deciding -----------------------------------------------------------------------------


def test_decision_is_recorded_before_the_answer_and_names_the_key(
    client: TestClient, rt: Runtime, api_keys: ApiKeys
) -> None:
    before = rt.store.size()
    d = decide(client, api_keys.agent, example_request())
    assert rt.store.size() == before + 1
    assert (d["tier"], d["status"], d["allowed"], d["recorded"]) == (
        "notify",
        "allowed",
        True,
        True,
    )
    assert d["ledger_index"] == before
    entry = rt.store.entry(before).document()
    assert entry["kind"] == "decision"
    assert entry["actor"] == api_keys.labels["agent"]
    assert entry["data"]["decision"]["id"] == d["id"]
    assert entry["data"]["decision"]["tier"] == "notify"
    assert entry["data"]["request"] == ActionRequest.model_validate(example_request()).canonical()
    back = client.get(f"/v1/decisions/{d['id']}", headers=bearer(api_keys.agent))
    assert back.status_code == 200
    assert {k: back.json()[k] for k in ("id", "tier", "status", "ledger_index", "rules")} == {
        k: d[k] for k in ("id", "tier", "status", "ledger_index", "rules")
    }


def test_admin_may_ask_for_any_agent_and_is_named(
    client: TestClient, rt: Runtime, api_keys: ApiKeys
) -> None:
    d = decide(client, api_keys.admin, read_request(agent=SECOND_AGENT))
    assert d["tier"] == "autonomous"
    assert rt.store.entry(d["ledger_index"]).document()["actor"] == api_keys.labels["admin"]


def test_unknown_decision_is_404(client: TestClient, api_keys: ApiKeys) -> None:
    r = client.get("/v1/decisions/dec_nope", headers=bearer(api_keys.agent))
    assert r.status_code == 404
    r = client.post(
        "/v1/decisions/dec_nope/outcome", json={"status": "failed"}, headers=bearer(api_keys.agent)
    )
    assert r.status_code == 404


# -- approvals ----------------------------------------------------------------------------


def test_pending_approval_shows_the_approver_everything(
    client: TestClient, api_keys: ApiKeys
) -> None:
    req = held_request()
    d = held(client, api_keys)
    assert d["approval"]["state"] == "pending"
    assert d["approval"]["requested_by"] == api_keys.labels["agent"]
    assert d["approval"]["request_digest"] == request_digest(
        ActionRequest.model_validate(req).canonical()
    )
    listed = client.get("/v1/approvals?state=pending", headers=bearer(api_keys.alice))
    assert listed.status_code == 200
    (item,) = [a for a in listed.json() if a["approval"]["decision_id"] == d["id"]]
    assert item["request"]["action"] == req["action"]
    assert item["request"]["resources"] == req["resources"]
    assert item["request"]["reasoning"]["summary"] == req["reasoning"]["summary"]
    assert item["request"]["reasoning"]["signals"] == req["reasoning"]["signals"]
    assert item["request"]["reasoning"]["alternatives"] == req["reasoning"]["alternatives"]
    assert item["request"]["provenance"]["workflow"] == req["provenance"]["workflow"]
    assert item["request"]["provenance"]["model"] == req["provenance"]["model"]
    assert item["decision"]["rules"] == ["R7-revoke-stale"]
    assert "CONFIDENCE_TOO_LOW" in reason_codes(item["decision"])
    assert item["blast_radius"] == {
        "rule": "R7-revoke-stale",
        "max_resources": 3,
        "max_accounts": 1,
        "window": {"max_actions": 20, "per": "PT1H"},
    }
    # auditors may read the queue too; omitting state means pending
    r = client.get("/v1/approvals", headers=bearer(api_keys.auditor))
    assert [a["approval"]["decision_id"] for a in r.json()] == [d["id"]]


def test_approve_releases_the_agent_and_is_recorded_with_the_approver(
    client: TestClient, rt: Runtime, api_keys: ApiKeys
) -> None:
    d = held(client, api_keys)
    before = rt.store.size()
    r = resolve(
        client,
        api_keys.alice,
        d["id"],
        comment="checked",
        request_digest=d["approval"]["request_digest"],
    )
    assert r.status_code == 200, r.text
    a = r.json()["approval"]
    assert (a["state"], a["resolved_by"], a["comment"]) == (
        "approved",
        api_keys.labels["alice"],
        "checked",
    )
    # the approval, and the credential preview the answer showed (kept once per decision)
    kinds = [rt.store.entry(i).kind for i in range(before, rt.store.size())]
    assert sorted(kinds) == ["approval", "preview"]
    entry = rt.store.entry(before + kinds.index("approval")).document()
    assert (entry["kind"], entry["actor"]) == ("approval", api_keys.labels["alice"])
    assert entry["data"]["state"] == "approved"
    assert entry["data"]["comment"] == "checked"
    assert entry["data"]["decision_id"] == d["id"]
    got = client.get(f"/v1/decisions/{d['id']}", headers=bearer(api_keys.agent)).json()
    # `status` is what the agent may do now (`allowed` stays the tier's own verdict)
    assert (got["status"], got["approval"]["state"]) == ("allowed", "approved")
    pending = client.get("/v1/approvals", headers=bearer(api_keys.alice)).json()
    assert d["id"] not in [p["approval"]["decision_id"] for p in pending]
    approved = client.get("/v1/approvals?state=approved", headers=bearer(api_keys.alice)).json()
    assert [p["approval"]["decision_id"] for p in approved] == [d["id"]]


def test_reject_denies_and_is_recorded(client: TestClient, rt: Runtime, api_keys: ApiKeys) -> None:
    d = held(client, api_keys)
    r = resolve(client, api_keys.bob, d["id"], "reject", comment="too broad")
    assert r.status_code == 200, r.text
    assert r.json()["approval"]["state"] == "rejected"
    got = client.get(f"/v1/decisions/{d['id']}", headers=bearer(api_keys.agent)).json()
    assert (got["status"], got["allowed"]) == ("denied", False)
    (entry,) = entries_of(rt.store, "approval")
    assert (entry["actor"], entry["data"]["state"], entry["data"]["comment"]) == (
        api_keys.labels["bob"],
        "rejected",
        "too broad",
    )
    rejected = client.get("/v1/approvals?state=rejected", headers=bearer(api_keys.auditor))
    assert [p["approval"]["decision_id"] for p in rejected.json()] == [d["id"]]


def test_requesting_identity_can_never_approve(
    client: TestClient, rt: Runtime, api_keys: ApiKeys
) -> None:
    # an agent key is refused by role; an admin key that asked is refused by identity
    d = held(client, api_keys)
    assert resolve(client, api_keys.agent, d["id"]).status_code == 403
    by_admin = decide(client, api_keys.admin, held_request())
    before = rt.store.size()
    r = resolve(client, api_keys.admin, by_admin["id"], comment="mine")
    assert r.status_code == 403, r.text
    assert "separation of duties" in r.json()["detail"]
    assert resolve(client, api_keys.admin, by_admin["id"], "reject").status_code == 403
    assert rt.store.size() == before
    assert resolve(client, api_keys.alice, by_admin["id"]).status_code == 200


@pytest.mark.parametrize("named", ["alice", "ALICE"])
def test_person_named_on_behalf_of_cannot_approve_their_own_request(
    client: TestClient, rt: Runtime, api_keys: ApiKeys, named: str
) -> None:
    d = decide(client, api_keys.admin, held_request(on_behalf_of=named, origin="human"))
    assert d["status"] == "pending", d
    before = rt.store.size()
    r = resolve(client, api_keys.alice, d["id"], comment="fine by me")
    assert r.status_code == 403, r.text
    assert "separation of duties" in r.json()["detail"]
    assert rt.store.size() == before
    r = resolve(client, api_keys.bob, d["id"], comment="second pair of eyes")
    assert r.status_code == 200, r.text


def test_digest_mismatch_is_409_and_leaves_it_pending(
    client: TestClient, rt: Runtime, api_keys: ApiKeys
) -> None:
    d = held(client, api_keys)
    other = request_digest(ActionRequest.model_validate(held_request(confidence=0.4)).canonical())
    before = rt.store.size()
    r = resolve(client, api_keys.alice, d["id"], request_digest=other)
    assert r.status_code == 409, r.text
    assert "digest" in r.json()["detail"]
    assert rt.store.size() == before
    got = client.get(f"/v1/decisions/{d['id']}", headers=bearer(api_keys.agent)).json()
    assert got["status"] == "pending"


def test_resolving_twice_is_409(client: TestClient, rt: Runtime, api_keys: ApiKeys) -> None:
    d = held(client, api_keys)
    assert resolve(client, api_keys.alice, d["id"]).status_code == 200
    before = rt.store.size()
    for key, verb in (
        (api_keys.alice, "approve"),
        (api_keys.bob, "approve"),
        (api_keys.bob, "reject"),
    ):
        r = resolve(client, key, d["id"], verb)
        assert r.status_code == 409, r.text
    assert rt.store.size() == before
    assert len(entries_of(rt.store, "approval")) == 1


def test_only_held_decisions_can_be_approved(client: TestClient, api_keys: ApiKeys) -> None:
    notify = decide(client, api_keys.agent, example_request())
    assert resolve(client, api_keys.alice, notify["id"]).status_code == 404
    assert resolve(client, api_keys.alice, "dec_nope").status_code == 404


def test_expiry_counts_as_deny_and_is_recorded_by_the_system(
    bare_client: TestClient, rt: Runtime, api_keys: ApiKeys, clock: Clock
) -> None:
    d = held(bare_client, api_keys)
    clock.advance(minutes=59)
    got = bare_client.get(f"/v1/decisions/{d['id']}", headers=bearer(api_keys.agent)).json()
    assert got["status"] == "pending"
    assert rt.approvals.expire_due(clock()) == 0
    clock.advance(minutes=1, seconds=1)  # past defaults.approval_timeout (PT1H)
    got = bare_client.get(f"/v1/decisions/{d['id']}", headers=bearer(api_keys.agent)).json()
    assert (got["status"], got["allowed"], got["approval"]["state"]) == (
        "denied",
        False,
        "expired",
    )
    before = rt.store.size()
    r = resolve(bare_client, api_keys.alice, d["id"], comment="too late")
    assert r.status_code == 409, r.text
    assert "expired" in r.json()["detail"]
    assert rt.store.size() == before
    assert rt.approvals.expire_due(clock()) == 1
    (entry,) = entries_of(rt.store, "approval")
    assert (entry["actor"], entry["data"]["state"], entry["data"]["decision_id"]) == (
        "system:remit",
        "expired",
        d["id"],
    )
    assert rt.approvals.expire_due(clock()) == 0  # recorded once
    got = bare_client.get(f"/v1/decisions/{d['id']}", headers=bearer(api_keys.agent)).json()
    assert (got["status"], got["approval"]["state"]) == ("denied", "expired")
    expired = bare_client.get("/v1/approvals?state=expired", headers=bearer(api_keys.alice))
    assert [p["approval"]["decision_id"] for p in expired.json()] == [d["id"]]


def test_the_running_service_records_expiry_by_itself(
    client: TestClient, rt: Runtime, api_keys: ApiKeys, clock: Clock
) -> None:
    d = held(client, api_keys)
    clock.advance(hours=2)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not entries_of(rt.store, "approval"):
        time.sleep(0.1)
    (entry,) = entries_of(rt.store, "approval")
    assert (entry["actor"], entry["data"]["state"], entry["data"]["decision_id"]) == (
        "system:remit",
        "expired",
        d["id"],
    )


# -- long-poll ----------------------------------------------------------------------------


def test_long_poll_returns_as_soon_as_approved(client: TestClient, api_keys: ApiKeys) -> None:
    d = held(client, api_keys)
    results: list[int] = []

    def approve() -> None:
        results.append(resolve(client, api_keys.alice, d["id"], comment="go").status_code)

    timer = threading.Timer(0.7, approve)
    start = time.monotonic()
    timer.start()
    try:
        r = client.get(f"/v1/decisions/{d['id']}?wait=20", headers=bearer(api_keys.agent))
    finally:
        timer.join()
    elapsed = time.monotonic() - start
    assert results == [200]
    assert r.status_code == 200
    assert r.json()["status"] == "allowed"
    assert 0.5 < elapsed < 5, elapsed


def test_long_poll_waits_while_pending_then_answers_pending(
    client: TestClient, api_keys: ApiKeys
) -> None:
    d = held(client, api_keys)
    start = time.monotonic()
    r = client.get(f"/v1/decisions/{d['id']}?wait=1", headers=bearer(api_keys.agent))
    elapsed = time.monotonic() - start
    assert r.json()["status"] == "pending"
    assert 0.9 <= elapsed < 4, elapsed
    # a decision that is not pending answers at once
    n = decide(client, api_keys.agent, example_request())
    start = time.monotonic()
    r = client.get(f"/v1/decisions/{n['id']}?wait=10", headers=bearer(api_keys.agent))
    assert r.json()["status"] == "allowed"
    assert time.monotonic() - start < 2


@pytest.mark.parametrize("wait", ["-1", "121", "soon"])
def test_long_poll_wait_is_validated(client: TestClient, api_keys: ApiKeys, wait: str) -> None:
    d = held(client, api_keys)
    r = client.get(f"/v1/decisions/{d['id']}?wait={wait}", headers=bearer(api_keys.agent))
    assert r.status_code == 422
    assert r.json()["detail"][0]["field"] == "query.wait"


def test_a_held_call_the_agent_withdrew_cannot_be_approved_or_rejected(
    client: TestClient, rt: Runtime, api_keys: ApiKeys
) -> None:
    """An agent that gave up waiting (the MCP proxy, when its client went away) reports
    the held decision's outcome as not run; approving it afterwards would hand out
    nothing: the approver is told why, and nothing is recorded. It leaves the pending
    queue at once (not at its deadline), is listed as `withdrawn`, and its deadline
    records no expiry: nobody is asked to look at a call that no longer waits."""
    d = held(client, api_keys)
    other = held(client, api_keys)

    def listed(state: str | None = None) -> dict[str, str]:
        query = f"?state={state}" if state else ""
        r = client.get(f"/v1/approvals{query}", headers=bearer(api_keys.alice))
        assert r.status_code == 200, r.text
        return {a["approval"]["decision_id"]: a["approval"]["state"] for a in r.json()}

    now = rt.clock()
    assert {d["id"], other["id"]} <= set(listed()) and rt.store.reads.pending_count(now) == 2
    r = client.post(
        f"/v1/decisions/{d['id']}/outcome",
        json={"status": "failed", "error": "the MCP client went away; not forwarded"},
        headers=bearer(api_keys.agent),
    )
    assert r.status_code == 200, r.text
    before = rt.store.size()
    for verb in ("approve", "reject"):
        got = resolve(client, api_keys.alice, d["id"], verb)
        assert got.status_code == 409, got.text
        assert "was withdrawn" in got.json()["detail"]
        assert "nothing left to approve" in got.json()["detail"]
    assert rt.store.size() == before
    assert d["id"] not in listed() and other["id"] in listed()
    assert rt.store.reads.pending_count(now) == 1
    assert listed("withdrawn") == {d["id"]: "withdrawn"}
    assert d["id"] not in listed("expired")
    poll = client.get(f"/v1/decisions/{d['id']}", headers=bearer(api_keys.agent)).json()
    assert poll["status"] == "denied"  # a waiting agent is not told to keep waiting
    late = now + timedelta(days=30)
    assert rt.approvals.expire_due(late) == 1  # the other one only
    assert rt.store.size() == before + 1
    assert listed("withdrawn") == {d["id"]: "withdrawn"}


# -- outcomes -----------------------------------------------------------------------------


def test_outcome_is_recorded_with_the_agent(
    client: TestClient, rt: Runtime, api_keys: ApiKeys
) -> None:
    d = decide(client, api_keys.agent, example_request())
    before = rt.store.size()
    r = client.post(
        f"/v1/decisions/{d['id']}/outcome",
        json={"status": "succeeded", "cloud_request_ids": ["req-1", "req-2"]},
        headers=bearer(api_keys.agent),
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"decision_id": d["id"], "ledger_index": before, "ran_without_allow": False}
    entry = rt.store.entry(before).document()
    assert (entry["kind"], entry["actor"]) == ("outcome", api_keys.labels["agent"])
    assert entry["data"]["cloud_request_ids"] == ["req-1", "req-2"]
    assert entry["data"]["decision_status"] == "allowed"
    assert entry["data"]["ran_without_allow"] is False


def test_success_without_an_allow_is_flagged(
    client: TestClient, rt: Runtime, api_keys: ApiKeys
) -> None:
    def report(did: str, status: str) -> bool:
        r = client.post(
            f"/v1/decisions/{did}/outcome", json={"status": status}, headers=bearer(api_keys.agent)
        )
        assert r.status_code == 200, r.text
        flag = bool(r.json()["ran_without_allow"])
        entry = rt.store.entry(r.json()["ledger_index"]).document()
        assert entry["data"]["ran_without_allow"] == flag
        assert isinstance(entry["data"]["ran_without_allow"], bool)
        return flag

    denied_role = [{"arn": "arn:aws:iam::111122223333:role/OrganizationAccountAccessRole"}]
    denied = decide(client, api_keys.agent, example_request(resources=denied_role))
    assert denied["tier"] == "deny"
    assert report(denied["id"], "succeeded") is True
    failed = decide(client, api_keys.agent, example_request(resources=denied_role))
    assert report(failed["id"], "failed") is False
    pending = held(client, api_keys)
    assert report(pending["id"], "succeeded") is True
    rejected = held(client, api_keys)
    assert resolve(client, api_keys.alice, rejected["id"], "reject").status_code == 200
    assert report(rejected["id"], "succeeded") is True
    approved = held(client, api_keys)
    assert resolve(client, api_keys.alice, approved["id"]).status_code == 200
    assert report(approved["id"], "succeeded") is False


# -- events and governance ----------------------------------------------------------------


def test_revalidation_event_holds_autonomy(
    client: TestClient, rt: Runtime, api_keys: ApiKeys
) -> None:
    assert decide(client, api_keys.agent, read_request())["tier"] == "autonomous"
    r = client.post(
        "/v1/events",
        json={"kind": "acquisition", "note": "bought acquired-co"},
        headers=bearer(api_keys.admin),
    )
    assert r.status_code == 200, r.text
    ev = r.json()
    assert ev["kind"] == "acquisition"
    entry = rt.store.entry(ev["ledger_index"]).document()
    assert (entry["kind"], entry["actor"]) == ("event", api_keys.labels["admin"])
    assert entry["data"]["note"] == "bought acquired-co"
    status = client.get("/v1/envelope/status", headers=bearer(api_keys.auditor)).json()
    assert [e["kind"] for e in status["pending_revalidation"]] == ["acquisition"]
    d = decide(client, api_keys.agent, read_request())
    assert (d["tier"], d["status"]) == ("approve", "pending")
    assert "ENVELOPE_REVALIDATION_PENDING" in reason_codes(d)


def test_other_events_are_recorded_but_change_no_tier(
    client: TestClient, rt: Runtime, api_keys: ApiKeys
) -> None:
    r = client.post(
        "/v1/events",
        json={"kind": "office_move", "at": "2026-11-21T09:00:00Z"},
        headers=bearer(api_keys.admin),
    )
    assert r.status_code == 200, r.text
    assert r.json()["at"] == "2026-11-21T09:00:00.000000Z"
    assert decide(client, api_keys.agent, read_request())["tier"] == "autonomous"


def test_envelope_status(client: TestClient, api_keys: ApiKeys) -> None:
    for who in ("alice", "auditor", "admin"):
        r = client.get("/v1/envelope/status", headers=bearer(getattr(api_keys, who)))
        assert r.status_code == 200, r.text
        s = r.json()
        assert (s["name"], s["version"], s["authority"], s["expired"]) == (
            "prod-security-automation",
            7,
            True,
            False,
        )
        assert [(x["signer"], x["role"], x["valid"]) for x in s["signoffs"]] == [
            ("ciso@example.com", "CISO", True)
        ]
        assert s["next_review_due"] == "2027-01-30T00:00:00Z"
        assert s["pending_revalidation"] == []


def test_inventory(client: TestClient, api_keys: ApiKeys) -> None:
    r = client.get("/v1/inventory", headers=bearer(api_keys.auditor))
    assert r.status_code == 200, r.text
    rows = {(x["agent"], x["rule_id"]): x for x in r.json()}
    assert ("remediator", "R7-revoke-stale") in rows
    assert ("remediator", "R1-read") in rows
    assert (SECOND_AGENT, "R1-read") in rows
    assert (SECOND_AGENT, "R7-revoke-stale") not in rows
    assert rows[("remediator", "R1-read")]["tier"] == "autonomous"


# -- ledger proofs ------------------------------------------------------------------------


def _checkpoint(client: TestClient, key: str, pki: Pki) -> tuple[int, bytes, str]:
    r = client.get("/v1/ledger/checkpoint", headers=bearer(key))
    assert r.status_code == 200, r.text
    body = r.json()
    cp = open_checkpoint(body["note"], [pki.log.verifier()], expected_origin=pki.log.name)
    assert cp.size == body["size"]
    assert cp.root.hex() == body["root_hash"]
    return cp.size, cp.root, body["note"]


def test_checkpoint_is_signed_over_the_whole_ledger(
    client: TestClient, rt: Runtime, api_keys: ApiKeys, pki: Pki
) -> None:
    for _ in range(3):
        decide(client, api_keys.agent, example_request())
    size, root, _ = _checkpoint(client, api_keys.auditor, pki)
    assert size == rt.store.size()
    assert root == merkle.root_of([merkle.leaf_hash(e.body) for e in rt.store.entries()])


def test_inclusion_proof_verifies_against_the_checkpoint(
    client: TestClient, rt: Runtime, api_keys: ApiKeys, pki: Pki
) -> None:
    ds = [decide(client, api_keys.agent, example_request()) for _ in range(5)]
    size, root, note = _checkpoint(client, api_keys.agent, pki)
    for d in ds:
        i = d["ledger_index"]
        r = client.get(f"/v1/ledger/proof/{i}", headers=bearer(api_keys.agent))
        assert r.status_code == 200, r.text
        p = r.json()
        leaf = base64.b64decode(p["leaf"])
        assert leaf == rt.store.entry(i).body
        assert p["leaf_hash"] == merkle.leaf_hash(leaf).hex()
        assert (p["index"], p["tree_size"], p["checkpoint"]) == (i, size, note)
        merkle.verify_inclusion(
            merkle.leaf_hash(leaf), i, size, [bytes.fromhex(h) for h in p["inclusion_proof"]], root
        )
    # against an explicit smaller tree
    r = client.get(
        f"/v1/ledger/proof/{ds[0]['ledger_index']}?size={size - 1}", headers=bearer(api_keys.agent)
    )
    assert r.status_code == 200 and r.json()["tree_size"] == size - 1
    assert client.get(f"/v1/ledger/proof/{size}", headers=bearer(api_keys.agent)).status_code == 404
    assert client.get("/v1/ledger/proof/-1", headers=bearer(api_keys.agent)).status_code == 422
    r = client.get(f"/v1/ledger/proof/0?size={size + 5}", headers=bearer(api_keys.agent))
    assert r.status_code == 404


def test_consistency_proof_verifies_between_checkpoints(
    client: TestClient, api_keys: ApiKeys, pki: Pki
) -> None:
    decide(client, api_keys.agent, example_request())
    size1, root1, note1 = _checkpoint(client, api_keys.alice, pki)
    for _ in range(6):
        decide(client, api_keys.agent, example_request())
    size2, root2, note2 = _checkpoint(client, api_keys.alice, pki)
    assert size2 == size1 + 6
    r = client.get(
        f"/v1/ledger/consistency?from={size1}&to={size2}", headers=bearer(api_keys.alice)
    )
    assert r.status_code == 200, r.text
    c = r.json()
    assert (c["from"], c["to"], c["from_checkpoint"], c["to_checkpoint"]) == (
        size1,
        size2,
        note1,
        note2,
    )
    merkle.verify_consistency(
        size1, size2, [bytes.fromhex(h) for h in c["consistency_proof"]], root1, root2
    )
    for query in (f"from={size2}&to={size1}", f"from=1&to={size2 + 1}", "from=0&to=1", "to=2"):
        r = client.get(f"/v1/ledger/consistency?{query}", headers=bearer(api_keys.alice))
        assert r.status_code == 422, (query, r.text)


# -- request bodies -----------------------------------------------------------------------


def test_body_over_the_limit_is_413(client: TestClient, rt: Runtime, api_keys: ApiKeys) -> None:
    limit = rt.config.max_body_bytes
    before = rt.store.size()
    headers = {**bearer(api_keys.agent), "content-type": "application/json"}
    r = client.post("/v1/decisions", content=b" " * (limit + 1), headers=headers)
    assert r.status_code == 413, r.text
    assert str(limit) in r.json()["detail"]

    def chunks() -> Any:  # no Content-Length: the limit must hold while streaming
        for _ in range(3):
            yield b" " * (limit // 2 + 1)

    r = client.post("/v1/decisions", content=chunks(), headers=headers)
    assert r.status_code == 413, r.text
    # a large but allowed body is parsed as usual
    padded = example_request(summary="x" * 5000)
    assert (
        client.post("/v1/decisions", json=padded, headers=bearer(api_keys.agent)).status_code == 200
    )
    assert rt.store.size() == before + 1


def _fields(r: Any) -> set[str]:
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert isinstance(detail, list) and detail
    assert all(d["message"] for d in detail)
    return {d["field"] for d in detail}


def test_malformed_bodies_are_422_with_field_names_and_change_nothing(
    client: TestClient, rt: Runtime, api_keys: ApiKeys
) -> None:
    did = held(client, api_keys)["id"]
    before = rt.store.size()
    agent = bearer(api_keys.agent)
    raw = {**agent, "content-type": "application/json"}
    assert _fields(client.post("/v1/decisions", content=b"{bad", headers=raw))
    assert _fields(client.post("/v1/decisions", content=b"[1, 2]", headers=raw)) == {"(body)"}
    assert _fields(client.post("/v1/decisions", content=b"", headers=raw))
    assert _fields(
        client.post("/v1/decisions", json=example_request(resources=[]), headers=agent)
    ) == {"resources"}
    assert "reasoning.confidence" in _fields(
        client.post("/v1/decisions", json=example_request(confidence="high"), headers=agent)
    )
    assert "action" in _fields(
        client.post("/v1/decisions", json=example_request(action="iam:*"), headers=agent)
    )
    assert "surprise" in _fields(
        client.post("/v1/decisions", json={**example_request(), "surprise": 1}, headers=agent)
    )
    assert _fields(client.post("/v1/decisions", json={"agent": "remediator"}, headers=agent)) >= {
        "action",
        "resources",
    }
    outcome = f"/v1/decisions/{did}/outcome"
    assert _fields(client.post(outcome, json={"status": "maybe"}, headers=agent)) == {"status"}
    assert _fields(
        client.post(outcome, json={"status": "failed", "cloud_request_ids": "x"}, headers=agent)
    ) == {"cloud_request_ids"}
    alice = bearer(api_keys.alice)
    approve = f"/v1/approvals/{did}/approve"
    assert _fields(client.post(approve, json={"comment": 5}, headers=alice)) == {"comment"}
    assert _fields(client.post(approve, json={"comment": "ok", "extra": 1}, headers=alice)) == {
        "extra"
    }
    assert _fields(
        client.post(f"/v1/approvals/{did}/reject", json={"comment": "x" * 4001}, headers=alice)
    ) == {"comment"}
    admin = bearer(api_keys.admin)
    assert _fields(client.post("/v1/events", json={"kind": "Not A Kind"}, headers=admin)) == {
        "kind"
    }
    assert _fields(
        client.post("/v1/events", json={"kind": "x", "at": "yesterday"}, headers=admin)
    ) == {"at"}
    r = client.post(
        "/v1/events", json={"kind": "acquisition", "at": "2026-11-21T09:00:00"}, headers=admin
    )
    assert r.status_code == 422 and "zone" in str(r.json()["detail"])
    # times the ledger cannot record and read back (found by schemathesis: they were 500s)
    for at in ("0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-05:00"):
        r = client.post("/v1/events", json={"kind": "acquisition", "at": at}, headers=admin)
        assert _fields(r) == {"at"} and "out of the range the ledger records" in r.text
    assert rt.store.size() == before
    assert rt.approvals.get(did).state_at(rt.clock()).value == "pending"  # type: ignore[union-attr]


# -- failing closed -----------------------------------------------------------------------


@pytest.mark.parametrize("make", [example_request, read_request, held_request])
def test_unrecordable_decision_is_deny_ledger_unavailable(
    client: TestClient,
    rt: Runtime,
    api_keys: ApiKeys,
    make: Callable[[], dict[str, Any]],
) -> None:
    before = rt.store.size()
    db = Path(rt.config.db)
    away = db.with_name("moved-away.db")
    db.rename(away)  # the decision writer finds its ledger file gone: it cannot record
    try:
        d = decide(client, api_keys.agent, make())
    finally:
        away.rename(db)
    assert (d["tier"], d["status"], d["allowed"], d["recorded"]) == ("deny", "denied", False, False)
    assert "LEDGER_UNAVAILABLE" in reason_codes(d)
    assert d["approval"] is None
    assert rt.store.size() == before


def test_a_killed_decision_writer_means_deny_then_it_is_started_again(
    client: TestClient, rt: Runtime, api_keys: ApiKeys
) -> None:
    before = rt.store.size()
    old = rt.writer.pid
    assert old is not None
    os.kill(old, signal.SIGSTOP)  # held mid-flight: the request waits on a writer that dies
    waiting = threading.Thread(
        target=lambda: answers.append(decide(client, api_keys.agent, read_request()))
    )
    answers: list[dict[str, Any]] = []
    waiting.start()
    time.sleep(0.5)
    os.kill(old, signal.SIGKILL)
    waiting.join(30)
    (d,) = answers
    assert (d["tier"], d["allowed"], d["recorded"]) == ("deny", False, False)
    assert "LEDGER_UNAVAILABLE" in reason_codes(d)
    deadline = time.monotonic() + 30
    while rt.writer.pid in (None, old) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert rt.writer.pid not in (None, old)
    assert decide(client, api_keys.agent, read_request())["allowed"]
    assert rt.store.size() == before + 1
    assert client.get("/readyz").status_code == 200


def test_with_the_writer_down_bodies_are_still_refused_as_the_writer_would(
    client: TestClient, rt: Runtime, api_keys: ApiKeys
) -> None:
    """No writer: a malformed body is still 422 and another agent's request still 403,
    with the same bodies as when the writer answers; a valid one is deny, unrecorded."""
    bad = {**read_request(), "agent": 7}
    theirs = read_request(agent=SECOND_AGENT)

    def refusals() -> list[tuple[int, Any]]:
        out = []
        for body in (bad, theirs):
            r = client.post("/v1/decisions", json=body, headers=bearer(api_keys.agent))
            out.append((r.status_code, r.json()))
        return out

    up = refusals()
    assert [code for code, _ in up] == [422, 403]
    before = rt.store.size()
    rt.writer.close()  # stopped for good: nothing starts it again
    assert rt.writer.pid is None
    assert refusals() == up
    d = decide(client, api_keys.agent, read_request())
    assert (d["tier"], d["allowed"], d["recorded"]) == ("deny", False, False)
    assert "LEDGER_UNAVAILABLE" in reason_codes(d)
    assert rt.store.size() == before


def test_other_writes_fail_with_503_when_the_ledger_is_down(
    client: TestClient, rt: Runtime, api_keys: ApiKeys, monkeypatch: pytest.MonkeyPatch
) -> None:
    did = held(client, api_keys)["id"]
    before = rt.store.size()

    def down(*_args: Any, **_kw: Any) -> Any:
        raise LedgerUnavailable("database is locked")

    monkeypatch.setattr(rt.store, "append_computed", down)
    r = resolve(client, api_keys.alice, did, comment="ok")
    assert r.status_code == 503 and "not resolved" in r.json()["detail"]
    r = client.post(
        f"/v1/decisions/{did}/outcome", json={"status": "failed"}, headers=bearer(api_keys.agent)
    )
    assert r.status_code == 503
    r = client.post("/v1/events", json={"kind": "acquisition"}, headers=bearer(api_keys.admin))
    assert r.status_code == 503
    monkeypatch.undo()
    assert rt.store.size() == before
    got = client.get(f"/v1/decisions/{did}", headers=bearer(api_keys.agent)).json()
    assert got["status"] == "pending"


# -- identity on every entry --------------------------------------------------------------


def test_every_entry_names_who_caused_it(
    client: TestClient, rt: Runtime, api_keys: ApiKeys
) -> None:
    d1 = held(client, api_keys)
    d2 = decide(client, api_keys.agent2, read_request(agent=SECOND_AGENT))
    resolve(client, api_keys.bob, d1["id"], comment="ok")
    client.post(
        f"/v1/decisions/{d2['id']}/outcome",
        json={"status": "succeeded"},
        headers=bearer(api_keys.agent2),
    )
    client.post("/v1/events", json={"kind": "model_update"}, headers=bearer(api_keys.admin))
    expected = {
        ("decision", d1["id"]): api_keys.labels["agent"],
        ("decision", d2["id"]): api_keys.labels["agent2"],
        ("approval", d1["id"]): api_keys.labels["bob"],
        ("outcome", d2["id"]): api_keys.labels["agent2"],
    }
    seen = {}
    for e in entries(rt.store):
        assert e["actor"], e
        if e["kind"] == "decision":
            seen[("decision", e["data"]["decision"]["id"])] = e["actor"]
        elif e["kind"] in ("approval", "outcome"):
            seen[(e["kind"], e["data"]["decision_id"])] = e["actor"]
        elif e["kind"] == "event":
            assert e["actor"] == api_keys.labels["admin"]
        elif e["kind"] == "signoff":
            assert e["actor"] == "system:remit"
    assert seen == expected


# -- `remit keys` ---------------------------------------------------------------------------


def test_keys_create_prints_the_key_alone_and_it_works(
    client: TestClient, rt: Runtime, api_keys: ApiKeys
) -> None:
    db = rt.config.db
    cwd = rt.config.envelope.parent
    args = ["--role", "agent", "--agent", "remediator", "--name", "cli-bot", "--db", db]
    out = ok(remit("keys", "create", *args, cwd=cwd)).stdout
    key = out.rstrip("\n").splitlines()[-1]
    assert KEY_SHAPE.match(key), out
    assert key not in "\n".join(out.splitlines()[:-1])  # shown once
    key_id = key.split("_")[1]
    d = decide(client, key, read_request())
    assert d["tier"] == "autonomous"
    assert rt.store.entry(d["ledger_index"]).document()["actor"] == f"agent:cli-bot#{key_id}"
    (created,) = [e for e in entries_of(rt.store, "identity") if e["data"]["key_id"] == key_id]
    assert created["data"]["action"] == "key_created" and created["data"]["role"] == "agent"
    assert created["actor"] == "cli"
    assert key.split("_", 2)[2] not in str(entries(rt.store))  # the secret is never recorded
    listed = ok(remit("keys", "list", "--db", db, cwd=cwd)).stdout
    assert key_id in listed and key not in listed
    # bound to its agent
    r = client.post("/v1/decisions", json=read_request(agent=SECOND_AGENT), headers=bearer(key))
    assert r.status_code == 403
    ok(remit("keys", "revoke", key_id, "--db", db, cwd=cwd))
    time.sleep(
        rt.keys.cache_seconds + 0.1
    )  # revoked in another process: seen within the cache time
    r = client.post("/v1/decisions", json=read_request(), headers=bearer(key))
    assert r.status_code == 401


@pytest.mark.parametrize(
    "args",
    [
        ["--role", "agent", "--name", "unbound"],
        ["--role", "approver", "--agent", "remediator", "--name", "x"],
        ["--role", "overlord", "--name", "x"],
    ],
)
def test_keys_create_refuses_bad_combinations(rt: Runtime, args: list[str]) -> None:
    r = remit("keys", "create", *args, "--db", rt.config.db, cwd=rt.config.envelope.parent)
    assert r.returncode == 2, r.stdout + r.stderr
    assert not any(KEY_SHAPE.match(line) for line in r.stdout.splitlines())
    assert rt.keys.list() == []
