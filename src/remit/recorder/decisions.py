"""`DecisionRecorder`: gate + ledger, atomically, failing closed.

The gate runs inside the ledger's append lock with the state as of that moment, so a
rate window is counted and the action it admits is recorded in one step, whichever
process appends. Several requests can be decided in one transaction (group commit):
each sees the ones decided before it in the same batch. Any storage failure turns every
answer of the batch into deny `LEDGER_UNAVAILABLE`.
"""

from __future__ import annotations

import dataclasses
import logging
from bisect import bisect_left, insort
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

from remit.decide import Demotion, Gate, GateState, OrgEvent
from remit.domain.clock import Clock, utcnow
from remit.domain.decisions import Decision, Reason
from remit.domain.ids import new_id
from remit.domain.reasons import ReasonCode
from remit.domain.requests import ActionRequest
from remit.domain.tiers import Tier
from remit.grants.terms import grant_terms
from remit.ledger.gate_reads import LockedReads
from remit.ledger.kinds import DecisionRecord
from remit.ledger.log import Ledger
from remit.ledger.records import NewEntry
from remit.ledger.store import LedgerUnavailable


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


log = logging.getLogger("remit.recorder")


class _BatchState:
    """The recorded state plus the decisions made earlier in the same batch, which are
    not recorded yet (the store's state keeps its own reads from batch to batch)."""

    def __init__(self, inner: GateState) -> None:
        self.inner = inner
        self.ran: dict[tuple[str, str], list[datetime]] = {}

    def events_after(self, after: datetime | None, kinds: frozenset[str]) -> Sequence[OrgEvent]:
        return self.inner.events_after(after, kinds)

    def actions_in_window(self, agent: str, rule_id: str, since: datetime) -> int:
        ran = self.ran.get((agent, rule_id), [])
        return (
            self.inner.actions_in_window(agent, rule_id, since) + len(ran) - bisect_left(ran, since)
        )

    def demotions(self, agent: str) -> Sequence[Demotion]:
        return self.inner.demotions(agent)

    def note(self, d: Decision) -> None:
        if d.tier.allows_execution:
            for r in d.rules:
                insort(self.ran.setdefault((d.agent, r), []), d.decided_at)


class DecisionRecorder:
    """Decides requests with `gate` and records each decision on `ledger` first."""

    def __init__(self, gate: Gate, ledger: Ledger, clock: Clock = utcnow) -> None:
        self.gate = gate
        self.ledger = ledger
        self.clock = clock

    def decide(self, request: ActionRequest, actor: str, now: datetime | None = None) -> Decision:
        """The recorded decision, or deny LEDGER_UNAVAILABLE if it could not be recorded."""
        at = now or self.clock()
        return decide_many(self.ledger, [Ask(self.gate, request, actor, at, new_id("dec", at))])[0]


def decide_many(ledger: Ledger, asks: Sequence[Ask]) -> list[Decision]:
    """Decide and record `asks` in one transaction, in order. A request whose decision
    cannot be written is denied alone; if the transaction fails, all are denied."""
    try:
        made, results = _decide_and_append(ledger, asks)
    except _NotRecorded as no:
        return [unrecorded(a, no.why, no.made) for a in asks]
    return [
        unrecorded(a, r, made) if isinstance(r, str) else dataclasses.replace(d, extra=_where(*r))
        for a, d, r in zip(asks, made, results, strict=True)
    ]


def record_many(
    ledger: Ledger, asks: Sequence[Ask]
) -> list[tuple[dict[str, Any], DecisionRecord | None]]:
    """`decide_many` for callers that want each decision's JSON: as recorded on the ledger
    with `ledger_index` (and `approval`), with its record; or the unrecorded deny's, with
    None. Made from the entry's own JSON, so a decision is turned into JSON once."""
    try:
        made, results = _decide_and_append(ledger, asks)
    except _NotRecorded as no:
        return [(unrecorded(a, no.why, no.made).to_dict(), None) for a in asks]
    out: list[tuple[dict[str, Any], DecisionRecord | None]] = []
    for a, r in zip(asks, results, strict=True):
        if isinstance(r, str):
            out.append((unrecorded(a, r, made).to_dict(), None))
            continue
        record = r[0].record
        assert isinstance(record, DecisionRecord)
        out.append(({**record.decision, **_where(*r)}, record))
    return out


class _NotRecorded(Exception):
    def __init__(self, why: str, made: Sequence[Decision]) -> None:
        self.why, self.made = why, made


Result = tuple[NewEntry, int] | str
"""An ask's entry and ledger index once recorded, or why it alone could not be."""


def _decide_and_append(ledger: Ledger, asks: Sequence[Ask]) -> tuple[list[Decision], list[Result]]:
    """The decisions made (for the asks that got one) and each ask's result, or
    `_NotRecorded` when the transaction itself failed."""
    made: list[Decision] = []
    entries: list[NewEntry | str] = []

    def build(state: LockedReads, _size: int) -> Sequence[NewEntry]:
        made.clear()
        entries.clear()
        overlay = _BatchState(state)
        for a in asks:
            d = a.gate.decide(a.request, a.at, overlay, decision_id=a.decision_id)
            made.append(d)
            envelope = a.gate.envelope
            expires = a.at + envelope.defaults.approval_timeout
            try:  # a request whose decision cannot be written fails alone
                terms = grant_terms(envelope, d.agent, d.tier, d.rules)
                entry = Ledger.decision_entry(a.request_json, d, a.actor, expires, terms)
            except (TypeError, ValueError, OverflowError) as exc:
                log.error("decision %s cannot be written: %s", a.decision_id, exc)
                entries.append(f"{type(exc).__name__}: {exc}")
                continue
            overlay.note(d)  # only what is recorded counts in the rate windows
            entries.append(entry)
        return [e for e in entries if not isinstance(e, str)]

    try:
        _, indexes = ledger.store.append_computed(build)
    except LedgerUnavailable as exc:
        raise _NotRecorded(str(exc), made) from exc
    except Exception as exc:  # never answer allow for an unrecorded decision
        raise _NotRecorded(f"{type(exc).__name__}: {exc}", made) from exc
    at = iter(indexes)
    return made, [e if isinstance(e, str) else (e, next(at)) for e in entries]


def _where(entry: NewEntry, index: int) -> dict[str, Any]:
    """What recording added to a decision: its ledger index, and the approval it awaits."""
    extra: dict[str, Any] = {"ledger_index": index}
    record = entry.record
    if isinstance(record, DecisionRecord) and record.approval is not None:
        extra["approval"] = record.approval.to_data()
    return extra


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
