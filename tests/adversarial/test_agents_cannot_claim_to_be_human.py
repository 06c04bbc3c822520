"""Issue 11, finding 4 (first half): an agent key could send `origin: "human"`, which
skips the model-binding check and is recorded as human-initiated, or name a person in
`on_behalf_of`. Only admin keys (held by people) may make those claims."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from tests.server.srvkit import ApiKeys, bearer, example_request

from remit.server.runtime import Runtime


@pytest.mark.parametrize(
    ("changes", "claim"),
    [
        ({"origin": "human"}, "origin human"),
        ({"on_behalf_of": "alice"}, "on_behalf_of"),
        ({"origin": "human", "on_behalf_of": "alice"}, "origin human"),
    ],
)
def test_an_agent_key_cannot_claim_a_human(
    client: TestClient, rt: Runtime, api_keys: ApiKeys, changes: dict[str, str], claim: str
) -> None:
    before = rt.store.size()
    r = client.post(
        "/v1/decisions", json=example_request(**changes), headers=bearer(api_keys.agent)
    )
    assert r.status_code == 403, r.text
    assert claim in r.json()["detail"]
    assert rt.store.size() == before


def test_an_admin_key_may_and_is_recorded_as_such(
    client: TestClient, rt: Runtime, api_keys: ApiKeys
) -> None:
    body = example_request(origin="human", on_behalf_of="alice")
    r = client.post("/v1/decisions", json=body, headers=bearer(api_keys.admin))
    assert r.status_code == 200, r.text
    found = rt.store.reads.decision(r.json()["id"])
    assert found is not None
    assert found.actor == api_keys.labels["admin"]
    assert (found.record.origin, found.record.on_behalf_of) == ("human", "alice")
