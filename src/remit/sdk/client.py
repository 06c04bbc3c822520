"""`remit.Client` and `remit.AsyncClient`: ask Remit before acting, wait for a human when
held, act with scoped credentials, report what happened, and revoke — in one `with`.

    client = remit.Client("http://127.0.0.1:8700", api_key, agent="remediator",
                          provenance={"model": {...}, "workflow": {...}})
    with client.step(action="iam:DetachRolePolicy", resources=[arn],
                     reasoning={...}, parameters={"RoleName": ..., "PolicyArn": ...}) as aws:
        aws.client("iam").detach_role_policy(RoleName=..., PolicyArn=...)

Every failure to reach or record in Remit raises `RemitUnavailable` (never proceeds); a
deny raises `Denied`; an approval not given in time raises `ApprovalTimedOut`; an AWS
AccessDenied inside a step raises `FallbackRequired` — nothing is retried by itself. A
keyword argument a method does not take (a misspelt `reasonning=`) raises TypeError.

These two classes are transports only: what each method sends and how answers are read is
`remit.sdk.calls`, shared by both.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from typing import Any, TypeVar, Unpack

import httpx

from remit.sdk.calls import (
    AskOptions,
    Call,
    Calls,
    DecideOptions,
    ResourceArg,
    StepOptions,
    answer,
    final,
    next_wait,
    scoped_session,
    step_failure,
)
from remit.sdk.errors import FallbackRequired, RemitUnavailable
from remit.sdk.session import GovernedSession

F = TypeVar("F", bound=Callable[..., Any])
Resources = Sequence[ResourceArg] | ResourceArg


def _why(exc: Exception) -> str:
    """The exception's message, or its type when it has none (httpx's timeouts and
    disconnects often carry an empty one)."""
    return str(exc) or type(exc).__name__


def _request_args(call: Call) -> dict[str, Any]:
    args: dict[str, Any] = {}
    if call.json is not None:
        args["json"] = call.json
    if call.params is not None:
        args["params"] = call.params
    if call.timeout is not None:
        args["timeout"] = call.timeout
    return args


class Client(Calls):
    """The synchronous SDK."""

    def _open(self, timeout: float) -> None:
        self._http = httpx.Client(base_url=self.base_url, headers=self.headers, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _send(self, call: Call) -> dict[str, Any]:
        try:
            r = self._http.request(call.method, call.path, **_request_args(call))
        except httpx.HTTPError as exc:
            raise RemitUnavailable(f"cannot reach Remit at {self.base_url}: {_why(exc)}") from exc
        return answer(r)

    def decide(
        self, action: str, resources: Resources, **options: Unpack[DecideOptions]
    ) -> dict[str, Any]:
        """Ask; returns the decision (any tier). Keyword arguments: reasoning, provenance,
        parameters, fallback, agent, on_behalf_of, environment, origin."""
        return self._send(self.decide_call("decide", action, resources, options))

    def get(self, decision_id: str, wait: float = 0) -> dict[str, Any]:
        return self._send(self.get_call(decision_id, wait))

    def wait_for_approval(
        self, decision: dict[str, Any], timeout: float | None = None
    ) -> dict[str, Any]:
        """The decision once allowed; raises Denied or ApprovalTimedOut."""
        deadline = self.deadline(timeout)
        d = decision
        while (wait := next_wait(d, deadline)) is not None:
            d = self.get(d["id"], wait=wait)
        return final(d)

    def report_outcome(
        self,
        decision_id: str,
        status: str,
        error: str | None = None,
        cloud_request_ids: Sequence[str] = (),
    ) -> dict[str, Any]:
        return self._send(self.outcome_call(decision_id, status, error, cloud_request_ids))

    def grant(self, decision_id: str) -> dict[str, Any]:
        return self._send(self.grant_call(decision_id))

    def revoke(self, decision_id: str) -> dict[str, Any]:
        return self._send(self.revoke_call(decision_id))

    def rollback_plan(self, decision_id: str) -> dict[str, Any]:
        """The rollback plan recorded when the decision's credentials were granted."""
        return self._send(self.rollback_plan_call(decision_id))

    def fallback(
        self,
        failure: FallbackRequired,
        action: str,
        resources: Resources,
        **options: Unpack[AskOptions],
    ) -> dict[str, Any]:
        """File a fallback request after `failure`; the envelope's fallbacks decide.
        Returns the decision; nothing is executed or retried here."""
        ask = self.fallback_options("fallback", failure, options)
        return self._send(self.decide_call("fallback", action, resources, ask))

    def step(
        self, action: str, resources: Resources, **options: Unpack[StepOptions]
    ) -> AbstractContextManager[GovernedSession]:
        """Decide, wait for approval if held, yield a boto3 session with credentials scoped
        to this step, then report the outcome and revoke — whether the block succeeds or
        raises. Keyword arguments: those of `decide`, and `approval_timeout`."""
        approval_timeout, ask = self.step_options("step", options)
        return self._step(self.decide_call("step", action, resources, ask), approval_timeout)

    @contextlib.contextmanager
    def _step(self, ask: Call, approval_timeout: float) -> Iterator[GovernedSession]:
        d = self.wait_for_approval(self._send(ask), approval_timeout)
        session = scoped_session(d, self.grant(d["id"]))
        try:
            yield session
        except BaseException as exc:
            error, fallback = step_failure(exc, session)
            self._finish(session, "failed", error)
            if fallback is not None:
                raise fallback from exc
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
        resources: Resources | Callable[..., Any],
        **options: Unpack[StepOptions],
    ) -> Callable[[F], F]:
        """Decorate a tool function: it runs inside `step(...)` and receives the scoped
        session as `aws=`. `resources` may be a callable of the function's arguments."""
        self.step_options("governed", options)  # a misspelt keyword fails here, not later

        def deco(fn: F) -> F:
            @functools.wraps(fn)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                res = resources(*args, **kwargs) if callable(resources) else resources
                with self.step(action, res, **options) as aws:
                    return fn(*args, aws=aws, **kwargs)

            return wrapper  # type: ignore[return-value]

        return deco


class AsyncClient(Calls):
    """The asynchronous SDK (httpx.AsyncClient); same methods, awaitable."""

    def _open(self, timeout: float) -> None:
        self._http = httpx.AsyncClient(
            base_url=self.base_url, headers=self.headers, timeout=timeout
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _send(self, call: Call) -> dict[str, Any]:
        try:
            r = await self._http.request(call.method, call.path, **_request_args(call))
        except httpx.HTTPError as exc:
            raise RemitUnavailable(f"cannot reach Remit at {self.base_url}: {_why(exc)}") from exc
        return answer(r)

    async def decide(
        self, action: str, resources: Resources, **options: Unpack[DecideOptions]
    ) -> dict[str, Any]:
        """Ask; returns the decision (any tier). Keyword arguments as `Client.decide`."""
        return await self._send(self.decide_call("decide", action, resources, options))

    async def get(self, decision_id: str, wait: float = 0) -> dict[str, Any]:
        return await self._send(self.get_call(decision_id, wait))

    async def wait_for_approval(
        self, decision: dict[str, Any], timeout: float | None = None
    ) -> dict[str, Any]:
        """The decision once allowed; raises Denied or ApprovalTimedOut."""
        deadline = self.deadline(timeout)
        d = decision
        while (wait := next_wait(d, deadline)) is not None:
            d = await self.get(d["id"], wait=wait)
        return final(d)

    async def report_outcome(
        self,
        decision_id: str,
        status: str,
        error: str | None = None,
        cloud_request_ids: Sequence[str] = (),
    ) -> dict[str, Any]:
        return await self._send(self.outcome_call(decision_id, status, error, cloud_request_ids))

    async def grant(self, decision_id: str) -> dict[str, Any]:
        return await self._send(self.grant_call(decision_id))

    async def revoke(self, decision_id: str) -> dict[str, Any]:
        return await self._send(self.revoke_call(decision_id))

    async def rollback_plan(self, decision_id: str) -> dict[str, Any]:
        """The rollback plan recorded when the decision's credentials were granted."""
        return await self._send(self.rollback_plan_call(decision_id))

    async def fallback(
        self,
        failure: FallbackRequired,
        action: str,
        resources: Resources,
        **options: Unpack[AskOptions],
    ) -> dict[str, Any]:
        """As `Client.fallback`."""
        ask = self.fallback_options("fallback", failure, options)
        return await self._send(self.decide_call("fallback", action, resources, ask))

    def step(
        self, action: str, resources: Resources, **options: Unpack[StepOptions]
    ) -> AbstractAsyncContextManager[GovernedSession]:
        """As `Client.step`, for `async with`."""
        approval_timeout, ask = self.step_options("step", options)
        return self._step(self.decide_call("step", action, resources, ask), approval_timeout)

    @contextlib.asynccontextmanager
    async def _step(self, ask: Call, approval_timeout: float) -> AsyncIterator[GovernedSession]:
        d = await self.wait_for_approval(await self._send(ask), approval_timeout)
        session = scoped_session(d, await self.grant(d["id"]))
        try:
            yield session
        except BaseException as exc:
            error, fallback = step_failure(exc, session)
            await self._finish(session, "failed", error)
            if fallback is not None:
                raise fallback from exc
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

    def governed(
        self,
        action: str,
        resources: Resources | Callable[..., Any],
        **options: Unpack[StepOptions],
    ) -> Callable[[F], F]:
        """Decorate an async tool function: it runs inside `step(...)` with `aws=`."""
        self.step_options("governed", options)  # a misspelt keyword fails here, not later

        def deco(fn: F) -> F:
            @functools.wraps(fn)
            async def wrapper(*args: Any, **kwargs: Any) -> Any:
                res = resources(*args, **kwargs) if callable(resources) else resources
                async with self.step(action, res, **options) as aws:
                    return await fn(*args, aws=aws, **kwargs)

            return wrapper  # type: ignore[return-value]

        return deco
