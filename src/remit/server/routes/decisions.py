"""`/v1/decisions`: ask (recorded before the answer), read back with long-poll for a held
decision, and report the outcome of an action."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query

from remit.approvals.rules import ApprovalState, outcome_for
from remit.domain.requests import ActionRequest
from remit.identity.model import Identity, Role
from remit.ledger.records import make_entry
from remit.ledger.store import LedgerUnavailable
from remit.server.deps import require, runtime
from remit.server.runtime import EnvelopeUnavailable, Runtime
from remit.server.schemas import DecisionOut, OutcomeIn, OutcomeOut

router = APIRouter(prefix="/v1", tags=["decisions"])
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "missing or bad API key"},
    403: {"description": "role or agent may not do this"},
    404: {"description": "no such decision"},
    503: {"description": "ledger or envelope unavailable (nothing was allowed)"},
}


def decision_view(rt: Runtime, decision_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(decision JSON as recorded, request JSON) or 404."""
    entry = rt.store.decision_entry(decision_id)
    if entry is None:
        raise HTTPException(404, f"no decision {decision_id}")
    data = json.loads(entry.body)["data"]
    data["decision"]["ledger_index"] = entry.index
    return data["decision"], data["request"]


def to_out(
    rt: Runtime, d: dict[str, Any], fresh_approval: dict[str, Any] | None = None
) -> DecisionOut:
    now = rt.clock()
    approval = None
    state = None
    if d["tier"] == "approve" and fresh_approval is not None:
        state = ApprovalState.PENDING  # just recorded: nobody has resolved it yet
        approval = {
            "decision_id": d["id"],
            "state": "pending",
            "requested_by": d["actor"],
            "on_behalf_of": d.get("on_behalf_of"),
            **fresh_approval,
        }
    elif d["tier"] == "approve":
        rec = rt.approvals.get(d["id"])
        if rec is not None:
            state = rec.state_at(now)
            approval = rec.to_dict(now)
    batch = rt.envelope_view().loaded.envelope.defaults.batch_reads
    return DecisionOut.model_validate(
        {
            **d,
            "batchable": batch and d["tier"] == "autonomous" and d.get("rollback") == "not_needed",
            "status": (status := outcome_for(d["tier"], state)),
            "allowed": status == "allowed",
            "approval": approval,
            "recorded": d.get("recorded", True),
        }
    )


def _own(who: Identity, agent: str) -> None:
    if who.role is Role.AGENT and who.agent != agent:
        raise HTTPException(403, f"this key is bound to agent {who.agent!r}, not {agent!r}")


@router.post("/decisions", response_model=DecisionOut, responses=ERRORS)
async def create_decision(
    body: ActionRequest,
    who: Identity = Depends(require(Role.AGENT)),
    rt: Runtime = Depends(runtime),
) -> DecisionOut:
    """Decide one request. It is on the ledger before this answers; if it cannot be
    recorded the answer is deny with LEDGER_UNAVAILABLE."""
    _own(who, body.agent)
    try:
        decision = await asyncio.wrap_future(rt.submit(body, who))
    except EnvelopeUnavailable as exc:
        raise HTTPException(503, f"envelope unavailable, nothing is allowed: {exc}") from None
    rt.decided(decision, body)
    out = decision.to_dict()
    out["recorded"] = "recorded" not in decision.extra
    out["actor"] = who.label
    out["on_behalf_of"] = body.on_behalf_of
    fresh = decision.extra.get("approval")
    return to_out(rt, out, fresh if isinstance(fresh, dict) else None)


@router.get("/decisions/{decision_id}", response_model=DecisionOut, responses=ERRORS)
async def get_decision(
    decision_id: str,
    wait: float = Query(
        0,
        ge=0,
        le=120,
        description="Long-poll: wait up to this many seconds while the decision is pending.",
    ),
    who: Identity = Depends(require(Role.AGENT, Role.APPROVER, Role.AUDITOR)),
    rt: Runtime = Depends(runtime),
) -> DecisionOut:
    """A decision and what the agent may do now; with `wait`, returns as soon as a
    pending approval is resolved (on any replica) or the wait ends."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    while True:
        try:
            d, _ = await asyncio.to_thread(decision_view, rt, decision_id)
            _own(who, d["agent"])
            out = await asyncio.to_thread(to_out, rt, d)
        except LedgerUnavailable as exc:
            raise HTTPException(503, str(exc)) from None
        if out.status != "pending" or loop.time() >= deadline:
            return out
        await asyncio.sleep(min(0.2, max(0.0, deadline - loop.time())))


@router.post("/decisions/{decision_id}/outcome", response_model=OutcomeOut, responses=ERRORS)
def report_outcome(
    decision_id: str,
    body: OutcomeIn,
    who: Identity = Depends(require(Role.AGENT)),
    rt: Runtime = Depends(runtime),
) -> OutcomeOut:
    """Record what happened when the agent acted (or tried to)."""
    try:
        d, _ = decision_view(rt, decision_id)
    except LedgerUnavailable as exc:
        raise HTTPException(503, str(exc)) from None
    _own(who, d["agent"])
    status = to_out(rt, d).status
    ran_without_allow = status != "allowed" and body.status == "succeeded"
    entry = make_entry(
        "outcome",
        rt.clock(),
        who.label,
        {
            "decision_id": decision_id,
            "status": body.status,
            "error": body.error,
            "cloud_request_ids": body.cloud_request_ids,
            "decision_status": status,
            "ran_without_allow": ran_without_allow,
        },
    )
    try:
        (index,) = rt.store.append([entry])
    except LedgerUnavailable as exc:
        raise HTTPException(503, str(exc)) from None
    try:
        rt.grants.revoke(decision_id, f"outcome reported: {body.status}", who.label)
    except LedgerUnavailable as exc:
        raise HTTPException(503, f"outcome recorded, revocation not yet: {exc}") from None
    return OutcomeOut(
        decision_id=decision_id, ledger_index=index, ran_without_allow=ran_without_allow
    )
