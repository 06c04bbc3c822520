"""The change review over a ledger: the report of a period, its sign-off by a reviewer
(once per period, after it closed), and whether an unreviewed change is overdue under
the envelope's review cadence. Errors are `remit.errors` kinds; nothing is written when
one is raised.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from remit.domain.canonical import canonical_json
from remit.domain.clock import parse_ts, ts_text
from remit.errors import Conflict, Unprocessable
from remit.ledger import oversight_reads as oreads
from remit.ledger.gate_reads import LockedReads
from remit.ledger.history import records
from remit.ledger.kinds import ChangeReviewRecord
from remit.ledger.log import Ledger
from remit.ledger.records import NewEntry, Recorded, make_entry
from remit.ledger.store import LedgerStore
from remit.oversight.changes import CHANGE_KINDS, Change, ChangeReport, changes, first_unreviewed


def change_report(store: LedgerStore, since: datetime, until: datetime) -> ChangeReport:
    if until <= since:
        raise Unprocessable("the period must end after it starts")
    return changes(records(store, CHANGE_KINDS), since, until)


def report_digest(report: ChangeReport) -> str:
    return "sha256:" + hashlib.sha256(canonical_json(report.to_dict())).hexdigest()


def sign_change_review(
    ledger: Ledger, since: datetime, until: datetime, reviewer: str, comment: str, now: datetime
) -> Recorded[ChangeReviewRecord]:
    """Record `reviewer`'s sign-off of the period's change review (once, after it closed)."""
    if until > now:
        raise Unprocessable(f"the period ends {ts_text(until)}, after now: review it once closed")
    report = change_report(ledger.store, since, until)
    record = ChangeReviewRecord(since, until, report_digest(report), report.counts(), comment)

    def build(locked: LockedReads, _size: int) -> list[NewEntry]:
        done = oreads.change_review(locked, ts_text(since), ts_text(until))
        if done is not None:
            raise Conflict(
                f"the change review of this period was signed off by {done[1]} (ledger index "
                f"{done[0]})"
            )
        return [make_entry(record, now, reviewer)]

    _, indexes = ledger.store.append_computed(build)
    return Recorded(indexes[0], ts_text(now), reviewer, record)


def overdue_change(store: LedgerStore, now: datetime, every: timedelta) -> Change | None:
    """The first change since the last signed-off change review, if it is older than the
    review cadence `every` at `now` (then the change review is overdue); else None."""
    until = oreads.last_change_review_until(store.reads)
    start = parse_ts(until) if until else None
    history = records(store, CHANGE_KINDS)
    first = first_unreviewed(history, start)
    if first is None or now - first.at <= every:
        return None
    return first


__all__ = ["change_report", "overdue_change", "report_digest", "sign_change_review"]
