"""Issue 11, finding 6: separation of duties binds to a person, not a key (a second key
under the requester's name cannot approve its holder's request), and a decision has one
outcome (a second report is refused, not recorded beside a contradicting first)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from tests.server.srvkit import ApiKeys, Clock, bearer, entries_of, held_request, read_request

from remit.identity.model import Role
from remit.server.runtime import Runtime


@pytest.mark.parametrize("name", ["bot", "BOT", " Bot "])
def test_a_second_key_of_the_requester_cannot_approve(
    client: TestClient, rt: Runtime, api_keys: ApiKeys, clock: Clock, name: str
) -> None:
    # the agent key is named "bot"; its holder gets an approver key under the same name
    _, own_approver_key = rt.keys.create(name, Role.APPROVER, None, clock(), "test-setup")
    r = client.post("/v1/decisions", json=held_request(), headers=bearer(api_keys.agent))
    d = r.json()
    assert d["status"] == "pending", d
    before = rt.store.size()
    r = client.post(
        f"/v1/approvals/{d['id']}/approve",
        json={"comment": "looks fine to me"},
        headers=bearer(own_approver_key),
    )
    assert r.status_code == 403, r.text
    assert "separation of duties" in r.json()["detail"]
    assert rt.store.size() == before
    r = client.post(
        f"/v1/approvals/{d['id']}/approve", json={"comment": "ok"}, headers=bearer(api_keys.alice)
    )
    assert r.status_code == 200, r.text


def test_one_outcome_per_decision(client: TestClient, rt: Runtime, api_keys: ApiKeys) -> None:
    d = client.post("/v1/decisions", json=read_request(), headers=bearer(api_keys.agent)).json()
    assert d["status"] == "allowed", d
    url = f"/v1/decisions/{d['id']}/outcome"
    first = client.post(url, json={"status": "succeeded"}, headers=bearer(api_keys.agent))
    assert first.status_code == 200, first.text
    before = rt.store.size()
    again = client.post(url, json={"status": "failed"}, headers=bearer(api_keys.agent))
    assert again.status_code == 409, again.text
    assert str(first.json()["ledger_index"]) in again.json()["detail"]
    assert rt.store.size() == before
    outcomes = [e for e in entries_of(rt.store, "outcome") if e["data"]["decision_id"] == d["id"]]
    assert [o["data"]["status"] for o in outcomes] == ["succeeded"]
