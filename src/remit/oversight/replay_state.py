"""The recorded state at one point of the ledger's history, rebuilt entry by entry:
organisational events, drift demotions not yet reviewed, the rate-window actions
recorded (autonomous and notify decisions, approved held decisions), and the envelope
sign-offs on record. It is the `GateState` a
replayed decision sees: exactly what was recorded before that decision's index.

Pure: fed typed records in index order; reads no clock and no store.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from remit.decide.state import Demotion, OrgEvent
from remit.domain.clock import parse_ts
from remit.domain.tiers import Tier
from remit.ledger.kinds import (
    DecisionRecord,
    DemotionRecord,
    DriftReviewRecord,
    OrgEventRecord,
    Record,
    SignoffRecord,
)
from remit.ledger.records import Recorded


@dataclass(frozen=True, slots=True)
class SeenSignoff:
    """A valid envelope sign-off on record: which envelope, and when it was signed."""

    name: str
    digest: str
    at: datetime


class ReplayState:
    """A `GateState` over the records applied so far (all at lower indexes)."""

    def __init__(self) -> None:
        self.events: list[OrgEvent] = []
        self.windows: dict[tuple[str, str], list[datetime]] = {}
        self.signoffs: list[SeenSignoff] = []
        self.demoted: dict[str, list[Demotion]] = {}
        self._reviews: dict[tuple[str, str], datetime | None] = {}

    # -- feeding ---------------------------------------------------------------------------
    def apply(self, rec: Recorded[Record]) -> None:
        """Take in one recorded entry (call in index order, after deciding it)."""
        record = rec.record
        if isinstance(record, OrgEventRecord):
            insort(
                self.events,
                OrgEvent(record.event_kind, record.at, record.note, rec.index),
                key=lambda e: e.at,
            )
            return
        if isinstance(record, DemotionRecord):
            demotion = Demotion(record.finding_id, Tier(record.floor), rec.index)
            self.demoted.setdefault(record.agent, []).append(demotion)
            return
        if isinstance(record, DriftReviewRecord):
            kept = self.demoted.get(record.agent, [])
            self.demoted[record.agent] = [d for d in kept if d.finding_id != record.finding_id]
            return
        if isinstance(record, SignoffRecord):
            seen = _signoff(record)
            if seen is not None:
                self.signoffs.append(seen)
                self._reviews.clear()
            return
        if isinstance(record, DecisionRecord):  # the window rows, without the other rows
            tier = record.decision["tier"]
            if tier in ("autonomous", "notify") and record.rules:
                at = parse_ts(rec.ts)
                for rid in record.rules:
                    insort(self.windows.setdefault((record.agent, rid), []), at)
            return
        for row in record.index_rows(rec.index, rec.ts, rec.actor):
            if row.table == "window_actions":
                agent, rule_id, ts, _ = row.values
                insort(self.windows.setdefault((str(agent), str(rule_id)), []), parse_ts(str(ts)))

    # -- GateState ---------------------------------------------------------------------------
    def events_after(self, after: datetime | None, kinds: frozenset[str]) -> Sequence[OrgEvent]:
        return [e for e in self.events if e.kind in kinds and (after is None or e.at > after)]

    def actions_in_window(self, agent: str, rule_id: str, since: datetime) -> int:
        times = self.windows.get((agent, rule_id))
        return 0 if not times else len(times) - bisect_left(times, since)

    def demotions(self, agent: str) -> Sequence[Demotion]:
        return self.demoted.get(agent, [])

    # -- trust -------------------------------------------------------------------------------
    def last_review(self, name: str, digest: str, at: datetime) -> datetime | None:
        """When the envelope that decided (`digest`) was last validly signed off at or
        before `at`; if it never was, the last sign-off of any version of `name`."""
        key = (name, digest)
        if key in self._reviews:  # no sign-off recorded since: the same unless `at` is earlier
            known = self._reviews[key]
            if all(s.at <= at for s in self.signoffs):
                return known
        found = self._last_review(name, digest, at)
        if all(s.at <= at for s in self.signoffs):
            self._reviews[key] = found
        return found

    def _last_review(self, name: str, digest: str, at: datetime) -> datetime | None:
        same = [s.at for s in self.signoffs if s.digest == digest and s.at <= at]
        if same:
            return max(same)
        named = [s.at for s in self.signoffs if s.name == name and s.at <= at]
        return max(named) if named else None


def _signoff(record: SignoffRecord) -> SeenSignoff | None:
    if not record.valid:
        return None
    doc = record.signoff
    env = doc.get("envelope")
    try:
        at = parse_ts(str(doc.get("at")))
    except ValueError:
        return None
    if not isinstance(env, dict):
        return None
    return SeenSignoff(str(env.get("name")), str(env.get("digest")), at)
