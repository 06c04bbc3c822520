"""Behaviour drift per agent (C8), pure: each agent's decision stream is watched by a
Bernoulli CUSUM (`cusum`) on the share of high-risk decisions, with a declared
false-alarm rate.

A decision is high-risk when its action's access level is permissions management or
write, when it was held or denied, when it is a fallback, or when its confidence is
under `LOW_CONFIDENCE`. Observation windows: a change of model (name or version),
prompt hash, envelope digest or workflow opens a new window, declared or not; the new
window is tested against the previous window's baseline rate from its first decision.
The first window learns its baseline from its first `baseline_size` decisions.
The defaults (2,000-decision baseline, guard of one standard error) are what
`benchmarks/bench_drift.py` measured to hold the declared rate. After
an alarm the agent stays flagged until a human review is recorded; the review accepts
the behaviour since, and a fresh baseline is learned.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from remit.ledger.kinds import DecisionRecord
from remit.oversight.cusum import Cusum, CusumDesign, design

HIGH_RISK_ACCESS = frozenset({"Permissions management", "Write"})
LOW_CONFIDENCE = 0.8


@dataclass(frozen=True, slots=True)
class DriftPlan:
    """What the envelope declares (or the defaults): the in-control run length (one
    false alarm per `arl0` decisions), the rise to detect, the baseline length."""

    arl0: int = 20_000
    shift: float = 0.10
    baseline_size: int = 2_000
    guard_z: float = 1.0
    """The threshold holds the declared rate at the baseline rate plus `guard_z` standard
    errors, so a baseline estimated a little low does not raise false alarms."""

    def __post_init__(self) -> None:
        if self.arl0 < 100:
            raise ValueError("arl0 must be at least 100 decisions")
        if not 0.0 < self.shift < 0.5:
            raise ValueError("shift must be between 0 and 0.5")
        if self.baseline_size < 20:
            raise ValueError("baseline_size must be at least 20 decisions")


Signature = tuple[str, str, str, str]
"""(model name@version, prompt hash, envelope digest, workflow)."""


def signature(d: DecisionRecord) -> Signature:
    prov = d.request.get("provenance") or {}
    model = prov.get("model") or {}
    env = d.decision.get("envelope") or {}
    return (
        f"{model.get('name', '-')}@{model.get('version', '-')}",
        str(prov.get("prompt_sha256") or "-"),
        str(env.get("digest") or "-"),
        str((prov.get("workflow") or {}).get("name") or "-"),
    )


def high_risk(d: DecisionRecord) -> bool:
    if d.access_level in HIGH_RISK_ACCESS or d.decision.get("tier") in ("approve", "deny"):
        return True
    if d.request.get("fallback") is not None:
        return True
    conf = (d.request.get("reasoning") or {}).get("confidence")
    return isinstance(conf, int | float) and conf < LOW_CONFIDENCE


@dataclass(frozen=True, slots=True)
class Alarm:
    """The test crossed its threshold at one decision."""

    agent: str
    index: int
    decision_id: str
    window_index: int
    window: Signature
    statistic: int
    design: CusumDesign
    observed: int
    hits: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "agent": self.agent,
            "ledger_index": self.index,
            "decision_id": self.decision_id,
            "window": _window_dict(self.window_index, self.window),
            "statistic": self.statistic,
            "threshold": self.design.threshold,
            "p0": self.design.p0,
            "p1": self.design.p1,
            "arl0": round(self.design.arl0, 1),
            "expected_delay": round(self.design.arl1, 1),
            "observed": self.observed,
            "high_risk": self.hits,
        }


def _window_dict(index: int, sig: Signature) -> dict[str, Any]:
    return {
        "opened_at_index": index,
        "model": sig[0],
        "prompt_sha256": sig[1],
        "envelope": sig[2],
        "workflow": sig[3],
    }


@dataclass
class AgentDrift:
    """One agent's running state."""

    agent: str
    plan: DriftPlan
    window_index: int = -1
    window: Signature | None = None
    window_n: int = 0
    window_hits: int = 0
    baseline: list[int] = field(default_factory=lambda: [0, 0])  # [n, hits]
    p0: float | None = None
    cusum: Cusum | None = None
    flagged: Alarm | None = None
    windows: int = 0

    def to_dict(self) -> dict[str, Any]:
        c = self.cusum
        return {
            "agent": self.agent,
            "flagged": self.flagged is not None,
            "window": None if self.window is None else _window_dict(self.window_index, self.window),
            "windows_opened": self.windows,
            "observed_in_window": self.window_n,
            "high_risk_in_window": self.window_hits,
            "baseline_rate": self.p0,
            "learning_baseline": self.p0 is None,
            "statistic": None if c is None else c.statistic,
            "threshold": None if c is None else c.design.threshold,
            "arl0": self.plan.arl0,
            "alarm": None if self.flagged is None else self.flagged.to_dict(),
        }


def baseline_rate(n: int, hits: int) -> float:
    """The in-control rate a baseline of `n` decisions with `hits` high-risk ones sets."""
    return (hits + 1) / (n + 2)


DesignCache = dict[tuple[float, float], CusumDesign]


def design_for(p0: float, n: int, plan: DriftPlan, cache: DesignCache) -> CusumDesign:
    """The CUSUM for a baseline rate `p0` learned from `n` decisions under `plan`: steps
    for p0 → p0 + shift, threshold holding the declared false-alarm rate at the guarded
    rate p0 + guard_z·sqrt(p0(1-p0)/n). Rates rounded to 0.001."""
    p0 = min(max(round(p0, 3), 0.01), 0.98 - plan.shift)
    guard = round(min(p0 + plan.guard_z * math.sqrt(p0 * (1 - p0) / n), p0 + plan.shift / 2), 3)
    found = cache.get((p0, guard))
    if found is None:
        found = cache[(p0, guard)] = design(p0, p0 + plan.shift, plan.arl0, guard)
    return found


class DriftMonitor:
    """Feeds decision records in ledger order; keeps each agent's test."""

    def __init__(self, plan: DriftPlan | None = None) -> None:
        self.plan = plan or DriftPlan()
        self.agents: dict[str, AgentDrift] = {}
        self._designs: DesignCache = {}

    def _design(self, p0: float) -> CusumDesign:
        return design_for(p0, self.plan.baseline_size, self.plan, self._designs)

    def reviewed(self, agent: str) -> None:
        """A human reviewed the agent's flagged change: accept it, learn a new baseline."""
        a = self.agents.get(agent)
        if a is not None:
            a.flagged = None
            a.p0 = None
            a.cusum = None
            a.baseline = [0, 0]

    def observe(self, index: int, d: DecisionRecord) -> Alarm | None:
        """Take one recorded decision; the alarm if this one raises it."""
        a = self.agents.get(d.agent)
        if a is None:
            a = self.agents[d.agent] = AgentDrift(d.agent, self.plan)
        sig = signature(d)
        if sig != a.window:
            a.windows += 1
            a.window, a.window_index, a.window_n, a.window_hits = sig, index, 0, 0
            if a.p0 is not None and a.flagged is None:
                a.cusum = Cusum(self._design(a.p0))  # against the previous baseline
        hit = high_risk(d)
        a.window_n += 1
        a.window_hits += hit
        if a.flagged is not None:
            return None
        if a.p0 is None:
            a.baseline[0] += 1
            a.baseline[1] += hit
            if a.baseline[0] >= self.plan.baseline_size:
                n, k = a.baseline
                a.p0 = baseline_rate(n, k)
                a.cusum = Cusum(self._design(a.p0))
            return None
        assert a.cusum is not None
        if a.cusum.update(hit):
            a.flagged = Alarm(
                d.agent, index, d.id, a.window_index, sig, a.cusum.statistic, a.cusum.design,
                a.window_n, a.window_hits,
            )  # fmt: skip
            return a.flagged
        return None
