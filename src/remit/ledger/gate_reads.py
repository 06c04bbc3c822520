"""What the gate reads from the ledger (organisational events, rate-window action times),
and `StateCache`: those reads kept from one append to the next while nobody else appends.

Decisions are made inside the append transaction, under the append lock, so what the
gate reads there is exactly the recorded state. Reading it again for every batch costs
queries (round trips to PostgreSQL). The cache is tied to the ledger size it describes:
the next append uses it only if the size it reads under the lock is that size — no other
process or replica appended meanwhile — and otherwise starts afresh. After each append
it adds the window rows that append derived, so it is the state a fresh read would give.
The store updates it under its append lock, so threads of one process see it whole.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Mapping, Sequence
from datetime import datetime

from remit.decide.state import Demotion, OrgEvent
from remit.domain.clock import parse_ts
from remit.ledger.reads import LedgerReads, Read, Sql

EventKey = tuple[datetime | None, frozenset[str]]


class StateCache:
    """The gate's reads as of ledger size `size` (-1: nothing known)."""

    def __init__(self) -> None:
        self.size = -1
        self.events: dict[EventKey, list[OrgEvent]] = {}
        self.windows: dict[tuple[str, str], tuple[datetime, list[datetime]]] = {}
        """(agent, rule) → (since, the sorted times of every action at or after since)."""
        self.demotions: dict[str, list[Demotion]] = {}

    def valid_at(self, size: int) -> None:
        """Keep what is known if the ledger is still at `size`; forget it otherwise."""
        if size != self.size:
            self.forget()
            self.size = size

    def forget(self) -> None:
        self.size = -1
        self.events.clear()
        self.windows.clear()
        self.demotions.clear()

    def appended(self, rows: Mapping[str, Sequence[Sequence[object]]], size: int) -> None:
        """An append derived index `rows` and leaves the ledger at `size`. Called under the
        append lock, before the commit; if the commit fails, the store forgets it all."""
        if rows.get("events"):
            self.events.clear()
        if rows.get("demotions") or rows.get("drift_reviews"):
            self.demotions.clear()
        for agent, rule_id, ts, _ in rows.get("window_actions", ()):
            known = self.windows.get((str(agent), str(rule_id)))
            at = parse_ts(str(ts))
            if known is not None and at >= known[0]:
                insort(known[1], at)
        self.size = size


class LockedReads(LedgerReads):
    """The ledger's typed reads inside an append transaction, under the append lock: they
    read through the transaction (`read` runs on its cursor). As the gate's `GateState`,
    they answer from `cache` when it holds the answer, and keep what they read."""

    def __init__(self, sql: Sql, read: Read, cache: StateCache) -> None:
        super().__init__(sql, read)
        self._cache = cache

    def events_after(self, after: datetime | None, kinds: frozenset[str]) -> Sequence[OrgEvent]:
        key = (after, kinds)
        found = self._cache.events.get(key)
        if found is None:
            found = self._cache.events[key] = list(super().events_after(after, kinds))
        return found

    def demotions(self, agent: str) -> list[Demotion]:
        found = self._cache.demotions.get(agent)
        if found is None:
            found = self._cache.demotions[agent] = list(super().demotions(agent))
        return found

    def actions_in_window(self, agent: str, rule_id: str, since: datetime) -> int:
        times = self.cached_action_times(agent, rule_id, since)
        return len(times) - bisect_left(times, since)

    def cached_action_times(self, agent: str, rule_id: str, since: datetime) -> list[datetime]:
        """The sorted times of `agent`'s actions under `rule_id` from `since` on (the list
        may start earlier: callers count from `since`)."""
        key = (agent, rule_id)
        known = self._cache.windows.get(key)
        if known is None or since < known[0]:
            times = self.action_times(agent, rule_id, since)
            self._cache.windows[key] = (since, times)
            return times
        times = known[1]
        stale = bisect_left(times, since)
        if stale > 64:  # windows move forward: drop what no later ask can count
            del times[:stale]
            self._cache.windows[key] = (since, times)
        return times
