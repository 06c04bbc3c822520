"""The agents page names the drift signal that fired and the elevated ones (issue 15
§1, §5), from the same state `GET /v1/drift` gives."""

from __future__ import annotations

import random
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.dashboard.uikit import sign_in
from tests.server.srvkit import ApiKeys

from remit.dashboard import assurance_views
from remit.oversight.drift import DriftMonitor, DriftPlan
from remit.oversight.signals import Features
from remit.server.runtime import Runtime


def _flagged_on_deny() -> dict[str, dict[str, Any]]:
    m = DriftMonitor(DriftPlan(baseline_size=200))
    rng = random.Random(3)
    sig = ("m@1", "p", "sha256:e", "-", "-")
    for i in range(3000):
        u = rng.random()  # 40% high-risk throughout: mostly write access, then mostly denials
        deny = u < (0.01 if i < 400 else 0.3)
        f = Features(u < 0.4, deny, False, False, False, "iam:ListRoles", 1)
        if m.observe_features(i, "remediator", f"d{i}", sig, f) is not None:
            break
    assert m.agents["remediator"].flagged is not None
    return {a.agent: a.to_dict() for a in m.agents.values()}


def test_the_agents_page_names_the_signal_that_fired(
    client: TestClient, rt: Runtime, api_keys: ApiKeys, monkeypatch: pytest.MonkeyPatch
) -> None:
    states = _flagged_on_deny()
    fired = states["remediator"]["alarm"]["signal"]
    label = states["remediator"]["alarm"]["label"]
    monkeypatch.setattr(assurance_views, "drift_states", lambda _rt: states)
    sign_in(client, api_keys.auditor)
    html = client.get("/ui/agents").text
    assert "DRIFT FLAGGED" in html and f"Alarm on the {label} at" in html
    assert fired == "deny" and label == "deny share"
    assert "Elevated signals" in html and "<b>deny share</b>" in html and "(fired)" in html
