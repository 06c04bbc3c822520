"""The rules of approving, pure: who may resolve a pending decision, whether it expired,
and what the agent may do as a result.

Separation of duties binds to a principal (the person or system a key is issued to: its
name), not to a key: no key of the principal that asked can approve, and the human named
in `on_behalf_of` cannot approve a request made for them. An approval is
bound to the digest of the exact request; an approval that names another digest is
refused. Past its deadline a pending approval counts as deny.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from remit.domain.clock import ts_text
from remit.errors import Conflict, Forbidden
from remit.identity.model import Identity, Role, principal_of_label, principal_of_name


class ApprovalState(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"
    """Not resolved by anyone: its outcome was reported first (the agent gave the call up,
    e.g. an MCP client that went away). Derived from the ledger, never recorded as a
    resolution; counts as deny."""


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
    """Raise Forbidden or Conflict unless `who` may approve or reject `pending` at `now`."""
    if who.role not in (Role.APPROVER, Role.ADMIN):
        raise Forbidden(f"role {who.role.value} cannot resolve approvals")
    if pending.state is ApprovalState.WITHDRAWN:
        raise Conflict(
            f"decision {pending.decision_id} was withdrawn: its outcome was reported before "
            "anyone resolved it (the agent gave the call up), so there is nothing left to "
            "approve or reject"
        )
    if pending.state is not ApprovalState.PENDING:
        raise Conflict(f"decision {pending.decision_id} is already {pending.state.value}")
    if now >= pending.expires_at:
        raise Conflict(
            f"the approval for {pending.decision_id} expired at "
            f"{ts_text(pending.expires_at)}; it counts as deny"
        )
    if who.principal == principal_of_label(pending.requested_by):
        raise Forbidden(
            f"separation of duties: {who.name} asked for this (with another key or this "
            "one) and cannot approve it"
        )
    if pending.on_behalf_of and who.principal == principal_of_name(pending.on_behalf_of):
        raise Forbidden(f"separation of duties: {who.name} is the person this request was made for")
    if digest is not None and digest != pending.request_digest:
        raise Conflict("the request you reviewed is not the one pending (digest mismatch)")


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
