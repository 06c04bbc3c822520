"""`/v1/decisions`: ask (recorded before the answer), read back with long-poll for a held
decision, and report the outcome of an action."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response

from remit.identity.model import Identity, Role
from remit.ledger.records import make_entry
from remit.ledger.store import LedgerUnavailable
from remit.server.deps import BEARER, caller, require, runtime
from remit.server.runtime import EnvelopeUnavailable, Runtime
from remit.server.schemas import SCHEMA_REF, DecisionOut, OutcomeIn, OutcomeOut
from remit.server.views import not_your_agent, present
from remit.server.writer import Status

JSON = "application/json"

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


def to_out(rt: Runtime, d: dict[str, Any]) -> DecisionOut:
    """The view of a recorded decision as it stands now (its approval read from the queue)."""
    approval = state = None
    if d["tier"] == "approve":
        rec = rt.approvals.get(d["id"])
        if rec is not None:
            now = rt.clock()
            state = rec.state_at(now)
            approval = rec.to_dict(now)
    batch = rt.envelope_view().loaded.envelope.defaults.batch_reads
    return present(d, batch_reads=batch, approval=approval, state=state)


def _own(who: Identity, agent: str) -> None:
    if who.role is Role.AGENT and who.agent != agent:
        raise HTTPException(403, not_your_agent(who.agent, agent))


@router.post(
    "/decisions",
    response_model=DecisionOut,
    responses={**ERRORS, 422: {"description": "invalid body: each field and what is wrong"}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": SCHEMA_REF + "ActionRequest"}}},
        },
        "security": BEARER,
    },
)
async def create_decision(request: Request) -> Response:
    """Decide one request. It is on the ledger before this answers; if it cannot be
    recorded the answer is deny with LEDGER_UNAVAILABLE.

    The hot path: the key is checked here, directly rather than through FastAPI's
    dependency machinery; the body goes as received to the decision writer, which
    validates it (422, the same errors as every other route) and checks the agent the key
    is bound to (403) on the request it then decides."""
    rt: Runtime = request.app.state.runtime
    who = caller(request, Role.AGENT)
    raw = await request.body()
    try:
        answer = await rt.decide_async(raw, who)
    except EnvelopeUnavailable as exc:
        raise HTTPException(503, f"envelope unavailable, nothing is allowed: {exc}") from None
    if answer.status is Status.FORBIDDEN:
        raise HTTPException(403, answer.body.decode())
    code = 422 if answer.status is Status.INVALID else 200
    return Response(answer.body, status_code=code, media_type=JSON)


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
