"""`remit.Client` and `remit.AsyncClient`: ask Remit before acting, wait for a human when
held, act with scoped credentials, report what happened, and revoke — in one `with`.

    client = remit.Client("http://127.0.0.1:8700", api_key, agent="remediator",
                          provenance={"model": {...}, "workflow": {...}})
    with client.step(action="iam:DetachRolePolicy", resources=[arn],
                     reasoning={...}, parameters={"RoleName": ..., "PolicyArn": ...}) as aws:
        aws.client("iam").detach_role_policy(RoleName=..., PolicyArn=...)

Every failure to reach or record in Remit raises `RemitUnavailable` (never proceeds); a
deny raises `Denied`; an approval not given in time raises `ApprovalTimedOut`; an AWS
AccessDenied inside a step raises `FallbackRequired` — nothing is retried by itself.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

import httpx
from botocore.exceptions import ClientError

from remit.sdk.errors import (
    ApprovalTimedOut,
    Denied,
    FallbackRequired,
    RemitRefused,
    RemitUnavailable,
)
from remit.sdk.requests_ import ResourceArg, request_json
from remit.sdk.session import GovernedSession

ACCESS_DENIED = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "UnauthorizedAccess",
        "Forbidden",
        "InvalidClientTokenId",
    }
)
F = TypeVar("F", bound=Callable[..., Any])


def _check(r: httpx.Response) -> dict[str, Any]:
    if r.status_code >= 400:
        try:
            detail = r.json().get("detail")
        except ValueError:
            detail = r.text[:300]
        if r.status_code >= 500 or r.status_code in (408, 429):
            raise RemitUnavailable(f"Remit answered {r.status_code}: {detail}")
        raise RemitRefused(r.status_code, detail)
    out: dict[str, Any] = r.json()
    return out


class _Base:
    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        agent: str | None = None,
        provenance: Mapping[str, Any] | None = None,
        approval_timeout: float = 300.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.headers = {"Authorization": f"Bearer {api_key}", "User-Agent": "remit-sdk/0.1"}
        self.agent = agent
        self.provenance = dict(provenance or {})
        self.approval_timeout = approval_timeout

    def _body(
        self, action: str, resources: Sequence[ResourceArg] | ResourceArg, **kw: Any
    ) -> dict[str, Any]:
        agent = kw.pop("agent", None) or self.agent
        if not agent:
            raise ValueError("no agent: pass agent=… to the Client or to this call")
        prov = {**self.provenance, **dict(kw.pop("provenance", None) or {})}
        return request_json(
            agent=agent,
            action=action,
            resources=resources,
            provenance=prov,
            reasoning=kw.pop("reasoning", None),
            parameters=kw.pop("parameters", None),
            fallback=kw.pop("fallback", None),
            on_behalf_of=kw.pop("on_behalf_of", None),
            environment=kw.pop("environment", None),
            origin=kw.pop("origin", "ai"),
        )

    def _deadline(self, timeout: float | None) -> float:
        return time.monotonic() + (self.approval_timeout if timeout is None else timeout)

    @staticmethod
    def _outcome_json(
        status: str, error: str | None, cloud_request_ids: Sequence[str]
    ) -> dict[str, Any]:
        return {"status": status, "error": error, "cloud_request_ids": list(cloud_request_ids)}

    @staticmethod
    def _fallback_ref(failure: FallbackRequired) -> dict[str, Any]:
        if not failure.decision_id:
            raise ValueError("the failure carries no decision to fall back from")
        return {
            "of": failure.decision_id,
            "failed_action": failure.failed_action,
            "error": failure.error,
        }

    @staticmethod
    def _final(d: dict[str, Any]) -> dict[str, Any]:
        if d["status"] == "allowed":
            return d
        if d["status"] == "denied":
            state = (d.get("approval") or {}).get("state")
            what = (
                f"approval {state}" if state in ("rejected", "expired") else f"decision {d['tier']}"
            )
            raise Denied(f"{d['action']} not allowed ({what})", d)
        raise ApprovalTimedOut(f"{d['action']} is still waiting for approval", d)

    @staticmethod
    def _fallback_of(exc: ClientError, session: GovernedSession) -> FallbackRequired | None:
        code = exc.response.get("Error", {}).get("Code", "")
        if code not in ACCESS_DENIED:
            return None
        action = session.last_action or exc.operation_name
        return FallbackRequired(action, code, session.decision)


class Client(_Base):
    """The synchronous SDK."""

    def __init__(self, base_url: str, api_key: str, *, timeout: float = 30.0, **kw: Any) -> None:
        super().__init__(base_url, api_key, **kw)
        self._http = httpx.Client(base_url=self.base_url, headers=self.headers, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: str, path: str, **kw: Any) -> dict[str, Any]:
        try:
            r = self._http.request(method, path, **kw)
        except httpx.HTTPError as exc:
            raise RemitUnavailable(f"cannot reach Remit at {self.base_url}: {exc}") from exc
        return _check(r)

    def decide(
        self, action: str, resources: Sequence[ResourceArg] | ResourceArg, **kw: Any
    ) -> dict[str, Any]:
        """Ask; returns the decision (any tier). Keyword arguments: reasoning, provenance,
        parameters, fallback, agent, on_behalf_of, environment, origin."""
        return self._call("POST", "/v1/decisions", json=self._body(action, resources, **kw))

    def get(self, decision_id: str, wait: float = 0) -> dict[str, Any]:
        return self._call(
            "GET", f"/v1/decisions/{decision_id}", params={"wait": wait}, timeout=wait + 30
        )

    def wait_for_approval(
        self, decision: dict[str, Any], timeout: float | None = None
    ) -> dict[str, Any]:
        """The decision once allowed; raises Denied or ApprovalTimedOut."""
        deadline = self._deadline(timeout)
        d = decision
        while d["status"] == "pending":
            left = deadline - time.monotonic()
            if left <= 0:
                break
            d = self.get(d["id"], wait=min(left, 60))
        return self._final(d)

    def report_outcome(
        self,
        decision_id: str,
        status: str,
        error: str | None = None,
        cloud_request_ids: Sequence[str] = (),
    ) -> dict[str, Any]:
        return self._call(
            "POST",
            f"/v1/decisions/{decision_id}/outcome",
            json=self._outcome_json(status, error, cloud_request_ids),
        )

    def grant(self, decision_id: str) -> dict[str, Any]:
        return self._call("POST", f"/v1/decisions/{decision_id}/grant")

    def revoke(self, decision_id: str) -> dict[str, Any]:
        return self._call("POST", f"/v1/decisions/{decision_id}/revoke")

    def rollback_plan(self, decision_id: str) -> dict[str, Any]:
        """The rollback plan recorded when the decision's credentials were granted."""
        return self._call("GET", f"/v1/decisions/{decision_id}/rollback")

    def fallback(
        self,
        failure: FallbackRequired,
        action: str,
        resources: Sequence[ResourceArg] | ResourceArg,
        **kw: Any,
    ) -> dict[str, Any]:
        """File a fallback request after `failure`; the envelope's fallbacks decide.
        Returns the decision; nothing is executed or retried here."""
        kw["fallback"] = self._fallback_ref(failure)
        return self.decide(action, resources, **kw)

    @contextlib.contextmanager
    def step(
        self,
        action: str,
        resources: Sequence[ResourceArg] | ResourceArg,
        *,
        approval_timeout: float | None = None,
        **kw: Any,
    ) -> Iterator[GovernedSession]:
        """Decide, wait for approval if held, yield a boto3 session with credentials scoped
        to this step, then report the outcome and revoke — whether the block succeeds or
        raises."""
        d = self.wait_for_approval(self.decide(action, resources, **kw), approval_timeout)
        g = self.grant(d["id"])
        session = GovernedSession(decision=d, grant=g, endpoint_url=g.get("endpoint_url"))
        try:
            yield session
        except ClientError as exc:
            self._finish(session, "failed", f"{exc}")
            fb = self._fallback_of(exc, session)
            if fb is not None:
                raise fb from exc
            raise
        except BaseException as exc:
            self._finish(session, "failed", f"{type(exc).__name__}: {exc}")
            raise
        else:
            self._finish(session, "succeeded", None)

    def _finish(self, session: GovernedSession, status: str, error: str | None) -> None:
        did = session.decision["id"]
        try:
            self.report_outcome(did, status, error, session.request_ids)  # also revokes
        except RemitUnavailable:
            with contextlib.suppress(RemitUnavailable):
                self.revoke(did)
            raise

    def governed(
        self,
        action: str,
        resources: Sequence[ResourceArg] | ResourceArg | Callable[..., Any],
        **step_kw: Any,
    ) -> Callable[[F], F]:
        """Decorate a tool function: it runs inside `step(...)` and receives the scoped
        session as `aws=`. `resources` may be a callable of the function's arguments."""

        def deco(fn: F) -> F:
            @functools.wraps(fn)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                res = resources(*args, **kwargs) if callable(resources) else resources
                with self.step(action, res, **step_kw) as aws:
                    return fn(*args, aws=aws, **kwargs)

            return wrapper  # type: ignore[return-value]

        return deco


class AsyncClient(_Base):
    """The asynchronous SDK (httpx.AsyncClient); same methods, awaitable."""

    def __init__(self, base_url: str, api_key: str, *, timeout: float = 30.0, **kw: Any) -> None:
        super().__init__(base_url, api_key, **kw)
        self._http = httpx.AsyncClient(
            base_url=self.base_url, headers=self.headers, timeout=timeout
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _call(self, method: str, path: str, **kw: Any) -> dict[str, Any]:
        try:
            r = await self._http.request(method, path, **kw)
        except httpx.HTTPError as exc:
            raise RemitUnavailable(f"cannot reach Remit at {self.base_url}: {exc}") from exc
        return _check(r)

    async def decide(
        self, action: str, resources: Sequence[ResourceArg] | ResourceArg, **kw: Any
    ) -> dict[str, Any]:
        return await self._call("POST", "/v1/decisions", json=self._body(action, resources, **kw))

    async def get(self, decision_id: str, wait: float = 0) -> dict[str, Any]:
        return await self._call(
            "GET", f"/v1/decisions/{decision_id}", params={"wait": wait}, timeout=wait + 30
        )

    async def wait_for_approval(
        self, decision: dict[str, Any], timeout: float | None = None
    ) -> dict[str, Any]:
        deadline = self._deadline(timeout)
        d = decision
        while d["status"] == "pending":
            left = deadline - time.monotonic()
            if left <= 0:
                break
            d = await self.get(d["id"], wait=min(left, 60))
        return self._final(d)

    async def report_outcome(
        self,
        decision_id: str,
        status: str,
        error: str | None = None,
        cloud_request_ids: Sequence[str] = (),
    ) -> dict[str, Any]:
        return await self._call(
            "POST",
            f"/v1/decisions/{decision_id}/outcome",
            json=self._outcome_json(status, error, cloud_request_ids),
        )

    async def grant(self, decision_id: str) -> dict[str, Any]:
        return await self._call("POST", f"/v1/decisions/{decision_id}/grant")

    async def revoke(self, decision_id: str) -> dict[str, Any]:
        return await self._call("POST", f"/v1/decisions/{decision_id}/revoke")

    async def rollback_plan(self, decision_id: str) -> dict[str, Any]:
        """The rollback plan recorded when the decision's credentials were granted."""
        return await self._call("GET", f"/v1/decisions/{decision_id}/rollback")

    def governed(
        self,
        action: str,
        resources: Sequence[ResourceArg] | ResourceArg | Callable[..., Any],
        **step_kw: Any,
    ) -> Callable[[F], F]:
        """Decorate an async tool function: it runs inside `step(...)` with `aws=`."""

        def deco(fn: F) -> F:
            @functools.wraps(fn)
            async def wrapper(*args: Any, **kwargs: Any) -> Any:
                res = resources(*args, **kwargs) if callable(resources) else resources
                async with self.step(action, res, **step_kw) as aws:
                    return await fn(*args, aws=aws, **kwargs)

            return wrapper  # type: ignore[return-value]

        return deco

    async def fallback(
        self,
        failure: FallbackRequired,
        action: str,
        resources: Sequence[ResourceArg] | ResourceArg,
        **kw: Any,
    ) -> dict[str, Any]:
        kw["fallback"] = self._fallback_ref(failure)
        return await self.decide(action, resources, **kw)

    @contextlib.asynccontextmanager
    async def step(
        self,
        action: str,
        resources: Sequence[ResourceArg] | ResourceArg,
        *,
        approval_timeout: float | None = None,
        **kw: Any,
    ) -> AsyncIterator[GovernedSession]:
        d = await self.wait_for_approval(
            await self.decide(action, resources, **kw), approval_timeout
        )
        g = await self.grant(d["id"])
        session = GovernedSession(decision=d, grant=g, endpoint_url=g.get("endpoint_url"))
        try:
            yield session
        except ClientError as exc:
            await self._finish(session, "failed", f"{exc}")
            fb = self._fallback_of(exc, session)
            if fb is not None:
                raise fb from exc
            raise
        except BaseException as exc:
            await self._finish(session, "failed", f"{type(exc).__name__}: {exc}")
            raise
        else:
            await self._finish(session, "succeeded", None)

    async def _finish(self, session: GovernedSession, status: str, error: str | None) -> None:
        did = session.decision["id"]
        try:
            await self.report_outcome(did, status, error, session.request_ids)
        except RemitUnavailable:
            with contextlib.suppress(RemitUnavailable):
                await self.revoke(did)
            raise
