"""The approval queue as recorded: pending decisions, their resolution, and resolving one
(approve / reject / expire) as a ledger entry appended under the ledger's lock, so two
replicas can never both resolve the same approval. Reads through the ledger's typed
reads; holds no SQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from remit.approvals.rules import (
    ApprovalState,
    Pending,
    check_resolver,
    effective_state,
)
from remit.domain.clock import ts_text
from remit.errors import NotFound
from remit.identity.model import Identity
from remit.ledger.gate_reads import LockedReads
from remit.ledger.kinds import ApprovalResolution, DecisionRecord
from remit.ledger.reads import ApprovalStanding, LedgerReads
from remit.ledger.records import NewEntry, make_entry
from remit.ledger.store import LedgerStore, LedgerUnavailable


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


def _record(s: ApprovalStanding) -> ApprovalRecord:
    state = ApprovalState(s.state) if s.state else ApprovalState.PENDING
    pending = Pending(
        s.decision_id, s.requested_by, s.on_behalf_of, s.request_digest, s.expires_at, state
    )
    return ApprovalRecord(pending, s.resolved_by, s.comment, s.resolved_at, s.decision_index)


class ApprovalQueue:
    """Reads and resolves approvals over one ledger store."""

    def __init__(self, store: LedgerStore) -> None:
        self.store = store

    def get(self, decision_id: str) -> ApprovalRecord | None:
        return self._get(self.store.reads, decision_id)

    @staticmethod
    def _get(reads: LedgerReads, decision_id: str) -> ApprovalRecord | None:
        found = reads.approval(decision_id)
        return _record(found) if found else None

    def list(
        self,
        state: ApprovalState | None,
        now: datetime,
        limit: int = 100,
        before: int | None = None,
    ) -> tuple[list[ApprovalRecord], int | None]:
        """One page of approvals in `state` (None: all), newest first, and the cursor of
        the next page (None when this is the last)."""
        found = self.store.reads.approvals(state.value if state else None, now, limit, before)
        records = [_record(s) for s in found]
        more = len(records) == limit
        return records, records[-1].decision_index if more and records else None

    def resolve(
        self,
        decision_id: str,
        who: Identity,
        state: ApprovalState,
        comment: str,
        now: datetime,
        digest: str | None = None,
    ) -> ApprovalRecord:
        """Approve or reject, as `who`. Raises NotFound, Forbidden (separation of duties,
        role) or Conflict (already resolved, expired, digest mismatch, or withdrawn: the
        decision's outcome was reported first)."""
        if state not in (ApprovalState.APPROVED, ApprovalState.REJECTED):
            raise ValueError("resolve() approves or rejects; expiry is recorded by expire_due()")

        def build(locked: LockedReads, _size: int) -> list[NewEntry]:
            record = self._get(locked, decision_id)
            if record is None:
                raise NotFound(f"no approval is pending for decision {decision_id}")
            check_resolver(record.pending, who, now, digest)  # a withdrawn one: Conflict
            return [self._entry(locked, record, state, who.label, comment, now)]

        try:
            self.store.append_computed(build)
        except LedgerUnavailable as exc:
            raise LedgerUnavailable(f"not recorded, so not resolved: {exc}") from exc
        found = self.get(decision_id)
        assert found is not None
        return found

    def expire_due(self, now: datetime, actor: str = "system:remit") -> int:
        """Record expiry (counts as deny) for every pending approval past its deadline."""
        if not self.store.reads.approvals_due(now, limit=1):
            return 0  # the usual case: no lock taken, decisions are not held up

        def build(locked: LockedReads, _size: int) -> list[NewEntry]:
            return [  # read again under the append lock: another replica may have been first
                self._entry(
                    locked, _record(s), ApprovalState.EXPIRED, actor, "approval timed out", now
                )
                for s in locked.approvals_due(now)
            ]

        _, indexes = self.store.append_computed(build)
        return len(indexes)

    @staticmethod
    def _entry(
        locked: LockedReads,
        record: ApprovalRecord,
        state: ApprovalState,
        actor: str,
        comment: str,
        now: datetime,
    ) -> NewEntry:
        entry = locked.entry(record.decision_index)
        if entry is None:
            raise LookupError(f"approval {record.pending.decision_id} has no decision entry")
        decision = entry.read_as(DecisionRecord).record
        resolution = ApprovalResolution(
            record.pending.decision_id,
            state.value,  # type: ignore[arg-type]
            comment,
            record.pending.request_digest,
            decision.agent,
            decision.action,
            decision.rules,
        )
        return make_entry(resolution, now, actor)
