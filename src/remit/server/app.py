"""The FastAPI application: routes under /v1, a request-body size limit, readable
validation errors, the one mapping of Remit's error kinds to HTTP statuses, and
background work (periodic checkpoints, approval expiry)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from remit.dashboard.apidocs import router as apidocs_router
from remit.dashboard.router import router as dashboard_router
from remit.domain.requests import ActionRequest
from remit.errors import (
    Conflict,
    Forbidden,
    Gone,
    NotFound,
    RemitError,
    Unavailable,
    Unprocessable,
    Upstream,
)
from remit.server.decision_route import DecisionRoute
from remit.server.routes import (
    admin,
    approvals,
    decisions,
    findings,
    grants,
    health,
    ledger,
    oversight,
)
from remit.server.runtime import Runtime
from remit.server.schemas import component_schemas
from remit.server.views import readable_errors

log = logging.getLogger("remit.server")

HTTP_STATUS: dict[str, int] = {
    "error": 500,
    NotFound.kind: 404,
    Conflict.kind: 409,
    Forbidden.kind: 403,
    Gone.kind: 410,
    Unprocessable.kind: 422,
    Upstream.kind: 502,
    Unavailable.kind: 503,
}
"""Each kind of `RemitError` as an HTTP status: the one place the API maps errors."""
GRANT_SWEEP_SECONDS = 5.0
DRIFT_SWEEP_SECONDS = 1.0
DRIFT_CHUNK = 1_000
"""Ledger entries one drift sweep takes before the event loop gets a pause."""
DRIFT_PAUSE_SECONDS = 0.01
SWITCH_INTERVAL = 0.0005
"""Seconds a thread keeps the interpreter while another waits for it (`remit serve` sets
it; Python's default is 0.005). The background sweeps are CPU-bound Python on threads of
the service's process; a request gives the interpreter up at every read and then waits a
whole interval to get it back, so at the default a dashboard page of a few dozen reads
took up to a second while the drift monitor caught up after a start (measured at
1,000,000 decisions: 0.3–0.9 s outliers; none at 0.5 ms)."""


def _drift_sweep(rt: Runtime) -> Callable[[], None]:
    """The standing drift test: records findings and demotions as the envelope sets. In
    chunks with a pause between them: the sweep runs on a thread of this process, and a
    backlog swept in one go would hold the interpreter from the requests meanwhile (the
    pause, a sleep, lets them have it)."""

    def sweep() -> None:
        while True:
            envelope = rt.envelope_view().loaded.envelope
            rt.drift_watch.sweep(rt.ledger, envelope, rt.clock(), DRIFT_CHUNK, rt.drift_hints)
            if not rt.drift_watch.behind:
                return
            time.sleep(DRIFT_PAUSE_SECONDS)

    return sweep


class BodyLimit:
    """Refuses request bodies larger than `limit` bytes with 413, before parsing them."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > self.limit:
                await _too_large(send, self.limit)
                return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge(self.limit)
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await _too_large(send, self.limit)


class _TooLarge(HTTPException):
    # An HTTPException, so FastAPI's body parser re-raises it (as 413) rather than
    # answering 400 "error parsing the body" for a streamed body over the limit.
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body larger than {limit} bytes")


async def _too_large(send: Send, limit: int) -> None:
    body = f'{{"detail":"request body larger than {limit} bytes"}}'.encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _every(seconds: float, fn: Callable[[], Any], name: str) -> None:
    while True:
        await asyncio.sleep(seconds)
        try:
            await asyncio.to_thread(fn)
        except Exception:  # keep the loop alive; the next round retries
            log.exception("background task %s failed", name)


def create_app(rt: Runtime) -> FastAPI:
    """The app for one runtime."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        rt.writer.attach(asyncio.get_running_loop())
        tasks = [
            asyncio.create_task(_every(1.0, lambda: rt.approvals.expire_due(rt.clock()), "expire")),
            asyncio.create_task(_every(1.0, rt.writer.ensure_running, "decision writer")),
            # grant time-outs, retries of revocations the cloud refused, deny-list pruning
            asyncio.create_task(_every(GRANT_SWEEP_SECONDS, rt.grants.sweep, "grant sweep")),
            asyncio.create_task(_every(DRIFT_SWEEP_SECONDS, _drift_sweep(rt), "drift sweep")),
        ]
        if rt.ledger.log_key is not None:
            tasks.append(
                asyncio.create_task(
                    _every(
                        rt.config.checkpoint_every,
                        lambda: rt.ledger.checkpoint(rt.clock()),
                        "checkpoint",
                    )
                )
            )
        try:
            yield
        finally:
            for t in tasks:
                t.cancel()
            rt.close()

    app = FastAPI(
        title="Remit",
        version="0.1.0",
        description="Ask before acting: decisions by a signed policy envelope, recorded on a "
        "tamper-evident ledger before they are answered.",
        lifespan=lifespan,
        docs_url=None,  # /docs is drawn by Remit itself (remit.dashboard.apidocs): no CDN
        redoc_url=None,
    )
    app.state.runtime = rt

    @app.exception_handler(RemitError)
    async def remit_error(request: Request, exc: RemitError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=HTTP_STATUS[exc.kind])

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": readable_errors(list(exc.errors()))}, status_code=422)

    for r in (
        decisions.router,
        grants.router,
        approvals.router,
        ledger.router,
        admin.router,
        findings.router,
        health.router,
        dashboard_router,
        apidocs_router,
        oversight.router,
    ):
        app.include_router(r)
    app.add_middleware(DecisionRoute)  # the hot path, inside the body limit (added next)
    app.add_middleware(BodyLimit, limit=rt.config.max_body_bytes)
    _add_component_schemas(app, ActionRequest)
    return app


def _add_component_schemas(app: FastAPI, *models: type[BaseModel]) -> None:
    """Put the schemas that routes reference by name into the OpenAPI document."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        fresh = app.openapi_schema is None
        doc = generate()
        if fresh:
            named = doc.setdefault("components", {}).setdefault("schemas", {})
            for name, schema in component_schemas(*models).items():
                if named.setdefault(name, schema) != schema:
                    raise RuntimeError(f"two different OpenAPI schemas are named {name}")
        return doc

    app.openapi = openapi  # type: ignore[method-assign]
