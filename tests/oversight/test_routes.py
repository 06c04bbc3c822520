"""The assurance loop over HTTP (issue 15 §5): roles, sample → verdicts → report, drift
state, what-if; bad input answered with a clear error and nothing recorded."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.conftest import EXAMPLES
from tests.server.srvkit import (
    NOW,
    ApiKeys,
    Clock,
    bearer,
    example_request,
    held_request,
    read_request,
)

from remit.identity.model import Role
from remit.server.runtime import Runtime

SINCE = (NOW - timedelta(hours=1)).isoformat()
UNTIL = (NOW + timedelta(hours=2)).isoformat()


def reviewer(rt: Runtime, clock: Clock, name: str = "rita") -> dict[str, str]:
    _, text = rt.keys.create(name, Role.REVIEWER, None, clock(), "test-setup")
    return bearer(text)


def decide(c: TestClient, keys: ApiKeys, body: dict[str, Any]) -> dict[str, Any]:
    r = c.post("/v1/decisions", json=body, headers=bearer(keys.agent))
    assert r.status_code == 200, r.text
    return dict(r.json())


def history(c: TestClient, keys: ApiKeys, clock: Clock) -> dict[str, str]:
    ids = {"read": decide(c, keys, read_request())["id"]}
    ids["revoke"] = decide(c, keys, example_request())["id"]
    ids["held"] = decide(c, keys, held_request())["id"]
    r = c.post(f"/v1/approvals/{ids['held']}/approve", json={}, headers=bearer(keys.alice))
    assert r.status_code == 200, r.text
    return ids


def test_sample_verdicts_and_report(
    bare_client: TestClient, api_keys: ApiKeys, rt: Runtime, clock: Clock
) -> None:
    c = bare_client
    ids = history(c, api_keys, clock)
    rita = reviewer(rt, clock)
    clock.advance(hours=3)
    c.get("/v1/ledger/checkpoint", headers=bearer(api_keys.auditor))  # signed after the period
    body = {"since": SINCE, "until": UNTIL, "tiers": ["autonomous", "notify", "approve"]}
    assert (
        c.post("/v1/reviews/samples", json=body, headers=bearer(api_keys.auditor)).status_code
        == 403
    )
    r = c.post("/v1/reviews/samples", json=body, headers=rita)
    assert r.status_code == 200, r.text
    sid = r.json()["sample_id"]
    assert c.post("/v1/reviews/samples", json=body, headers=rita).status_code == 409
    assert c.get("/v1/reviews/samples", headers=bearer(api_keys.auditor)).json() == [sid]
    url = f"/v1/reviews/samples/{sid}/verdicts"
    v = {"decision_id": ids["revoke"], "verdict": "inappropriate", "comment": "in use"}
    assert c.post(url, json=v, headers=bearer(api_keys.auditor)).status_code == 403
    r = c.post(url, json=v, headers=rita)
    assert r.status_code == 200, r.text
    assert r.json()["actor"].startswith("reviewer:rita#")
    alice_reviewer = reviewer(rt, clock, "alice")
    size = rt.store.size()
    assert c.post(url, json=v, headers=rita).status_code == 409  # once per decision
    bad = {**v, "decision_id": ids["read"], "verdict": "fine"}
    assert c.post(url, json=bad, headers=rita).status_code == 422
    # alice approved the held one: as a reviewer she may not judge it
    own = {"decision_id": ids["held"], "verdict": "appropriate"}
    r = c.post(url, json=own, headers=alice_reviewer)
    assert r.status_code == 403 and "own decision" in r.json()["detail"]
    assert rt.store.size() == size
    r = c.get(f"/v1/reviews/samples/{sid}", headers=bearer(api_keys.auditor))
    assert r.status_code == 200
    report = r.json()["report"]
    assert (
        report["suggestions"][0]["text"] == "R7-revoke-stale: 1 of 1 inappropriate → tier approve"
    )
    assert c.get("/v1/reviews/samples/rs-x", headers=rita).status_code == 404


def test_empty_period_is_refused(bare_client: TestClient, rt: Runtime, clock: Clock) -> None:
    rita = reviewer(rt, clock)
    size = rt.store.size()
    body = {"since": "2026-01-01T00:00:00Z", "until": "2026-02-01T00:00:00Z"}
    r = bare_client.post("/v1/reviews/samples", json=body, headers=rita)
    assert r.status_code == 422 and "no decisions" in r.json()["detail"]
    assert rt.store.size() == size


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/reviews/samples", {"since": "0001-01-01T00:00:00+00:01",
                                 "until": "2000-01-01T00:00:00Z"}, "since"),
        ("/v1/reviews/samples", {"since": "2026-01-01T00:00:00Z",
                                 "until": "9999-12-31T23:59:59-01:00"}, "until"),
        ("/v1/envelope/whatif", {"envelope": "x", "since": "0001-01-01T00:00:00+05:00"}, "since"),
        ("/v1/events", {"kind": "acquisition", "at": "0001-01-01T00:00:00+00:01"}, "at"),
    ],
)  # fmt: skip
def test_a_time_outside_the_ledgers_years_is_refused_not_a_500(
    bare_client: TestClient,
    api_keys: ApiKeys,
    rt: Runtime,
    clock: Clock,
    path: str,
    body: dict[str, Any],
    field: str,
) -> None:
    """Found by schemathesis: a zoned time whose UTC form falls outside years 1-9999
    (year 1 at +00:01) crashed the sample route with OverflowError (500)."""
    who = bearer(api_keys.admin) if path == "/v1/events" else reviewer(rt, clock)
    if path == "/v1/envelope/whatif":
        who = bearer(api_keys.auditor)
    size = rt.store.size()
    r = bare_client.post(path, json=body, headers=who)
    assert r.status_code == 422, r.text
    assert field in r.text and "out of the range the ledger records" in r.text
    naive = {**body, field: "2026-01-01T00:00:00"}
    r = bare_client.post(path, json=naive, headers=who)
    assert r.status_code == 422 and "time zone" in r.text
    assert rt.store.size() == size


def test_drift_state_for_readers_only(
    bare_client: TestClient, api_keys: ApiKeys, rt: Runtime, clock: Clock
) -> None:
    history(bare_client, api_keys, clock)
    assert bare_client.get("/v1/drift", headers=bearer(api_keys.agent)).status_code == 403
    r = bare_client.get("/v1/drift", headers=reviewer(rt, clock))
    assert r.status_code == 200
    (state,) = r.json()["agents"]
    assert state["agent"] == "remediator" and state["flagged"] is False
    assert state["learning_baseline"] and r.json()["plan"]["arl0"] == 20_000
    signals = [s["signal"] for s in state["signals"]]
    assert signals[0] == "high_risk" and "deny" in signals and "approval_reject" in signals
    assert not any(s["armed"] for s in state["signals"]) and state["elevated"] == []
    assert r.json()["plan"]["primary_share"] == 0.9
    assert bare_client.get("/v1/drift?agent=x", headers=bearer(api_keys.auditor)).status_code == 404
    r = bare_client.post(
        "/v1/drift/drift-x/review", json={"comment": "ok"}, headers=reviewer(rt, clock, "r2")
    )
    assert r.status_code == 404


def test_whatif_reports_flips_and_writes_nothing(
    bare_client: TestClient, api_keys: ApiKeys, rt: Runtime, clock: Clock, envelope_file: Path
) -> None:
    history(bare_client, api_keys, clock)
    size = rt.store.size()
    text = envelope_file.read_text().replace("tier: autonomous", "tier: notify", 1)
    r = bare_client.post(
        "/v1/envelope/whatif", json={"envelope": text}, headers=bearer(api_keys.auditor)
    )
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["replayed"] == 3 and out["by_tiers"] == [
        {"old_tier": "autonomous", "new_tier": "notify", "count": 1}
    ]
    bad = bare_client.post(
        "/v1/envelope/whatif", json={"envelope": "kind: ["}, headers=bearer(api_keys.auditor)
    )
    assert bad.status_code == 422 and "not valid" in bad.json()["detail"]
    assert rt.store.size() == size
    assert (EXAMPLES / "envelope.yaml").exists()


def test_the_services_sweep_takes_its_own_decisions_from_the_writers_answers(
    bare_client: TestClient, api_keys: ApiKeys, rt: Runtime, clock: Clock
) -> None:
    """Each decision recorded through the service leaves its drift input (sent by the
    writer with the answer) for the standing sweep, which takes them all."""
    from remit.server.app import _drift_sweep

    history(bare_client, api_keys, clock)
    assert len(rt.drift_hints) == 3
    _drift_sweep(rt)()
    assert len(rt.drift_hints) == 0


def test_drift_state_reads_only_what_is_new_and_equals_a_full_replay(
    bare_client: TestClient, api_keys: ApiKeys, rt: Runtime, clock: Clock, monkeypatch: Any
) -> None:
    """`GET /v1/drift` reads the service's standing drift test brought up to date, not a
    replay of the whole ledger per call: a later call reads only from where the last one
    stopped, and what it shows is exactly
    what replaying the ledger from the start shows."""
    from remit.oversight import drift_runs

    headers = reviewer(rt, clock)
    history(bare_client, api_keys, clock)
    first = bare_client.get("/v1/drift", headers=headers).json()
    stood = rt.drift_watch.next_index  # past the last entry the test reads
    assert 0 < stood <= rt.store.size()
    for _ in range(3):
        decide(bare_client, api_keys, read_request())
    starts: list[int] = []
    feed = drift_runs.feed

    def watched(monitor, store, start=0, end=None, hints=None):  # type: ignore[no-untyped-def]
        if end is None:  # not the service's background sweep, which reads in chunks
            starts.append(start)
        return feed(monitor, store, start, end, hints)

    monkeypatch.setattr(drift_runs, "feed", watched)
    second = bare_client.get("/v1/drift", headers=headers).json()
    assert starts == [stood] and rt.drift_watch.next_index > stood
    replay = drift_runs.watch(rt.store, drift_runs.plan_of(rt.envelope_view().loaded.envelope))
    assert second["agents"] == [a.to_dict() for a in replay.agents.values()]
    assert second != first and second["agents"][0]["observed_in_window"] > 0
