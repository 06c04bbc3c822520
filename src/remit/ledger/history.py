"""The ledger's history as typed records, in index order: what replays and periodic
reviews read (the what-if replay, review samples, drift). Streams entries of the kinds
asked for, from an index on, parsing each into its typed record; never writes.

Reads committed state only. A long read streams on a read-only scan of its own, so a
long replay neither blocks appends nor sees a half-written batch; a short one (the few
entries a periodic sweep asks for) goes through the store's own connection instead of
opening one per call — on PostgreSQL that was a new server session a second.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from remit.domain.clock import ts_text
from remit.ledger.errors import LedgerUnavailable
from remit.ledger.kinds import EntryFormatError, Record
from remit.ledger.records import Recorded, StoredEntry
from remit.ledger.store import LedgerStore


def records(
    store: LedgerStore, kinds: Iterable[str], start: int = 0, end: int | None = None
) -> Iterator[Recorded[Record]]:
    """The records of `kinds` at indexes in [start, end), oldest first. A damaged entry
    raises `LedgerUnavailable` naming its index (a replay never skips history)."""
    wanted = sorted(set(kinds))
    if not wanted:
        return
    where, params = _range(wanted, start, end)
    sql = f"SELECT idx, kind, ts, body FROM entries WHERE {where}"
    yield from _read(store, sql, params, _short(start, end))


def kinds_in(
    store: LedgerStore, kinds: Iterable[str], start: int = 0, end: int | None = None
) -> list[tuple[int, str]]:
    """(index, kind) of the entries of `kinds` at indexes in [start, end), oldest first,
    without reading their bodies (for a reader that already knows some of them)."""
    wanted = sorted(set(kinds))
    if not wanted:
        return []
    where, params = _range(wanted, start, end)
    sql = f"SELECT idx, kind FROM entries WHERE {where} ORDER BY idx"
    return [(int(i), str(k)) for i, k in _rows(store, sql, params, _short(start, end))]


def records_at(store: LedgerStore, indexes: Sequence[int]) -> Iterator[Recorded[Record]]:
    """The records at `indexes` (ascending), oldest first; damaged: `LedgerUnavailable`."""
    for at in range(0, len(indexes), _IN_CHUNK):
        part = list(indexes[at : at + _IN_CHUNK])
        marks = ",".join("?" for _ in part)
        sql = f"SELECT idx, kind, ts, body FROM entries WHERE idx IN ({marks})"
        yield from _read(store, sql, part, short=True)


_IN_CHUNK = 500
"""Indexes asked for in one `IN (…)` list."""

_SHORT = 10_000
"""A read of an index range no longer than this is short: one batch of a streamed scan."""


def _short(start: int, end: int | None) -> bool:
    return end is not None and end - start <= _SHORT


def _range(kinds: list[str], start: int, end: int | None) -> tuple[str, list[object]]:
    marks = ",".join("?" for _ in kinds)
    where = f"kind IN ({marks}) AND idx >= ?"
    params: list[object] = [*kinds, start]
    if end is not None:
        where += " AND idx < ?"
        params.append(end)
    return where, params


def _read(
    store: LedgerStore, sql: str, params: Sequence[object], short: bool
) -> Iterator[Recorded[Record]]:
    for i, k, t, b in _rows(store, sql + " ORDER BY idx", params, short):
        try:
            yield StoredEntry(int(i), k, t, bytes(b)).read()
        except EntryFormatError as exc:
            raise LedgerUnavailable(f"damaged ledger: {exc}") from exc


def _rows(
    store: LedgerStore, sql: str, params: Sequence[object], short: bool, batch: int = _SHORT
) -> Iterator[tuple[Any, ...]]:
    """The rows of a read-only query: a `short` one read at once through the store's own
    connection, any other streamed on a scan of its own; a storage error is
    `LedgerUnavailable`."""
    try:
        if short:
            yield from store._guarded_read(store._sql(sql), params)
        else:
            yield from store._iter(store._sql(sql), params, batch)
    except Exception as exc:
        if store._is_storage_error(exc):
            raise LedgerUnavailable(f"ledger read failed at {store.location}: {exc}") from exc
        raise


def decision_count(store: LedgerStore, since: datetime | None, until: datetime | None) -> int:
    """How many decisions were recorded in [since, until)."""
    sql, params = "SELECT COUNT(*) FROM decisions WHERE 1 = 1", []
    if since is not None:
        sql += " AND ts >= ?"
        params.append(ts_text(since))
    if until is not None:
        sql += " AND ts < ?"
        params.append(ts_text(until))
    return int(store.reads._rows(sql, params)[0][0])


def period_decisions(
    store: LedgerStore, since: datetime, until: datetime
) -> Iterator[tuple[str, int, str, str]]:
    """(id, index, tier, agent) of every decision recorded in [since, until), in index
    order, from the decisions index (no entry is parsed: what sampling reads)."""
    sql = "SELECT id, idx, tier, agent FROM decisions WHERE ts >= ? AND ts < ? ORDER BY idx"
    window = (ts_text(since), ts_text(until))
    for did, idx, tier, agent in _rows(store, sql, window, short=False, batch=50_000):
        yield str(did), int(idx), str(tier), str(agent)


def decision_span(store: LedgerStore, since: datetime | None) -> tuple[int, int] | None:
    """(first index, last index + 1) of the decisions recorded at or after `since`, or
    None if there are none. A decision recorded at or after a window's end may still
    have been decided inside it: what a replay of a window reads is this span."""
    sql, params = "SELECT MIN(idx), MAX(idx) FROM decisions", []
    if since is not None:
        sql += " WHERE ts >= ?"
        params.append(ts_text(since))
    rows = store.reads._rows(sql, params)
    if not rows or rows[0][0] is None:
        return None
    return int(rows[0][0]), int(rows[0][1]) + 1


def decision_cuts(store: LedgerStore, start: int, end: int, parts: int) -> list[int]:
    """Ledger indexes that cut the decisions at [start, end) into `parts` runs of about
    the same number of decisions (ascending, each above `start`; fewer if runs would be
    empty)."""
    rows = store.reads._rows(
        "SELECT COUNT(*) FROM decisions WHERE idx >= ? AND idx < ?", (start, end)
    )
    n = int(rows[0][0])
    cuts: list[int] = []
    for k in range(1, parts):
        got = store.reads._rows(
            "SELECT idx FROM decisions WHERE idx >= ? AND idx < ? ORDER BY idx LIMIT 1 OFFSET ?",
            (start, end, n * k // parts),
        )
        if got and int(got[0][0]) > (cuts[-1] if cuts else start):
            cuts.append(int(got[0][0]))
    return cuts


def earliest_decision(
    store: LedgerStore, start: int, end: int, since: datetime | None
) -> str | None:
    """The earliest recorded time (ledger text) of the decisions at indexes [start, end)
    recorded at or after `since`, or None."""
    sql = "SELECT MIN(ts) FROM decisions WHERE idx >= ? AND idx < ?"
    params: list[object] = [start, end]
    if since is not None:
        sql += " AND ts >= ?"
        params.append(ts_text(since))
    rows = store.reads._rows(sql, params)
    return None if not rows or rows[0][0] is None else str(rows[0][0])


def first_window_action(store: LedgerStore, since: datetime, before: int) -> int | None:
    """The lowest ledger index below `before` of a rate-window action (a decision that ran
    or an approval granted) recorded at or after `since`, or None."""
    rows = store.reads._rows(
        "SELECT MIN(idx) FROM window_actions WHERE ts >= ? AND idx < ?", (ts_text(since), before)
    )
    return None if not rows or rows[0][0] is None else int(rows[0][0])
