"""The questions services ask of the ledger, as typed methods: a recorded decision, its
grant and approval, the revoked sessions of a role, what is due, which sign-offs are on
record, what the gate needs (organisational events, rate-window counts).

`LedgerReads` answers from committed state; `LockedReads` (in `gate_reads`) answers
inside an append transaction, under the append lock, through that transaction — code
that decides what to append from what is recorded takes a `LockedReads`, so the type
says the reads and the append are one step.

Answers come from the index tables, and records from the entries themselves (parsed by
`records`); nothing outside `ledger/` writes SQL. Reads no wall clock: times are passed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from remit.decide.state import OrgEvent
from remit.domain.clock import parse_ts, ts_text
from remit.ledger.errors import LedgerUnavailable
from remit.ledger.kinds import (
    DecisionRecord,
    EntryFormatError,
    GrantRecord,
    PreviewRecord,
    Record,
)
from remit.ledger.records import Recorded, StoredEntry

Read = Callable[[str, Sequence[Any]], list[tuple[Any, ...]]]
"""Runs one query (already in the store's placeholder style) and returns its rows."""
Sql = Callable[[str], str]
"""Turns a query written with `?` placeholders into the store's style."""

R = TypeVar("R", bound=Record)


@dataclass(frozen=True, slots=True)
class ApprovalStanding:
    """A held decision's approval as recorded: what it is bound to and how it was
    resolved (`state` None: nobody resolved it yet; it may still have expired by time)."""

    decision_id: str
    decision_index: int
    requested_by: str
    on_behalf_of: str | None
    request_digest: str
    expires_at: datetime
    agent: str
    state: str | None
    resolved_by: str | None
    comment: str | None
    resolved_at: str | None


_APPROVALS = (
    "SELECT a.decision_id, a.idx, a.requested_by, a.on_behalf_of, a.request_digest, "
    "a.expires_at, a.agent, x.state, x.actor, x.comment, x.ts FROM approvals a "
    "LEFT JOIN approval_actions x ON x.decision_id = a.decision_id"
)


def _standing(row: Sequence[Any]) -> ApprovalStanding:
    did, idx, by, obo, digest, expires, agent, state, actor, comment, ts = row
    return ApprovalStanding(
        str(did), int(idx), by, obo, digest, parse_ts(str(expires)), agent, state, actor,
        comment, ts,
    )  # fmt: skip


class LedgerReads:
    """Typed reads over one connection's view of the ledger."""

    def __init__(self, sql: Sql, read: Read) -> None:
        self._sql = sql
        self._read = read

    def _rows(self, query: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self._read(self._sql(query), params)

    # -- entries -------------------------------------------------------------------------
    def entry(self, index: int) -> StoredEntry | None:
        rows = self._rows("SELECT idx, kind, ts, body FROM entries WHERE idx = ?", (index,))
        if not rows:
            return None
        i, k, t, b = rows[0]
        return StoredEntry(int(i), k, t, bytes(b))

    def _recorded(self, index: int, kind: type[R]) -> Recorded[R]:
        entry = self.entry(index)
        if entry is None:  # an index row without its entry: the index is not authority
            raise LedgerUnavailable(f"the index names ledger entry {index}, which is not there")
        try:
            return entry.read_as(kind)
        except EntryFormatError as exc:
            raise LedgerUnavailable(f"damaged ledger: {exc}") from exc

    # -- decisions -----------------------------------------------------------------------
    def decision(self, decision_id: str) -> Recorded[DecisionRecord] | None:
        """The recorded decision with this id, or None."""
        rows = self._rows("SELECT idx FROM decisions WHERE id = ?", (decision_id,))
        return self._recorded(int(rows[0][0]), DecisionRecord) if rows else None

    def recent_decisions(self, limit: int = 50) -> list[Recorded[DecisionRecord]]:
        """The newest `limit` decisions, newest first."""
        rows = self._rows("SELECT idx FROM decisions ORDER BY idx DESC LIMIT ?", (limit,))
        return [self._recorded(int(r[0]), DecisionRecord) for r in rows]

    def find_decisions(
        self,
        *,
        agent: str | None = None,
        tier: str | None = None,
        action: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 50,
    ) -> list[Recorded[DecisionRecord]]:
        """Recorded decisions matching every filter given (times: when recorded, `since`
        inclusive, `until` exclusive), newest first, at most `limit`."""
        where: list[str] = []
        params: list[Any] = []
        for column, value in (("agent", agent), ("tier", tier), ("action", action)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if since is not None:
            where.append("ts >= ?")
            params.append(ts_text(since))
        if until is not None:
            where.append("ts < ?")
            params.append(ts_text(until))
        query = "SELECT idx FROM decisions"
        if where:
            query += " WHERE " + " AND ".join(where)
        rows = self._rows(query + " ORDER BY idx DESC LIMIT ?", (*params, limit))
        return [self._recorded(int(r[0]), DecisionRecord) for r in rows]

    def all_events(self, limit: int = 1000) -> list[OrgEvent]:
        """Every recorded organisational event, whatever its kind, newest first."""
        rows = self._rows(
            "SELECT idx, kind, at, note FROM events ORDER BY idx DESC LIMIT ?", (limit,)
        )
        return [OrgEvent(k, parse_ts(a), n, int(i)) for i, k, a, n in rows]

    # -- approvals -----------------------------------------------------------------------
    def approval(self, decision_id: str) -> ApprovalStanding | None:
        """The approval a held decision awaits or received, or None if it was not held."""
        rows = self._rows(_APPROVALS + " WHERE a.decision_id = ?", (decision_id,))
        return _standing(rows[0]) if rows else None

    def approvals(
        self,
        state: str | None,
        now: datetime,
        limit: int,
        before: int | None = None,
    ) -> list[ApprovalStanding]:
        """Approvals in `state` as of `now` (`pending`, `approved`, `rejected`, `expired`;
        None for all), newest first, at most `limit`, only those whose decision index is
        below `before` (the cursor of the previous page). Filtered here, in the store, so
        a pending approval is found whatever the number of resolved ones."""
        where: list[str] = []
        params: list[Any] = []
        at = ts_text(now)
        if state == "pending":
            where.append("x.state IS NULL AND a.expires_at > ?")
            params.append(at)
        elif state == "expired":
            where.append("(x.state = 'expired' OR (x.state IS NULL AND a.expires_at <= ?))")
            params.append(at)
        elif state is not None:
            where.append("x.state = ?")
            params.append(state)
        if before is not None:
            where.append("a.idx < ?")
            params.append(before)
        query = _APPROVALS + (" WHERE " + " AND ".join(where) if where else "")
        rows = self._rows(query + " ORDER BY a.idx DESC LIMIT ?", [*params, limit])
        return [_standing(r) for r in rows]

    def decision_counts(self) -> dict[str, int]:
        """How many decisions are recorded, by tier."""
        rows = self._rows("SELECT tier, COUNT(*) FROM decisions GROUP BY tier")
        return {str(t): int(n) for t, n in rows}

    def pending_approvals_count(self, now: datetime) -> int:
        """How many held decisions await a person as of `now`."""
        query = (
            "SELECT COUNT(*) FROM approvals a LEFT JOIN approval_actions x "
            "ON x.decision_id = a.decision_id WHERE x.state IS NULL AND a.expires_at > ?"
        )
        return int(self._rows(query, (ts_text(now),))[0][0])

    def approvals_due(self, now: datetime, limit: int | None = None) -> list[ApprovalStanding]:
        """Approvals nobody resolved whose deadline is at or before `now`."""
        query = _APPROVALS + " WHERE a.expires_at <= ? AND x.state IS NULL ORDER BY a.idx"
        params: list[Any] = [ts_text(now)]
        if limit is not None:
            query += " LIMIT ?"
            params.append(limit)
        return [_standing(r) for r in self._rows(query, params)]

    def outcome_index(self, decision_id: str) -> int | None:
        """The ledger index of the outcome reported for a decision, or None."""
        rows = self._rows("SELECT MIN(idx) FROM outcomes WHERE decision_id = ?", (decision_id,))
        return None if not rows or rows[0][0] is None else int(rows[0][0])

    # -- grants and revocations ----------------------------------------------------------
    def grant(self, decision_id: str) -> Recorded[GrantRecord] | None:
        """The credentials issued for a decision (what they could do), or None."""
        rows = self._rows("SELECT idx FROM grants WHERE decision_id = ?", (decision_id,))
        return self._recorded(int(rows[0][0]), GrantRecord) if rows else None

    def has_grant(self, decision_id: str) -> bool:
        return bool(self._rows("SELECT 1 FROM grants WHERE decision_id = ?", (decision_id,)))

    def live_claim(self, decision_id: str, since: datetime) -> int | None:
        """The ledger index of an unreleased grant claim for the decision made at or after
        `since`, if its latest claim is one; else None."""
        rows = self._rows(
            "SELECT idx, released, ts FROM grant_claims WHERE decision_id = ? "
            "ORDER BY idx DESC LIMIT 1",
            (decision_id,),
        )
        if not rows or bool(rows[0][1]) or str(rows[0][2]) < ts_text(since):
            return None
        return int(rows[0][0])

    def is_revoked(self, decision_id: str) -> bool:
        """True once a revocation of the decision's credentials is recorded."""
        return bool(self._rows("SELECT 1 FROM revocations WHERE decision_id = ?", (decision_id,)))

    def granted_roles(self) -> list[str]:
        """Every role credentials were ever issued for."""
        return [str(r[0]) for r in self._rows("SELECT DISTINCT role_arn FROM grants")]

    def revoked_sessions(self, role_arn: str, now: datetime) -> list[tuple[str, datetime]]:
        """`role_arn`'s revoked sessions that have not expired at `now`: (decision id, when
        its grant was recorded — at or after the session was issued), by decision id."""
        rows = self._rows(
            "SELECT DISTINCT g.decision_id, g.ts FROM grants g "
            "JOIN revocations r ON r.decision_id = g.decision_id "
            "WHERE g.role_arn = ? AND g.expires_at > ?",
            (role_arn, ts_text(now)),
        )
        return sorted((str(d), parse_ts(str(t))) for d, t in rows)

    def grants_due(self, now: datetime) -> list[str]:
        """Decisions whose grant time is up at `now`, still live, and never revoked."""
        rows = self._rows(
            "SELECT g.decision_id FROM grants g "
            "WHERE g.revoke_at <= ? AND g.expires_at > ? AND NOT EXISTS "
            "(SELECT 1 FROM revocations r WHERE r.decision_id = g.decision_id)",
            (ts_text(now), ts_text(now)),
        )
        return [str(r[0]) for r in rows]

    def revocations_to_retry(self, now: datetime) -> list[str]:
        """Live sessions revoked on the ledger but never applied by the cloud."""
        rows = self._rows(
            "SELECT r.decision_id FROM revocations r "
            "JOIN grants g ON g.decision_id = r.decision_id "
            "WHERE g.expires_at > ? GROUP BY r.decision_id "
            "HAVING MAX(CASE WHEN r.applied THEN 1 ELSE 0 END) = 0",
            (ts_text(now),),
        )
        return [str(r[0]) for r in rows]

    def preview(self, decision_id: str) -> Recorded[PreviewRecord] | None:
        """The credential preview kept for a decision, or None."""
        rows = self._rows("SELECT idx FROM previews WHERE decision_id = ?", (decision_id,))
        return self._recorded(int(rows[0][0]), PreviewRecord) if rows else None

    # -- governance ----------------------------------------------------------------------
    def signoff_ids(self) -> set[str]:
        """Ids of the sign-offs already on the ledger."""
        return {str(r[0]) for r in self._rows("SELECT id FROM signoffs")}

    # -- what the gate reads (GateState) --------------------------------------------------
    def events_after(self, after: datetime | None, kinds: frozenset[str]) -> Sequence[OrgEvent]:
        """Recorded events of `kinds` strictly after `after` (all if None), oldest first."""
        if not kinds:
            return []
        marks = ",".join("?" for _ in kinds)
        query = f"SELECT idx, kind, at, note FROM events WHERE kind IN ({marks})"
        params: list[Any] = sorted(kinds)
        if after is not None:
            query += " AND at > ?"
            params.append(ts_text(after))
        rows = self._rows(query + " ORDER BY at", params)
        return [OrgEvent(k, parse_ts(a), n, int(i)) for i, k, a, n in rows]

    def actions_in_window(self, agent: str, rule_id: str, since: datetime) -> int:
        """How many actions `agent` ran under `rule_id` at or after `since`."""
        query = "SELECT COUNT(*) FROM window_actions WHERE agent = ? AND rule_id = ? AND ts >= ?"
        return int(self._rows(query, (agent, rule_id, ts_text(since)))[0][0])

    def action_times(self, agent: str, rule_id: str, since: datetime) -> list[datetime]:
        """When `agent` ran actions under `rule_id` at or after `since`, oldest first."""
        query = (
            "SELECT ts FROM window_actions WHERE agent = ? AND rule_id = ? AND ts >= ? ORDER BY ts"
        )
        return [parse_ts(str(r[0])) for r in self._rows(query, (agent, rule_id, ts_text(since)))]
