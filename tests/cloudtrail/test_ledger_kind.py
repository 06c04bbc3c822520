"""The `reconciliation` ledger kind: it round-trips through entry bytes, indexes the run,
and refuses invalid state (unknown classes, missing counts, findings without a reason)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from remit.ledger.kinds import EntryFormatError, ReconciliationRecord, parse_record
from remit.ledger.kinds.cloudtrail import COUNT_NAMES
from remit.ledger.records import StoredEntry, derive, make_entry

AT = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
FINDING = {
    "class": "unexplained", "event_id": "e1", "event_time": "2026-12-05T11:00:00.000000Z",
    "principal": "arn:aws:sts::1:assumed-role/r/s", "action": "s3:ListAllMyBuckets",
    "resources": [], "decision_id": None, "ledger_index": None, "why": "joins to nothing.",
}  # fmt: skip


def record(**changes: Any) -> ReconciliationRecord:
    fields: dict[str, Any] = {
        "run_id": "rec-1", "since": AT.replace(hour=10), "until": AT,
        "inputs": {"trail": "ab" * 32, "ledger_size": 3},
        "ai_principals": ("arn:aws:iam::1:role/r",),
        "counts": {**dict.fromkeys(COUNT_NAMES, 0), "unexplained": 1},
        "findings": (FINDING,),
    }  # fmt: skip
    fields.update(changes)
    return ReconciliationRecord(**fields)


def test_round_trip_through_entry_bytes_and_index() -> None:
    rec = record()
    entry = make_entry(rec, AT, "cli")
    stored = StoredEntry(7, entry.kind, entry.ts, entry.body)
    back = stored.read_as(ReconciliationRecord).record
    assert back == rec
    assert parse_record("reconciliation", rec.to_data()) == rec
    (row,) = derive(entry, 7)
    assert row.table == "reconciliations"
    assert row.values[:2] == ("rec-1", 7) and row.values[4] == 1
    open_ended = record(since=None, until=None)
    assert parse_record("reconciliation", open_ended.to_data()) == open_ended


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"run_id": ""}, "run_id"),
        ({"since": datetime(2026, 1, 1)}, "since"),  # naive on purpose
        ({"counts": {"explained": 0}}, "counts."),
        ({"counts": {**dict.fromkeys(COUNT_NAMES, 0), "denied": -1}}, "counts.denied"),
        ({"findings": ({**FINDING, "class": "explained"},)}, "not a finding class"),
        ({"findings": ({**FINDING, "why": ""},)}, "why"),
        ({"findings": ({k: v for k, v in FINDING.items() if k != "principal"},)}, "principal"),
    ],
)
def test_invalid_runs_cannot_be_made(changes: dict[str, Any], says: str) -> None:
    with pytest.raises(EntryFormatError, match=says):
        record(**changes)


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_the_typed_reads_reconciliation_uses(tmp_path: Any, backend: str) -> None:
    """decisions_and_grants (with and without a grant), revocation_times and
    reconciliations, over a real SQLite store and a real PostgreSQL one."""
    if backend == "postgres":
        from tests.support.postgres import fresh_database

        with fresh_database("remit_ct") as url:
            _reads_check(url)
    else:
        _reads_check(str(tmp_path / "l.db"))


def _reads_check(db: str) -> None:
    from remit.domain.clock import ts_text
    from remit.ledger.kinds import DecisionRecord, GrantRecord, GrantTerms, RevocationRecord
    from remit.ledger.open import open_store

    store = open_store(db)
    role = "arn:aws:iam::1:role/exec"
    entries = []
    for n in (1, 2):
        decision = {"id": f"d{n}", "agent": "a", "action": "iam:GetRole", "tier": "autonomous",
                    "rules": ["R1"], "decided_at": ts_text(AT)}  # fmt: skip
        request = {"resources": [{"arn": f"arn:aws:iam::1:role/t{n}"}]}
        terms = GrantTerms(role, 900, 300)
        entries.append(make_entry(DecisionRecord(decision, request, None, terms), AT, "x"))
    grant = GrantRecord("d1", "a", role, "remit-d1", "d1", {}, 900, AT, {}, (), "", "sts", {},
                        AT, "arn:aws:sts::1:assumed-role/exec/remit-d1", "ASIA1")  # fmt: skip
    entries.append(make_entry(grant, AT, "x"))
    entries.append(make_entry(RevocationRecord("d1", "step ended", True, None, role, 1),
                              AT.replace(minute=5), "x"))  # fmt: skip
    entries.append(make_entry(record(), AT.replace(minute=6), "cli"))
    store.append(entries)
    try:
        pairs = store.reads.decisions_and_grants()
        assert [(d.record.id, d.index) for d, _ in pairs] == [("d1", 0), ("d2", 1)]
        assert pairs[0][1] is not None and pairs[0][1].record.access_key_id == "ASIA1"
        assert pairs[0][1].index == 2 and pairs[1][1] is None
        assert store.reads.revocation_times() == {"d1": AT.replace(minute=5)}
        (run,) = store.reads.reconciliations(5)
        assert run.index == 4 and run.record == record()
    finally:
        store.close()
