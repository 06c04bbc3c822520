"""Behaviour drift per agent (C8), pure: each agent's decision stream is watched by one
Bernoulli CUSUM (`cusum`) per signal (`signals`: the composite high-risk share first,
then the deny, held, fallback, low-confidence, new-action, multi-resource and
approval-reject shares), with a declared false-alarm rate for the agent as a whole.

The declared rate (one false alarm per `arl0` decisions) is split across the tests:
the primary high-risk test holds `primary_share` of it (90%: ARL0 = arl0 / 0.9) and the
others share the rest evenly (each ARL0 = arl0 · 7 / 0.1), so the rates sum to the
declared one and, by the union bound, an agent's first false alarm is no more frequent.
Each test's threshold is the smallest whose exact (Markov-chain) run length holds its
own share at the guarded baseline rate. Every test is tuned to a rise of `shift`.

Observation windows: a change of model (name or version), prompt hash, envelope digest,
workflow or tool set (`provenance.tools_sha256`) opens a new window, declared or not;
the new window is tested against the previous window's baseline from its first decision.
The first window learns its baseline from its first `baseline_size` decisions. The
defaults (2,000-decision baseline, guard of one standard error) are what
`benchmarks/bench_drift.py` measured to hold the declared rate. After an alarm — named
by the signal that crossed — the agent stays flagged until a human review is recorded;
the review accepts the behaviour since, and a fresh baseline is learned.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from remit.ledger.kinds import ApprovalResolution, DecisionRecord
from remit.oversight.cusum import Cusum, CusumDesign, design, split_budget, steps
from remit.oversight.signals import (
    DECISION_SIGNALS,
    LABELS,
    OWN_SIGNALS,
    PRIMARY,
    SIGNALS,
    Baseline,
    Features,
    Reference,
    features,
    hits,
    own,
    rejected,
)


@dataclass(frozen=True, slots=True)
class DriftPlan:
    """What the envelope declares (or the defaults): the in-control run length (one
    false alarm per `arl0` decisions of an agent, all signals together), the rise to
    detect, the baseline length, and the primary signal's share of the budget."""

    arl0: int = 20_000
    shift: float = 0.10
    baseline_size: int = 2_000
    guard_z: float = 1.0
    """The threshold holds its rate at the baseline rate plus `guard_z` standard errors,
    so a baseline estimated a little low does not raise false alarms."""
    primary_share: float = 0.9

    def __post_init__(self) -> None:
        if self.arl0 < 100:
            raise ValueError("arl0 must be at least 100 decisions")
        if not 0.0 < self.shift < 0.5:
            raise ValueError("shift must be between 0 and 0.5")
        if self.baseline_size < 20:
            raise ValueError("baseline_size must be at least 20 decisions")
        if not 0.0 < self.primary_share < 1.0:
            raise ValueError("primary_share must be between 0 and 1")

    def signal_arl0(self, signal: str) -> float:
        """The in-control run length `signal`'s own test must hold (its budget share)."""
        primary, other = split_budget(self.arl0, self.primary_share, len(SIGNALS) - 1)
        return primary if signal == PRIMARY else other


Signature = tuple[str, str, str, str, str]
"""(model name@version, prompt hash, envelope digest, workflow, tool-set digest)."""


def signature(d: DecisionRecord) -> Signature:
    prov = d.request.get("provenance") or {}
    model = prov.get("model") or {}
    env = d.decision.get("envelope") or {}
    return (
        f"{model.get('name', '-')}@{model.get('version', '-')}",
        str(prov.get("prompt_sha256") or "-"),
        str(env.get("digest") or "-"),
        str((prov.get("workflow") or {}).get("name") or "-"),
        str(prov.get("tools_sha256") or "-"),
    )


@dataclass(frozen=True, slots=True)
class DriftInput:
    """What one recorded decision shows the drift test. Made where the record is at hand
    (the decision writer, which sends it with the decision's answer), so that the
    service's drift sweep need not read the entry back and parse it (`DriftHints`)."""

    agent: str
    decision_id: str
    signature: Signature
    features: Features

    @classmethod
    def of(cls, d: DecisionRecord) -> DriftInput:
        return cls(d.agent, d.id, signature(d), features(d))

    def __reduce__(self) -> tuple[object, ...]:
        return DriftInput, (self.agent, self.decision_id, self.signature, self.features)


def high_risk(d: DecisionRecord) -> bool:
    return features(d).high_risk


def elevated(c: Cusum) -> bool:
    """A test at half its threshold or more (a display aid, not a test of its own)."""
    return 2 * c.statistic >= c.design.threshold


@dataclass(frozen=True, slots=True)
class Alarm:
    """A signal's test crossed its threshold at one ledger entry (a decision, or for
    `approval_reject` an approval resolution of `decision_id`)."""

    agent: str
    index: int
    decision_id: str
    window_index: int
    window: Signature
    signal: str
    statistic: int
    design: CusumDesign
    observed: int
    hits: int
    high_risk: int
    elevated: tuple[str, ...]
    declared_arl0: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "agent": self.agent,
            "ledger_index": self.index,
            "decision_id": self.decision_id,
            "window": _window_dict(self.window_index, self.window),
            "signal": self.signal,
            "label": LABELS[self.signal],
            "statistic": self.statistic,
            "threshold": self.design.threshold,
            "p0": self.design.p0,
            "p1": self.design.p1,
            "arl0": round(self.design.arl0, 1),
            "declared_arl0": self.declared_arl0,
            "expected_delay": round(self.design.arl1, 1),
            "observed": self.observed,
            "hits": self.hits,
            "high_risk": self.high_risk,
            "elevated": list(self.elevated),
        }


def _window_dict(index: int, sig: Signature) -> dict[str, Any]:
    return {
        "opened_at_index": index,
        "model": sig[0],
        "prompt_sha256": sig[1],
        "envelope": sig[2],
        "workflow": sig[3],
        "tools_sha256": sig[4],
    }


@dataclass
class AgentDrift:
    """One agent's running state: its window, its baseline (learning or learned), one
    test per armed signal."""

    agent: str
    plan: DriftPlan
    window_index: int = -1
    window: Signature | None = None
    window_n: int = 0
    window_hits: Counter[str] = field(default_factory=Counter)
    learning: Baseline | None = None
    reference: Reference | None = None
    rates: dict[str, float] = field(default_factory=dict)
    tests: dict[str, Cusum] = field(default_factory=dict)
    flagged: Alarm | None = None
    windows: int = 0

    def __post_init__(self) -> None:
        if self.learning is None and self.reference is None:
            self.learning = Baseline(self.plan.baseline_size)

    @property
    def p0(self) -> float | None:
        """The primary signal's baseline rate; None while the baseline is learned."""
        return self.rates.get(PRIMARY)

    @property
    def cusum(self) -> Cusum | None:
        """The primary signal's test."""
        return self.tests.get(PRIMARY)

    def signal_states(self) -> list[dict[str, Any]]:
        fired = None if self.flagged is None else self.flagged.signal
        out = []
        for name in SIGNALS:
            c = self.tests.get(name)
            out.append(
                {
                    "signal": name,
                    "label": LABELS[name],
                    "armed": c is not None,
                    "baseline_rate": self.rates.get(name),
                    "p1": None if c is None else c.design.p1,
                    "arl0": None if c is None else round(c.design.arl0, 1),
                    "statistic": None if c is None else c.statistic,
                    "threshold": None if c is None else c.design.threshold,
                    "in_window": self.window_hits[name],
                    "elevated": c is not None and elevated(c),
                    "fired": name == fired,
                }
            )
        return out

    def to_dict(self) -> dict[str, Any]:
        c = self.cusum
        signals = self.signal_states()
        return {
            "agent": self.agent,
            "flagged": self.flagged is not None,
            "window": None if self.window is None else _window_dict(self.window_index, self.window),
            "windows_opened": self.windows,
            "observed_in_window": self.window_n,
            "high_risk_in_window": self.window_hits[PRIMARY],
            "baseline_rate": self.p0,
            "learning_baseline": self.reference is None,
            "statistic": None if c is None else c.statistic,
            "threshold": None if c is None else c.design.threshold,
            "arl0": self.plan.arl0,
            "primary_share": self.plan.primary_share,
            "elevated": [s["signal"] for s in signals if s["elevated"] or s["fired"]],
            "signals": signals,
            "alarm": None if self.flagged is None else self.flagged.to_dict(),
        }


def baseline_rate(n: int, hits: int) -> float:
    """The in-control rate a baseline of `n` observations with `hits` ones sets."""
    return (hits + 1) / (n + 2)


DesignCache = dict[tuple[float, float, float, float], CusumDesign]
"""Designs by (p0, guard, run length, shift)."""


def design_for(
    p0: float, n: int, plan: DriftPlan, cache: DesignCache, arl0: float | None = None
) -> CusumDesign:
    """The CUSUM for a baseline rate `p0` learned from `n` observations under `plan`:
    steps for p0 → p0 + shift, threshold holding the run length `arl0` (default: the
    plan's whole budget) at the guarded rate p0 + guard_z·sqrt(p0(1-p0)/n), capped
    halfway to the rate at which the steps balance (down / (up + down), where the
    statistic would stop drifting down and no threshold holds a long run length: a
    small baseline, such as a few approval resolutions, otherwise asks for a threshold
    in the thousands). Rates rounded to 0.001."""
    target = float(plan.arl0 if arl0 is None else arl0)
    p0 = min(max(round(p0, 3), 0.01), 0.98 - plan.shift)
    up, down = steps(p0, p0 + plan.shift)
    balance = down / (up + down)
    se = math.sqrt(p0 * (1 - p0) / max(n, 1))
    guard = round(min(p0 + plan.guard_z * se, p0 + plan.shift / 2, (p0 + balance) / 2), 3)
    key = (p0, guard, target, plan.shift)
    found = cache.get(key)
    if found is None:
        found = cache[key] = design(p0, p0 + plan.shift, target, guard)
    return found


class DriftMonitor:
    """Feeds decision records (and approval resolutions) in ledger order; keeps each
    agent's tests."""

    def __init__(self, plan: DriftPlan | None = None, designs: DesignCache | None = None) -> None:
        self.plan = plan or DriftPlan()
        self.agents: dict[str, AgentDrift] = {}
        self._designs: DesignCache = {} if designs is None else designs

    def reviewed(self, agent: str) -> None:
        """A human reviewed the agent's flagged change: accept it, learn a new baseline."""
        a = self.agents.get(agent)
        if a is not None:
            a.flagged, a.reference = None, None
            a.learning = Baseline(self.plan.baseline_size)
            a.rates, a.tests = {}, {}

    def _arm(self, a: AgentDrift, ref: Reference) -> None:
        a.learning, a.reference = None, ref
        for name in SIGNALS:
            if name in ref.counts:
                n, k = ref.counts[name]
                a.rates[name] = baseline_rate(n, k)
                try:
                    d = design_for(
                        a.rates[name], n, self.plan, self._designs, self.plan.signal_arl0(name)
                    )
                except ValueError:  # a rate so high that no threshold holds its share of
                    continue  # the budget: this signal is not armed (shown `armed: false`)
                a.tests[name] = Cusum(d)

    def _restart(self, a: AgentDrift) -> None:
        """A new window: every test starts from zero against the same baseline."""
        a.tests = {name: Cusum(c.design) for name, c in a.tests.items()}

    def observe(self, index: int, d: DecisionRecord | DriftInput) -> Alarm | None:
        """Take one recorded decision (its record, or what it shows: `DriftInput`); the
        alarm if this one raises it."""
        i = d if isinstance(d, DriftInput) else DriftInput.of(d)
        return self.observe_features(index, i.agent, i.decision_id, i.signature, i.features)

    def observe_features(
        self, index: int, agent: str, decision_id: str, sig: Signature, f: Features
    ) -> Alarm | None:
        """`observe` past the record's parsing (what the benchmark drives directly)."""
        a = self.agents.get(agent)
        if a is None:
            a = self.agents[agent] = AgentDrift(agent, self.plan)
        if sig != a.window:
            a.windows += 1
            a.window, a.window_index, a.window_n = sig, index, 0
            a.window_hits = Counter()
            if a.flagged is None:
                self._restart(a)  # against the previous baseline
        a.window_n += 1
        if a.reference is None:
            base = a.learning
            assert base is not None
            base.add(f)
            a.window_hits.update(n for n, h in zip(OWN_SIGNALS, own(f), strict=True) if h)
            if base.done:
                self._arm(a, base.reference())
            return None
        observed = hits(f, a.reference)
        crossed: list[str] = []
        for name, hit in zip(DECISION_SIGNALS, observed, strict=True):
            if hit:
                a.window_hits[name] += 1
            c = a.tests.get(name)
            if a.flagged is None and c is not None and c.update(hit):
                crossed.append(name)
        return self._alarm(a, index, decision_id, crossed)

    def observe_approval(self, index: int, r: ApprovalResolution) -> Alarm | None:
        """Take one approval resolution of an agent's held decision."""
        return self.observe_resolution(index, r.agent, r.decision_id, rejected(r))

    def observe_resolution(
        self, index: int, agent: str, decision_id: str, was_rejected: bool
    ) -> Alarm | None:
        a = self.agents.get(agent)
        if a is None:
            return None
        a.window_hits["approval_reject"] += was_rejected
        if a.reference is None:
            assert a.learning is not None
            a.learning.add_approval(was_rejected)
            return None
        c = a.tests.get("approval_reject")
        if a.flagged is None and c is not None and c.update(was_rejected):
            return self._alarm(a, index, decision_id, ["approval_reject"])
        return None

    def _alarm(
        self, a: AgentDrift, index: int, decision_id: str, crossed: list[str]
    ) -> Alarm | None:
        if not crossed or a.window is None:
            return None
        name = crossed[0]  # SIGNALS order: the primary first
        c = a.tests[name]
        up = tuple(n for n, t in a.tests.items() if n in crossed or elevated(t))
        a.flagged = Alarm(
            a.agent, index, decision_id, a.window_index, a.window, name, c.statistic,
            c.design, a.window_n, a.window_hits[name], a.window_hits[PRIMARY], up,
            self.plan.arl0,
        )  # fmt: skip
        return a.flagged
