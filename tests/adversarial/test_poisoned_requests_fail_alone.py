"""Issue 11, finding 5: one poisoned request must not deny others. Every value that
passes validation can be written canonically (integers beyond 64 bits, non-finite
numbers and strings or booleans posing as numbers are refused with 422 naming the
field), and a request that still cannot be recorded fails alone: the others decided in
its group commit are recorded and answered."""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.conftest import NOW
from tests.server.srvkit import ApiKeys, bearer, example_request, read_request

from remit.decide import Gate
from remit.domain.ids import new_id
from remit.domain.reasons import ReasonCode
from remit.domain.requests import ActionRequest
from remit.ledger.log import Ledger
from remit.recorder.decisions import Ask, decide_many
from remit.server.runtime import Runtime

HUGE = 2**64 + 7

POISONS: list[tuple[dict[str, Any], str]] = [
    (example_request(parameters={"RoleName": "x", "Count": HUGE}), "parameters"),
    (example_request(parameters={"Deep": {"n": [1, -(2**70)]}}), "parameters"),
    (example_request(signals=[{"name": "age", "value": HUGE}]), "reasoning.signals.0.value"),
    (example_request(confidence="0.9"), "reasoning.confidence"),
    (example_request(confidence=True), "reasoning.confidence"),
]


@pytest.mark.parametrize(("body", "field"), POISONS)
def test_unrecordable_values_are_refused_with_the_field(
    client: TestClient, api_keys: ApiKeys, rt: Runtime, body: dict[str, Any], field: str
) -> None:
    before = rt.store.size()
    r = client.post("/v1/decisions", json=body, headers=bearer(api_keys.agent))
    assert r.status_code == 422, r.text
    assert any(e["field"] == field for e in r.json()["detail"]), r.json()
    assert rt.store.size() == before


def test_poisoned_and_valid_requests_under_concurrency(
    client: TestClient, api_keys: ApiKeys, rt: Runtime
) -> None:
    """Two agents' valid requests interleaved with poisoned ones, many in flight at once
    (so they share group commits): no valid request is denied for another's sake."""
    rng = random.Random(11)
    jobs: list[tuple[str, dict[str, Any], bool]] = []
    for i in range(120):
        if rng.random() < 0.3:
            jobs.append((api_keys.agent, POISONS[i % len(POISONS)][0], False))
        elif rng.random() < 0.5:
            jobs.append((api_keys.agent2, read_request(agent="scanner"), True))
        else:
            jobs.append((api_keys.agent, read_request(), True))

    def send(job: tuple[str, dict[str, Any], bool]) -> tuple[bool, int, dict[str, Any]]:
        key, body, valid = job
        r = client.post("/v1/decisions", json=body, headers=bearer(key))
        return valid, r.status_code, r.json()

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(send, jobs))
    valid = [(code, body) for ok, code, body in results if ok]
    assert all(code == 422 for ok, code, _ in results if not ok)
    assert all(code == 200 for code, _ in valid)
    collateral = [b for _, b in valid if "LEDGER_UNAVAILABLE" in [x["code"] for x in b["reasons"]]]
    assert collateral == []
    assert all(b["ledger_index"] is not None for _, b in valid)
    assert len({b["ledger_index"] for _, b in valid}) == len(valid)


def test_a_request_that_cannot_be_written_fails_alone(rt: Runtime) -> None:
    """Below validation: a request that cannot be written (built without validation, as
    a bug elsewhere might) is denied LEDGER_UNAVAILABLE alone; its group is recorded."""
    gate: Gate = rt.envelope_view().gate
    good = ActionRequest.model_validate(read_request())
    bad = good.model_copy(update={"parameters": {"n": HUGE}})  # skips validation
    asks = [Ask(gate, r, "agent:bot#k", NOW, new_id("dec", NOW)) for r in (good, bad, good)]
    made = decide_many(Ledger(rt.store), asks)
    assert [d.extra.get("recorded", True) for d in made] == [True, False, True]
    assert ReasonCode.LEDGER_UNAVAILABLE in made[1].codes
    assert ReasonCode.LEDGER_UNAVAILABLE not in made[0].codes + made[2].codes
    first = made[0].extra["ledger_index"]
    assert made[2].extra["ledger_index"] == first + 1 == rt.store.size() - 1
    assert rt.store.reads.decision(asks[1].decision_id) is None
