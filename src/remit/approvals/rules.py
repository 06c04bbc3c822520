"""The rules of approving, pure: who may resolve a pending decision, whether it expired,
and what the agent may do as a result.

Separation of duties: the requesting identity can never approve its own request, and a
human named in `on_behalf_of` cannot approve a request made for them. An approval is
bound to the digest of the exact request; an approval that names another digest is
refused. Past its deadline a pending approval counts as deny.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from remit.identity.model import Identity, Role


class ApprovalState(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"


class ApprovalRefused(ValueError):
    """Why this identity cannot resolve this approval (the message is shown to them)."""

    def __init__(self, message: str, status: int = 403) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Pending:
    """What the approval rules need to know about one held decision."""

    decision_id: str
    requested_by: str  # the identity label that asked
    on_behalf_of: str | None
    request_digest: str
    expires_at: datetime
    state: ApprovalState


def effective_state(state: ApprovalState, expires_at: datetime, now: datetime) -> ApprovalState:
    """A pending approval past its deadline is expired, whether or not that was recorded."""
    if state is ApprovalState.PENDING and now >= expires_at:
        return ApprovalState.EXPIRED
    return state


def check_resolver(
    pending: Pending, who: Identity, now: datetime, digest: str | None = None
) -> None:
    """Raise ApprovalRefused unless `who` may approve or reject `pending` at `now`."""
    if who.role not in (Role.APPROVER, Role.ADMIN):
        raise ApprovalRefused(f"role {who.role.value} cannot resolve approvals")
    if pending.state is not ApprovalState.PENDING:
        raise ApprovalRefused(
            f"decision {pending.decision_id} is already {pending.state.value}", 409
        )
    if now >= pending.expires_at:
        raise ApprovalRefused(
            f"the approval for {pending.decision_id} expired at "
            f"{pending.expires_at.isoformat()}; it counts as deny",
            409,
        )
    if who.label == pending.requested_by:
        raise ApprovalRefused("separation of duties: the requesting identity cannot approve")
    if pending.on_behalf_of and who.name.lower() == pending.on_behalf_of.lower():
        raise ApprovalRefused(
            f"separation of duties: {who.name} is the person this request was made for"
        )
    if digest is not None and digest != pending.request_digest:
        raise ApprovalRefused(
            "the request you reviewed is not the one pending (digest mismatch)", 409
        )


def outcome_for(tier: str, state: ApprovalState | None) -> str:
    """What the agent may do: `allowed`, `pending` or `denied`."""
    if tier in ("autonomous", "notify"):
        return "allowed"
    if tier == "approve":
        if state is ApprovalState.APPROVED:
            return "allowed"
        if state in (None, ApprovalState.PENDING):
            return "pending"
    return "denied"
