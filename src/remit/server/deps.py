"""Request-scoped dependencies: the runtime and the caller's identity (Bearer API key),
with 401 for a missing or bad key and 403 for a role that may not do this."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from remit.identity.model import Identity, Role
from remit.server.runtime import Runtime

_bearer = HTTPBearer(auto_error=False, description="Remit API key: `Authorization: Bearer rk_…`")


async def runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


def _authenticate(request: Request, creds: HTTPAuthorizationCredentials | None) -> Identity:
    key = creds.credentials if creds is not None and creds.scheme.lower() == "bearer" else None
    return _identify(request.app.state.runtime, key)


def _identify(rt: Runtime, key: str | None) -> Identity:
    """The identity of a bearer `key` (None or empty: no key was sent), or 401/503."""
    if not key:
        raise HTTPException(
            401,
            "missing API key: send Authorization: Bearer <key>",
            headers={"WWW-Authenticate": "Bearer"},
        )
    # A cached lookup (no I/O) most of the time; a short read otherwise.
    who = rt.keys.authenticate(key)
    if who is None:
        raise HTTPException(
            401, "invalid or revoked API key", headers={"WWW-Authenticate": "Bearer"}
        )
    return who


async def identity(
    request: Request, creds: HTTPAuthorizationCredentials | None = Depends(_bearer)
) -> Identity:
    """The caller, whatever its role (routes that check the role themselves)."""
    return _authenticate(request, creds)


def _admit(who: Identity, allowed: set[Role]) -> Identity:
    if who.role not in allowed:
        names = ", ".join(sorted(r.value for r in allowed))
        raise HTTPException(403, f"role {who.role.value} may not do this (needs {names})")
    return who


def require(*roles: Role) -> Callable[..., Awaitable[Identity]]:
    """A dependency that admits only `roles` (admin is always admitted). One flat
    dependency (key, lookup, role), so FastAPI resolves little per request."""
    allowed = {*roles, Role.ADMIN}

    async def check(
        request: Request, creds: HTTPAuthorizationCredentials | None = Depends(_bearer)
    ) -> Identity:
        return _admit(_authenticate(request, creds), allowed)

    return check


def caller(rt: Runtime, authorization: str, *roles: Role) -> Identity:
    """The same check as `require`, on the `Authorization` header's value, for the one
    route that answers without FastAPI's dependency machinery (`POST /v1/decisions`, the
    hot path). The route declares `BEARER` in its OpenAPI security so the document still
    says it needs a key."""
    scheme, _, key = authorization.partition(" ")
    key = key.strip() if scheme.lower() == "bearer" else ""
    return _admit(_identify(rt, key), {*roles, Role.ADMIN})


BEARER: list[dict[str, list[str]]] = [{"HTTPBearer": []}]
"""The OpenAPI security requirement of a route that uses `caller`."""
