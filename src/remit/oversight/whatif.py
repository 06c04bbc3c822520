"""What-if replay (B3): decide every recorded request of a window again under a proposed
envelope, with the recorded state as it was at each decision, and report the flips.

Each recorded decision is decided again by the same `Gate` the live path uses, at its
recorded time, with its recorded id, against a `ReplayState` holding exactly what was
recorded before its ledger index: organisational events, the rate-window actions of
decisions that ran and approvals that were granted, and the sign-offs on record. The
proposed envelope is taken as signed off exactly when the envelope that decided was (its
last valid sign-off on record), so staleness reads the same history; rate windows count
the actions recorded under each rule id (a rule the proposal renames starts empty).

A replay can be one partition of a longer one: decisions below `count_from` only feed
the state (the lookback of its rate windows), and `merged` adds partition reports up to
exactly the report of one replay over all of them.

Nothing is written: the result is a report. Pure: records in, report out.
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from remit.decide import Gate
from remit.domain.clock import ts_text
from remit.domain.reasons import ReasonCode
from remit.domain.requests import ActionRequest
from remit.domain.tiers import Tier
from remit.domain.trust import EnvelopeTrust
from remit.ledger.kinds import DecisionRecord, Record
from remit.ledger.records import Recorded
from remit.oversight.replay_state import ReplayState

REPLAY_KINDS = frozenset({"decision", "approval", "event", "signoff", "demotion", "drift_review"})
"""The entry kinds a replay reads: what is decided again, and the state it reads."""


@dataclass(frozen=True, slots=True)
class Flip:
    """One recorded decision whose tier the proposed envelope changes."""

    index: int
    decision_id: str
    decided_at: datetime
    agent: str
    action: str
    old_tier: Tier
    new_tier: Tier
    old_rules: tuple[str, ...]
    new_rules: tuple[str, ...]
    new_reasons: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "ledger_index": self.index,
            "decision_id": self.decision_id,
            "decided_at": ts_text(self.decided_at),
            "agent": self.agent,
            "action": self.action,
            "old_tier": self.old_tier.value,
            "new_tier": self.new_tier.value,
            "old_rules": list(self.old_rules),
            "new_rules": list(self.new_rules),
            "new_reasons": list(self.new_reasons),
        }


@dataclass(frozen=True, slots=True)
class Unreplayable:
    """A recorded decision whose request this release cannot read again."""

    index: int
    decision_id: str
    problem: str


@dataclass
class WhatIfReport:
    """The flips of one replay and their counts."""

    envelope: str
    since: datetime | None
    until: datetime | None
    replayed: int = 0
    flips: list[Flip] = field(default_factory=list)
    unreplayable: list[Unreplayable] = field(default_factory=list)
    by_tiers: Counter[tuple[str, str]] = field(default_factory=Counter)
    by_agent: Counter[str] = field(default_factory=Counter)
    by_rule: Counter[str] = field(default_factory=Counter)
    by_action: Counter[str] = field(default_factory=Counter)
    earliest: datetime | None = None
    """The earliest decision time replayed: how far back its rate windows had to reach."""

    @property
    def stricter(self) -> int:
        return sum(1 for f in self.flips if f.new_tier.rank > f.old_tier.rank)

    @property
    def looser(self) -> int:
        return len(self.flips) - self.stricter

    def note(self, flip: Flip) -> None:
        self.flips.append(flip)
        self.by_tiers[(flip.old_tier.value, flip.new_tier.value)] += 1
        self.by_agent[flip.agent] += 1
        self.by_action[flip.action] += 1
        for rule in sorted(set(flip.old_rules) | set(flip.new_rules)) or ["(no rule)"]:
            self.by_rule[rule] += 1

    def to_dict(self, limit: int | None = None) -> dict[str, Any]:
        shown = self.flips if limit is None else self.flips[:limit]
        return {
            "envelope": self.envelope,
            "since": ts_text(self.since) if self.since else None,
            "until": ts_text(self.until) if self.until else None,
            "replayed": self.replayed,
            "flipped": len(self.flips),
            "stricter": self.stricter,
            "looser": self.looser,
            "by_tiers": [
                {"old_tier": o, "new_tier": n, "count": c}
                for (o, n), c in sorted(self.by_tiers.items())
            ],
            "by_agent": dict(sorted(self.by_agent.items())),
            "by_rule": dict(sorted(self.by_rule.items())),
            "by_action": dict(sorted(self.by_action.items())),
            "flips": [f.to_dict() for f in shown],
            "flips_shown": len(shown),
            "unreplayable": [
                {"ledger_index": u.index, "decision_id": u.decision_id, "problem": u.problem}
                for u in self.unreplayable
            ],
        }


def replay(
    gate: Gate,
    history: Iterable[Recorded[Record]],
    since: datetime | None = None,
    until: datetime | None = None,
    progress: Callable[[int], None] | None = None,
    count_from: int = 0,
) -> WhatIfReport:
    """Decide the recorded decisions of [since, until) again with `gate` (built over the
    proposed envelope) and report which tiers change. `history` is the ledger's decision,
    approval, event and sign-off records in index order, from early enough to hold the
    rate windows (earlier decisions, and any below ledger index `count_from`, only feed
    the state). `progress` is told how many records were read, every 10,000."""
    report = WhatIfReport(_name(gate), since, until)
    state = ReplayState()
    gates: GateCache = {}
    for n, rec in enumerate(history, 1):
        if progress is not None and n % 10_000 == 0:
            progress(n)
        record = rec.record
        if isinstance(record, DecisionRecord) and rec.index >= count_from:
            at = record.decided_at
            if (since is None or at >= since) and (until is None or at < until):
                used = _gate_at(gate, gates, state, record, at)
                _redecide(report, used, rec.index, record, at, state)
        state.apply(rec)
    return report


def merged(
    gate: Gate, since: datetime | None, until: datetime | None, parts: Sequence[WhatIfReport]
) -> WhatIfReport:
    """One report from the reports of consecutive partitions (in ledger order): the same
    as one replay over all of them, flips and unreplayable requests in ledger order."""
    out = WhatIfReport(_name(gate), since, until)
    for part in parts:
        out.replayed += part.replayed
        out.flips += part.flips
        out.unreplayable += part.unreplayable
        out.by_tiers.update(part.by_tiers)
        out.by_agent.update(part.by_agent)
        out.by_rule.update(part.by_rule)
        out.by_action.update(part.by_action)
        if part.earliest is not None and (out.earliest is None or part.earliest < out.earliest):
            out.earliest = part.earliest
    return out


def _name(gate: Gate) -> str:
    return f"{gate.ref.name} v{gate.ref.version} ({gate.ref.digest})"


def _redecide(
    report: WhatIfReport,
    gate: Gate,
    index: int,
    record: DecisionRecord,
    at: datetime,
    state: ReplayState,
) -> None:
    try:
        request = ActionRequest.model_validate(record.request)
    except ValidationError as exc:
        report.unreplayable.append(Unreplayable(index, record.id, _first_error(exc)))
        return
    report.replayed += 1
    if report.earliest is None or at < report.earliest:
        report.earliest = at
    new = gate.decide(request, at, state, decision_id=record.id)
    if new.tier is record.tier:
        return
    report.note(
        Flip(
            index,
            record.id,
            at,
            record.agent,
            record.action,
            record.tier,
            new.tier,
            record.rules,
            new.rules,
            tuple(r.message for r in new.reasons),
        )
    )


GateCache = dict[tuple[datetime | None, bool], Gate]


def _gate_at(
    base: Gate, gates: GateCache, state: ReplayState, d: DecisionRecord, at: datetime
) -> Gate:
    """`base` with the trust the recorded decision (decided at `at`) had: signed off when
    the deciding envelope last was (insecure if it was decided with unchecked signatures)."""
    env = d.decision.get("envelope") or {}
    insecure = any(
        r.get("code") == ReasonCode.ENVELOPE_UNSIGNED_INSECURE.value
        for r in d.decision.get("reasons") or ()
        if isinstance(r, dict)
    )
    last = None
    if not insecure:
        last = state.last_review(str(env.get("name")), str(env.get("digest")), at)
    key = (last, insecure)
    found = gates.get(key)
    if found is None:
        found = copy.copy(base)  # shares the compiled rule index; only the trust differs
        found.trust = (
            EnvelopeTrust.insecure_unsigned()
            if insecure
            else EnvelopeTrust(True, last, "what-if: signed off as the deciding envelope was")
        )
        gates[key] = found
    return found


def _first_error(exc: ValidationError) -> str:
    err = exc.errors(include_url=False)[0]
    loc = ".".join(str(p) for p in err["loc"]) or "(request)"
    return f"{loc}: {err['msg']}"
