"""The drift test per signal (issue 15 §1): what a decision shows each signal, the
declared false-alarm budget split so the agent-level rate holds, each signal's test
firing on its own shift and naming itself, and a finding that records its signal."""

from __future__ import annotations

import math
import random
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from remit.domain.tiers import Tier
from remit.ledger.kinds import ApprovalResolution, DecisionRecord, DemotionRecord
from remit.ledger.kinds import DriftFindingRecord as Finding
from remit.ledger.kinds.decision import ApprovalTerms
from remit.ledger.log import Ledger
from remit.ledger.sqlite_store import SqliteStore
from remit.oversight.cusum import split_budget, steps
from remit.oversight.drift import DriftMonitor, DriftPlan, Signature
from remit.oversight.drift_runs import record_findings
from remit.oversight.signals import PRIMARY, SIGNALS, Baseline, Features, features, usual_count

SIG: Signature = ("m@1", "p", "sha256:e", "-", "-")
NOW = datetime(2026, 12, 6, 2, 0, tzinfo=UTC)


def test_features_of_a_decision_record() -> None:
    request: dict[str, Any] = {
        "agent": "bot",
        "action": "s3:PutObject",
        "resources": [{"arn": "a"}, {"arn": "b"}, {"arn": "c"}],
        "fallback": {"rule": "F1"},
        "reasoning": {"confidence": 0.5},
    }
    decision = {
        "id": "d",
        "tier": "deny",
        "agent": "bot",
        "action": "s3:PutObject",
        "rules": ["R"],
        "access_level": "Read",
        "envelope": {"name": "e", "version": 1, "digest": "sha256:x"},
        "decided_at": "2026-11-21T12:00:00.000000Z",
    }
    f = features(DecisionRecord(decision, request))
    assert f == Features(True, True, False, True, True, "s3:PutObject", 3)
    held = {**decision, "tier": "approve"}
    terms = ApprovalTerms("sha256:r", NOW)
    calm = features(DecisionRecord(held, {**request, "fallback": None, "resources": []}, terms))
    assert (calm.held, calm.deny, calm.fallback, calm.resources) == (True, False, False, 0)
    assert calm.high_risk  # held is high-risk on its own


def test_the_budget_split_sums_to_the_declared_rate() -> None:
    plan = DriftPlan()
    rates = [1 / plan.signal_arl0(name) for name in SIGNALS]
    assert math.isclose(sum(rates), 1 / plan.arl0)
    assert math.isclose(rates[0], plan.primary_share / plan.arl0)
    assert split_budget(1000, 0.5, 2) == (2000, 4000)
    with pytest.raises(ValueError):
        split_budget(1000, 0.9, 0)  # the 10% left needs a signal to spend it
    with pytest.raises(ValueError):
        DriftPlan(primary_share=1.0)


def test_capped_steps_for_a_rare_signal() -> None:
    up, down = steps(0.01, 0.11)  # ratio ≈ 22.5: within the cap
    assert (up, down) in ((22, 1), (23, 1), (45, 2))
    assert steps(0.001, 0.101)[0] <= 24  # ratio ≈ 45: capped, threshold stays small


Mix = dict[str, float]
CALM: Mix = {"access": 0.36, "deny": 0.01, "held": 0.01, "fallback": 0.01, "low": 0.01}
"""40% high-risk: most of it access, so a part can rise while the composite stays put."""


def draw(rng: random.Random, mix: Mix) -> Features:
    u = rng.random()
    kind = "none"
    for name in ("access", "deny", "held", "fallback", "low"):
        p = mix.get(name, 0.0)
        if u < p:
            kind = name
            break
        u -= p
    new = rng.random() < mix.get("new", 0.0)
    action = f"new:{rng.randrange(10**9)}" if new else f"a{rng.randrange(5)}"
    many = rng.random() < mix.get("many", 0.0)
    return Features(kind != "none", kind == "deny", kind == "held", kind == "fallback",
                    kind == "low", action, 7 if many else 1)  # fmt: skip


def run(m: DriftMonitor, rng: random.Random, mix: Mix, n: int, start: int) -> str | None:
    """Feed `n` decisions of `mix`, each held or not followed by a resolution (rejected at
    `reject`); the signal of the alarm they raise, or None."""
    for i in range(start, start + n):
        alarm = m.observe_features(2 * i, "bot", f"d{i}", SIG, draw(rng, mix))
        if alarm is None:
            alarm = m.observe_resolution(2 * i + 1, "bot", f"d{i}", rng.random() < mix["reject"])
        if alarm is not None:
            return alarm.signal
    return None


SHIFTS: dict[str, Mix] = {
    "high_risk": {"access": 0.66},  # only the composite moves
    "deny": {"access": 0.16, "deny": 0.21},  # composite stays at 40%
    "held": {"access": 0.16, "held": 0.21},
    "fallback": {"access": 0.16, "fallback": 0.21},
    "low_confidence": {"access": 0.16, "low": 0.21},
    "new_action": {"new": 0.3},
    "multi_resource": {"many": 0.3},
    "approval_reject": {"reject": 0.6},
}


@pytest.mark.parametrize("signal", SIGNALS)
def test_each_signal_fires_on_its_own_shift_and_names_itself(signal: str) -> None:
    plan = DriftPlan(baseline_size=400)
    m = DriftMonitor(plan)
    rng = random.Random(SIGNALS.index(signal))
    calm = {**CALM, "reject": 0.05}
    assert run(m, rng, calm, 400, 0) is None  # the baseline
    a = m.agents["bot"]
    assert set(a.tests) == set(SIGNALS)  # 400 resolutions: the reject test is armed too
    assert sum(1 / t.design.arl0 for t in a.tests.values()) <= 1 / plan.arl0
    assert run(m, rng, calm, 1000, 400) is None  # in control
    assert run(m, rng, {**calm, **SHIFTS[signal]}, 3000, 1400) == signal
    state = a.to_dict()
    assert state["flagged"] and state["alarm"]["signal"] == signal
    assert signal in state["elevated"]
    fired = [s for s in state["signals"] if s["fired"]]
    assert [s["signal"] for s in fired] == [signal]
    assert fired[0]["statistic"] >= fired[0]["threshold"] == state["alarm"]["threshold"]
    assert state["statistic"] == a.tests[PRIMARY].statistic  # the primary's, as before


def test_an_agent_denied_almost_always_is_watched_without_its_hopeless_tests() -> None:
    """A deny share near 1 leaves no threshold that holds the deny test's share of the
    budget: that test is not armed (and says so); the others are, nothing raises."""
    m = DriftMonitor(DriftPlan(baseline_size=400))
    rng = random.Random(3)
    mostly_denied = {"deny": 0.95, "reject": 0.05}
    assert run(m, rng, mostly_denied, 400, 0) is None
    a = m.agents["bot"]
    armed = {s["signal"]: s["armed"] for s in a.to_dict()["signals"]}
    assert armed["deny"] is False  # ~95%: no threshold holds 1 per 1.4M decisions
    assert armed[PRIMARY] and armed["new_action"] and armed["multi_resource"]
    assert run(m, rng, mostly_denied, 500, 400) is None


def test_the_reject_test_needs_enough_resolutions_in_the_baseline() -> None:
    m = DriftMonitor(DriftPlan(baseline_size=100))
    rng = random.Random(1)
    for i in range(100):
        m.observe_features(i, "bot", f"d{i}", SIG, draw(rng, CALM))
    a = m.agents["bot"]
    assert "approval_reject" not in a.tests and "new_action" in a.tests
    state = {s["signal"]: s for s in a.to_dict()["signals"]}
    assert state["approval_reject"]["armed"] is False and state["deny"]["armed"] is True


def test_an_approval_entry_feeds_the_reject_test() -> None:
    m = DriftMonitor(DriftPlan(baseline_size=25))
    rng = random.Random(2)
    for i in range(25):
        m.observe_features(2 * i, "bot", f"d{i}", SIG, draw(rng, CALM))
        r = ApprovalResolution(f"d{i}", "approved", "", "sha256:r", "bot", "iam:X", ("R",))
        assert m.observe_approval(2 * i + 1, r) is None
    assert m.agents["bot"].tests["approval_reject"].design.p0 < 0.1
    hit = None
    for i in range(25, 65):
        r = ApprovalResolution(f"d{i}", "rejected", "", "sha256:r", "bot", "iam:X", ("R",))
        hit = hit or m.observe_approval(1000 + i, r)
    assert hit is not None and hit.signal == "approval_reject" and hit.decision_id.startswith("d")


def test_new_action_and_usual_resources_come_from_the_baseline() -> None:
    b = Baseline(100)
    for i in range(100):
        action = "b" if i == 0 else "c" if i == 1 else "a"
        k = 1 if i < 90 else 2 if i < 96 else 9  # 4% above 2: 2 is the usual
        b.add(Features(False, False, False, False, False, action, k))
    assert b.done
    ref = b.reference()
    assert ref.actions == {"a", "b", "c"}
    assert ref.counts["new_action"] == (100, 2)  # b and c seen once: the missing mass
    assert ref.usual_resources == 2 and ref.counts["multi_resource"] == (100, 4)
    assert usual_count(Counter({1: 100}), 100) == (1, 0)

    assert usual_count(Counter({1: 100}), 100) == (1, 0)


def test_a_finding_records_its_signal(tmp_path: Path) -> None:
    plan = DriftPlan(baseline_size=400)
    m = DriftMonitor(plan)
    rng = random.Random(5)
    calm = {**CALM, "reject": 0.05}
    run(m, rng, calm, 400, 0)
    assert run(m, rng, {**calm, **SHIFTS["deny"]}, 3000, 400) == "deny"
    ledger = Ledger(SqliteStore(tmp_path / "l.db"))
    made = record_findings(ledger, m, Tier.APPROVE, NOW, "system:drift")
    finding = ledger.store.entry(made[0].finding_index).read().record
    demotion = ledger.store.entry(made[0].finding_index + 1).read().record
    assert isinstance(finding, Finding) and finding.signal == finding.signal_name == "deny"
    assert finding.statistic >= finding.threshold and finding.hits is not None
    assert finding.declared_arl0 == 20_000 and finding.arl0 >= plan.signal_arl0("deny")
    assert finding.elevated is not None and "deny" in finding.elevated
    assert isinstance(demotion, DemotionRecord) and demotion.reason.startswith("deny share")
