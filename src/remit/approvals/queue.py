"""The approval queue as recorded: pending decisions, their resolution, and resolving one
(approve / reject / expire) as a ledger entry appended under the ledger's lock, so two
replicas can never both resolve the same approval.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from remit.approvals.rules import (
    ApprovalRefused,
    ApprovalState,
    Pending,
    check_resolver,
    effective_state,
)
from remit.decide import GateState
from remit.identity.model import Identity
from remit.ledger.records import NewEntry, make_entry, parse_ts, ts_text
from remit.ledger.store import LedgerStore

_PENDING_SQL = (
    "SELECT a.decision_id, a.requested_by, a.on_behalf_of, a.request_digest, a.expires_at, "
    "x.state, x.actor, x.comment, x.ts, a.idx FROM approvals a "
    "LEFT JOIN approval_actions x ON x.decision_id = a.decision_id"
)


@dataclass(frozen=True)
class ApprovalRecord:
    """One approval and how it stands."""

    pending: Pending
    resolved_by: str | None
    comment: str | None
    resolved_at: str | None
    decision_index: int

    def state_at(self, now: datetime) -> ApprovalState:
        return effective_state(self.pending.state, self.pending.expires_at, now)

    def to_dict(self, now: datetime) -> dict[str, Any]:
        return {
            "decision_id": self.pending.decision_id,
            "state": self.state_at(now).value,
            "requested_by": self.pending.requested_by,
            "on_behalf_of": self.pending.on_behalf_of,
            "request_digest": self.pending.request_digest,
            "expires_at": ts_text(self.pending.expires_at),
            "resolved_by": self.resolved_by,
            "comment": self.comment,
            "resolved_at": self.resolved_at,
        }


def _record(row: Sequence[Any]) -> ApprovalRecord:
    did, by, obo, digest, expires, state, actor, comment, ts, idx = row
    pending = Pending(
        did,
        by,
        obo,
        digest,
        parse_ts(expires),
        ApprovalState(state) if state else ApprovalState.PENDING,
    )
    return ApprovalRecord(pending, actor, comment, ts, int(idx))


class ApprovalQueue:
    """Reads and resolves approvals over one ledger store."""

    def __init__(self, store: LedgerStore) -> None:
        self.store = store

    def get(self, decision_id: str) -> ApprovalRecord | None:
        rows = self.store.query(_PENDING_SQL + " WHERE a.decision_id = ?", (decision_id,))
        return _record(rows[0]) if rows else None

    def list(
        self, state: ApprovalState | None, now: datetime, limit: int = 200
    ) -> list[ApprovalRecord]:
        rows = self.store.query(_PENDING_SQL + " ORDER BY a.idx DESC LIMIT ?", (limit * 5,))
        records = [_record(r) for r in rows]
        if state is not None:
            records = [r for r in records if r.state_at(now) is state]
        return records[:limit]

    def resolve(
        self,
        decision_id: str,
        who: Identity,
        state: ApprovalState,
        comment: str,
        now: datetime,
        digest: str | None = None,
    ) -> ApprovalRecord:
        """Approve or reject, as `who`. Raises ApprovalRefused (with an HTTP-ish status)."""
        if state not in (ApprovalState.APPROVED, ApprovalState.REJECTED):
            raise ValueError("resolve() approves or rejects; expiry is recorded by expire_due()")

        def build(_state: GateState, _size: int) -> list[NewEntry]:
            record = self.get(decision_id)
            if record is None:
                raise ApprovalRefused(f"no approval is pending for decision {decision_id}", 404)
            check_resolver(record.pending, who, now, digest)
            return [self._entry(record, state, who.label, comment, now)]

        self.store.append_computed(build)
        found = self.get(decision_id)
        assert found is not None
        return found

    def expire_due(self, now: datetime, actor: str = "system:remit") -> int:
        """Record expiry (counts as deny) for every pending approval past its deadline."""

        due_sql = _PENDING_SQL + " WHERE a.expires_at <= ? AND x.state IS NULL"
        due = (ts_text(now),)
        if not self.store.query(due_sql + " LIMIT 1", due):
            return 0  # the usual case: no lock taken, decisions are not held up

        def build(_state: GateState, _size: int) -> list[NewEntry]:
            return [  # read again under the append lock: another replica may have been first
                self._entry(_record(r), ApprovalState.EXPIRED, actor, "approval timed out", now)
                for r in self.store.query(due_sql, due)
            ]

        _, indexes = self.store.append_computed(build)
        return len(indexes)

    def _entry(
        self, record: ApprovalRecord, state: ApprovalState, actor: str, comment: str, now: datetime
    ) -> NewEntry:
        decision = json.loads(self.store.entry(record.decision_index).body)["data"]["decision"]
        return make_entry(
            "approval",
            now,
            actor,
            {
                "decision_id": record.pending.decision_id,
                "state": state.value,
                "comment": comment,
                "request_digest": record.pending.request_digest,
                "agent": decision["agent"],
                "action": decision["action"],
                "rules": decision["rules"],
            },
        )
