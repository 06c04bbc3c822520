"""`/v1/decisions/{id}/grant` and `/revoke`: scoped credentials for an allowed decision,
handed once to the agent that asked; revocation when the step ends."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException

from remit.grants.service import GrantError
from remit.identity.model import Identity, Role
from remit.ledger.store import LedgerUnavailable
from remit.server.deps import identity, require, runtime
from remit.server.routes.decisions import ERRORS, decision_view
from remit.server.runtime import Runtime
from remit.server.schemas import GrantOut, RevokeOut

router = APIRouter(prefix="/v1/decisions", tags=["grants"])
GRANT_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    409: {"description": "not allowed, still pending, or already granted"},
    410: {"description": "the grant window has passed"},
    422: {"description": "the request cannot be scoped into a session policy"},
    502: {"description": "the cloud refused to issue credentials"},
}


@router.post("/{decision_id}/grant", response_model=GrantOut, responses=GRANT_ERRORS)
def grant(
    decision_id: str, who: Identity = Depends(identity), rt: Runtime = Depends(runtime)
) -> GrantOut:
    """Credentials scoped to exactly this decision's action and resources, short-lived,
    stamped with the decision id as SourceIdentity. Once per decision; recorded (never
    the secret). Any key may ask; the service refuses every key but the one that asked
    (403), and records the refusal."""
    try:
        issued = rt.grants.issue(decision_id, who)
    except GrantError as exc:
        raise HTTPException(exc.status, str(exc)) from None
    except LedgerUnavailable as exc:
        raise HTTPException(503, str(exc)) from None
    c, r = issued.credentials, issued.record
    return GrantOut(
        decision_id=decision_id,
        access_key_id=c.access_key_id,
        secret_access_key=c.secret_access_key,
        session_token=c.session_token,
        expiration=c.expiration.isoformat(),
        revoke_at=r["revoke_at"],
        role_arn=r["role_arn"],
        session_name=r["session_name"],
        session_policy=r["session_policy"],
        effective_permissions=r["effective_permissions"],
        effective_summary=r["effective_summary"],
        rollback=r["rollback"],
        region=rt.config.aws.region,
        endpoint_url=rt.config.aws.endpoint_url,
        backend=r["backend"],
    )


@router.get("/{decision_id}/rollback", responses=ERRORS)
def rollback_plan(
    decision_id: str,
    who: Identity = Depends(require(Role.APPROVER, Role.AUDITOR)),
    rt: Runtime = Depends(runtime),
) -> dict[str, Any]:
    """The rollback plan recorded when this decision's credentials were granted."""
    d, _ = decision_view(rt, decision_id)
    record = rt.grants.grant_record(decision_id)
    if record is None:
        raise HTTPException(404, f"decision {decision_id} was never granted, so nothing ran")
    return {
        "decision_id": decision_id,
        "agent": d["agent"],
        "action": d["action"],
        "rollback": record["rollback"],
    }


@router.post("/{decision_id}/revoke", response_model=RevokeOut, responses=ERRORS)
def revoke(
    decision_id: str, who: Identity = Depends(require(Role.AGENT)), rt: Runtime = Depends(runtime)
) -> RevokeOut:
    """End the step: the decision's credentials are denied from now on."""
    d, _ = decision_view(rt, decision_id)
    if who.role is Role.AGENT and who.agent != d["agent"]:
        raise HTTPException(403, "only the agent that asked (or an admin) can revoke")
    try:
        if not rt.grants.has_grant(decision_id):
            raise HTTPException(404, f"decision {decision_id} has no grant to revoke")
        applied = rt.grants.revoke(decision_id, "step ended", who.label)
    except LedgerUnavailable as exc:
        # The deny was applied (or will be retried); its record is pending: say so.
        raise HTTPException(503, f"revocation not recorded yet: {exc}") from None
    return RevokeOut(decision_id=decision_id, applied=applied)
