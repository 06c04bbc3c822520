"""Issue 12, item 2: the service never treats an index row as authority without its
entry. A forged "approved" row, a decision row pointing at another decision's entry, a
grant row pointing elsewhere: the reads that decide what a caller may do refuse them
(LedgerUnavailable, so the service fails closed) instead of answering from the row."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from remit.approvals.queue import ApprovalQueue
from remit.ledger.errors import LedgerUnavailable
from remit.ledger.sqlite_store import SqliteStore

FIXTURES = Path(__file__).parents[1] / "ledger" / "fixtures"
DB = FIXTURES / "release-64fc9a5.db"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    copy = tmp_path / "remit.db"
    shutil.copy(DB, copy)
    return copy


def sql(db: Path, statement: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        return list(conn.execute(statement, params).fetchall())
    finally:
        conn.close()


def held_and_unresolved(db: Path) -> tuple[str, int]:
    (row,) = sql(
        db,
        "SELECT decision_id, idx FROM approvals WHERE decision_id NOT IN "
        "(SELECT decision_id FROM approval_actions) ORDER BY idx LIMIT 1",
    )
    return str(row[0]), int(str(row[1]))


def test_an_untouched_approval_reads_as_recorded(db: Path) -> None:
    decision_id, idx = held_and_unresolved(db)
    store = SqliteStore(db, create=False)
    try:
        found = ApprovalQueue(store).get(decision_id)
        assert found is not None and found.decision_index == idx
        resolved = sql(db, "SELECT decision_id FROM approval_actions LIMIT 1")
        assert resolved, "the fixture holds a resolved approval"
        assert ApprovalQueue(store).get(str(resolved[0][0])) is not None
    finally:
        store.close()


def test_a_forged_approved_row_is_not_authority(db: Path) -> None:
    decision_id, idx = held_and_unresolved(db)
    sql(
        db,
        "INSERT INTO approval_actions VALUES (?, ?, 'approved', 'approver:me', 'ok', ?)",
        (decision_id, idx, "2026-12-05T09:00:00.000000Z"),
    )
    store = SqliteStore(db, create=False)
    try:
        with pytest.raises(LedgerUnavailable, match=r"approval_actions.*does not give"):
            ApprovalQueue(store).get(decision_id)
    finally:
        store.close()


def test_a_forged_pending_deadline_is_not_authority(db: Path) -> None:
    decision_id, _ = held_and_unresolved(db)
    sql(
        db,
        "UPDATE approvals SET expires_at = '2099-01-01T00:00:00.000000Z' WHERE decision_id = ?",
        (decision_id,),
    )
    store = SqliteStore(db, create=False)
    try:
        with pytest.raises(LedgerUnavailable, match=r"approvals.*does not give"):
            ApprovalQueue(store).get(decision_id)
    finally:
        store.close()


def test_a_decision_row_pointing_at_another_entry_is_refused(db: Path) -> None:
    (a, b) = sql(db, "SELECT id, idx FROM decisions ORDER BY idx LIMIT 2")
    sql(db, "UPDATE decisions SET idx = ? WHERE id = ?", (b[1], a[0]))
    store = SqliteStore(db, create=False)
    try:
        with pytest.raises(LedgerUnavailable, match="is about"):
            store.reads.decision(str(a[0]))
        assert store.reads.decision(str(b[0])) is not None
    finally:
        store.close()


def test_a_grant_row_pointing_at_another_entry_is_refused(db: Path) -> None:
    grants = sql(db, "SELECT decision_id, idx FROM grants ORDER BY idx")
    assert len(grants) >= 2, "the fixture holds two grants"
    (a, b) = grants[:2]
    sql(db, "UPDATE grants SET idx = ? WHERE decision_id = ?", (b[1], a[0]))
    store = SqliteStore(db, create=False)
    try:
        with pytest.raises(LedgerUnavailable, match="is about"):
            store.reads.grant(str(a[0]))
    finally:
        store.close()
