"""The signals the drift test watches in an agent's decision stream, pure (C8): what one
decision (or one approval resolution) shows, what a baseline window learns, and which
signals a decision hits against that baseline.

Each signal is a 0/1 observation per decision — except `approval_reject`, one per
approval resolution of the agent's held decisions — with an in-control rate the baseline
estimates as (hits + 1) / (n + 2):

* `high_risk` (the primary, composite signal): permissions-management or write access,
  held or denied, a fallback, or confidence under `LOW_CONFIDENCE`;
* `deny`, `held` (tier approve), `fallback` (the request asked for a fallback),
  `low_confidence`: each part on its own;
* `new_action`: the action (and so its service) was not seen in the baseline. Its
  in-control rate is the baseline's missing mass, estimated as Good and Turing did: the
  share of the baseline's decisions whose action it saw exactly once;
* `multi_resource`: more resources than the baseline's usual — above the smallest count
  that at most `USUAL_SHARE` of the baseline's decisions exceed;
* `approval_reject`: a held decision of the agent rejected by its approver (expired ones
  count as not rejected); armed only when the baseline saw `MIN_APPROVALS` resolutions.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from remit.ledger.kinds import ApprovalResolution, DecisionRecord

HIGH_RISK_ACCESS = frozenset({"Permissions management", "Write"})
LOW_CONFIDENCE = 0.8
USUAL_SHARE = 0.05
"""The share of baseline decisions allowed above the "usual" resource count."""
MIN_APPROVALS = 20
"""Fewer approval resolutions in the baseline leave the reject signal unarmed."""

PRIMARY = "high_risk"
DECISION_SIGNALS = (
    "high_risk", "deny", "held", "fallback", "low_confidence", "new_action", "multi_resource",
)  # fmt: skip
OWN_SIGNALS = DECISION_SIGNALS[:5]
"""The signals a decision shows without a baseline (`own`)."""
SIGNALS = (*DECISION_SIGNALS, "approval_reject")
"""Every signal, the primary first: the order an alarm is named in when two cross at once."""
LABELS = {
    "high_risk": "high-risk share",
    "deny": "deny share",
    "held": "held-for-approval share",
    "fallback": "fallback share",
    "low_confidence": "low-confidence share",
    "new_action": "share of actions not seen in the baseline",
    "multi_resource": "share of decisions over the usual resource count",
    "approval_reject": "approval-reject share",
}


@dataclass(frozen=True, slots=True)
class Features:
    """What one decision shows the drift test."""

    high_risk: bool
    deny: bool
    held: bool
    fallback: bool
    low_confidence: bool
    action: str
    resources: int

    def __reduce__(self) -> tuple[object, ...]:  # crosses the writer's pipe with each answer
        return Features, (
            self.high_risk, self.deny, self.held, self.fallback, self.low_confidence,
            self.action, self.resources,
        )  # fmt: skip


def features(d: DecisionRecord) -> Features:
    tier = d.decision.get("tier")
    fallback = d.request.get("fallback") is not None
    conf = (d.request.get("reasoning") or {}).get("confidence")
    low = isinstance(conf, int | float) and not isinstance(conf, bool) and conf < LOW_CONFIDENCE
    resources = d.request.get("resources")
    return Features(
        high_risk=d.access_level in HIGH_RISK_ACCESS or tier in ("approve", "deny")
        or fallback or low,
        deny=tier == "deny",
        held=tier == "approve",
        fallback=fallback,
        low_confidence=low,
        action=str(d.request.get("action") or d.decision.get("action") or "-"),
        resources=len(resources) if isinstance(resources, list) else 0,
    )  # fmt: skip


def rejected(a: ApprovalResolution) -> bool:
    return a.state == "rejected"


@dataclass(frozen=True, slots=True)
class Reference:
    """What a learned baseline holds: the actions it saw, the usual resource count, and
    per armed signal the (n, hits) its in-control rate is estimated from."""

    actions: frozenset[str]
    usual_resources: int
    counts: dict[str, tuple[int, int]]


def own(f: Features) -> tuple[bool, bool, bool, bool, bool]:
    """The decision's observation of each of `OWN_SIGNALS`, in that order."""
    return f.high_risk, f.deny, f.held, f.fallback, f.low_confidence


def hits(f: Features, ref: Reference) -> tuple[bool, ...]:
    """The decision's observation of each of `DECISION_SIGNALS`, in that order."""
    return (*own(f), f.action not in ref.actions, f.resources > ref.usual_resources)


@dataclass
class Baseline:
    """A baseline window being learned from its first `size` decisions."""

    size: int
    n: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    actions: Counter[str] = field(default_factory=Counter)
    resources: Counter[int] = field(default_factory=Counter)
    approvals: int = 0
    rejects: int = 0

    @property
    def done(self) -> bool:
        return self.n >= self.size

    def add(self, f: Features) -> None:
        self.n += 1
        for name, hit in zip(DECISION_SIGNALS[:5], own(f), strict=True):
            self.counts[name] += hit
        self.actions[f.action] += 1
        self.resources[f.resources] += 1

    def add_approval(self, was_rejected: bool) -> None:
        self.approvals += 1
        self.rejects += was_rejected

    def reference(self) -> Reference:
        counts = {name: (self.n, self.counts[name]) for name in DECISION_SIGNALS[:5]}
        once = sum(1 for k in self.actions.values() if k == 1)
        counts["new_action"] = (self.n, once)
        usual, above = usual_count(self.resources, self.n)
        counts["multi_resource"] = (self.n, above)
        if self.approvals >= MIN_APPROVALS:
            counts["approval_reject"] = (self.approvals, self.rejects)
        return Reference(frozenset(self.actions), usual, counts)


def usual_count(resources: Counter[int], n: int) -> tuple[int, int]:
    """(the smallest resource count that at most USUAL_SHARE of the `n` decisions exceed,
    how many exceed it)."""
    allowed = USUAL_SHARE * n
    above = n
    for count in sorted(resources):
        above -= resources[count]
        if above <= allowed:
            return count, above
    return 0, 0
