"""Checks each entry against what follows from it: the entry must parse into its typed
record and be exactly that record's canonical bytes, the stored `kind` and `ts` columns
must say what the entry says, and every derived index table (all of `INDEX_TABLES`) must
hold exactly the rows `derive` gives for the entries, no more, no fewer.

One pass over the entries in index order; each index table is streamed from the store
ordered by `idx` and merged against the rows derived so far, so memory stays bounded by
the rows of one entry (a table without an `idx` column, which none has today, would be
compared as a whole). It does not hash, check signatures or repair anything: the fix for
a diverging index is to rebuild it from the entries.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from remit.domain.clock import parse_ts
from remit.ledger.records import NewEntry, StoredEntry, derive, make_entry

Row = tuple[Any, ...]
RowSource = Callable[[str], Iterable[Row]]


@dataclass(frozen=True, slots=True)
class EntryProblem:
    """An entry that is wrong in itself, found without hashes."""

    index: int
    message: str


@dataclass(frozen=True, slots=True)
class IndexDivergence:
    """A derived index table that differs from what the entries give: a `missing` row
    (derived, not stored), an `extra` row (stored, derived by no entry) or a `different`
    row (both exist for the same entry but differ)."""

    table: str
    idx: int | None
    problem: Literal["missing", "extra", "different"]
    expected: Mapping[str, Any] | None
    found: Mapping[str, Any] | None

    @property
    def message(self) -> str:
        where = f"index table {self.table}, entry {self.idx}"
        if self.problem == "missing":
            return f"{where}: row {_show(self.expected)} is missing"
        if self.problem == "extra":
            return f"{where}: row {_show(self.found)} is derived by no entry"
        assert self.expected is not None and self.found is not None
        diff = {k: v for k, v in self.found.items() if self.expected.get(k) != v}
        want = {k: self.expected.get(k) for k in diff}
        return f"{where}: row has {_show(diff)} where the entry gives {_show(want)}"

    def to_json(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "idx": self.idx,
            "problem": self.problem,
            "expected": _plain(self.expected),
            "found": _plain(self.found),
        }


@dataclass
class EntryCheck:
    """What the pass found, and the times of the entries it was asked to note."""

    problems: list[EntryProblem] = field(default_factory=list)
    divergences: list[IndexDivergence] = field(default_factory=list)
    ts: dict[int, str] = field(default_factory=dict)


def check_entries(
    entries: Iterable[StoredEntry],
    tables: Mapping[str, Sequence[str]],
    stored_rows: RowSource | None,
    *,
    columns: bool = True,
    note_ts: frozenset[int] = frozenset(),
) -> EntryCheck:
    """Check `entries` (in index order). `stored_rows(table)` streams a store's rows of
    each table in `tables` ordered by idx; None (an audit bundle) skips the index check.
    `columns=False` when the entries carry no stored kind/ts columns (bundles)."""
    out = EntryCheck()
    merge = _Merge(tables, stored_rows, out.divergences) if stored_rows is not None else None
    for stored in entries:
        new = _read(stored, columns, out.problems)
        if stored.index in note_ts:
            out.ts[stored.index] = new.ts if new is not None else stored.ts
        if merge is not None:
            merge.entry(stored.index, derive(new, stored.index) if new is not None else [])
    if merge is not None:
        merge.finish()
    return out


def _read(stored: StoredEntry, columns: bool, problems: list[EntryProblem]) -> NewEntry | None:
    """The entry as a NewEntry rebuilt from its record, or None (with a problem) when it
    cannot be read or is not exactly its record's canonical bytes."""
    i = stored.index
    try:
        got = stored.read()
        again = make_entry(got.record, parse_ts(got.ts), got.actor)
        derive(again, i)  # a record that cannot give its index rows is unreadable too
    except Exception as exc:  # any failure to read an entry is a verification failure
        problems.append(EntryProblem(i, f"entry {i}: cannot be read: {exc}"))
        return None
    if again.body != stored.body:
        problems.append(
            EntryProblem(i, f"entry {i}: its bytes are not the canonical form of its record")
        )
    if columns and (stored.kind, stored.ts) != (again.kind, again.ts):
        problems.append(
            EntryProblem(
                i,
                f"entry {i}: the stored columns say kind {stored.kind!r} at {stored.ts!r}, "
                f"the entry says {again.kind!r} at {again.ts!r}",
            )
        )
    return again


class _Merge:
    """Merges each table's stored rows (ordered by idx) with the rows derived entry by
    entry, recording every divergence."""

    def __init__(
        self, tables: Mapping[str, Sequence[str]], source: RowSource, out: list[IndexDivergence]
    ) -> None:
        self._cols = {t: tuple(c) for t, c in tables.items()}
        self._out = out
        self._streams: dict[str, Iterator[Row]] = {}
        self._heads: list[tuple[int, str, Row]] = []  # (idx, table, row): next stored row
        self._whole: dict[str, list[Row]] = {}  # tables without an idx column
        for table, cols in self._cols.items():
            if "idx" in cols:
                self._streams[table] = iter(source(table))
                self._advance(table)
            else:
                self._whole[table] = [*source(table)]
        self._derived_whole: dict[str, list[Row]] = {t: [] for t in self._whole}

    def _advance(self, table: str) -> None:
        """Put the table's next stored row (with an integer idx) on the heap."""
        at = self._cols[table].index("idx")
        for row in self._streams[table]:
            idx = row[at]
            if isinstance(idx, int) and not isinstance(idx, bool):
                heapq.heappush(self._heads, (idx, table, tuple(row)))
                return
            self._report(table, None, [], [tuple(row)])

    def entry(self, index: int, rows: Sequence[Any]) -> None:
        derived: dict[str, list[Row]] = {}
        for row in rows:
            if row.table in self._derived_whole:
                self._derived_whole[row.table].append(row.values)
            else:
                derived.setdefault(row.table, []).append(row.values)
        stored: dict[str, list[Row]] = {}
        while self._heads and self._heads[0][0] <= index:
            idx, table, row = heapq.heappop(self._heads)
            if idx < index:
                self._report(table, idx, [], [row])  # no entry at that index derives it
            else:
                stored.setdefault(table, []).append(row)
            self._advance(table)
        for table in derived.keys() | stored.keys():
            self._report(table, index, derived.get(table, []), stored.get(table, []))

    def finish(self) -> None:
        while self._heads:
            idx, table, row = heapq.heappop(self._heads)
            self._report(table, idx, [], [row])
            self._advance(table)
        for table, rows in self._whole.items():
            self._report(table, None, self._derived_whole[table], rows)

    def _report(self, table: str, idx: int | None, want: list[Row], got: list[Row]) -> None:
        if Counter(want) == Counter(got):
            return
        missing = list((Counter(want) - Counter(got)).elements())
        extra = list((Counter(got) - Counter(want)).elements())
        cols = self._cols[table]
        for m, e in zip(missing, extra, strict=False):
            self._out.append(
                IndexDivergence(table, idx, "different", _named(cols, m), _named(cols, e))
            )
        for m in missing[len(extra) :]:
            self._out.append(IndexDivergence(table, idx, "missing", _named(cols, m), None))
        for e in extra[len(missing) :]:
            self._out.append(IndexDivergence(table, idx, "extra", None, _named(cols, e)))


def _named(cols: Sequence[str], row: Row) -> dict[str, Any]:
    return dict(zip(cols, row, strict=False))


def _plain(value: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if value is None:
        return None
    return {
        k: (bytes(v).hex() if isinstance(v, bytes | memoryview) else v) for k, v in value.items()
    }


def _show(value: Mapping[str, Any] | None) -> str:
    if not value:
        return "{}"
    return "{" + ", ".join(f"{k}={v!r}" for k, v in value.items()) + "}"
