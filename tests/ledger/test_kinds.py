"""The ledger's typed records: every kind parses from what earlier releases wrote and
writes it back byte for byte; derived index rows are the ones the store kept; invalid
records cannot be made; a ledger file made by the previous release (commit 64fc9a5, the
demo's ledger plus notifications, a refused grant and a note, all written by that
release's code) still loads, verifies and exports unchanged."""

from __future__ import annotations

import io
import json
import re
import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from remit.domain.clock import parse_ts
from remit.ledger.export import write_jsonl, write_ocsf, write_otel
from remit.ledger.kinds import (
    PARSERS,
    ApprovalResolution,
    ApprovalTerms,
    DecisionRecord,
    EntryFormatError,
    EnvelopeVersionRecord,
    GrantRecord,
    GrantRefusalRecord,
    IdentityRecord,
    NoteRecord,
    OrgEventRecord,
    OutcomeRecord,
    PreviewRecord,
    RevocationRecord,
    SignoffRecord,
)
from remit.ledger.records import StoredEntry, derive, make_entry
from remit.ledger.schema import INDEX_TABLES
from remit.ledger.sqlite_store import SqliteStore
from remit.ledger.verify import verify_store
from remit.signing.keys import load_verifier_key

FIXTURES = Path(__file__).parent / "fixtures"
OVERSIGHT_KINDS = {
    "review_sample", "review_verdict", "drift_finding", "demotion", "drift_review", "change_review"
}  # fmt: skip
PREVIOUS = "release-64fc9a5"
T = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)


@pytest.fixture
def previous(tmp_path: Path) -> Iterator[SqliteStore]:
    """A copy of the previous release's ledger file (the committed one is never opened)."""
    db = tmp_path / "old.db"
    shutil.copy(FIXTURES / f"{PREVIOUS}.db", db)
    store = SqliteStore(db, create=False)
    try:
        yield store
    finally:
        store.close()


def test_previous_release_ledger_verifies(previous: SqliteStore) -> None:
    key = load_verifier_key(str(FIXTURES / f"{PREVIOUS}.log.pub"))
    report = verify_store(previous, key)
    assert report.ok, report.problems
    assert report.size == previous.size() == 36
    assert report.checkpoints_checked == 2


def test_every_kind_is_in_the_previous_release_ledger(previous: SqliteStore) -> None:
    """The fixture covers every kind the ledger holds (and both shapes of a grant)."""
    records = [e.read().record for e in previous.entries()]
    added_since = {"preview", "grant_claim", "access", "reconciliation", "envelope_version"}
    added_since |= OVERSIGHT_KINDS
    assert {r.KIND for r in records} == set(PARSERS) - added_since
    assert {type(r) for r in records} >= {GrantRecord, GrantRefusalRecord}


def test_records_write_back_the_exact_bytes(previous: SqliteStore) -> None:
    """Parsing then writing reproduces every stored entry byte for byte: the typed classes
    are exactly the JSON earlier releases wrote."""
    for stored in previous.entries():
        got = stored.read()
        again = make_entry(got.record, parse_ts(got.ts), got.actor)
        assert again.body == stored.body, stored.index
        assert again.kind == stored.kind and again.ts == stored.ts


def test_derived_rows_match_the_stored_index(previous: SqliteStore, tmp_path: Path) -> None:
    """The index rows derived from the typed records are the rows the previous release
    stored for the same entries."""
    import sqlite3

    derived: dict[str, set[tuple[Any, ...]]] = {t: set() for t in INDEX_TABLES}
    for stored in previous.entries():
        got = stored.read()
        entry = make_entry(got.record, parse_ts(got.ts), got.actor)
        for row in derive(entry, stored.index):
            derived[row.table].add(row.values)
    conn = sqlite3.connect(tmp_path / "old.db")
    try:
        for table, cols in INDEX_TABLES.items():
            rows = conn.execute(f"SELECT {', '.join(cols)} FROM {table}").fetchall()
            kept = {
                tuple(bool(v) if c == "applied" else v for c, v in zip(cols, r, strict=True))
                for r in rows
            }
            assert derived[table] == kept, table
    finally:
        conn.close()
    assert derived["decisions"] and derived["approvals"] and derived["grants"]


_IDS = re.compile(r'"(trace_id|span_id|parent_id|service.instance.id)": ("[0-9a-fx-]+"|null)')


@pytest.mark.parametrize(
    ("fmt", "write", "normalise"),
    [
        ("jsonl", write_jsonl, lambda s: s),
        ("ocsf", write_ocsf, lambda s: s),
        ("otel", write_otel, lambda s: _IDS.sub(r'"\1": "-"', s)),  # ids are random per run
    ],
)
def test_exports_are_unchanged(
    previous: SqliteStore,
    fmt: str,
    write: Callable[[Any, io.StringIO], int],
    normalise: Callable[[str], str],
) -> None:
    out = io.StringIO()
    write(previous.entries(), out)
    expected = (FIXTURES / f"{PREVIOUS}.export.{fmt}").read_text(encoding="utf-8")
    assert normalise(out.getvalue()) == normalise(expected)


# -- constructors refuse invalid state ---------------------------------------------------


def _decision(tier: str = "notify", **over: Any) -> dict[str, Any]:
    return {
        "id": "dec_1",
        "tier": tier,
        "agent": "remediator",
        "action": "iam:DetachRolePolicy",
        "rules": ["R7"],
        "decided_at": "2026-12-05T09:00:00.000000Z",
        **over,
    }


INVALID: list[tuple[str, Callable[[], object]]] = [
    ("decision.id", lambda: DecisionRecord(_decision(id=""), {})),
    ("decision.tier", lambda: DecisionRecord(_decision(tier="maybe"), {})),
    ("approval terms", lambda: DecisionRecord(_decision(tier="approve"), {})),
    ("approval terms", lambda: DecisionRecord(_decision(), {}, ApprovalTerms("sha256:x", T))),
    ("expires_at", lambda: ApprovalTerms("sha256:x", datetime(2026, 12, 5, 9))),  # naive
    ("request_digest", lambda: ApprovalTerms("", T)),
    ("state", lambda: ApprovalResolution("dec_1", "maybe", "", "sha256:x", "a", "b", ())),  # type: ignore[arg-type]
    ("decision_id", lambda: OutcomeRecord("", "succeeded", None, (), "allowed", False)),
    ("cloud_request_ids", lambda: OutcomeRecord("d", "succeeded", None, [1], "allowed", False)),  # type: ignore[arg-type]
    ("applied", lambda: RevocationRecord("d", "why", "yes", None, "arn:r", 1)),  # type: ignore[arg-type]
    ("status", lambda: GrantRefusalRecord("d", "issued", "why")),  # type: ignore[arg-type]
    ("at", lambda: OrgEventRecord("acquisition", datetime(2026, 1, 1), "")),  # naive
    ("kind", lambda: OrgEventRecord("", T, "")),
    ("action", lambda: IdentityRecord("key_lost", "k1")),  # type: ignore[arg-type]
    ("name", lambda: IdentityRecord("key_created", "k1", None, "agent", "remediator")),
    ("id", lambda: SignoffRecord({"signer": "ciso"}, "", True, None)),
    ("carry id", lambda: SignoffRecord({"id": "x"}, "so_1", True, None)),
    ("note", lambda: NoteRecord([1, 2])),  # type: ignore[arg-type]
    ("grantable", lambda: PreviewRecord("dec_1", {"why": "no"})),
    ("decision_id", lambda: PreviewRecord("", {"grantable": False})),
    ("digest", lambda: EnvelopeVersionRecord("", {"metadata": {}})),
    ("document digest", lambda: EnvelopeVersionRecord("sha256:" + "0" * 64, {"metadata": {}})),
    ("document", lambda: EnvelopeVersionRecord("sha256:x", [1])),  # type: ignore[arg-type]
]


def test_an_envelope_version_round_trips_and_is_indexed_by_digest() -> None:
    from remit.domain.canonical import canonical_json, sha256_hex

    doc = {"metadata": {"name": "prod", "version": "3"}, "rules": [{"id": "R1"}]}
    digest = "sha256:" + sha256_hex(canonical_json(doc))
    rec = EnvelopeVersionRecord(digest, doc)
    entry = make_entry(rec, T, "system:remit")
    got = StoredEntry(4, entry.kind, entry.ts, entry.body).read()
    assert got.record == rec and (rec.name, rec.version) == ("prod", "3")
    (row,) = rec.index_rows(4, entry.ts, "system:remit")
    assert row.table == "envelope_versions"
    assert row.values == (digest, 4, "prod", "3", entry.ts)
    assert len(row.values) == len(INDEX_TABLES[row.table])


@pytest.mark.parametrize(
    ("what", "make"), INVALID, ids=[f"{i}-{w}" for i, (w, _) in enumerate(INVALID)]
)
def test_invalid_records_cannot_be_made(what: str, make: Callable[[], object]) -> None:
    with pytest.raises(EntryFormatError, match=what.split()[0]):
        make()


def test_an_entry_needs_an_actor_and_an_aware_time() -> None:
    with pytest.raises(ValueError, match="identity"):
        make_entry(NoteRecord({}), T, "")
    with pytest.raises(ValueError, match="timezone"):
        make_entry(NoteRecord({}), datetime(2026, 12, 5, 9), "tester")


def _stored(doc: Any) -> StoredEntry:
    return StoredEntry(7, "grant", "2026-12-05T09:00:00.000000Z", json.dumps(doc).encode())


@pytest.mark.parametrize(
    ("doc", "says"),
    [
        ({"v": 1, "kind": "grant", "ts": "t", "actor": "a", "data": {"status": "issued"}},
         "missing field 'decision_id'"),
        ({"v": 1, "kind": "teleport", "ts": "t", "actor": "a", "data": {}}, "unknown entry kind"),
        ({"v": 2, "kind": "note", "ts": "t", "actor": "a", "data": {}}, "unknown entry version"),
        ({"v": 1, "kind": "note", "ts": "t", "actor": "a", "data": [1]}, "no data object"),
        ([1, 2], "not a JSON object"),
    ],
)  # fmt: skip
def test_damaged_entries_are_named(doc: Any, says: str) -> None:
    with pytest.raises(EntryFormatError, match=f"ledger entry 7: .*{re.escape(says)}"):
        _stored(doc).read()


def test_read_as_refuses_another_kind() -> None:
    entry = make_entry(NoteRecord({"x": 1}), T, "tester")
    stored = StoredEntry(3, entry.kind, entry.ts, entry.body)
    assert stored.read_as(NoteRecord).record == NoteRecord({"x": 1})
    with pytest.raises(EntryFormatError, match="not a decision record"):
        stored.read_as(DecisionRecord)


def test_new_grant_refusals_record_the_error_kind() -> None:
    record = GrantRefusalRecord("dec_1", "refused", "already granted", error="conflict")
    data = record.to_data()
    assert data == {
        "status": "refused",
        "decision_id": "dec_1",
        "reason": "already granted",
        "error": "conflict",
    }
    assert GrantRefusalRecord.from_data(data) == record


def test_grant_times_round_trip() -> None:
    record = GrantRecord(
        "dec_1", "remediator", "arn:aws:iam::1:role/r", "remit-dec_1", "dec_1", {"k": "v"},
        900, T + timedelta(minutes=5), {"Version": "2012-10-17"}, ({"action": "iam:X"},),
        "this credential can do exactly: iam:X", "sts", {"status": "unavailable"},
        T + timedelta(minutes=15), "arn:aws:sts::1:assumed-role/r/remit-dec_1", "ASIA1",
    )  # fmt: skip
    again = GrantRecord.from_data(json.loads(json.dumps(record.to_data())))
    assert again == record
    assert [r.table for r in derive(make_entry(record, T, "agent:x"), 4)] == ["grants"]
