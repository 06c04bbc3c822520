"""`/v1/approvals`: the queue of held decisions, with everything an approver must see, and
approve / reject with a comment (separation of duties enforced)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Response

from remit.approvals.queue import ApprovalRecord
from remit.approvals.rules import ApprovalState
from remit.identity.model import Identity, Role
from remit.server.deps import require, runtime
from remit.server.routes.decisions import ERRORS, decision_json, recorded_decision
from remit.server.runtime import Runtime
from remit.server.schemas import ApprovalDetailOut, ResolveIn

router = APIRouter(prefix="/v1/approvals", tags=["approvals"])
PAGE_DEFAULT = 100
PAGE_MAX = 500


def detail(rt: Runtime, rec: ApprovalRecord) -> ApprovalDetailOut:
    found = recorded_decision(rt, rec.pending.decision_id)
    blast: dict[str, Any] | None = None
    env = rt.envelope_view().loaded.envelope
    for rule in env.rules:
        if rule.id in found.record.rules and rule.blast_radius is not None:
            blast = {
                "rule": rule.id,
                **rule.blast_radius.model_dump(mode="json", exclude_none=True),
            }
    return ApprovalDetailOut(
        approval=rec.to_dict(rt.clock()),
        decision=decision_json(found),
        request=dict(found.record.request),
        blast_radius=blast,
        credential_preview=rt.grants.preview(rec.pending.decision_id),
    )


@router.get("", response_model=list[ApprovalDetailOut], responses=ERRORS)
def list_approvals(
    response: Response,
    state: ApprovalState | None = Query(
        ApprovalState.PENDING, description="Filter by state (omit for pending)."
    ),
    limit: int = Query(PAGE_DEFAULT, ge=1, le=PAGE_MAX, description="Page size."),
    cursor: int | None = Query(
        None,
        ge=0,
        le=2**62,
        description="Where the page starts: the `next` link of the previous page.",
    ),
    who: Identity = Depends(require(Role.APPROVER, Role.AUDITOR)),
    rt: Runtime = Depends(runtime),
) -> list[ApprovalDetailOut]:
    """Approvals in a state, newest first, each with the full request and reasons. Pages
    of `limit` (default 100, at most 500); when more follow, the `Link` header names the
    next page (`rel="next"`) and `X-Next-Cursor` its cursor."""
    records, next_cursor = rt.approvals.list(state, rt.clock(), limit, cursor)
    if next_cursor is not None:
        query = urlencode(
            {**({"state": state.value} if state else {}), "limit": limit, "cursor": next_cursor}
        )
        response.headers["Link"] = f'</v1/approvals?{query}>; rel="next"'
        response.headers["X-Next-Cursor"] = str(next_cursor)
    return [detail(rt, r) for r in records]


def _resolve(
    rt: Runtime, decision_id: str, who: Identity, state: ApprovalState, body: ResolveIn
) -> ApprovalDetailOut:
    rec = rt.approvals.resolve(
        decision_id, who, state, body.comment, rt.clock(), body.request_digest
    )
    return detail(rt, rec)


@router.post(
    "/{decision_id}/approve",
    response_model=ApprovalDetailOut,
    responses={**ERRORS, 409: {"description": "already resolved, expired, or digest mismatch"}},
)
def approve(
    decision_id: str,
    body: ResolveIn,
    who: Identity = Depends(require(Role.APPROVER)),
    rt: Runtime = Depends(runtime),
) -> ApprovalDetailOut:
    """Approve a held decision (recorded with your identity and comment)."""
    return _resolve(rt, decision_id, who, ApprovalState.APPROVED, body)


@router.post(
    "/{decision_id}/reject",
    response_model=ApprovalDetailOut,
    responses={**ERRORS, 409: {"description": "already resolved or expired"}},
)
def reject(
    decision_id: str,
    body: ResolveIn,
    who: Identity = Depends(require(Role.APPROVER)),
    rt: Runtime = Depends(runtime),
) -> ApprovalDetailOut:
    """Reject a held decision (recorded with your identity and comment)."""
    return _resolve(rt, decision_id, who, ApprovalState.REJECTED, body)
