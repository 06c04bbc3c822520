"""The questions services ask of the ledger, as typed methods: a recorded decision, its
grant and approval, the revoked sessions of a role, what is due, which sign-offs are on
record, what the gate needs (organisational events, rate-window counts).

`LedgerReads` answers from committed state; `LockedReads` (in `gate_reads`) answers
inside an append transaction, under the append lock, through that transaction — code
that decides what to append from what is recorded takes a `LockedReads`, so the type
says the reads and the append are one step.

Answers come from the index tables, and records from the entries themselves (parsed by
`records`); nothing outside `ledger/` writes SQL. Reads no wall clock: times are passed.
An index row is never authority on its own: where a read decides what a caller may do (a
decision, its approval, its grant, its preview), the row is checked against the entry it
names, and a row the entry does not give (forged, stale, pointing elsewhere) is
`LedgerUnavailable` — fail closed, and `remit ledger verify` names the table and entry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from remit.bulk_load import paused_collection
from remit.decide.state import Demotion, OrgEvent
from remit.domain.clock import parse_ts, ts_text
from remit.domain.tiers import Tier
from remit.ledger.errors import LedgerUnavailable
from remit.ledger.kinds import (
    DecisionRecord,
    EntryFormatError,
    EnvelopeVersionRecord,
    GrantRecord,
    OutcomeRecord,
    PreviewRecord,
    ReconciliationRecord,
    Record,
    RevocationRecord,
)
from remit.ledger.records import Recorded, StoredEntry
from remit.ledger.schema import INDEX_TABLES

Read = Callable[[str, Sequence[Any]], list[tuple[Any, ...]]]
"""Runs one query (already in the store's placeholder style) and returns its rows."""
Sql = Callable[[str], str]
"""Turns a query written with `?` placeholders into the store's style."""

R = TypeVar("R", bound=Record)


@dataclass(frozen=True, slots=True)
class ApprovalStanding:
    """A held decision's approval as recorded: what it is bound to and how it was
    resolved (`state` None: nobody resolved it yet, it may still have expired by time;
    `withdrawn`: its outcome was reported before anyone resolved it)."""

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


_REPORTED = "EXISTS (SELECT 1 FROM outcomes o WHERE o.decision_id = a.decision_id)"
"""The held decision's outcome was reported: whoever asked gave the call up (or ran it
without approval, which its outcome record flags), so nothing is left to resolve."""
_WITHDRAWN = f"x.state IS NULL AND {_REPORTED}"
_OPEN = f"x.state IS NULL AND NOT {_REPORTED}"
"""Nobody resolved it and nobody withdrew it: pending until its deadline, then expired."""

_APPROVALS = (
    "SELECT a.decision_id, a.idx, a.requested_by, a.on_behalf_of, a.request_digest, "
    f"a.expires_at, a.agent, CASE WHEN {_WITHDRAWN} THEN 'withdrawn' ELSE x.state END, "
    "x.actor, x.comment, x.ts FROM approvals a "
    "LEFT JOIN approval_actions x ON x.decision_id = a.decision_id"
)


@dataclass(frozen=True, slots=True)
class DecisionRow:
    """A decision as the `decisions` index lists it (no entry parsed)."""

    index: int
    id: str
    agent: str
    action: str
    tier: str
    ts: str
    actor: str


@dataclass(frozen=True, slots=True)
class EnvelopeVersionRow:
    """A recorded envelope version as indexed: where, which digest, its name and version."""

    index: int
    digest: str
    name: str
    version: str
    ts: str


@dataclass(frozen=True, slots=True)
class Resolution:
    """How a held decision's approval ended: who resolved it, when, and when it was held."""

    decision_id: str
    state: str
    actor: str
    comment: str
    resolved_at: str
    decided_at: str
    agent: str


def _standing(row: Sequence[Any]) -> ApprovalStanding:
    did, idx, by, obo, digest, expires, agent, state, actor, comment, ts = row
    return ApprovalStanding(
        str(did), int(idx), by, obo, digest, parse_ts(str(expires)), agent, state, actor,
        comment, ts,
    )  # fmt: skip


def _period(
    since: datetime | None, until: datetime | None, column: str = "ts"
) -> tuple[list[str], list[Any]]:
    where: list[str] = []
    params: list[Any] = []
    if since is not None:
        where.append(f"{column} >= ?")
        params.append(ts_text(since))
    if until is not None:
        where.append(f"{column} < ?")
        params.append(ts_text(until))
    return where, params


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

    def _recorded(self, index: int, kind: type[R], decision_id: str | None = None) -> Recorded[R]:
        """The entry at `index`, which must be a `kind` record (about `decision_id`, when
        given: where a row names a decision, the entry it points at must be about it)."""
        entry = self.entry(index)
        if entry is None:  # an index row without its entry: the index is not authority
            raise LedgerUnavailable(f"the index names ledger entry {index}, which is not there")
        try:
            got = entry.read_as(kind)
        except EntryFormatError as exc:
            raise LedgerUnavailable(f"damaged ledger: {exc}") from exc
        about = getattr(got.record, "decision_id", None)
        if isinstance(got.record, DecisionRecord):
            about = got.record.decision.get("id")
        if decision_id is not None and about != decision_id:
            raise LedgerUnavailable(
                f"the index names ledger entry {index} for decision {decision_id}, but that "
                f"entry is about {about!r}: the index was altered (run `remit ledger verify`)"
            )
        return got

    def _backed(self, table: str, row: Sequence[Any]) -> None:
        """Refuses a row of index `table` that the entry it names does not give."""
        cols = INDEX_TABLES[table]
        index = int(row[cols.index("idx")])
        entry = self.entry(index)
        try:
            recorded = entry.read() if entry is not None else None
        except EntryFormatError as exc:
            raise LedgerUnavailable(f"damaged ledger: {exc}") from exc
        derived = (
            []
            if recorded is None
            else [
                r.values
                for r in recorded.record.index_rows(index, recorded.ts, recorded.actor)
                if r.table == table
            ]
        )
        if tuple(row) not in derived:
            raise LedgerUnavailable(
                f"index table {table} holds a row for ledger entry {index} that the entry "
                "does not give: the index was altered (run `remit ledger verify`)"
            )

    # -- decisions -----------------------------------------------------------------------
    def decision(self, decision_id: str) -> Recorded[DecisionRecord] | None:
        """The recorded decision with this id, or None."""
        rows = self._rows("SELECT idx FROM decisions WHERE id = ?", (decision_id,))
        return self._recorded(int(rows[0][0]), DecisionRecord, decision_id) if rows else None

    def recent_decisions(self, limit: int = 50) -> list[Recorded[DecisionRecord]]:
        """The newest `limit` decisions, newest first."""
        rows = self._rows("SELECT id, idx FROM decisions ORDER BY idx DESC LIMIT ?", (limit,))
        return [self._recorded(int(i), DecisionRecord, str(d)) for d, i in rows]

    def decisions_page(
        self,
        *,
        limit: int,
        before: int | None = None,
        agent: str | None = None,
        tier: str | None = None,
        action: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[DecisionRow]:
        """Decisions matching the filters (exact agent, tier, action; time in [since,
        until)), newest first, at most `limit`, with ledger index below `before`."""
        where, params = _period(since, until)
        for column, value in (("agent", agent), ("tier", tier), ("action", action)):
            if value:
                where.append(f"{column} = ?")
                params.append(value)
        if before is not None:
            where.append("idx < ?")
            params.append(before)
        query = "SELECT idx, id, agent, action, tier, ts, actor FROM decisions"
        query += (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY idx DESC LIMIT ?"
        rows = self._rows(query, [*params, limit])
        return [DecisionRow(int(r[0]), str(r[1]), *map(str, r[2:])) for r in rows]

    def decision_counts(
        self,
        by: str,
        since: datetime | None = None,
        until: datetime | None = None,
        agent: str | None = None,
    ) -> list[tuple[str, str, int]]:
        """Decisions in [since, until) (of one `agent`, if given) counted by (`by` value,
        tier): `by` is `agent`, `action`, or `day` (the UTC date)."""
        column = {"agent": "agent", "action": "action", "day": "substr(ts, 1, 10)"}[by]
        where, params = _period(since, until)
        if agent is not None:
            where.append("agent = ?")
            params.append(agent)
        query = f"SELECT {column}, tier, COUNT(*) FROM decisions"
        query += (" WHERE " + " AND ".join(where)) if where else ""
        query += f" GROUP BY {column}, tier ORDER BY {column}, tier"
        return [(str(k), str(t), int(n)) for k, t, n in self._rows(query, params)]

    def decision_rows_after(self, after: int, limit: int) -> list[tuple[int, str, str, str]]:
        """Decisions with ledger index above `after`, oldest first, at most `limit`:
        (index, UTC day, agent, tier) — what running counts are kept from."""
        rows = self._rows(
            "SELECT idx, substr(ts, 1, 10), agent, tier FROM decisions WHERE idx > ? "
            "ORDER BY idx LIMIT ?",
            (after, limit),
        )
        return [(int(i), str(d), str(a), str(t)) for i, d, a, t in rows]

    def decisions_between(
        self, since: datetime | None, until: datetime | None, batch: int = 2000
    ) -> Iterator[Recorded[DecisionRecord]]:
        """Every decision recorded in [since, until), oldest first, parsed (in batches)."""
        where, params = _period(since, until)
        after = -1
        while True:
            query = "SELECT idx, id FROM decisions WHERE " + " AND ".join([*where, "idx > ?"])
            rows = self._rows(query + " ORDER BY idx LIMIT ?", [*params, after, batch])
            for idx, decision_id in rows:
                yield self._recorded(int(idx), DecisionRecord, str(decision_id))
            if len(rows) < batch:
                return
            after = int(rows[-1][0])

    def outcome(self, decision_id: str) -> Recorded[OutcomeRecord] | None:
        """The outcome reported for a decision, or None."""
        found = self.outcome_index(decision_id)
        return None if found is None else self._recorded(found, OutcomeRecord, decision_id)

    def revocations(self, decision_id: str) -> list[Recorded[RevocationRecord]]:
        """Revocations recorded for a decision's credentials, oldest first."""
        rows = self._rows(
            "SELECT idx FROM revocations WHERE decision_id = ? ORDER BY idx", (decision_id,)
        )
        return [self._recorded(int(r[0]), RevocationRecord, decision_id) for r in rows]

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
    def resolutions(
        self, since: datetime | None = None, until: datetime | None = None
    ) -> list[Resolution]:
        """Approvals resolved (approved, rejected, expired) in [since, until), oldest first,
        with when their decision was held."""
        where, params = _period(since, until, "x.ts")
        query = (
            "SELECT x.decision_id, x.state, x.actor, x.comment, x.ts, d.ts, d.agent "
            "FROM approval_actions x JOIN decisions d ON d.id = x.decision_id"
        )
        query += (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY x.idx"
        return [Resolution(*map(str, r)) for r in self._rows(query, params)]

    def resolutions_after(self, after: int, limit: int) -> list[tuple[int, Resolution]]:
        """Approvals resolved at ledger index above `after`, oldest first, at most `limit`,
        each with its index — what running approval figures are kept from."""
        rows = self._rows(
            "SELECT x.idx, x.decision_id, x.state, x.actor, x.comment, x.ts, d.ts, d.agent "
            "FROM approval_actions x JOIN decisions d ON d.id = x.decision_id "
            "WHERE x.idx > ? ORDER BY x.idx LIMIT ?",
            (after, limit),
        )
        return [(int(r[0]), Resolution(*map(str, r[1:]))) for r in rows]

    def pending_count(self, now: datetime) -> int:
        """How many held decisions await a person at `now`."""
        query = (
            "SELECT COUNT(*) FROM approvals a LEFT JOIN approval_actions x "
            f"ON x.decision_id = a.decision_id WHERE {_OPEN} AND a.expires_at > ?"
        )
        return int(self._rows(query, (ts_text(now),))[0][0])

    def approval(self, decision_id: str) -> ApprovalStanding | None:
        """The approval a held decision awaits or received, or None if it was not held.
        Authority (grants, a waiting agent's answer) comes from here, so both index rows
        are checked against their entries."""
        for table in ("approvals", "approval_actions"):
            cols = ", ".join(INDEX_TABLES[table])
            for row in self._rows(
                f"SELECT {cols} FROM {table} WHERE decision_id = ?", (decision_id,)
            ):
                self._backed(table, row)
        rows = self._rows(_APPROVALS + " WHERE a.decision_id = ?", (decision_id,))
        return _standing(rows[0]) if rows else None

    def approvals(
        self,
        state: str | None,
        now: datetime,
        limit: int,
        before: int | None = None,
    ) -> list[ApprovalStanding]:
        """Approvals in `state` as of `now` (`pending`, `approved`, `rejected`, `expired`,
        `withdrawn`; None for all), newest first, at most `limit`, only those whose
        decision index is below `before` (the cursor of the previous page). Filtered here,
        in the store, so a pending approval is found whatever the number of resolved ones."""
        where: list[str] = []
        params: list[Any] = []
        at = ts_text(now)
        if state == "pending":
            where.append(f"{_OPEN} AND a.expires_at > ?")
            params.append(at)
        elif state == "expired":
            where.append(f"(x.state = 'expired' OR ({_OPEN} AND a.expires_at <= ?))")
            params.append(at)
        elif state == "withdrawn":
            where.append(_WITHDRAWN)
        elif state is not None:
            where.append("x.state = ?")
            params.append(state)
        if before is not None:
            where.append("a.idx < ?")
            params.append(before)
        query = _APPROVALS + (" WHERE " + " AND ".join(where) if where else "")
        rows = self._rows(query + " ORDER BY a.idx DESC LIMIT ?", [*params, limit])
        return [_standing(r) for r in rows]

    def tier_counts(self) -> dict[str, int]:
        """How many decisions are recorded, by tier."""
        rows = self._rows("SELECT tier, COUNT(*) FROM decisions GROUP BY tier")
        return {str(t): int(n) for t, n in rows}

    def approvals_due(self, now: datetime, limit: int | None = None) -> list[ApprovalStanding]:
        """Approvals nobody resolved or withdrew whose deadline is at or before `now`."""
        query = _APPROVALS + f" WHERE a.expires_at <= ? AND {_OPEN} ORDER BY a.idx"
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
        return self._recorded(int(rows[0][0]), GrantRecord, decision_id) if rows else None

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
        return self._recorded(int(rows[0][0]), PreviewRecord, decision_id) if rows else None

    # -- governance ----------------------------------------------------------------------
    def access_log(self, limit: int = 50) -> list[tuple[int, str, str, str]]:
        """The newest sign-ins and exports: (index, action, subject, time), newest first."""
        rows = self._rows(
            "SELECT idx, action, subject, ts FROM access ORDER BY idx DESC LIMIT ?", (limit,)
        )
        return [(int(i), str(a), str(s), str(t)) for i, a, s, t in rows]

    def signoff_indexes(self, below: int) -> list[int]:
        """Ledger indexes of the sign-offs recorded before index `below`, oldest first."""
        rows = self._rows("SELECT idx FROM signoffs WHERE idx < ? ORDER BY idx", (below,))
        return [int(r[0]) for r in rows]

    def signoff_ids(self) -> set[str]:
        """Ids of the sign-offs already on the ledger."""
        return {str(r[0]) for r in self._rows("SELECT id FROM signoffs")}

    def envelope_versions(self) -> list[EnvelopeVersionRow]:
        """Every envelope version recorded, newest first."""
        rows = self._rows(
            "SELECT idx, digest, name, version, ts FROM envelope_versions ORDER BY idx DESC"
        )
        return [
            EnvelopeVersionRow(int(i), str(d), str(n), str(v), str(t)) for i, d, n, v, t in rows
        ]

    def envelope_version(self, digest: str) -> Recorded[EnvelopeVersionRecord] | None:
        """The recorded envelope version with this digest."""
        rows = self._rows("SELECT idx FROM envelope_versions WHERE digest = ?", (digest,))
        return self._recorded(int(rows[0][0]), EnvelopeVersionRecord) if rows else None

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

    # -- CloudTrail reconciliation --------------------------------------------------------
    def decisions_and_grants(
        self,
    ) -> list[tuple[Recorded[DecisionRecord], Recorded[GrantRecord] | None]]:
        """Every decision with the grant issued for it (None if none), oldest first: what a
        reconciliation joins cloud events to. One query: entries are read with their index
        rows, not one by one."""
        rows = self._rows(
            "SELECT d.idx, de.kind, de.ts, de.body, g.idx, ge.kind, ge.ts, ge.body "
            "FROM decisions d JOIN entries de ON de.idx = d.idx "
            "LEFT JOIN grants g ON g.decision_id = d.id "
            "LEFT JOIN entries ge ON ge.idx = g.idx ORDER BY d.idx"
        )
        out: list[tuple[Recorded[DecisionRecord], Recorded[GrantRecord] | None]] = []
        try:
            with paused_collection():  # every decision at once: half the time went to GC
                for di, dk, dt, db, gi, gk, gt, gb in rows:
                    decision = StoredEntry(int(di), dk, dt, bytes(db)).read_as(DecisionRecord)
                    grant = None
                    if gi is not None:
                        grant = StoredEntry(int(gi), gk, gt, bytes(gb)).read_as(GrantRecord)
                    out.append((decision, grant))
        except EntryFormatError as exc:
            raise LedgerUnavailable(f"damaged ledger: {exc}") from exc
        return out

    def revocation_times(self) -> dict[str, datetime]:
        """Decision id → when its credentials were first revoked on the ledger."""
        rows = self._rows("SELECT decision_id, MIN(ts) FROM revocations GROUP BY decision_id")
        return {str(d): parse_ts(str(t)) for d, t in rows}

    def reconciliations(self, limit: int = 1) -> list[Recorded[ReconciliationRecord]]:
        """The newest `limit` reconciliation runs, newest first."""
        rows = self._rows("SELECT idx FROM reconciliations ORDER BY idx DESC LIMIT ?", (limit,))
        return [self._recorded(int(r[0]), ReconciliationRecord) for r in rows]

    def demotions(self, agent: str) -> Sequence[Demotion]:
        """`agent`'s drift demotions that no recorded review has ended, oldest first."""
        rows = self._rows(
            "SELECT d.finding_id, d.floor, d.idx FROM demotions d WHERE d.agent = ? AND NOT "
            "EXISTS (SELECT 1 FROM drift_reviews r WHERE r.finding_id = d.finding_id) "
            "ORDER BY d.idx",
            (agent,),
        )
        return [Demotion(str(f), Tier(str(t)), int(i)) for f, t, i in rows]
