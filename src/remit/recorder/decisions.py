"""`DecisionRecorder`: gate + ledger, atomically, failing closed.

The gate runs inside the ledger's append lock with the state as of that moment, so a
rate window is counted and the action it admits is recorded in one step, whichever
process appends. Several requests can be decided in one transaction (group commit):
each sees the ones decided before it in the same batch. Any storage failure turns every
answer of the batch into deny `LEDGER_UNAVAILABLE`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from remit.decide import Gate, GateState, OrgEvent
from remit.domain.decisions import Decision, Reason
from remit.domain.ids import new_id
from remit.domain.reasons import ReasonCode
from remit.domain.requests import ActionRequest
from remit.domain.tiers import Tier
from remit.ledger.log import Ledger
from remit.ledger.records import NewEntry
from remit.ledger.store import LedgerUnavailable


def utcnow() -> datetime:
    """The default clock (callers and tests pass their own)."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class Ask:
    """One request waiting to be decided: which gate, who asked, when."""

    gate: Gate
    request: ActionRequest
    actor: str
    at: datetime
    decision_id: str

    @cached_property
    def request_json(self) -> dict[str, Any]:
        """The request's canonical JSON, made once (the entry and the answer both use it)."""
        return self.request.canonical()


class _BatchState:
    """The recorded state plus the decisions made earlier in the same batch. Reads are
    made once per batch: events cannot change inside it, and a window is read once from
    its earliest start and then counted here (asks arrive in time order)."""

    def __init__(self, inner: GateState) -> None:
        self.inner = inner
        self.ran: dict[tuple[str, str], list[datetime]] = {}
        self._events: dict[tuple[datetime | None, frozenset[str]], Sequence[OrgEvent]] = {}
        self._windows: dict[tuple[str, str], tuple[datetime, list[datetime]]] = {}

    def events_after(self, after: datetime | None, kinds: frozenset[str]) -> Sequence[OrgEvent]:
        key = (after, kinds)
        if key not in self._events:
            self._events[key] = self.inner.events_after(after, kinds)
        return self._events[key]

    def actions_in_window(self, agent: str, rule_id: str, since: datetime) -> int:
        extra = sum(1 for t in self.ran.get((agent, rule_id), ()) if t >= since)
        times_of = getattr(self.inner, "action_times", None)
        if times_of is None:
            return self.inner.actions_in_window(agent, rule_id, since) + extra
        cached = self._windows.get((agent, rule_id))
        if cached is None or since < cached[0]:
            cached = (since, times_of(agent, rule_id, since))
            self._windows[(agent, rule_id)] = cached
        return sum(1 for t in cached[1] if t >= since) + extra

    def note(self, d: Decision) -> None:
        if d.tier.allows_execution:
            for r in d.rules:
                self.ran.setdefault((d.agent, r), []).append(d.decided_at)


class DecisionRecorder:
    """Decides requests with `gate` and records each decision on `ledger` first."""

    def __init__(self, gate: Gate, ledger: Ledger, clock: Callable[[], datetime] = utcnow) -> None:
        self.gate = gate
        self.ledger = ledger
        self.clock = clock

    def decide(self, request: ActionRequest, actor: str, now: datetime | None = None) -> Decision:
        """The recorded decision, or deny LEDGER_UNAVAILABLE if it could not be recorded."""
        at = now or self.clock()
        return decide_many(self.ledger, [Ask(self.gate, request, actor, at, new_id("dec", at))])[0]


def decide_many(ledger: Ledger, asks: Sequence[Ask]) -> list[Decision]:
    """Decide and record `asks` in one transaction, in order; fail closed together."""
    made: list[Decision] = []
    entries: list[NewEntry] = []

    def build(state: GateState, _size: int) -> Sequence[NewEntry]:
        made.clear()
        entries.clear()
        overlay = _BatchState(state)
        for a in asks:
            d = a.gate.decide(a.request, a.at, overlay, decision_id=a.decision_id)
            overlay.note(d)
            made.append(d)
            expires = a.at + a.gate.envelope.defaults.approval_timeout
            entries.append(Ledger.decision_entry(a.request_json, d, a.actor, expires))
        return entries

    try:
        _, indexes = ledger.store.append_computed(build)
    except LedgerUnavailable as exc:
        return [unrecorded(a, str(exc), made) for a in asks]
    except Exception as exc:  # never answer allow for an unrecorded decision
        return [unrecorded(a, f"{type(exc).__name__}: {exc}", made) for a in asks]
    out = []
    for d, entry, index in zip(made, entries, indexes, strict=True):
        extra: dict[str, object] = {"ledger_index": index}
        approval = (entry.doc or {}).get("data", {}).get("approval")
        if approval is not None:
            extra["approval"] = approval
        out.append(dataclasses.replace(d, extra=extra))
    return out


def unrecorded(a: Ask, why: str, made: Sequence[Decision] = ()) -> Decision:
    """Deny LEDGER_UNAVAILABLE for `a`: its decision (if it was made) could not be
    recorded, and an unrecorded decision is never an allow."""
    reason = Reason(
        ReasonCode.LEDGER_UNAVAILABLE,
        f"The decision could not be recorded on the ledger ({why}); an unrecorded "
        "decision is never an allow.",
    )
    mine = next((d for d in made if d.id == a.decision_id), None)
    if mine is not None:
        return dataclasses.replace(
            mine, tier=Tier.DENY, reasons=(*mine.reasons, reason), extra={"recorded": False}
        )
    return Decision(
        a.decision_id,
        Tier.DENY,
        (reason,),
        (),
        a.gate.ref,
        a.at,
        a.request.agent,
        a.request.action,
        extra={"recorded": False},
    )
