"""What a stored trail holds: how many events, from when to when, by which principals,
which IAM actions, which calls map to no IAM action, which errors. Read-only SQL over the
`events` table (plain SQL, so it also runs on Athena/Trino over the S3 trail).
It does not ingest (`ingest`) or judge events (`reconcile`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from remit.cloudtrail.store import TrailStore
from remit.domain.clock import ts_text


@dataclass(frozen=True, slots=True)
class TrailStats:
    """Counts, most frequent first (ties by name)."""

    events: int
    first: datetime | None
    last: datetime | None
    principals: list[tuple[str, int]]
    actions: list[tuple[str, int]]
    unmapped: list[tuple[str, int]]
    kinds: list[tuple[str, int]]
    errors: list[tuple[str, int]]

    def to_json(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "first": ts_text(self.first) if self.first else None,
            "last": ts_text(self.last) if self.last else None,
            "principals": dict(self.principals),
            "actions": dict(self.actions),
            "unmapped": dict(self.unmapped),
            "kinds": dict(self.kinds),
            "errors": dict(self.errors),
        }


def _counts(store: TrailStore, expr: str, where: str = "TRUE") -> list[tuple[str, int]]:
    rows = store.con.execute(
        f"SELECT {expr} AS k, count(*) AS n FROM events WHERE {where} GROUP BY k ORDER BY n DESC, k"
    ).fetchall()
    return [(str(k), int(n)) for k, n in rows]


def trail_stats(store: TrailStore) -> TrailStats:
    """The summary of everything stored."""
    row = store.con.execute(
        "SELECT count(*), min(event_time), max(event_time) FROM events"
    ).fetchone()
    assert row is not None
    return TrailStats(
        events=int(row[0]),
        first=row[1],
        last=row[2],
        principals=_counts(store, "principal"),
        actions=_counts(store, "iam_action", "iam_action IS NOT NULL"),
        unmapped=_counts(store, "event_source || ':' || event_name", "kind = 'unmapped'"),
        kinds=_counts(store, "kind"),
        errors=_counts(store, "error_code", "error_code IS NOT NULL"),
    )
