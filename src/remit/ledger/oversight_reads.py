"""Typed reads of the assurance loop's entries: review samples, the samples a decision
was drawn in, and verdicts. Functions over `LedgerReads` (committed state) or
`LockedReads` (inside an append, under the lock), so the checks before recording a
verdict and the append are one step. Reads no wall clock.
"""

from __future__ import annotations

from dataclasses import dataclass

from remit.ledger.kinds import ReviewSampleRecord, VerdictRecord
from remit.ledger.reads import LedgerReads
from remit.ledger.records import Recorded


@dataclass(frozen=True, slots=True)
class VerdictRow:
    """A verdict as indexed: where it is, what it says, who gave it."""

    sample_id: str
    decision_id: str
    index: int
    verdict: str
    actor: str
    ts: str


def sample(reads: LedgerReads, sample_id: str) -> Recorded[ReviewSampleRecord] | None:
    rows = reads._rows("SELECT idx FROM review_samples WHERE sample_id = ?", (sample_id,))
    return reads._recorded(int(rows[0][0]), ReviewSampleRecord) if rows else None


def sample_ids(reads: LedgerReads) -> list[str]:
    """Every recorded sample, newest first."""
    return [
        str(r[0]) for r in reads._rows("SELECT sample_id FROM review_samples ORDER BY idx DESC")
    ]


def samples_with(reads: LedgerReads, decision_id: str) -> list[str]:
    """The samples a decision was drawn in, oldest first."""
    rows = reads._rows(
        "SELECT sample_id FROM review_items WHERE decision_id = ? ORDER BY idx", (decision_id,)
    )
    return [str(r[0]) for r in rows]


def verdict(reads: LedgerReads, sample_id: str, decision_id: str) -> VerdictRow | None:
    rows = reads._rows(
        "SELECT sample_id, decision_id, idx, verdict, actor, ts FROM review_verdicts "
        "WHERE sample_id = ? AND decision_id = ?",
        (sample_id, decision_id),
    )
    return _row(rows[0]) if rows else None


def verdicts(reads: LedgerReads, sample_id: str) -> list[Recorded[VerdictRecord]]:
    """The verdicts recorded on a sample, in ledger order."""
    rows = reads._rows(
        "SELECT idx FROM review_verdicts WHERE sample_id = ? ORDER BY idx", (sample_id,)
    )
    return [reads._recorded(int(r[0]), VerdictRecord) for r in rows]


def _row(r: tuple[object, ...]) -> VerdictRow:
    s, d, i, v, a, t = r
    return VerdictRow(str(s), str(d), int(str(i)), str(v), str(a), str(t))


def finding_agent(reads: LedgerReads, finding_id: str) -> str | None:
    """The agent of a recorded drift finding, or None."""
    rows = reads._rows("SELECT agent FROM drift_findings WHERE finding_id = ?", (finding_id,))
    return str(rows[0][0]) if rows else None


def finding_review(reads: LedgerReads, finding_id: str) -> tuple[int, str] | None:
    """(ledger index, reviewer) of a drift finding's review, or None."""
    rows = reads._rows("SELECT idx, actor FROM drift_reviews WHERE finding_id = ?", (finding_id,))
    return (int(rows[0][0]), str(rows[0][1])) if rows else None


def change_review(reads: LedgerReads, since: str, until: str) -> tuple[int, str] | None:
    """(ledger index, reviewer) of the change review of [since, until), or None."""
    rows = reads._rows(
        "SELECT idx, actor FROM change_reviews WHERE since = ? AND until = ?", (since, until)
    )
    return (int(rows[0][0]), str(rows[0][1])) if rows else None


def last_change_review_until(reads: LedgerReads) -> str | None:
    """The end of the latest period whose change review was signed off, or None."""
    rows = reads._rows("SELECT MAX(until) FROM change_reviews")
    return None if not rows or rows[0][0] is None else str(rows[0][0])


def finding_indexes(reads: LedgerReads, finding_id: str) -> tuple[int, int | None] | None:
    """(ledger index of a drift finding, of its demotion or None), or None."""
    rows = reads._rows("SELECT idx FROM drift_findings WHERE finding_id = ?", (finding_id,))
    if not rows:
        return None
    dem = reads._rows("SELECT idx FROM demotions WHERE finding_id = ?", (finding_id,))
    return int(rows[0][0]), (int(dem[0][0]) if dem else None)
