"""`/v1/decisions`: ask (recorded before the answer), read back with long-poll for a held
decision, and report the outcome of an action."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response

from remit.errors import Forbidden, NotFound
from remit.identity.model import Identity, Role
from remit.ledger.kinds import DecisionRecord
from remit.ledger.records import Recorded
from remit.server.access_log import DECISION_SCOPE_KEY
from remit.server.deps import BEARER, caller, require, runtime
from remit.server.runtime import Runtime
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


def recorded_decision(rt: Runtime, decision_id: str) -> Recorded[DecisionRecord]:
    """The recorded decision, or NotFound."""
    found = rt.store.reads.decision(decision_id)
    if found is None:
        raise NotFound(f"no decision {decision_id}")
    return found


def decision_json(found: Recorded[DecisionRecord]) -> dict[str, Any]:
    """The decision's JSON as recorded, with its ledger index."""
    return {**found.record.decision, "ledger_index": found.index}


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
        raise Forbidden(not_your_agent(who.agent, agent))


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

    `remit serve` answers this route ahead of FastAPI's routing
    (`remit.server.decision_route`); both call `answer_decision`."""
    rt: Runtime = request.app.state.runtime
    code, body = await answer_decision(
        rt, request.scope, request.headers.get("authorization", ""), request.body
    )
    return Response(body, status_code=code, media_type=JSON)


async def answer_decision(
    rt: Runtime,
    scope: MutableMapping[str, Any],
    authorization: str,
    body: Callable[[], Awaitable[bytes]],
) -> tuple[int, bytes]:
    """The status and JSON body that answer `POST /v1/decisions`, or a `RemitError` /
    `HTTPException` for the app's handlers to render.

    The hot path: the key (the `Authorization` header's value) is checked directly, then
    the body is read; it goes as received to the decision writer, which validates it
    (422, the same errors as every other route) and checks the agent the key is bound to
    (403) on the request it then decides. The decision's summary is left in `scope` for
    the access log."""
    who = caller(rt, authorization, Role.AGENT)
    raw = await body()
    answer = await rt.decide_async(raw, who)  # EnvelopeUnavailable: 503, nothing allowed
    if answer.summary is not None:  # what the access log names (remit.server.access_log)
        scope[DECISION_SCOPE_KEY] = (*answer.summary, answer.tier)
    if answer.status is Status.FORBIDDEN:
        raise Forbidden(answer.body.decode())
    return (422 if answer.status is Status.INVALID else 200), answer.body


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
        found = await asyncio.to_thread(recorded_decision, rt, decision_id)
        _own(who, found.record.agent)
        out = await asyncio.to_thread(to_out, rt, decision_json(found))
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
    found = recorded_decision(rt, decision_id)
    _own(who, found.record.agent)
    status = to_out(rt, decision_json(found)).status
    index, outcome = rt.record_outcome(
        found.record, status, body.status, body.error, body.cloud_request_ids, who.label
    )
    return OutcomeOut(
        decision_id=decision_id, ledger_index=index, ran_without_allow=outcome.ran_without_allow
    )
