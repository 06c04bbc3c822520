"""`/v1/decisions/{id}/grant` and `/revoke`: scoped credentials for an allowed decision,
handed once to the agent that asked; revocation when the step ends."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from remit.errors import Forbidden, NotFound
from remit.identity.model import Identity, Role
from remit.server.deps import identity, require, runtime
from remit.server.routes.decisions import ERRORS, recorded_decision
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
    issued = rt.grants.issue(decision_id, who)
    c, r = issued.credentials, issued.record.to_data()
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
    d = recorded_decision(rt, decision_id).record
    grant = rt.grants.grant_record(decision_id)
    if grant is None:
        raise NotFound(f"decision {decision_id} was never granted, so nothing ran")
    return {
        "decision_id": decision_id,
        "agent": d.agent,
        "action": d.action,
        "rollback": grant.rollback,
    }


@router.post("/{decision_id}/revoke", response_model=RevokeOut, responses=ERRORS)
def revoke(
    decision_id: str, who: Identity = Depends(require(Role.AGENT)), rt: Runtime = Depends(runtime)
) -> RevokeOut:
    """End the step: the decision's credentials are denied from now on."""
    d = recorded_decision(rt, decision_id).record
    if who.role is Role.AGENT and who.agent != d.agent:
        raise Forbidden("only the agent that asked (or an admin) can revoke")
    if not rt.grants.has_grant(decision_id):
        raise NotFound(f"decision {decision_id} has no grant to revoke")
    applied = rt.grants.revoke(decision_id, "step ended", who.label)
    return RevokeOut(decision_id=decision_id, applied=applied)
