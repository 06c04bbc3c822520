"""A `drift_finding` entry written before drift watched several signals (no `signal`,
`hits`, `elevated` or `declared_arl0`) still parses, reads as the high-risk signal, and
writes back exactly as it was; the new fields round-trip; a bad one is refused."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from remit.ledger.kinds import PARSERS, DriftFindingRecord, EntryFormatError
from remit.ledger.log import Ledger
from remit.ledger.records import make_entry
from remit.ledger.sqlite_store import SqliteStore

OLD: dict[str, Any] = {
    "finding_id": "drift-remediator-412",
    "agent": "remediator",
    "decision_id": "dec-412",
    "decision_index": 412,
    "window_index": 301,
    "window": {
        "opened_at_index": 301,
        "model": "m@1",
        "prompt_sha256": "-",
        "envelope": "sha256:x",
        "workflow": "-",
    },
    "statistic": 52,
    "threshold": 51,
    "p0": 0.2,
    "p1": 0.3,
    "arl0": 20090.2,
    "observed": 111,
    "high_risk": 49,
}
"""The shape the previous release wrote (commit cc95e67's `DriftFindingRecord.to_data`)."""


def test_an_old_finding_parses_and_writes_back_unchanged() -> None:
    r = PARSERS["drift_finding"](OLD)
    assert isinstance(r, DriftFindingRecord)
    assert r.signal is None and r.hits is None and r.elevated is None
    assert r.signal_name == "high_risk"
    assert r.to_data() == OLD


def test_an_old_finding_on_a_ledger_reads_back(tmp_path: Path) -> None:
    ledger = Ledger(SqliteStore(tmp_path / "l.db"))
    t = datetime(2026, 12, 1, tzinfo=UTC)
    _, (idx,) = ledger.store.append_computed(
        lambda _locked, _size: [make_entry(DriftFindingRecord.from_data(OLD), t, "system:drift")]
    )
    back = ledger.store.entry(idx).read().record
    assert isinstance(back, DriftFindingRecord) and back.to_data() == OLD


def test_new_fields_round_trip_and_are_checked() -> None:
    new = {**OLD, "signal": "deny", "hits": 9, "elevated": ["deny"], "declared_arl0": 20_000}
    r = DriftFindingRecord.from_data(new)
    assert (r.signal_name, r.hits, r.elevated, r.declared_arl0) == ("deny", 9, ("deny",), 20_000)
    assert r.to_data() == new
    with pytest.raises(EntryFormatError):
        DriftFindingRecord.from_data({**OLD, "hits": -1})
    with pytest.raises(EntryFormatError):
        DriftFindingRecord.from_data({**OLD, "signal": ""})
    with pytest.raises(EntryFormatError):
        DriftFindingRecord.from_data({**OLD, "elevated": "deny"})
