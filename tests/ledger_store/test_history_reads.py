"""The history reads (`remit.ledger.history`) on SQLite and PostgreSQL: a short read (an
index range of at most one batch, or the few indexes a sweep asks for) goes through the
store's own connection; a long or open-ended one streams on a scan of its own. Both give
the same rows. Before, every call opened a scan: the service's drift sweep made a new
PostgreSQL session a second."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import timedelta
from typing import Any

import pytest
from tests.conftest import NOW

from remit.ledger import history
from remit.ledger.kinds import OrgEventRecord
from remit.ledger.log import Ledger
from remit.ledger.postgres_store import PostgresStore
from remit.ledger.sqlite_store import SqliteStore
from remit.ledger.store import LedgerStore

EVENT = OrgEventRecord.KIND


class _Scans:
    """Counts the scans of their own a store opens (its `_chunks` calls)."""

    scans = 0

    def _chunks(
        self, sql: str, params: Sequence[Any] = (), batch: int = 10_000
    ) -> Iterator[list[tuple[Any, ...]]]:
        self.scans += 1
        yield from super()._chunks(sql, params, batch)  # type: ignore[misc]


class _SqliteScans(_Scans, SqliteStore):
    pass


class _PostgresScans(_Scans, PostgresStore):
    pass


@pytest.fixture
def counted(db_target: str) -> Iterator[_Scans]:
    store = _PostgresScans(db_target) if "://" in db_target else _SqliteScans(db_target)
    ledger = Ledger(store)
    for i in range(6):  # six organisational-event entries, at indexes 0-5
        at = NOW + timedelta(minutes=i)
        ledger.record_event("reorg", at, f"e{i}", "t", at)
    try:
        yield store
    finally:
        store.close()


def test_short_reads_open_no_scan_and_give_what_a_scan_gives(counted: _Scans) -> None:
    store: LedgerStore = counted  # type: ignore[assignment]
    size = store.size()
    short = history.kinds_in(store, [EVENT], 0, size)
    at = [r.index for r in history.records_at(store, [i for i, _ in short])]
    ranged = [r.index for r in history.records(store, [EVENT], 1, size)]
    assert history.kinds_in(store, ["decision"], 0, size) == []
    assert counted.scans == 0
    assert short == [(0, EVENT), (1, EVENT), (2, EVENT), (3, EVENT), (4, EVENT), (5, EVENT)]
    assert at == [0, 1, 2, 3, 4, 5]
    assert ranged == [1, 2, 3, 4, 5]
    streamed = history.kinds_in(store, [EVENT], 0)  # open-ended: streamed
    assert counted.scans == 1
    assert streamed == short
    long_range = [r.index for r in history.records(store, [EVENT], 0, 10_001)]
    assert counted.scans == 2
    assert long_range == at
