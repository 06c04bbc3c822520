"""`DecisionRecorder.decide`: gate + ledger, atomically, failing closed.

The gate runs inside the ledger's append lock with the state as of that moment, so a
rate window is counted and the action it admits is recorded in one step, whichever
process appends. Any storage failure turns the answer into deny `LEDGER_UNAVAILABLE`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from remit.decide import Gate, GateState
from remit.domain.decisions import Decision, Reason
from remit.domain.ids import new_id
from remit.domain.reasons import ReasonCode
from remit.domain.requests import ActionRequest
from remit.domain.tiers import Tier
from remit.ledger.log import Ledger
from remit.ledger.records import NewEntry
from remit.ledger.store import LedgerUnavailable


def _utcnow() -> datetime:
    return datetime.now(UTC)


class DecisionRecorder:
    """Decides requests with `gate` and records each decision on `ledger` first."""

    def __init__(self, gate: Gate, ledger: Ledger, clock: Callable[[], datetime] = _utcnow) -> None:
        self.gate = gate
        self.ledger = ledger
        self.clock = clock

    def decide(self, request: ActionRequest, actor: str, now: datetime | None = None) -> Decision:
        """The recorded decision, or deny LEDGER_UNAVAILABLE if it could not be recorded."""
        at = now or self.clock()
        did = new_id("dec", at)
        made: list[Decision] = []

        def build(state: GateState, _size: int) -> Sequence[NewEntry]:
            decision = self.gate.decide(request, at, state, decision_id=did)
            made.append(decision)
            expires = at + self.gate.envelope.defaults.approval_timeout
            return [Ledger.decision_entry(request, decision, actor, expires)]

        try:
            _, indexes = self.ledger.store.append_computed(build)
        except LedgerUnavailable as exc:
            return self._unrecorded(request, did, at, made, str(exc))
        except Exception as exc:  # never answer allow for an unrecorded decision
            return self._unrecorded(request, did, at, made, f"{type(exc).__name__}: {exc}")
        return dataclasses.replace(made[-1], extra={"ledger_index": indexes[0]})

    def _unrecorded(
        self,
        request: ActionRequest,
        did: str,
        at: datetime,
        made: list[Decision],
        why: str,
    ) -> Decision:
        reason = Reason(
            ReasonCode.LEDGER_UNAVAILABLE,
            f"The decision could not be recorded on the ledger ({why}); an unrecorded "
            "decision is never an allow.",
        )
        if made:
            return dataclasses.replace(
                made[-1],
                tier=Tier.DENY,
                reasons=(*made[-1].reasons, reason),
                extra={"recorded": False},
            )
        return Decision(
            did,
            Tier.DENY,
            (reason,),
            (),
            self.gate.ref,
            at,
            request.agent,
            request.action,
            extra={"recorded": False},
        )
