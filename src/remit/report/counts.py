"""Running counts of decisions by (UTC day, agent, tier), and the approvals resolved by day,
kept in memory and brought up to date from the ledger's index on each use by reading only
what was appended since: a quarter's overview costs a dictionary walk, not a scan of a
million rows. Periods that do
not start and end on a UTC day boundary are left to the store (`aggregates`)."""

from __future__ import annotations

import threading
from collections import defaultdict
from datetime import UTC, datetime

from remit.ledger.reads import LedgerReads, Resolution
from remit.report.period import Period

BATCH = 100_000


def _midnight(t: datetime) -> bool:
    u = t.astimezone(UTC)
    return (u.hour, u.minute, u.second, u.microsecond) == (0, 0, 0, 0)


class DecisionCounts:
    """Counts by day, agent and tier of every decision up to a ledger index."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, str, str], int] = defaultdict(int)
        self._upto = -1
        self._resolutions: dict[str, list[Resolution]] = defaultdict(list)
        self._resolved_upto = -1

    def refresh(self, reads: LedgerReads) -> int:
        """Count the decisions appended since the last refresh; the newest index counted."""
        with self._lock:
            while True:
                rows = reads.decision_rows_after(self._upto, BATCH)
                for index, day, agent, tier in rows:
                    self._counts[(day, agent, tier)] += 1
                    self._upto = index
                if len(rows) < BATCH:
                    break
            while True:  # approvals resolved since, filed by the day they were resolved
                done = reads.resolutions_after(self._resolved_upto, BATCH)
                for index, r in done:
                    self._resolutions[r.resolved_at[:10]].append(r)
                    self._resolved_upto = index
                if len(done) < BATCH:
                    return self._upto

    def resolutions(self, period: Period) -> list[Resolution]:
        """Approvals resolved in `period` (whole days; see `covers`), oldest first."""
        first, last = period.since.strftime("%Y-%m-%d"), period.until.strftime("%Y-%m-%d")
        with self._lock:
            days = sorted(d for d in self._resolutions if first <= d < last)
            return [r for d in days for r in self._resolutions[d]]

    @staticmethod
    def covers(period: Period) -> bool:
        """Whether `period` is whole UTC days (what the counts can answer exactly)."""
        return _midnight(period.since) and _midnight(period.until)

    def by(self, key: str, period: Period) -> list[tuple[str, str, int]]:
        """(day or agent, tier, count) in `period` (whole days; see `covers`)."""
        first, last = period.since.strftime("%Y-%m-%d"), period.until.strftime("%Y-%m-%d")
        out: dict[tuple[str, str], int] = defaultdict(int)
        with self._lock:
            for (day, agent, tier), n in self._counts.items():
                if first <= day < last:
                    out[(day if key == "day" else agent, tier)] += n
        return sorted((k, t, n) for (k, t), n in out.items())
