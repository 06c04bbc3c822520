"""The service's access and decision log: one JSON line per HTTP request on stderr (time,
method, path, status, duration, client), and for a decision also its id, agent, action,
tier and ledger index. An ASGI wrapper around the app: it reads what passes, changes
nothing, and never logs headers, bodies or keys."""

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

_DECISION_PATHS = ("/v1/decisions", "/v1/decide")
_MAX_CAPTURE = 256 * 1024
_DECISION_FIELDS = ("id", "agent", "action", "tier", "ledger_index")


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
        path: str = scope.get("path", "")
        capture = scope.get("method") == "POST" and path.startswith(_DECISION_PATHS)
        status = 500
        body = bytearray()

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif capture and message["type"] == "http.response.body" and len(body) < _MAX_CAPTURE:
                body.extend(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            line: dict[str, Any] = {
                "ts": ts_text(utcnow()),
                "event": "request",
                "method": scope.get("method"),
                "path": path,
                "status": status,
                "ms": round((time.perf_counter() - started) * 1000, 2),
                "client": (scope.get("client") or ("", 0))[0],
            }
            if capture and 200 <= status < 300:
                decision = _decision(bytes(body))
                if decision:
                    line["event"] = "decision"
                    line.update(decision)
            out = self.out or sys.stderr
            out.write(orjson.dumps(line).decode() + "\n")
            out.flush()


def _decision(body: bytes) -> dict[str, Any] | None:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(data, dict) or "tier" not in data:
        return None
    return {k: data.get(k) for k in _DECISION_FIELDS if k in data}
