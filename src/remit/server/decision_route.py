"""`POST /v1/decisions` answered ahead of FastAPI's routing: the service's hot path.

An ASGI layer inside the app's error and body-size middleware (`create_app` adds it), in
front of FastAPI's exception middleware and router. For this one route it reads the key
and the body itself and calls `answer_decision`, the same function as the declared route
(which stays, for the OpenAPI document); every other request passes through untouched.
Errors are rendered by the app's own exception handlers, so a 401, 403, 413 or 503 here
is byte for byte the one the router would give. What it skips is per-request machinery
this route does not use: the exception middleware, the exit stack, the router's match
over every route, the dependency solver and the `Request` object. Measured at the peak
of `benchmarks/bench_http.py`: the service process's CPU per decision 281–372 → 144–221
µs (docs/benchmarks.md, session 13).

It does not decide, validate or record anything itself (`answer_decision` and the
decision writer do), and it adds no route: the path, method and answers are the ones
`routes/decisions.py` declares.
"""

from __future__ import annotations

from typing import Any

from fastapi.routing import APIRoute
from starlette.requests import ClientDisconnect, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from remit.server.routes.decisions import answer_decision, create_decision, router
from remit.server.runtime import Runtime

PATH: str = next(
    r.path for r in router.routes if isinstance(r, APIRoute) and r.endpoint is create_decision
)
"""The declared route's path (`/v1/decisions`), read from it rather than written again."""
JSON_HEADER = (b"content-type", b"application/json")


class DecisionRoute:
    """Answers `POST /v1/decisions`; passes everything else to `app`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or _route_path(scope) != PATH:
            await self.app(scope, receive, send)
            return
        app = scope["app"]
        rt: Runtime = app.state.runtime

        async def body() -> bytes:
            chunks: list[bytes] = []
            while True:
                message: Message = await receive()
                if message["type"] == "http.disconnect":
                    raise ClientDisconnect
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    return b"".join(chunks)

        try:
            status, answer = await answer_decision(rt, scope, _authorization(scope), body)
        except ClientDisconnect:  # the client went before its body arrived: nothing decided
            return
        except Exception as exc:
            handler = _handler_for(app.exception_handlers, exc)
            if handler is None:
                raise  # the error middleware answers 500 and logs it
            response = await handler(Request(scope, receive), exc)
            await response(scope, receive, send)
            return
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-length", b"%d" % len(answer)), JSON_HEADER],
            }
        )
        await send({"type": "http.response.body", "body": answer})


def _route_path(scope: Scope) -> str:
    """The path the router would match: the request path less the app's root path."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


def _authorization(scope: Scope) -> str:
    """The first `Authorization` header's value, as Starlette's `Headers.get` reads it."""
    for name, value in scope["headers"]:
        if name == b"authorization":
            text: str = value.decode("latin-1")
            return text
    return ""


def _handler_for(handlers: dict[Any, Any], exc: Exception) -> Any:
    """The app's handler for `exc` (its class or nearest base), as the router's
    exception middleware would pick it; None for an unexpected error."""
    for cls in type(exc).__mro__:
        if cls is Exception:  # a catch-all handler is the error middleware's, not the router's
            return None
        if cls in handlers:
            return handlers[cls]
    return None
