"""Governance routes: organisational events, envelope status, the decision inventory."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from remit.catalog import default_catalog
from remit.domain.clock import ts_text
from remit.envelope.inventory import build_inventory
from remit.envelope.status import envelope_status
from remit.identity.model import Identity, Role
from remit.server.deps import require, runtime
from remit.server.routes.decisions import ERRORS
from remit.server.runtime import Runtime
from remit.server.schemas import EventIn, EventOut

router = APIRouter(prefix="/v1", tags=["governance"])


@router.post("/events", response_model=EventOut, responses=ERRORS)
def add_event(
    body: EventIn, who: Identity = Depends(require()), rt: Runtime = Depends(runtime)
) -> EventOut:
    """Record an organisational event (admin). Kinds listed in the envelope's
    `revalidate_on` hold autonomy until the envelope is signed off again."""
    now = rt.clock()
    at = body.at or now  # ZonedTime: zoned and in the ledger's range
    index = rt.ledger.record_event(body.kind, at, body.note, who.label, now)
    return EventOut(ledger_index=index, kind=body.kind, at=ts_text(at))


@router.get("/envelope/status", responses=ERRORS)
def status(
    who: Identity = Depends(require(Role.APPROVER, Role.AUDITOR)), rt: Runtime = Depends(runtime)
) -> dict[str, Any]:
    """Who signed the envelope off and when, review dates, expiry, pending re-validation
    events and conflicts."""
    view = rt.envelope_view()
    kinds = frozenset(view.loaded.envelope.metadata.revalidate_on)
    events = list(rt.store.events_after(None, kinds))
    return envelope_status(view.loaded, view.trust, view.checks, events, rt.clock()).to_dict()


@router.get("/inventory", responses=ERRORS)
def inventory(
    who: Identity = Depends(require(Role.APPROVER, Role.AUDITOR)), rt: Runtime = Depends(runtime)
) -> list[dict[str, Any]]:
    """The decision inventory: per agent, what it may decide, at which tier, how."""
    return [
        r.to_dict() for r in build_inventory(rt.envelope_view().loaded.envelope, default_catalog())
    ]
