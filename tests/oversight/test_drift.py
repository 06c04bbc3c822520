"""The drift test (issue 15 §1): exact run lengths checked against an independent
computation, and the monitor's windows, alarms and reviews on decision records."""

from __future__ import annotations

import random
from typing import Any

import pytest

from remit.ledger.kinds import DecisionRecord
from remit.oversight.cusum import Cusum, design, run_length, steps
from remit.oversight.drift import DriftMonitor, DriftPlan, high_risk, signature


def test_steps_follow_the_likelihood_ratio() -> None:
    assert steps(0.2, 0.3) == (3, 1)  # ln 1.5 / -ln(0.7/0.8) = 3.04
    with pytest.raises(ValueError):
        steps(0.3, 0.2)


def _simulated_arl(p: float, up: int, down: int, h: int, runs: int, rng: random.Random) -> float:
    total = 0
    for _ in range(runs):
        s = n = 0
        while s < h:
            n += 1
            s = s + up if rng.random() < p else max(s - down, 0)
        total += n
    return total / runs


def test_exact_run_length_matches_simulation() -> None:
    rng = random.Random(7)
    for p, up, down, h in ((0.3, 3, 1, 20), (0.5, 2, 3, 12), (0.2, 3, 1, 15)):
        exact = run_length(p, up, down, h)
        sim = _simulated_arl(p, up, down, h, 4000, rng)
        assert abs(sim - exact) / exact < 0.06, (p, exact, sim)


def test_design_meets_the_declared_rate_with_the_smallest_threshold() -> None:
    d = design(0.2, 0.3, 20_000)
    assert d.arl0 >= 20_000 > run_length(0.2, d.up, d.down, d.threshold - 1)
    assert d.false_alarm_rate <= 1 / 20_000
    assert d.arl1 < 250  # the exact mean delay at the shift it is tuned for
    guarded = design(0.2, 0.3, 20_000, guard=0.21)
    assert guarded.threshold > d.threshold and run_length(0.21, 3, 1, guarded.threshold) >= 20_000


def rec(i: int, *, risky: bool, version: str = "2026-10-01", agent: str = "bot") -> DecisionRecord:
    request: dict[str, Any] = {
        "agent": agent,
        "action": "iam:DetachRolePolicy" if risky else "iam:ListRoles",
        "resources": [],
        "provenance": {"model": {"name": "m", "version": version}, "prompt_sha256": "p"},
        "reasoning": {"confidence": 0.9},
    }
    decision = {
        "id": f"dec-{i}",
        "tier": "notify" if risky else "autonomous",
        "agent": agent,
        "action": request["action"],
        "rules": ["R"],
        "access_level": "Permissions management" if risky else "List",
        "envelope": {"name": "e", "version": 1, "digest": "sha256:x"},
        "decided_at": "2026-11-21T12:00:00.000000Z",
    }
    return DecisionRecord(decision, request)


def test_high_risk_and_signature() -> None:
    assert high_risk(rec(0, risky=True)) and not high_risk(rec(0, risky=False))
    assert signature(rec(0, risky=False)) == ("m@2026-10-01", "p", "sha256:x", "-")


def feed(
    m: DriftMonitor, rng: random.Random, start: int, n: int, p: float, **kw: Any
) -> int | None:
    for i in range(start, start + n):
        if m.observe(i, rec(i, risky=rng.random() < p, **kw)) is not None:
            return i
    return None


def test_an_undeclared_shift_is_flagged_and_a_review_relearns() -> None:
    plan = DriftPlan(baseline_size=500)
    m = DriftMonitor(plan)
    rng = random.Random(3)
    assert feed(m, rng, 0, 500, 0.2) is None
    assert m.agents["bot"].p0 is not None
    assert feed(m, rng, 500, 2000, 0.2) is None  # in control
    hit = feed(m, rng, 2500, 2000, 0.5)  # same declared model: behaviour changed anyway
    assert hit is not None and hit - 2500 < 200
    state = m.agents["bot"].to_dict()
    assert state["flagged"] and state["alarm"]["ledger_index"] == hit
    assert state["alarm"]["statistic"] >= state["alarm"]["threshold"]
    assert feed(m, rng, 5000, 50, 0.9) is None  # flagged: no second alarm
    m.reviewed("bot")
    assert (
        m.agents["bot"].to_dict()["learning_baseline"] and not m.agents["bot"].to_dict()["flagged"]
    )


def test_a_model_change_opens_a_window_against_the_old_baseline() -> None:
    m = DriftMonitor(DriftPlan(baseline_size=500))
    rng = random.Random(4)
    feed(m, rng, 0, 600, 0.2)
    before = m.agents["bot"].windows
    hit = feed(m, rng, 600, 500, 0.6, version="2027-01-01")
    a = m.agents["bot"]
    assert a.windows == before + 1 and a.window is not None and a.window[0] == "m@2027-01-01"
    assert hit is not None and a.flagged is not None and a.flagged.window_index == 600


def test_agents_are_watched_separately() -> None:
    m = DriftMonitor(DriftPlan(baseline_size=100))
    rng = random.Random(5)
    feed(m, rng, 0, 300, 0.2, agent="a")
    feed(m, rng, 300, 300, 0.2, agent="b")
    assert feed(m, rng, 600, 400, 0.7, agent="b") is not None
    assert m.agents["b"].flagged is not None and m.agents["a"].flagged is None


def test_a_cusum_counts_up_and_floors_at_zero() -> None:
    c = Cusum(design(0.2, 0.3, 1000))
    c.update(False)
    assert c.statistic == 0
    c.update(True)
    assert c.statistic == c.design.up
