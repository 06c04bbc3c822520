"""Issue 12, item 2: `verify` covers the derived state. Every index table (all of
`INDEX_TABLES`, so a table added later is covered too) is rebuilt from the entries and
compared row for row: a forged "approved" row, a deleted rate window, a changed column are
verification failures naming the table and the entry; so is an entry that cannot be read.
Runs on the previous release's ledger, extended with entries of the kinds added since, so
that every table holds rows (a table with none fails the test: extend `_newer_kinds`)."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from remit.domain.clock import parse_ts
from remit.ledger.kinds import (
    AccessRecord,
    ChangeReviewRecord,
    DemotionRecord,
    DriftFindingRecord,
    DriftReviewRecord,
    EnvelopeVersionRecord,
    GrantClaimRecord,
    PreviewRecord,
    ReconciliationRecord,
    Record,
    ReviewSampleRecord,
    SampleStratum,
    VerdictRecord,
)
from remit.ledger.kinds.cloudtrail import COUNT_NAMES
from remit.ledger.records import make_entry
from remit.ledger.schema import INDEX_TABLES
from remit.ledger.sqlite_store import SqliteStore
from remit.ledger.verify import VerifyReport, verify_store
from remit.signing.keys import load_verifier_key
from remit.tlog import merkle

FIXTURES = Path(__file__).parents[1] / "ledger" / "fixtures"
DB, PUB = FIXTURES / "release-64fc9a5.db", FIXTURES / "release-64fc9a5.log.pub"


def _newer_kinds() -> list[Record]:
    """Entries of kinds the fixture's release did not have, two of each (so a row can be
    both changed and deleted)."""
    return [
        PreviewRecord("d-preview-1", {"grantable": True, "role": "r"}),
        PreviewRecord("d-preview-2", {"grantable": False, "reason": "no role"}),
        GrantClaimRecord("d-claim-1"),
        GrantClaimRecord("d-claim-1", released=True),
        AccessRecord("sign_in", "approver:alice#1", "dashboard", {"role": "approver"}),
        AccessRecord("report", "cli", "cli", {"period": "2026-Q4", "format": "html"}),
        *(_reconciliation(f"rec-{i}") for i in (1, 2)),
        *(_sample(f"sample-{i}", i) for i in (1, 2)),
        *(VerdictRecord(f"sample-{i}", "d-1", "appropriate", "fine") for i in (1, 2)),
        *(_finding(f"drift-{i}") for i in (1, 2)),
        *(DemotionRecord(f"drift-{i}", "remediator", "approve", "drift") for i in (1, 2)),
        *(DriftReviewRecord(f"drift-{i}", "remediator", "reviewed") for i in (1, 2)),
        *(ChangeReviewRecord(T0, T0 + timedelta(days=i), "ab" * 32, {"agents": i}, "ok")
          for i in (1, 2)),
        *(_envelope_version(i) for i in (1, 2)),
    ]  # fmt: skip


def _envelope_version(n: int) -> Record:
    from remit.domain.canonical import canonical_json, sha256_hex

    doc = {"metadata": {"name": "prod", "version": str(n)}}
    return EnvelopeVersionRecord("sha256:" + sha256_hex(canonical_json(doc)), doc)


T0 = parse_ts("2026-11-01T00:00:00Z")


def _reconciliation(run_id: str) -> Record:
    return ReconciliationRecord(
        run_id, T0, T0 + timedelta(days=1), {"trail": "ab" * 32, "ledger_size": 3},
        ("arn:aws:iam::1:role/r",), {**dict.fromkeys(COUNT_NAMES, 0)}, (),
    )  # fmt: skip


def _sample(sample_id: str, days: int) -> Record:
    return ReviewSampleRecord(
        sample_id, T0, T0 + timedelta(days=days), 10, "cd" * 32, "note", "hmac-sha256",
        0.95, 0.01, 299, (SampleStratum("autonomous", "remediator", 2, ("d-1", "d-2")),),
    )  # fmt: skip


def _finding(finding_id: str) -> Record:
    return DriftFindingRecord(
        finding_id, "remediator", "d-1", 5, 0, {"model": "m"}, 7, 6, 0.2, 0.3, 20000.0, 40, 12,
    )  # fmt: skip


@pytest.fixture
def db(tmp_path: Path) -> Path:
    copy = tmp_path / "remit.db"
    shutil.copy(DB, copy)
    store = SqliteStore(copy, create=False)
    try:
        at = parse_ts("2026-12-05T09:00:00Z")
        store.append([make_entry(r, at, "test") for r in _newer_kinds()])
    finally:
        store.close()
    return copy


def sql(db: Path, statement: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        return list(conn.execute(statement, params).fetchall())
    finally:
        conn.close()


def verify(db: Path) -> VerifyReport:
    store = SqliteStore(db, create=False)
    try:
        return verify_store(store, load_verifier_key(str(PUB)), workers=1)
    finally:
        store.close()


def test_the_untouched_ledger_verifies(db: Path) -> None:
    report = verify(db)
    assert report.ok, report.problems
    assert report.index_divergences == []


def test_a_forged_approval_is_caught(db: Path) -> None:
    """A held decision with no approval entry, marked approved by a row nobody recorded."""
    (held,) = sql(
        db,
        "SELECT decision_id, idx FROM approvals WHERE decision_id NOT IN "
        "(SELECT decision_id FROM approval_actions) ORDER BY idx LIMIT 1",
    )
    decision_id, idx = held
    sql(
        db,
        "INSERT INTO approval_actions VALUES (?, ?, 'approved', 'approver:me', 'ok', ?)",
        (decision_id, idx, "2026-12-05T09:00:00.000000Z"),
    )
    report = verify(db)
    assert not report.ok
    (d,) = report.index_divergences
    assert (d.table, d.idx, d.problem) == ("approval_actions", idx, "extra")
    assert d.found is not None and d.found["decision_id"] == decision_id
    assert any("approval_actions" in p and "derived by no entry" in p for p in report.problems)
    assert report.first_bad_index == idx


def test_a_deleted_rate_window_is_caught(db: Path) -> None:
    kept = sql(db, "SELECT idx, rule_id FROM window_actions ORDER BY idx")
    assert kept
    sql(db, "DELETE FROM window_actions")
    report = verify(db)
    assert not report.ok
    got = sorted((d.idx, d.expected["rule_id"]) for d in report.index_divergences if d.expected)
    assert got == sorted(kept)
    assert {(d.table, d.problem) for d in report.index_divergences} == {
        ("window_actions", "missing")
    }


@pytest.mark.parametrize("table", sorted(INDEX_TABLES))
def test_every_index_table_is_checked(db: Path, table: str) -> None:
    """The last row's column changed and (when there are two) the first row deleted:
    both are named with the table and the entry."""
    cols = INDEX_TABLES[table]
    rows = sql(db, f"SELECT rowid, idx FROM {table} ORDER BY idx")
    assert rows, f"the fixture holds no {table} rows: add entries of its kind to _newer_kinds"
    changed, changed_idx = rows[-1]
    column = next(c for c in cols if c != "idx")
    sql(db, f"UPDATE {table} SET {column} = 'forged' WHERE rowid = ?", (changed,))
    if len(rows) > 1:
        gone, gone_idx = rows[0]
        sql(db, f"DELETE FROM {table} WHERE rowid = ?", (gone,))
    report = verify(db)
    assert not report.ok
    found = {(d.table, d.idx, d.problem) for d in report.index_divergences}
    assert (table, changed_idx, "different") in found, report.problems
    if len(rows) > 1:
        assert (table, gone_idx, "missing") in found, report.problems
    different = next(d for d in report.index_divergences if d.problem == "different")
    assert different.found is not None and different.found[column] == "forged"


def test_an_unreadable_entry_is_named(db: Path) -> None:
    """Bytes that are not an entry, with their leaf hash recomputed."""
    body = b'{"not": "an entry"}'
    sql(
        db,
        "UPDATE entries SET body = ?, leaf_hash = ? WHERE idx = 20",
        (body, merkle.leaf_hash(body)),
    )
    report = verify(db)
    assert not report.ok
    assert report.first_bad_index == 20
    assert any(p.startswith("entry 20: cannot be read") for p in report.problems)


def test_cli_json_lists_the_divergences(db: Path) -> None:
    sql(db, "DELETE FROM grants")
    proc = subprocess.run(
        [sys.executable, "-m", "remit.cli", "ledger", "verify", "--db", str(db),
         "--public-key", str(PUB), "--format", "json"],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    out = json.loads(proc.stdout)
    assert out["ok"] is False
    assert out["index_divergences"]
    assert {(d["table"], d["problem"]) for d in out["index_divergences"]} == {("grants", "missing")}
    human = subprocess.run(
        [sys.executable, "-m", "remit.cli", "ledger", "verify", "--db", str(db),
         "--public-key", str(PUB)],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert human.returncode == 1
    assert "index table grants" in human.stderr and "is missing" in human.stderr
