"""The `access` ledger kind (sign-ins, refusals, sign-outs, report and evidence exports):
it round-trips byte for byte, indexes into `access`, and refuses invalid records."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from remit.domain.clock import parse_ts
from remit.ledger.kinds import PARSERS, AccessRecord, EntryFormatError
from remit.ledger.open import open_store
from remit.ledger.records import StoredEntry, make_entry

AT = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def test_access_records_round_trip_and_are_indexed(tmp_path: object) -> None:
    record = AccessRecord(
        "report", "auditor:audit#abc", "cli", {"period": "2026-Q4", "format": "html"}
    )
    entry = make_entry(record, AT, "auditor:audit#abc")
    stored = StoredEntry(7, entry.kind, entry.ts, entry.body)
    back = stored.read_as(AccessRecord)
    assert back.record == record
    again = make_entry(back.record, parse_ts(back.ts), back.actor)
    assert again.body == entry.body
    assert "access" in PARSERS
    store = open_store(f"{tmp_path}/l.db")
    try:
        store.append([entry])
        assert store.reads.access_log() == [(0, "report", "auditor:audit#abc", entry.ts)]
    finally:
        store.close()


@pytest.mark.parametrize(
    "data",
    [
        {"action": "break_in", "subject": "x", "via": "dashboard", "detail": {}},
        {"action": "sign_in", "subject": "", "via": "dashboard", "detail": {}},
        {"action": "sign_in", "subject": "x", "via": "dashboard", "detail": []},
        {"action": "sign_in", "via": "dashboard"},
    ],
)
def test_invalid_access_records_are_refused(data: dict[str, object]) -> None:
    with pytest.raises(EntryFormatError):
        AccessRecord.from_data(data)
