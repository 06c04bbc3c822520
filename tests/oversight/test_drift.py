"""The drift test (issue 15 §1): exact run lengths checked against an independent
computation, and the monitor's windows, alarms and reviews on decision records."""

from __future__ import annotations

import random
from fractions import Fraction
from typing import Any

import pytest

from remit.ledger.kinds import DecisionRecord
from remit.oversight.cusum import Cusum, _banded_run_length, design, run_length, steps
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
    for p, up, down, h in ((0.3, 3, 1, 20), (0.5, 2, 3, 12), (0.2, 3, 1, 15), (0.6, 1, 2, 10)):
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


def rec(
    i: int, *, risky: bool, version: str = "2026-10-01", agent: str = "bot", tools: str = "t1"
) -> DecisionRecord:
    request: dict[str, Any] = {
        "agent": agent,
        "action": "iam:DetachRolePolicy" if risky else "iam:ListRoles",
        "resources": [],
        "provenance": {
            "model": {"name": "m", "version": version},
            "prompt_sha256": "p",
            "tools_sha256": tools,
        },
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
    assert signature(rec(0, risky=False)) == ("m@2026-10-01", "p", "sha256:x", "-", "t1")


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


@pytest.mark.parametrize(
    ("change", "position", "key", "value"),
    [
        ({"version": "2027-01-01"}, 0, "model", "m@2027-01-01"),  # a model update
        ({"tools": "t2"}, 4, "tools_sha256", "t2"),  # other tools (an MCP server added)
    ],
    ids=["model", "tool-set"],
)
def test_an_undeclared_change_opens_a_window_against_the_old_baseline(
    change: dict[str, str], position: int, key: str, value: str
) -> None:
    m = DriftMonitor(DriftPlan(baseline_size=500))
    rng = random.Random(4)
    feed(m, rng, 0, 600, 0.2)
    before = m.agents["bot"].windows
    hit = feed(m, rng, 600, 500, 0.6, **change)
    a = m.agents["bot"]
    assert a.windows == before + 1 and a.window is not None and a.window[position] == value
    assert hit is not None and a.flagged is not None and a.flagged.window_index == 600
    assert a.flagged.to_dict()["window"][key] == value


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


def _exact_run_length(p: float, down: int, h: int) -> Fraction:
    """The run-length system for up = 1 solved in exact rational arithmetic."""
    rate = Fraction(p)
    a = [[Fraction(0)] * h for _ in range(h)]
    b = [Fraction(1)] * h
    for i in range(h):
        a[i][i] += 1
        if i + 1 < h:
            a[i][i + 1] -= rate
        a[i][max(i - down, 0)] -= 1 - rate
    for k in range(h):
        for i in range(k + 1, h):
            f = a[i][k] / a[k][k]
            if f:
                for j in range(k, h):
                    a[i][j] -= f * a[k][j]
                b[i] -= f * b[k]
    x = [Fraction(0)] * h
    for i in range(h - 1, -1, -1):
        x[i] = (b[i] - sum(a[i][j] * x[j] for j in range(i + 1, h))) / a[i][i]
    return x[0]


@pytest.mark.parametrize("down", [1, 2, 5, 8])
@pytest.mark.parametrize("p", [0.05, 0.3, 0.5, 0.7, 0.9])
def test_the_one_pass_climb_is_the_exact_run_length(p: float, down: int) -> None:
    """With up = 1 the run length is a sum of one-level passage times: it equals the
    system solved in exact arithmetic (and the banded float solve where that is well
    conditioned)."""
    for h in (1, 2, 7, 25):
        exact = float(_exact_run_length(p, down, h))
        fast = run_length(p, 1, down, h)
        assert fast == pytest.approx(exact, rel=1e-12), (p, down, h)
        if exact < 1e6:
            assert _banded_run_length(p, 1, down, h) == pytest.approx(exact, rel=1e-9)


def test_a_common_rate_designs_in_one_pass_and_an_impossible_one_says_so() -> None:
    d = design(0.88, 0.98, 22_222, 0.9)  # up = down = 1: a threshold in the thousands
    assert d.up == 1 and d.arl0 >= 22_222 > run_length(0.9, 1, d.down, d.threshold - 1)
    assert d.arl0 == pytest.approx(_banded_run_length(0.9, 1, d.down, d.threshold), rel=1e-9)
    with pytest.raises(ValueError, match="no threshold"):
        design(0.88, 0.98, 1_400_000, 0.9)  # drifts up in control: no useful threshold


@pytest.mark.parametrize("p0", [0.01, 0.05, 0.2, 0.33, 0.7])
@pytest.mark.parametrize("mult", [1.2, 1.5, 3.0])
@pytest.mark.parametrize("arl0", [100, 20_000, 250_000])
def test_the_design_is_the_smallest_threshold_reaching_the_run_length(
    p0: float, mult: float, arl0: int
) -> None:
    """The threshold is found by interpolating the run length's logarithm, not by halving:
    it must still be the smallest that reaches `arl0` (checked against its neighbour)."""
    p1 = min(p0 * mult, 0.98)
    guard = p0 * 1.05
    d = design(p0, p1, arl0, guard=guard)
    pc = max(guard, p0)
    assert d.arl0 == run_length(pc, d.up, d.down, d.threshold) >= arl0
    assert d.threshold == 1 or run_length(pc, d.up, d.down, d.threshold - 1) < arl0
    assert d.arl1 == run_length(p1, d.up, d.down, d.threshold)
