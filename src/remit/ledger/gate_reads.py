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
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from remit.decide.state import OrgEvent
from remit.ledger.records import parse_ts, ts_text

Read = Callable[[str, Sequence[Any]], list[tuple[Any, ...]]]
"""Runs one query (already in the store's placeholder style) and returns its rows."""
Sql = Callable[[str], str]
"""Turns a query written with `?` placeholders into the store's style."""

EventKey = tuple[datetime | None, frozenset[str]]


def read_events(
    sql: Sql, read: Read, after: datetime | None, kinds: frozenset[str]
) -> list[OrgEvent]:
    """Recorded events of `kinds` strictly after `after` (all if None), oldest first."""
    if not kinds:
        return []
    marks = ",".join("?" for _ in kinds)
    query = f"SELECT idx, kind, at, note FROM events WHERE kind IN ({marks})"
    params: list[Any] = sorted(kinds)
    if after is not None:
        query += " AND at > ?"
        params.append(ts_text(after))
    rows = read(sql(query + " ORDER BY at"), params)
    return [OrgEvent(k, parse_ts(a), n, int(i)) for i, k, a, n in rows]


def count_actions(sql: Sql, read: Read, agent: str, rule_id: str, since: datetime) -> int:
    """How many actions `agent` ran under `rule_id` at or after `since`."""
    query = "SELECT COUNT(*) FROM window_actions WHERE agent = ? AND rule_id = ? AND ts >= ?"
    rows = read(sql(query), (agent, rule_id, ts_text(since)))
    return int(rows[0][0])


def read_action_times(
    sql: Sql, read: Read, agent: str, rule_id: str, since: datetime
) -> list[datetime]:
    """When `agent` ran actions under `rule_id` at or after `since`, oldest first."""
    query = "SELECT ts FROM window_actions WHERE agent = ? AND rule_id = ? AND ts >= ? ORDER BY ts"
    return [parse_ts(str(r[0])) for r in read(sql(query), (agent, rule_id, ts_text(since)))]


class StateCache:
    """The gate's reads as of ledger size `size` (-1: nothing known)."""

    def __init__(self) -> None:
        self.size = -1
        self.events: dict[EventKey, list[OrgEvent]] = {}
        self.windows: dict[tuple[str, str], tuple[datetime, list[datetime]]] = {}
        """(agent, rule) → (since, the sorted times of every action at or after since)."""

    def valid_at(self, size: int) -> None:
        """Keep what is known if the ledger is still at `size`; forget it otherwise."""
        if size != self.size:
            self.forget()
            self.size = size

    def forget(self) -> None:
        self.size = -1
        self.events.clear()
        self.windows.clear()

    def appended(self, rows: Mapping[str, Sequence[Sequence[object]]], size: int) -> None:
        """An append derived index `rows` and leaves the ledger at `size`. Called under the
        append lock, before the commit; if the commit fails, the store forgets it all."""
        if rows.get("events"):
            self.events.clear()
        for agent, rule_id, ts, _ in rows.get("window_actions", ()):
            known = self.windows.get((str(agent), str(rule_id)))
            at = parse_ts(str(ts))
            if known is not None and at >= known[0]:
                insort(known[1], at)
        self.size = size


class TxState:
    """The `GateState` inside an append transaction: reads through `cache` when it holds
    the answer, else with `read` (on the transaction's cursor), and keeps what it read."""

    def __init__(self, sql: Sql, read: Read, cache: StateCache) -> None:
        self._sql = sql
        self._read = read
        self._cache = cache

    def events_after(self, after: datetime | None, kinds: frozenset[str]) -> Sequence[OrgEvent]:
        key = (after, kinds)
        found = self._cache.events.get(key)
        if found is None:
            found = self._cache.events[key] = read_events(self._sql, self._read, after, kinds)
        return found

    def actions_in_window(self, agent: str, rule_id: str, since: datetime) -> int:
        times = self.action_times(agent, rule_id, since)
        return len(times) - bisect_left(times, since)

    def action_times(self, agent: str, rule_id: str, since: datetime) -> list[datetime]:
        """The sorted times of `agent`'s actions under `rule_id` from `since` on (the list
        may start earlier: callers count from `since`)."""
        key = (agent, rule_id)
        known = self._cache.windows.get(key)
        if known is None or since < known[0]:
            times = read_action_times(self._sql, self._read, agent, rule_id, since)
            self._cache.windows[key] = (since, times)
            return times
        times = known[1]
        stale = bisect_left(times, since)
        if stale > 64:  # windows move forward: drop what no later ask can count
            del times[:stale]
            self._cache.windows[key] = (since, times)
        return times
