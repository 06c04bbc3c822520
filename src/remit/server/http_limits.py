"""What one HTTP connection may cost `remit serve`: bounds uvicorn does not set itself.

- **Request head size**: the request line and headers together, at most
  `max_head_bytes` (431 beyond). httptools, uvicorn's fast parser, has no such limit, and
  buffers an unfinished header line without end.
- **Time to receive a request**: its head and body within `request_read_timeout`
  seconds of the first byte (or of connecting): 408 for an unfinished head, the
  connection closed for an unfinished body. uvicorn only times out idle keep-alive
  connections (`timeout_keep_alive`, set by the caller), and never a fresh connection
  that sends nothing or sends slowly.
- **Open connections**: at most `max_connections`. A connection over the cap evicts the
  connection that has been waiting longest without a request in progress (idle, or
  still sending its head); if every connection has a request in progress, the new one
  is closed. Legitimate requests get through a flood of idle connections, and the
  process stays inside its file descriptor limit.

This module only guards the connection (a subclass of uvicorn's httptools protocol);
it does not know the application, and limits nothing about bodies but their read time
(the app's `BodyLimit` bounds their size).
"""

from __future__ import annotations

import asyncio
import resource
from dataclasses import dataclass
from typing import Any, ClassVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

FD_RESERVE = 64
"""File descriptors kept free for the ledger, the writer's pipes, logs and the like."""


@dataclass(frozen=True, slots=True)
class HttpLimits:
    """The bounds one `remit serve` applies to every connection."""

    max_head_bytes: int
    request_read_timeout: float
    max_connections: int


def default_max_connections() -> int:
    """The file descriptor limit less `FD_RESERVE`, between 16 and 1024."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        soft = 1 << 20
    return max(16, min(1024, soft - FD_RESERVE))


def protocol_class(limits: HttpLimits) -> type[asyncio.Protocol]:
    """uvicorn's `http` protocol class, guarded by `limits`."""

    class Guarded(_Guarded):
        _limits = limits
        _evictable: ClassVar[dict[_Guarded, None]] = {}

    return Guarded


class _HeadTooLarge(Exception):
    """Raised from the parser's callback: the head passed the limit."""


class _Guarded(HttpToolsProtocol):
    _limits: ClassVar[HttpLimits]
    _evictable: ClassVar[dict[_Guarded, None]]
    """Connections with no request in progress, oldest first (shared by the server)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._reading: asyncio.TimerHandle | None = None
        self._in_head = True  # receiving a request head (or waiting for one)
        self._head_bytes = 0
        self._oversized = False

    # -- connections --------------------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self._limits.max_connections and not self._evict_one():
            self.logger.warning("connection limit (%d) reached", self._limits.max_connections)
            transport.close()
            return
        self._evictable[self] = None
        self._arm()

    def _evict_one(self) -> bool:
        for other in self._evictable:
            if other is not self:
                del self._evictable[other]
                other.transport.close()
                return True
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._evictable.pop(self, None)
        self._disarm()
        super().connection_lost(exc)

    # -- reading a request ----------------------------------------------------------------
    def data_received(self, data: bytes) -> None:
        if self._in_head:
            self._head_bytes += len(data)
            self._arm()
        super().data_received(data)
        if (
            self._in_head
            and self._head_bytes > self._limits.max_head_bytes
            and not self.transport.is_closing()
        ):
            self._refuse(431, f"request head larger than {self._limits.max_head_bytes} bytes")

    def on_headers_complete(self) -> None:
        size = len(self.url) + sum(len(n) + len(v) + 4 for n, v in self.headers)
        if size > self._limits.max_head_bytes:
            self._oversized = True
            raise _HeadTooLarge  # the parser stops; uvicorn answers via send_400_response
        self._in_head = False
        self._head_bytes = 0
        self._evictable.pop(self, None)  # a request is in progress: never evicted
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._disarm()
        self._in_head = True
        self._head_bytes = 0
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and not self.pipeline:
            self._evictable[self] = None  # idle again (newest)

    def send_400_response(self, msg: str) -> None:
        if self._oversized:
            self._refuse(431, f"request head larger than {self._limits.max_head_bytes} bytes")
        else:
            super().send_400_response(msg)

    # -- the read deadline ----------------------------------------------------------------
    def _arm(self) -> None:
        if self._reading is None:
            timeout = self._limits.request_read_timeout
            self._reading = self.loop.call_later(timeout, self._timed_out)

    def _disarm(self) -> None:
        if self._reading is not None:
            self._reading.cancel()
            self._reading = None

    def _timed_out(self) -> None:
        self._reading = None
        if self.transport.is_closing():
            return
        if self._in_head:
            self._refuse(408, "request not received in time")
        else:  # the app is reading the body: it sees the client disconnect
            self.transport.close()

    def _refuse(self, status: int, message: str) -> None:
        reason = {408: b"Request Timeout", 431: b"Request Header Fields Too Large"}[status]
        body = message.encode("ascii")
        self.transport.write(
            b"HTTP/1.1 %d %s\r\ncontent-type: text/plain; charset=utf-8\r\n"
            b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (status, reason, len(body), body)
        )
        self.transport.close()
