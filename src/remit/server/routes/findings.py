"""CloudTrail reconciliation routes (auditor, admin): `GET /v1/findings` (the latest
run's findings, filtered) and `GET /v1/service-accounts` (per AI agent: principals,
justified actions, findings). The views are `remit.cloudtrail.views`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query

from remit.cloudtrail.views import findings_view, service_accounts_view
from remit.errors import Unprocessable
from remit.identity.model import Identity, Role
from remit.ledger.kinds.cloudtrail import FINDING_CLASSES
from remit.server.deps import require, runtime
from remit.server.routes.decisions import ERRORS
from remit.server.runtime import Runtime
from remit.server.schemas import ZonedTime

router = APIRouter(prefix="/v1", tags=["cloudtrail"])


@router.get("/findings", responses=ERRORS)
def findings(
    class_: str | None = Query(None, alias="class", description="One finding class."),
    principal: str | None = Query(None, description="The principal, exactly."),
    since: ZonedTime | None = Query(None, description="Events at or after this time."),
    until: ZonedTime | None = Query(None, description="Events before this time."),
    who: Identity = Depends(require(Role.AUDITOR)),
    rt: Runtime = Depends(runtime),
) -> dict[str, Any]:
    """The findings of the latest reconciliation run recorded on the ledger."""
    if class_ is not None and class_ not in FINDING_CLASSES:
        raise Unprocessable(f"class must be one of {', '.join(FINDING_CLASSES)}; got {class_!r}")
    return findings_view(rt.store.reads, class_, principal, since, until)


@router.get("/service-accounts", responses=ERRORS)
def service_accounts(
    who: Identity = Depends(require(Role.AUDITOR)), rt: Runtime = Depends(runtime)
) -> dict[str, Any]:
    """Per AI agent of the envelope: its principals, what decisions justified, and the
    latest reconciliation's findings against it."""
    view = rt.envelope_view()
    signed = view.trust.last_review if view.trust.valid else None
    return service_accounts_view(view.loaded.envelope, rt.store.reads, signed)
