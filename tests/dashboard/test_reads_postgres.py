"""The reads the governance view adds, on PostgreSQL too: the same answers as SQLite for
the same entries (the SQL is written once for both)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from tests.support.postgres import fresh_database

from remit.ledger.kinds import AccessRecord, ApprovalResolution, ApprovalTerms, DecisionRecord
from remit.ledger.open import open_store
from remit.ledger.records import make_entry
from remit.ledger.store import LedgerStore
from remit.report.aggregate import aggregates
from remit.report.counts import DecisionCounts
from remit.report.period import parse_period

T0 = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)


def _decision(i: int, tier: str) -> DecisionRecord:
    at = T0 + timedelta(hours=i * 7)
    d = {"id": f"dec_{i}", "tier": tier, "reasons": [], "rules": ["R1"],
         "decided_at": at.isoformat(), "agent": f"a{i % 2}", "action": "iam:GetRole"}  # fmt: skip
    terms = ApprovalTerms("sha256:x", at + timedelta(hours=1)) if tier == "approve" else None
    return DecisionRecord(d, {"agent": d["agent"]}, terms)


def _fill(store: LedgerStore) -> None:
    tiers = ["autonomous", "deny", "approve", "notify", "approve", "autonomous"]
    for i, tier in enumerate(tiers):
        at = T0 + timedelta(hours=i * 7)
        rec = _decision(i, tier)
        store.append([make_entry(rec, at, "agent:x#k")])
        if tier == "approve":
            answer = ApprovalResolution(rec.id, "approved", "ok", "sha256:x", rec.agent,
                                        rec.action, rec.rules)  # fmt: skip
            store.append([make_entry(answer, at + timedelta(seconds=5 * i), "approver:p#k")])
    store.append([make_entry(AccessRecord("sign_in", "approver:p#k", "dashboard"), T0, "x")])


def _answers(store: LedgerStore) -> dict[str, Any]:
    reads = store.reads
    period = parse_period("2026-11")
    counted = aggregates(reads, period, T0, 0, None).to_dict()
    kept = aggregates(reads, period, T0, 0, None, DecisionCounts()).to_dict()
    assert counted == kept
    return {
        "agg": counted,
        "page": [r.id for r in reads.decisions_page(limit=3, tier="approve")],
        "after": reads.decision_rows_after(2, 10),
        "resolved": [(i, r.decision_id) for i, r in reads.resolutions_after(-1, 10)],
        "between": [d.record.id for d in reads.decisions_between(period.since, period.until)],
        "access": [(a, s) for _, a, s, _ in reads.access_log()],
        "signoffs": reads.signoff_indexes(100),
    }


@pytest.fixture
def pg_url() -> Iterator[str]:
    with fresh_database("remit_ui") as url:
        yield url


@pytest.mark.postgres
def test_postgres_answers_as_sqlite(tmp_path: Path, pg_url: str) -> None:
    answers = []
    for spec in (str(tmp_path / "l.db"), pg_url):
        store = open_store(spec)
        try:
            _fill(store)
            answers.append(_answers(store))
        finally:
            store.close()
    assert answers[0] == answers[1]
    assert answers[0]["agg"]["by_tier"] == {"autonomous": 2, "notify": 1, "approve": 2, "deny": 1}
    assert answers[0]["page"] == ["dec_4", "dec_2"]
