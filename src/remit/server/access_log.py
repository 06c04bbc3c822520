"""The service's access and decision log: one JSON line per HTTP request on stderr (time,
method, path, status, duration, client), and for a decision also its id, agent, action,
tier and ledger index — which the deciding route leaves in the request's scope under
`DECISION_SCOPE_KEY`, so no answer is parsed twice. An ASGI wrapper around the app: it
reads what passes, changes nothing, and never logs headers, bodies or keys."""

from __future__ import annotations

import sys
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, TextIO

import orjson

from remit.domain.clock import ts_text, utcnow

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

DECISION_SCOPE_KEY = "remit.decision"
"""Scope key for (id, agent, action, ledger index, tier) of the decision a request made."""


class AccessLog:
    """Wraps an ASGI app; writes one JSON line per HTTP request to `out`."""

    def __init__(self, app: App, out: TextIO | None = None) -> None:
        self.app = app
        self.out = out

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            line: dict[str, Any] = {
                "ts": ts_text(utcnow()),
                "event": "request",
                "method": scope.get("method"),
                "path": scope.get("path", ""),
                "status": status,
                "ms": round((time.perf_counter() - started) * 1000, 2),
                "client": (scope.get("client") or ("", 0))[0],
            }
            decided = scope.get(DECISION_SCOPE_KEY)
            if decided is not None and 200 <= status < 300:
                did, agent, action, index, tier = decided
                line.update(event="decision", id=did, agent=agent, action=action, tier=tier,
                            ledger_index=index)  # fmt: skip
            out = self.out or sys.stderr
            out.write(orjson.dumps(line).decode() + "\n")
            out.flush()
