"""Behaviour drift over a ledger: replay the decision stream through the `DriftMonitor`
(honouring recorded drift reviews), record new findings and the demotions the envelope
configures, and record a human's review of a finding. Every append checks, under the
append lock, that it is not a repeat; errors are `remit.errors` kinds and nothing is
written when one is raised.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from remit.domain.clock import ts_text
from remit.domain.envelope import Envelope
from remit.domain.tiers import Tier
from remit.errors import Conflict, NotFound
from remit.ledger import oversight_reads as oreads
from remit.ledger.errors import LedgerUnavailable
from remit.ledger.gate_reads import LockedReads
from remit.ledger.history import kinds_in, records, records_at
from remit.ledger.kinds import (
    ApprovalResolution,
    DecisionRecord,
    DemotionRecord,
    DriftFindingRecord,
    DriftReviewRecord,
    Record,
)
from remit.ledger.log import Ledger
from remit.ledger.records import NewEntry, Recorded, make_entry
from remit.ledger.store import LedgerStore
from remit.oversight.drift import Alarm, DriftInput, DriftMonitor, DriftPlan
from remit.oversight.signals import LABELS


def plan_of(envelope: Envelope | None) -> DriftPlan:
    if envelope is None:
        return DriftPlan()
    d = envelope.drift
    return DriftPlan(arl0=d.false_alarm_one_per, shift=d.shift, baseline_size=d.baseline)


FED = frozenset({"decision", "approval", "drift_review"})
"""The entry kinds the drift test reads."""


class DriftHints:
    """What the decisions this process recorded show the drift test (`DriftInput`, sent by
    the decision writer with each answer), by ledger index, until a sweep takes them: the
    sweep then reads only the other entries (another replica's decisions, approvals,
    reviews) back from the ledger. Thread-safe: answers arrive on the event loop, sweeps
    run on a worker thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_index: dict[int, DriftInput] = {}

    def add(self, index: int, hint: DriftInput) -> None:
        with self._lock:
            self._by_index[index] = hint

    def take(self, indexes: list[int]) -> dict[int, DriftInput]:
        """The hints for `indexes` (removed), and every hint below the last of them
        dropped: an answer read after its entry was swept leaves no stale hint."""
        with self._lock:
            got = {i: h for i in indexes if (h := self._by_index.pop(i, None)) is not None}
            if indexes and self._by_index:
                last = indexes[-1]
                for i in [i for i in self._by_index if i < last]:
                    del self._by_index[i]
            return got

    def __len__(self) -> int:
        return len(self._by_index)


def feed(
    monitor: DriftMonitor,
    store: LedgerStore,
    start: int = 0,
    end: int | None = None,
    hints: DriftHints | None = None,
) -> int:
    """Feed the decisions, approval resolutions and drift reviews recorded from `start`
    on (up to `end`, which must not pass the ledger's size), in ledger order; the index
    to start from next time. A decision with a hint is fed from it, not read back."""
    stream: Iterable[Recorded[Record] | tuple[int, DriftInput]] = (
        records(store, FED, start, end) if hints is None else _hinted(store, start, end, hints)
    )
    nxt = start
    for item in stream:
        if isinstance(item, tuple):
            index, hint = item
            monitor.observe(index, hint)
            nxt = index + 1
            continue
        r = item.record
        if isinstance(r, DecisionRecord):
            monitor.observe(item.index, r)
        elif isinstance(r, ApprovalResolution):
            monitor.observe_approval(item.index, r)
        elif isinstance(r, DriftReviewRecord):
            monitor.reviewed(r.agent)
        nxt = item.index + 1
    return nxt if end is None else max(nxt, end)


def _hinted(
    store: LedgerStore, start: int, end: int | None, hints: DriftHints
) -> Iterator[Recorded[Record] | tuple[int, DriftInput]]:
    """The fed entries in ledger order: a hinted decision as (index, hint), the rest read
    back as records."""
    listed = kinds_in(store, FED, start, end)
    known = hints.take([i for i, kind in listed if kind == "decision"])
    read = records_at(store, [i for i, _ in listed if i not in known])
    for index, _ in listed:
        hint = known.get(index)
        if hint is not None:
            yield index, hint
            continue
        rec = next(read, None)
        if rec is None or rec.index != index:
            raise LedgerUnavailable(f"ledger entry {index} was listed but could not be read")
        yield rec


def watch(store: LedgerStore, plan: DriftPlan) -> DriftMonitor:
    """The monitor after every recorded decision and drift review, in ledger order."""
    monitor = DriftMonitor(plan)
    feed(monitor, store)
    return monitor


class DriftWatch:
    """The service's standing drift test: each sweep feeds what was recorded since the
    last one and records new findings with the demotion the envelope sets. A change of
    the envelope's `drift` section starts it over from the beginning of the ledger.
    With `chunk`, a sweep takes at most that many ledger entries and sets `behind` when
    there is more: the service then sweeps again after a pause, so that a long backlog
    never holds its event loop's thread for long. Thread-safe: the service's sweep and
    its readers (`current`) share one."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.monitor: DriftMonitor | None = None
        self.next_index = 0
        self.behind = False
        self._on_ledger: set[str] = set()
        """Finding ids known to be recorded: a flagged agent whose finding is among them
        costs its sweeps no write transaction (the append lock taken to find it there)."""

    def sweep(
        self,
        ledger: Ledger,
        envelope: Envelope,
        now: datetime,
        chunk: int | None = None,
        hints: DriftHints | None = None,
    ) -> list[NewFinding]:
        with self._lock:
            return self._sweep(ledger, envelope, now, chunk, hints)

    def current(
        self, store: LedgerStore, plan: DriftPlan, hints: DriftHints | None = None
    ) -> dict[str, dict[str, Any]]:
        """Each agent's drift test as of the ledger's end, by agent (what `GET /v1/drift`
        shows): this watch brought up to date, reading only what was recorded since it
        last looked (all of it after a change of plan). Records nothing."""
        with self._lock:
            monitor = self._for(plan)
            self.next_index = feed(monitor, store, self.next_index, None, hints)
            self.behind = False
            return {a.agent: a.to_dict() for a in monitor.agents.values()}

    def _for(self, plan: DriftPlan) -> DriftMonitor:
        if self.monitor is None or self.monitor.plan != plan:
            self.monitor, self.next_index = DriftMonitor(plan), 0
            self._on_ledger.clear()
        return self.monitor

    def _sweep(
        self,
        ledger: Ledger,
        envelope: Envelope,
        now: datetime,
        chunk: int | None,
        hints: DriftHints | None,
    ) -> list[NewFinding]:
        monitor = self._for(plan_of(envelope))
        end = None
        if chunk is not None:
            size = ledger.store.size()
            end = min(self.next_index + chunk, size)
            self.behind = end < size
        self.next_index = feed(monitor, ledger.store, self.next_index, end, hints)
        flagged = [a.flagged for a in monitor.agents.values() if a.flagged is not None]
        if all(finding_id(alarm) in self._on_ledger for alarm in flagged):
            return []
        made = record_findings(ledger, monitor, envelope.drift.demote_to, now, "system:drift")
        self._on_ledger.update(m.finding_id for m in made)
        return [m for m in made if m.new]


def finding_id(alarm: Alarm) -> str:
    return f"drift-{alarm.agent}-{alarm.index}"


def _finding(alarm: Alarm) -> DriftFindingRecord:
    w = alarm.to_dict()["window"]
    return DriftFindingRecord(
        finding_id(alarm), alarm.agent, alarm.decision_id, alarm.index, alarm.window_index,
        w, alarm.statistic, alarm.design.threshold, alarm.design.p0, alarm.design.p1,
        round(alarm.design.arl0, 1), alarm.observed, alarm.high_risk,
        signal=alarm.signal, hits=alarm.hits, elevated=alarm.elevated,
        declared_arl0=alarm.declared_arl0,
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class NewFinding:
    """A flagged agent's finding: its id and ledger index, its demotion's index, and
    whether this call recorded it (False: it was on the ledger already)."""

    finding_id: str
    finding_index: int
    demotion_index: int | None
    new: bool = True


def record_findings(
    ledger: Ledger, monitor: DriftMonitor, demote_to: Tier | None, now: datetime, actor: str
) -> list[NewFinding]:
    """Record each flagged agent's finding not yet on the ledger, and its demotion; the
    findings of every flagged agent (those already recorded with `new` False)."""
    alarms = [a.flagged for a in monitor.agents.values() if a.flagged is not None]
    made: list[NewFinding] = []

    def build(locked: LockedReads, size: int) -> list[NewEntry]:
        made.clear()
        out: list[NewEntry] = []
        for alarm in alarms:
            fid = finding_id(alarm)
            known = oreads.finding_indexes(locked, fid)
            if known is not None:
                made.append(NewFinding(fid, known[0], known[1], new=False))
                continue
            at = size + len(out)
            out.append(make_entry(_finding(alarm), now, actor))
            if demote_to is None:
                made.append(NewFinding(fid, at, None))
                continue
            reason = (
                f"{LABELS[alarm.signal]} rose above {alarm.design.p0:.1%} (CUSUM "
                f"{alarm.statistic} >= {alarm.design.threshold}) in the window opened at "
                f"ledger index {alarm.window_index}"
            )
            demotion = DemotionRecord(fid, alarm.agent, demote_to.value, reason)
            out.append(make_entry(demotion, now, actor))
            made.append(NewFinding(fid, at, at + 1))
        return out

    ledger.store.append_computed(build)
    return list(made)


def record_review(
    ledger: Ledger, fid: str, reviewer: str, comment: str, now: datetime
) -> Recorded[DriftReviewRecord]:
    """A human's review of drift finding `fid`: ends its demotion."""
    got: list[DriftReviewRecord] = []

    def build(locked: LockedReads, _size: int) -> list[NewEntry]:
        agent = oreads.finding_agent(locked, fid)
        if agent is None:
            raise NotFound(f"no drift finding {fid!r} on the ledger")
        done = oreads.finding_review(locked, fid)
        if done is not None:
            raise Conflict(
                f"drift finding {fid} was already reviewed by {done[1]} (ledger index {done[0]})"
            )
        record = DriftReviewRecord(fid, agent, comment)
        got.append(record)
        return [make_entry(record, now, reviewer)]

    _, indexes = ledger.store.append_computed(build)
    return Recorded(indexes[0], ts_text(now), reviewer, got[-1])
